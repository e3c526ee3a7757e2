//! Reads: from a topic's published view, through the sparse indexes to the
//! records, and past damage in the log where that is possible.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, PoisonError};

use super::format::{self, SEGMENT_HEADER_LEN};
use super::published::{IndexEntries, SegmentView, Shared, Topic, index_lookup};
use super::segment::{Damage, RecordCursor, Resumption, resume_after_damage};
use crate::{Message, ReadLimits, ReadResult, StoreError, Timestamp, TopicName};

/// Reads from a topic's published view: finds each segment and the indexed
/// position before the first wanted record, then reads forward.
///
/// Damage (a record that fails its checks) ends the read there: the
/// messages before it are returned as a short reply; a read that reaches it
/// with nothing returned yet fails with [`StoreError::DataLoss`], naming
/// the first good offset after it; a read that starts at or past that
/// offset reads on from there.
pub fn read_blocking(
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
    // The end of the segments found deleted by a retention pass that has
    // not moved the start past them yet: the reply's earliest is there.
    let mut being_removed_until = 0;
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
            None => index_lookup(&sealed_index(shared, &segment), cursor)
                .unwrap_or((segment.base, SEGMENT_HEADER_LEN)),
        };
        let Some(file) = shared.files.get(&segment)? else {
            // Deleted since the view was read: with its topic, or by
            // retention, which deletes only sealed segments, each wholly
            // expired (it moves the start past them once their files are
            // gone): read on after it, as if the start had moved already.
            // (The mark is read under the view's lock, which a delete holds
            // from its rename until it has set the mark.)
            let active_base = topic
                .view
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .active
                .base;
            if topic.is_deleted() {
                return Err(StoreError::TopicNotFound(name.clone()));
            }
            let sealed = segment.end <= next && active_base > segment.base;
            if sealed {
                cursor = cursor.max(segment.end);
                being_removed_until = being_removed_until.max(segment.end);
                continue 'segments;
            }
            return Err(StoreError::io(
                format!("opening {}", segment.path.display()),
                std::io::ErrorKind::NotFound.into(),
            ));
        };
        let mut records = RecordCursor::new(
            &file,
            position,
            segment.len,
            Some(offset),
            chunk,
            segment.format,
        );
        loop {
            let record = match records.next_record() {
                Err(e) => {
                    return Err(StoreError::io(
                        format!("reading {}", segment.path.display()),
                        e,
                    ));
                }
                // Damage ends a read that has messages to return.
                Ok(Err(_)) if !messages.is_empty() => break 'segments,
                Ok(Err(damage)) => {
                    let damaged_offset = records.expected_offset().unwrap_or(cursor);
                    let resumed = resume_reading(
                        shared,
                        name,
                        topic,
                        (&segment, &file),
                        &damage,
                        damaged_offset,
                    )?;
                    if cursor < resumed.offset {
                        return Err(StoreError::DataLoss {
                            topic: name.clone(),
                            first_offset: damaged_offset,
                            next_good_offset: resumed.offset,
                        });
                    }
                    records = RecordCursor::new(
                        &file,
                        resumed.position,
                        segment.len,
                        Some(resumed.offset),
                        chunk,
                        segment.format,
                    );
                    continue;
                }
                // The segment's records are exhausted: on to the next one.
                Ok(Ok(None)) if cursor >= segment.end => continue 'segments,
                // They end short of the segment's end offset (its index
                // says more): the missing offsets cannot be read.
                Ok(Ok(None)) if !messages.is_empty() => break 'segments,
                Ok(Ok(None)) => {
                    let first_offset = records.expected_offset().unwrap_or(cursor);
                    tracing::error!(topic = %name, file = %segment.path.display(), first_offset, end_offset = segment.end, "a segment's records end before its end offset");
                    return Err(StoreError::DataLoss {
                        topic: name.clone(),
                        first_offset,
                        next_good_offset: segment.end,
                    });
                }
                Ok(Ok(Some(record))) => record,
            };
            if record.header.offset < cursor {
                continue;
            }
            let size = record.body.size() as usize;
            let full = messages.len() >= max_messages
                || (!messages.is_empty() && bytes + size > limits.max_bytes);
            if full || record.header.offset >= next {
                break 'segments;
            }
            bytes += size;
            cursor = record.header.offset + 1;
            messages.push(Message {
                offset: record.header.offset,
                timestamp: record.header.timestamp,
                payload: record.body.payload,
                key: record.body.key,
                headers: record.body.headers,
            });
        }
    }
    // Deleted while this read was under way: none of it is served.
    if topic.is_deleted() {
        return Err(StoreError::TopicNotFound(name.clone()));
    }
    // Retention may have moved the start while this read was under way;
    // the reply never claims an earliest offset above what it returns.
    let start = start.max(being_removed_until);
    let earliest_offset = messages
        .first()
        .map_or(start, |m: &Message| m.offset.min(start));
    Ok(ReadResult {
        messages,
        earliest_offset,
        next_offset: next,
    })
}

