//! The original Go project's API (`protocol.MiniKafka`) on the same port:
//! its clients keep working, see the same numbers as v1 clients, and get
//! the answers the original gave: an empty reply that stays where it was
//! asked past the end and on a topic whose messages all expired, and any
//! string as a topic name (docs/api.md says how it maps to v1).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use minikafka_backends::{Batch, MemoryStore, Store, TopicName};
use minikafka_client::{Client, Position};
use minikafka_proto::protocol::{self, mini_kafka_client::MiniKafkaClient};
use minikafka_tests::{TestServer, at, clock_at, default_config};
use tonic::transport::Channel;

async fn original_client(server: &TestServer) -> MiniKafkaClient<Channel> {
    MiniKafkaClient::connect(format!("http://{}", server.address))
        .await
        .expect("connect")
}

/// A poll's payloads and `new_read_from`.
async fn polled(
    old: &mut MiniKafkaClient<Channel>,
    topic: &str,
    from: Option<u32>,
) -> (Vec<Bytes>, Option<u32>) {
    let reply = old
        .poll(poll(topic, from))
        .await
        .expect("poll")
        .into_inner();
    let payloads = reply.payloads.into_iter().map(|p| p.payload).collect();
    (payloads, reply.new_read_from.map(|n| n.msg_number))
}

fn produce(topic: &str, payload: &'static [u8]) -> protocol::ProduceRequest {
    protocol::ProduceRequest {
        topic: Some(protocol::Topic {
            topic: topic.into(),
        }),
        payload: Some(protocol::Payload {
            payload: payload.into(),
        }),
    }
}

fn poll(topic: &str, from: Option<u32>) -> protocol::PollRequest {
    protocol::PollRequest {
        topic: topic.into(),
        read_from: from.map(|msg_number| protocol::MsgNumber { msg_number }),
    }
}

#[tokio::test]
async fn original_clients_produce_and_poll_with_shared_numbering() {
    let server = TestServer::start().await;
    let mut old = MiniKafkaClient::connect(format!("http://{}", server.address))
        .await
        .expect("connect");
    let new = Client::connect(&server.address).await.expect("connect");

    assert_eq!(
        old.produce(produce("legacy", b"one"))
            .await
            .expect("produce")
            .into_inner()
            .msg_number,
        1
    );
    assert_eq!(
        new.producer("legacy").send("two").await.expect("v1 send"),
        2
    );
    assert_eq!(
        old.produce(produce("legacy", b"three"))
            .await
            .expect("produce")
            .into_inner()
            .msg_number,
        3
    );

    let reply = old
        .poll(poll("legacy", None))
        .await
        .expect("poll")
        .into_inner();
    let payloads: Vec<&[u8]> = reply.payloads.iter().map(|p| p.payload.as_ref()).collect();
    assert_eq!(payloads, vec![b"one".as_slice(), b"two", b"three"]);
    assert_eq!(reply.new_read_from.map(|n| n.msg_number), Some(4));

    let reply = old
        .poll(poll("legacy", Some(3)))
        .await
        .expect("poll")
        .into_inner();
    assert_eq!(reply.payloads.len(), 1);
    let reply = old
        .poll(poll("legacy", Some(4)))
        .await
        .expect("poll at the end")
        .into_inner();
    assert!(reply.payloads.is_empty());
    assert_eq!(reply.new_read_from.map(|n| n.msg_number), Some(4));

    let polled = new
        .consumer("legacy", Position::Earliest)
        .poll(None)
        .await
        .expect("v1 poll");
    assert_eq!(polled.messages[0].payload, "one");
}

#[tokio::test]
async fn original_clients_get_the_same_errors() {
    let server = TestServer::start().await;
    let mut old = original_client(&server).await;
    let missing = old
        .poll(poll("missing", None))
        .await
        .expect_err("unknown topic");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let no_payload = protocol::ProduceRequest {
        topic: Some(protocol::Topic { topic: "t".into() }),
        payload: None,
    };
    assert_eq!(
        old.produce(no_payload)
            .await
            .expect("an empty payload")
            .into_inner()
            .msg_number,
        1,
        "the original stores an empty message"
    );
}

