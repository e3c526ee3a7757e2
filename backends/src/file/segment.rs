//! Segment files: creating them, reading their records (one cursor, used
//! by recovery, retention, reads and the offline check alike, that reads in
//! chunks and checks every record's checksum and offset before handing it
//! out), building their sparse indexes, and finding where good records
//! start again after damage.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use super::disk::{self, Disk};
use super::format::{
    self, ProducerMark, RECORD_HEADER_LEN, RecordBody, RecordHeader, SEGMENT_HEADER_LEN,
    SegmentFormat,
};
use super::handles::{FileCache, FileIdentity};
use super::published::{SegmentId, SegmentView};
use crate::{StoreError, Timestamp};

/// An index entry is added at least this many bytes apart, so a read
/// starts at most this far before its first record.
pub const INDEX_INTERVAL: u64 = 4096;
/// How much a scan of a whole segment reads at a time.
pub const SCAN_CHUNK: usize = 256 * 1024;

/// One record read from a segment.
#[derive(Debug, Clone)]
pub struct Record {
    /// Where the record starts in its file.
    pub position: u64,
    /// Its decoded header.
    pub header: RecordHeader,
    /// Its payload, key, headers and producer; the bytes are slices of
    /// the chunk it was read in.
    pub body: RecordBody,
}

/// Why the bytes at a position are not the record expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Where the bad record starts.
    pub position: u64,
    /// What is wrong, for the log and the error.
    pub reason: String,
}

impl Damage {
    /// The error a read or scan answers with when it cannot go past this
    /// damage in the segment at `path`.
    pub fn into_corrupt(self, path: &Path) -> StoreError {
        StoreError::Corrupt {
            path: path.to_owned(),
            position: self.position,
            detail: self.reason,
        }
    }
}

/// Reads consecutive records from `position` up to `end` in one file.
pub struct RecordCursor<'a> {
    file: &'a File,
    /// The layout of the segment read: an extended record in a v1 segment
    /// is damage.
    format: SegmentFormat,
    position: u64,
    end: u64,
    expected_offset: Option<u64>,
    chunk: Bytes,
    chunk_start: u64,
    chunk_size: usize,
}

impl<'a> RecordCursor<'a> {
    /// A cursor over `file[position..end]`, a segment of `format`, reading
    /// `chunk_size` bytes at a time (more when one record is larger). When
    /// `expected_offset` is given, the first record must have it and each
    /// next one the next.
    pub fn new(
        file: &'a File,
        position: u64,
        end: u64,
        expected_offset: Option<u64>,
        chunk_size: usize,
        format: SegmentFormat,
    ) -> Self {
        Self {
            file,
            format,
            position,
            end,
            expected_offset,
            chunk: Bytes::new(),
            chunk_start: position,
            chunk_size,
        }
    }

    /// Reads `chunk_size` bytes at a time from the next read on: a scan
    /// that may stop at its first record starts small and grows once it
    /// knows it will go on.
    pub fn set_chunk_size(&mut self, chunk_size: usize) {
        self.chunk_size = chunk_size;
    }

    /// Where the next record starts: after the last one returned.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The offset the next record must have, if the cursor checks offsets:
    /// after damage, the offset of the record that is damaged.
    pub fn expected_offset(&self) -> Option<u64> {
        self.expected_offset
    }

    /// The next record; `Ok(Ok(None))` at `end`; `Ok(Err(damage))` when the
    /// bytes there are torn, corrupt or out of sequence.
    pub fn next_record(&mut self) -> io::Result<Result<Option<Record>, Damage>> {
        if self.position >= self.end {
            return Ok(Ok(None));
        }
        let damage = |position, reason: String| Ok(Err(Damage { position, reason }));
        let remaining = self.end - self.position;
        if remaining < RECORD_HEADER_LEN as u64 {
            return damage(
                self.position,
                format!("{remaining} bytes left, too few for a record header"),
            );
        }
        self.ensure(RECORD_HEADER_LEN)?;
        let at = (self.position - self.chunk_start) as usize;
        let header = format::decode_record_header(&self.chunk[at..]);
        let record_len = header.record_len() as u64;
        if record_len > remaining {
            return damage(
                self.position,
                format!(
                    "a record of {record_len} bytes where only {remaining} remain (torn write)"
                ),
            );
        }
        self.ensure(header.record_len())?;
        let at = (self.position - self.chunk_start) as usize;
        let bytes = &self.chunk[at..at + header.record_len()];
        if !format::record_crc_matches(&header, bytes) {
            return damage(self.position, "checksum mismatch".to_owned());
        }
        if header.extended && self.format == SegmentFormat::V1 {
            return damage(self.position, "an extended record in a v1 segment".into());
        }
        if let Some(expected) = self.expected_offset {
            if header.offset != expected {
                return damage(
                    self.position,
                    format!("offset {} where {expected} was expected", header.offset),
                );
            }
            self.expected_offset = Some(expected + 1);
        }
        let body = match format::decode_body(&header, &self.chunk, at) {
            Ok(body) => body,
            Err(reason) => return damage(self.position, reason),
        };
        let record = Record {
            position: self.position,
            header,
            body,
        };
        self.position += record_len;
        Ok(Ok(Some(record)))
    }

