//! The `segment_decode` check: arbitrary bytes laid out as one topic's files
//! (segments, indexes, a start file, strays) and opened by `FileStore` in
//! both recovery modes, through its public API only.
//!
//! What must hold, whatever the bytes:
//! - nothing panics;
//! - the store opens, or fails with an error naming the topic's directory
//!   or a file in it;
//! - after an open, reads return consecutive offsets from the earliest to
//!   the next offset, and every message handed out is a checksummed record
//!   that is in the input; a read may fail only on damage in a sealed
//!   segment (which start-up trusts through its index and does not scan),
//!   never on the active one (which start-up scanned), and then with
//!   `DataLoss` naming a first good offset after the damage;
//! - an append works (or, only when it would be numbered past the largest
//!   offset, 2^63 − 1, fails with an error), and a reopen returns the same
//!   messages and the appended ones: recovery is idempotent;
//! - what `Recovery::Strict` opens, `Recovery::Truncate` opens the same.
//!
//! This file is compiled twice: by the fuzz crate (`fuzz/`, nightly) and,
//! through `#[path]`, by `backends/tests/fuzz_segment_files.rs`, which runs
//! [`check`] over [`seeds`] and the saved inputs on every `cargo test`, so
//! the check cannot rot between fuzzing sessions.
//!
//! # Input layout
//! One flags byte, then parts, each `kind: u8, length: u16 LE, bytes` (a
//! part cut short takes what is left). Flags: bit 0 recomputes the
//! checksum of every whole record in segments, bit 1 the checksums of
//! index files, bit 2 that of the start file (each by the layout, v1 or
//! v2, its magic names), so mutations reach the checks behind the
//! checksums. `kind & 3`:
//! - 0: a segment, named by the base in its header (the previous segment's
//!   base + 1 when it has none); `kind & 4` names it one higher instead;
//! - 1: the index of the `(kind >> 4)`-th segment so far (skipped if none);
//! - 2: the start file;
//! - 3: a file the store did not write: `(kind >> 2) & 3` picks a `.tmp`,
//!   a `.log.damaged`, an unknown name, or a directory.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use minikafka_backends::{
    Batch, Durability, FileOptions, FileStore, Header, ProducerSequence, ReadLimits, Record,
    Recovery, RetentionAge, RetentionDefaults, Store, StoreError, Timestamp, TopicName,
};

/// The one topic the files belong to.
const TOPIC: &str = "t";
/// The size at which an append seals the active segment: small, so an
/// append after recovery usually seals the recovered segment too.
const SEGMENT_BYTES: u64 = 1024;
/// Flags: recompute record checksums, index checksums, the start file's.
const FIX_RECORDS: u8 = 1;
const FIX_INDEXES: u8 = 2;
const FIX_START: u8 = 4;
/// Part kinds (the low two bits).
const SEGMENT: u8 = 0;
const INDEX: u8 = 1;
const START: u8 = 2;
/// At most this many offsets are read one by one after each open.
const RANDOM_READS: u64 = 48;
/// Byte layout constants from docs/storage.md.
const SEGMENT_HEADER_LEN: usize = 16;
const RECORD_HEADER_LEN: usize = 24;
const BATCH_END: u32 = 1 << 31;
const INDEX_HEADER_LEN_V1: usize = 44;
const INDEX_HEADER_LEN: usize = 64;
const START_LEN_V1: usize = 28;
const START_LEN: usize = 36;
/// Bit 63 of a v2 record's offset word: its body starts with an extension.
const EXTENDED: u64 = 1 << 63;
/// Offsets end here (docs/storage.md): a batch numbered past it fails.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// One file of the topic directory, as the input lays it out.
#[derive(Debug, Clone)]
struct Part {
    /// The file's name in the topic directory.
    name: String,
    /// Its bytes (`None`: a directory of that name).
    bytes: Option<Vec<u8>>,
}

/// Adds a part, replacing an earlier one of the same name (last wins, as
/// when the files are written in order).
fn push(parts: &mut Vec<Part>, name: String, bytes: Option<Vec<u8>>) {
    parts.retain(|p| p.name != name);
    parts.push(Part { name, bytes });
}

