//! The [`Store`] trait: the one contract between the server and storage.

use std::fmt;

use crate::{
    Batch, Creation, GroupName, OffsetCommit, OffsetRange, ReadLimits, ReadResult, RemovalReport,
    RetentionDefaults, SettingsChange, StoreError, Timestamp, TopicInfo, TopicName, TopicSettings,
    TopicWatch,
};
use async_trait::async_trait;

/// A place to keep topics of numbered messages.
///
/// Shared as `Arc<dyn Store>`; every method may be called concurrently.
/// The caller passes the time in (there is no hidden clock), so tests
/// control time. Every implementation passes the suite in
/// `minikafka_backends::conformance`, which is the executable form of the
/// rules below.
///
/// Rules for every topic:
/// - Offsets start at 1, are consecutive, never repeat and never go back,
///   even after every message expired or the store was reopened.
/// - Timestamps never decrease: a batch appended with a `now` earlier than
///   the topic's newest timestamp is stored with that newest timestamp.
/// - A failed call changes nothing.
#[async_trait]
pub trait Store: fmt::Debug + Send + Sync + 'static {
    /// Appends `batch.records` (payload, key and headers each, exactly), in
    /// order and atomically (all or none), to `topic` with timestamp `now`.
    /// Checked in this order, nothing stored on a failure: an empty batch
    /// fails with [`StoreError::EmptyBatch`]; a payload over the topic's own
    /// `max_message_bytes` (or what the store can hold) with
    /// [`StoreError::MessageTooLarge`]; a missing topic is created when
    /// `batch.create_topic`, and otherwise fails with
    /// [`StoreError::TopicNotFound`]; with `batch.producer`, the topic's
    /// [`ProducerTable`](crate::ProducerTable) decides: a batch it has
    /// stored is answered with its original offsets (once they are durable)
    /// and not stored again, one out of order fails with
    /// [`StoreError::SequenceOutOfOrder`]; with
    /// `batch.expected_next_offset`, a topic whose next offset (1 when it
    /// does not exist) differs fails with [`StoreError::NextOffsetMismatch`]
    /// and is not created. The producer's batch is recorded in the same
    /// atomic write as the records, so the table is rebuilt from what is
    /// stored after a reopen. Returns once the batch is as durable as the
    /// store is configured to make it.
    async fn append(
        &self,
        topic: &TopicName,
        batch: Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError>;

    /// Reads messages with offset >= `from` (0: the earliest held) in order,
    /// within `limits`. A `from` below the earliest held starts at the
    /// earliest; `from` equal to the next offset reads nothing; past it fails
    /// with [`StoreError::OffsetOutOfRange`]. Unknown topic:
    /// [`StoreError::TopicNotFound`].
    async fn read(
        &self,
        topic: &TopicName,
        from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, StoreError>;

    /// The offset a read from `time` starts at: the first message held whose
    /// timestamp is at or after `time`; the topic's next offset when no
    /// message held is that new; the earliest held when `time` is before all
    /// of them. Costs O(log n) in the messages held, like a read from an
    /// offset. Unknown topic: [`StoreError::TopicNotFound`].
    async fn offset_for_time(&self, topic: &TopicName, time: Timestamp) -> Result<u64, StoreError>;

    /// Records `commit` as `group`'s position in `topic`, replacing any
    /// earlier one (a lower offset is how a group rewinds), as durably as
    /// an append: concurrent commits share syncs with each other and with
    /// appends. An offset outside 1 to the topic's next offset fails with
    /// [`StoreError::CommitOutOfRange`]; unknown topic:
    /// [`StoreError::TopicNotFound`]. A reopened store holds every commit
    /// it acknowledged, and its start-up cost grows with the number of
    /// groups, not of commits ever made.
    async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        commit: OffsetCommit,
    ) -> Result<(), StoreError>;

    /// `group`'s commit in `topic`; `None` when it has none. Unknown topic:
    /// [`StoreError::TopicNotFound`].
    async fn fetch_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<OffsetCommit>, StoreError>;

    /// Up to `limit` group names sorting after `after` (from the first, for
    /// `None`), in name order. A group exists while it has a commit in some
    /// topic.
    async fn list_groups(
        &self,
        after: Option<&GroupName>,
        limit: usize,
    ) -> Result<Vec<GroupName>, StoreError>;

    /// Every commit of `group`, in topic name order. Unknown group:
    /// [`StoreError::GroupNotFound`].
    async fn describe_group(
        &self,
        group: &GroupName,
    ) -> Result<Vec<(TopicName, OffsetCommit)>, StoreError>;

    /// Removes `group`'s commits in every topic, durably; returns how many
    /// it had. Unknown group: [`StoreError::GroupNotFound`].
    async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError>;

    /// Creates `topic` with `settings`, durably. A topic that exists with
    /// equal settings answers [`Creation::AlreadyExisted`] (so a script can
    /// run twice); with other settings, [`StoreError::TopicExists`] naming
    /// the ones it has.
    async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError>;

    /// Changes the settings `change` names, durably before it returns, and
    /// returns the topic's settings after the change. Unknown topic:
    /// [`StoreError::TopicNotFound`].
    async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, StoreError>;

    /// Removes `topic` and every message in it, freeing their space,
    /// durably; returns how many messages it held. Its watches wake, and
    /// reads then fail with [`StoreError::TopicNotFound`]. Every group's
    /// commit in it goes too (a group left with none is gone). A topic created
    /// again under the name is new: its offsets start at 1. A crash part-way
    /// leaves the topic whole or gone, never half. Unknown topic:
    /// [`StoreError::TopicNotFound`].
    async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError>;

    /// The retention sweep. For each topic: messages stored before `now`
    /// minus its retention age (its own, else `defaults.age`; nothing for
    /// `Forever`) are removed, one stored exactly at that cutoff stays;
    /// then, if it has a `retention_bytes`, its oldest messages are removed
    /// until its `size_bytes` is within it (a store that removes whole
    /// segments, never the one written to, may leave it over). Removed
    /// messages are never returned again, and each topic keeps its next
    /// offset. Producers idle past `defaults.producer_expiry` are
    /// forgotten, and groups whose newest commit is older than `now` minus
    /// `defaults.group_retention` are removed, durably.
    async fn enforce_retention(
        &self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError>;

    /// Describes `topic`. Unknown topic: [`StoreError::TopicNotFound`].
    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError>;

    /// Describes up to `limit` topics whose names sort after `after` (from
    /// the first, for `None`), in name order: one page of a listing.
    /// Answered from metadata the store holds, reading no message data, so
    /// listing many topics costs no disk reads per topic.
    async fn list(
        &self,
        after: Option<&TopicName>,
        limit: usize,
    ) -> Result<Vec<TopicInfo>, StoreError>;

    /// Makes everything appended and committed so far durable, whatever the store's
    /// durability setting; called at shutdown.
    async fn sync(&self) -> Result<(), StoreError>;

    /// A watch that wakes once `topic` (which need not exist yet) has grown
    /// past what a read made after this call could have seen, or has been
    /// deleted. Make it before reading, then wait on it when the read found
    /// nothing: an append is announced only once it is readable.
    fn watch(&self, topic: &TopicName) -> TopicWatch;
}

/// Fails to compile if `Store` stops being object-safe.
const _: Option<&dyn Store> = None;

/// One page of a name-ordered map: up to `limit` entries after `after`.
/// What every store's [`Store::list`] pages its in-memory metadata with.
pub(crate) fn page<'a, V>(
    topics: &'a std::collections::BTreeMap<TopicName, V>,
    after: Option<&TopicName>,
    limit: usize,
) -> impl Iterator<Item = (&'a TopicName, &'a V)> {
    use std::ops::Bound;
    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
    topics.range((from, Bound::Unbounded)).take(limit)
}

/// What `create_topic` answers for a topic that exists with `existing`
/// settings when `wanted` were asked for: the same settings are no error,
/// so that a script may create its topics again.
pub(crate) fn create_existing(
    topic: &TopicName,
    existing: &TopicSettings,
    wanted: &TopicSettings,
) -> Result<Creation, StoreError> {
    if existing == wanted {
        Ok(Creation::AlreadyExisted)
    } else {
        Err(StoreError::TopicExists {
            topic: topic.clone(),
            settings: existing.clone(),
        })
    }
}
