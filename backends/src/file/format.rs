//! The byte layout of the file store, and nothing else: encoding and
//! decoding of segment headers, records, index files, start files and
//! settings files.
//! docs/storage.md describes the same layout for independent readers.
//!
//! All integers are little-endian. Every structure carries a CRC32C
//! (Castagnoli) so a torn or corrupt write is detected, never served.

use std::time::Duration;

use bytes::{BufMut, Bytes};

use crate::producers::RememberedProducer;
use crate::{
    Header, OffsetRange, ProducerSequence, Record, RetentionAge, Timestamp, TopicSettings,
};

/// The first bytes of every segment file this version writes.
pub const SEGMENT_MAGIC: &[u8; 8] = b"MKFKLOG2";
/// The first bytes of a segment written before keys, headers and
/// producers (read, never written).
pub const SEGMENT_MAGIC_V1: &[u8; 8] = b"MKFKLOG1";
/// Segment header: magic, then the segment's base offset (u64).
pub const SEGMENT_HEADER_LEN: u64 = 16;

/// Which record layout a segment holds, by its magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentFormat {
    /// `MKFKLOG1`: every record is a payload only; never written now.
    V1,
    /// `MKFKLOG2`: records may carry a key, headers and a producer.
    V2,
}

/// Record header: crc32c (u32), flags and body length (u32), the
/// extension flag and offset (u64), timestamp in nanoseconds since the
/// Unix epoch (u64). The same 24 bytes in v1 and v2.
pub const RECORD_HEADER_LEN: usize = 24;
/// Set in a record's length word on the last record of a batch: a batch is
/// stored whole or, after a crash, cut off whole.
pub const BATCH_END: u32 = 1 << 31;
/// The largest body a record can hold (the length word's low 31 bits).
pub const MAX_PAYLOAD_LEN: usize = (BATCH_END - 1) as usize;
/// Set in a v2 record's offset word when its body starts with an
/// extension (key, headers, producer). Offsets never reach it, so a v1
/// record never has it, and a plain v2 record is laid out as a v1 one.
pub const EXTENDED: u64 = 1 << 63;
/// Extension flags (its first byte): what follows, in this order.
const HAS_KEY: u8 = 1;
const HAS_HEADERS: u8 = 2;
const HAS_PRODUCER: u8 = 4;
/// The producer fields on a batch's last record: id (u64), sequence (u64),
/// the batch's record count (u32).
const PRODUCER_LEN: usize = 20;

/// The producer of a stored batch, as its last record carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerMark {
    /// The producer and the batch's sequence.
    pub producer: ProducerSequence,
    /// How many records the batch holds (so its first offset is known).
    pub record_count: u32,
}

/// The file name of the segment whose first offset is `base`: 20 digits,
/// so names sort as numbers do.
pub fn segment_file_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// The index file name for the segment whose first offset is `base`.
pub fn index_file_name(base: u64) -> String {
    format!("{base:020}.index")
}

/// The base offset a segment file name stands for, if it is one.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&base| base <= MAX_OFFSET)
}

/// The largest offset the store numbers a message with: far beyond any
/// real log (29,000 years at ten million messages a second), and the
/// largest a signed 64-bit integer holds, so clients in languages without
/// unsigned integers read every offset right. A segment named past it was
/// not written by the store, and arithmetic on offsets cannot overflow.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// A (v2) segment file's header.
pub fn encode_segment_header(base: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..].copy_from_slice(&base.to_le_bytes());
    header
}

/// The base offset and layout a segment header names, or `None` if it is
/// not one.
pub fn decode_segment_header(header: &[u8]) -> Option<(u64, SegmentFormat)> {
    if header.len() < SEGMENT_HEADER_LEN as usize {
        return None;
    }
    let format = match &header[..8] {
        magic if magic == SEGMENT_MAGIC => SegmentFormat::V2,
        magic if magic == SEGMENT_MAGIC_V1 => SegmentFormat::V1,
        _ => return None,
    };
    Some((u64_at(header, 8), format))
}

