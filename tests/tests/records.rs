//! Keys, headers, producer sequences and conditional appends through a
//! real server on a loopback port: what is stored comes back exactly, and
//! every bad produce gets its code, a message naming what was wrong (the
//! record's index, the limit, the expected number) and its trailer, and
//! stores nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use minikafka_client::{Client, ClientError, Code, Header, Position, Record};
use minikafka_proto::trailers::{EXPECTED_SEQUENCE, NEXT_OFFSET};
use minikafka_proto::v1::{self, mini_kafka_client::MiniKafkaClient};
use minikafka_server::{Config, ManualClock};
use minikafka_tests::{TestServer, at, clock_at};
use tonic::transport::Channel;

/// A server whose limits a few bytes cross: payloads of 16 bytes, keys of
/// 8, 2 headers of 12 bytes in all.
async fn small_limits() -> TestServer {
    let vars = [
        ("MINIKAFKA_MAX_MESSAGE_BYTES", "16"),
        ("MINIKAFKA_MAX_KEY_BYTES", "8"),
        ("MINIKAFKA_MAX_HEADERS", "2"),
        ("MINIKAFKA_MAX_HEADER_BYTES", "12"),
    ];
    let config = Config::from_vars(vars.map(|(k, v)| (k.to_owned(), v.to_owned())))
        .expect("a valid configuration");
    TestServer::start_with_config(config).await
}

fn header(name: &[u8], value: &[u8]) -> v1::Header {
    v1::Header {
        name: Bytes::copy_from_slice(name),
        value: Bytes::copy_from_slice(value),
    }
}

fn record(payload: &str, key: &str, headers: Vec<v1::Header>) -> v1::Record {
    v1::Record {
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        key: Bytes::copy_from_slice(key.as_bytes()),
        headers,
    }
}

fn records_request(topic: &str, records: Vec<v1::Record>) -> v1::ProduceRequest {
    v1::ProduceRequest {
        topic: topic.into(),
        records,
        ..v1::ProduceRequest::default()
    }
}

async fn grpc(server: &TestServer) -> MiniKafkaClient<Channel> {
    MiniKafkaClient::new(server.channel().await)
}

/// The topic's next offset, or 0 when it does not exist.
async fn next_offset(client: &Client, topic: &str) -> u64 {
    match client.describe_topic(topic).await {
        Ok(info) => info.next_offset,
        Err(error) if error.code() == Code::NotFound => 0,
        Err(error) => panic!("describe {topic}: {error}"),
    }
}

/// The decimal number in trailer `key` of `status`.
fn trailer(status: &tonic::Status, key: &str) -> Option<u64> {
    status.metadata().get(key)?.to_str().ok()?.parse().ok()
}

#[tokio::test]
async fn keys_and_headers_come_back_exactly_from_polls_and_subscriptions() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("keyed");
    let sent = vec![
        Record::new("plain"),
        Record::new("with key").with_key(vec![0u8, 0xff, 7]),
        Record::new(Vec::new())
            .with_header("trace", "a")
            .with_header("bin", vec![0xffu8, 0])
            .with_header("trace", "b")
            .with_header("empty", Vec::new()),
        Record::new("ünïcode")
            .with_key("k")
            .with_header("ü-name", "v"),
    ];
    let first = producer
        .send_record(sent[0].clone())
        .await
        .expect("one record");
    let range = producer
        .send_records(sent[1..].iter().cloned())
        .await
        .expect("a batch");
    assert_eq!((first, range.first, range.last), (1, 2, 4));

    let as_records = |messages: Vec<minikafka_client::Message>| -> Vec<Record> {
        messages
            .into_iter()
            .map(|m| Record {
                payload: m.payload,
                key: m.key,
                headers: m.headers,
            })
            .collect()
    };
    let polled = client
        .consumer("keyed", Position::Earliest)
        .poll(None)
        .await
        .expect("poll");
    assert_eq!(as_records(polled.messages), sent, "poll");
    let streamed: Vec<_> = client
        .consumer("keyed", Position::Earliest)
        .stream()
        .take(4)
        .map(|m| m.expect("a message"))
        .collect()
        .await;
    assert_eq!(as_records(streamed), sent, "subscribe");
    assert_eq!(
        sent[2].headers[1],
        Header {
            name: "bin".into(),
            value: Bytes::from_static(&[0xff, 0])
        }
    );

    let info = client.describe_topic("keyed").await.expect("describe");
    let size: usize = sent.iter().map(Record::size).sum();
    assert_eq!(info.size_bytes, size as u64, "keys and headers count");
}

