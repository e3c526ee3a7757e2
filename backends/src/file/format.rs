//! The byte layout of the file store, and nothing else: encoding and
//! decoding of segment headers, records, index files, start files and
//! settings files.
//! docs/storage.md describes the same layout for independent readers.
//!
//! All integers are little-endian. Every structure carries a CRC32C
//! (Castagnoli) so a torn or corrupt write is detected, never served.

use std::time::Duration;

use bytes::{BufMut, Bytes};

use crate::{RetentionAge, Timestamp, TopicSettings};

/// The first bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"MKFKLOG1";
/// Segment header: magic, then the segment's base offset (u64).
pub const SEGMENT_HEADER_LEN: u64 = 16;

/// Record header: crc32c (u32), flags and payload length (u32), offset
/// (u64), timestamp in nanoseconds since the Unix epoch (u64).
pub const RECORD_HEADER_LEN: usize = 24;
/// Set in a record's length word on the last record of a batch: a batch is
/// stored whole or, after a crash, cut off whole.
pub const BATCH_END: u32 = 1 << 31;
/// The largest payload a record can hold (the length word's low 31 bits).
pub const MAX_PAYLOAD_LEN: usize = (BATCH_END - 1) as usize;

/// The first bytes of every index file.
pub const INDEX_MAGIC: &[u8; 8] = b"MKFKIDX1";
/// Index header: magic, end offset (u64), log length (u64), newest
/// timestamp (u64), entry count (u32), crc32c of the entries (u32), crc32c
/// of the header's first 40 bytes (u32). The header has its own checksum so
/// start-up can trust a segment from these 44 bytes alone.
pub const INDEX_HEADER_LEN: usize = 44;
/// One index entry: an offset (u64) and its record's position (u64).
pub const INDEX_ENTRY_LEN: usize = 16;

/// The directory under the root that holds one directory per topic.
pub const TOPICS_DIR: &str = "topics";
/// The name of the file, in a topic's directory, holding its first
/// readable offset (once retention moved it).
pub const START_FILE: &str = "start";
/// The first bytes of a topic's start file.
pub const START_MAGIC: &[u8; 8] = b"MKFKSTR1";
/// Start file: magic, start offset (u64), its position in its segment
/// (u64), crc32c (u32) of the bytes before it.
pub const START_LEN: usize = 28;

/// The directory under the root where a deleted topic's directory is
/// moved, out of the topic namespace in one rename, before it is removed;
/// whatever a crash leaves there is removed at start-up.
pub const DELETED_DIR: &str = "deleted";
/// The name of the file, in a topic's directory, holding the topic's own
/// settings (absent: it follows the server's defaults in everything).
pub const SETTINGS_FILE: &str = "settings";
/// The first line of a settings file.
pub const SETTINGS_MAGIC: &str = "MKFKSET1";

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

/// A segment file's header.
pub fn encode_segment_header(base: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..].copy_from_slice(&base.to_le_bytes());
    header
}

/// The base offset a segment header names, or `None` if it is not one.
pub fn decode_segment_header(header: &[u8]) -> Option<u64> {
    if header.len() < SEGMENT_HEADER_LEN as usize || &header[..8] != SEGMENT_MAGIC {
        return None;
    }
    Some(u64_at(header, 8))
}

/// Appends one record to `out`.
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

/// A record's header fields, decoded but not yet checked against its
/// payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The stored checksum.
    pub crc: u32,
    /// The payload's length in bytes.
    pub payload_len: usize,
    /// Whether this record ends its batch.
    pub batch_end: bool,
    /// The record's offset.
    pub offset: u64,
    /// The record's timestamp.
    pub timestamp: Timestamp,
}

impl RecordHeader {
    /// The record's whole length on disk.
    pub fn record_len(&self) -> usize {
        RECORD_HEADER_LEN + self.payload_len
    }
}

/// Decodes a record header from the first [`RECORD_HEADER_LEN`] bytes.
pub fn decode_record_header(bytes: &[u8]) -> RecordHeader {
    let length = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    RecordHeader {
        crc: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        payload_len: (length & !BATCH_END) as usize,
        batch_end: length & BATCH_END != 0,
        offset: u64_at(bytes, 8),
        timestamp: Timestamp::from_nanos(u64_at(bytes, 16)),
    }
}

/// Whether `record` (header and payload, exactly) matches its checksum.
pub fn record_crc_matches(header: &RecordHeader, record: &[u8]) -> bool {
    crc32c::crc32c(&record[4..]) == header.crc
}

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
    /// Sparse (offset, position) pairs, ascending; the first is the
    /// segment's first record.
    pub entries: Vec<(u64, u64)>,
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
    /// How many entries follow the header.
    pub entry_count: u32,
    /// The checksum of the entries.
    pub entries_crc: u32,
}

impl IndexHeader {
    /// The length of the whole index file this header describes.
    pub fn file_len(&self) -> u64 {
        (INDEX_HEADER_LEN + self.entry_count as usize * INDEX_ENTRY_LEN) as u64
    }
}