/// Appends one plain record (a payload, no extension) to `out`.
pub fn encode_record(
    out: &mut Vec<u8>,
    offset: u64,
    timestamp: Timestamp,
    payload: &[u8],
    batch_end: bool,
) {
    debug_assert!(payload.len() <= MAX_PAYLOAD_LEN);
    let start = out.len();
    let length = payload.len() as u32 | if batch_end { BATCH_END } else { 0 };
    out.put_u32_le(0); // crc, filled in below
    out.put_u32_le(length);
    out.put_u64_le(offset);
    out.put_u64_le(timestamp.as_nanos());
    out.put_slice(payload);
    let crc = crc32c::crc32c(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The body length of `record` on disk, with the producer fields when
/// `producer` (a batch's last record of a producer's batch).
pub fn body_len(record: &Record, producer: bool) -> usize {
    if record.key.is_empty() && record.headers.is_empty() && !producer {
        return record.payload.len();
    }
    let key = if record.key.is_empty() {
        0
    } else {
        4 + record.key.len()
    };
    let headers = if record.headers.is_empty() {
        0
    } else {
        4 + record
            .headers
            .iter()
            .map(|h| 8 + h.name.len() + h.value.len())
            .sum::<usize>()
    };
    1 + key + headers + if producer { PRODUCER_LEN } else { 0 } + record.payload.len()
}

/// Appends one record to `out`: plain when it has no key, no headers and
/// no producer (the v1 layout), else with an extension.
pub fn encode_full_record(
    out: &mut Vec<u8>,
    offset: u64,
    timestamp: Timestamp,
    record: &Record,
    batch_end: bool,
    producer: Option<ProducerMark>,
) {
    if record.key.is_empty() && record.headers.is_empty() && producer.is_none() {
        return encode_record(out, offset, timestamp, &record.payload, batch_end);
    }
    let body = body_len(record, producer.is_some());
    debug_assert!(body <= MAX_PAYLOAD_LEN);
    let start = out.len();
    out.reserve(RECORD_HEADER_LEN + body);
    out.put_u32_le(0); // crc, filled in below
    out.put_u32_le(body as u32 | if batch_end { BATCH_END } else { 0 });
    out.put_u64_le(offset | EXTENDED);
    out.put_u64_le(timestamp.as_nanos());
    let flags = if record.key.is_empty() { 0 } else { HAS_KEY }
        | if record.headers.is_empty() {
            0
        } else {
            HAS_HEADERS
        }
        | if producer.is_some() { HAS_PRODUCER } else { 0 };
    out.put_u8(flags);
    if !record.key.is_empty() {
        out.put_u32_le(record.key.len() as u32);
        out.put_slice(&record.key);
    }
    if !record.headers.is_empty() {
        out.put_u32_le(record.headers.len() as u32);
        for header in &record.headers {
            out.put_u32_le(header.name.len() as u32);
            out.put_slice(header.name.as_bytes());
            out.put_u32_le(header.value.len() as u32);
            out.put_slice(&header.value);
        }
    }
    if let Some(mark) = producer {
        out.put_u64_le(mark.producer.producer_id);
        out.put_u64_le(mark.producer.sequence);
        out.put_u32_le(mark.record_count);
    }
    out.put_slice(&record.payload);
    let crc = crc32c::crc32c(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// A record's header fields, decoded but not yet checked against its
/// body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The stored checksum.
    pub crc: u32,
    /// The body's length in bytes (in a plain record, the payload's).
    pub body_len: usize,
    /// Whether this record ends its batch.
    pub batch_end: bool,
    /// Whether the body starts with an extension (v2 only).
    pub extended: bool,
    /// The record's offset.
    pub offset: u64,
    /// The record's timestamp.
    pub timestamp: Timestamp,
}

impl RecordHeader {
    /// The record's whole length on disk.
    pub fn record_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len
    }
}

/// Decodes a record header from the first [`RECORD_HEADER_LEN`] bytes.
pub fn decode_record_header(bytes: &[u8]) -> RecordHeader {
    let length = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let offset = u64_at(bytes, 8);
    RecordHeader {
        crc: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        body_len: (length & !BATCH_END) as usize,
        batch_end: length & BATCH_END != 0,
        extended: offset & EXTENDED != 0,
        offset: offset & !EXTENDED,
        timestamp: Timestamp::from_nanos(u64_at(bytes, 16)),
    }
}

/// Whether `record` (header and body, exactly) matches its checksum.
pub fn record_crc_matches(header: &RecordHeader, record: &[u8]) -> bool {
    crc32c::crc32c(&record[4..]) == header.crc
}

/// A record's body, decoded: what a message holds, and the producer of
/// its batch on a batch's last record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordBody {
    /// The payload.
    pub payload: Bytes,
    /// The key; empty for none.
    pub key: Bytes,
    /// The headers, in order.
    pub headers: Vec<Header>,
    /// The batch's producer, on the last record of a producer's batch.
    pub producer: Option<ProducerMark>,
}

impl RecordBody {
    /// What the message counts for in sizes and limits: payload, key and
    /// every header's name and value (see [`Record::size`]).
    pub fn size(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum();
        (self.payload.len() + self.key.len() + headers) as u64
    }
}

/// Decodes the body of a record whose checksum matched, which starts at
/// `at` in `chunk`; its fields are slices of the chunk. An error says why
/// the body is malformed (only a bug could checksum one).
pub fn decode_body(header: &RecordHeader, chunk: &Bytes, at: usize) -> Result<RecordBody, String> {
    let body = chunk.slice(at + RECORD_HEADER_LEN..at + header.record_len());
    if !header.extended {
        return Ok(RecordBody {
            payload: body,
            ..RecordBody::default()
        });
    }
    let mut reader = BodyReader { body: &body, at: 1 };
    let flags = *body.first().ok_or("an extended record without its flags")?;
    if flags & !(HAS_KEY | HAS_HEADERS | HAS_PRODUCER) != 0 {
        return Err(format!("unknown extension flags {flags:#04x}"));
    }
    let mut decoded = RecordBody::default();
    if flags & HAS_KEY != 0 {
        let len = reader.u32()? as usize;
        decoded.key = reader.bytes(len)?;
    }
    if flags & HAS_HEADERS != 0 {
        let count = reader.u32()? as usize;
        decoded.headers = Vec::with_capacity(count.min(body.len() / 8));
        for _ in 0..count {
            let len = reader.u32()? as usize;
            let name = reader.bytes(len)?;
            let name = String::from_utf8(name.to_vec())
                .map_err(|_| "a header name that is not UTF-8".to_owned())?;
            let len = reader.u32()? as usize;
            let value = reader.bytes(len)?;
            decoded.headers.push(Header { name, value });
        }
    }
    if flags & HAS_PRODUCER != 0 {
        if !header.batch_end {
            return Err("producer fields on a record that does not end its batch".into());
        }
        let producer_id = reader.u64()?;
        let sequence = reader.u64()?;
        let record_count = reader.u32()?;
        if record_count == 0 || u64::from(record_count) > header.offset {
            return Err(format!(
                "a batch of {record_count} records ending at offset {}",
                header.offset
            ));
        }
        decoded.producer = Some(ProducerMark {
            producer: ProducerSequence {
                producer_id,
                sequence,
            },
            record_count,
        });
    }
    decoded.payload = body.slice(reader.at..);
    Ok(decoded)
}

/// Reads the fields of an extension in order, refusing to run past the
/// body.
struct BodyReader<'a> {
    body: &'a Bytes,
    at: usize,
}

