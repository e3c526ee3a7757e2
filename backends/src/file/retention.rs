//! Retention: moving a topic's start past its expired messages and
//! deleting the segments wholly before it, and deleting its oldest sealed
//! segments while it is over its size limit. Run by the writer thread, on
//! a published topic.
//!
//! Wholly expired segments go first, oldest first, each deletion made
//! durable before the next: that needs no free space, so retention can
//! free a full disk, and a crash part-way leaves a log without gaps whose
//! first segment is its start (recovery ignores a start file pointing
//! before it). Only a start inside a segment needs the start file, written
//! after the deletions freed their space.

use std::sync::PoisonError;

use super::disk::{self, Disk, write_atomically};
use super::format::{self, SEGMENT_HEADER_LEN, START_FILE};
use super::published::{SegmentView, Shared, Topic};
use super::segment::{RecordCursor, SCAN_CHUNK};
use crate::{RemovalReport, RetentionDefaults, StoreError, Timestamp, TopicName};

/// Applies a topic's retention: by age (its own, else `defaults.age`),
/// then by size (whole sealed segments, oldest first, while the topic is
/// over its `retention_bytes`; never the active segment, so a topic whose
/// active segment alone is over the limit stays over it). Keeps the view's
/// oldest timestamp right, also when the pass fails part-way.
pub fn enforce(
    shared: &Shared,
    disk: &dyn Disk,
    name: &TopicName,
    topic: &Topic,
    now: Timestamp,
    defaults: RetentionDefaults,
) -> Result<RemovalReport, StoreError> {
    let settings = topic
        .settings
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut report = RemovalReport::default();
    let mut pass = || -> Result<(), StoreError> {
        if let Some(cutoff) = settings.retention.unwrap_or(defaults.age).cutoff(now) {
            add(&mut report, expire(shared, disk, name, topic, cutoff)?);
        }
        if let Some(limit) = settings.retention_bytes {
            add(&mut report, trim_to_size(shared, disk, topic, limit)?);
        }
        Ok(())
    };
    let result = pass();
    if report.messages_removed > 0 {
        let mut view = topic.view.write().unwrap_or_else(PoisonError::into_inner);
        view.oldest_timestamp = view.read_oldest_timestamp(&shared.files);
    }
    result.map(|()| report)
}

fn add(report: &mut RemovalReport, removed: RemovalReport) {
    report.messages_removed += removed.messages_removed;
    report.bytes_removed += removed.bytes_removed;
}

/// Deletes the oldest sealed segments while the topic holds more than
/// `limit` bytes (message sizes).
fn trim_to_size(
    shared: &Shared,
    disk: &dyn Disk,
    topic: &Topic,
    limit: u64,
) -> Result<RemovalReport, StoreError> {
    let over: Vec<SegmentView> = {
        let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
        let mut size = view.size_bytes;
        let mut over = Vec::new();
        for segment in &view.sealed {
            if size <= limit {
                break;
            }
            size -= view.readable_in(segment).1;
            over.push(segment.clone());
        }
        over
    };
    delete_expired_segments(shared, disk, topic, &over)
}

/// Moves a topic's start past everything older than `cutoff`, and deletes
/// the sealed segments wholly before the new start.
fn expire(
    shared: &Shared,
    disk: &dyn Disk,
    name: &TopicName,
    topic: &Topic,
    cutoff: Timestamp,
) -> Result<RemovalReport, StoreError> {
    let (start, expired_segments) = {
        let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
        // Wholly expired: every record older than the cutoff, or already
        // before the start (an earlier pass, with a later cutoff, moved it).
        let expired: Vec<SegmentView> = view
            .sealed
            .iter()
            .take_while(|s| s.end <= view.start_offset || s.newest_timestamp < cutoff)
            .cloned()
            .collect();
        (view.start_offset, expired)
    };
    let mut report = delete_expired_segments(shared, disk, topic, &expired_segments)?;
    let partial = expire_within_first_segment(shared, disk, topic, cutoff)?;
    report.messages_removed += partial.messages_removed;
    report.bytes_removed += partial.bytes_removed;
    if report.messages_removed > 0 {
        tracing::debug!(topic = %name, from = start, to = start + report.messages_removed, "retention moved the start");
    }
    Ok(report)
}

