//! [`Producer`]: appends messages to one topic.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::batcher::{self, BatchOptions, QueuedSend};
use crate::sender::Sender;
use crate::{Client, ClientError, Record};

/// Appends messages to one topic.
///
/// Share one `Producer` (clone it: clones share its connection and its
/// batching) among many tasks: concurrent [`send`](Self::send)s are
/// coalesced into batched requests (see [`BatchOptions`]), each caller
/// still getting its own offset, and a lone send is never held back.
/// Concurrent sends are not ordered relative to each other; a task's own
/// awaited sends are stored in the order it makes them.
///
/// # Safe retries
///
/// A producer is idempotent unless [`with_idempotence(false)`](Self::with_idempotence):
/// each request carries a producer id and a sequence number, and a request
/// that fails in a way that may have stored it (no connection, the
/// connection lost, `UNAVAILABLE`, a timeout) is sent again, with the same
/// id and sequence, until it is answered or [`with_retry_for`](Self::with_retry_for)
/// (30 s by default) has passed. The server stores each batch once and
/// answers a repeat with the offsets the batch got the first time, so a
/// batch is stored exactly once (docs/api.md says when a retry can still
/// duplicate one). An answer lost on a connection that stays open is
/// noticed only by a timeout: set one with [`with_timeout`](Self::with_timeout).
///
/// Requests in flight at once each use a producer id of their own (a
/// "lane"), so none waits for another. A request whose outcome is still
/// unknown when its retry time runs out fails with the last error, and its
/// producer id is never used again, so no later batch can be mistaken for
/// it.
///
/// ```no_run
/// # async fn demo() -> Result<(), minikafka_client::ClientError> {
/// use std::time::Duration;
/// use minikafka_client::{Producer, Record};
///
/// let producer = Producer::connect("127.0.0.1:9999", "orders")
///     .await?
///     .with_timeout(Duration::from_secs(5));
/// let offset = producer.send("one").await?;
/// let range = producer.send_batch(["two", "three"]).await?;
/// assert_eq!((range.first, range.last), (offset + 1, offset + 2));
/// let keyed = Record::new("four").with_key("order-4").with_header("source", "web");
/// assert_eq!(producer.send_record(keyed).await?, offset + 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Producer {
    sender: Sender,
    batching: BatchOptions,
    /// The queue of the task that batches sends, started by the first send
    /// (so a producer can be made outside a runtime).
    queue: Arc<OnceLock<mpsc::UnboundedSender<QueuedSend>>>,
}

/// The offsets a batch was stored at: `first..=last`, in the batch's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetRange {
    /// The offset of the batch's first message.
    pub first: u64,
    /// The offset of the batch's last message.
    pub last: u64,
}

impl Producer {
    pub(crate) fn new(client: Client, topic: String) -> Self {
        Self {
            sender: Sender::new(client, topic),
            batching: BatchOptions::default(),
            queue: Arc::default(),
        }
    }

    /// Connects to `address` and produces to `topic`.
    pub async fn connect(address: &str, topic: impl Into<String>) -> Result<Self, ClientError> {
        Ok(Client::connect(address).await?.producer(topic))
    }

    /// Coalesces concurrent sends as `options` say, instead of the default.
    pub fn with_batching(mut self, options: BatchOptions) -> Self {
        self.batching = options;
        self.restart_batching()
    }

    /// Fails each attempt that takes longer than `timeout` (a timed-out
    /// attempt of an idempotent producer is retried).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.sender.client = self.sender.client.with_timeout(timeout);
        self.restart_batching()
    }

    /// Retries a request whose outcome is unknown for up to `retry_for`
    /// from its first attempt, which bounds every attempt too (default
    /// 30 s; zero: one attempt). Only an idempotent producer retries.
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.sender.retry_for = retry_for;
        self.restart_batching()
    }

    /// With `false`, sends no producer id and does not retry: each request
    /// is one attempt, and a failed one may or may not have been stored
    /// (as with clients older than safe retries). On by default.
    pub fn with_idempotence(mut self, idempotent: bool) -> Self {
        self.sender.idempotent = idempotent;
        self.restart_batching()
    }

    /// A new batching task for the changed settings (the old one holds
    /// the old ones).
    fn restart_batching(mut self) -> Self {
        self.queue = Arc::default();
        self
    }

    /// The topic this producer appends to.
    pub fn topic(&self) -> &str {
        &self.sender.topic
    }

    /// Stores one message and returns its offset. Concurrent sends through
    /// this producer (or its clones) travel together in batched requests.
    pub async fn send(&self, payload: impl Into<Bytes>) -> Result<u64, ClientError> {
        self.send_record(Record::new(payload)).await
    }

    /// Stores one message with its key and headers and returns its offset;
    /// batched with concurrent sends as [`send`](Self::send) is.
    pub async fn send_record(&self, record: Record) -> Result<u64, ClientError> {
        let queue = self
            .queue
            .get_or_init(|| batcher::spawn(self.sender.clone(), self.batching));
        let (reply, answer) = oneshot::channel();
        queue
            .send(QueuedSend { record, reply })
            .map_err(|_| batching_ended())?;
        answer.await.map_err(|_| batching_ended())?
    }

    /// Stores every payload, in order and atomically (all or none), in one
    /// request, and returns the offsets they got. An empty batch fails with
    /// `InvalidArgument`.
    pub async fn send_batch<P: Into<Bytes>>(
        &self,
        payloads: impl IntoIterator<Item = P>,
    ) -> Result<OffsetRange, ClientError> {
        self.send_records(payloads.into_iter().map(Record::new))
            .await
    }

    /// Stores every record, with its key and headers, in order and
    /// atomically, in one request, and returns the offsets they got.
    pub async fn send_records(
        &self,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<OffsetRange, ClientError> {
        self.sender.send(records.into_iter().collect(), None).await
    }

    /// A conditional append: stores the records as
    /// [`send_records`](Self::send_records) does, but only if the topic's
    /// next offset is `expected_next_offset` (1 for a topic that does not
    /// exist yet). Otherwise nothing is stored and it fails with
    /// [`ClientError::NextOffsetMismatch`], which carries the actual next
    /// offset: optimistic concurrency, as for an event-sourced aggregate
    /// that must append after the events it read. A retry of a conditional
    /// append that was stored gets its offsets, not a mismatch.
    pub async fn send_records_expecting(
        &self,
        expected_next_offset: u64,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<OffsetRange, ClientError> {
        self.sender
            .send(records.into_iter().collect(), Some(expected_next_offset))
            .await
    }
}

/// The batching task is gone: only when the runtime that ran it shut down.
fn batching_ended() -> ClientError {
    ClientError::Status(tonic::Status::cancelled(
        "the producer's batching task ended",
    ))
}