impl BodyReader<'_> {
    fn bytes(&mut self, len: usize) -> Result<Bytes, String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.body.len())
            .ok_or_else(|| format!("a field of {len} bytes runs past the record's body"))?;
        let field = self.body.slice(self.at..end);
        self.at = end;
        Ok(field)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64_at(&self.bytes(8)?, 0))
    }
}

/// The first bytes of every index file this version writes.
pub const INDEX_MAGIC: &[u8; 8] = b"MKFKIDX2";
/// The first bytes of an index written before v2 (read, never written).
pub const INDEX_MAGIC_V1: &[u8; 8] = b"MKFKIDX1";
/// v1 index header: magic, end offset (u64), log length (u64), newest
/// timestamp (u64), entry count (u32), crc32c of the entries (u32), crc32c
/// of the header's first 40 bytes (u32).
pub const INDEX_HEADER_LEN_V1: usize = 44;
/// v2 index header: magic, end offset (u64), log length (u64), newest
/// timestamp (u64), size in message bytes (u64), entry count (u32), crc32c
/// of the entries (u32), snapshot length (u32), crc32c of the snapshot
/// (u32), flags (u32), crc32c of the header's first 60 bytes (u32). The
/// header has its own checksum so start-up can trust a segment from these
/// bytes alone.
pub const INDEX_HEADER_LEN: usize = 64;
/// Index flag: the file ends with a snapshot of the topic's producers as
/// they were when the segment was sealed.
const HAS_SNAPSHOT: u32 = 1;
/// One index entry: an offset (u64) and its record's position (u64).
pub const INDEX_ENTRY_LEN: usize = 16;

/// The directory under the root that holds one directory per topic.
pub const TOPICS_DIR: &str = "topics";
/// The name of the file, in a topic's directory, holding its first
/// readable offset (once retention moved it).
pub const START_FILE: &str = "start";
/// The first bytes of a topic's start file this version writes.
pub const START_MAGIC: &[u8; 8] = b"MKFKSTR2";
/// The first bytes of a start file written before v2.
pub const START_MAGIC_V1: &[u8; 8] = b"MKFKSTR1";
/// v2 start file: magic, start offset (u64), its position in its segment
/// (u64), the size in message bytes of the records before it in its
/// segment (u64), crc32c (u32) of the bytes before it.
pub const START_LEN: usize = 36;
/// v1 start file: magic, start offset, position, crc32c.
pub const START_LEN_V1: usize = 28;

