//! The [`Store`] trait: the one contract between the server and storage.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    OffsetRange, ReadLimits, ReadResult, RemovalReport, StoreError, Timestamp, TopicInfo,
    TopicName, TopicWatch,
};

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
    /// Appends `payloads`, in order and atomically (all or none), to `topic`
    /// with timestamp `now`, creating the topic on first use. Returns once
    /// the batch is as durable as the store is configured to make it.
    /// An empty batch fails with [`StoreError::EmptyBatch`].
    async fn append(
        &self,
        topic: &TopicName,
        payloads: Vec<Bytes>,
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

    /// Removes, from every topic, the messages with a timestamp before
    /// `cutoff`; a message stored exactly at `cutoff` stays. Removed messages
    /// are never returned again, and each topic keeps its next offset.
    async fn remove_older_than(&self, cutoff: Timestamp) -> Result<RemovalReport, StoreError>;

    /// Describes `topic`. Unknown topic: [`StoreError::TopicNotFound`].
    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError>;

    /// Describes every topic, sorted by name.
    async fn list(&self) -> Result<Vec<TopicInfo>, StoreError>;

    /// Makes everything appended so far durable, whatever the store's
    /// durability setting; called at shutdown.
    async fn sync(&self) -> Result<(), StoreError>;

    /// A watch that wakes once `topic` (which need not exist yet) has grown
    /// past what a read made after this call could have seen. Make it
    /// before reading, then wait on it when the read found nothing: an
    /// append is announced only once it is readable.
    fn watch(&self, topic: &TopicName) -> TopicWatch;
}

/// Fails to compile if `Store` stops being object-safe.
const _: Option<&dyn Store> = None;
