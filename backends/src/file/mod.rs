//! [`FileStore`]: an append-only segment log on the file system.
//!
//! # Layout on disk (docs/storage.md has the byte layout)
//! ```text
//! ROOT/.lock                                held while a store has ROOT open
//! ROOT/topics/<topic>/00000000000000000001.log    segments, named by first offset
//! ROOT/topics/<topic>/00000000000000000001.index  sparse index of a sealed segment
//! ROOT/topics/<topic>/start                       first readable offset (retention)
//! ROOT/topics/<topic>/settings                    the topic's own settings, if any
//! ROOT/deleted/<n>/                               a deleted topic, until it is removed
//! ROOT/groups/commits.log                         groups' committed offsets
//! ```
//!
//! # Who does what
//! - One writer thread ([`writer`]) does every roll, retention pass and
//!   sync, and every append that must wait for a sync. It takes all the
//!   commands queued while it was busy as one group, writes them, syncs
//!   each touched file once (group commit), then publishes the new data to
//!   readers and answers. An append that needs no sync, no roll and no
//!   more than a small write into the page cache is done by the caller
//!   instead, when the writer is free ([`writer::Writer::append_here`]);
//!   nothing that can block for long runs on the async runtime's threads.
//! - Reads ([`read`]) run on tokio's blocking pool against the published
//!   view ([`published`]), which holds only data as durable as configured:
//!   with `Durability::Always` a reader never sees a message a power cut
//!   could take back, so an offset once seen is never handed out again.
//! - [`retention`] moves a topic's start and deletes expired segments, on
//!   the writer thread.
//! - [`recovery`] opens each topic at start-up; [`verify`] checks a data
//!   directory offline.
//! - [`handles`] keeps a bounded number of segment files open, so the
//!   number of topics is bounded by the disk, not the open-file limit.
//! - [`segment`] creates segment files and reads and indexes their
//!   records; [`format`] is their byte layout; every change to the file
//!   system goes through [`disk`], the fault-injection seam.

mod commits;
mod disk;
mod format;
mod handles;
mod published;
mod read;
mod recovery;
mod retention;
mod segment;
mod verify;
mod writer;

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;

pub use self::verify::{DamagedRange, VerifyReport, verify};

pub(crate) use self::format::{DELETED_DIR, TOPICS_DIR};

use self::disk::{Disk, RealDisk};
use self::handles::FileCache;
use self::published::{Shared, Topic};
use self::read::{offset_for_time_blocking, read_blocking};
use self::writer::Writer;
use crate::writer_thread::{self, Command, WriterThread};
use crate::{
    AppendNotifier, Batch, Creation, Durability, GroupName, OffsetCommit, OffsetRange, ReadLimits,
    ReadResult, RemovalReport, RetentionDefaults, SettingsChange, Store, StoreError, Timestamp,
    TopicInfo, TopicName, TopicSettings, TopicWatch,
};

/// How many sealed segments' indexes stay in memory for reads.
const CACHED_INDEXES: usize = 64;

/// What to do about damage found in a sealed segment at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Recovery {
    /// Refuse to open, naming the file and position (`MINIKAFKA_RECOVERY=strict`).
    #[default]
    Strict,
    /// Cut the topic's log at the damage, dropping everything after it
    /// (`MINIKAFKA_RECOVERY=truncate`).
    Truncate,
}

/// How a [`FileStore`] behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// When appends are made durable.
    pub durability: Durability,
    /// A segment is sealed and a new one started once it would grow past
    /// this many bytes (`MINIKAFKA_SEGMENT_BYTES`).
    pub segment_bytes: u64,
    /// What to do about damage in a sealed segment.
    pub recovery: Recovery,
    /// The most segment files kept open at once, across all topics: the
    /// least recently used are closed past it (and opened again when next
    /// needed), so the number of topics is bounded by disk space, not by
    /// the open-file limit. Reads and writes in flight may hold a few more.
    pub open_files: usize,
    /// The most producers remembered per topic for safe retries
    /// (`MINIKAFKA_MAX_PRODUCERS`): see [`ProducerTable`](crate::ProducerTable).
    pub max_producers: usize,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Always,
            segment_bytes: 64 * 1024 * 1024,
            recovery: Recovery::Strict,
            open_files: 256,
            max_producers: crate::producers::DEFAULT_MAX_PRODUCERS,
        }
    }
}

/// The segment-log store. See the module documentation.
#[derive(Debug)]
pub struct FileStore {
    shared: Arc<Shared>,
    /// The log's writing state, shared with the writer thread.
    writer: Arc<Mutex<Writer>>,
    thread: WriterThread,
}

