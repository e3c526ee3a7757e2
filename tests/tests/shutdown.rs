//! Graceful shutdown: the server stops accepting new connections, lets a
//! request already in the store finish and answer, then syncs the store and
//! returns.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use minikafka_backends::{Store, TopicName};
use minikafka_client::Client;
use minikafka_server::SystemClock;
use minikafka_tests::{GatedStore, TestServer, default_config};

#[tokio::test]
async fn an_in_flight_produce_finishes_before_the_store_is_synced() {
    let store = Arc::new(GatedStore::default());
    let server =
        TestServer::start_with(default_config(), store.clone(), Arc::new(SystemClock)).await;
    let address = server.address.clone();
    let producer = Client::connect(&address)
        .await
        .expect("connect")
        .producer("t");
    let in_flight = tokio::spawn(async move { producer.send("in flight").await });
    store.entered.notified().await;

    let stopping = tokio::spawn(server.stop());
    // A new connection is refused once shutdown has begun.
    let refused = loop {
        match Client::connect(&address).await {
            Err(error) => break error,
            Ok(_) => tokio::task::yield_now().await,
        }
    };
    assert_eq!(refused.code(), minikafka_client::Code::Unavailable);
    assert!(
        !stopping.is_finished(),
        "the server waits for the request in flight"
    );
    assert!(!store.synced.load(Ordering::SeqCst));

    store.release.notify_one();
    assert_eq!(
        in_flight
            .await
            .expect("task")
            .expect("the in-flight produce succeeds"),
        1
    );
    stopping.await.expect("task").expect("a clean stop");
    assert!(
        store.synced.load(Ordering::SeqCst),
        "the store was synced at shutdown"
    );
    let topic = TopicName::new("t").expect("valid");
    assert_eq!(
        store
            .inner
            .describe(&topic)
            .await
            .expect("describe")
            .message_count,
        1
    );
}