/// The offset a read from `time` starts at, in O(log n): timestamps never
/// decrease along a topic, so the segment is the first whose newest
/// timestamp is at or after `time`; within it, a binary search over its
/// sparse index reads one record header per probe, then one index interval
/// is read forward.
///
/// Damage only ever makes the answer earlier (a probe that cannot be read
/// counts as not older than `time`; a scan that meets damage answers the
/// damaged offset, where a read reports the loss), so nothing at or after
/// `time` is skipped.
pub fn offset_for_time_blocking(
    shared: &Shared,
    name: &TopicName,
    topic: &Topic,
    time: Timestamp,
) -> Result<u64, StoreError> {
    // Where the answer can start: past segments found deleted by a
    // retention pass that has not moved the start past them yet.
    let mut floor = 0;
    let answer = loop {
        let (segment, anchor, active_index) = {
            let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
            let start = view.start_offset.max(floor);
            let next = view.next_offset();
            let later = view.sealed.partition_point(|s| s.newest_timestamp < time);
            let segment = view.sealed.get(later).unwrap_or(&view.active);
            // A segment wholly before the start holds no answer: the first
            // message held is at or after `time` then.
            let segment = if segment.end <= start && start < next {
                view.segment_of(start)
            } else {
                segment
            };
            let holds_newer =
                segment.end > segment.base.max(start) && segment.newest_timestamp >= time;
            if start >= next || !holds_newer {
                break next.max(start);
            }
            // The floor is always a segment's base, so only the start can
            // fall inside the segment.
            let anchor = if segment.base < view.start_offset {
                (view.start_offset, view.start_position)
            } else {
                (segment.base, SEGMENT_HEADER_LEN)
            };
            let active_index =
                (segment.base == view.active.base).then(|| view.active_index.clone());
            (segment.clone(), anchor, active_index)
        };
        let Some(file) = shared.files.get(&segment)? else {
            if topic.is_deleted() {
                return Err(StoreError::TopicNotFound(name.clone()));
            }
            // Deleted by retention (only sealed, wholly expired segments
            // are): the answer lies after it.
            floor = floor.max(segment.end);
            continue;
        };
        let index = match active_index {
            Some(entries) => Arc::new(entries),
            None => sealed_index(shared, &segment),
        };
        let (from_offset, from_position) =
            last_older_entry(&file, &index, anchor, segment.end, time);
        let mut records = RecordCursor::new(
            &file,
            from_position,
            segment.len,
            Some(from_offset),
            format::RECORD_HEADER_LEN * 64,
            segment.format,
        );
        break loop {
            match records.next_record() {
                Err(e) => {
                    return Err(StoreError::io(
                        format!("reading {}", segment.path.display()),
                        e,
                    ));
                }
                Ok(Err(_)) => break records.expected_offset().unwrap_or(from_offset),
                Ok(Ok(None)) => break segment.end,
                Ok(Ok(Some(record))) if record.header.offset >= segment.end => {
                    break segment.end;
                }
                Ok(Ok(Some(record))) if record.header.timestamp >= time => {
                    break record.header.offset;
                }
                Ok(Ok(Some(_))) => {}
            }
        };
    };
    if topic.is_deleted() {
        return Err(StoreError::TopicNotFound(name.clone()));
    }
    // Retention may have moved the start meanwhile: never answer an offset
    // it removed.
    let start = topic
        .view
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .start_offset;
    Ok(answer.max(start))
}

