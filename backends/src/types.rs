//! The values that flow through the [`Store`](crate::Store) trait.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::TopicName;

/// When a message was stored: nanoseconds since the Unix epoch.
///
/// A plain integer, so stores can persist and compare it cheaply; it covers
/// the years 1970 to 2554.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The timestamp `nanos` nanoseconds after the Unix epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The current wall-clock time. Stores never call this: the server
    /// passes the time in, so tests control it.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Converts a wall-clock time, clamping times before 1970 to the epoch
    /// and times after 2554 to the last representable instant.
    pub fn from_system_time(time: SystemTime) -> Self {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Self(nanos)
    }

    /// Converts back to a wall-clock time.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }

    /// This timestamp moved `age` into the past, stopping at the epoch: the
    /// retention cutoff for messages older than `age`.
    pub fn saturating_sub(self, age: Duration) -> Self {
        let age = u64::try_from(age.as_nanos()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(age))
    }
}

/// When a persistent store makes appended data durable
/// (`MINIKAFKA_FSYNC`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Before acknowledging each append; appends that arrive together share
    /// one sync (group commit).
    #[default]
    Always,
    /// Never explicitly: the operating system writes back when it chooses.
    /// A process crash loses nothing; a power cut can.
    Never,
    /// In the background, at most this far apart: a power cut can lose up to
    /// that much.
    Interval(Duration),
}

/// One stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its offset in its topic, from 1.
    pub offset: u64,
    /// When it was stored; never decreases within a topic.
    pub timestamp: Timestamp,
    /// The bytes the producer sent.
    pub payload: Bytes,
    /// Its key; empty when it has none.
    pub key: Bytes,
    /// Its headers, in the order the producer gave them.
    pub headers: Vec<Header>,
}

impl Message {
    /// The bytes it counts for in a topic's `size_bytes`, in retention by
    /// size and in a read's byte limit: see [`Record::size`].
    pub fn size(&self) -> usize {
        message_size(&self.payload, &self.key, &self.headers)
    }
}

/// One header of a message: a name and a value, as in Kafka. A name may
/// appear more than once in a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Non-empty UTF-8 (the server checks before a record reaches a store).
    pub name: String,
    /// Any bytes.
    pub value: Bytes,
}

/// One message to append: what the producer chose of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The bytes to store.
    pub payload: Bytes,
    /// Its key; empty for none.
    pub key: Bytes,
    /// Its headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// A record with only a payload, as the `payloads` field of a produce
    /// makes.
    pub fn from_payload(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            ..Self::default()
        }
    }

    /// The bytes it counts for: payload, key, and every header's name and
    /// value. Storage overhead is not counted, so every store agrees.
    pub fn size(&self) -> usize {
        message_size(&self.payload, &self.key, &self.headers)
    }
}

/// The one definition of a message's size, for [`Message`] and [`Record`].
fn message_size(payload: &Bytes, key: &Bytes, headers: &[Header]) -> usize {
    payload.len()
        + key.len()
        + headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>()
}

/// Which producer sent a batch, and its number among that producer's
/// batches to the topic: what makes a produce safe to retry (see
/// [`ProducerTable`](crate::ProducerTable)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProducerSequence {
    /// Chosen by the producer; never 0 (0 on the wire means "none").
    pub producer_id: u64,
    /// The batch's number: the previous batch's plus one.
    pub sequence: u64,
}

/// The offsets an appended batch received: `first..=last`, consecutive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetRange {
    /// The offset of the batch's first payload.
    pub first: u64,
    /// The offset of the batch's last payload.
    pub last: u64,
}

/// How much one read may return.
///
/// One message is always returned if any is available, however large, so a
/// message bigger than `max_bytes` can still be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// The most messages to return; 0 is treated as 1.
    pub max_messages: usize,
    /// The most payload bytes to return (but see above).
    pub max_bytes: usize,
}

/// What a read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// The messages, in offset order, within the read's limits.
    pub messages: Vec<Message>,
    /// The earliest offset the topic still holds (equal to `next_offset`
    /// when it holds none). A reader that asked for less than this lost the
    /// messages in between to retention.
    pub earliest_offset: u64,
    /// The offset the topic's next message will get.
    pub next_offset: u64,
}