#[tokio::test]
async fn a_poll_past_the_end_is_empty_and_stays_where_it_was_asked() {
    let server = TestServer::start().await;
    let mut old = original_client(&server).await;
    old.produce(produce("t", b"one")).await.expect("produce");
    assert_eq!(polled(&mut old, "t", Some(2)).await, (vec![], Some(2)));
    assert_eq!(polled(&mut old, "t", Some(99)).await, (vec![], Some(99)));
    old.produce(produce("t", b"two")).await.expect("produce");
    assert_eq!(
        polled(&mut old, "t", Some(2)).await,
        (vec![Bytes::from_static(b"two")], Some(3))
    );
}

#[tokio::test]
async fn a_topic_whose_messages_all_expired_stays_where_it_was_asked() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let topic = TopicName::new("events").expect("valid");
    store
        .append(&topic, Batch::new(vec!["1".into(), "2".into()]), at(0))
        .await
        .expect("append");
    let mut config = default_config();
    config.retention.max_age = Some(Duration::from_secs(3_600));
    // The start-up sweep removes both: they are 100 minutes old.
    let server = TestServer::start_with(config, store, clock_at(6_000)).await;
    let mut old = original_client(&server).await;
    assert_eq!(polled(&mut old, "events", Some(1)).await, (vec![], Some(1)));
    assert_eq!(polled(&mut old, "events", None).await, (vec![], Some(0)));
    assert_eq!(polled(&mut old, "events", Some(3)).await, (vec![], Some(3)));
    old.produce(produce("events", b"3")).await.expect("produce");
    assert_eq!(
        polled(&mut old, "events", Some(1)).await,
        (vec![Bytes::from_static(b"3")], Some(4)),
        "the next message is found from the old position"
    );
}

#[tokio::test]
async fn any_string_is_a_topic_and_v1_reads_it_under_its_mapped_name() {
    let server = TestServer::start().await;
    let mut old = original_client(&server).await;
    for payload in [b"first".as_slice(), b"second"] {
        old.produce(protocol::ProduceRequest {
            topic: Some(protocol::Topic {
                topic: "some topic".into(),
            }),
            payload: Some(protocol::Payload {
                payload: Bytes::copy_from_slice(payload),
            }),
        })
        .await
        .expect("produce to a name with a space");
    }
    let both = vec![Bytes::from_static(b"first"), Bytes::from_static(b"second")];
    assert_eq!(polled(&mut old, "some topic", None).await, (both, Some(3)));

    // On v1 it is `_compat.` and the hex of "some topic".
    let new = Client::connect(&server.address).await.expect("connect");
    let hex: String = "some topic".bytes().map(|b| format!("{b:02x}")).collect();
    let v1_name = format!("_compat.{hex}");
    assert_eq!(v1_name, "_compat.736f6d6520746f706963");
    let read = new
        .consumer(&v1_name, Position::Earliest)
        .poll(None)
        .await
        .expect("v1 poll");
    let payloads: Vec<&[u8]> = read.messages.iter().map(|m| m.payload.as_ref()).collect();
    assert_eq!(payloads, vec![b"first".as_slice(), b"second"]);
    let topics = new.list_topics().await.expect("list");
    assert_eq!(
        topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        vec![v1_name.as_str()]
    );

    // A v1-valid name is the same topic on both APIs.
    old.produce(produce("plain", b"x")).await.expect("produce");
    assert!(new.describe_topic("plain").await.is_ok());
}

#[tokio::test]
async fn a_name_too_long_to_map_is_refused_the_same_way_every_time() {
    let server = TestServer::start().await;
    let mut old = original_client(&server).await;
    let name = "é".repeat(61);
    for _ in 0..2 {
        let request = protocol::ProduceRequest {
            topic: Some(protocol::Topic {
                topic: name.clone(),
            }),
            payload: Some(protocol::Payload {
                payload: Bytes::from_static(b"x"),
            }),
        };
        let refused = old.produce(request).await.expect_err("too long");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused.message().contains("limit is 249"),
            "{}",
            refused.message()
        );
        let refused = old.poll(poll(&name, None)).await.expect_err("too long");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    }
}