impl FileStore {
    /// Opens (creating if needed) the store in `root`, recovering every
    /// topic. Fails if another store has `root` open, or on damage that
    /// `options.recovery` does not allow cutting away.
    pub fn open(root: impl AsRef<Path>, options: FileOptions) -> Result<Self, StoreError> {
        Self::open_on(Arc::new(RealDisk), root.as_ref(), options)
    }

    /// [`FileStore::open`], writing through `disk` (the fault-injection seam).
    fn open_on(disk: Arc<dyn Disk>, root: &Path, options: FileOptions) -> Result<Self, StoreError> {
        let topics_dir = root.join(TOPICS_DIR);
        disk.create_dir_all(&topics_dir)
            .map_err(|e| StoreError::io(format!("creating {}", topics_dir.display()), e))?;
        let lock = crate::lock::lock_root(root)?;
        let deleted_dir = root.join(DELETED_DIR);
        disk.create_dir_all(&deleted_dir)
            .map_err(|e| StoreError::io(format!("creating {}", deleted_dir.display()), e))?;
        remove_tombstones(&*disk, &deleted_dir)?;
        disk::sync_dir(&*disk, root)?;

        let files = FileCache::new(options.open_files);
        let mut recovered = Vec::new();
        let entries = std::fs::read_dir(&topics_dir)
            .map_err(|e| StoreError::io(format!("listing {}", topics_dir.display()), e))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| StoreError::io(format!("listing {}", topics_dir.display()), e))?;
            let dir = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                tracing::warn!(path = %dir.display(), "ignoring a file among the topic directories");
                continue;
            }
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| TopicName::new(n).ok())
            else {
                tracing::warn!(path = %dir.display(), "ignoring an entry that is not a topic directory");
                continue;
            };
            if let Some(topic) = recovery::open_topic(
                &*disk,
                &files,
                &dir,
                options.recovery,
                options.max_producers,
            )? {
                recovered.push((name, topic));
            }
        }
        let (commits, groups) = commits::CommitLog::open(&*disk, root, options.recovery, |t| {
            recovered.iter().any(|(name, _)| name == t)
        })?;
        let shared = Arc::new(Shared {
            groups: RwLock::new(groups),
            files,
            notifier: AppendNotifier::new(),
            topics: RwLock::new(
                recovered
                    .iter()
                    .map(|(name, r)| (name.clone(), Arc::clone(&r.topic)))
                    .collect(),
            ),
            index_cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(CACHED_INDEXES).unwrap_or(NonZeroUsize::MIN),
            )),
        });
        let writer = Writer::new(
            Arc::clone(&shared),
            disk,
            root,
            options,
            lock,
            recovered,
            commits,
        );
        let writer = Arc::new(Mutex::new(writer));
        let thread = {
            let writer = Arc::clone(&writer);
            WriterThread::spawn("mkfk-file-writer", move |commands| {
                writer_thread::run(&writer, &commands)
            })?
        };
        Ok(Self {
            shared,
            writer,
            thread,
        })
    }

    /// Every group's durable commits, for reading.
    fn groups(&self) -> std::sync::RwLockReadGuard<'_, crate::GroupTable> {
        self.shared
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn topic(&self, name: &TopicName) -> Result<Arc<Topic>, StoreError> {
        let topics = self
            .shared
            .topics
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        topics
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::TopicNotFound(name.clone()))
    }
}

/// Describes a topic from its published view and settings, reading no
/// message data.
fn describe_topic(name: &TopicName, topic: &Topic) -> TopicInfo {
    let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
    let (start, next) = (view.start_offset, view.next_offset());
    TopicInfo {
        name: name.clone(),
        earliest_offset: start,
        next_offset: next,
        message_count: next - start,
        size_bytes: view.size_bytes,
        oldest_timestamp: view.oldest_timestamp,
        settings: topic
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone(),
    }
}

/// Removes what a crash left of deleted topics (each already out of the
/// topic namespace), and makes that durable. One that cannot be removed
/// is left, with a warning, for the next start-up: it holds no topic, so
/// it keeps nothing from working.
fn remove_tombstones(disk: &dyn Disk, deleted_dir: &Path) -> Result<(), StoreError> {
    let listing = |e| StoreError::io(format!("listing {}", deleted_dir.display()), e);
    let mut removed = false;
    for entry in std::fs::read_dir(deleted_dir).map_err(listing)? {
        let path = entry.map_err(listing)?.path();
        tracing::info!(dir = %path.display(), "removing a topic whose delete a stop interrupted");
        match writer::remove_tree(disk, &path) {
            Ok(()) => removed = true,
            Err(error) => {
                tracing::warn!(dir = %path.display(), %error, "could not remove a deleted topic's files; the next start-up tries again");
            }
        }
    }
    if removed {
        disk::sync_dir(disk, deleted_dir)?;
    }
    Ok(())
}

