//! `mkfk-consumer --group` as a real process against a real server: run,
//! stopped with SIGTERM while messages keep arriving, and run again, it
//! prints every message at least once, in order, none skipped, because it
//! commits only what it has written and flushed, and commits on SIGTERM.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// One message first, then 300 batches of 10.
const MESSAGES: u64 = 3_001;

/// Asserts that `printed` is exactly `first..=last`, naming the first
/// place it is not (without printing thousands of numbers).
fn assert_run(printed: &[u64], first: u64, last: u64, what: &str) {
    let expected = first..=last;
    if let Some((i, (got, want))) = printed
        .iter()
        .zip(expected.clone())
        .enumerate()
        .find(|(_, (got, want))| **got != *want)
    {
        panic!("{what}: line {i} is m{got}, expected m{want}");
    }
    assert_eq!(
        printed.len() as u64,
        expected.count() as u64,
        "{what}: {} lines for m{first}..=m{last}",
        printed.len()
    );
}

fn lines(output: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| {
            line.strip_prefix('m')
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_consumer_stopped_by_sigterm_resumes_without_skipping() {
    let server = Server::start();
    let client = server.client().await;
    let producer = client.producer("events");
    producer.send("m1").await.expect("produce");

    let mut first = Running::spawn(
        server
            .consumer("events", &["--group", "printer"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-consumer",
    );
    let printed = first.stdout();
    let _stderr = first.stderr();
    printed.wait_until("the first message", |out, _| out.starts_with(b"m1\n"));

    // Messages keep arriving while the consumer is stopped part-way.
    let feeding = tokio::spawn(async move {
        for batch in 0..(MESSAGES - 1) / 10 {
            let payloads: Vec<String> = (0..10)
                .map(|i| format!("m{}", 2 + batch * 10 + i))
                .collect();
            producer.send_batch(payloads).await.expect("produce");
        }
    });
    printed.wait_until("a few hundred messages", |out, _| {
        out.iter().filter(|&&b| b == b'\n').count() >= 300
    });
    let kill = Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = first.wait();
    assert!(status.success(), "SIGTERM ends it cleanly: {status:?}");
    let first_run = lines(&printed.wait_for_end());
    feeding.await.expect("the producer finished");

    assert_run(
        &first_run,
        1,
        first_run.len() as u64,
        "the first run, in order, none skipped",
    );
    let committed = client
        .fetch_offset("printer", "events")
        .await
        .expect("fetch")
        .expect("a commit")
        .offset;
    assert_eq!(
        committed,
        first_run.len() as u64 + 1,
        "everything printed, and nothing more, is committed"
    );

    let second = run(
        &mut server.consumer("events", &["--group", "printer", "--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert!(second.status.success(), "{}", second.stderr);
    let second_run = lines(&second.stdout);
    let resumed_at = *second_run.first().expect("the second run printed the rest");
    assert!(
        resumed_at <= first_run.len() as u64 + 1,
        "no message skipped between the runs: resumed at {resumed_at}"
    );
    assert_run(
        &second_run,
        resumed_at,
        MESSAGES,
        "the second run: the rest, in order",
    );

    let third = run(
        &mut server.consumer("events", &["--group", "printer", "--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert!(third.stdout.is_empty(), "the group has read everything");
}

#[test]
fn from_applies_only_while_the_group_has_no_commit() {
    let server = Server::start();
    let send = run(
        &mut server.producer("orders"),
        "mkfk-producer",
        Some(b"a\nb\nc\n".to_vec()),
    );
    assert!(send.status.success(), "{}", send.stderr);
    let read = |args: &[&str]| {
        let done = run(&mut server.consumer("orders", args), "mkfk-consumer", None);
        assert!(done.status.success(), "{}", done.stderr);
        String::from_utf8(done.stdout).expect("UTF-8")
    };
    assert_eq!(
        read(&["--group", "g", "--from", "2", "--no-follow"]),
        "b\nc\n"
    );
    assert_eq!(
        read(&["--group", "g", "--from", "1", "--no-follow"]),
        "",
        "the commit wins over --from"
    );
    assert_eq!(
        read(&["--from", "15m", "--no-follow"]),
        "a\nb\nc\n",
        "stored in the last 15 minutes"
    );
    assert_eq!(read(&["--from", "2999-01-01T00:00:00Z", "--no-follow"]), "");
}

/// 8 groups commit as fast as they can to a real server with
/// `MINIKAFKA_FSYNC=always`, which is killed with SIGKILL mid-stream: after
/// a restart every group is at the last commit it was answered for (or
/// the one in flight), on the file store and on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_commit_survives_a_kill() {
    for backend in ["file", "sqlite"] {
        let root = tempfile::tempdir().expect("temporary directory");
        let root = root.path().to_str().expect("UTF-8").to_owned();
        let env = [
            ("MINIKAFKA_BACKEND", backend),
            ("MINIKAFKA_ROOT_DIR", root.as_str()),
            ("MINIKAFKA_FSYNC", "always"),
        ];
        let mut server = Server::start_with(&env);
        let client = server.client().await;
        let payloads: Vec<String> = (0..1_000).map(|i| format!("m{i}")).collect();
        client
            .producer("events")
            .send_batch(payloads)
            .await
            .expect("produce");

        let committers: Vec<_> = (0..8)
            .map(|group| {
                let client = client.clone();
                tokio::spawn(async move {
                    let group = format!("g{group}");
                    let mut acknowledged = 0;
                    for offset in 1..=1_001 {
                        match client.commit_offset(&group, "events", offset, None).await {
                            Ok(()) => acknowledged = offset,
                            Err(_) => break,
                        }
                    }
                    (group, acknowledged)
                })
            })
            .collect();
        // Kill once every group has some commits answered.
        loop {
            let mut all = true;
            for group in 0..8 {
                let committed = client
                    .fetch_offset(&format!("g{group}"), "events")
                    .await
                    .expect("fetch");
                all &= committed.is_some_and(|c| c.offset >= 20);
            }
            if all {
                break;
            }
        }
        server.crash();
        let mut acknowledged = Vec::new();
        for committer in committers {
            acknowledged.push(committer.await.expect("a committer"));
        }

        let server = Server::start_with(&env);
        let client = server.client().await;
        for (group, acked) in acknowledged {
            let found = client
                .fetch_offset(&group, "events")
                .await
                .expect("fetch")
                .map_or(0, |c| c.offset);
            assert!(
                found == acked || found == acked + 1,
                "{backend}: {group} was answered for {acked}, found {found} after the kill"
            );
        }
    }
}
