//! The writer thread: every change to the file store happens here, one
//! command group at a time.
//!
//! Group commit: the thread takes every command queued while it was busy,
//! writes all their records, syncs each touched segment once, and only
//! then publishes the new records to readers and answers. While one sync
//! runs, the next group queues up, so throughput grows with concurrency
//! instead of paying one sync per request.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::disk::Disk;
use super::format::{self, SEGMENT_HEADER_LEN, SegmentIndex};
use super::recovery::{IndexBuilder, Recovered, empty_segment};
use super::segment::RecordCursor;
use super::topic::{SegmentView, Topic, TopicView, payload_bytes};
use super::{FileOptions, SCAN_CHUNK, START_FILE, Shared, sync_dir, write_atomically};
use crate::writer_thread::{Command, Next, group, next};
use crate::{Durability, OffsetRange, RemovalReport, StoreError, Timestamp, TopicName};

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
    /// Whether readers know the topic yet (not until its first commit).
    published: bool,
    /// Set when a sync failed: what was written may not be on disk, and no
    /// later write can be trusted to be either, until a restart recovers.
    failed: Option<String>,
}

/// The largest batch (encoded) that [`Writer::append_here`] writes on the
/// caller's thread, an async runtime worker: copying 64 KiB into the page
/// cache takes microseconds, well within what a worker may block for.
const INLINE_MAX_BYTES: u64 = 64 * 1024;

impl TopicWriter {
    /// Whether a batch of `encoded` bytes starts a new segment: when it
    /// would grow a segment holding records past `segment_bytes`.
    fn rolls_for(&self, encoded: u64, segment_bytes: u64) -> bool {
        let has_records = self.active.end > self.active.base;
        has_records && self.active.len + encoded > segment_bytes
    }
}

/// An append written but not yet answered.
struct Pending {
    topic: TopicName,
    range: OffsetRange,
    reply: oneshot::Sender<Result<OffsetRange, StoreError>>,
}