#[tokio::test]
async fn each_limit_and_each_bad_header_name_is_refused_naming_the_record() {
    let server = small_limits().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let mut grpc = grpc(&server).await;
    client
        .producer("limits")
        .send("before")
        .await
        .expect("a message before");
    let fine = || record("p", "k", vec![header(b"h", b"v")]);
    let cases: Vec<(v1::Record, &str)> = vec![
        (
            record("0123456789abcdefg", "", vec![]),
            "records[1]: the payload is 17 bytes; the largest message accepted is 16 bytes (MINIKAFKA_MAX_MESSAGE_BYTES)",
        ),
        (
            record("p", "123456789", vec![]),
            "records[1]: the key is 9 bytes; the largest key accepted is 8 bytes (MINIKAFKA_MAX_KEY_BYTES)",
        ),
        (
            record("p", "", vec![header(b"a", b""); 3]),
            "records[1]: 3 headers; at most 2 are accepted on one message (MINIKAFKA_MAX_HEADERS)",
        ),
        (
            record("p", "", vec![header(b"name", b"123456789")]),
            "records[1]: the headers' names and values are 13 bytes; at most 12 are accepted on one message (MINIKAFKA_MAX_HEADER_BYTES)",
        ),
        (
            record("p", "", vec![header(b"ok", b""), header(b"", b"v")]),
            "records[1]: headers[1] has an empty name",
        ),
        (
            record("p", "", vec![header(b"\xff\xfe", b"v")]),
            "records[1]: headers[0]'s name is not UTF-8",
        ),
    ];
    for (bad, expected) in cases {
        let request = records_request("limits", vec![fine(), bad, fine()]);
        let status = grpc.produce(request).await.expect_err(expected);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(
            status.message(),
            format!("{expected}; nothing in the batch was stored")
        );
        assert_eq!(next_offset(&client, "limits").await, 2, "nothing stored");
    }
    let missing = grpc
        .produce(records_request(
            "never",
            vec![record("p", "123456789", vec![])],
        ))
        .await
        .expect_err("too long a key");
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(next_offset(&client, "never").await, 0, "no topic made");

    // At the limits exactly, everything is taken.
    let at_limits = record(
        "0123456789abcdef",
        "12345678",
        vec![header(b"ab", b"cdef"), header(b"gh", b"ij")],
    );
    grpc.produce(records_request("limits", vec![at_limits]))
        .await
        .expect("at the limits");

    // The Rust client sees the same refusal.
    let error = client
        .producer("limits")
        .send_record(Record::new("p").with_key("123456789"))
        .await
        .expect_err("too long a key");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.to_string().contains("records[0]: the key is 9 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_produces_are_invalid_arguments_that_store_nothing() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let mut grpc = grpc(&server).await;
    let both = v1::ProduceRequest {
        topic: "t".into(),
        payloads: vec![Bytes::from_static(b"a")],
        records: vec![record("b", "", vec![])],
        ..v1::ProduceRequest::default()
    };
    let sequence_alone = v1::ProduceRequest {
        sequence: 3,
        ..records_request("t", vec![record("b", "", vec![])])
    };
    let offset_zero = v1::ProduceRequest {
        expected_next_offset: Some(0),
        ..records_request("t", vec![record("b", "", vec![])])
    };
    for (request, says) in [
        (both, "either payloads or records, not both"),
        (sequence_alone, "sequence 3 was given without a producer_id"),
        (offset_zero, "expected_next_offset 0 is not an offset"),
    ] {
        let status = grpc.produce(request).await.expect_err(says);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(says), "{status:?}");
    }
    assert_eq!(next_offset(&client, "t").await, 0, "nothing stored");
}