/// The directory under the root where a deleted topic's directory is
/// moved, out of the topic namespace in one rename, before it is removed;
/// whatever a crash leaves there is removed at start-up.
pub const DELETED_DIR: &str = "deleted";
/// The name of the file, in a topic's directory, holding the topic's own
/// settings (absent: it follows the server's defaults in everything).
pub const SETTINGS_FILE: &str = "settings";
/// The first line of a settings file.
pub const SETTINGS_MAGIC: &str = "MKFKSET1";

/// A sealed segment's index: where some of its records are, and what a
/// start-up needs to know about the segment without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentIndex {
    /// The offset after the segment's last record.
    pub end_offset: u64,
    /// The segment file's length in bytes.
    pub log_len: u64,
    /// The timestamp of the segment's last (newest) record.
    pub newest_timestamp: Timestamp,
    /// The message bytes ([`RecordBody::size`]) of all its records.
    pub size_bytes: u64,
    /// Sparse (offset, position) pairs, ascending; the first is the
    /// segment's first record.
    pub entries: Vec<(u64, u64)>,
    /// The topic's producers as they were once this segment was written,
    /// when known (a rebuilt index does not know them).
    pub producers: Option<Vec<RememberedProducer>>,
}

/// What an index file's header says about its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    /// The offset after the segment's last record.
    pub end_offset: u64,
    /// The segment file's length in bytes.
    pub log_len: u64,
    /// The timestamp of the segment's last record.
    pub newest_timestamp: Timestamp,
    /// The message bytes of its records; `None` in a v1 index (whose
    /// segment is v1: its records' payload bytes follow from its length).
    pub size_bytes: Option<u64>,
    /// How many entries follow the header.
    pub entry_count: u32,
    /// The checksum of the entries.
    pub entries_crc: u32,
    /// Where the producer snapshot starts, its length and checksum, when
    /// the file has one.
    pub snapshot: Option<(u64, u32, u32)>,
}

impl IndexHeader {
    /// The length of the header itself.
    fn header_len(&self) -> usize {
        if self.size_bytes.is_some() {
            INDEX_HEADER_LEN
        } else {
            INDEX_HEADER_LEN_V1
        }
    }

    /// The length of the whole index file this header describes.
    pub fn file_len(&self) -> u64 {
        let entries_end = (self.header_len() + self.entry_count as usize * INDEX_ENTRY_LEN) as u64;
        entries_end + self.snapshot.map_or(0, |(_, len, _)| u64::from(len))
    }
}

/// Encodes a (v2) index file.
pub fn encode_index(index: &SegmentIndex) -> Vec<u8> {
    let mut entries = Vec::with_capacity(index.entries.len() * INDEX_ENTRY_LEN);
    for &(offset, position) in &index.entries {
        entries.put_u64_le(offset);
        entries.put_u64_le(position);
    }
    let snapshot = index
        .producers
        .as_deref()
        .map(encode_snapshot)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(INDEX_HEADER_LEN + entries.len() + snapshot.len());
    out.put_slice(INDEX_MAGIC);
    out.put_u64_le(index.end_offset);
    out.put_u64_le(index.log_len);
    out.put_u64_le(index.newest_timestamp.as_nanos());
    out.put_u64_le(index.size_bytes);
    out.put_u32_le(index.entries.len() as u32);
    out.put_u32_le(crc32c::crc32c(&entries));
    out.put_u32_le(snapshot.len() as u32);
    out.put_u32_le(crc32c::crc32c(&snapshot));
    out.put_u32_le(if index.producers.is_some() {
        HAS_SNAPSHOT
    } else {
        0
    });
    out.put_u32_le(crc32c::crc32c(&out));
    out.extend_from_slice(&entries);
    out.extend_from_slice(&snapshot);
    out
}

/// Decodes an index file's header (v1 or v2); `None` if it is torn,
/// corrupt or not an index.
pub fn decode_index_header(bytes: &[u8]) -> Option<IndexHeader> {
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if bytes.len() >= INDEX_HEADER_LEN_V1 && &bytes[..8] == INDEX_MAGIC_V1 {
        return (crc32c::crc32c(&bytes[..40]) == u32_at(40)).then(|| IndexHeader {
            end_offset: u64_at(bytes, 8),
            log_len: u64_at(bytes, 16),
            newest_timestamp: Timestamp::from_nanos(u64_at(bytes, 24)),
            size_bytes: None,
            entry_count: u32_at(32),
            entries_crc: u32_at(36),
            snapshot: None,
        });
    }
    if bytes.len() < INDEX_HEADER_LEN
        || &bytes[..8] != INDEX_MAGIC
        || crc32c::crc32c(&bytes[..60]) != u32_at(60)
    {
        return None;
    }
    let entry_count = u32_at(40);
    let snapshot_at = (INDEX_HEADER_LEN + entry_count as usize * INDEX_ENTRY_LEN) as u64;
    Some(IndexHeader {
        end_offset: u64_at(bytes, 8),
        log_len: u64_at(bytes, 16),
        newest_timestamp: Timestamp::from_nanos(u64_at(bytes, 24)),
        size_bytes: Some(u64_at(bytes, 32)),
        entry_count,
        entries_crc: u32_at(44),
        snapshot: (u32_at(56) & HAS_SNAPSHOT != 0).then(|| (snapshot_at, u32_at(48), u32_at(52))),
    })
}