/// Lays `data` out as files (see the module documentation), with the
/// checksums the flags ask for recomputed; also returns the flags.
fn layout(data: &[u8]) -> (u8, Vec<Part>) {
    let Some((&flags, mut rest)) = data.split_first() else {
        return (0, Vec::new());
    };
    let mut parts = Vec::new();
    let mut segments: Vec<u64> = Vec::new();
    while let Some((&kind, tail)) = rest.split_first() {
        let (len, tail) = match tail {
            [a, b, tail @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), tail),
            _ => (tail.len(), &[][..]),
        };
        let (bytes, next) = tail.split_at(len.min(tail.len()));
        rest = next;
        let mut bytes = bytes.to_vec();
        match kind & 3 {
            SEGMENT => {
                if flags & FIX_RECORDS != 0 {
                    fix_records(&mut bytes);
                }
                let base = header_base(&bytes)
                    .unwrap_or_else(|| segments.last().map_or(1, |b| b.wrapping_add(1)));
                let base = if kind & 4 != 0 {
                    base.wrapping_add(1)
                } else {
                    base
                };
                segments.push(base);
                push(&mut parts, format!("{base:020}.log"), Some(bytes));
            }
            INDEX => {
                let Some(&base) = segments.get(usize::from(kind >> 4) % segments.len().max(1))
                else {
                    continue;
                };
                if flags & FIX_INDEXES != 0 {
                    fix_index(&mut bytes);
                }
                push(&mut parts, format!("{base:020}.index"), Some(bytes));
            }
            START => {
                if flags & FIX_START != 0 {
                    fix_start(&mut bytes);
                }
                push(&mut parts, "start".to_owned(), Some(bytes));
            }
            _ => {
                let base = segments.last().copied().unwrap_or(1);
                let (name, bytes) = match (kind >> 2) & 3 {
                    0 => (format!("{base:020}.tmp"), Some(bytes)),
                    1 => (format!("{base:020}.log.damaged"), Some(bytes)),
                    2 => ("notes.txt".to_owned(), Some(bytes)),
                    _ => (format!("{:020}.log", base.wrapping_add(7)), None),
                };
                push(&mut parts, name, bytes);
            }
        }
    }
    (flags, parts)
}

