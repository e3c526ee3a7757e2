//! End-to-end tests of the command-line tools: every test runs the real
//! `mkfk-server`, `mkfk-producer` and `mkfk-consumer` binaries as child
//! processes talking over 127.0.0.1, and checks how they exit, what they
//! print and (through the Rust client library) what the server stored.
//!
//! Covered: the server's `--help`, its refusal of bad configuration and of
//! the not-yet-built file store, and its clean exit on SIGTERM; the
//! producer's batching of piped input, byte-exact lines with CRLF endings
//! stripped, lines sent while the pipe stays open, and its failures (no
//! server, an over-long line); the consumer's JSON and raw output, `--from`
//! and `--max`, waiting for a topic that does not exist yet, and exiting
//! quietly when its reader closes the pipe. A SIGTERM sent the moment the
//! server says it is listening still drains and syncs (the handlers are
//! installed before that line is logged).
//!
//! No test sleeps to let something happen: every wait is on a condition with
//! a deadline, and every child process is killed and reaped when its guard
//! is dropped, also when a test fails.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::*;
use minikafka_client::Code;
use minikafka_server::config::VARIABLES;

// ---------------------------------------------------------------------------
// mkfk-server
// ---------------------------------------------------------------------------

#[test]
fn server_help_lists_every_variable() {
    let help = run(command(SERVER).arg("--help"), "mkfk-server --help", None);
    assert!(help.status.success(), "{:?}: {}", help.status, help.stderr);
    let stdout = String::from_utf8(help.stdout).expect("help is UTF-8");
    for variable in VARIABLES.iter().map(|v| v.name) {
        assert!(
            stdout.contains(variable),
            "--help does not mention {variable}:\n{stdout}"
        );
    }
}

