//! [`FileStore`]: an append-only segment log on the file system.
//!
//! # Layout on disk (docs/storage.md has the byte layout)
//! ```text
//! ROOT/.lock                                held while a store has ROOT open
//! ROOT/topics/<topic>/00000000000000000001.log    segments, named by first offset
//! ROOT/topics/<topic>/00000000000000000001.index  sparse index of a sealed segment
//! ROOT/topics/<topic>/start                       first readable offset (retention)
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
//! - Reads run on tokio's blocking pool against the published view
//!   ([`topic`]), which holds only data as durable as configured: with
//!   `Durability::Always` a reader never sees a message a power cut could
//!   take back, so an offset once seen is never handed out again.
//! - [`recovery`] opens each topic at start-up.

mod disk;
mod format;
mod recovery;
mod segment;
mod topic;
mod writer;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use bytes::Bytes;

use self::disk::{Disk, RealDisk};
use self::format::SEGMENT_HEADER_LEN;
use self::segment::RecordCursor;
use self::topic::{Topic, index_lookup};
use self::writer::Writer;
use crate::writer_thread::{Command, WriterThread};
use crate::{
    AppendNotifier, Durability, Message, OffsetRange, ReadLimits, ReadResult, RemovalReport, Store,
    StoreError, Timestamp, TopicInfo, TopicName, TopicWatch,
};

/// The name of the file holding a topic's first readable offset.
const START_FILE: &str = "start";
/// The directory under the root that holds one directory per topic.
pub(crate) const TOPICS_DIR: &str = "topics";
/// An index entry is added at least this many bytes apart, so a read
/// starts at most this far before its first record.
const INDEX_INTERVAL: u64 = 4096;
/// How much a recovery or retention scan reads at a time.
const SCAN_CHUNK: usize = 256 * 1024;
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
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Always,
            segment_bytes: 64 * 1024 * 1024,
            recovery: Recovery::Strict,
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

/// A sealed segment's sparse index: (offset, position) pairs, ascending.
type IndexEntries = Arc<Vec<(u64, u64)>>;

/// What readers and the writer share.
#[derive(Debug)]
struct Shared {
    /// Every published topic.
    topics: RwLock<BTreeMap<TopicName, Arc<Topic>>>,
    /// Wakes readers waiting for appends; the writer announces each
    /// publish.
    notifier: AppendNotifier,
    /// Recently used indexes of sealed segments, by segment path.
    index_cache: Mutex<lru::LruCache<PathBuf, IndexEntries>>,
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
        fs::create_dir_all(&topics_dir)
            .map_err(|e| StoreError::io(format!("creating {}", topics_dir.display()), e))?;
        let lock = crate::lock::lock_root(root)?;
        sync_dir(root)?;

        let mut recovered = Vec::new();
        let entries = fs::read_dir(&topics_dir)
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
            if let Some(topic) = recovery::open_topic(&*disk, &dir, options.recovery)? {
                recovered.push((name, topic));
            }
        }
        let shared = Arc::new(Shared {
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
            topics_dir,
            options,
            lock,
            recovered,
        );
        let writer = Arc::new(Mutex::new(writer));
        let thread = {
            let writer = Arc::clone(&writer);
            WriterThread::spawn("mkfk-file-writer", move |commands| {
                writer::run(&writer, commands)
            })?
        };
        Ok(Self {
            shared,
            writer,
            thread,
        })
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

    async fn describe_topic(
        &self,
        name: TopicName,
        topic: Arc<Topic>,
    ) -> Result<TopicInfo, StoreError> {
        let shared = Arc::clone(&self.shared);
        blocking(move || {
            let (start, next, size_bytes) = {
                let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
                (view.start_offset, view.next_offset(), view.size_bytes)
            };
            let oldest = if start < next {
                let first = read_blocking(
                    &shared,
                    &name,
                    &topic,
                    start,
                    ReadLimits {
                        max_messages: 1,
                        max_bytes: 0,
                    },
                )?;
                first.messages.first().map(|m| m.timestamp)
            } else {
                None
            };
            Ok(TopicInfo {
                name,
                earliest_offset: start,
                next_offset: next,
                message_count: next - start,
                size_bytes,
                oldest_timestamp: oldest,
            })
        })
        .await
    }
}

