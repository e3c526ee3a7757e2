//! [`Producer`]: appends messages to one topic.

use std::time::Duration;

use bytes::Bytes;
use minikafka_proto::v1;

use crate::{Client, ClientError};

/// Appends messages to one topic.
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
        Self { client, topic }
    }

    /// Connects to `address` and produces to `topic`.
    pub async fn connect(address: &str, topic: impl Into<String>) -> Result<Self, ClientError> {
        Ok(Client::connect(address).await?.producer(topic))
    }

    /// Fails each call that takes longer than `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.with_timeout(timeout);
        self
    }

    /// The topic this producer appends to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Stores one message and returns its offset.
    pub async fn send(&self, payload: impl Into<Bytes>) -> Result<u64, ClientError> {
        Ok(self.send_batch([payload]).await?.first)
    }

    /// Stores every payload, in order and atomically (all or none), and
    /// returns the offsets they got. An empty batch fails with
    /// `InvalidArgument`.
    pub async fn send_batch<P: Into<Bytes>>(
        &self,
        payloads: impl IntoIterator<Item = P>,
    ) -> Result<OffsetRange, ClientError> {
        let request = v1::ProduceRequest {
            topic: self.topic.clone(),
            payloads: payloads.into_iter().map(Into::into).collect(),
        };
        let reply = self
            .client
            .call(request, |mut grpc, request| async move {
                grpc.produce(request).await
            })
            .await?;
        Ok(OffsetRange {
            first: reply.first_offset,
            last: reply.last_offset,
        })
    }
}