/// The log's writing state: the writer thread's, lent to callers for
/// [`Writer::append_here`].
pub struct Writer {
    shared: Arc<Shared>,
    /// Where every write goes.
    disk: Arc<dyn Disk>,
    topics_dir: PathBuf,
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
    /// A writer for the recovered topics.
    pub fn new(
        shared: Arc<Shared>,
        disk: Arc<dyn Disk>,
        topics_dir: PathBuf,
        options: FileOptions,
        lock: File,
        recovered: Vec<(TopicName, Recovered)>,
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
                    published: true,
                    failed: None,
                };
                drop(view);
                (name, writer)
            })
            .collect();
        Self {
            shared,
            disk,
            topics_dir,
            options,
            _lock: lock,
            topics,
            unsynced: BTreeSet::new(),
            unsynced_since: None,
            buffer: Vec::new(),
        }
    }

    /// Appends a batch right here, on the caller's thread, when that is as
    /// safe as the writer thread doing it: no group commit is needed
    /// (`Durability::Always` waits for one), the topic is published, the
    /// batch is small and fits the active segment (a roll syncs), and in
    /// interval mode an unsynced period is already running (so the thread
    /// is already waiting with the sync's deadline). `None` when the
    /// writer thread must take it. Published before it returns.
    pub fn append_here(
        &mut self,
        name: &TopicName,
        payloads: &[Bytes],
        now: Timestamp,
    ) -> Option<Result<OffsetRange, StoreError>> {
        let durability_allows = match self.options.durability {
            Durability::Always => false,
            Durability::Interval(_) => self.unsynced_since.is_some(),
            Durability::Never => true,
        };
        let topic = self.topics.get(name)?;
        let encoded: u64 = payloads
            .iter()
            .map(|p| (format::RECORD_HEADER_LEN + p.len()) as u64)
            .sum();
        let rolls = topic.rolls_for(encoded, self.options.segment_bytes);
        if !(durability_allows && topic.published && !rolls && encoded <= INLINE_MAX_BYTES) {
            return None;
        }
        let written = self.write_batch(name, payloads, now);
        if written.is_ok()
            && let Some(topic) = self.topics.get_mut(name)
        {
            publish(&self.shared, name, topic);
        }
        Some(written)
    }

    /// Whether anything written is not yet synced.
    #[cfg(test)]
    pub fn has_unsynced_writes(&self) -> bool {
        !self.unsynced.is_empty()
    }

    /// Writes one batch to its topic's active segment (rolling first if it
    /// would overflow). Not yet synced, published or answered.
    fn append(
        &mut self,
        name: &TopicName,
        payloads: &[Bytes],
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        let created = !self.topics.contains_key(name);
        if created {
            let writer = self.create_topic(name)?;
            self.topics.insert(name.clone(), writer);
        }
        let written = self.write_batch(name, payloads, now);
        if written.is_err() && created {
            // A failed request changes nothing: not even a new, empty topic.
            self.abandon_topic(name);
        }
        written
    }

    /// Removes a topic created for an append that then failed.
    fn abandon_topic(&mut self, name: &TopicName) {
        if let Some(topic) = self.topics.remove(name) {
            self.unsynced.remove(name);
            let _ = fs::remove_file(&topic.active.path);
            let _ = fs::remove_dir(&topic.topic.dir);
        }
    }

    fn write_batch(
        &mut self,
        name: &TopicName,
        payloads: &[Bytes],
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        let options = self.options;
        let Self {
            topics,
            buffer,
            topics_dir,
            disk,
            ..
        } = self;
        let topic = topics
            .get_mut(name)
            .ok_or_else(|| StoreError::TopicNotFound(name.clone()))?;
        if let Some(reason) = &topic.failed {
            return Err(StoreError::io(
                format!(
                    "topic '{name}' stopped taking writes after a failed sync ({reason}); restart the server to recover"
                ),
                std::io::Error::other("earlier sync failure"),
            ));
        }
        let timestamp = now.max(topic.newest_timestamp);
        let first = topic.active.end;
        if first.saturating_add(payloads.len() as u64 - 1) > format::MAX_OFFSET {
            return Err(StoreError::io(
                format!("topic '{name}' has no offsets left to number this batch"),
                std::io::Error::other(format!("offsets end at {}", format::MAX_OFFSET)),
            ));
        }
        buffer.clear();
        for (i, payload) in payloads.iter().enumerate() {
            format::encode_record(
                buffer,
                first + i as u64,
                timestamp,
                payload,
                i + 1 == payloads.len(),
            );
        }
        if topic.rolls_for(buffer.len() as u64, options.segment_bytes) {
            roll(&**disk, topic, &topics_dir.join(name.as_str()))?;
        }
        let position = topic.active.len;
        if let Err(error) = disk.write_at(&topic.active.file, buffer, position) {
            // Leave no partial batch behind (a full disk may have taken part
            // of it), and give back its space; the next write goes here.
            let _ = topic.active.file.set_len(position);
            return Err(StoreError::io(
                format!("appending to {}", topic.active.path.display()),
                error,
            ));
        }
        let mut record_position = position;
        for (i, payload) in payloads.iter().enumerate() {
            topic.index.observe(first + i as u64, record_position);
            record_position += (format::RECORD_HEADER_LEN + payload.len()) as u64;
        }
        topic.active.len += buffer.len() as u64;
        topic.active.end += payloads.len() as u64;
        topic.active.newest_timestamp = timestamp;
        topic.newest_timestamp = timestamp;
        topic.unpublished_bytes += payloads.iter().map(|p| p.len() as u64).sum::<u64>();
        if !self.unsynced.contains(name) {
            // Cloned only the first time: no allocation per append.
            self.unsynced.insert(name.clone());
        }
        self.unsynced_since.get_or_insert_with(Instant::now);
        Ok(OffsetRange {
            first,
            last: first + payloads.len() as u64 - 1,
        })
    }

    /// Creates a topic's directory and first segment, durably.
    fn create_topic(&self, name: &TopicName) -> Result<TopicWriter, StoreError> {
        let dir = self.topics_dir.join(name.as_str());
        let created = fs::create_dir(&dir);
        if let Err(error) = created.as_ref()
            && error.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(StoreError::io(
                format!("creating {}", dir.display()),
                std::io::Error::from(error.kind()),
            ));
        }
        // A directory left without segments (never by the store itself) may
        // still hold a start file: it belongs to no log now, and would hide
        // the new topic's first messages. Its removal is made durable with
        // the segment's creation (same directory).
        if let Err(error) = fs::remove_file(dir.join(START_FILE))
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(StoreError::io(
                format!("removing a stale start file in {}", dir.display()),
                error,
            ));
        }
        let segment = create_segment(&*self.disk, &dir, 1).inspect_err(|_| {
            let _ = fs::remove_dir(&dir);
        })?;
        sync_dir(&self.topics_dir)?;
        let view = TopicView {
            sealed: Default::default(),
            active: segment.clone(),
            active_index: Vec::new(),
            start_offset: 1,
            start_position: SEGMENT_HEADER_LEN,
            size_bytes: 0,
        };
        Ok(TopicWriter {
            topic: Arc::new(Topic {
                dir,
                view: RwLock::new(view),
            }),
            active: segment,
            index: IndexBuilder::default(),
            newly_sealed: Vec::new(),
            unpublished_bytes: 0,
            newest_timestamp: Timestamp::default(),
            published: false,
            failed: None,
        })
    }

    /// Syncs what the group wrote (when every append must be durable),
    /// publishes it to readers, and answers each append.
    fn commit(&mut self, pending: &mut Vec<Pending>) {
        if pending.is_empty() {
            return;
        }
        if self.options.durability == Durability::Always {
            let _ = self.sync_unsynced();
        }
        let touched: BTreeSet<TopicName> = pending.iter().map(|p| p.topic.clone()).collect();
        for name in &touched {
            if let Some(topic) = self.topics.get_mut(name)
                && topic.failed.is_none()
            {
                publish(&self.shared, name, topic);
            }
        }
        for Pending {
            topic,
            range,
            reply,
        } in pending.drain(..)
        {
            let answer = match self.topics.get(&topic).and_then(|t| t.failed.clone()) {
                None => Ok(range),
                Some(reason) => Err(StoreError::io(
                    format!("syncing topic '{topic}' failed; the batch may not be durable"),
                    std::io::Error::other(reason),
                )),
            };
            let _ = reply.send(answer);
        }
    }

    /// Syncs the active segment of every topic written since the last sync.
    /// A topic whose sync fails stops taking writes (see `failed`).
    fn sync_unsynced(&mut self) -> Result<(), StoreError> {
        let mut first_error = None;
        for name in std::mem::take(&mut self.unsynced) {
            let Some(topic) = self.topics.get_mut(&name) else {
                continue;
            };
            if let Err(error) = topic.active.file.sync_data() {
                tracing::error!(topic = %name, file = %topic.active.path.display(), %error, "sync failed; the topic takes no more writes until a restart");
                topic.failed = Some(error.to_string());
                first_error.get_or_insert(StoreError::io(
                    format!("syncing {}", topic.active.path.display()),
                    error,
                ));
            }
        }
        self.unsynced_since = None;
        first_error.map_or(Ok(()), Err)
    }

    /// Removes, from every topic, the messages stored before `cutoff`:
    /// whole sealed segments are deleted; within the first remaining
    /// segment the start offset moves past the expired records.
    fn remove_older_than(&mut self, cutoff: Timestamp) -> Result<RemovalReport, StoreError> {
        let mut report = RemovalReport::default();
        for (name, topic) in &mut self.topics {
            if !topic.published || topic.failed.is_some() {
                continue;
            }
            let removed = expire(&self.shared, &*self.disk, name, topic, cutoff)?;
            report.messages_removed += removed.messages_removed;
            report.bytes_removed += removed.bytes_removed;
        }
        Ok(report)
    }
}