/// The state of one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: TopicName,
    /// The earliest offset still held; equal to `next_offset` when empty.
    pub earliest_offset: u64,
    /// The offset the next message will get.
    pub next_offset: u64,
    /// How many messages are held: `next_offset - earliest_offset`.
    pub message_count: u64,
    /// The payload bytes held, without storage overhead.
    pub size_bytes: u64,
    /// The timestamp of the earliest message held; `None` when empty.
    pub oldest_timestamp: Option<Timestamp>,
    /// The topic's own settings (the server resolves the effective values,
    /// and where each comes from, from its own configuration).
    pub settings: TopicSettings,
}

/// How long a topic keeps messages by age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionAge {
    /// Messages stored longer ago than this are removed.
    MaxAge(Duration),
    /// Nothing is removed by age.
    Forever,
}

impl RetentionAge {
    /// The oldest timestamp a message may have at `now` and stay: `None`
    /// when nothing is removed by age. A message stored exactly at the
    /// cutoff stays.
    pub fn cutoff(self, now: Timestamp) -> Option<Timestamp> {
        match self {
            Self::MaxAge(age) => Some(now.saturating_sub(age)),
            Self::Forever => None,
        }
    }
}

/// The settings a topic has of its own; `None` follows the server's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicSettings {
    /// How long messages are kept by age.
    pub retention: Option<RetentionAge>,
    /// The most payload bytes the topic keeps; the oldest messages are
    /// removed past it. The server has no default: `None` means no limit.
    pub retention_bytes: Option<u64>,
    /// The largest payload the topic accepts (never above the server's).
    pub max_message_bytes: Option<u64>,
}

impl TopicSettings {
    /// Applies `change`: each setting it names is set, or returned to the
    /// server's default; the others are left as they are.
    pub fn apply(&mut self, change: &SettingsChange) {
        if let Some(retention) = change.retention {
            self.retention = retention;
        }
        if let Some(retention_bytes) = change.retention_bytes {
            self.retention_bytes = retention_bytes;
        }
        if let Some(max_message_bytes) = change.max_message_bytes {
            self.max_message_bytes = max_message_bytes;
        }
    }

    /// The payload in `records` over the topic's own largest message, if
    /// any, as [`StoreError::MessageTooLarge`](crate::StoreError::MessageTooLarge).
    pub fn check_sizes(&self, records: &[Record]) -> Result<(), crate::StoreError> {
        let Some(limit) = self.max_message_bytes else {
            return Ok(());
        };
        match records.iter().find(|r| r.payload.len() as u64 > limit) {
            Some(large) => Err(crate::StoreError::MessageTooLarge {
                size: large.payload.len(),
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            }),
            None => Ok(()),
        }
    }
}

/// A change to a topic's settings: `Some(v)` sets the setting to `v`
/// (`Some(None)` returns it to the server's default); `None` leaves it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsChange {
    /// The new retention by age, or `Some(None)` for the server's.
    pub retention: Option<Option<RetentionAge>>,
    /// The new size limit, or `Some(None)` for none.
    pub retention_bytes: Option<Option<u64>>,
    /// The new largest message, or `Some(None)` for the server's.
    pub max_message_bytes: Option<Option<u64>>,
}

/// What to append, and on what conditions.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The messages, in order.
    pub records: Vec<Record>,
    /// Whether an append to a missing topic creates it (otherwise it fails
    /// with [`StoreError::TopicNotFound`](crate::StoreError::TopicNotFound)).
    pub create_topic: bool,
    /// The producer and sequence, for a produce that is safe to retry.
    pub producer: Option<ProducerSequence>,
    /// Append only if the topic's next offset is this (1 for a topic that
    /// does not exist yet).
    pub expected_next_offset: Option<u64>,
}

impl Batch {
    /// A batch of `payloads` with no key or headers that creates its topic
    /// if it is missing, as a plain produce does.
    pub fn new(payloads: Vec<Bytes>) -> Self {
        Self::of_records(payloads.into_iter().map(Record::from_payload).collect())
    }