#[tokio::test]
async fn a_sequence_gap_is_refused_with_the_expected_sequence_and_stores_nothing() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let mut grpc = grpc(&server).await;
    let batch = |sequence| v1::ProduceRequest {
        producer_id: 77,
        sequence,
        ..records_request("seq", vec![record("p", "", vec![])])
    };
    let stored = grpc.produce(batch(5)).await.expect("first").into_inner();
    assert_eq!(stored.first_offset, 1);
    let retried = grpc.produce(batch(5)).await.expect("retry").into_inner();
    assert_eq!(retried, stored, "a retry gets the original offsets");
    let status = grpc.produce(batch(7)).await.expect_err("a gap");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(trailer(&status, EXPECTED_SEQUENCE), Some(6));
    assert_eq!(
        status.message(),
        "topic 'seq': producer 77 sent sequence 7, but the next expected from it is 6"
    );
    assert_eq!(next_offset(&client, "seq").await, 2, "nothing stored");
    match ClientError::from(status) {
        ClientError::SequenceOutOfOrder { expected, message } => {
            assert_eq!(expected, 6);
            assert!(message.contains("sequence 7"), "{message}");
        }
        other => panic!("not SequenceOutOfOrder: {other:?}"),
    }
    grpc.produce(batch(6)).await.expect("the expected one");
    assert_eq!(next_offset(&client, "seq").await, 3);
}

#[tokio::test]
async fn a_wrong_expected_next_offset_is_refused_with_the_actual_one() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let mut grpc = grpc(&server).await;
    let expecting = |expected| v1::ProduceRequest {
        expected_next_offset: Some(expected),
        ..records_request("cond", vec![record("p", "", vec![])])
    };
    let status = grpc.produce(expecting(5)).await.expect_err("no topic yet");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(trailer(&status, NEXT_OFFSET), Some(1));
    assert_eq!(
        status.message(),
        "topic 'cond': the append expected next offset 5, but the topic's next offset is 1"
    );
    assert_eq!(next_offset(&client, "cond").await, 0, "no topic made");
    grpc.produce(expecting(1)).await.expect("1 makes it");
    let status = grpc.produce(expecting(1)).await.expect_err("taken");
    assert_eq!(trailer(&status, NEXT_OFFSET), Some(2));
    assert_eq!(next_offset(&client, "cond").await, 2, "nothing stored");
}

#[tokio::test]
async fn a_poll_of_messages_with_many_headers_stays_within_what_default_clients_take() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address)
        .await
        .expect("connect")
        .with_timeout(Duration::from_secs(30));
    let producer = client.producer("headers");
    // Each message counts 64 one-byte names and two-byte values (192
    // bytes) but carries about three times that in protobuf framing: 8,000
    // of them are within a poll's limits (10,000 messages, 2 MiB) and
    // would make a reply of about 4.7 MiB.
    let message = (0..64).fold(Record::new(Vec::new()), |record, i| {
        record.with_header(char::from(b'a' + i % 26).to_string(), "vv")
    });
    for _ in 0..8 {
        producer
            .send_records(std::iter::repeat_n(message.clone(), 1_000))
            .await
            .expect("produce");
    }
    // A generated client with gRPC's default 4 MiB receive limit.
    let mut grpc = grpc(&server).await;
    let mut read_from = 1;
    let mut polls = 0;
    while read_from <= 8_000 {
        polls += 1;
        let reply = grpc
            .poll(v1::PollRequest {
                topic: "headers".into(),
                read_from,
                max_messages: 10_000,
                max_bytes: 2 << 20,
                ..v1::PollRequest::default()
            })
            .await
            .expect("a reply within 4 MiB")
            .into_inner();
        assert!(!reply.messages.is_empty());
        assert_eq!(reply.messages[0].offset, read_from, "nothing skipped");
        assert!(reply.messages.iter().all(|m| m.headers.len() == 64));
        read_from = reply.new_read_from;
    }
    assert_eq!(read_from, 8_001);
    assert!(polls > 1, "the first reply was cut short of the limits");
}