/// Serves the writer thread's commands until every sender is gone, then
/// syncs. The writer is locked for each group and released while waiting,
/// so appends on other threads ([`Writer::append_here`]) go on between.
pub fn run(writer: &Mutex<Writer>, commands: Receiver<Command>) {
    let lock = || writer.lock().unwrap_or_else(PoisonError::into_inner);
    while let Some(first) = next_command(writer, &commands) {
        let mut writer = lock();
        let mut pending = Vec::new();
        for command in group(first, &commands) {
            match command {
                Command::Append {
                    topic,
                    payloads,
                    now,
                    reply,
                } => match writer.append(&topic, &payloads, now) {
                    Ok(range) => pending.push(Pending {
                        topic,
                        range,
                        reply,
                    }),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                },
                Command::RemoveOlderThan { cutoff, reply } => {
                    writer.commit(&mut pending);
                    let _ = reply.send(writer.remove_older_than(cutoff));
                }
                Command::Sync { reply } => {
                    writer.commit(&mut pending);
                    let _ = reply.send(writer.sync_unsynced());
                }
            }
        }
        writer.commit(&mut pending);
    }
    if let Err(error) = lock().sync_unsynced() {
        tracing::error!(%error, "final sync of the file store failed");
    }
}

/// The next command; in interval mode, syncs when the interval is up
/// while waiting (unlocked). `None` once every sender is gone.
fn next_command(writer: &Mutex<Writer>, commands: &Receiver<Command>) -> Option<Command> {
    let lock = || writer.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let sync_due = {
            let writer = lock();
            match (writer.options.durability, writer.unsynced_since) {
                (Durability::Interval(interval), Some(since)) => Some(since + interval),
                _ => None,
            }
        };
        match next(commands, sync_due) {
            Next::Command(command) => return Some(command),
            Next::Closed => return None,
            Next::SyncDue => {
                if let Err(error) = lock().sync_unsynced() {
                    tracing::error!(%error, "interval sync failed");
                }
            }
        }
    }
}