/// The base offset in a segment header, if the bytes start with one.
fn header_base(bytes: &[u8]) -> Option<u64> {
    (bytes.len() >= SEGMENT_HEADER_LEN && matches!(&bytes[..8], b"MKFKLOG1" | b"MKFKLOG2"))
        .then(|| u64_at(bytes, 8))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Recomputes the checksum of every whole record from the header on.
fn fix_records(segment: &mut [u8]) {
    let mut at = SEGMENT_HEADER_LEN;
    while at + RECORD_HEADER_LEN <= segment.len() {
        let word = u32::from_le_bytes([
            segment[at + 4],
            segment[at + 5],
            segment[at + 6],
            segment[at + 7],
        ]);
        let end = at + RECORD_HEADER_LEN + (word & !BATCH_END) as usize;
        if end > segment.len() {
            break;
        }
        let crc = crc32c::crc32c(&segment[at + 4..end]);
        segment[at..at + 4].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// Recomputes an index file's checksums: of its entries, its producer
/// snapshot (v2) and its header, by the layout its magic names (v1 when
/// it names none).
fn fix_index(index: &mut [u8]) {
    if index.len() >= INDEX_HEADER_LEN && &index[..8] == b"MKFKIDX2" {
        let count = u32::from_le_bytes([index[40], index[41], index[42], index[43]]) as usize;
        let entries_end = (INDEX_HEADER_LEN + count.saturating_mul(16)).min(index.len());
        let entries = crc32c::crc32c(&index[INDEX_HEADER_LEN..entries_end]);
        index[44..48].copy_from_slice(&entries.to_le_bytes());
        let snapshot = crc32c::crc32c(&index[entries_end..]);
        index[52..56].copy_from_slice(&snapshot.to_le_bytes());
        let header = crc32c::crc32c(&index[..60]);
        index[60..64].copy_from_slice(&header.to_le_bytes());
        return;
    }
    if index.len() < INDEX_HEADER_LEN_V1 {
        return;
    }
    let entries = crc32c::crc32c(&index[INDEX_HEADER_LEN_V1..]);
    index[36..40].copy_from_slice(&entries.to_le_bytes());
    let header = crc32c::crc32c(&index[..40]);
    index[40..44].copy_from_slice(&header.to_le_bytes());
}

/// Recomputes a start file's checksum, by the layout its magic names (v1
/// when it names none).
fn fix_start(start: &mut [u8]) {
    let len = if start.starts_with(b"MKFKSTR2") {
        START_LEN
    } else {
        START_LEN_V1
    };
    if start.len() >= len {
        let crc = crc32c::crc32c(&start[..len - 4]);
        start[len - 4..len].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Packs files into an input for [`check`]: `flags`, then each
/// `(kind, bytes)` as one part. Used to turn real stores into seeds.
pub fn pack(flags: u8, parts: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = vec![flags];
    for &(kind, bytes) in parts {
        let len = u16::try_from(bytes.len()).expect("a seed file under 64 KiB");
        out.push(kind);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// A runtime for one check: a store's reads run on its blocking pool.
/// Dropping it joins the pool's threads, so nothing outlives the check
/// (a runtime kept for the whole process shows up as leaks at exit).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

fn options(recovery: Recovery) -> FileOptions {
    FileOptions {
        durability: Durability::Never,
        segment_bytes: SEGMENT_BYTES,
        recovery,
        ..FileOptions::default()
    }
}

fn topic() -> TopicName {
    TopicName::new(TOPIC).expect("a valid topic name")
}

/// Runs the check on one input: see the module documentation.
pub fn check(data: &[u8]) {
    let (flags, parts) = layout(data);
    let records = Records::of(&parts);
    let rt = runtime();
    let strict = open_and_check(&rt, flags, &parts, &records, Recovery::Strict);
    let truncate = open_and_check(&rt, flags, &parts, &records, Recovery::Truncate);
    if strict.is_some() {
        assert_eq!(
            strict, truncate,
            "Recovery::Truncate must open what Recovery::Strict opens, the same"
        );
    }
}

/// A message as read: offset, timestamp, payload.
type Read = (u64, u64, Bytes);

/// What a topic held after an open, as its reads saw it.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    /// The first offset readable (from a read from 0).
    earliest: u64,
    /// The offset the next message gets.
    next: u64,
    /// Every message from `earliest` on, up to `unreadable`.
    messages: Vec<Read>,
    /// The offset at which a read failed on a sealed segment, if one did.
    unreadable: Option<u64>,
    /// The size (payload, key and headers) of `messages`.
    size_bytes: u64,
}

/// Writes the files into a fresh root, opens it with `recovery`, checks
/// what it holds, appends, reopens and checks again. `None` if the store
/// did not open (after checking the error names the file).
fn open_and_check(
    rt: &tokio::runtime::Runtime,
    flags: u8,
    parts: &[Part],
    records: &Records,
    recovery: Recovery,
) -> Option<Snapshot> {
    let root = tempfile::tempdir().expect("a temporary directory");
    let dir = root.path().join("topics").join(TOPIC);
    std::fs::create_dir_all(&dir).expect("creating the topic directory");
    for part in parts {
        let path = dir.join(&part.name);
        let written = match &part.bytes {
            Some(bytes) => std::fs::write(&path, bytes),
            None => std::fs::create_dir_all(&path),
        };
        written.expect("writing an input file");
    }
    let mut checks = Checks {
        dir: &dir,
        records,
        // Only with genuine checksums do indexes tell the truth about their
        // segments; a forged one may point at a record inside another
        // record's payload, or count records the segment does not hold.
        exact: flags & (FIX_RECORDS | FIX_INDEXES) == 0,
        input_end: u64::MAX,
    };

    let store = match FileStore::open(root.path(), options(recovery)) {
        Ok(store) => store,
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(&*dir.to_string_lossy()),
                "{recovery:?}: an open that fails must name the file: {message}"
            );
            return None;
        }
    };
    let before = rt.block_on(snapshot(&store, &checks));

    let now = Timestamp::from_nanos(1_000);
    let payloads = vec![Bytes::from_static(b"appended"), Bytes::new()];
    let next = before.as_ref().map_or(1, |b| b.next);
    let appended = match rt.block_on(store.append(&topic(), Batch::new(payloads.clone()), now)) {
        Ok(range) => {
            assert!(
                range.last <= MAX_OFFSET,
                "{recovery:?}: a batch numbered past the largest offset was accepted"
            );
            assert_eq!(
                (range.first, range.last),
                (next, next + 1),
                "{recovery:?}: the append continues the numbering"
            );
            Some(range)
        }
        // Only a batch that cannot be numbered may be refused, and with an
        // error, not by a writer that died.
        Err(e) => {
            assert!(
                next.saturating_add(1) > MAX_OFFSET && !matches!(e, StoreError::Closed),
                "{recovery:?}: an append at next offset {next} failed: {e}"
            );
            None
        }
    };
    drop(store);

    let store = FileStore::open(root.path(), options(recovery))
        .unwrap_or_else(|e| panic!("{recovery:?}: reopening after an append failed: {e}"));
    // The appended records are not in the input: checked below instead.
    checks.input_end = next;
    let after = rt.block_on(snapshot(&store, &checks));
    let old = before.as_ref().map_or(&[][..], |b| &b.messages[..]);
    let Some(appended) = appended else {
        assert_eq!(
            after.as_ref().map(|a| (&a.messages[..], a.next)),
            before.as_ref().map(|b| (old, b.next)),
            "{recovery:?}: a reopen returns what the first open did"
        );
        return before;
    };
    let after = after.expect("the topic exists after an append");
    assert_eq!(
        after.messages.get(..old.len()),
        Some(old),
        "{recovery:?}: a reopen returns what the first open did"
    );
    assert_eq!(
        after.next,
        next + 2,
        "{recovery:?}: the next offset survives the reopen"
    );
    let fully_readable = before.as_ref().is_none_or(|b| b.unreadable.is_none());
    let tail: Vec<(u64, Bytes)> = if fully_readable {
        let tail = &after.messages[old.len()..];
        assert!(
            tail.iter().all(|m| m.1 >= now.as_nanos()),
            "{recovery:?}: appended at {now:?} or later"
        );
        tail.iter().map(|m| (m.0, m.2.clone())).collect()
    } else {
        let read = rt
            .block_on(store.read(&topic(), appended.first, limits(2, 1 << 20)))
            .unwrap_or_else(|e| panic!("{recovery:?}: reading the append back failed: {e}"));
        read.messages
            .into_iter()
            .map(|m| (m.offset, m.payload))
            .collect()
    };
    let expected: Vec<(u64, Bytes)> = (appended.first..).zip(payloads).collect();
    assert_eq!(tail, expected, "{recovery:?}: the append survives a reopen");
    before
}

fn limits(max_messages: usize, max_bytes: usize) -> ReadLimits {
    ReadLimits {
        max_messages,
        max_bytes,
    }
}

/// Whether a failed read is one the store may give after an open: damage
/// in a sealed segment (any `.log` but the last, which start-up scanned),
/// answered as `DataLoss` with a range that starts before the last
/// segment and a first good offset after it.
fn sealed_damage(error: &StoreError, dir: &Path) -> bool {
    let StoreError::DataLoss {
        topic: damaged,
        first_offset,
        next_good_offset,
    } = error
    else {
        return false;
    };
    let last_base = std::fs::read_dir(dir)
        .expect("listing the topic directory")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log") && p.is_file())
        .filter_map(|p| p.file_stem()?.to_str()?.parse::<u64>().ok())
        .max();
    *damaged == topic()
        && first_offset < next_good_offset
        && last_base.is_some_and(|last| *first_offset < last)
}

/// After `DataLoss` for a read from `cursor`: the damaged range holds
/// `cursor`, and a read from the first good offset after it works, or
/// meets damage that sends it further on (a reader skipping damage always
/// gets somewhere).
async fn check_reads_on_after(store: &FileStore, error: &StoreError, cursor: u64, next: u64) {
    let StoreError::DataLoss {
        first_offset,
        next_good_offset,
        ..
    } = *error
    else {
        return;
    };
    assert!(
        first_offset <= cursor && cursor < next_good_offset && next_good_offset <= next,
        "a read from {cursor} (next {next}) lost {first_offset}..{next_good_offset}"
    );
    match store.read(&topic(), next_good_offset, limits(1, 0)).await {
        Ok(read) => {
            let first = read.messages.first().map(|m| m.offset);
            assert!(
                first == Some(next_good_offset) || next_good_offset == next,
                "a read from the first good offset {next_good_offset} returned {first:?}"
            );
        }
        // Later damage: it must send the reader further on.
        Err(StoreError::DataLoss {
            next_good_offset: further,
            ..
        }) => assert!(
            further > next_good_offset,
            "damage again before {further}, not after {next_good_offset}"
        ),
        Err(e) => panic!("reading from the first good offset {next_good_offset}: {e}"),
    }
}

/// Reads everything the store holds for the topic, checking each read;
/// `None` if the topic does not exist.
async fn snapshot(store: &FileStore, checks: &Checks<'_>) -> Option<Snapshot> {
    let (dir, exact) = (checks.dir, checks.exact);
    let topic = topic();
    let first = match store.read(&topic, 0, limits(1, 0)).await {
        Ok(first) => first,
        Err(StoreError::TopicNotFound(_)) => return None,
        Err(e) if sealed_damage(&e, dir) => {
            let next = match store.read(&topic, u64::MAX, limits(1, 0)).await {
                Err(StoreError::OffsetOutOfRange { next_offset, .. }) => next_offset,
                other => panic!("a read past the end must be out of range: {other:?}"),
            };
            return Some(Snapshot {
                earliest: 0,
                next,
                messages: Vec::new(),
                unreadable: Some(0),
                size_bytes: 0,
            });
        }
        Err(e) => panic!("reading from the earliest offset after an open: {e}"),
    };
    let (earliest, next) = (first.earliest_offset, first.next_offset);
    assert!(earliest <= next, "earliest {earliest} after next {next}");
    let mut snapshot = Snapshot {
        earliest,
        next,
        messages: Vec::new(),
        unreadable: None,
        size_bytes: 0,
    };

    // Everything, in small reads that cross records, chunks and segments.
    let mut cursor = earliest;
    while cursor < next {
        let read = match store.read(&topic, cursor, limits(3, 64)).await {
            Ok(read) => read,
            Err(e) if sealed_damage(&e, dir) => {
                check_reads_on_after(store, &e, cursor, next).await;
                snapshot.unreadable = Some(cursor);
                break;
            }
            Err(e) => panic!("reading from {cursor} (earliest {earliest}, next {next}): {e}"),
        };
        assert_eq!(
            (read.earliest_offset, read.next_offset),
            (earliest, next),
            "the bounds stay put while nothing is written"
        );
        assert!(
            !read.messages.is_empty() && read.messages.len() <= 3,
            "a read from {cursor} below {next} returned {} messages",
            read.messages.len()
        );
        for message in read.messages {
            assert_eq!(message.offset, cursor, "offsets are consecutive");
            assert!(
                message.offset >= checks.input_end || checks.records.contains(&message),
                "offset {} was handed out but is no checksummed record of the input",
                message.offset
            );
            cursor += 1;
            snapshot.size_bytes += message.size() as u64;
            snapshot.messages.push((
                message.offset,
                message.timestamp.as_nanos(),
                message.payload,
            ));
        }
    }

    // Single offsets, found through the indexes.
    let step = ((next - earliest) / RANDOM_READS).max(1);
    let mut offset = earliest;
    while offset < next && snapshot.unreadable.is_none_or(|u| offset < u) {
        match store.read(&topic, offset, limits(1, 0)).await {
            Ok(read) => {
                let got = read.messages.first().expect("one message below next");
                assert_eq!(got.offset, offset, "a read from {offset} starts there");
                let known = &snapshot.messages[(offset - earliest) as usize];
                if exact {
                    assert_eq!(
                        (got.timestamp.as_nanos(), &got.payload),
                        (known.1, &known.2),
                        "offset {offset} read alone differs from the same offset read in sequence"
                    );
                }
            }
            Err(e) if sealed_damage(&e, dir) => {}
            Err(e) => panic!("reading offset {offset} alone: {e}"),
        }
        offset += step;
    }

    // The edges: before the earliest, at the end, past the end.
    let at_end = store
        .read(&topic, next, limits(1, 0))
        .await
        .unwrap_or_else(|e| panic!("a read at the next offset {next}: {e}"));
    assert!(at_end.messages.is_empty(), "nothing at the next offset");
    if let Some(past) = next.checked_add(1) {
        let error = store.read(&topic, past, limits(1, 0)).await;
        assert!(
            matches!(error, Err(StoreError::OffsetOutOfRange { .. })),
            "a read past the end: {error:?}"
        );
    }

    match store.describe(&topic).await {
        Ok(info) => {
            assert_eq!(
                (info.earliest_offset, info.next_offset, info.message_count),
                (earliest, next, next - earliest),
                "describe agrees with the reads"
            );
            if exact && snapshot.unreadable.is_none() {
                assert_eq!(
                    info.size_bytes, snapshot.size_bytes,
                    "size_bytes counts payloads, keys and headers"
                );
            }
        }
        Err(e) if sealed_damage(&e, dir) => {}
        Err(e) => panic!("describe after an open: {e}"),
    }
    Some(snapshot)
}

/// What the checks of one open need besides the store.
struct Checks<'a> {
    /// The topic's directory.
    dir: &'a Path,
    /// The input's checksummed records.
    records: &'a Records,
    /// Whether indexes can be trusted to be true (no checksum was forged),
    /// so reads by index must agree with reads in sequence to the byte.
    exact: bool,
    /// Offsets from here on were appended, not part of the input.
    input_end: u64,
}

/// Every place in the input's segment files where a whole record could
/// start, by the offset it names.
struct Records {
    logs: Vec<Vec<u8>>,
    by_offset: HashMap<u64, Vec<(usize, usize)>>,
}

impl Records {
    fn of(parts: &[Part]) -> Self {
        let logs: Vec<Vec<u8>> = parts
            .iter()
            .filter(|p| p.name.ends_with(".log"))
            .filter_map(|p| p.bytes.clone())
            .collect();
        let mut by_offset: HashMap<u64, Vec<(usize, usize)>> = HashMap::new();
        for (i, log) in logs.iter().enumerate() {
            for at in 0..log.len().saturating_sub(RECORD_HEADER_LEN - 1) {
                let word = u32::from_le_bytes([log[at + 4], log[at + 5], log[at + 6], log[at + 7]]);
                let body_len = (word & !BATCH_END) as usize;
                if at + RECORD_HEADER_LEN + body_len <= log.len() {
                    let offset = u64_at(log, at + 8) & !EXTENDED;
                    by_offset.entry(offset).or_default().push((i, at));
                }
            }
        }
        Self { logs, by_offset }
    }

    /// Whether `message` is a record with a valid checksum somewhere in the
    /// input's segment files, with its offset, timestamp, payload, key and
    /// headers (decoded here by docs/storage.md, independently of the
    /// store).
    fn contains(&self, message: &minikafka_backends::Message) -> bool {
        let Some(places) = self.by_offset.get(&message.offset) else {
            return false;
        };
        places.iter().any(|&(i, at)| {
            let log = &self.logs[i];
            let word = u32::from_le_bytes([log[at + 4], log[at + 5], log[at + 6], log[at + 7]]);
            let end = at + RECORD_HEADER_LEN + (word & !BATCH_END) as usize;
            let crc = u32::from_le_bytes([log[at], log[at + 1], log[at + 2], log[at + 3]]);
            crc32c::crc32c(&log[at + 4..end]) == crc
                && u64_at(log, at + 16) == message.timestamp.as_nanos()
                && decode_body(
                    u64_at(log, at + 8) & EXTENDED != 0,
                    &log[at + RECORD_HEADER_LEN..end],
                )
                .is_some_and(|(payload, key, headers)| {
                    payload == &message.payload[..]
                        && key == &message.key[..]
                        && headers.len() == message.headers.len()
                        && headers
                            .iter()
                            .zip(&message.headers)
                            .all(|((name, value), h)| {
                                *name == h.name.as_bytes() && *value == &h.value[..]
                            })
                })
        })
    }
}

/// A record body's payload, key and headers (docs/storage.md): the body
/// itself when not extended; else a flags byte, then the key (u32 length
/// and bytes) if flag 1, the headers (u32 count, then u32 length and bytes
/// of each name and value) if flag 2, the producer (20 bytes) if flag 4,
/// and the payload. `None` if it does not add up.
#[allow(clippy::type_complexity)]
fn decode_body(extended: bool, body: &[u8]) -> Option<(&[u8], &[u8], Vec<(&[u8], &[u8])>)> {
    if !extended {
        return Some((body, &[], Vec::new()));
    }
    let flags = *body.first()?;
    if flags & !7 != 0 {
        return None;
    }
    let mut at = 1;
    let key = if flags & 1 != 0 {
        field_at(body, &mut at)?
    } else {
        &[]
    };
    let mut headers = Vec::new();
    if flags & 2 != 0 {
        for _ in 0..u32_field(body, &mut at)? {
            let name = field_at(body, &mut at)?;
            headers.push((name, field_at(body, &mut at)?));
        }
    }
    if flags & 4 != 0 {
        bytes_at(body, &mut at, 20)?;
    }
    Some((&body[at..], key, headers))
}

/// `len` bytes of `body` at `at`, moving `at` past them.
fn bytes_at<'a>(body: &'a [u8], at: &mut usize, len: usize) -> Option<&'a [u8]> {
    let field = body.get(*at..at.checked_add(len)?)?;
    *at += len;
    Some(field)
}

/// A u32 of `body` at `at`, moving `at` past it.
fn u32_field(body: &[u8], at: &mut usize) -> Option<u32> {
    let b = bytes_at(body, at, 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A u32 length and that many bytes of `body` at `at`, moving `at` past.
fn field_at<'a>(body: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = u32_field(body, at)? as usize;
    bytes_at(body, at, len)
}

/// Inputs made from real stores, for the fuzzer to start from and for the
/// stable test to run: sealed segments with indexes and a start file,
/// one active segment, a torn tail, and nothing at all.
pub fn seeds() -> Vec<Vec<u8>> {
    let sizes = [0usize, 1, 5, 40, 120, 3, 300, 7, 64, 0, 90, 2];
    let batches: Vec<Batch> = sizes
        .chunks(3)
        .cycle()
        .take(12)
        .enumerate()
        .map(|(i, chunk)| {
            let fill = u8::try_from(i).expect("few batches");
            chunk[..1 + i % chunk.len()]
                .iter()
                .map(|&n| Bytes::from(vec![fill; n]))
                .collect()
        })
        .map(Batch::new)
        .collect();
    let mut seeds = Vec::new();
    // Several sealed segments, their indexes, and retention's start file.
    let sealed = store_files(400, &batches, Some(Timestamp::from_nanos(1_500)));
    assert!(
        sealed.iter().any(|(name, _)| name == "start"),
        "retention left a start file"
    );
    seeds.push(pack_files(0, &sealed));
    seeds.push(pack_files(FIX_RECORDS | FIX_INDEXES | FIX_START, &sealed));
    // The same with a byte flipped inside a sealed segment, which start-up
    // trusts through its index: reads meet it as `DataLoss`.
    let mut damaged = sealed.clone();
    let mut logs: Vec<&mut (String, Vec<u8>)> = damaged
        .iter_mut()
        .filter(|(name, _)| name.ends_with(".log"))
        .collect();
    assert!(logs.len() >= 3, "two sealed segments and the active one");
    let second = &mut logs[1].1;
    let at = second.len() * 2 / 3;
    second[at] ^= 0x10;
    seeds.push(pack_files(0, &damaged));
    // One active segment.
    let active = store_files(1 << 20, &batches[..5], None);
    seeds.push(pack_files(FIX_RECORDS, &active));
    // The same with its last record torn.
    let mut torn = active.clone();
    if let Some((_, bytes)) = torn.iter_mut().find(|(name, _)| name.ends_with(".log")) {
        bytes.truncate(bytes.len() - 5);
    }
    seeds.push(pack_files(0, &torn));
    // Records with keys, headers and producers (v2 extensions), in sealed
    // segments whose indexes hold producer snapshots.
    let extended: Vec<Batch> = batches
        .iter()
        .enumerate()
        .map(|(i, batch)| {
            let records = batch
                .records
                .iter()
                .enumerate()
                .map(|(j, record)| Record {
                    key: if j % 2 == 0 {
                        Bytes::from(vec![b'k'; i])
                    } else {
                        Bytes::new()
                    },
                    headers: (0..j % 3)
                        .map(|h| Header {
                            name: format!("h{h}"),
                            value: Bytes::from(vec![0xff; h]),
                        })
                        .collect(),
                    ..record.clone()
                })
                .collect();
            Batch {
                producer: Some(ProducerSequence {
                    producer_id: 1 + i as u64 % 2,
                    sequence: i as u64 / 2,
                }),
                ..Batch::of_records(records)
            }
        })
        .collect();
    seeds.push(pack_files(0, &store_files(400, &extended, None)));
    // A header alone (of each layout), and no files at all.
    seeds.push(pack(0, &[(SEGMENT, b"MKFKLOG1\x01\0\0\0\0\0\0\0")]));
    seeds.push(pack(0, &[(SEGMENT, b"MKFKLOG2\x01\0\0\0\0\0\0\0")]));
    seeds.push(vec![0]);
    seeds
}

/// The files a real store leaves in the topic directory after `batches`
/// (the n-th at n µs) and, optionally, a retention pass at `cutoff`:
/// (file name, bytes), sorted by name.
fn store_files(
    segment_bytes: u64,
    batches: &[Batch],
    cutoff: Option<Timestamp>,
) -> Vec<(String, Vec<u8>)> {
    let root = tempfile::tempdir().expect("a temporary directory");
    let store = FileStore::open(
        root.path(),
        FileOptions {
            segment_bytes,
            ..options(Recovery::Strict)
        },
    )
    .expect("a fresh store opens");
    let rt = runtime();
    for (i, batch) in (1u64..).zip(batches) {
        let now = Timestamp::from_nanos(i * 1_000);
        rt.block_on(store.append(&topic(), batch.clone(), now))
            .expect("appending a seed batch");
    }
    if let Some(cutoff) = cutoff {
        let before_cutoff =
            RetentionDefaults::by_age(RetentionAge::MaxAge(std::time::Duration::ZERO));
        rt.block_on(store.enforce_retention(cutoff, before_cutoff))
            .expect("a retention pass");
    }
    drop(store);
    let dir = root.path().join("topics").join(TOPIC);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("listing the seed store")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let bytes = std::fs::read(entry.path()).expect("reading a seed file");
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// Packs a store's files as parts: segments first, then each index
/// pointing at its segment, then the start file.
fn pack_files(flags: u8, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let logs: Vec<&str> = files
        .iter()
        .filter_map(|(name, _)| name.strip_suffix(".log"))
        .collect();
    let mut parts: Vec<(u8, &[u8])> = Vec::new();
    for (name, bytes) in files {
        if name.ends_with(".log") {
            parts.push((SEGMENT, bytes));
        }
    }
    for (name, bytes) in files {
        if let Some(stem) = name.strip_suffix(".index") {
            let n = logs
                .iter()
                .position(|l| *l == stem)
                .expect("an index has its segment");
            let n = u8::try_from(n).expect("at most 16 segments in a seed");
            assert!(n < 16, "at most 16 segments in a seed");
            parts.push((INDEX | (n << 4), bytes));
        }
    }
    for (name, bytes) in files {
        if name == "start" {
            parts.push((START, bytes));
        }
    }
    pack(flags, &parts)
}