/// A server on the store its configuration (`vars`) opens, on `clock`.
async fn configured(vars: &[(&str, &str)], clock: Arc<ManualClock>) -> TestServer {
    let config = Config::from_vars(vars.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())))
        .expect("a valid configuration");
    let store = minikafka_server::open_store(&config.store).expect("open the store");
    TestServer::start_with(config, store, clock).await
}

/// A one-message batch of `producer_id` with `sequence` to `topic`.
fn sequenced(topic: &str, producer_id: u64, sequence: u64) -> v1::ProduceRequest {
    v1::ProduceRequest {
        producer_id,
        sequence,
        ..records_request(topic, vec![record("p", "", vec![])])
    }
}

async fn first_offset(grpc: &mut MiniKafkaClient<Channel>, request: v1::ProduceRequest) -> u64 {
    let reply = grpc.produce(request).await.expect("produce");
    reply.into_inner().first_offset
}

/// docs/api.md: a producer idle for longer than MINIKAFKA_PRODUCER_EXPIRY
/// is forgotten by the sweep, and a retry after that is stored again.
#[tokio::test]
async fn a_producer_idle_past_the_expiry_is_forgotten_by_the_sweep() {
    let clock = clock_at(0);
    let vars = [
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_RETENTIONTIME", "forever"),
        ("MINIKAFKA_PRODUCER_EXPIRY", "1h"),
        ("MINIKAFKA_SWEEP_INTERVAL", "10ms"),
    ];
    let server = configured(&vars, Arc::clone(&clock)).await;
    let mut grpc = grpc(&server).await;
    assert_eq!(first_offset(&mut grpc, sequenced("idle", 5, 0)).await, 1);
    clock.set(at(3_599));
    // Sweeps run meanwhile; within the hour the producer is remembered.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(first_offset(&mut grpc, sequenced("idle", 5, 0)).await, 1);

    clock.set(at(3_601));
    let deadline = std::time::Instant::now() + minikafka_tests::DEADLINE;
    loop {
        match first_offset(&mut grpc, sequenced("idle", 5, 0)).await {
            1 => assert!(
                std::time::Instant::now() < deadline,
                "the sweep did not forget the producer"
            ),
            offset => {
                assert_eq!(
                    offset, 2,
                    "the retry of a forgotten producer is stored again"
                );
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// docs/api.md: past MINIKAFKA_MAX_PRODUCERS in a topic, the least
/// recently active producer is forgotten.
#[tokio::test]
async fn past_the_producer_cap_the_least_recently_active_is_forgotten() {
    let vars = [
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_MAX_PRODUCERS", "2"),
    ];
    let clock = clock_at(0);
    let server = configured(&vars, Arc::clone(&clock)).await;
    let mut grpc = grpc(&server).await;
    // A second apart, so which is least recently active is clear.
    for (producer, offset) in [(1, 1), (2, 2), (3, 3)] {
        clock.set(at(producer));
        assert_eq!(
            first_offset(&mut grpc, sequenced("cap", producer, 0)).await,
            offset
        );
    }
    assert_eq!(
        first_offset(&mut grpc, sequenced("cap", 3, 0)).await,
        3,
        "the latest two are remembered"
    );
    assert_eq!(
        first_offset(&mut grpc, sequenced("cap", 1, 0)).await,
        4,
        "the first was forgotten: its retry is stored again"
    );
    assert_eq!(
        first_offset(&mut grpc, sequenced("other", 1, 0)).await,
        1,
        "each topic has producers of its own"
    );
}
