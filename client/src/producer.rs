//! [`Producer`]: appends messages to one topic.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::batcher::{self, BatchOptions, QueuedSend};
use crate::{Client, ClientError};

/// Appends messages to one topic.
///
/// Share one `Producer` (clone it: clones share its connection and its
/// batching) among many tasks: concurrent [`send`](Self::send)s are
/// coalesced into batched requests (see [`BatchOptions`]), each caller
/// still getting its own offset, and a lone send is never held back.
/// Concurrent sends are not ordered relative to each other; a task's own
/// awaited sends are stored in the order it makes them.
///
/// ```no_run
/// # async fn demo() -> Result<(), minikafka_client::ClientError> {
/// use std::time::Duration;
/// use minikafka_client::Producer;
///
/// let producer = Producer::connect("127.0.0.1:9999", "orders")
///     .await?
///     .with_timeout(Duration::from_secs(5));
/// let offset = producer.send("one").await?;
/// let range = producer.send_batch(["two", "three"]).await?;
/// assert_eq!((range.first, range.last), (offset + 1, offset + 2));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Producer {
    client: Client,
    topic: String,
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
            client,
            topic,
            batching: BatchOptions::default(),
            queue: Arc::default(),
        }
    }

    /// Coalesces concurrent sends as `options` say, instead of the default.
    pub fn with_batching(mut self, options: BatchOptions) -> Self {
        self.batching = options;
        self.queue = Arc::default();
        self
    }

    /// Connects to `address` and produces to `topic`.
    pub async fn connect(address: &str, topic: impl Into<String>) -> Result<Self, ClientError> {
        Ok(Client::connect(address).await?.producer(topic))
    }

    /// Fails each call that takes longer than `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.with_timeout(timeout);
        self.queue = Arc::default();
        self
    }

    /// The topic this producer appends to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Stores one message and returns its offset. Concurrent sends through
    /// this producer (or its clones) travel together in batched requests.
    pub async fn send(&self, payload: impl Into<Bytes>) -> Result<u64, ClientError> {
        let queue = self
            .queue
            .get_or_init(|| batcher::spawn(self.client.clone(), self.topic.clone(), self.batching));
        let (reply, answer) = oneshot::channel();
        let queued = QueuedSend {
            payload: payload.into(),
            reply,
        };
        queue.send(queued).map_err(|_| batching_ended())?;
        answer.await.map_err(|_| batching_ended())?
    }

    /// Stores every payload, in order and atomically (all or none), in one
    /// request, and returns the offsets they got. An empty batch fails with
    /// `InvalidArgument`.
    pub async fn send_batch<P: Into<Bytes>>(
        &self,
        payloads: impl IntoIterator<Item = P>,
    ) -> Result<OffsetRange, ClientError> {
        self.client
            .produce(
                self.topic.clone(),
                payloads.into_iter().map(Into::into).collect(),
            )
            .await
    }
}

/// The batching task is gone: only when the runtime that ran it shut down.
fn batching_ended() -> ClientError {
    ClientError::Status(tonic::Status::cancelled(
        "the producer's batching task ended",
    ))
}
