//! The tools' keys and headers, as real processes against a real
//! `mkfk-server` on 127.0.0.1: `mkfk-producer --key-separator` and
//! `--header` (checked through the Rust client), `mkfk-consumer --format
//! json` and `--print-key` (of records the Rust client stored), and
//! `mkfk-bench --key-size`, `--headers` and `--idempotence`.

mod common;

use bytes::Bytes;
use common::*;
use minikafka_client::{Header, Message, Record};

/// A message's key and headers, as text, for comparing.
fn key_and_headers(message: &Message) -> (Bytes, Vec<(String, Bytes)>) {
    let headers = message
        .headers
        .iter()
        .map(|Header { name, value }| (name.clone(), value.clone()))
        .collect();
    (message.key.clone(), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_splits_keys_at_the_separator_and_adds_headers_in_order() {
    let server = Server::start();
    let input = b"user-1::{\"a\":1}\n::no key\nk\xff::v::w\n".to_vec();
    let producer = run(
        server.producer("t").args([
            "--key-separator",
            "::",
            "--header",
            "source=mkfk-producer",
            "--header",
            "trace=a=b",
            "--header",
            "source=",
        ]),
        "mkfk-producer",
        Some(input),
    );
    assert!(producer.status.success(), "{}", producer.stderr);
    assert_eq!(
        producer.stderr.trim_end(),
        "mkfk-producer: stored 3 messages in 't' (offsets 1..3)"
    );

    let client = server.client().await;
    let messages = read_all(&client, "t", 3).await;
    let split: Vec<(&[u8], &[u8])> = messages
        .iter()
        .map(|m| (m.key.as_ref(), m.payload.as_ref()))
        .collect();
    assert_eq!(
        split,
        [
            (&b"user-1"[..], &b"{\"a\":1}"[..]),
            (b"", b"no key"),
            (b"k\xff", b"v::w")
        ]
    );
    let headers: Vec<(String, Bytes)> = [
        ("source", "mkfk-producer"),
        ("trace", "a=b"),
        ("source", ""),
    ]
    .map(|(name, value)| (name.to_owned(), Bytes::from(value)))
    .to_vec();
    for message in &messages {
        assert_eq!(key_and_headers(message).1, headers, "{message:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_refuses_a_line_without_the_separator_as_kafka_does() {
    let server = Server::start();
    let producer = run(
        server.producer("t").args(["--key-separator", ":"]),
        "mkfk-producer",
        Some(b"a:1\nb:2\nno separator\nc:3\n".to_vec()),
    );
    assert_eq!(producer.status.code(), Some(1), "{}", producer.stderr);
    assert_eq!(
        producer.stderr,
        "mkfk-producer: line 3 has no key separator \":\"; it and the lines after it were not stored\n\
         mkfk-producer: stored 2 messages in 't' (offsets 1..2) before the failure\n"
    );
    let client = server.client().await;
    let keys: Vec<Bytes> = read_all(&client, "t", 2)
        .await
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, [Bytes::from("a"), Bytes::from("b")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_refuses_bad_headers_and_separators_before_reading_input() {
    let server = Server::start();
    for (args, named) in [
        (&["--header", "no-equals-sign"][..], "no-equals-sign"),
        (&["--header", "=value"][..], "=value"),
        (&["--key-separator", ""][..], "--key-separator"),
    ] {
        let producer = run(server.producer("t").args(args), "mkfk-producer", None);
        assert_eq!(
            producer.status.code(),
            Some(2),
            "{args:?}: {}",
            producer.stderr
        );
        assert!(
            producer.stderr.contains(named),
            "{args:?}: {}",
            producer.stderr
        );
    }
    // The server refuses a header it cannot take (here: a key too long),
    // naming the record, and nothing is stored.
    let long_key = format!("{}:payload\n", "k".repeat(16 * 1024 + 1));
    let producer = run(
        server.producer("t").args(["--key-separator", ":"]),
        "mkfk-producer",
        Some(long_key.into_bytes()),
    );
    assert_eq!(producer.status.code(), Some(1), "{}", producer.stderr);
    assert!(
        producer.stderr.contains("records[0]") && producer.stderr.contains("stored 0 messages"),
        "{}",
        producer.stderr
    );
    let client = server.client().await;
    assert!(client.describe_topic("t").await.is_err(), "nothing stored");
}

/// Stores three records through the Rust client: text key and headers, a
/// binary key and header value, and neither.
async fn store_records(server: &Server) {
    let client = server.client().await;
    let records = [
        Record::new("one")
            .with_key("user-1")
            .with_header("trace", "a")
            .with_header("trace", "b"),
        Record::new("two")
            .with_key(Bytes::from_static(b"\xfe\x00"))
            .with_header("bin", Bytes::from_static(b"\xff")),
        Record::new("three"),
    ];
    let range = client
        .producer("t")
        .send_records(records)
        .await
        .expect("produce");
    assert_eq!((range.first, range.last), (1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_json_carries_keys_and_headers_as_base64_where_not_utf8() {
    let server = Server::start();
    store_records(&server).await;
    let consumer = run(
        &mut server.consumer("t", &["--format", "json", "--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert!(consumer.status.success(), "{}", consumer.stderr);
    let lines: Vec<serde_json::Value> = String::from_utf8(consumer.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["key"], "user-1");
    assert_eq!(
        lines[0]["headers"],
        serde_json::json!([{"name": "trace", "value": "a"}, {"name": "trace", "value": "b"}])
    );
    assert_eq!(lines[1]["key_base64"], "/gA=");
    assert!(lines[1].get("key").is_none(), "{}", lines[1]);
    assert_eq!(
        lines[1]["headers"],
        serde_json::json!([{"name": "bin", "value_base64": "/w=="}])
    );
    // No key and no headers: the fields are left out, as before keys.
    let mut fields: Vec<&str> = lines[2]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["offset", "payload", "timestamp"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_print_key_puts_the_key_and_a_tab_before_the_payload() {
    let server = Server::start();
    store_records(&server).await;
    let consumer = run(
        &mut server.consumer("t", &["--print-key", "--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert!(consumer.status.success(), "{}", consumer.stderr);
    assert_eq!(consumer.stdout, b"user-1\tone\n\xfe\x00\ttwo\n\tthree\n");
    let plain = run(
        &mut server.consumer("t", &["--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert_eq!(plain.stdout, b"one\ntwo\nthree\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_adds_keys_and_headers_idempotent_or_not() {
    let server = Server::start();
    for (topic, idempotence) in [("on", "on"), ("off", "off")] {
        let bench = run(
            command(env!("CARGO_BIN_EXE_mkfk-bench")).args([
                "--host",
                &server.address,
                "--topic",
                topic,
                "--messages",
                "300",
                "--batch",
                "100",
                "--size",
                "10",
                "--key-size",
                "16",
                "--headers",
                "3",
                "--idempotence",
                idempotence,
                "--json",
            ]),
            "mkfk-bench",
            None,
        );
        assert!(bench.status.success(), "{}", bench.stderr);
        let report: serde_json::Value =
            serde_json::from_slice(&bench.stdout).expect("one JSON object");
        assert_eq!(report["config"]["idempotence"], idempotence == "on");
        assert_eq!(report["produce"]["messages"], 300, "{report}");
        // Payload, key, and three headers named h1..h3 with 16-byte values.
        assert_eq!(
            report["produce"]["bytes"],
            300 * (10 + 16 + 3 * (2 + 16)),
            "{report}"
        );
        let client = server.client().await;
        // 300 messages and the warm-up one.
        let messages = read_all(&client, topic, 301).await;
        let (key, headers) = key_and_headers(&messages[300]);
        assert_eq!(key, Bytes::from(vec![b'k'; 16]));
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["h1", "h2", "h3"]);
    }
}
