//! The v1 API end to end: produce and poll through the Rust client against
//! a real server on a loopback port.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use minikafka_client::{BatchOptions, Client, Position};
use minikafka_proto::v1::{self, mini_kafka_client::MiniKafkaClient};
use minikafka_tests::TestServer;

#[tokio::test]
async fn produced_messages_come_back_in_order_with_their_offsets() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("orders");
    assert_eq!(producer.send("first").await.expect("send"), 1);
    let range = producer
        .send_batch(["second", "third"])
        .await
        .expect("send batch");
    assert_eq!((range.first, range.last), (2, 3));

    let mut consumer = client.consumer("orders", Position::Earliest);
    let polled = consumer.poll(None).await.expect("poll");
    let got: Vec<(u64, Bytes)> = polled
        .messages
        .iter()
        .map(|m| (m.offset, m.payload.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "first".into()),
            (2, "second".into()),
            (3, "third".into())
        ]
    );
    assert_eq!(polled.gap, None);
    assert_eq!(consumer.position(), 4);
    assert!(polled.messages[1].timestamp >= polled.messages[0].timestamp);

    let caught_up = consumer.poll(None).await.expect("poll again");
    assert!(caught_up.messages.is_empty());
    assert_eq!(consumer.position(), 4, "an empty poll keeps the position");
}

#[tokio::test]
async fn every_byte_value_empty_payloads_and_a_large_payload_round_trip() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let every_byte: Bytes = (0..=255u8).collect::<Vec<u8>>().into();
    let large: Bytes = (0..1024 * 1024)
        .map(|i: u32| (i % 253) as u8)
        .collect::<Vec<u8>>()
        .into();
    let sent = vec![every_byte, Bytes::new(), large];
    client
        .producer("bytes")
        .send_batch(sent.clone())
        .await
        .expect("send");
    let mut consumer = client.consumer("bytes", Position::Earliest);
    let mut got = Vec::new();
    while got.len() < sent.len() {
        got.extend(
            consumer
                .poll(None)
                .await
                .expect("poll")
                .messages
                .into_iter()
                .map(|m| m.payload),
        );
    }
    assert_eq!(got, sent);
}

#[tokio::test]
async fn poll_limits_bound_each_reply_but_always_return_one_message() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let payloads: Vec<Bytes> = (0..10).map(|_| Bytes::from(vec![b'x'; 100])).collect();
    client
        .producer("limits")
        .send_batch(payloads)
        .await
        .expect("send");

    let mut by_count = client
        .consumer("limits", Position::Earliest)
        .with_limits(3, 0);
    let offsets: Vec<u64> = by_count
        .poll(None)
        .await
        .expect("poll")
        .messages
        .iter()
        .map(|m| m.offset)
        .collect();
    assert_eq!(offsets, vec![1, 2, 3]);
    assert_eq!(by_count.position(), 4);

    let mut by_bytes = client
        .consumer("limits", Position::Offset(4))
        .with_limits(0, 250);
    assert_eq!(
        by_bytes.poll(None).await.expect("poll").messages.len(),
        2,
        "250 bytes hold two 100-byte messages"
    );

    let mut tiny = client
        .consumer("limits", Position::Offset(9))
        .with_limits(0, 1);
    assert_eq!(
        tiny.poll(None).await.expect("poll").messages.len(),
        1,
        "one message however large"
    );
}

#[tokio::test]
async fn the_reply_reports_the_topic_bounds_and_where_to_read_next() {
    let server = TestServer::start().await;
    let mut grpc = MiniKafkaClient::connect(format!("http://{}", server.address))
        .await
        .expect("connect");
    let produce = v1::ProduceRequest {
        topic: "bounds".into(),
        payloads: vec!["a".into(), "b".into(), "c".into()],
        ..v1::ProduceRequest::default()
    };
    grpc.produce(produce).await.expect("produce");
    let poll = |read_from, max_messages| v1::PollRequest {
        topic: "bounds".into(),
        read_from,
        max_messages,
        ..v1::PollRequest::default()
    };
    let reply = grpc.poll(poll(0, 2)).await.expect("poll").into_inner();
    assert_eq!(
        (
            reply.new_read_from,
            reply.earliest_offset,
            reply.next_offset
        ),
        (3, 1, 4)
    );
    let reply = grpc
        .poll(poll(4, 0))
        .await
        .expect("poll at the end")
        .into_inner();
    assert!(reply.messages.is_empty());
    assert_eq!(reply.new_read_from, 4);
    let past_the_end = grpc.poll(poll(5, 0)).await.expect_err("past the end");
    assert_eq!(past_the_end.code(), tonic::Code::OutOfRange);
    assert!(
        past_the_end.message().contains("next offset is 4"),
        "{}",
        past_the_end.message()
    );
}