/// Decodes a whole index file; `None` if any part is torn or corrupt. A
/// v1 index has no size (`size_bytes` is 0) and no snapshot. The store
/// reads the parts it needs instead (start-up the header and snapshot,
/// reads the entries); tests check whole files.
#[cfg(test)]
pub fn decode_index(file: &[u8]) -> Option<SegmentIndex> {
    let (header, entries) = decode_index_entries(file)?;
    let entries_end = header.header_len() + entries.len() * INDEX_ENTRY_LEN;
    let producers = match header.snapshot {
        Some((_, _, crc)) => Some(decode_snapshot(&file[entries_end..], crc)?),
        None => None,
    };
    Some(SegmentIndex {
        end_offset: header.end_offset,
        log_len: header.log_len,
        newest_timestamp: header.newest_timestamp,
        size_bytes: header.size_bytes.unwrap_or_default(),
        entries,
        producers,
    })
}

/// Decodes an index file's header and entries, all that reads need: a
/// damaged producer snapshot does not cost a segment its index. `None`
/// if the file is torn or they are corrupt.
pub fn decode_index_entries(file: &[u8]) -> Option<(IndexHeader, Vec<(u64, u64)>)> {
    let header = decode_index_header(file)?;
    if file.len() as u64 != header.file_len() {
        return None;
    }
    let entries_end = header.header_len() + header.entry_count as usize * INDEX_ENTRY_LEN;
    let entries = &file[header.header_len()..entries_end];
    if crc32c::crc32c(entries) != header.entries_crc {
        return None;
    }
    let entries = entries
        .chunks_exact(INDEX_ENTRY_LEN)
        .map(|entry| (u64_at(entry, 0), u64_at(entry, 8)))
        .collect();
    Some((header, entries))
}

/// Encodes a snapshot of a topic's producers: per producer, its id (u64),
/// when its latest batch was stored (u64), how many batches follow (u32),
/// then each batch's sequence, first and last offset (u64 each).
pub fn encode_snapshot(producers: &[RememberedProducer]) -> Vec<u8> {
    let mut out = Vec::new();
    for producer in producers {
        out.put_u64_le(producer.producer_id);
        out.put_u64_le(producer.last_stored.as_nanos());
        out.put_u32_le(producer.batches.len() as u32);
        for &(sequence, offsets) in &producer.batches {
            out.put_u64_le(sequence);
            out.put_u64_le(offsets.first);
            out.put_u64_le(offsets.last);
        }
    }
    out
}

/// Decodes a producer snapshot whose checksum must be `crc`; `None` if it
/// is damaged.
pub fn decode_snapshot(bytes: &[u8], crc: u32) -> Option<Vec<RememberedProducer>> {
    if crc32c::crc32c(bytes) != crc {
        return None;
    }
    let mut producers = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let fixed = bytes.get(at..at + 20)?;
        let count = u32::from_le_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]) as usize;
        let batches = bytes.get(at + 20..at + 20 + count.checked_mul(24)?)?;
        producers.push(RememberedProducer {
            producer_id: u64_at(fixed, 0),
            last_stored: Timestamp::from_nanos(u64_at(fixed, 8)),
            batches: batches
                .chunks_exact(24)
                .map(|b| {
                    let offsets = OffsetRange {
                        first: u64_at(b, 8),
                        last: u64_at(b, 16),
                    };
                    (u64_at(b, 0), offsets)
                })
                .collect(),
        });
        at += 20 + batches.len();
    }
    Some(producers)
}

/// A topic's start: its first readable offset, that record's position in
/// its segment, and the message bytes of the records before it there
/// (`None` from a v1 start file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The first readable offset.
    pub offset: u64,
    /// Its record's position in its segment.
    pub position: u64,
    /// The message bytes of the records before it in its segment.
    pub skipped_bytes: Option<u64>,
}

