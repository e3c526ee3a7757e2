//! [`CheckedStore`]: what both APIs do for every request, written once: validate,
//! stamp with the clock, call the store, map its errors; and the state that
//! reads which wait for appends share (see `waiting`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use minikafka_backends::{
    Batch, Creation, OffsetRange, ReadLimits, ReadResult, SettingsChange, Store, TopicInfo,
    TopicName, TopicSettings,
};
use minikafka_proto::v1;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::Status;

use crate::clock::Clock;
use crate::settings::ServerDefaults;
use crate::status::{append_error_to_status, store_error_to_status};
use crate::validate;

/// The store behind the services, with the checks every request passes.
#[derive(Debug, Clone)]
pub struct CheckedStore {
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    /// The settings a topic follows unless it has its own; the message
    /// limit is also the most any topic may set.
    pub(super) defaults: ServerDefaults,
    /// Whether a produce to a topic that does not exist creates it
    /// (`MINIKAFKA_AUTO_CREATE_TOPICS`).
    auto_create_topics: bool,
    /// Cancelled when shutdown begins: waiting reads end at once.
    pub(super) shutdown: CancellationToken,
    /// Tracks subscription tasks, so shutdown can wait for them.
    pub(super) tasks: TaskTracker,
    /// Counts of waiting reads, for operators and tests.
    pub(super) activity: Arc<Activity>,
}

/// What the server holds right now, for operators and tests: reads waiting
/// for appends, connections, request bytes.
#[derive(Debug, Default)]
pub struct Activity {
    /// Open `Subscribe` streams.
    pub subscriptions: AtomicUsize,
    /// `Poll` requests waiting for a message (`max_wait`).
    pub waiting_polls: AtomicUsize,
    /// Open client connections (at most `MINIKAFKA_MAX_CONNECTIONS`).
    pub connections: AtomicUsize,
    /// Bytes of request messages reserved now (at most
    /// `MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES`).
    pub request_bytes: AtomicUsize,
    /// Requests waiting for their share of that budget.
    pub requests_waiting: AtomicUsize,
}

/// Counts one waiting read for as long as it lives.
pub(super) struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    pub(super) fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CheckedStore {
    /// Serves `store`, stamping messages with `clock`, resolving topic
    /// settings against `defaults` (and refusing payloads over its message
    /// limit), and creating topics on first produce if `auto_create_topics`;
    /// waiting reads end when `shutdown` is cancelled, subscription tasks
    /// are tracked by `tasks`, and waiting reads are counted in `activity`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        defaults: ServerDefaults,
        auto_create_topics: bool,
        shutdown: CancellationToken,
        tasks: TaskTracker,
        activity: Arc<Activity>,
    ) -> Self {
        Self {
            store,
            clock,
            defaults,
            auto_create_topics,
            shutdown,
            tasks,
            activity,
        }
    }

    /// Validates a produce and appends its batch: the server's limits on
    /// each message are checked here, a topic's own message limit, the
    /// producer's sequence and the expected next offset by the store.
    pub async fn produce(&self, request: v1::ProduceRequest) -> Result<OffsetRange, Status> {
        let topic = validate::topic(&request.topic)?;
        let records = validate::messages(
            request.payloads,
            request.records,
            &self.defaults.message_limits(),
        )?;
        let batch = Batch {
            create_topic: self.auto_create_topics,
            producer: validate::producer(request.producer_id, request.sequence)?,
            expected_next_offset: validate::expected_next_offset(request.expected_next_offset)?,
            ..Batch::of_records(records)
        };
        self.store
            .append(&topic, batch, self.clock.now())
            .await
            .map_err(append_error_to_status)
    }

    /// Validates the topic and reads from it.
    pub async fn read(
        &self,
        topic: &str,
        read_from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, Status> {
        self.read_valid(&validate::topic(topic)?, read_from, limits)
            .await
    }

    /// Reads from a topic already validated.
    pub(super) async fn read_valid(
        &self,
        topic: &TopicName,
        read_from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, Status> {
        self.store
            .read(topic, read_from, limits)
            .await
            .map_err(store_error_to_status)
    }

    /// Validates the topic and describes it.
    pub async fn describe(&self, topic: &str) -> Result<TopicInfo, Status> {
        let topic = validate::topic(topic)?;
        self.store
            .describe(&topic)
            .await
            .map_err(store_error_to_status)
    }

    /// Up to `limit` topics named after `after`, in name order.
    pub async fn list(
        &self,
        after: Option<&TopicName>,
        limit: usize,
    ) -> Result<Vec<TopicInfo>, Status> {
        self.store
            .list(after, limit)
            .await
            .map_err(store_error_to_status)
    }

    /// Creates `topic` with `settings` (already checked), or finds it
    /// already so.
    pub async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, Status> {
        self.store
            .create_topic(topic, settings)
            .await
            .map_err(store_error_to_status)
    }

    /// Changes `topic`'s settings as `change` (already checked) says.
    pub async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, Status> {
        self.store
            .update_topic(topic, change)
            .await
            .map_err(store_error_to_status)
    }

    /// Deletes `topic`; answers how many messages it held.
    pub async fn delete_topic(&self, topic: &TopicName) -> Result<u64, Status> {
        self.store
            .delete_topic(topic)
            .await
            .map_err(store_error_to_status)
    }
}