#[async_trait]
impl Store for FileStore {
    async fn append(
        &self,
        topic: &TopicName,
        payloads: Vec<Bytes>,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        if let Some(large) = payloads.iter().find(|p| p.len() > format::MAX_PAYLOAD_LEN) {
            return Err(StoreError::io(
                format!(
                    "a payload of {} bytes is over the file store's record limit",
                    large.len()
                ),
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            ));
        }
        if payloads.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        // Skipping the hand-off to the writer thread and back (two thread
        // wake-ups) is most of a lone append's cost when it needs no sync;
        // a writer busy with a group, a roll or retention is not waited for.
        if let Ok(mut writer) = self.writer.try_lock()
            && let Some(appended) = writer.append_here(topic, &payloads, now)
        {
            return appended;
        }
        self.thread.append(topic, payloads, now).await
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

    async fn remove_older_than(&self, cutoff: Timestamp) -> Result<RemovalReport, StoreError> {
        self.thread
            .call(|reply| Command::RemoveOlderThan { cutoff, reply })
            .await
    }

    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
        let state = self.topic(topic)?;
        self.describe_topic(topic.clone(), state).await
    }

    async fn list(&self) -> Result<Vec<TopicInfo>, StoreError> {
        let topics: Vec<(TopicName, Arc<Topic>)> = {
            let topics = self
                .shared
                .topics
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            topics
                .iter()
                .map(|(name, topic)| (name.clone(), Arc::clone(topic)))
                .collect()
        };
        let mut infos = Vec::with_capacity(topics.len());
        for (name, topic) in topics {
            infos.push(self.describe_topic(name, topic).await?);
        }
        Ok(infos)
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

/// Reads from a topic's published view: finds each segment and the indexed
/// position before the first wanted record, then reads forward.
fn read_blocking(
    shared: &Shared,
    name: &TopicName,
    topic: &Topic,
    from: u64,
    limits: ReadLimits,
) -> Result<ReadResult, StoreError> {
    let (mut start, mut next) = {
        let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
        (view.start_offset, view.next_offset())
    };
    if from > next {
        return Err(StoreError::OffsetOutOfRange {
            topic: name.clone(),
            requested: from,
            next_offset: next,
        });
    }
    let max_messages = limits.max_messages.max(1);
    let chunk = (limits.max_bytes.min(4 << 20)
        + max_messages.min(10_000) * format::RECORD_HEADER_LEN)
        .clamp(4096, 8 << 20);
    let mut cursor = from.max(start);
    let mut messages = Vec::new();
    let mut bytes = 0usize;
    'segments: while cursor < next && messages.len() < max_messages {
        let (segment, hint) = {
            let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
            (start, next) = (view.start_offset, view.next_offset());
            // Retention may have moved the start since the last segment.
            cursor = cursor.max(start);
            if cursor >= next {
                break;
            }
            let segment = view.segment_of(cursor).clone();
            let hint = if cursor == view.start_offset {
                Some((view.start_offset, view.start_position))
            } else if segment.base == view.active.base {
                index_lookup(&view.active_index, cursor)
            } else {
                None
            };
            (segment, hint)
        };
        let (offset, position) = match hint {
            Some(hint) => hint,
            None => sealed_index_lookup(shared, &segment.path, segment.base, cursor),
        };
        let mut records =
            RecordCursor::new(&segment.file, position, segment.len, Some(offset), chunk);
        loop {
            let record = match records.next_record() {
                Err(e) => {
                    return Err(StoreError::io(
                        format!("reading {}", segment.path.display()),
                        e,
                    ));
                }
                Ok(Err(damage)) => {
                    tracing::error!(file = %segment.path.display(), position = damage.position, reason = %damage.reason, "corrupt record");
                    return Err(StoreError::Corrupt {
                        path: segment.path.clone(),
                        position: damage.position,
                        detail: damage.reason,
                    });
                }
                // The segment's records are exhausted: on to the next one.
                // Ending short of its end offset would loop forever, so it
                // is reported instead.
                Ok(Ok(None)) if cursor >= segment.end => continue 'segments,
                Ok(Ok(None)) => {
                    let detail = format!("the segment ends before offset {cursor}");
                    return Err(StoreError::Corrupt {
                        path: segment.path.clone(),
                        position: segment.len,
                        detail,
                    });
                }
                Ok(Ok(Some(record))) => record,
            };
            if record.header.offset < cursor {
                continue;
            }
            let full = messages.len() >= max_messages
                || (!messages.is_empty() && bytes + record.payload.len() > limits.max_bytes);
            if full || record.header.offset >= next {
                break 'segments;
            }
            bytes += record.payload.len();
            cursor = record.header.offset + 1;
            messages.push(Message {
                offset: record.header.offset,
                timestamp: record.header.timestamp,
                payload: record.payload,
            });
        }
    }
    // Retention may have moved the start while this read was under way;
    // the reply never claims an earliest offset above what it returns.
    let earliest_offset = messages
        .first()
        .map_or(start, |m: &Message| m.offset.min(start));
    Ok(ReadResult {
        messages,
        earliest_offset,
        next_offset: next,
    })
}

/// The indexed (offset, position) at or before `offset` in a sealed
/// segment, through the cache; the segment's first record if its index
/// cannot be read (the read is then slower, not wrong).
fn sealed_index_lookup(shared: &Shared, path: &Path, base: u64, offset: u64) -> (u64, u64) {
    let cached = shared
        .index_cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(path)
        .cloned();
    let entries = match cached {
        Some(entries) => entries,
        None => {
            let index_path = path.with_extension("index");
            match fs::read(&index_path)
                .ok()
                .and_then(|bytes| format::decode_index(&bytes))
            {
                Some(index) => {
                    let entries = Arc::new(index.entries);
                    let mut cache = shared
                        .index_cache
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    cache.put(path.to_owned(), Arc::clone(&entries));
                    entries
                }
                None => {
                    // Remembered, so the warning comes once and not per read.
                    tracing::warn!(file = %index_path.display(), "index unreadable; reads of this segment start at its first record");
                    let entries = Arc::new(vec![(base, SEGMENT_HEADER_LEN)]);
                    let mut cache = shared
                        .index_cache
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    cache.put(path.to_owned(), Arc::clone(&entries));
                    entries
                }
            }
        }
    };
    index_lookup(&entries, offset).unwrap_or((base, SEGMENT_HEADER_LEN))
}

/// Makes a directory's entries (files created, renamed or deleted in it)
/// durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing directory {}", dir.display()), e))
}

/// Replaces `path` with `bytes` so that a crash leaves either the old file
/// or the new one, never a mix: write a temporary file, sync it, rename it
/// over, sync the directory. With `durable` false the syncs are skipped
/// (the rename is still atomic, but a power cut may undo it). On failure
/// the temporary file is removed, so a full disk gets its space back.
fn write_atomically(
    disk: &dyn Disk,
    path: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<(), StoreError> {
    let temporary = path.with_extension("tmp");
    let written = File::create(&temporary)
        .map_err(|e| StoreError::io(format!("creating {}", temporary.display()), e))
        .and_then(|file| {
            disk.write_at(&file, bytes, 0)
                .map_err(|e| StoreError::io(format!("writing {}", temporary.display()), e))?;
            if durable {
                file.sync_data()
                    .map_err(|e| StoreError::io(format!("syncing {}", temporary.display()), e))?;
            }
            fs::rename(&temporary, path)
                .map_err(|e| StoreError::io(format!("renaming {}", temporary.display()), e))
        });
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written?;
    if durable {
        let dir = path.parent().unwrap_or(Path::new("."));
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod disk_full;
#[cfg(test)]
mod edge_cases;
#[cfg(test)]
mod tests;