    /// Makes sure the chunk holds `len` bytes from the cursor's position,
    /// reading a new chunk there if not.
    fn ensure(&mut self, len: usize) -> io::Result<()> {
        let at = self.position - self.chunk_start;
        if self.position >= self.chunk_start && at + len as u64 <= self.chunk.len() as u64 {
            return Ok(());
        }
        let want = (self.end - self.position).min(len.max(self.chunk_size) as u64) as usize;
        let mut buffer = BytesMut::zeroed(want);
        self.file.read_exact_at(&mut buffer, self.position)?;
        self.chunk = buffer.freeze();
        self.chunk_start = self.position;
        Ok(())
    }
}

/// Adds an index entry every [`INDEX_INTERVAL`] bytes, and for the first
/// record, as records are appended or scanned.
#[derive(Debug, Default, Clone)]
pub struct IndexBuilder {
    /// The entries so far.
    pub entries: Vec<(u64, u64)>,
}

impl IndexBuilder {
    /// Notes a record at `position` with `offset`.
    pub fn observe(&mut self, offset: u64, position: u64) {
        let due = self
            .entries
            .last()
            .is_none_or(|&(_, last)| position >= last + INDEX_INTERVAL);
        if due {
            self.entries.push((offset, position));
        }
    }
}

/// What a scan of one segment found.
#[derive(Debug)]
pub struct Scan {
    /// The offset after the last whole batch.
    pub end_offset: u64,
    /// The length up to the end of the last whole batch.
    pub good_len: u64,
    /// The timestamp of the last whole batch.
    pub newest_timestamp: Timestamp,
    /// The message bytes of the records up to `good_len`.
    pub size_bytes: u64,
    /// Sparse index entries of the records up to `good_len`.
    pub index: Vec<(u64, u64)>,
    /// The producer batches up to `good_len`, in order: their producer,
    /// offsets and timestamp, to rebuild the producer table.
    pub producer_batches: Vec<ProducerBatch>,
    /// What stopped the scan before the file's end, if anything.
    pub damage: Option<Damage>,
}

/// A stored batch of a producer, as a scan finds it on its last record.
#[derive(Debug, Clone, Copy)]
pub struct ProducerBatch {
    /// The producer and sequence.
    pub producer: crate::ProducerSequence,
    /// The batch's offsets.
    pub offsets: crate::OffsetRange,
    /// When it was stored.
    pub timestamp: Timestamp,
}

impl ProducerBatch {
    /// The batch a producer mark on the record at `last_offset` describes.
    pub fn of(mark: ProducerMark, last_offset: u64, timestamp: Timestamp) -> Self {
        Self {
            producer: mark.producer,
            offsets: crate::OffsetRange {
                first: last_offset + 1 - u64::from(mark.record_count),
                last: last_offset,
            },
            timestamp,
        }
    }
}

/// Reads every record of a segment of `format` from its header to `len`,
/// checking each.
pub fn scan_segment(
    file: &File,
    base: u64,
    len: u64,
    format: SegmentFormat,
    path: &Path,
) -> Result<Scan, StoreError> {
    let mut cursor = RecordCursor::new(
        file,
        SEGMENT_HEADER_LEN,
        len,
        Some(base),
        SCAN_CHUNK,
        format,
    );
    let mut builder = IndexBuilder::default();
    let mut scan = Scan {
        end_offset: base,
        good_len: SEGMENT_HEADER_LEN,
        newest_timestamp: Timestamp::default(),
        size_bytes: 0,
        index: Vec::new(),
        producer_batches: Vec::new(),
        damage: None,
    };
    // Counted per batch, so the totals cover whole batches only.
    let (mut batch_bytes, mut batches) = (0, Vec::new());
    loop {
        match cursor
            .next_record()
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?
        {
            Ok(Some(record)) => {
                builder.observe(record.header.offset, record.position);
                batch_bytes += record.body.size();
                if let Some(mark) = record.body.producer {
                    let (offset, timestamp) = (record.header.offset, record.header.timestamp);
                    batches.push(ProducerBatch::of(mark, offset, timestamp));
                }
                if record.header.batch_end {
                    scan.end_offset = record.header.offset + 1;
                    scan.good_len = cursor.position();
                    scan.newest_timestamp = record.header.timestamp;
                    scan.size_bytes += std::mem::take(&mut batch_bytes);
                    scan.producer_batches.append(&mut batches);
                }
            }
            Ok(None) => break,
            Err(damage) => {
                scan.damage = Some(damage);
                break;
            }
        }
    }
    if scan.damage.is_none() && scan.good_len < len {
        scan.damage = Some(Damage {
            position: scan.good_len,
            reason: "the last batch is incomplete".into(),
        });
    }
    builder
        .entries
        .retain(|&(offset, _)| offset < scan.end_offset);
    scan.index = builder.entries;
    Ok(scan)
}