#[tokio::test]
async fn list_and_describe_report_each_topic() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    client
        .producer("beta")
        .send_batch(["12345", "678"])
        .await
        .expect("send");
    client.producer("alpha").send("x").await.expect("send");
    let topics = client.list_topics().await.expect("list");
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["alpha", "beta"]);
    let beta = client.describe_topic("beta").await.expect("describe");
    assert_eq!(topics[1], beta);
    assert_eq!(
        (
            beta.earliest_offset,
            beta.next_offset,
            beta.message_count,
            beta.size_bytes
        ),
        (1, 3, 2, 8)
    );
    assert!(beta.oldest_timestamp.is_some());
}

#[tokio::test]
async fn concurrent_producers_each_get_distinct_offsets() {
    let server = TestServer::start().await;
    let tasks: Vec<_> = (0..8)
        .map(|p| {
            let address = server.address.clone();
            tokio::spawn(async move {
                let producer = Client::connect(&address)
                    .await
                    .expect("connect")
                    .producer("shared");
                let mut offsets = Vec::new();
                for i in 0..50 {
                    offsets.push(producer.send(format!("{p}-{i}")).await.expect("send"));
                }
                offsets
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for task in tasks {
        let offsets = task.await.expect("producer");
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "each producer's offsets increase"
        );
        all.extend(offsets);
    }
    assert_eq!(all, (1..=400).collect::<BTreeSet<u64>>());
}

/// Many tasks sending single messages through one Producer: the sends
/// travel together in batched requests, and each caller gets the offset
/// its own payload was stored at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_through_one_producer_are_batched_and_each_gets_its_offset() {
    concurrent_sends_are_batched(BatchOptions::default()).await;
}

/// The same with a linger, which holds batches while a slot is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_linger_concurrent_sends_are_batched_and_each_gets_its_offset() {
    concurrent_sends_are_batched(BatchOptions {
        linger: Duration::from_millis(2),
        max_in_flight: 4,
        ..BatchOptions::default()
    })
    .await;
}

/// A lone send goes out at once, however long the linger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_send_is_not_held_back_by_the_linger() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("lone").with_batching(BatchOptions {
        linger: Duration::from_secs(60),
        ..BatchOptions::default()
    });
    for expected in 1..=3 {
        let sent = tokio::time::timeout(Duration::from_secs(30), producer.send("alone"))
            .await
            .expect("answered long before the linger")
            .expect("send");
        assert_eq!(sent, expected);
    }
}

async fn concurrent_sends_are_batched(options: BatchOptions) {
    const TASKS: usize = 64;
    const SENDS: usize = 50;
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("coalesced").with_batching(options);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let producer = producer.clone();
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for i in 0..SENDS {
                    let payload = format!("{task}-{i}");
                    let offset = producer.send(payload.clone()).await.expect("send");
                    sent.push((offset, payload));
                }
                sent
            })
        })
        .collect();
    let mut sent = Vec::new();
    for task in tasks {
        let mine = task.await.expect("task");
        assert!(
            mine.windows(2).all(|w| w[0].0 < w[1].0),
            "a task's own sends are stored in order"
        );
        sent.extend(mine);
    }
    sent.sort();
    let offsets: Vec<u64> = sent.iter().map(|(offset, _)| *offset).collect();
    assert_eq!(
        offsets,
        (1..=(TASKS * SENDS) as u64).collect::<Vec<_>>(),
        "every offset once"
    );

    let mut consumer = client
        .consumer("coalesced", Position::Earliest)
        .with_limits(10_000, u32::MAX);
    let mut stored = Vec::new();
    while stored.len() < TASKS * SENDS {
        stored.extend(consumer.poll(None).await.expect("poll").messages);
    }
    for (message, (offset, payload)) in stored.iter().zip(&sent) {
        assert_eq!(
            (message.offset, &message.payload[..]),
            (*offset, payload.as_bytes()),
            "each caller got its own offset"
        );
    }
    // The memory store gives each request one timestamp.
    let requests = stored
        .windows(2)
        .filter(|w| w[0].timestamp != w[1].timestamp)
        .count()
        + 1;
    assert!(
        requests <= TASKS * SENDS / 2,
        "{requests} requests for {} sends: not batched",
        TASKS * SENDS
    );
}
