//! [`Consumer`]: reads one topic from a position it keeps.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use minikafka_proto::v1;

use crate::client::system_time;
use crate::{Client, ClientError};

/// Where a consumer starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The earliest message the topic still holds.
    Earliest,
    /// This offset (a position saved from [`Consumer::position`]).
    Offset(u64),
}

/// One message read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its offset in the topic, from 1.
    pub offset: u64,
    /// When the server stored it.
    pub timestamp: SystemTime,
    /// The bytes the producer sent.
    pub payload: Bytes,
}

/// Messages that retention removed before this consumer read them:
/// offsets `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first offset missed.
    pub first: u64,
    /// The last offset missed.
    pub last: u64,
}

impl Gap {
    /// How many messages were missed.
    pub fn count(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// What one [`Consumer::poll`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    /// The messages, in offset order; empty when the consumer is caught up.
    pub messages: Vec<Message>,
    /// Set when retention removed messages this consumer had not read yet;
    /// the messages after the gap are still returned.
    pub gap: Option<Gap>,
}

/// Reads one topic, keeping its own position.
///
/// The server remembers nothing about consumers: save [`position`](Self::position)
/// wherever suits the application and start from it next time.
///
/// ```no_run
/// # async fn demo() -> Result<(), minikafka_client::ClientError> {
/// use minikafka_client::{Consumer, Position};
///
/// let mut consumer = Consumer::connect("127.0.0.1:9999", "orders", Position::Earliest).await?;
/// loop {
///     let polled = consumer.poll().await?;
///     if let Some(gap) = polled.gap {
///         eprintln!("retention removed {} unread messages", gap.count());
///     }
///     for message in &polled.messages {
///         println!("{}: {:?}", message.offset, message.payload);
///     }
///     if polled.messages.is_empty() {
///         tokio::time::sleep(std::time::Duration::from_secs(1)).await;
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Consumer {
    client: Client,
    topic: String,
    /// The next offset to read; 0 until the first poll when starting at the
    /// earliest, which the server resolves.
    position: u64,
    max_messages: u32,
    max_bytes: u32,
}

impl Consumer {
    pub(crate) fn new(client: Client, topic: String, from: Position) -> Self {
        let position = match from {
            Position::Earliest => 0,
            Position::Offset(offset) => offset,
        };
        Self {
            client,
            topic,
            position,
            max_messages: 0,
            max_bytes: 0,
        }
    }

    /// Connects to `address` and reads `topic` from `from`.
    pub async fn connect(
        address: &str,
        topic: impl Into<String>,
        from: Position,
    ) -> Result<Self, ClientError> {
        Ok(Client::connect(address).await?.consumer(topic, from))
    }

    /// Fails each call that takes longer than `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.with_timeout(timeout);
        self
    }

    /// Asks for at most `max_messages` messages and `max_bytes` payload
    /// bytes per poll (0: the server's default; the server also caps both).
    pub fn with_limits(mut self, max_messages: u32, max_bytes: u32) -> Self {
        self.max_messages = max_messages;
        self.max_bytes = max_bytes;
        self
    }

    /// The topic this consumer reads.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The offset the next poll reads from: save it to resume here later
    /// with [`Position::Offset`]. 0 means "the earliest" until the first poll.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Moves to `position` (0: the earliest retained).
    pub fn seek(&mut self, position: u64) {
        self.position = position;
    }

    /// Reads the next messages and moves past them. Returns at once, with
    /// no messages when there are none yet; a topic that does not exist yet
    /// fails with code `NotFound`.
    pub async fn poll(&mut self) -> Result<Polled, ClientError> {
        let request = v1::PollRequest {
            topic: self.topic.clone(),
            read_from: self.position,
            max_messages: self.max_messages,
            max_bytes: self.max_bytes,
            max_wait: None,
        };
        let reply = self
            .client
            .call(request, |mut grpc, request| async move {
                grpc.poll(request).await
            })
            .await?;
        let gap = (self.position != 0 && reply.earliest_offset > self.position).then(|| Gap {
            first: self.position,
            last: reply.earliest_offset - 1,
        });
        self.position = reply.new_read_from;
        let messages = reply
            .messages
            .into_iter()
            .map(|m| Message {
                offset: m.offset,
                timestamp: system_time(m.timestamp),
                payload: m.payload,
            })
            .collect();
        Ok(Polled { messages, gap })
    }
}
