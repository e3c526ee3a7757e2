//! [`CheckedStore`]: what both APIs do for every request, written once: validate,
//! stamp with the clock, call the store, map its errors; and the state that
//! reads which wait for appends share (see `waiting`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use minikafka_backends::{Batch, OffsetRange, ReadLimits, ReadResult, Store, TopicInfo, TopicName};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::Status;

use crate::clock::Clock;
use crate::status::store_error_to_status;
use crate::validate;

/// The store behind the services, with the checks every request passes.
#[derive(Debug, Clone)]
pub struct CheckedStore {
    pub(super) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    max_message_bytes: usize,
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
    /// Serves `store`, stamping messages with `clock` and refusing payloads
    /// over `max_message_bytes`; waiting reads end when `shutdown` is
    /// cancelled, subscription tasks are tracked by `tasks`, and waiting
    /// reads are counted in `activity`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        max_message_bytes: usize,
        shutdown: CancellationToken,
        tasks: TaskTracker,
        activity: Arc<Activity>,
    ) -> Self {
        Self {
            store,
            clock,
            max_message_bytes,
            shutdown,
            tasks,
            activity,
        }
    }

    /// Validates and appends a batch.
    pub async fn produce(&self, topic: &str, payloads: Vec<Bytes>) -> Result<OffsetRange, Status> {
        let topic = validate::topic(topic)?;
        validate::payloads(&payloads, self.max_message_bytes)?;
        self.store
            .append(
                &topic,
                Batch {
                    payloads,
                    create_topic: true,
                },
                self.clock.now(),
            )
            .await
            .map_err(store_error_to_status)
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

    /// Describes every topic.
    pub async fn list(&self) -> Result<Vec<TopicInfo>, Status> {
        self.store
            .list(None, usize::MAX)
            .await
            .map_err(store_error_to_status)
    }
}
