//! End-to-end tests of minikafka: a real server on a loopback port, real
//! gRPC clients. The tests live in `tests/`; this library holds what they
//! share. (Tests of the command-line tools as processes live beside the
//! binaries, in `cmd/tests/`, where Cargo guarantees the binaries are built.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use minikafka_backends::{
    Batch, Creation, GroupName, MemoryStore, OffsetCommit, OffsetRange, ReadLimits, ReadResult,
    RemovalReport, RetentionDefaults, SettingsChange, Store, StoreError, Timestamp, TopicInfo,
    TopicName, TopicSettings, TopicWatch,
};
use minikafka_server::{Activity, Clock, Config, ManualClock, ServeError, Server, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// A server running in this process on `127.0.0.1:<free port>`.
pub struct TestServer {
    /// `host:port` to connect to.
    pub address: String,
    /// The store it serves, for setting up and checking state directly.
    pub store: Arc<dyn Store>,
    /// How many reads are waiting for appends.
    pub activity: Arc<Activity>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

/// The default configuration, as a server with no `MINIKAFKA_*` variables
/// set would have it.
pub fn default_config() -> Config {
    Config::from_vars(Vec::new()).expect("the defaults are valid")
}

/// How long any awaited condition may take before a test fails.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until `done` holds, checking every few milliseconds; fails the
/// test after [`DEADLINE`].
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A `Subscribe` request for `topic` from `read_from`, with the server's
/// default batch size.
pub fn subscribe_request(topic: &str, read_from: u64) -> minikafka_proto::v1::SubscribeRequest {
    minikafka_proto::v1::SubscribeRequest {
        start: None,
        topic: topic.into(),
        read_from,
        max_batch: 0,
        from_end: false,
    }
}

/// A timestamp `seconds` after an arbitrary fixed instant in 2027.
pub fn at(seconds: u64) -> Timestamp {
    Timestamp::from_nanos(1_800_000_000_000_000_000 + seconds * 1_000_000_000)
}

/// A clock set to `at(seconds)`.
pub fn clock_at(seconds: u64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at(seconds)))
}

impl TestServer {
    /// A server with the default configuration on a fresh memory store.
    pub async fn start() -> Self {
        Self::start_with_config(default_config()).await
    }

    /// A server with `config` on a fresh memory store.
    pub async fn start_with_config(config: Config) -> Self {
        Self::start_with(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).await
    }

    /// A server with `config`, serving `store`, on `clock`. Binds before
    /// returning, so clients can connect at once.
    pub async fn start_with(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self::start_at("127.0.0.1:0", config, store, clock).await
    }