/// Moves a topic's start past everything older than `cutoff`, and deletes
/// the sealed segments wholly before the new start.
///
/// Wholly expired segments go first, oldest first, each deletion made
/// durable before the next: that needs no free space, so retention can
/// free a full disk, and a crash part-way leaves a log without gaps whose
/// first segment is its start (recovery ignores a start file pointing
/// before it). Only a start inside a segment needs the start file, written
/// after the deletions freed their space.
fn expire(
    shared: &Shared,
    disk: &dyn Disk,
    name: &TopicName,
    topic: &TopicWriter,
    cutoff: Timestamp,
) -> Result<RemovalReport, StoreError> {
    let (start, expired_segments) = {
        let view = topic
            .topic
            .view
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        // Wholly expired: every record older than the cutoff, or already
        // before the start (an earlier pass, with a later cutoff, moved it).
        let expired = view
            .sealed
            .iter()
            .take_while(|s| s.end <= view.start_offset || s.newest_timestamp < cutoff)
            .count();
        let expired_segments: Vec<SegmentView> =
            view.sealed.iter().take(expired).cloned().collect();
        (view.start_offset, expired_segments)
    };
    let mut report = RemovalReport::default();
    if !expired_segments.is_empty() {
        report = delete_expired_segments(shared, topic, &expired_segments)?;
    }
    let partial = expire_within_first_segment(disk, topic, cutoff)?;
    report.messages_removed += partial.messages_removed;
    report.bytes_removed += partial.bytes_removed;
    if report.messages_removed > 0 {
        tracing::debug!(topic = %name, from = start, to = start + report.messages_removed, "retention moved the start");
    }
    Ok(report)
}

/// Drops wholly expired segments (the oldest sealed ones) from the view,
/// then deletes their files oldest first, syncing the directory after each.
fn delete_expired_segments(
    shared: &Shared,
    topic: &TopicWriter,
    expired: &[SegmentView],
) -> Result<RemovalReport, StoreError> {
    let removed = {
        let mut view = topic
            .topic
            .view
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let (start, start_position) = (view.start_offset, view.start_position);
        let mut removed = RemovalReport::default();
        for segment in expired.iter().filter(|s| s.end > start) {
            let (from, position) = if segment.base <= start {
                (start, start_position)
            } else {
                (segment.base, SEGMENT_HEADER_LEN)
            };
            removed.bytes_removed += payload_bytes(position, segment.len, segment.end - from);
            removed.messages_removed += segment.end - from;
        }
        view.sealed.drain(..expired.len());
        let after_expired = expired[expired.len() - 1].end;
        if after_expired > view.start_offset {
            view.start_offset = after_expired;
            view.start_position = SEGMENT_HEADER_LEN;
        }
        view.size_bytes -= removed.bytes_removed;
        removed
    };
    for segment in expired {
        for path in [segment.path.with_extension("index"), segment.path.clone()] {
            if let Err(error) = fs::remove_file(&path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %path.display(), %error, "could not delete an expired segment file");
            }
        }
        sync_dir(&topic.topic.dir)?;
        shared
            .index_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop(&segment.path);
    }
    Ok(removed)
}

