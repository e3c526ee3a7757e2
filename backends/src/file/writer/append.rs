//! Appending a batch to a topic's active segment, on the writer thread or
//! (when that is as safe) on the caller's, and creating a topic for its
//! first batch.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use super::publish::publish;
use super::roll::roll;
use super::{TopicWriter, Writer};
use crate::file::disk;
use crate::file::format::{self, ProducerMark, SEGMENT_HEADER_LEN, SETTINGS_FILE, START_FILE};
use crate::file::published::{Topic, TopicView};
use crate::file::segment::{IndexBuilder, create_segment};
use crate::producers::Admission;
use crate::{
    Batch, Durability, OffsetRange, ProducerTable, StoreError, Timestamp, TopicName, TopicSettings,
};

/// The largest batch (encoded) that [`Writer::append_here`] writes on the
/// caller's thread, an async runtime worker: copying 64 KiB into the page
/// cache takes microseconds, well within what a worker may block for.
const INLINE_MAX_BYTES: u64 = 64 * 1024;

/// What to do with a batch, decided before anything of it is written.
enum Admitted {
    /// Write it.
    Write,
    /// Its producer stored it already, at these offsets: write nothing,
    /// answer with them once they are durable.
    Duplicate(OffsetRange),
}

impl Writer {
    /// Appends a batch right here, on the caller's thread, when that is as
    /// safe as the writer thread doing it: no group commit is needed
    /// (`Durability::Always` waits for one), the topic is published, the
    /// batch is small and fits the active segment (a roll syncs), and in
    /// interval mode an unsynced period is already running (so the thread
    /// is already waiting with the sync's deadline). `None` when the
    /// writer thread must take it. Published before it returns. A
    /// duplicate is answered here too: with no group in flight (the caller
    /// holds the writer), its original is published, so as durable as
    /// configured.
    pub fn append_here(
        &mut self,
        name: &TopicName,
        batch: &Batch,
        now: Timestamp,
    ) -> Option<Result<OffsetRange, StoreError>> {
        let durability_allows = match self.options.durability {
            Durability::Always => false,
            Durability::Interval(_) => self.unsynced_since.is_some(),
            Durability::Never => true,
        };
        let topic = self.topics.get(name)?;
        let producer = batch.producer.is_some();
        let encoded: u64 = batch
            .records
            .iter()
            .map(|r| (format::RECORD_HEADER_LEN + format::body_len(r, producer)) as u64)
            .sum();
        let rolls = topic.rolls_for(encoded, self.options.segment_bytes);
        if !(durability_allows && topic.published && !rolls && encoded <= INLINE_MAX_BYTES) {
            return None;
        }
        let written = match admit(name, topic, batch) {
            Ok(Admitted::Write) => self.write_batch(name, batch, now),
            Ok(Admitted::Duplicate(range)) => return Some(Ok(range)),
            Err(error) => return Some(Err(error)),
        };
        if written.is_ok()
            && let Some(topic) = self.topics.get_mut(name)
        {
            publish(&self.shared, name, topic);
        }
        Some(written)
    }

