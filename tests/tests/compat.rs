//! The original Go project's API (`protocol.MiniKafka`) on the same port:
//! its clients keep working, and see the same numbers as v1 clients.

use minikafka_client::{Client, Position};
use minikafka_proto::protocol::{self, mini_kafka_client::MiniKafkaClient};
use minikafka_tests::TestServer;

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
    let mut old = MiniKafkaClient::connect(format!("http://{}", server.address))
        .await
        .expect("connect");
    let missing = old
        .poll(poll("missing", None))
        .await
        .expect_err("unknown topic");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let bad = old
        .produce(produce("a/b", b"x"))
        .await
        .expect_err("bad topic");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let no_topic = protocol::ProduceRequest {
        topic: None,
        payload: None,
    };
    assert_eq!(
        old.produce(no_topic).await.expect_err("no topic").code(),
        tonic::Code::InvalidArgument
    );
}
