//! Load limits: one connection may hold at most
//! MINIKAFKA_MAX_STREAMS_PER_CONNECTION calls at once; more wait their
//! turn (HTTP/2 flow control) instead of costing the server more tasks.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use minikafka_backends::MemoryStore;
use minikafka_proto::v1::mini_kafka_client::MiniKafkaClient;
use minikafka_server::{Config, SystemClock};
use minikafka_tests::{DEADLINE, TestServer, default_config, subscribe_request, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_holds_at_most_its_stream_limit() {
    let config = Config {
        max_streams_per_connection: 2,
        ..default_config()
    };
    let server =
        TestServer::start_with(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).await;
    let channel = server.channel().await;
    let subscribe = |topic: &str| {
        let mut grpc = MiniKafkaClient::new(channel.clone());
        let request = subscribe_request(topic, 0);
        async move { grpc.subscribe(request).await }
    };
    let first = subscribe("a").await.expect("first stream");
    let _second = subscribe("b").await.expect("second stream");
    wait_until("two streams", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 2
    })
    .await;

    let third = tokio::spawn(subscribe("c"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !third.is_finished(),
        "a third stream on the connection waits for a free slot"
    );
    assert_eq!(server.activity.subscriptions.load(Ordering::SeqCst), 2);

    drop(first);
    let third = tokio::time::timeout(DEADLINE, third)
        .await
        .expect("a slot freed")
        .expect("task");
    third.expect("the third stream runs once the first has gone");
    wait_until("the third stream's task", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 2
    })
    .await;
}
