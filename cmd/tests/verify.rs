//! Damage in a sealed segment, met as people meet it: `mkfk-server
//! verify` run by an operator on a copy of a live file store's directory
//! (and on the live one, which it must not disturb), clean and then with a
//! byte flipped; and `mkfk-consumer` reading through a byte flipped under
//! a running server, stopping there or, with `--skip-damaged`, going on.

mod common;

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use common::*;
use minikafka_client::Producer;

/// Every line is one message of the same length, so the records' places
/// in a segment are known: record k (offset k + 1) starts at byte
/// 16 + k * (24 + 18).
const MESSAGES: usize = 60;
const LINE_LEN: usize = 18;

fn message(i: usize) -> String {
    let line = format!("verify-message-{i:03}");
    assert_eq!(line.len(), LINE_LEN);
    line
}

fn verify(root: Option<&Path>, env_root: Option<&Path>) -> Finished {
    let mut verify = command(SERVER);
    verify.arg("verify");
    if let Some(root) = root {
        verify.arg("--root").arg(root);
    }
    if let Some(root) = env_root {
        verify.env("MINIKAFKA_ROOT_DIR", root);
    }
    run(&mut verify, "mkfk-server verify", None)
}

fn stdout_lines(finished: &Finished) -> Vec<String> {
    String::from_utf8_lossy(&finished.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A file-store server in `root` with 1 KiB segments, and the topic
/// `checked` holding [`MESSAGES`] messages over several segments.
async fn serve_checked_topic(root: &Path) -> Server {
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "file"),
        ("MINIKAFKA_ROOT_DIR", root.to_str().expect("UTF-8 path")),
        ("MINIKAFKA_SEGMENT_BYTES", "1KiB"),
    ]);
    // One produce per message, each awaited: no batch holds more than
    // one, so the segments fill and roll.
    // Without a producer id, so every record has the plain layout and its
    // place in the segment is known.
    let producer = Producer::connect(&server.address, "checked")
        .await
        .expect("connect a producer")
        .with_idempotence(false);
    for i in 0..MESSAGES {
        producer.send(message(i)).await.expect("produce");
    }
    server
}

#[tokio::test]
async fn verify_finds_a_flipped_byte_in_a_copy_of_a_live_directory() {
    let data = tempfile::tempdir().expect("temporary directory");
    let live = data.path().join("live");
    // Serves on while verify runs on its directory.
    let _server = serve_checked_topic(&live).await;

    // On the live directory, while the server runs: read-only, no lock.
    let on_live = verify(Some(&live), None);
    assert_eq!(on_live.status.code(), Some(0), "{}", on_live.stderr);

    let copy = data.path().join("copy");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&live)
        .arg(&copy)
        .status()
        .expect("run cp");
    assert!(copied.success(), "cp -a {live:?} {copy:?}: {copied}");
    let clean = verify(None, Some(&copy));
    assert_eq!(clean.status.code(), Some(0), "{}", clean.stderr);
    let lines = stdout_lines(&clean);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with(&format!("{MESSAGES} records checked; no damage found")),
        "{lines:?}"
    );

    let logs = segment_files(&copy.join("topics/checked"));
    assert!(logs.len() >= 2, "the topic has a sealed segment: {logs:?}");
    let mut bytes = fs::read(&logs[0]).expect("read the first segment");
    // The payload of offset 3 (record 2) in the first, sealed, segment.
    let position = record_position(2);
    bytes[position + 24 + 5] ^= 0x20;
    fs::write(&logs[0], bytes).expect("damage the first segment");

    let damaged = verify(Some(&copy), None);
    assert_eq!(damaged.status.code(), Some(1), "{}", damaged.stderr);
    let lines = stdout_lines(&damaged);
    assert_eq!(
        lines,
        [
            format!(
                "topic 'checked': {} at byte {position}: offsets 3..=3 are damaged (checksum mismatch); the first good offset after them is 4",
                logs[0].display()
            ),
            format!(
                "{}: 1 topics, {} segments, {} records checked; 1 damaged ranges found",
                copy.display(),
                logs.len(),
                MESSAGES - 1
            ),
        ]
    );

    // The live server's data was not touched.
    let again = verify(Some(&live), None);
    assert_eq!(again.status.code(), Some(0), "{}", again.stderr);
}

/// The byte position of record `k` (offset `k + 1`) in the first segment.
fn record_position(k: usize) -> usize {
    16 + k * (24 + LINE_LEN)
}

#[tokio::test]
async fn a_consumer_stops_at_damage_or_skips_it_and_says_what_it_skipped() {
    let data = tempfile::tempdir().expect("temporary directory");
    let root = data.path().join("live");
    let server = serve_checked_topic(&root).await;
    // Flip a payload byte of offset 3 in place, under the running server,
    // as bit rot would.
    let logs = segment_files(&root.join("topics/checked"));
    assert!(logs.len() >= 2, "the topic has a sealed segment: {logs:?}");
    let mut segment = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&logs[0])
        .expect("open the first segment");
    let at = (record_position(2) + 24 + 5) as u64;
    segment.seek(SeekFrom::Start(at)).expect("seek");
    segment.write_all(b"#").expect("damage the first segment");
    segment.sync_all().expect("sync the damage");

    let all: Vec<String> = (0..MESSAGES).map(message).collect();
    let stopped = run(
        &mut server.consumer("checked", &["--from", "1", "--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.stderr);
    assert_eq!(
        String::from_utf8_lossy(&stopped.stdout),
        format!("{}\n{}\n", all[0], all[1]),
        "the messages before the damage are printed"
    );
    assert_eq!(
        stopped.stderr.trim_end(),
        "mkfk-consumer: data loss: topic 'checked': offsets 3..=3 are damaged on disk and cannot be read; \
         the first good offset after them is 4 (--skip-damaged goes on from there)"
    );

    let skipped = run(
        &mut server.consumer("checked", &["--from", "1", "--no-follow", "--skip-damaged"]),
        "mkfk-consumer",
        None,
    );
    assert!(skipped.status.success(), "{}", skipped.stderr);
    let expected: Vec<&str> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, line)| line.as_str())
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&skipped.stdout),
        format!("{}\n", expected.join("\n"))
    );
    assert!(
        skipped.stderr.contains(
            "mkfk-consumer: skipped offsets 3..=3 of topic 'checked': damaged on the server's disk"
        ),
        "{}",
        skipped.stderr
    );
}

#[test]
fn verify_of_a_directory_without_a_file_store_is_an_error() {
    let data = tempfile::tempdir().expect("temporary directory");
    let missing = data.path().join("nothing-here");
    let failed = verify(Some(&missing), None);
    assert_eq!(failed.status.code(), Some(2));
    assert!(failed.stdout.is_empty());
    assert_eq!(
        failed.stderr.trim_end(),
        format!(
            "mkfk-server: verify: {} holds no file store to check (it has no topics directory): entity not found",
            missing.display()
        )
    );
    let mut bad = command(SERVER);
    bad.args(["verify", "--no-such-flag"]);
    let bad = run(&mut bad, "mkfk-server verify", None);
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("--no-such-flag"), "{}", bad.stderr);
}
