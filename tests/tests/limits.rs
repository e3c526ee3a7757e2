//! Load limits: one connection may hold at most
//! MINIKAFKA_MAX_STREAMS_PER_CONNECTION calls at once, and the server at
//! most MINIKAFKA_MAX_CONNECTIONS connections; more wait their turn
//! instead of costing the server more tasks and memory.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use minikafka_backends::MemoryStore;
use minikafka_proto::v1::mini_kafka_client::MiniKafkaClient;
use minikafka_server::{Config, SystemClock};
use minikafka_tests::{DEADLINE, TestServer, default_config, subscribe_request, wait_until};
use tokio::task::JoinHandle;

/// Checks that `task` is still waiting a while after it started (why it
/// should be: `why`), then calls `free` and returns what `task` gives once
/// freed, failing the test if it takes longer than [`DEADLINE`].
async fn waits_until_freed<T>(task: JoinHandle<T>, why: &str, free: impl FnOnce()) -> T {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "{why}");
    free();
    tokio::time::timeout(DEADLINE, task)
        .await
        .unwrap_or_else(|_| panic!("still waiting after being freed: {why}"))
        .expect("the waiting task does not panic")
}

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
    let third = waits_until_freed(
        third,
        "a third stream on the connection waits for a free slot",
        || {
            assert_eq!(server.activity.subscriptions.load(Ordering::SeqCst), 2);
            drop(first);
        },
    )
    .await;
    third.expect("the third stream runs once the first has gone");
    wait_until("the third stream's task", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 2
    })
    .await;
}

/// A health check on `channel`, as a call any connection may make.
async fn health_check(channel: tonic::transport::Channel) -> Result<(), tonic::Status> {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_until_one_closes() {
    let config = Config {
        max_connections: 2,
        ..default_config()
    };
    let server = TestServer::start_with_config(config).await;
    let first = server.channel().await;
    let second = server.channel().await;
    health_check(first.clone()).await.expect("first connection");
    health_check(second.clone())
        .await
        .expect("second connection");
    assert_eq!(server.activity.connections.load(Ordering::SeqCst), 2);

    let third = tokio::spawn({
        let address = format!("http://{}", server.address);
        async move {
            let channel = tonic::transport::Channel::from_shared(address)
                .expect("a valid URI")
                .connect()
                .await
                .expect("the kernel completes the TCP handshake");
            health_check(channel.clone()).await.map(|()| channel)
        }
    });
    let third = waits_until_freed(
        third,
        "a connection past the cap is not served while the others are open",
        || {
            assert_eq!(server.activity.connections.load(Ordering::SeqCst), 2);
            drop(first);
        },
    )
    .await
    .expect("the third connection is served once the first closed");
    assert_eq!(server.activity.connections.load(Ordering::SeqCst), 2);
    health_check(second).await.expect("the second still works");
    drop(third);
}