#[async_trait]
impl Store for FileStore {
    async fn append(
        &self,
        topic: &TopicName,
        batch: Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        if let Some(large) = batch
            .records
            .iter()
            .find(|r| r.payload.len() > format::MAX_PAYLOAD_LEN)
        {
            return Err(StoreError::MessageTooLarge {
                size: large.payload.len(),
                limit: format::MAX_PAYLOAD_LEN,
            });
        }
        // A record's key and headers share its length field with the
        // payload: together they must fit it too.
        let producer = batch.producer.is_some();
        if let Some(large) = batch
            .records
            .iter()
            .find(|r| format::body_len(r, producer) > format::MAX_PAYLOAD_LEN)
        {
            return Err(StoreError::MessageTooLarge {
                size: large.size(),
                limit: format::MAX_PAYLOAD_LEN,
            });
        }
        if batch.records.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        // Skipping the hand-off to the writer thread and back (two thread
        // wake-ups) is most of a lone append's cost when it needs no sync;
        // a writer busy with a group, a roll or retention is not waited for.
        if let Ok(mut writer) = self.writer.try_lock()
            && let Some(appended) = writer.append_here(topic, &batch, now)
        {
            return appended;
        }
        self.thread.append(topic, batch, now).await
    }

    async fn read(
        &self,
        topic: &TopicName,
        from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, StoreError> {
        let state = self.topic(topic)?;
        let (shared, name) = (Arc::clone(&self.shared), topic.clone());
        blocking(move || read_blocking(&shared, &name, &state, from, limits)).await
    }

    async fn offset_for_time(&self, topic: &TopicName, time: Timestamp) -> Result<u64, StoreError> {
        let state = self.topic(topic)?;
        let (shared, name) = (Arc::clone(&self.shared), topic.clone());
        blocking(move || offset_for_time_blocking(&shared, &name, &state, time)).await
    }

    async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        commit: OffsetCommit,
    ) -> Result<(), StoreError> {
        self.thread.commit_offset(group, topic, commit).await
    }

    async fn fetch_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<OffsetCommit>, StoreError> {
        self.topic(topic)?;
        Ok(self.groups().fetch(group, topic).cloned())
    }

    async fn list_groups(
        &self,
        after: Option<&GroupName>,
        limit: usize,
    ) -> Result<Vec<GroupName>, StoreError> {
        Ok(self.groups().list(after, limit))
    }

    async fn describe_group(
        &self,
        group: &GroupName,
    ) -> Result<Vec<(TopicName, OffsetCommit)>, StoreError> {
        self.groups()
            .describe(group)
            .ok_or_else(|| StoreError::GroupNotFound(group.clone()))
    }

    async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError> {
        self.thread.delete_group(group).await
    }

    async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        self.thread.create_topic(topic, settings).await
    }

    async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        self.thread.update_topic(topic, change).await
    }

    async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError> {
        self.thread.delete_topic(topic).await
    }

    async fn enforce_retention(
        &self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        self.thread.enforce_retention(now, defaults).await
    }

    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
        let state = self.topic(topic)?;
        Ok(describe_topic(topic, &state))
    }

    async fn list(
        &self,
        after: Option<&TopicName>,
        limit: usize,
    ) -> Result<Vec<TopicInfo>, StoreError> {
        let topics = self
            .shared
            .topics
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(crate::store::page(&topics, after, limit)
            .map(|(name, topic)| describe_topic(name, topic))
            .collect())
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.thread.call(|reply| Command::Sync { reply }).await
    }

    fn watch(&self, topic: &TopicName) -> TopicWatch {
        self.shared.notifier.watch(topic)
    }
}

/// Runs blocking file I/O on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        StoreError::io(
            "a file store read task failed",
            std::io::Error::other(e.to_string()),
        )
    })?
}

#[cfg(test)]
mod damage;
#[cfg(test)]
mod disk_full;
#[cfg(test)]
mod edge_cases;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod management;
#[cfg(test)]
mod safe_retries;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upgrade;
