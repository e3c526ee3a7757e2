//! Graceful shutdown: the server stops accepting new connections, lets a
//! request already in the store finish and answer, then syncs the store and
//! returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use minikafka_backends::{
    MemoryStore, OffsetRange, ReadLimits, ReadResult, RemovalReport, Store, StoreError, Timestamp,
    TopicInfo, TopicName, TopicWatch,
};
use minikafka_client::Client;
use minikafka_server::SystemClock;
use minikafka_tests::{TestServer, default_config};
use tokio::sync::Notify;

/// A memory store whose appends wait until released, and which records
/// whether it was synced.
#[derive(Debug, Default)]
struct GatedStore {
    inner: MemoryStore,
    entered: Notify,
    release: Notify,
    synced: AtomicBool,
}

#[async_trait]
impl Store for GatedStore {
    async fn append(
        &self,
        topic: &TopicName,
        payloads: Vec<Bytes>,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.append(topic, payloads, now).await
    }
    async fn read(
        &self,
        topic: &TopicName,
        from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, StoreError> {
        self.inner.read(topic, from, limits).await
    }
    async fn remove_older_than(&self, cutoff: Timestamp) -> Result<RemovalReport, StoreError> {
        self.inner.remove_older_than(cutoff).await
    }
    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
        self.inner.describe(topic).await
    }
    async fn list(&self) -> Result<Vec<TopicInfo>, StoreError> {
        self.inner.list().await
    }
    async fn sync(&self) -> Result<(), StoreError> {
        self.synced.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn watch(&self, topic: &TopicName) -> TopicWatch {
        self.inner.watch(topic)
    }
}

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