/// Deletes the files of wholly expired segments (the oldest sealed ones),
/// oldest first, syncing the directory after each, and drops the deleted
/// ones from the view. A segment whose log file cannot be removed stops
/// the pass with an error: it and the segments after it stay in the log,
/// readable, and the next pass tries again. (Reads in flight keep their
/// own handle on a deleted file, so deleting before the view changes is
/// safe.)
fn delete_expired_segments(
    shared: &Shared,
    disk: &dyn Disk,
    topic: &Topic,
    expired: &[SegmentView],
) -> Result<RemovalReport, StoreError> {
    let mut deleted = 0;
    let mut failure = None;
    for segment in expired {
        if let Err(error) = delete_segment_files(disk, segment) {
            failure = Some(error);
            break;
        }
        deleted += 1;
        if let Err(error) = disk::sync_dir(disk, &topic.dir) {
            failure = Some(error);
            break;
        }
    }
    let mut removed = RemovalReport::default();
    if deleted > 0 {
        let mut view = topic.view.write().unwrap_or_else(PoisonError::into_inner);
        for segment in &expired[..deleted] {
            let (messages, bytes) = view.readable_in(segment);
            removed.messages_removed += messages;
            removed.bytes_removed += bytes;
        }
        view.sealed.drain(..deleted);
        let after_deleted = expired[deleted - 1].end;
        if after_deleted > view.start_offset {
            view.start_offset = after_deleted;
            view.start_position = SEGMENT_HEADER_LEN;
            view.start_skipped_bytes = 0;
        }
        view.size_bytes -= removed.bytes_removed;
    }
    let mut cache = shared
        .index_cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for segment in &expired[..deleted] {
        cache.pop(&segment.id);
        shared.files.forget(segment.id);
    }
    failure.map_or(Ok(removed), Err)
}

/// Removes a segment's index (a failure only warns: an index without its
/// log is ignored at start-up) and then its log.
fn delete_segment_files(disk: &dyn Disk, segment: &SegmentView) -> Result<(), StoreError> {
    let index = segment.path.with_extension("index");
    if let Err(error) = disk.remove_file(&index)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = %index.display(), %error, "could not delete the index of an expired segment");
    }
    match disk.remove_file(&segment.path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(
            format!("deleting expired segment {}", segment.path.display()),
            error,
        )),
        _ => Ok(()),
    }
}

/// Moves the start past the expired records at the head of the first
/// remaining segment (timestamps never decrease, so they come first),
/// recording it in the start file.
fn expire_within_first_segment(
    shared: &Shared,
    disk: &dyn Disk,
    topic: &Topic,
    cutoff: Timestamp,
) -> Result<RemovalReport, StoreError> {
    let (start, start_position, skipped_before, first) = {
        let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
        let first = view.sealed.front().unwrap_or(&view.active).clone();
        let skipped = view.start_skipped_bytes;
        (view.start_offset, view.start_position, skipped, first)
    };
    let (mut new_start, mut new_position) = (start, start_position);
    let mut removed = RemovalReport::default();
    // Most passes find nothing to remove: the first record's header is
    // enough to know, so the first read is small.
    let file = shared.files.require(&first)?;
    let mut cursor = RecordCursor::new(
        &file,
        start_position,
        first.len,
        Some(start),
        4096,
        first.format,
    );
    loop {
        let record = match cursor.next_record() {
            Err(e) => {
                return Err(StoreError::io(
                    format!("reading {}", first.path.display()),
                    e,
                ));
            }
            Ok(Err(damage)) => return Err(damage.into_corrupt(&first.path)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(record))) => record,
        };
        if record.header.timestamp >= cutoff {
            break;
        }
        removed.bytes_removed += record.body.size();
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
    disk.sync_data(&file)
        .map_err(|e| StoreError::io(format!("syncing {}", first.path.display()), e))?;
    let skipped_bytes = skipped_before + removed.bytes_removed;
    write_atomically(
        disk,
        &topic.dir.join(START_FILE),
        &format::encode_start(new_start, new_position, skipped_bytes),
        true,
    )?;
    let mut view = topic.view.write().unwrap_or_else(PoisonError::into_inner);
    view.start_offset = new_start;
    view.start_position = new_position;
    view.start_skipped_bytes = skipped_bytes;
    view.normalize_start();
    view.size_bytes -= removed.bytes_removed;
    Ok(removed)
}
