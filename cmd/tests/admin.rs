//! `mkfk-admin` as a user runs it: a real `mkfk-server` process, the real
//! `mkfk-admin` binary, their output and exit codes. And a real server
//! killed with SIGKILL while it deletes a large topic, on each persistent
//! store: after a restart the topic is whole or gone, never half.

mod common;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::{Finished, Server, command, run};
use minikafka_client::{Client, Code, Position};

const ADMIN: &str = env!("CARGO_BIN_EXE_mkfk-admin");

/// `mkfk-admin --host <server> <args>`, run to its end with no input.
fn admin(server: &Server, args: &[&str]) -> Finished {
    let mut admin = command(ADMIN);
    admin.args(["--host", &server.address]).args(args);
    run(&mut admin, "mkfk-admin", None)
}

fn stdout(finished: &Finished) -> String {
    String::from_utf8_lossy(&finished.stdout).into_owned()
}

/// The one line of an error, and its exit status 1.
fn failed_with(finished: &Finished) -> String {
    assert_eq!(finished.status.code(), Some(1), "{}", finished.stderr);
    assert!(finished.stdout.is_empty(), "{}", stdout(finished));
    let line = finished.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.starts_with("mkfk-admin: "), "{line}");
    line.to_owned()
}

fn succeeded(finished: &Finished) -> String {
    assert!(
        finished.status.success(),
        "{:?}: {}",
        finished.status,
        finished.stderr
    );
    stdout(finished)
}

fn json(finished: &Finished) -> serde_json::Value {
    serde_json::from_str(&succeeded(finished)).expect("JSON output")
}

