//! [`Consumer`]: reads one topic from a position it keeps.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use minikafka_proto::v1;

use crate::client::system_time;
use crate::record::{self, Header};
use crate::subscription::MAX_BACKOFF;
use crate::{Client, ClientError, Subscription};

/// Where a consumer starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The earliest message the topic still holds.
    Earliest,
    /// This offset (a position saved from [`Consumer::position`]).
    Offset(u64),
    /// After the last message stored when reading starts: only messages
    /// stored from then on.
    End,
    /// The first message stored at or after this time.
    Time(SystemTime),
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
    /// Its key; empty when it has none.
    pub key: Bytes,
    /// Its headers, in the order the producer gave them.
    pub headers: Vec<Header>,
}

impl Message {
    /// A message as the server sent it.
    pub(crate) fn from_proto(m: v1::Message) -> Self {
        Self {
            offset: m.offset,
            timestamp: system_time(m.timestamp),
            payload: m.payload,
            key: m.key,
            headers: record::headers(m.headers),
        }
    }
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
/// Save [`position`](Self::position) wherever suits the application and
/// start from it next time, or let the server keep it for a group:
/// [`group`](Self::group) starts at the group's committed position, and
/// [`commit`](Self::commit) (or [auto-commit](Self::with_auto_commit))
/// stores the position after the messages already returned.
///
/// ```no_run
/// # async fn demo() -> Result<(), minikafka_client::ClientError> {
/// use std::time::Duration;
/// use minikafka_client::{Consumer, Position};
///
/// // Resumes where "billing" left off; the earliest message if it never committed.
/// let mut consumer = Consumer::connect("127.0.0.1:9999", "orders", Position::Earliest)
///     .await?
///     .group("billing");
/// let polled = consumer.poll(Some(Duration::from_secs(10))).await?;
/// for message in &polled.messages {
///     println!("{}: {:?}", message.offset, message.payload);
/// }
/// consumer.commit().await?; // the next poll after a restart starts after these
/// # Ok(()) }
/// ```
///
/// ```no_run
/// # async fn demo() -> Result<(), minikafka_client::ClientError> {
/// use std::time::Duration;
/// use minikafka_client::{Consumer, Position};
///
/// let mut consumer = Consumer::connect("127.0.0.1:9999", "orders", Position::Earliest).await?;
/// loop {
///     // Waits up to 10 s for a message: no busy polling.
///     let polled = consumer.poll(Some(Duration::from_secs(10))).await?;
///     if let Some(gap) = polled.gap {
///         eprintln!("retention removed {} unread messages", gap.count());
///     }
///     for message in &polled.messages {
///         println!("{}: {:?}", message.offset, message.payload);
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
    /// Whether to start at the end (until the position is known).
    from_end: bool,
    max_messages: u32,
    max_bytes: u32,
    /// The longest wait between a stream's attempts to resubscribe.
    max_backoff: Duration,
    /// Where the first read starts when that is the server's to resolve
    /// (a time, a group's position); sent while `position` is 0.
    start: Option<v1::StartPosition>,
    /// The group this consumer commits for.
    group: Option<String>,
    /// Commit on this interval (checked at each poll) and on close.
    auto_commit: Option<Duration>,
    /// The position last committed, and when.
    committed: Option<(u64, Instant)>,
}

impl Consumer {
    pub(crate) fn new(client: Client, topic: String, from: Position) -> Self {
        let (position, from_end) = match from {
            Position::Earliest | Position::Time(_) => (0, false),
            Position::Offset(offset) => (offset, false),
            Position::End => (0, true),
        };
        let start = match from {
            Position::Time(time) => Some(v1::start_position::Position::Time(
                crate::groups::timestamp(time),
            )),
            _ => None,
        };
        Self {
            client,
            topic,
            position,
            from_end,
            max_messages: 0,
            max_bytes: 0,
            max_backoff: MAX_BACKOFF,
            start: start.map(|position| v1::StartPosition {
                position: Some(position),
            }),
            group: None,
            auto_commit: None,
            committed: None,
        }
    }