/// The last sparse index entry in `anchor..end` (by offset) whose record is
/// older than `time`, found by binary search reading one record header per
/// probe; `anchor` when there is none.
fn last_older_entry(
    file: &File,
    index: &[(u64, u64)],
    anchor: (u64, u64),
    end: u64,
    time: Timestamp,
) -> (u64, u64) {
    let entries = {
        let first = index.partition_point(|&(offset, _)| offset <= anchor.0);
        let last = index.partition_point(|&(offset, _)| offset < end);
        &index[first..last.max(first)]
    };
    let older = entries.partition_point(|&entry| {
        timestamp_at(file, entry).is_some_and(|timestamp| timestamp < time)
    });
    older.checked_sub(1).map_or(anchor, |i| entries[i])
}

/// The timestamp in the header of the record at `position`, if it reads
/// and names `offset` (an index entry that does not match its record is
/// not trusted).
fn timestamp_at(file: &File, (offset, position): (u64, u64)) -> Option<Timestamp> {
    let mut header = [0u8; format::RECORD_HEADER_LEN];
    file.read_exact_at(&mut header, position).ok()?;
    let header = format::decode_record_header(&header);
    (header.offset == offset).then_some(header.timestamp)
}

/// Where reading can go on after `damage` in `segment`, anchored on its
/// sparse index and its end; logged, since it means lost data.
fn resume_reading(
    shared: &Shared,
    name: &TopicName,
    topic: &Topic,
    (segment, file): (&SegmentView, &File),
    damage: &Damage,
    damaged_offset: u64,
) -> Result<Resumption, StoreError> {
    let index = {
        let view = topic.view.read().unwrap_or_else(PoisonError::into_inner);
        (segment.base == view.active.base).then(|| view.active_index.clone())
    };
    let index = match index {
        Some(entries) => entries,
        None => sealed_index(shared, segment).to_vec(),
    };
    let resumed = resume_after_damage(
        file,
        damage.position,
        damaged_offset,
        &index,
        segment.len,
        Some(segment.end),
    )
    .map_err(|e| StoreError::io(format!("reading {}", segment.path.display()), e))?
    .unwrap_or(Resumption {
        offset: segment.end,
        position: segment.len,
    });
    tracing::error!(
        topic = %name, file = %segment.path.display(), position = damage.position,
        reason = %damage.reason, first_offset = damaged_offset, next_good_offset = resumed.offset,
        "damaged records in the log cannot be read"
    );
    Ok(resumed)
}

/// A sealed segment's sparse index, through the cache; just the segment's
/// first record if its index cannot be read (reads are then slower, not
/// wrong).
fn sealed_index(shared: &Shared, segment: &SegmentView) -> IndexEntries {
    let (path, base) = (&segment.path, segment.base);
    let cached = shared
        .index_cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&segment.id)
        .cloned();
    if let Some(entries) = cached {
        return entries;
    }
    let index_path = path.with_extension("index");
    let entries = match fs::read(&index_path)
        .ok()
        .and_then(|bytes| format::decode_index_entries(&bytes))
    {
        Some((_, entries)) => Arc::new(entries),
        None => {
            // Remembered, so the warning comes once and not per read.
            tracing::warn!(file = %index_path.display(), "index unreadable; reads of this segment start at its first record");
            Arc::new(vec![(base, SEGMENT_HEADER_LEN)])
        }
    };
    shared
        .index_cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .put(segment.id, Arc::clone(&entries));
    entries
}