#[test]
fn topics_are_created_described_altered_listed_and_deleted() {
    let server = Server::start();

    let created = json(&admin(
        &server,
        &[
            "topics",
            "create",
            "orders",
            "--retention",
            "3d",
            "--max-message-bytes",
            "64KiB",
            "--json",
        ],
    ));
    assert_eq!(created["name"], "orders");
    assert_eq!(created["settings"]["retention_seconds"], 259_200.0);
    assert_eq!(created["settings"]["retention_source"], "topic");
    assert_eq!(created["settings"]["max_message_bytes"], 65_536);
    assert_eq!(
        created["settings"]["retention_bytes"],
        serde_json::Value::Null
    );
    assert_eq!(
        created["settings"]["retention_bytes_source"],
        "server_default"
    );

    // The same again succeeds, so scripts can run it twice.
    let again = admin(
        &server,
        &[
            "topics",
            "create",
            "orders",
            "--retention",
            "3d",
            "--max-message-bytes",
            "64KiB",
        ],
    );
    assert!(succeeded(&again).contains("retention:         3days (topic)"));

    let described = succeeded(&admin(&server, &["topics", "describe", "orders"]));
    assert!(
        described.starts_with("topic:             orders\n"),
        "{described}"
    );
    assert!(
        described.contains("max message bytes: 64.0 KiB (topic)\n"),
        "{described}"
    );
    assert!(
        described.contains("retention bytes:   none (server default)\n"),
        "{described}"
    );

    let altered = json(&admin(
        &server,
        &[
            "topics",
            "alter",
            "orders",
            "--retention-bytes",
            "10GiB",
            "--reset",
            "retention",
            "--json",
        ],
    ));
    assert_eq!(altered["settings"]["retention_bytes"], 10u64 << 30);
    assert_eq!(altered["settings"]["retention_source"], "server_default");
    assert_eq!(altered["settings"]["retention"], "7days");
    assert_eq!(
        altered["settings"]["max_message_bytes_source"], "topic",
        "a setting the change did not name stays"
    );

    succeeded(&admin(&server, &["topics", "create", "audit"]));
    let listed = succeeded(&admin(&server, &["topics", "list"]));
    let names: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter(|line| !line.starts_with('('))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(names, ["audit", "orders"], "{listed}");
    assert!(listed.ends_with("(* the topic's own setting; the rest are the server's defaults)\n"));
    assert!(listed.starts_with("NAME "), "{listed}");
    let listed = json(&admin(&server, &["--json", "topics", "list"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    let deleted = succeeded(&admin(&server, &["topics", "delete", "orders", "--yes"]));
    assert_eq!(deleted, "deleted topic 'orders' and its 0 messages\n");
    let gone = failed_with(&admin(&server, &["topics", "describe", "orders"]));
    assert_eq!(gone, "mkfk-admin: not found: topic 'orders' not found");
}

#[test]
fn groups_are_listed_described_reset_and_deleted() {
    let server = Server::start();
    let produced = run(
        &mut server.producer("orders"),
        "mkfk-producer",
        Some(b"a\nb\nc\nd\n".to_vec()),
    );
    assert!(produced.status.success(), "{}", produced.stderr);
    let reset = |args: &[&str]| {
        let mut all = vec!["groups", "reset", "billing", "--topic", "orders"];
        all.extend_from_slice(args);
        succeeded(&admin(&server, &all))
    };
    assert_eq!(
        reset(&["--to-offset", "3"]),
        "group 'billing' in topic 'orders': now at offset 3 (was no commit)\n"
    );
    assert_eq!(
        reset(&["--to-end"]),
        "group 'billing' in topic 'orders': now at offset 5 (was offset 3)\n"
    );
    assert_eq!(
        reset(&["--to-earliest"]),
        "group 'billing' in topic 'orders': now at offset 1 (was offset 5)\n"
    );
    assert_eq!(
        reset(&["--to-time", "2999-01-01T00:00:00Z"]),
        "group 'billing' in topic 'orders': now at offset 5 (was offset 1)\n",
        "a time after every message: the end"
    );
    reset(&["--to-time", "1h"]);

    assert_eq!(
        succeeded(&admin(&server, &["groups", "list"])),
        "GROUP\nbilling\n"
    );
    assert_eq!(
        json(&admin(&server, &["groups", "list", "--json"])),
        serde_json::json!(["billing"])
    );
    let table = succeeded(&admin(&server, &["groups", "describe", "billing"]));
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some("group: billing"));
    assert!(
        lines.next().is_some_and(|l| l.starts_with("TOPIC")),
        "{table}"
    );
    let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    assert_eq!(&row[..4], ["orders", "1", "5", "4"], "{table}");
    let described = json(&admin(
        &server,
        &["groups", "describe", "billing", "--json"],
    ));
    assert_eq!(described["topics"][0]["lag"], 4);
    assert_eq!(described["topics"][0]["committed_offset"], 1);
    assert!(described["topics"][0]["oldest_unread_age_seconds"].is_number());

    let error = failed_with(&admin(
        &server,
        &[
            "groups",
            "reset",
            "billing",
            "--topic",
            "orders",
            "--to-offset",
            "9",
        ],
    ));
    assert!(error.contains("out of range"), "{error}");
    let error = failed_with(&admin(&server, &["groups", "describe", "nobody"]));
    assert!(error.contains("group 'nobody' not found"), "{error}");
    assert_eq!(
        succeeded(&admin(&server, &["groups", "delete", "billing"])),
        "deleted group 'billing' and its commits in 1 topics\n"
    );
    assert_eq!(succeeded(&admin(&server, &["groups", "list"])), "GROUP\n");
}

#[test]
fn a_delete_without_a_terminal_needs_yes_and_changes_nothing_without_it() {
    let server = Server::start();
    succeeded(&admin(&server, &["topics", "create", "keep"]));
    let refused = failed_with(&admin(&server, &["topics", "delete", "keep"]));
    assert!(
        refused.contains("standard input is not a terminal; pass --yes"),
        "{refused}"
    );
    let still = json(&admin(&server, &["topics", "describe", "keep", "--json"]));
    assert_eq!(still["name"], "keep");
}

/// `mkfk-admin topics delete NAME` at a terminal (a pseudo-terminal made
/// by util-linux's `script`), answering `answer`.
fn delete_at_a_terminal(server: &Server, topic: &str, answer: &str) -> Finished {
    let admin = format!("{ADMIN} --host {} topics delete {topic}", server.address);
    let mut script = command("script");
    script.args(["-qec", &admin, "/dev/null"]);
    run(
        &mut script,
        "script",
        Some(format!("{answer}\n").into_bytes()),
    )
}

#[test]
fn a_delete_at_a_terminal_asks_for_the_topics_name() {
    let server = Server::start();
    succeeded(&admin(&server, &["topics", "create", "asked"]));
    let declined = delete_at_a_terminal(&server, "asked", "no");
    assert_eq!(declined.status.code(), Some(1));
    let said = stdout(&declined);
    assert!(
        said.contains("Delete topic 'asked' and its 0 messages? This cannot be undone."),
        "{said}"
    );
    assert!(
        said.contains(
            "mkfk-admin: topic 'asked' was not deleted: the answer did not match its name"
        ),
        "{said}"
    );
    succeeded(&admin(&server, &["topics", "describe", "asked"]));

    let confirmed = delete_at_a_terminal(&server, "asked", "asked");
    assert!(
        stdout(&confirmed).contains("deleted topic 'asked' and its 0 messages"),
        "{}",
        stdout(&confirmed)
    );
    assert!(confirmed.status.success());
    let gone = failed_with(&admin(&server, &["topics", "describe", "asked"]));
    assert!(gone.contains("not found"), "{gone}");
}

#[test]
fn bad_settings_and_requests_fail_with_one_line_and_change_nothing() {
    let server = Server::start();
    succeeded(&admin(
        &server,
        &["topics", "create", "t", "--retention", "1h"],
    ));

    let over = failed_with(&admin(
        &server,
        &["topics", "alter", "t", "--max-message-bytes", "2MiB"],
    ));
    assert!(
        over.contains("max_message_bytes: 2097152 is above the server's limit"),
        "{over}"
    );
    let other = failed_with(&admin(
        &server,
        &["topics", "create", "t", "--retention", "2h"],
    ));
    assert!(
        other.starts_with("mkfk-admin: already exists: topic 't' already exists"),
        "{other}"
    );
    let both = failed_with(&admin(
        &server,
        &[
            "topics",
            "alter",
            "t",
            "--retention",
            "2h",
            "--reset",
            "retention",
        ],
    ));
    assert!(both.contains("retention:"), "{both}");
    let nothing = failed_with(&admin(&server, &["topics", "alter", "t"]));
    assert!(nothing.contains("nothing to change"), "{nothing}");
    let unknown = failed_with(&admin(
        &server,
        &["topics", "alter", "missing", "--retention", "2h"],
    ));
    assert_eq!(unknown, "mkfk-admin: not found: topic 'missing' not found");

    let after = json(&admin(&server, &["topics", "describe", "t", "--json"]));
    assert_eq!(after["settings"]["retention_seconds"], 3_600.0, "unchanged");
    assert_eq!(
        after["settings"]["max_message_bytes_source"],
        "server_default"
    );

    // Command-line mistakes are clap's: exit status 2, the flag named.
    let zero = admin(
        &server,
        &["topics", "create", "u", "--retention-bytes", "0"],
    );
    assert_eq!(zero.status.code(), Some(2), "{}", zero.stderr);
    assert!(zero.stderr.contains("--retention-bytes"), "{}", zero.stderr);
    let reset = admin(&server, &["topics", "alter", "t", "--reset", "size"]);
    assert_eq!(reset.status.code(), Some(2), "{}", reset.stderr);
    assert!(
        reset.stderr.contains("no setting is called 'size'"),
        "{}",
        reset.stderr
    );
}

#[test]
fn without_a_server_it_says_what_to_check_in_one_line() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut command = command(ADMIN);
    command.args(["--host", &format!("127.0.0.1:{port}"), "topics", "list"]);
    let finished = run(&mut command, "mkfk-admin", None);
    let line = failed_with(&finished);
    assert!(line.contains("is mkfk-server running"), "{line}");
}

#[test]
fn managing_topics_needs_an_admin_token() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let auth = dir.path().join("auth.toml");
    let digest = minikafka_server::auth::digest_hex;
    std::fs::write(
        &auth,
        format!(
            "[[token]]\nname = \"writer\"\nsha256 = \"{}\"\nproduce = [\"*\"]\nconsume = [\"*\"]\n\n\
             [[token]]\nname = \"ops\"\nsha256 = \"{}\"\nadmin = true\n",
            digest("w-token"),
            digest("a-token"),
        ),
    )
    .expect("write the auth file");
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_AUTH_FILE", auth.to_str().expect("UTF-8")),
    ]);
    let with_token = |token: &str, args: &[&str]| {
        let mut command = command(ADMIN);
        command
            .args(["--host", &server.address, "--token", token])
            .args(args);
        run(&mut command, "mkfk-admin", None)
    };
    let refused = failed_with(&with_token("w-token", &["topics", "create", "t"]));
    assert_eq!(
        refused,
        "mkfk-admin: permission denied: token 'writer' may not create, update or delete topic \
         't': that needs a token with admin = true"
    );
    succeeded(&with_token("a-token", &["topics", "create", "t"]));
    let refused = failed_with(&with_token("w-token", &["topics", "delete", "t", "--yes"]));
    assert!(refused.contains("permission denied"), "{refused}");
    // A producer's token still describes the topics it may use.
    succeeded(&with_token("w-token", &["topics", "describe", "t"]));
    succeeded(&with_token("a-token", &["topics", "delete", "t", "--yes"]));
}