    /// Writes one batch to its topic's active segment (creating the topic,
    /// and rolling first if the batch would overflow the segment), or finds
    /// it a duplicate of one its producer stored. Not yet synced, published
    /// or answered.
    pub(super) fn append(
        &mut self,
        name: &TopicName,
        batch: &Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        let created = match self.topics.get(name) {
            Some(topic) => match admit(name, topic, batch)? {
                Admitted::Write => false,
                Admitted::Duplicate(range) => return Ok(range),
            },
            None if !batch.create_topic => return Err(StoreError::TopicNotFound(name.clone())),
            None => {
                // A new topic knows no producer, has the defaults' sizes
                // (none of its own), and its next offset is 1: a failed
                // condition creates nothing.
                batch.check_next_offset(name, 1)?;
                let writer = self.new_topic(name, &TopicSettings::default())?;
                self.topics.insert(name.clone(), writer);
                true
            }
        };
        let written = self.write_batch(name, batch, now);
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
            self.shared.files.forget(topic.active.id);
            let _ = self.disk.remove_file(&topic.active.path);
            let _ = self.disk.remove_dir(&topic.topic.dir);
        }
    }

    /// Writes an admitted batch, with its producer on its last record, and
    /// records the producer's batch in the topic's table.
    fn write_batch(
        &mut self,
        name: &TopicName,
        batch: &Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        let options = self.options;
        let Self {
            topics,
            buffer,
            topics_dir,
            disk,
            shared,
            ..
        } = self;
        let records = &batch.records;
        let topic = topics
            .get_mut(name)
            .ok_or_else(|| StoreError::TopicNotFound(name.clone()))?;
        let timestamp = now.max(topic.newest_timestamp);
        let first = topic.active.end;
        if first.saturating_add(records.len() as u64 - 1) > format::MAX_OFFSET {
            return Err(StoreError::OffsetsExhausted {
                topic: name.clone(),
                last_offset: format::MAX_OFFSET,
            });
        }
        let mark = batch.producer.map(|producer| ProducerMark {
            producer,
            record_count: u32::try_from(records.len()).unwrap_or(u32::MAX),
        });
        buffer.clear();
        for (i, record) in records.iter().enumerate() {
            let last = i + 1 == records.len();
            let offset = first + i as u64;
            let mark = if last { mark } else { None };
            format::encode_full_record(buffer, offset, timestamp, record, last, mark);
        }
        if topic.rolls_for(buffer.len() as u64, options.segment_bytes) {
            roll(
                &**disk,
                &shared.files,
                name,
                topic,
                &topics_dir.join(name.as_str()),
            )?;
        }
        let position = topic.active.len;
        let file = shared.files.require(&topic.active)?;
        if let Err(error) = disk.write_at(&file, buffer, position) {
            // Leave no partial batch behind (a full disk may have taken part
            // of it), and give back its space; the next write goes here.
            let _ = disk.set_len(&file, position);
            return Err(StoreError::io(
                format!("appending to {}", topic.active.path.display()),
                error,
            ));
        }
        let (mut at, mut offset) = (0, first);
        while at < buffer.len() {
            topic.index.observe(offset, position + at as u64);
            at += format::decode_record_header(&buffer[at..]).record_len();
            offset += 1;
        }
        let size: u64 = records.iter().map(|r| r.size() as u64).sum();
        topic.active.len += buffer.len() as u64;
        topic.active.end += records.len() as u64;
        topic.active.size_bytes += size;
        topic.active.newest_timestamp = timestamp;
        topic.newest_timestamp = timestamp;
        topic.first_unpublished_timestamp.get_or_insert(timestamp);
        topic.unpublished_bytes += size;
        let range = OffsetRange {
            first,
            last: first + records.len() as u64 - 1,
        };
        if let Some(producer) = batch.producer {
            topic.producers.record(producer, range, timestamp);
        }
        if !self.unsynced.contains(name) {
            // Cloned only the first time: no allocation per append.
            self.unsynced.insert(name.clone());
        }
        self.unsynced_since.get_or_insert_with(Instant::now);
        Ok(range)
    }

    /// Creates a topic's directory, its settings file (when it has settings
    /// of its own) and its first segment, durably. The segment is made
    /// last: a directory without one is no topic (recovery skips it), so a
    /// crash part-way leaves none.
    pub(super) fn new_topic(
        &self,
        name: &TopicName,
        settings: &TopicSettings,
    ) -> Result<TopicWriter, StoreError> {
        let disk = &*self.disk;
        let dir = self.topics_dir.join(name.as_str());
        let created = disk.create_dir(&dir);
        if let Err(error) = created
            && error.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(StoreError::io(format!("creating {}", dir.display()), error));
        }
        // A directory left without segments (never by the store itself) may
        // still hold a start file: it belongs to no log now, and would hide
        // the new topic's first messages. Its removal is made durable with
        // the segment's creation (same directory).
        if let Err(error) = disk.remove_file(&dir.join(START_FILE))
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(StoreError::io(
                format!("removing a stale start file in {}", dir.display()),
                error,
            ));
        }
        save_settings(disk, &dir, settings)?;
        let segment = create_segment(disk, &self.shared.files, &dir, 1).inspect_err(|_| {
            let _ = disk.remove_file(&dir.join(SETTINGS_FILE));
            let _ = disk.remove_dir(&dir);
        })?;
        disk::sync_dir(disk, &self.topics_dir)?;
        let view = TopicView {
            sealed: Default::default(),
            active: segment.clone(),
            active_index: Vec::new(),
            start_offset: 1,
            start_position: SEGMENT_HEADER_LEN,
            start_skipped_bytes: 0,
            size_bytes: 0,
            oldest_timestamp: None,
        };
        Ok(TopicWriter {
            topic: Arc::new(Topic {
                dir,
                settings: RwLock::new(settings.clone()),
                view: RwLock::new(view),
                deleted: Default::default(),
            }),
            active: segment,
            index: IndexBuilder::default(),
            newly_sealed: Vec::new(),
            unpublished_bytes: 0,
            newest_timestamp: Timestamp::default(),
            first_unpublished_timestamp: None,
            published: false,
            stopped: None,
            producers: ProducerTable::new(self.options.max_producers),
        })
    }
}

/// Writes a topic's settings file durably, or removes it when the topic
/// follows the server's defaults in everything (which a missing file says).
pub(super) fn save_settings(
    disk: &dyn disk::Disk,
    dir: &std::path::Path,
    settings: &TopicSettings,
) -> Result<(), StoreError> {
    let path = dir.join(SETTINGS_FILE);
    if *settings != TopicSettings::default() {
        return disk::write_atomically(
            disk,
            &path,
            format::encode_settings(settings).as_bytes(),
            true,
        );
    }
    match disk.remove_file(&path) {
        Ok(()) => disk::sync_dir(disk, dir),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(StoreError::io(
            format!("removing {}", path.display()),
            error,
        )),
    }
}

/// Checks a batch to an existing topic, before anything is written, in
/// the order every store checks: a stopped topic; the topic's largest
/// message; the producer's sequence (a duplicate is answered with its
/// original offsets, so a retried conditional append that was stored gets
/// them, not a mismatch); then the expected next offset, against the
/// offsets already written (also those of the group in progress).
fn admit(name: &TopicName, topic: &TopicWriter, batch: &Batch) -> Result<Admitted, StoreError> {
    if let Some(cause) = &topic.stopped {
        return Err(StoreError::TopicStopped {
            topic: name.clone(),
            cause: cause.clone(),
        });
    }
    topic
        .topic
        .settings
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .check_sizes(&batch.records)?;
    if let Some(producer) = batch.producer
        && let Admission::Duplicate(range) = topic.producers.admit(name, producer)?
    {
        return Ok(Admitted::Duplicate(range));
    }
    batch.check_next_offset(name, topic.active.end)?;
    Ok(Admitted::Write)
}