    /// A server on `address` (to restart one where its clients expect it).
    pub async fn start_at(
        address: &str,
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let listener = TcpListener::bind(address)
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("local address").to_string();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = Server::new(config, Arc::clone(&store)).with_clock(clock);
        let activity = server.activity();
        let task = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));
        Self {
            address,
            store,
            activity,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// A raw gRPC channel to the server, for the generated clients of any
    /// service (health, reflection, the v1 API itself).
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{}", self.address))
            .expect("a valid URI")
            .connect()
            .await
            .expect("connect to the test server")
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = self.task.take().expect("running");
        task.await.expect("the server task does not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A memory store that counts what reads return, to see how much a
/// server reads on a client's behalf.
#[derive(Debug, Default)]
pub struct CountingStore {
    inner: MemoryStore,
    reads: AtomicU64,
    bytes_read: AtomicU64,
}

impl CountingStore {
    /// How many reads were made.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// The payload bytes all reads returned.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn append(
        &self,
        topic: &TopicName,
        batch: Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        self.inner.append(topic, batch, now).await
    }

    async fn read(
        &self,
        topic: &TopicName,
        from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, StoreError> {
        let result = self.inner.read(topic, from, limits).await?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        let bytes: usize = result.messages.iter().map(|m| m.payload.len()).sum();
        self.bytes_read.fetch_add(bytes as u64, Ordering::SeqCst);
        Ok(result)
    }

    async fn offset_for_time(&self, topic: &TopicName, time: Timestamp) -> Result<u64, StoreError> {
        self.inner.offset_for_time(topic, time).await
    }

    async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        commit: OffsetCommit,
    ) -> Result<(), StoreError> {
        self.inner.commit_offset(group, topic, commit).await
    }

    async fn fetch_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<OffsetCommit>, StoreError> {
        self.inner.fetch_offset(group, topic).await
    }

    async fn list_groups(
        &self,
        after: Option<&GroupName>,
        limit: usize,
    ) -> Result<Vec<GroupName>, StoreError> {
        self.inner.list_groups(after, limit).await
    }

    async fn describe_group(
        &self,
        group: &GroupName,
    ) -> Result<Vec<(TopicName, OffsetCommit)>, StoreError> {
        self.inner.describe_group(group).await
    }

    async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError> {
        self.inner.delete_group(group).await
    }

    async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        self.inner.create_topic(topic, settings).await
    }

    async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        self.inner.update_topic(topic, change).await
    }

    async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError> {
        self.inner.delete_topic(topic).await
    }

    async fn enforce_retention(
        &self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        self.inner.enforce_retention(now, defaults).await
    }

    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
        self.inner.describe(topic).await
    }

    async fn list(
        &self,
        after: Option<&TopicName>,
        limit: usize,
    ) -> Result<Vec<TopicInfo>, StoreError> {
        self.inner.list(after, limit).await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync().await
    }

    fn watch(&self, topic: &TopicName) -> TopicWatch {
        self.inner.watch(topic)
    }
}

/// A memory store whose appends wait until released, and which records
/// whether it was synced.
#[derive(Debug, Default)]
pub struct GatedStore {
    /// The store behind the gate.
    pub inner: MemoryStore,
    /// Notified when an append reaches the gate.
    pub entered: Notify,
    /// Notify to let one waiting append through.
    pub release: Notify,
    /// Whether `sync` was called.
    pub synced: AtomicBool,
}

#[async_trait]
impl Store for GatedStore {
    async fn append(
        &self,
        topic: &TopicName,
        batch: Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.append(topic, batch, now).await
    }
    async fn read(
        &self,
        topic: &TopicName,
        from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, StoreError> {
        self.inner.read(topic, from, limits).await
    }
    async fn offset_for_time(&self, topic: &TopicName, time: Timestamp) -> Result<u64, StoreError> {
        self.inner.offset_for_time(topic, time).await
    }

    async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        commit: OffsetCommit,
    ) -> Result<(), StoreError> {
        self.inner.commit_offset(group, topic, commit).await
    }

    async fn fetch_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<OffsetCommit>, StoreError> {
        self.inner.fetch_offset(group, topic).await
    }

    async fn list_groups(
        &self,
        after: Option<&GroupName>,
        limit: usize,
    ) -> Result<Vec<GroupName>, StoreError> {
        self.inner.list_groups(after, limit).await
    }

    async fn describe_group(
        &self,
        group: &GroupName,
    ) -> Result<Vec<(TopicName, OffsetCommit)>, StoreError> {
        self.inner.describe_group(group).await
    }

    async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError> {
        self.inner.delete_group(group).await
    }
    async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        self.inner.create_topic(topic, settings).await
    }
    async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        self.inner.update_topic(topic, change).await
    }
    async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError> {
        self.inner.delete_topic(topic).await
    }
    async fn enforce_retention(
        &self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        self.inner.enforce_retention(now, defaults).await
    }
    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
        self.inner.describe(topic).await
    }
    async fn list(
        &self,
        after: Option<&TopicName>,
        limit: usize,
    ) -> Result<Vec<TopicInfo>, StoreError> {
        self.inner.list(after, limit).await
    }
    async fn sync(&self) -> Result<(), StoreError> {
        self.synced.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn watch(&self, topic: &TopicName) -> TopicWatch {
        self.inner.watch(topic)
    }
}