/// A large topic: `count` messages of 1 KiB, in many small segments.
async fn fill(client: &Client, topic: &str, count: usize) -> Vec<Bytes> {
    let payloads: Vec<Bytes> = (0..count)
        .map(|i| Bytes::from(format!("{i:06}-{}", "x".repeat(1_017))))
        .collect();
    let producer = client.producer(topic);
    for chunk in payloads.chunks(500) {
        producer.send_batch(chunk.to_vec()).await.expect("produce");
    }
    payloads
}

/// After a crash, the topic is either gone (NOT_FOUND) or whole: every
/// message at its offset, byte for byte.
async fn whole_or_gone(client: &Client, topic: &str, payloads: &[Bytes]) -> bool {
    let info = match client.describe_topic(topic).await {
        Err(error) if error.code() == Code::NotFound => return false,
        other => other.expect("describe"),
    };
    assert_eq!(
        (info.earliest_offset, info.message_count),
        (1, payloads.len() as u64),
        "a topic that survived is whole: {info:?}"
    );
    let mut consumer = client.consumer(topic, Position::Earliest);
    let mut read = Vec::new();
    while read.len() < payloads.len() {
        let polled = consumer.poll(None).await.expect("read the survivor");
        assert!(!polled.messages.is_empty(), "ended early at {}", read.len());
        read.extend(polled.messages.into_iter().map(|m| m.payload));
    }
    assert!(read == payloads, "every message, byte for byte");
    true
}