/// Creates an empty segment starting at `base` in `dir`, durably (file and
/// directory entry), in every durability mode: segments are created rarely.
pub fn create_segment(
    disk: &dyn Disk,
    files: &FileCache,
    dir: &Path,
    base: u64,
) -> Result<SegmentView, StoreError> {
    let path = dir.join(format::segment_file_name(base));
    let file = disk
        .create_new(&path)
        .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))?;
    let created = disk
        .write_at(&file, &format::encode_segment_header(base), 0)
        .and_then(|()| disk.sync_all(&file))
        .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))
        .and_then(|()| disk::sync_dir(disk, dir));
    if let Err(error) = created {
        // Leave nothing behind, so the next attempt can create it afresh.
        let _ = disk.remove_file(&path);
        return Err(error);
    }
    empty_segment(files, file, base, path, SegmentFormat::V2)
}

/// A segment holding only its header, whose file `files` keeps open.
pub fn empty_segment(
    files: &FileCache,
    file: File,
    base: u64,
    path: PathBuf,
    format: SegmentFormat,
) -> Result<SegmentView, StoreError> {
    let contents = Contents {
        end: base,
        len: SEGMENT_HEADER_LEN,
        newest_timestamp: Timestamp::default(),
        size_bytes: 0,
    };
    segment_view(files, file, base, format, contents, path)
}

/// What a segment holds, as far as it is known.
#[derive(Debug, Clone, Copy)]
pub struct Contents {
    /// The offset after its last record.
    pub end: u64,
    /// Its length in bytes.
    pub len: u64,
    /// The timestamp of its last record.
    pub newest_timestamp: Timestamp,
    /// The message bytes of its records.
    pub size_bytes: u64,
}

/// The view of the segment in `file` (at `path`) holding offsets from
/// `base` with `contents`; `files` keeps the file open.
pub fn segment_view(
    files: &FileCache,
    file: File,
    base: u64,
    format: SegmentFormat,
    contents: Contents,
    path: PathBuf,
) -> Result<SegmentView, StoreError> {
    let segment = SegmentView {
        base,
        format,
        end: contents.end,
        len: contents.len,
        newest_timestamp: contents.newest_timestamp,
        size_bytes: contents.size_bytes,
        identity: FileIdentity::of(&file, &path)?,
        path,
        id: SegmentId::new(),
    };
    files.adopt(segment.id, file);
    Ok(segment)
}

/// Where good records start again after damage in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumption {
    /// The first offset after the damage that can be read.
    pub offset: u64,
    /// Where its record starts (the segment's length: none is left in it).
    pub position: u64,
}

/// Finds the first record after the damaged one at `damaged_at` (which
/// should have had `damaged_offset`) that can be trusted, without trusting
/// any length field inside the damage. The anchors are the entries of the
/// segment's sparse index past the damage whose records verify, and the
/// segment's end (`len`, whose offset is `end_offset` when known). Between
/// the damage and the first anchor, the earliest position holding a record
/// whose checksum verifies, whose offset fits, and from which whole,
/// consecutive records lead exactly to the anchor, is where reading goes
/// on; if there is none, the anchor is. `None` only when the end's offset
/// is unknown and no record after the damage leads to it.
pub fn resume_after_damage(
    file: &File,
    damaged_at: u64,
    damaged_offset: u64,
    index: &[(u64, u64)],
    len: u64,
    end_offset: Option<u64>,
) -> io::Result<Option<Resumption>> {
    let entries = index
        .iter()
        .filter(|&&(offset, position)| position > damaged_at && offset > damaged_offset)
        .map(|&(offset, position)| (Some(offset), position));
    for (anchor_offset, anchor_at) in entries.chain([(end_offset, len)]) {
        if let (Some(offset), true) = (anchor_offset, anchor_at < len) {
            // Only whether a record verifies there: its layout is the
            // reads' to check.
            let mut cursor =
                RecordCursor::new(file, anchor_at, len, Some(offset), 4096, SegmentFormat::V2);
            if !matches!(cursor.next_record()?, Ok(Some(_))) {
                continue; // the entry points into the damage too
            }
        }
        let from = damaged_at + 1;
        let mut bytes = vec![0u8; anchor_at.saturating_sub(from) as usize];
        file.read_exact_at(&mut bytes, from)?;
        let found = (0..bytes.len()).find_map(|at| {
            let offset = record_chain(&bytes[at..], damaged_offset, anchor_offset)?;
            Some(Resumption {
                offset,
                position: from + at as u64,
            })
        });
        return Ok(found.or(anchor_offset.map(|offset| Resumption {
            offset,
            position: anchor_at,
        })));
    }
    Ok(None)
}