/// Moves the start past the expired records at the head of the first
/// remaining segment (timestamps never decrease, so they come first),
/// recording it in the start file.
fn expire_within_first_segment(
    disk: &dyn Disk,
    topic: &TopicWriter,
    cutoff: Timestamp,
) -> Result<RemovalReport, StoreError> {
    let (start, start_position, first) = {
        let view = topic
            .topic
            .view
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let first = view.sealed.front().unwrap_or(&view.active).clone();
        (view.start_offset, view.start_position, first)
    };
    let (mut new_start, mut new_position) = (start, start_position);
    let mut removed = RemovalReport::default();
    // Most passes find nothing to remove: the first record's header is
    // enough to know, so the first read is small.
    let mut cursor = RecordCursor::new(&first.file, start_position, first.len, Some(start), 4096);
    loop {
        let record = match cursor.next_record() {
            Err(e) => {
                return Err(StoreError::io(
                    format!("reading {}", first.path.display()),
                    e,
                ));
            }
            Ok(Err(damage)) => {
                return Err(StoreError::Corrupt {
                    path: first.path.clone(),
                    position: damage.position,
                    detail: damage.reason,
                });
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(record))) => record,
        };
        if record.header.timestamp >= cutoff {
            break;
        }
        removed.bytes_removed += record.payload.len() as u64;
        removed.messages_removed += 1;
        new_start = record.header.offset + 1;
        new_position = cursor.position();
        cursor.set_chunk_size(SCAN_CHUNK);
    }
    if new_start == start {
        return Ok(removed);
    }
    // Recorded only once the records up to it are on disk, so after a
    // power cut it never points past the end of the log.
    first
        .file
        .sync_data()
        .map_err(|e| StoreError::io(format!("syncing {}", first.path.display()), e))?;
    write_atomically(
        disk,
        &topic.topic.dir.join(START_FILE),
        &format::encode_start(new_start, new_position),
        true,
    )?;
    let mut view = topic
        .topic
        .view
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    view.start_offset = new_start;
    view.start_position = new_position;
    view.normalize_start();
    view.size_bytes -= removed.bytes_removed;
    Ok(removed)
}

/// Makes the writer's state of a topic the published one.
fn publish(shared: &Shared, name: &TopicName, topic: &mut TopicWriter) {
    {
        let mut view = topic
            .topic
            .view
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if topic.newly_sealed.is_empty() {
            let known = view.active_index.len();
            view.active_index
                .extend_from_slice(&topic.index.entries[known..]);
        } else {
            view.sealed.extend(topic.newly_sealed.drain(..));
            view.active_index = topic.index.entries.clone();
        }
        view.active = topic.active.clone();
        view.normalize_start();
        view.size_bytes += topic.unpublished_bytes;
    }
    topic.unpublished_bytes = 0;
    if !topic.published {
        topic.published = true;
        let mut topics = shared
            .topics
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        topics.insert(name.clone(), Arc::clone(&topic.topic));
    }
    // Announced once the view is updated and the topic registered, so a
    // woken reader finds what woke it.
    shared.notifier.appended(name, topic.active.end);
}

/// Seals the active segment and starts a new one at the next offset. In
/// every durability mode the sealed segment is synced and its index
/// written durably: that costs one sync per segment, and means only the
/// active segment can ever be torn by a crash.
fn roll(disk: &dyn Disk, topic: &mut TopicWriter, dir: &Path) -> Result<(), StoreError> {
    let active = &topic.active;
    active
        .file
        .sync_data()
        .map_err(|e| StoreError::io(format!("syncing {}", active.path.display()), e))?;
    let index = SegmentIndex {
        end_offset: active.end,
        log_len: active.len,
        newest_timestamp: active.newest_timestamp,
        entries: topic.index.entries.clone(),
    };
    write_atomically(
        disk,
        &active.path.with_extension("index"),
        &format::encode_index(&index),
        true,
    )?;
    let next = create_segment(disk, dir, active.end)?;
    let sealed = std::mem::replace(&mut topic.active, next);
    topic.newly_sealed.push(sealed);
    topic.index = IndexBuilder::default();
    Ok(())
}

/// Creates an empty segment starting at `base`, durably (file and
/// directory entry), in every durability mode: segments are created rarely.
fn create_segment(disk: &dyn Disk, dir: &Path, base: u64) -> Result<SegmentView, StoreError> {
    let path = dir.join(format::segment_file_name(base));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))?;
    let created = disk
        .write_at(&file, &format::encode_segment_header(base), 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))
        .and_then(|()| sync_dir(dir));
    if let Err(error) = created {
        // Leave nothing behind, so the next attempt can create it afresh.
        let _ = fs::remove_file(&path);
        return Err(error);
    }
    Ok(empty_segment(file, base, path))
}