/// Kills the server with SIGKILL `after` a DeleteTopic of a large topic
/// was sent, restarts it, and checks the topic is whole or gone, and that
/// a topic made again under the name starts at offset 1. Returns whether
/// it was gone.
async fn kill_9_during_delete(root: &Path, backend: &str, after: Duration) -> bool {
    let env = [
        ("MINIKAFKA_BACKEND", backend),
        ("MINIKAFKA_ROOT_DIR", root.to_str().expect("UTF-8")),
        ("MINIKAFKA_SEGMENT_BYTES", "8KiB"),
    ];
    let mut server = Server::start_with(&env);
    let client = server.client().await;
    let payloads = fill(&client, "big", 3_000).await;
    let admin = client.admin();
    let deleting = tokio::spawn(async move { admin.delete_topic("big").await });
    tokio::time::sleep(after).await;
    server.crash();
    // Answered before the kill (deleted) or cut off by it.
    let answered = deleting.await.expect("the delete task");

    let server = Server::start_with(&env);
    let client = server.client().await;
    let gone = !whole_or_gone(&client, "big", &payloads).await;
    if answered.is_ok() {
        assert!(gone, "an acknowledged delete stays done");
    }
    if gone {
        let offset = client
            .producer("big")
            .send("new")
            .await
            .expect("produce to the topic made again");
        assert_eq!(offset, 1, "a topic made again is a new topic");
    }
    gone
}

async fn kill_9_during_deletes(backend: &str) {
    let mut outcomes = Vec::new();
    for after in [0, 1, 3, 10, 50] {
        let root = tempfile::tempdir().expect("temporary directory");
        outcomes
            .push(kill_9_during_delete(root.path(), backend, Duration::from_millis(after)).await);
    }
    // Outcomes vary with timing; each was checked whole-or-gone above.
    eprintln!("{backend}: gone after each kill: {outcomes:?}");
}

#[tokio::test]
async fn a_delete_killed_with_sigkill_leaves_the_file_stores_topic_whole_or_gone() {
    kill_9_during_deletes("file").await;
}

#[tokio::test]
async fn a_delete_killed_with_sigkill_leaves_the_sqlite_stores_topic_whole_or_gone() {
    kill_9_during_deletes("sqlite").await;
}