/// Encodes a (v2) start file.
pub fn encode_start(offset: u64, position: u64, skipped_bytes: u64) -> [u8; START_LEN] {
    let mut out = [0u8; START_LEN];
    out[..8].copy_from_slice(START_MAGIC);
    out[8..16].copy_from_slice(&offset.to_le_bytes());
    out[16..24].copy_from_slice(&position.to_le_bytes());
    out[24..32].copy_from_slice(&skipped_bytes.to_le_bytes());
    let crc = crc32c::crc32c(&out[..32]);
    out[32..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a start file (v1 or v2); `None` if corrupt.
pub fn decode_start(file: &[u8]) -> Option<Start> {
    let len = match file.get(..8)? {
        magic if magic == START_MAGIC => START_LEN,
        magic if magic == START_MAGIC_V1 => START_LEN_V1,
        _ => return None,
    };
    if file.len() != len {
        return None;
    }
    let skipped = (len == START_LEN).then(|| u64_at(file, 24));
    let crc_at = len - 4;
    let crc = u32::from_le_bytes([
        file[crc_at],
        file[crc_at + 1],
        file[crc_at + 2],
        file[crc_at + 3],
    ]);
    (crc32c::crc32c(&file[..crc_at]) == crc).then(|| Start {
        offset: u64_at(file, 8),
        position: u64_at(file, 16),
        skipped_bytes: skipped,
    })
}

/// Encodes a topic's settings file: the magic line, then one `name=value`
/// line per setting the topic has of its own (text, so an operator can read
/// it; written atomically, so it is never torn).
pub fn encode_settings(settings: &TopicSettings) -> String {
    let mut out = format!("{SETTINGS_MAGIC}\n");
    match settings.retention {
        Some(RetentionAge::MaxAge(age)) => {
            out += &format!("retention_nanos={}\n", age.as_nanos());
        }
        Some(RetentionAge::Forever) => out += "retention=forever\n",
        None => {}
    }
    if let Some(bytes) = settings.retention_bytes {
        out += &format!("retention_bytes={bytes}\n");
    }
    if let Some(bytes) = settings.max_message_bytes {
        out += &format!("max_message_bytes={bytes}\n");
    }
    out
}

/// Decodes a settings file; `None` if it is not one this store wrote.
pub fn decode_settings(file: &[u8]) -> Option<TopicSettings> {
    let text = std::str::from_utf8(file).ok()?;
    let mut lines = text.lines();
    if lines.next()? != SETTINGS_MAGIC {
        return None;
    }
    let mut settings = TopicSettings::default();
    for line in lines {
        let (name, value) = line.split_once('=')?;
        match (name, value) {
            ("retention", "forever") => settings.retention = Some(RetentionAge::Forever),
            ("retention_nanos", nanos) => {
                let nanos = nanos.parse().ok()?;
                settings.retention = Some(RetentionAge::MaxAge(Duration::from_nanos(nanos)));
            }
            ("retention_bytes", bytes) => settings.retention_bytes = Some(bytes.parse().ok()?),
            ("max_message_bytes", bytes) => settings.max_message_bytes = Some(bytes.parse().ok()?),
            _ => return None,
        }
    }
    Some(settings)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The payload bytes of `count` records spanning `from..to` in a v1
/// segment, whose records are 24 bytes of header and a payload each: how
/// a v1 segment's size is known without reading it.
pub fn v1_payload_bytes(from: u64, to: u64, count: u64) -> u64 {
    (to - from).saturating_sub(count * RECORD_HEADER_LEN as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_files_round_trip_and_refuse_what_they_do_not_know() {
        use crate::{RetentionAge, TopicSettings};
        use std::time::Duration;
        for settings in [
            TopicSettings::default(),
            TopicSettings {
                retention: Some(RetentionAge::Forever),
                retention_bytes: Some(10 << 30),
                max_message_bytes: Some(1 << 20),
            },
            TopicSettings {
                retention: Some(RetentionAge::MaxAge(Duration::from_secs(3 * 86_400))),
                ..TopicSettings::default()
            },
        ] {
            let file = super::encode_settings(&settings);
            assert_eq!(
                super::decode_settings(file.as_bytes()),
                Some(settings),
                "{file}"
            );
        }
        for bad in [
            "",
            "MKFKSET1\nretention=sometimes\n",
            "MKFKSET1\ncolour=blue\n",
            "other\n",
        ] {
            assert_eq!(super::decode_settings(bad.as_bytes()), None, "{bad:?}");
        }
    }

    use super::*;

    #[test]
    fn segment_names_sort_as_offsets_and_round_trip() {
        assert_eq!(segment_file_name(1), "00000000000000000001.log");
        assert_eq!(index_file_name(42), "00000000000000000042.index");
        assert_eq!(
            parse_segment_file_name(&segment_file_name(MAX_OFFSET)),
            Some(MAX_OFFSET)
        );
        assert_eq!(
            parse_segment_file_name(&segment_file_name(MAX_OFFSET + 1)),
            None,
            "past the largest offset: not the store's"
        );
        for bad in [
            "1.log",
            "0000000000000000000a.log",
            "00000000000000000001.index",
            "x",
        ] {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
        assert!(segment_file_name(9) < segment_file_name(10));
    }

    #[test]
    fn records_round_trip_and_any_flipped_bit_is_detected() {
        let mut out = Vec::new();
        encode_record(&mut out, 7, Timestamp::from_nanos(99), b"payload", true);
        assert_eq!(out.len(), RECORD_HEADER_LEN + 7);
        let header = decode_record_header(&out);
        assert_eq!(
            (header.offset, header.timestamp.as_nanos(), header.body_len),
            (7, 99, 7)
        );
        assert!(header.batch_end && !header.extended);
        assert!(record_crc_matches(&header, &out));
        assert_every_flipped_bit_is_detected(&out);
    }

    fn assert_every_flipped_bit_is_detected(record: &[u8]) {
        for bit in 0..record.len() * 8 {
            let mut damaged = record.to_vec();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let header = decode_record_header(&damaged);
            let len_ok = header.record_len() == damaged.len();
            assert!(
                !(len_ok && record_crc_matches(&header, &damaged)),
                "bit {bit} went unnoticed"
            );
        }
    }

    fn header(name: &str, value: &'static [u8]) -> Header {
        Header {
            name: name.to_owned(),
            value: Bytes::from_static(value),
        }
    }

    /// Every combination of key, headers and producer round-trips, byte
    /// for byte, and a plain record costs nothing over v1.
    #[test]
    fn extended_records_round_trip_with_keys_headers_and_producers() {
        let mark = ProducerMark {
            producer: ProducerSequence {
                producer_id: u64::MAX,
                sequence: 41,
            },
            record_count: 3,
        };
        let keyed = Record {
            payload: Bytes::from_static(b"body"),
            key: Bytes::from_static(&[0, 0xff, 1]),
            headers: vec![
                header("trace", b"\x00abc"),
                header("trace", b""),
                header("\u{e9}t\u{e9}", b"\xff"),
            ],
        };
        let plain = Record::from_payload(Bytes::from_static(b"plain"));
        for (record, producer) in [
            (keyed.clone(), Some(mark)),
            (keyed.clone(), None),
            (plain.clone(), Some(mark)),
            (plain.clone(), None),
            (Record::default(), None),
        ] {
            let mut out = Vec::new();
            let offset = MAX_OFFSET;
            let at = Timestamp::from_nanos(5);
            encode_full_record(&mut out, offset, at, &record, true, producer);
            assert_eq!(
                out.len(),
                RECORD_HEADER_LEN + body_len(&record, producer.is_some())
            );
            let decoded_header = decode_record_header(&out);
            assert_eq!(decoded_header.offset, offset);
            assert!(record_crc_matches(&decoded_header, &out));
            let body = decode_body(&decoded_header, &Bytes::from(out.clone()), 0).expect("decodes");
            assert_eq!(
                (body.payload, body.key, body.headers, body.producer),
                (
                    record.payload.clone(),
                    record.key.clone(),
                    record.headers.clone(),
                    producer
                )
            );
            assert_eq!(
                decode_body(&decoded_header, &Bytes::from(out.clone()), 0)
                    .expect("decodes")
                    .size(),
                record.size() as u64
            );
            assert_every_flipped_bit_is_detected(&out);
        }
        assert_eq!(body_len(&plain, false), plain.payload.len(), "plain: as v1");
    }

    /// A body whose fields do not add up is refused, not read past.
    #[test]
    fn malformed_extensions_are_refused() {
        let header = |body_len, batch_end| RecordHeader {
            crc: 0,
            body_len,
            batch_end,
            extended: true,
            offset: 9,
            timestamp: Timestamp::default(),
        };
        let record = |body: &[u8]| {
            let mut bytes = vec![0u8; RECORD_HEADER_LEN];
            bytes.extend_from_slice(body);
            Bytes::from(bytes)
        };
        for (body, batch_end) in [
            (&b""[..], true),
            (&[0x80][..], true),
            (&[HAS_KEY, 9, 0, 0, 0, 1][..], true),
            (
                &[HAS_HEADERS, 1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0, 0, 0, 0][..],
                true,
            ),
            (&[HAS_PRODUCER, 1, 0, 0][..], true),
            (
                &[
                    HAS_PRODUCER,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    1,
                    0,
                    0,
                    0,
                ][..],
                false,
            ),
            (
                &[
                    HAS_PRODUCER,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    10,
                    0,
                    0,
                    0,
                ][..],
                true,
            ),
        ] {
            let decoded = decode_body(&header(body.len(), batch_end), &record(body), 0);
            assert!(decoded.is_err(), "{body:?} {batch_end}");
        }
    }

    #[test]
    fn index_files_round_trip_and_reject_damage() {
        let index = SegmentIndex {
            end_offset: 100,
            log_len: 4096,
            newest_timestamp: Timestamp::from_nanos(5),
            size_bytes: 3000,
            entries: vec![(1, 16), (50, 2000)],
            producers: Some(vec![RememberedProducer {
                producer_id: 7,
                last_stored: Timestamp::from_nanos(4),
                batches: vec![
                    (1, OffsetRange { first: 1, last: 3 }),
                    (2, OffsetRange { first: 4, last: 4 }),
                ],
            }]),
        };
        let file = encode_index(&index);
        assert_eq!(decode_index(&file), Some(index.clone()));
        let header =
            decode_index_header(&file[..INDEX_HEADER_LEN]).expect("the header alone decodes");
        assert_eq!(
            (header.end_offset, header.log_len, header.file_len()),
            (100, 4096, file.len() as u64)
        );
        assert_eq!(header.size_bytes, Some(3000));
        let (at, len, crc) = header.snapshot.expect("a snapshot");
        let snapshot = &file[at as usize..][..len as usize];
        assert_eq!(decode_snapshot(snapshot, crc), index.producers.clone());
        assert_eq!(decode_index(&file[..file.len() - 1]), None, "torn");
        let mut damaged = file.clone();
        damaged[20] ^= 1;
        assert_eq!(decode_index_header(&damaged), None, "flipped header bit");
        let mut damaged = file.clone();
        damaged[INDEX_HEADER_LEN + 3] ^= 1;
        assert!(
            decode_index_header(&damaged).is_some(),
            "the header is still intact"
        );
        assert_eq!(decode_index(&damaged), None, "flipped entry bit");
        let mut damaged = file.clone();
        *damaged.last_mut().expect("a byte") ^= 1;
        assert_eq!(decode_index(&damaged), None, "flipped snapshot bit");
        assert_eq!(
            decode_index_entries(&damaged).map(|(_, entries)| entries),
            Some(index.entries.clone()),
            "reads keep the entries"
        );

        let rebuilt = SegmentIndex {
            producers: None,
            ..index
        };
        let file = encode_index(&rebuilt);
        assert_eq!(decode_index(&file), Some(rebuilt));
        let header = decode_index_header(&file).expect("header");
        assert_eq!(header.snapshot, None, "a rebuilt index knows no producers");
    }

    /// The v1 index layout, as the fixture's index files hold it.
    #[test]
    fn v1_index_files_still_decode() {
        let mut file = Vec::new();
        file.put_slice(INDEX_MAGIC_V1);
        file.put_u64_le(12);
        file.put_u64_le(400);
        file.put_u64_le(9);
        file.put_u32_le(1);
        let entry = [5u64.to_le_bytes(), 16u64.to_le_bytes()].concat();
        file.put_u32_le(crc32c::crc32c(&entry));
        file.put_u32_le(crc32c::crc32c(&file));
        file.extend_from_slice(&entry);
        let index = decode_index(&file).expect("a v1 index");
        assert_eq!(
            (
                index.end_offset,
                index.log_len,
                index.entries,
                index.producers
            ),
            (12, 400, vec![(5, 16)], None)
        );
        let header = decode_index_header(&file).expect("header");
        assert_eq!((header.size_bytes, header.file_len()), (None, 60));
    }

    #[test]
    fn start_files_round_trip_and_reject_damage() {
        let file = encode_start(12, 345, 99);
        let start = Start {
            offset: 12,
            position: 345,
            skipped_bytes: Some(99),
        };
        assert_eq!(decode_start(&file), Some(start));
        let mut damaged = file;
        damaged[9] ^= 1;
        assert_eq!(decode_start(&damaged), None);
        assert_eq!(decode_start(&file[..20]), None);
        let mut v1 = Vec::new();
        v1.put_slice(START_MAGIC_V1);
        v1.put_u64_le(12);
        v1.put_u64_le(345);
        v1.put_u32_le(crc32c::crc32c(&v1));
        let v1_start = Start {
            skipped_bytes: None,
            ..start
        };
        assert_eq!(decode_start(&v1), Some(v1_start));
    }

    #[test]
    fn segment_headers_name_their_base_and_layout() {
        let header = encode_segment_header(1234);
        assert_eq!(
            decode_segment_header(&header),
            Some((1234, SegmentFormat::V2))
        );
        let mut v1 = header;
        v1[..8].copy_from_slice(SEGMENT_MAGIC_V1);
        assert_eq!(decode_segment_header(&v1), Some((1234, SegmentFormat::V1)));
        assert_eq!(decode_segment_header(b"NOTMKFK!00000000"), None);
        assert_eq!(decode_segment_header(&header[..10]), None);
    }
}