    /// Reads and commits as `group`: the first read starts at the group's
    /// committed position; where the group has none, at the end if this
    /// consumer was made to start at [`Position::End`], else at the
    /// earliest. Consumers that share a group share one position, and the
    /// last commit wins.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        let group = group.into();
        let no_commit = if self.from_end {
            v1::NoCommit::End
        } else {
            v1::NoCommit::Earliest
        };
        self.start = Some(v1::StartPosition {
            position: Some(v1::start_position::Position::Group(v1::GroupStart {
                group: group.clone(),
                no_commit: no_commit as i32,
            })),
        });
        self.position = 0;
        self.from_end = false;
        self.group = Some(group);
        self
    }

    /// Commits the position every `interval` (when a poll finds it due)
    /// and on [`close`](Self::close). Only the position after messages
    /// already returned by a poll is committed, so delivery is
    /// at-least-once: messages returned but not processed before a crash
    /// are read again, none is skipped.
    pub fn with_auto_commit(mut self, interval: Duration) -> Self {
        self.auto_commit = Some(interval);
        self
    }

    /// Commits this consumer's position for its group: the next poll
    /// after a restart starts after every message returned so far. Does
    /// nothing before the first message; fails with
    /// [`ClientError::NoGroup`] without a group.
    pub async fn commit(&mut self) -> Result<(), ClientError> {
        let group = self.group.as_deref().ok_or(ClientError::NoGroup)?;
        if self.position == 0 || self.committed.is_some_and(|(at, _)| at == self.position) {
            return Ok(());
        }
        self.client
            .commit_offset(group, &self.topic, self.position, None)
            .await?;
        self.committed = Some((self.position, Instant::now()));
        Ok(())
    }

    /// Ends the consumer, committing its position first when auto-commit
    /// is on.
    pub async fn close(mut self) -> Result<(), ClientError> {
        if self.auto_commit.is_some() {
            self.commit().await?;
        }
        Ok(())
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

    /// Waits at most `max_backoff` between a [`stream`](Self::stream)'s
    /// attempts to resubscribe after transient failures (default 5 s).
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// The client this consumer calls through, for other calls on the same
    /// connection.
    pub fn client(&self) -> &Client {
        &self.client
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

    /// Reads the next messages and moves past them. With no `wait`, returns
    /// at once, with no messages when there are none yet, and a topic that
    /// does not exist yet fails with code `NotFound`. With a `wait`, the
    /// server holds the call until a message arrives (or the topic is
    /// created), up to the wait (the server caps it at 30 s); the client's
    /// timeout, if set, counts from the end of the wait.
    pub async fn poll(&mut self, wait: Option<Duration>) -> Result<Polled, ClientError> {
        if let Some(interval) = self.auto_commit
            && self
                .committed
                .is_none_or(|(_, at)| at.elapsed() >= interval)
        {
            self.commit().await?;
        }
        if self.from_end {
            self.position = match self.client.describe_topic(&self.topic).await {
                Ok(info) => info.next_offset,
                Err(error) if error.code() == tonic::Code::NotFound => 1,
                Err(error) => return Err(error),
            };
            self.from_end = false;
        }
        let wait = wait.unwrap_or_default();
        let request = v1::PollRequest {
            topic: self.topic.clone(),
            read_from: self.position,
            max_messages: self.max_messages,
            max_bytes: self.max_bytes,
            max_wait: (!wait.is_zero()).then(|| prost_types::Duration {
                seconds: wait.as_secs() as i64,
                nanos: wait.subsec_nanos() as i32,
            }),
            start: if self.position == 0 {
                self.start.clone()
            } else {
                None
            },
        };
        let reply = self
            .client
            .call_waiting(request, wait, |mut grpc, request| async move {
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
            .map(Message::from_proto)
            .collect();
        Ok(Polled { messages, gap })
    }

    /// Follows the topic: a stream of its messages from this consumer's
    /// position, pushed by the server as they are stored, resuming by itself
    /// after transient failures. See [`Subscription`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), minikafka_client::ClientError> {
    /// use futures::StreamExt;
    /// use minikafka_client::{Consumer, Position};
    ///
    /// let consumer = Consumer::connect("127.0.0.1:9999", "orders", Position::End).await?;
    /// let mut messages = consumer.stream();
    /// while let Some(message) = messages.next().await {
    ///     let message = message?;
    ///     println!("{}: {:?}", message.offset, message.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(&self) -> Subscription {
        Subscription::new(
            self.client.clone(),
            self.topic.clone(),
            self.position,
            self.from_end,
            self.start.clone(),
            self.max_messages,
            self.max_backoff,
        )
    }
}
