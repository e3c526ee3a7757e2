//! The file store's writer: every change to the log happens here, one
//! command group at a time, on the writer thread, or on a caller's thread
//! for the one kind of append that is as safe there
//! ([`Writer::append_here`]).
//!
//! Group commit: the thread takes every command queued while it was busy,
//! writes all their records, syncs each touched segment once, and only
//! then publishes the new records to readers and answers. While one sync
//! runs, the next group queues up, so throughput grows with concurrency
//! instead of paying one sync per request.
//!
//! - [`group`]: the writer's part of the shared group-commit loop.
//! - [`admin`]: creating, updating and deleting topics.
//! - [`append`]: appending a batch, and creating a topic for it.
//! - [`commit`]: syncing a group's writes and answering its appends.
//! - [`offsets`]: groups' offset commits, through the commit log.
//! - [`publish`]: showing what was written to readers.
//! - [`roll`]: sealing the active segment and starting the next.
//!
//! Retention is the [`retention`](super::retention) module's.

mod admin;
mod append;
mod commit;
mod group;
mod offsets;
mod publish;
mod roll;

pub(super) use self::admin::remove_tree;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use super::FileOptions;
use super::commits::CommitLog;
use super::disk::Disk;
use super::format::SegmentFormat;
use super::published::{SegmentView, Shared, Topic};
use super::recovery::Recovered;
use super::segment::IndexBuilder;
use crate::writer_thread::CommitRequest;
use crate::{ProducerTable, StoreError, Timestamp, TopicName};

/// The writer's own state of one topic: ahead of the published view by
/// whatever the current group wrote.
struct TopicWriter {
    topic: Arc<Topic>,
    /// The active segment as written (the view has it as published).
    active: SegmentView,
    index: IndexBuilder,
    /// Segments sealed since the last publish.
    newly_sealed: Vec<SegmentView>,
    /// Payload bytes written since the last publish.
    unpublished_bytes: u64,
    newest_timestamp: Timestamp,
    /// The timestamp of the first record written since the last publish:
    /// the topic's oldest once published, if it held none before.
    first_unpublished_timestamp: Option<Timestamp>,
    /// Whether readers know the topic yet (not until its first commit).
    published: bool,
    /// Why a sync of the topic's data failed, once one has: what was
    /// written may not be on disk, and no later write can be trusted to be
    /// either, so the topic takes no writes until a restart recovers it.
    stopped: Option<String>,
    /// The topic's producers and their latest batches, for safe retries:
    /// changed only with the batches written, saved in each sealed
    /// segment's index, rebuilt at start-up.
    producers: ProducerTable,
}

impl TopicWriter {
    /// Whether a batch of `encoded` bytes starts a new segment: when it
    /// would grow a segment holding records past `segment_bytes`, or the
    /// segment holds v1 records (one written before the upgrade: new
    /// records go on in a v2 segment).
    fn rolls_for(&self, encoded: u64, segment_bytes: u64) -> bool {
        let has_records = self.active.end > self.active.base;
        has_records
            && (self.active.format == SegmentFormat::V1
                || self.active.len + encoded > segment_bytes)
    }

    /// Stops the topic after a sync of its data failed with `error`, saying
    /// so in the log; the error to answer with.
    fn stop(&mut self, name: &TopicName, error: &std::io::Error) -> StoreError {
        tracing::error!(topic = %name, file = %self.active.path.display(), %error, "a sync failed: topic '{name}' takes no more writes until a restart; reads go on");
        let cause = error.to_string();
        self.stopped = Some(cause.clone());
        StoreError::TopicStopped {
            topic: name.clone(),
            cause,
        }
    }
}

/// The log's writing state: the writer thread's, lent to callers for
/// [`Writer::append_here`].
pub struct Writer {
    shared: Arc<Shared>,
    /// Where every change to the file system goes.
    disk: Arc<dyn Disk>,
    topics_dir: PathBuf,
    /// Where deleted topics' directories are moved before removal.
    deleted_dir: PathBuf,
    /// Tombstones made so far, which names the next one.
    tombstones: u64,
    options: FileOptions,
    /// Held for the writer's life: the root's lock.
    _lock: File,
    topics: BTreeMap<TopicName, TopicWriter>,
    /// Topics written to since the last sync.
    unsynced: BTreeSet<TopicName>,
    /// When the oldest unsynced write happened (interval mode).
    unsynced_since: Option<Instant>,
    /// Reused to encode each batch.
    buffer: Vec<u8>,
    /// Groups' commits, durable in the commit log.
    commits: CommitLog,
    /// Commits written in the current group, answered at its end.
    pending_commits: Vec<CommitRequest>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("topics_dir", &self.topics_dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// A writer for the recovered topics under `root`.
    pub fn new(
        shared: Arc<Shared>,
        disk: Arc<dyn Disk>,
        root: &std::path::Path,
        options: FileOptions,
        lock: File,
        recovered: Vec<(TopicName, Recovered)>,
        commits: CommitLog,
    ) -> Self {
        let topics = recovered
            .into_iter()
            .map(|(name, recovered)| {
                let view = recovered
                    .topic
                    .view
                    .read()
                    .unwrap_or_else(PoisonError::into_inner);
                let newest = view
                    .sealed
                    .iter()
                    .chain([&view.active])
                    .map(|s| s.newest_timestamp)
                    .max()
                    .unwrap_or_default();
                let writer = TopicWriter {
                    topic: Arc::clone(&recovered.topic),
                    active: view.active.clone(),
                    index: recovered.active_index.clone(),
                    newly_sealed: Vec::new(),
                    unpublished_bytes: 0,
                    newest_timestamp: newest,
                    first_unpublished_timestamp: None,
                    published: true,
                    stopped: None,
                    producers: recovered.producers,
                };
                drop(view);
                (name, writer)
            })
            .collect();
        Self {
            shared,
            disk,
            topics_dir: root.join(super::TOPICS_DIR),
            deleted_dir: root.join(super::DELETED_DIR),
            tombstones: 0,
            options,
            _lock: lock,
            topics,
            unsynced: BTreeSet::new(),
            unsynced_since: None,
            buffer: Vec::new(),
            commits,
            pending_commits: Vec::new(),
        }
    }

    /// Whether anything written is not yet synced.
    #[cfg(test)]
    pub fn has_unsynced_writes(&self) -> bool {
        !self.unsynced.is_empty()
    }
}