/// Encodes an index file.
pub fn encode_index(index: &SegmentIndex) -> Vec<u8> {
    let mut entries = Vec::with_capacity(index.entries.len() * INDEX_ENTRY_LEN);
    for &(offset, position) in &index.entries {
        entries.put_u64_le(offset);
        entries.put_u64_le(position);
    }
    let mut out = Vec::with_capacity(INDEX_HEADER_LEN + entries.len());
    out.put_slice(INDEX_MAGIC);
    out.put_u64_le(index.end_offset);
    out.put_u64_le(index.log_len);
    out.put_u64_le(index.newest_timestamp.as_nanos());
    out.put_u32_le(index.entries.len() as u32);
    out.put_u32_le(crc32c::crc32c(&entries));
    out.put_u32_le(crc32c::crc32c(&out));
    out.extend_from_slice(&entries);
    out
}

/// Decodes an index file's header; `None` if it is torn, corrupt or not
/// an index.
pub fn decode_index_header(bytes: &[u8]) -> Option<IndexHeader> {
    if bytes.len() < INDEX_HEADER_LEN || &bytes[..8] != INDEX_MAGIC {
        return None;
    }
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (crc32c::crc32c(&bytes[..40]) == u32_at(40)).then(|| IndexHeader {
        end_offset: u64_at(bytes, 8),
        log_len: u64_at(bytes, 16),
        newest_timestamp: Timestamp::from_nanos(u64_at(bytes, 24)),
        entry_count: u32_at(32),
        entries_crc: u32_at(36),
    })
}

/// Decodes a whole index file; `None` if any part is torn or corrupt.
pub fn decode_index(file: &[u8]) -> Option<SegmentIndex> {
    let header = decode_index_header(file)?;
    let entries = &file[INDEX_HEADER_LEN..];
    if file.len() as u64 != header.file_len() || crc32c::crc32c(entries) != header.entries_crc {
        return None;
    }
    let entries = entries
        .chunks_exact(INDEX_ENTRY_LEN)
        .map(|entry| (u64_at(entry, 0), u64_at(entry, 8)))
        .collect();
    Some(SegmentIndex {
        end_offset: header.end_offset,
        log_len: header.log_len,
        newest_timestamp: header.newest_timestamp,
        entries,
    })
}

/// Encodes a start file: the first offset still readable and its record's
/// position in its segment.
pub fn encode_start(start_offset: u64, start_position: u64) -> [u8; START_LEN] {
    let mut out = [0u8; START_LEN];
    out[..8].copy_from_slice(START_MAGIC);
    out[8..16].copy_from_slice(&start_offset.to_le_bytes());
    out[16..24].copy_from_slice(&start_position.to_le_bytes());
    let crc = crc32c::crc32c(&out[..24]);
    out[24..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a start file into (start offset, position); `None` if corrupt.
pub fn decode_start(file: &[u8]) -> Option<(u64, u64)> {
    if file.len() != START_LEN || &file[..8] != START_MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes([file[24], file[25], file[26], file[27]]);
    (crc32c::crc32c(&file[..24]) == crc).then(|| (u64_at(file, 8), u64_at(file, 16)))
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

/// The payload of a record in `chunk` at `at`, shared with the chunk.
pub fn payload_of(chunk: &Bytes, at: usize, header: &RecordHeader) -> Bytes {
    chunk.slice(at + RECORD_HEADER_LEN..at + header.record_len())
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
            (
                header.offset,
                header.timestamp.as_nanos(),
                header.payload_len
            ),
            (7, 99, 7)
        );
        assert!(header.batch_end);
        assert!(record_crc_matches(&header, &out));
        for bit in 0..out.len() * 8 {
            let mut damaged = out.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let header = decode_record_header(&damaged);
            let len_ok = header.record_len() == damaged.len();
            assert!(
                !(len_ok && record_crc_matches(&header, &damaged)),
                "bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn index_files_round_trip_and_reject_damage() {
        let index = SegmentIndex {
            end_offset: 100,
            log_len: 4096,
            newest_timestamp: Timestamp::from_nanos(5),
            entries: vec![(1, 16), (50, 2000)],
        };
        let file = encode_index(&index);
        assert_eq!(decode_index(&file), Some(index.clone()));
        let header =
            decode_index_header(&file[..INDEX_HEADER_LEN]).expect("the header alone decodes");
        assert_eq!(
            (header.end_offset, header.log_len, header.file_len()),
            (100, 4096, file.len() as u64)
        );
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
    }

    #[test]
    fn start_files_round_trip_and_reject_damage() {
        let file = encode_start(12, 345);
        assert_eq!(decode_start(&file), Some((12, 345)));
        let mut damaged = file;
        damaged[9] ^= 1;
        assert_eq!(decode_start(&damaged), None);
        assert_eq!(decode_start(&file[..20]), None);
    }

    #[test]
    fn segment_headers_name_their_base() {
        let header = encode_segment_header(1234);
        assert_eq!(decode_segment_header(&header), Some(1234));
        assert_eq!(decode_segment_header(b"NOTMKFK!00000000"), None);
        assert_eq!(decode_segment_header(&header[..10]), None);
    }
}