    /// [`StoreError::NextOffsetMismatch`](crate::StoreError::NextOffsetMismatch)
    /// unless the batch's `expected_next_offset` is `actual`, the topic's
    /// next offset (or the batch has no condition): the one check every
    /// store makes for a conditional append.
    pub fn check_next_offset(
        &self,
        topic: &TopicName,
        actual: u64,
    ) -> Result<(), crate::StoreError> {
        match self.expected_next_offset {
            Some(expected) if expected != actual => Err(crate::StoreError::NextOffsetMismatch {
                topic: topic.clone(),
                expected,
                actual,
            }),
            _ => Ok(()),
        }
    }

    /// A batch of `records` that creates its topic if it is missing, with
    /// no producer and no condition.
    pub fn of_records(records: Vec<Record>) -> Self {
        Self {
            records,
            create_topic: true,
            producer: None,
            expected_next_offset: None,
        }
    }
}

/// What the server's retention defaults are, for a sweep.
#[derive(Clone, Copy, Debug)]
pub struct RetentionDefaults {
    /// The retention by age of a topic without its own.
    pub age: RetentionAge,
    /// How long a producer that sends nothing to a topic is remembered
    /// there for retries (`MINIKAFKA_PRODUCER_EXPIRY`); its state is
    /// forgotten by the sweep after that.
    pub producer_expiry: RetentionAge,
    /// How long a group that commits nothing is kept
    /// (`MINIKAFKA_GROUP_RETENTION`): the sweep removes a group whose newest
    /// commit, in any topic, is older than this.
    pub group_retention: RetentionAge,
}

impl RetentionDefaults {
    /// Retention by `age`, with producers remembered as long and groups kept
    /// for [`DEFAULT_GROUP_RETENTION`]: the server's defaults when
    /// `MINIKAFKA_PRODUCER_EXPIRY` and `MINIKAFKA_GROUP_RETENTION` are not set.
    pub const fn by_age(age: RetentionAge) -> Self {
        Self {
            age,
            producer_expiry: age,
            group_retention: DEFAULT_GROUP_RETENTION,
        }
    }
}

/// Whether create_topic made the topic or found it already so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Creation {
    /// The topic is new.
    Created,
    /// The topic existed already, with the same settings.
    AlreadyExisted,
}

/// How long a group that commits nothing is kept by default: 7 days, as
/// Kafka's `offsets.retention.minutes`.
pub const DEFAULT_GROUP_RETENTION: RetentionAge =
    RetentionAge::MaxAge(Duration::from_secs(7 * 24 * 60 * 60));

/// The most bytes of metadata a commit may carry (the server refuses more).
pub const MAX_COMMIT_METADATA_BYTES: usize = 4096;

/// A group's committed position in one topic.
///
/// By Kafka's convention `offset` is the next offset the group will read:
/// a group that has processed offsets 1 to 10 commits 11.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetCommit {
    /// The next offset to read, from 1 to the topic's next offset.
    pub offset: u64,
    /// When the commit was made (the `now` passed to the store).
    pub time: Timestamp,
    /// What the application stored with it (at most
    /// [`MAX_COMMIT_METADATA_BYTES`]); empty when none.
    pub metadata: String,
}

/// What one retention pass removed, for the sweeper's log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemovalReport {
    /// Messages no longer readable after the pass.
    pub messages_removed: u64,
    /// Their payload bytes.
    pub bytes_removed: u64,
    /// Groups removed because they committed nothing for the group
    /// retention.
    pub groups_removed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_clamp() {
        let t = UNIX_EPOCH + Duration::new(1_795_000_000, 123_456_789);
        assert_eq!(Timestamp::from_system_time(t).to_system_time(), t);
        let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            Timestamp::from_system_time(before_epoch),
            Timestamp::from_nanos(0)
        );
        assert_eq!(
            Timestamp::from_nanos(5).saturating_sub(Duration::from_secs(1)),
            Timestamp::from_nanos(0)
        );
        assert_eq!(
            Timestamp::from_nanos(5_000).saturating_sub(Duration::from_nanos(1_000)),
            Timestamp::from_nanos(4_000)
        );
    }
}
