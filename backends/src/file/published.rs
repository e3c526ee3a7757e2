//! The published view: what readers see of each topic (its segments, its
//! bounds, and how to find the file position of an offset), and what
//! readers and the writer share. The writer is the only one that changes
//! it, and only to publish data that is as durable as configured.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::format::{SEGMENT_HEADER_LEN, SegmentFormat};
use super::handles::{FileCache, FileIdentity};
use super::segment::RecordCursor;
use crate::{AppendNotifier, GroupTable, Timestamp, TopicName, TopicSettings};

/// A sealed segment's sparse index: (offset, position) pairs, ascending.
pub type IndexEntries = Arc<Vec<(u64, u64)>>;

/// What readers and the writer share.
#[derive(Debug)]
pub struct Shared {
    /// Every published topic.
    pub topics: RwLock<BTreeMap<TopicName, Arc<Topic>>>,
    /// Wakes readers waiting for appends; the writer announces each
    /// publish.
    pub notifier: AppendNotifier,
    /// The segment files kept open.
    pub files: FileCache,
    /// Recently used indexes of sealed segments, by segment.
    pub index_cache: Mutex<lru::LruCache<SegmentId, IndexEntries>>,
    /// Every group's durable commits; the writer changes them once they
    /// are as durable as configured.
    pub groups: RwLock<GroupTable>,
}

/// One segment as readers see it.
#[derive(Debug, Clone)]
pub struct SegmentView {
    /// The offset of its first record.
    pub base: u64,
    /// Its record layout.
    pub format: SegmentFormat,
    /// The offset after its last published record.
    pub end: u64,
    /// Its published length in bytes.
    pub len: u64,
    /// The timestamp of its last published record.
    pub newest_timestamp: Timestamp,
    /// The message bytes of its published records.
    pub size_bytes: u64,
    /// Which file it is, to open it through the [`FileCache`] (a read in
    /// flight keeps its handle, so a deleted segment stays readable to it).
    pub identity: FileIdentity,
    /// The file's path, to open it, for errors and reading its index.
    pub path: PathBuf,
    /// Which segment this is, for the index cache: unlike its path, never
    /// the same for a segment of a topic deleted and created again.
    pub id: SegmentId,
}

/// A segment's identity for as long as the store is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SegmentId(u64);

impl SegmentId {
    /// An identity no other segment has had since the process started.
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A topic's published state.
#[derive(Debug)]
pub struct TopicView {
    /// Sealed segments, oldest first.
    pub sealed: VecDeque<SegmentView>,
    /// The segment being appended to; never deleted.
    pub active: SegmentView,
    /// Sparse (offset, position) pairs of the active segment.
    pub active_index: Vec<(u64, u64)>,
    /// The first offset still readable.
    pub start_offset: u64,
    /// Where the record at `start_offset` starts, in its segment.
    pub start_position: u64,
    /// The message bytes of the records before `start_offset` in its
    /// segment: removed from the topic, still in the file.
    pub start_skipped_bytes: u64,
    /// The message bytes from `start_offset` to the end.
    pub size_bytes: u64,
    /// The timestamp of the message at `start_offset`; `None` when the
    /// topic holds none (or it is damaged). Kept here so that describing
    /// and listing topics reads no message data.
    pub oldest_timestamp: Option<Timestamp>,
}

impl TopicView {
    /// The offset the next message will get (as far as readers know).
    pub fn next_offset(&self) -> u64 {
        self.active.end
    }

    /// Keeps `start_position` meaning "in the segment holding the start":
    /// when the start is the first offset of a segment (the segment before
    /// it was wholly expired, then sealed), the position is that segment's
    /// first record.
    pub fn normalize_start(&mut self) {
        if self.segment_of(self.start_offset).base == self.start_offset {
            self.start_position = SEGMENT_HEADER_LEN;
            self.start_skipped_bytes = 0;
        }
    }

    /// The records of `segment` from the start offset on: how many there
    /// are, and their message bytes (none if it lies wholly before the
    /// start).
    pub fn readable_in(&self, segment: &SegmentView) -> (u64, u64) {
        if segment.end <= self.start_offset {
            return (0, 0);
        }
        if segment.base <= self.start_offset {
            let bytes = segment.size_bytes.saturating_sub(self.start_skipped_bytes);
            (segment.end - self.start_offset, bytes)
        } else {
            (segment.end - segment.base, segment.size_bytes)
        }
    }

    /// The message bytes from the start offset to the end.
    pub fn readable_bytes(&self) -> u64 {
        self.sealed
            .iter()
            .chain([&self.active])
            .map(|segment| self.readable_in(segment).1)
            .sum()
    }

    /// Reads the timestamp of the record at the start, for
    /// `oldest_timestamp` once the start moved (one small read); `None`
    /// when the topic holds nothing or that record is damaged.
    pub fn read_oldest_timestamp(&self, files: &FileCache) -> Option<Timestamp> {
        if self.start_offset >= self.next_offset() {
            return None;
        }
        let segment = self.segment_of(self.start_offset);
        let file = files.get(segment).ok()??;
        let mut cursor = RecordCursor::new(
            &file,
            self.start_position,
            segment.len,
            Some(self.start_offset),
            4096,
            segment.format,
        );
        match cursor.next_record() {
            Ok(Ok(Some(record))) => Some(record.header.timestamp),
            _ => None,
        }
    }

    /// The segment holding `offset` (which must be in `start..next`).
    pub fn segment_of(&self, offset: u64) -> &SegmentView {
        let later = self.sealed.partition_point(|s| s.base <= offset);
        match later.checked_sub(1).map(|i| &self.sealed[i]) {
            Some(segment) if offset < segment.end => segment,
            _ => &self.active,
        }
    }
}

/// A topic: its directory, its settings and its published state.
#[derive(Debug)]
pub struct Topic {
    /// The topic's directory.
    pub dir: PathBuf,
    /// The topic's own settings, as its settings file holds them.
    pub settings: RwLock<TopicSettings>,
    /// The published state.
    pub view: RwLock<TopicView>,
    /// Set once the topic is deleted: a read that found it before then
    /// answers [`StoreError::TopicNotFound`](crate::StoreError::TopicNotFound)
    /// rather than what it read.
    pub deleted: AtomicBool,
}

impl Topic {
    /// Whether the topic has been deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}

/// The largest indexed position at or before `offset`, as (offset,
/// position), from a sparse index sorted by offset.
pub fn index_lookup(entries: &[(u64, u64)], offset: u64) -> Option<(u64, u64)> {
    let after = entries.partition_point(|&(o, _)| o <= offset);
    after.checked_sub(1).map(|i| entries[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_the_entry_at_or_before() {
        let entries = [(1, 16), (40, 4100), (90, 8200)];
        assert_eq!(index_lookup(&entries, 1), Some((1, 16)));
        assert_eq!(index_lookup(&entries, 39), Some((1, 16)));
        assert_eq!(index_lookup(&entries, 40), Some((40, 4100)));
        assert_eq!(index_lookup(&entries, 1_000), Some((90, 8200)));
        assert_eq!(index_lookup(&entries, 0), None);
        assert_eq!(index_lookup(&[], 5), None);
    }
}