#[test]
fn server_refuses_a_bad_value_with_one_line_naming_it() {
    for (variable, value) in [
        ("MINIKAFKA_FSYNC", "sometimes"),
        ("MINIKAFKA_RETENTIONTIME", "7dayz"),
    ] {
        let server = run(
            command(SERVER)
                .env("MINIKAFKA_HOST", "127.0.0.1:0")
                .env("MINIKAFKA_BACKEND", "memory")
                .env(variable, value),
            "mkfk-server",
            None,
        );
        assert_eq!(
            server.status.code(),
            Some(2),
            "{variable}={value}: {}",
            server.stderr
        );
        let lines: Vec<&str> = server.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{variable}={value}: want one line:\n{}",
            server.stderr
        );
        let want = format!("mkfk-server: {variable}={value:?} is not valid: expected ");
        assert!(
            lines[0].starts_with(&want) && lines[0].len() > want.len(),
            "{variable}={value}: got {:?}, want {want:?} and what is expected",
            lines[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_backend_keeps_messages_across_a_restart() {
    let root = tempfile::tempdir().expect("temporary directory");
    let root_str = root.path().to_str().expect("UTF-8");
    let env = [
        ("MINIKAFKA_BACKEND", "sqlite"),
        ("MINIKAFKA_ROOT_DIR", root_str),
    ];
    let mut server = Server::start_with(&env);
    let produced = run(
        &mut server.producer("kept"),
        "mkfk-producer",
        Some(b"one\ntwo\n".to_vec()),
    );
    assert!(produced.status.success(), "{}", produced.stderr);
    let (status, log) = terminate(&mut server);
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(root.path().join("minikafka.sqlite3").exists());

    let server = Server::start_with(&env);
    let consumed = run(
        &mut server.consumer("kept", &["--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&consumed.stdout),
        "one\ntwo\n",
        "{}",
        consumed.stderr
    );
}

#[test]
fn the_sqlite_backend_refuses_a_file_that_is_not_its_database() {
    let root = tempfile::tempdir().expect("temporary directory");
    let database = root.path().join("minikafka.sqlite3");
    std::fs::write(&database, b"not a database at all").expect("write");
    let refused = run(
        command(SERVER).envs([
            ("MINIKAFKA_HOST", "127.0.0.1:0"),
            ("MINIKAFKA_BACKEND", "sqlite"),
            ("MINIKAFKA_ROOT_DIR", root.path().to_str().expect("UTF-8")),
        ]),
        "mkfk-server",
        None,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&database.display().to_string()),
        "names the file: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("left untouched"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read(&database).expect("read"),
        b"not a database at all"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_exits_0_on_sigterm_after_syncing() {
    let mut server = Server::start();
    // A client with an open connection, as in real life.
    let client = server.client().await;
    client.producer("t").send("before").await.expect("produce");
    let (status, log) = terminate(&mut server);
    assert_eq!(status.code(), Some(0), "{status:?}; log:\n{log}");
    assert!(log.contains("store synced; server stopped"), "log:\n{log}");
    drop(client);
}

/// A supervisor may stop the server as soon as it reports that it is
/// listening; the contract (exit 0 after syncing) holds from then on.
#[cfg(target_os = "linux")]
#[test]
fn server_handles_sigterm_as_soon_as_it_reports_listening() {
    let mut server = Server::start();
    let handled = catches_sigterm(server.process.child.id());
    let (status, log) = terminate(&mut server);
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?} (SIGTERM handler installed when 'listening on' was logged: {handled}); log:\n{log}"
    );
    assert!(log.contains("store synced; server stopped"), "log:\n{log}");
}

// ---------------------------------------------------------------------------
// mkfk-producer
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_stores_20000_piped_lines_in_batches() {
    const LINES: usize = 20_000;
    let server = Server::start();
    let input: String = (1..=LINES).map(|i| format!("line-{i}\n")).collect();
    let producer = run(
        &mut server.producer("t"),
        "mkfk-producer",
        Some(input.into_bytes()),
    );
    assert!(producer.status.success(), "{:?}", producer.status);
    assert_eq!(
        producer.stderr.trim_end(),
        "mkfk-producer: stored 20000 messages in 't' (offsets 1..20000)"
    );

    let client = server.client().await;
    let messages = read_all(&client, "t", LINES).await;
    for (i, message) in messages.iter().enumerate() {
        assert_eq!(message.offset, i as u64 + 1);
        assert_eq!(message.payload, format!("line-{}", i + 1));
    }
    // The memory store stamps every message of one request with the same
    // time, so distinct timestamps bound the number of requests from above.
    let requests = messages
        .iter()
        .map(|m| m.timestamp)
        .collect::<HashSet<SystemTime>>()
        .len();
    assert!(
        requests <= 200,
        "{LINES} lines took {requests} requests: the producer did not batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_keeps_binary_bytes_and_strips_crlf() {
    let server = Server::start();
    let input = b"nul\x00byte\n\xff\xfe\xfd\na\r\ninner\rcr\nlast-without-newline".to_vec();
    let producer = run(&mut server.producer("t"), "mkfk-producer", Some(input));
    assert!(producer.status.success(), "{}", producer.stderr);
    assert_eq!(
        producer.stderr.trim_end(),
        "mkfk-producer: stored 5 messages in 't' (offsets 1..5)"
    );

    let client = server.client().await;
    let payloads: Vec<Bytes> = read_all(&client, "t", 5)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    let want: Vec<Bytes> = vec![
        Bytes::from_static(b"nul\x00byte"),
        Bytes::from_static(b"\xff\xfe\xfd"),
        Bytes::from_static(b"a"),
        Bytes::from_static(b"inner\rcr"),
        Bytes::from_static(b"last-without-newline"),
    ];
    assert_eq!(payloads, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_sends_a_line_while_the_pipe_stays_open() {
    let server = Server::start();
    let client = server.client().await;
    let mut producer = Running::spawn(
        server
            .producer("t")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-producer",
    );
    let stderr = producer.stderr();
    let mut stdin = producer.child.stdin.take().expect("stdin is piped");

    for (count, line) in [(1, "first"), (2, "second")] {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write a line");
        stdin.flush().expect("flush");
        // The pipe is still open: the line must arrive anyway.
        wait_for_messages(&client, "t", count).await;
        assert!(producer.is_running(), "{}", stderr.text());
    }

    drop(stdin);
    let status = producer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        "mkfk-producer: stored 2 messages in 't' (offsets 1..2)"
    );
    let payloads: Vec<Bytes> = read_all(&client, "t", 2)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, vec!["first", "second"]);
}

#[test]
fn producer_without_a_server_cannot_connect() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port();
    // The listener is dropped: nothing listens on `port` now.
    let address = format!("127.0.0.1:{port}");
    let producer = run(
        command(PRODUCER).args(["--host", &address, "--topic", "t"]),
        "mkfk-producer",
        None,
    );
    assert!(!producer.status.success(), "{:?}", producer.status);
    assert!(
        producer.stderr.contains("cannot connect"),
        "{}",
        producer.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_fails_on_an_over_long_line_and_reports_what_was_stored() {
    let server = Server::start();
    let mut input = b"good-1\ngood-2\ngood-3\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', ONE_MIB + 1));
    input.push(b'\n');
    let producer = run(&mut server.producer("t"), "mkfk-producer", Some(input));
    assert!(!producer.status.success(), "{}", producer.stderr);
    assert!(
        producer.stderr.contains("invalid argument"),
        "{}",
        producer.stderr
    );
    // Whichever batches went before the failing one are stored, and the
    // summary says how many: a batch is all or nothing.
    let stored = stored_count(&producer.stderr);
    assert!(stored <= 3, "{}", producer.stderr);
    let client = server.client().await;
    match client.describe_topic("t").await {
        Ok(info) => assert_eq!(info.message_count, stored, "{}", producer.stderr),
        Err(error) => {
            assert_eq!(error.code(), Code::NotFound, "{error}");
            assert_eq!(stored, 0, "{}", producer.stderr);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_keeps_the_batches_stored_before_an_over_long_line() {
    let server = Server::start();
    let client = server.client().await;
    let mut producer = Running::spawn(
        server
            .producer("t")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-producer",
    );
    let stderr = producer.stderr();
    let mut stdin = producer.child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(b"good-1\ngood-2\ngood-3\n")
        .expect("write good lines");
    stdin.flush().expect("flush");
    // The good lines are stored before the long one is even written.
    wait_for_messages(&client, "t", 3).await;
    let mut long = vec![b'x'; ONE_MIB + 1];
    long.push(b'\n');
    // The producer may exit as soon as it has read the line: ignore EPIPE.
    let _ = stdin.write_all(&long);
    drop(stdin);

    let status = producer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("invalid argument"), "{stderr}");
    assert!(
        stderr.contains("stored 3 messages in 't' (offsets 1..3)"),
        "{stderr}"
    );
    let payloads: Vec<Bytes> = read_all(&client, "t", 3)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, vec!["good-1", "good-2", "good-3"]);
}

// ---------------------------------------------------------------------------
// mkfk-consumer
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_prints_json_lines_with_base64_for_binary() {
    let server = Server::start();
    let client = server.client().await;
    let payloads = vec![
        Bytes::from_static(b"a"),
        Bytes::from_static(b"b"),
        Bytes::from_static(b"\xff"),
    ];
    let range = client
        .producer("t")
        .send_batch(payloads)
        .await
        .expect("produce");
    assert_eq!((range.first, range.last), (1, 3));
    let stored = read_all(&client, "t", 3).await;

    let consumer = run(
        &mut server.consumer("t", &["--format", "json", "--max", "3"]),
        "mkfk-consumer",
        None,
    );
    assert!(consumer.status.success(), "{}", consumer.stderr);
    let stdout = String::from_utf8(consumer.stdout).expect("JSON output is UTF-8");
    assert!(stdout.ends_with('\n'), "{stdout:?}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");

    let want_payloads = [
        ("payload", "a"),
        ("payload", "b"),
        ("payload_base64", "/w=="),
    ];
    for ((line, (key, value)), message) in lines.iter().zip(want_payloads).zip(&stored) {
        let object = line.as_object().expect("a JSON object per line");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want_keys = vec!["offset", "timestamp", key];
        want_keys.sort_unstable();
        assert_eq!(keys, want_keys, "{line}");
        assert_eq!(line["offset"], message.offset, "{line}");
        assert_eq!(line[key], value, "{line}");

        let timestamp = line["timestamp"].as_str().expect("timestamp is a string");
        assert!(timestamp.ends_with('Z'), "{line}");
        let printed = humantime::parse_rfc3339(timestamp)
            .unwrap_or_else(|e| panic!("{timestamp:?} is not RFC 3339: {e}"));
        // The stored time, truncated to milliseconds.
        let behind = message
            .timestamp
            .duration_since(printed)
            .unwrap_or_else(|_| panic!("{timestamp} is after the stored time"));
        assert!(behind < Duration::from_millis(1), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_prints_raw_lines_from_an_offset_up_to_max() {
    let server = Server::start();
    let client = server.client().await;
    client
        .producer("t")
        .send_batch(["line-1", "line-2", "line-3", "line-4"])
        .await
        .expect("produce");

    let consumer = run(
        &mut server.consumer("t", &["--from", "2", "--max", "2"]),
        "mkfk-consumer",
        None,
    );
    assert!(consumer.status.success(), "{}", consumer.stderr);
    assert_eq!(
        String::from_utf8_lossy(&consumer.stdout),
        "line-2\nline-3\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_waits_for_a_topic_to_be_created() {
    let server = Server::start();
    let client = server.client().await;
    let mut consumer = Running::spawn(
        server
            .consumer("later", &["--interval", "50ms", "--max", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-consumer",
    );
    let stdout = consumer.stdout();
    let stderr = consumer.stderr();
    let waiting = "mkfk-consumer: waiting for topic 'later' to be created";
    let line = stderr.wait_for_line(waiting);
    assert_eq!(line.as_deref(), Some(waiting), "{}", stderr.text());
    assert!(consumer.is_running(), "{}", stderr.text());

    client
        .producer("later")
        .send("hello")
        .await
        .expect("produce");
    let status = consumer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(String::from_utf8_lossy(&stdout.wait_for_end()), "hello\n");
    assert_eq!(
        stderr.matches("waiting for topic").count(),
        1,
        "said once, not on every poll:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_exits_0_when_its_reader_goes_away() {
    let server = Server::start();
    let client = server.client().await;
    let producer = client.producer("t");
    producer.send("one").await.expect("produce");
    let mut consumer = Running::spawn(
        server
            .consumer("t", &["--interval", "50ms"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-consumer",
    );
    let stderr = consumer.stderr();
    // Like `| head -n 1`: read one line, then close the pipe.
    let stdout = consumer.child.stdout.take().expect("stdout is piped");
    let (first_line, read) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        drop(reader);
        let _ = first_line.send(line);
    });
    let line = read
        .recv_timeout(DEADLINE)
        .expect("the consumer printed its first line");
    assert_eq!(line, "one\n");
    assert!(consumer.is_running(), "no --max: it keeps reading");

    // The next message has nowhere to go.
    producer.send("two").await.expect("produce");
    let status = consumer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(stderr, "", "a closed pipe is not an error");
}

// ---------------------------------------------------------------------------
// mkfk-consumer: push delivery
// ---------------------------------------------------------------------------

/// Delivery is pushed, not polled: with a 10 s interval, a new message is
/// printed well within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_prints_a_new_message_at_once_whatever_its_interval() {
    let server = Server::start();
    let client = server.client().await;
    client
        .producer("live")
        .send("first")
        .await
        .expect("produce");
    let mut consumer = Running::spawn(
        server
            .consumer("live", &["--interval", "10s", "--from", "1"])
            .stdout(Stdio::piped()),
        "mkfk-consumer",
    );
    let stdout = consumer.stdout();
    assert_eq!(
        stdout.wait_for_line("first").as_deref(),
        Some("first"),
        "following from offset 1"
    );

    let sent = std::time::Instant::now();
    client
        .producer("live")
        .send("second")
        .await
        .expect("produce");
    assert_eq!(stdout.wait_for_line("second").as_deref(), Some("second"));
    let elapsed = sent.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "took {elapsed:?}: the consumer waited for its interval"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_no_follow_exits_at_the_end_of_the_topic() {
    let server = Server::start();
    server
        .client()
        .await
        .producer("done")
        .send_batch(["a", "b", "c"])
        .await
        .expect("produce");
    let finished = run(
        &mut server.consumer("done", &["--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert!(finished.status.success(), "{}", finished.stderr);
    assert_eq!(String::from_utf8_lossy(&finished.stdout), "a\nb\nc\n");
}

/// `--from end` prints only what is stored after it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_from_end_shows_only_new_messages() {
    let server = Server::start();
    let client = server.client().await;
    client
        .producer("news")
        .send_batch(["old-1", "old-2"])
        .await
        .expect("produce");
    let mut consumer = Running::spawn(
        server
            .consumer("news", &["--from", "end", "--max", "1"])
            .stdout(Stdio::piped()),
        "mkfk-consumer",
    );
    let stdout = consumer.stdout();
    // The consumer says nothing until it prints, so keep producing until it
    // does: whatever it prints first must be new.
    let deadline = std::time::Instant::now() + DEADLINE;
    for i in 0.. {
        client
            .producer("news")
            .send(format!("new-{i}"))
            .await
            .expect("produce");
        if consumer.wait_briefly() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the consumer printed nothing"
        );
    }
    let printed = String::from_utf8_lossy(&stdout.wait_for_end()).into_owned();
    assert!(
        printed.starts_with("new-") && printed.lines().count() == 1,
        "{printed:?}"
    );
}

/// A consumer behind retention is told how many messages it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_reports_a_gap_left_by_retention() {
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_RETENTIONTIME", "300ms"),
        ("MINIKAFKA_SWEEP_INTERVAL", "100ms"),
    ]);
    let client = server.client().await;
    client
        .producer("fleeting")
        .send_batch(["1", "2", "3", "4", "5"])
        .await
        .expect("produce");
    wait_for_earliest(&client, "fleeting", 6).await;
    client
        .producer("fleeting")
        .send("6")
        .await
        .expect("produce");
    for args in [
        &["--from", "2", "--max", "1"][..],
        &["--from", "2", "--no-follow"][..],
    ] {
        let finished = run(
            &mut server.consumer("fleeting", args),
            "mkfk-consumer",
            None,
        );
        assert!(finished.status.success(), "{args:?}: {}", finished.stderr);
        assert_eq!(String::from_utf8_lossy(&finished.stdout), "6\n", "{args:?}");
        assert!(
            finished
                .stderr
                .contains("gap: retention removed 4 unread messages (offsets 2..5)"),
            "{args:?}: {}",
            finished.stderr
        );
    }
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// The tools reach a TLS server through an https:// address and --ca-file.
#[test]
fn the_tools_speak_tls_with_a_ca_file() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("cert");
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_owned();
    std::fs::write(path("ca.pem"), ca.as_ref().pem()).expect("write");
    std::fs::write(path("server.pem"), cert.pem()).expect("write");
    std::fs::write(path("server.key"), key.serialize_pem()).expect("write");

    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_TLS_CERT", &path("server.pem")),
        ("MINIKAFKA_TLS_KEY", &path("server.key")),
    ]);
    let url = format!("https://{}", server.address);
    let tls = [
        "--host",
        url.as_str(),
        "--topic",
        "private",
        "--ca-file",
        &path("ca.pem"),
    ];
    let produced = run(
        command(PRODUCER).args(tls),
        "mkfk-producer",
        Some(b"sealed\n".to_vec()),
    );
    assert!(produced.status.success(), "{}", produced.stderr);
    let consumed = run(
        command(CONSUMER).args(tls).arg("--no-follow"),
        "mkfk-consumer",
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&consumed.stdout),
        "sealed\n",
        "{}",
        consumed.stderr
    );

    let without_ca = run(
        command(PRODUCER).args(&tls[..4]),
        "mkfk-producer",
        Some(b"x\n".to_vec()),
    );
    assert!(!without_ca.status.success());
    assert!(
        without_ca.stderr.contains("--ca-file"),
        "{}",
        without_ca.stderr
    );
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// `mkfk-server hash-token` makes the digest an auth file stores, and the
/// tools send a token from --token or MINIKAFKA_TOKEN.
#[test]
fn tokens_from_hash_token_to_the_tools() {
    let hashed = run(
        command(SERVER).arg("hash-token"),
        "mkfk-server hash-token",
        Some(b"s3cret\n".to_vec()),
    );
    assert!(hashed.status.success(), "{}", hashed.stderr);
    let digest = String::from_utf8_lossy(&hashed.stdout).trim().to_owned();
    assert_eq!(digest.len(), 64, "{digest}");
    assert_eq!(digest, minikafka_server::auth::digest_hex("s3cret"));

    let dir = tempfile::tempdir().expect("temporary directory");
    let auth = dir.path().join("auth.toml");
    std::fs::write(&auth, format!("[[token]]\nname = \"cli\"\nsha256 = \"{digest}\"\nproduce = [\"*\"]\nconsume = [\"*\"]\n"))
        .expect("write");
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_AUTH_FILE", auth.to_str().expect("UTF-8")),
    ]);

    let refused = run(
        &mut server.producer("guarded"),
        "mkfk-producer",
        Some(b"x\n".to_vec()),
    );
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("unauthenticated"),
        "{}",
        refused.stderr
    );
    let produced = run(
        server.producer("guarded").arg("--token").arg("s3cret"),
        "mkfk-producer",
        Some(b"ok\n".to_vec()),
    );
    assert!(produced.status.success(), "{}", produced.stderr);
    let consumed = run(
        server
            .consumer("guarded", &["--no-follow"])
            .env("MINIKAFKA_TOKEN", "s3cret"),
        "mkfk-consumer",
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&consumed.stdout),
        "ok\n",
        "{}",
        consumed.stderr
    );
}

/// Start-up warnings a person needs: a misspelt variable is named, and a
/// message limit above what gRPC clients accept by default is flagged.
#[test]
fn the_server_warns_about_misspelt_variables_and_large_messages() {
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_RETENTION_TIME", "1h"),
        ("MINIKAFKA_MAX_MESSAGE_BYTES", "8MiB"),
    ]);
    // Both come before the server says it is listening.
    let log = server.log.text();
    let listening = log.find("listening on").expect("the server is listening");
    let misspelt = log
        .find("ignoring MINIKAFKA_RETENTION_TIME")
        .unwrap_or_else(|| panic!("{log}"));
    let large = log.find("above 4 MiB").unwrap_or_else(|| panic!("{log}"));
    assert!(misspelt < listening && large < listening, "{log}");
}