/// The offset of the first record of `bytes` if all of `bytes` is whole,
/// checksummed records with consecutive offsets after `after`, followed by
/// `next_offset` (when known).
fn record_chain(bytes: &[u8], after: u64, next_offset: Option<u64>) -> Option<u64> {
    let mut at = 0;
    let mut first = None;
    let mut expected: Option<u64> = None;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < RECORD_HEADER_LEN {
            return None;
        }
        let header = format::decode_record_header(rest);
        let fits = header.record_len() <= rest.len()
            && header.offset > after
            && header.offset <= format::MAX_OFFSET
            && expected.is_none_or(|e| e == header.offset)
            && next_offset.is_none_or(|n| header.offset < n);
        if !fits || !format::record_crc_matches(&header, &rest[..header.record_len()]) {
            return None;
        }
        first.get_or_insert(header.offset);
        expected = Some(header.offset + 1);
        at += header.record_len();
    }
    match (expected, next_offset) {
        (Some(expected), Some(next)) if expected != next => None,
        _ => first,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::Timestamp;

    fn file_of(records: &[(u64, &[u8])]) -> (tempfile::NamedTempFile, u64) {
        let mut bytes = Vec::new();
        for &(offset, payload) in records {
            format::encode_record(
                &mut bytes,
                offset,
                Timestamp::from_nanos(offset),
                payload,
                true,
            );
        }
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(&bytes).expect("write");
        (file, bytes.len() as u64)
    }

    #[test]
    fn reads_records_across_chunk_boundaries() {
        let big = vec![7u8; 300];
        let (file, len) = file_of(&[(5, b"a"), (6, &big), (7, b""), (8, b"end")]);
        let mut cursor = RecordCursor::new(file.as_file(), 0, len, Some(5), 32, SegmentFormat::V2);
        let mut got = Vec::new();
        while let Some(record) = cursor.next_record().expect("io").expect("intact") {
            got.push((record.header.offset, record.body.payload.len()));
        }
        assert_eq!(got, vec![(5, 1), (6, 300), (7, 0), (8, 3)]);
        assert_eq!(cursor.position(), len);
    }

    #[test]
    fn a_torn_tail_is_damage_at_the_record_that_tore() {
        let (file, len) = file_of(&[(1, b"whole"), (2, b"torn off")]);
        let mut cursor =
            RecordCursor::new(file.as_file(), 0, len - 3, Some(1), 4096, SegmentFormat::V2);
        assert!(cursor.next_record().expect("io").expect("intact").is_some());
        let damage = cursor.next_record().expect("io").expect_err("torn");
        assert_eq!(damage.position, (RECORD_HEADER_LEN + 5) as u64);
        assert!(damage.reason.contains("torn"), "{}", damage.reason);
    }

    #[test]
    fn corrupt_bytes_and_wrong_offsets_are_damage() {
        let (file, len) = file_of(&[(1, b"abc"), (3, b"skipped one")]);
        let mut cursor =
            RecordCursor::new(file.as_file(), 0, len, Some(1), 4096, SegmentFormat::V2);
        assert!(cursor.next_record().expect("io").expect("intact").is_some());
        let damage = cursor
            .next_record()
            .expect("io")
            .expect_err("gap in offsets");
        assert!(
            damage.reason.contains("offset 3 where 2"),
            "{}",
            damage.reason
        );

        let mut bytes = std::fs::read(file.path()).expect("read");
        bytes[RECORD_HEADER_LEN] ^= 0xff;
        std::fs::write(file.path(), &bytes).expect("write");
        let reopened = File::open(file.path()).expect("open");
        let mut cursor = RecordCursor::new(&reopened, 0, len, None, 4096, SegmentFormat::V2);
        let damage = cursor
            .next_record()
            .expect("io")
            .expect_err("flipped payload byte");
        assert_eq!(
            (damage.position, damage.reason.as_str()),
            (0, "checksum mismatch")
        );
    }

    /// A v1 segment is read by the v1 rules: a record with the extension
    /// flag (which v1 never wrote) is damage there, and read in a v2 one.
    #[test]
    fn an_extended_record_is_damage_in_a_v1_segment() {
        let mut bytes = Vec::new();
        let record = crate::Record {
            key: Bytes::from_static(b"key"),
            ..crate::Record::from_payload(Bytes::from_static(b"payload"))
        };
        format::encode_full_record(&mut bytes, 1, Timestamp::from_nanos(1), &record, true, None);
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(&bytes).expect("write");
        let len = bytes.len() as u64;
        let read = |format| {
            RecordCursor::new(file.as_file(), 0, len, Some(1), 4096, format)
                .next_record()
                .expect("io")
        };
        let damage = read(SegmentFormat::V1).expect_err("damage in v1");
        assert!(damage.reason.contains("v1"), "{}", damage.reason);
        let record = read(SegmentFormat::V2).expect("intact").expect("a record");
        assert_eq!(&record.body.key[..], b"key");
    }

    /// Flips a byte at `at` of `file`.
    fn flip(file: &tempfile::NamedTempFile, at: usize) {
        let mut bytes = std::fs::read(file.path()).expect("read");
        bytes[at] ^= 0x01;
        std::fs::write(file.path(), bytes).expect("write");
    }

    #[test]
    fn reading_resumes_at_the_record_after_the_damage() {
        let (file, len) = file_of(&[(1, b"one"), (2, b"two"), (3, b"three"), (4, b"four")]);
        let at = |k: u64| [0u64, 27, 54, 83][k as usize - 1];
        flip(&file, at(2) as usize + RECORD_HEADER_LEN);
        let reopened = File::open(file.path()).expect("open");
        let resumed = resume_after_damage(&reopened, at(2), 2, &[(1, 0)], len, Some(5));
        assert_eq!(
            resumed.expect("io"),
            Some(Resumption {
                offset: 3,
                position: at(3)
            })
        );
        let unknown_end = resume_after_damage(&reopened, at(2), 2, &[], len, None);
        assert_eq!(unknown_end.expect("io").map(|r| r.offset), Some(3));
    }

    /// An index entry past the damage is an anchor only if its record
    /// verifies; one inside the damage is passed over for the next.
    #[test]
    fn index_entries_inside_the_damage_are_not_anchors() {
        let records: Vec<(u64, Vec<u8>)> = (1..=6).map(|o| (o, vec![b'x'; 10])).collect();
        let records: Vec<(u64, &[u8])> = records.iter().map(|(o, p)| (*o, &p[..])).collect();
        let (file, len) = file_of(&records);
        let at = |offset: u64| (offset - 1) * 34;
        // Records 2 to 4 wholly zeroed: the entry for 3 points into them.
        let mut bytes = std::fs::read(file.path()).expect("read");
        bytes[at(2) as usize..at(5) as usize].fill(0);
        std::fs::write(file.path(), bytes).expect("write");
        let reopened = File::open(file.path()).expect("open");
        let index = [(1, at(1)), (3, at(3)), (5, at(5))];
        let resumed = resume_after_damage(&reopened, at(2), 2, &index, len, Some(7));
        assert_eq!(
            resumed.expect("io"),
            Some(Resumption {
                offset: 5,
                position: at(5)
            })
        );
    }

    /// A payload that holds a whole encoded record (offset and checksum
    /// right) is not taken for the next record: what follows it does not
    /// lead on in sequence.
    #[test]
    fn a_record_inside_a_payload_is_not_where_reading_resumes() {
        let mut embedded = Vec::new();
        format::encode_record(&mut embedded, 3, Timestamp::from_nanos(3), b"fake", true);
        let (file, len) = file_of(&[(1, b"one"), (2, &embedded), (3, b"real")]);
        let second = (RECORD_HEADER_LEN + 3) as u64;
        flip(&file, second as usize); // the second record's checksum
        let reopened = File::open(file.path()).expect("open");
        let resumed = resume_after_damage(&reopened, second, 2, &[], len, Some(4));
        let third = second + (RECORD_HEADER_LEN + embedded.len()) as u64;
        assert_eq!(
            resumed.expect("io"),
            Some(Resumption {
                offset: 3,
                position: third
            })
        );
    }
}
