//! Reading records from segment files: one cursor, used by recovery,
//! retention and reads alike, that reads in chunks and checks every
//! record's checksum and offset before handing it out.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};

use super::format::{self, RECORD_HEADER_LEN, RecordHeader};

/// One record read from a segment.
#[derive(Debug, Clone)]
pub struct Record {
    /// Where the record starts in its file.
    pub position: u64,
    /// Its decoded header.
    pub header: RecordHeader,
    /// Its payload, a slice of the chunk it was read in.
    pub payload: Bytes,
}

/// Why the bytes at a position are not the record expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Where the bad record starts.
    pub position: u64,
    /// What is wrong, for the log and the error.
    pub reason: String,
}

/// Reads consecutive records from `position` up to `end` in one file.
pub struct RecordCursor<'a> {
    file: &'a File,
    position: u64,
    end: u64,
    expected_offset: Option<u64>,
    chunk: Bytes,
    chunk_start: u64,
    chunk_size: usize,
}

impl<'a> RecordCursor<'a> {
    /// A cursor over `file[position..end]`, reading `chunk_size` bytes at a
    /// time (more when one record is larger). When `expected_offset` is
    /// given, the first record must have it and each next one the next.
    pub fn new(
        file: &'a File,
        position: u64,
        end: u64,
        expected_offset: Option<u64>,
        chunk_size: usize,
    ) -> Self {
        Self {
            file,
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
        if let Some(expected) = self.expected_offset {
            if header.offset != expected {
                return damage(
                    self.position,
                    format!("offset {} where {expected} was expected", header.offset),
                );
            }
            self.expected_offset = Some(expected + 1);
        }
        let record = Record {
            position: self.position,
            header,
            payload: format::payload_of(&self.chunk, at, &header),
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
        let mut cursor = RecordCursor::new(file.as_file(), 0, len, Some(5), 32);
        let mut got = Vec::new();
        while let Some(record) = cursor.next_record().expect("io").expect("intact") {
            got.push((record.header.offset, record.payload.len()));
        }
        assert_eq!(got, vec![(5, 1), (6, 300), (7, 0), (8, 3)]);
        assert_eq!(cursor.position(), len);
    }

    #[test]
    fn a_torn_tail_is_damage_at_the_record_that_tore() {
        let (file, len) = file_of(&[(1, b"whole"), (2, b"torn off")]);
        let mut cursor = RecordCursor::new(file.as_file(), 0, len - 3, Some(1), 4096);
        assert!(cursor.next_record().expect("io").expect("intact").is_some());
        let damage = cursor.next_record().expect("io").expect_err("torn");
        assert_eq!(damage.position, (RECORD_HEADER_LEN + 5) as u64);
        assert!(damage.reason.contains("torn"), "{}", damage.reason);
    }

    #[test]
    fn corrupt_bytes_and_wrong_offsets_are_damage() {
        let (file, len) = file_of(&[(1, b"abc"), (3, b"skipped one")]);
        let mut cursor = RecordCursor::new(file.as_file(), 0, len, Some(1), 4096);
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
        let mut cursor = RecordCursor::new(&reopened, 0, len, None, 4096);
        let damage = cursor
            .next_record()
            .expect("io")
            .expect_err("flipped payload byte");
        assert_eq!(
            (damage.position, damage.reason.as_str()),
            (0, "checksum mismatch")
        );
    }
}
