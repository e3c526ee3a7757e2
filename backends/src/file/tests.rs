//! Tests of the file store on real files in temporary directories: the
//! conformance suite at two segment sizes and in every durability mode,
//! and what only a segment log has: rolling, reads across segment
//! boundaries, recovery from torn and corrupt files, the root's lock.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::format::{self, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::*;
use crate::test_support::{ALL, EXPIRE_BEFORE_NOW, options, t, topic_dir, ts};

fn store_at(path: &Path, options: FileOptions) -> Arc<dyn Store> {
    Arc::new(FileStore::open(path, options).expect("open the file store"))
}

mod default_options {
    use super::*;

    async fn open() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        (store_at(dir.path(), FileOptions::default()), dir)
    }

    fn open_at(path: &Path) -> Arc<dyn Store> {
        store_at(path, FileOptions::default())
    }

    async fn open_capped(max_producers: usize) -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = FileOptions {
            max_producers,
            ..FileOptions::default()
        };
        (store_at(dir.path(), options), dir)
    }

    crate::conformance_tests!(open);
    crate::conformance_tests!(persistent open_at);
    crate::conformance_tests!(capped open_capped);
}

/// Segments of a few records each, so every scenario crosses segments.
mod tiny_segments {
    use super::*;

    const OPTIONS: FileOptions = FileOptions {
        durability: Durability::Always,
        segment_bytes: 100,
        recovery: Recovery::Strict,
        max_producers: crate::producers::DEFAULT_MAX_PRODUCERS,
        // Few, so the suite runs with handles closed and opened again.
        open_files: 4,
    };

    async fn open() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        (store_at(dir.path(), OPTIONS), dir)
    }

    fn open_at(path: &Path) -> Arc<dyn Store> {
        store_at(path, OPTIONS)
    }

    crate::conformance_tests!(open);
    crate::conformance_tests!(persistent open_at);
}

/// Appends that need no sync are mostly made on the caller's thread
/// (`Writer::append_here`), the rest by the writer thread: the whole suite
/// runs through both.
mod never_synced {
    use super::*;

    async fn open() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        (open_at(dir.path()), dir)
    }

    fn open_at(path: &Path) -> Arc<dyn Store> {
        store_at(
            path,
            FileOptions {
                durability: Durability::Never,
                ..FileOptions::default()
            },
        )
    }

    crate::conformance_tests!(open);
    crate::conformance_tests!(persistent open_at);
}

mod synced_on_an_interval {
    use super::*;

    async fn open() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        (open_at(dir.path()), dir)
    }

    fn open_at(path: &Path) -> Arc<dyn Store> {
        let options = FileOptions {
            durability: Durability::Interval(Duration::from_millis(5)),
            ..FileOptions::default()
        };
        store_at(path, options)
    }

    crate::conformance_tests!(open);
    crate::conformance_tests!(persistent open_at);
}

fn now() -> Timestamp {
    Timestamp::from_nanos(1_800_000_000_000_000_000)
}

fn segment_files(root: &Path, topic: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(topic_dir(root, topic))
        .expect("topic directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

async fn offsets(store: &dyn Store, topic: &str, from: u64) -> Vec<u64> {
    let read = store.read(&t(topic), from, ALL).await.expect("read");
    read.messages.iter().map(|m| m.offset).collect()
}

async fn fill(store: &dyn Store, topic: &str, batches: u64, per_batch: u64) {
    for batch in 0..batches {
        let payloads: Vec<Bytes> = (0..per_batch)
            .map(|i| Bytes::from(format!("message-{}", batch * per_batch + i + 1)))
            .collect();
        store
            .append(&t(topic), Batch::new(payloads), now())
            .await
            .expect("append");
    }
}

/// Waits (up to 10 s) until the writer has synced everything written.
async fn synced(store: &FileStore) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.writer.lock().expect("writer").has_unsynced_writes() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still unsynced after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn only_appends_needing_no_sync_or_roll_are_made_on_the_callers_thread() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let small = || vec![Bytes::from_static(b"small")];
    for (durability, here) in [(Durability::Always, false), (Durability::Never, true)] {
        let root = dir.path().join(format!("{durability:?}"));
        let store = FileStore::open(
            &root,
            FileOptions {
                durability,
                ..options(1024)
            },
        )
        .expect("open");
        let append_here = |payloads: &[Bytes]| {
            let mut writer = store.writer.lock().expect("writer");
            writer
                .append_here(&t("t"), &Batch::new(payloads.to_vec()), now())
                .map(|r| r.expect("append"))
        };
        assert!(
            append_here(&small()).is_none(),
            "creating a topic syncs: the writer thread's work"
        );
        store
            .append(&t("t"), Batch::new(small()), now())
            .await
            .expect("append");
        assert_eq!(
            append_here(&small()),
            here.then_some(OffsetRange { first: 2, last: 2 }),
            "{durability:?}"
        );
        if here {
            assert!(append_here(&[Bytes::from(vec![0; 64 * 1024])]).is_none());
            assert!(
                append_here(&[Bytes::from(vec![0; 1000])]).is_none(),
                "a roll syncs the sealed segment: the writer thread's work"
            );
        }
        let read = store.read(&t("t"), 1, ALL).await.expect("read");
        assert_eq!(read.next_offset, if here { 3 } else { 2 }, "published");
    }
}

#[tokio::test]
async fn appends_made_on_the_callers_thread_are_synced_on_the_interval() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        durability: Durability::Interval(Duration::from_millis(50)),
        ..FileOptions::default()
    };
    let store = FileStore::open(dir.path(), options).expect("open");
    let one = |text: &'static str| vec![Bytes::from_static(text.as_bytes())];
    store
        .append(&t("t"), Batch::new(one("a")), now())
        .await
        .expect("append");
    synced(&store).await;
    assert!(
        store
            .writer
            .lock()
            .expect("writer")
            .append_here(&t("t"), &Batch::new(one("b")), now())
            .is_none(),
        "the first write after a sync starts the interval: the writer thread's"
    );
    store
        .append(&t("t"), Batch::new(one("b")), now())
        .await
        .expect("append");
    let here =
        store
            .writer
            .lock()
            .expect("writer")
            .append_here(&t("t"), &Batch::new(one("c")), now());
    assert_eq!(
        here.map(|r| r.expect("append")),
        Some(OffsetRange { first: 3, last: 3 }),
        "within a running interval, made here"
    );
    synced(&store).await;
    let read = store.read(&t("t"), 1, ALL).await.expect("read");
    let payloads: Vec<&[u8]> = read.messages.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, [&b"a"[..], b"b", b"c"]);
}

#[tokio::test]
async fn segments_roll_at_the_size_limit_and_reads_cross_them() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(
        dir.path(),
        FileOptions {
            segment_bytes: 512,
            ..FileOptions::default()
        },
    );
    fill(&*store, "rolling", 100, 1).await;
    let segments = segment_files(dir.path(), "rolling");
    assert_eq!(
        segments.len(),
        8,
        "100 records of 35 bytes, 14 to a 512-byte segment: {segments:?}"
    );
    let names: Vec<String> = segments
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(names[0], "00000000000000000001.log");
    for path in &segments {
        let len = fs::metadata(path).expect("metadata").len();
        assert!(len <= 512, "{} is {len} bytes", path.display());
    }
    // Every sealed segment has its index; the active one does not need one.
    for path in &segments[..segments.len() - 1] {
        assert!(path.with_extension("index").exists(), "{}", path.display());
    }
    assert_eq!(
        offsets(&*store, "rolling", 0).await,
        (1..=100).collect::<Vec<_>>()
    );
    // From every offset, a small read crosses into the next segment.
    for from in 1..=100 {
        let read = store
            .read(
                &t("rolling"),
                from,
                ReadLimits {
                    max_messages: 20,
                    max_bytes: usize::MAX,
                },
            )
            .await
            .expect("read");
        let got: Vec<u64> = read.messages.iter().map(|m| m.offset).collect();
        assert_eq!(
            got,
            (from..=(from + 19).min(100)).collect::<Vec<_>>(),
            "from {from}"
        );
        assert_eq!(read.messages[0].payload, format!("message-{from}"));
    }
}

#[tokio::test]
async fn a_batch_never_spans_two_segments() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(
        dir.path(),
        FileOptions {
            segment_bytes: 300,
            ..FileOptions::default()
        },
    );
    fill(&*store, "batches", 10, 4).await;
    for path in segment_files(dir.path(), "batches") {
        let bytes = fs::read(&path).expect("read segment");
        let (base, _) = format::decode_segment_header(&bytes).expect("header");
        let mut at = SEGMENT_HEADER_LEN as usize;
        let mut last_ends_batch = true;
        while at < bytes.len() {
            let header = format::decode_record_header(&bytes[at..]);
            assert!(header.offset >= base);
            last_ends_batch = header.batch_end;
            at += header.record_len();
        }
        assert!(last_ends_batch, "{} ends inside a batch", path.display());
        assert_eq!(
            (base - 1) % 4,
            0,
            "{} starts inside a batch",
            path.display()
        );
    }
}

#[tokio::test]
async fn retention_deletes_whole_segments_but_never_the_active_one() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(
        dir.path(),
        FileOptions {
            segment_bytes: 200,
            ..FileOptions::default()
        },
    );
    for i in 0..30u64 {
        let at = Timestamp::from_nanos(now().as_nanos() + i);
        store
            .append(
                &t("old"),
                Batch::new(vec![Bytes::from(format!("m{i:02}"))]),
                at,
            )
            .await
            .expect("append");
    }
    let before = segment_files(dir.path(), "old").len();
    let report = store
        .enforce_retention(
            Timestamp::from_nanos(now().as_nanos() + 20),
            EXPIRE_BEFORE_NOW,
        )
        .await
        .expect("remove");
    assert_eq!(report.messages_removed, 20);
    let after = segment_files(dir.path(), "old");
    assert!(
        after.len() < before,
        "whole segments were deleted: {before} → {}",
        after.len()
    );
    assert_eq!(
        offsets(&*store, "old", 0).await,
        (21..=30).collect::<Vec<_>>()
    );
    store
        .enforce_retention(Timestamp::from_nanos(u64::MAX), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove all");
    let last = segment_files(dir.path(), "old");
    assert_eq!(last.len(), 1, "the active segment stays: {last:?}");
    assert!(offsets(&*store, "old", 0).await.is_empty());
}

/// A crash mid-write leaves part of a record at the end of the active
/// segment; reopening cuts it off and keeps everything before it.
#[tokio::test]
async fn a_torn_tail_is_cut_back_to_the_last_whole_batch() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), FileOptions::default());
    fill(&*store, "torn", 3, 2).await;
    drop(store);
    let segment = segment_files(dir.path(), "torn").remove(0);
    let whole = fs::metadata(&segment).expect("metadata").len();
    // A batch of two whose second record was cut short.
    let mut torn = Vec::new();
    format::encode_record(&mut torn, 7, now(), b"first of the torn batch", false);
    format::encode_record(&mut torn, 8, now(), b"second, cut short", true);
    torn.truncate(torn.len() - 5);
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .expect("open")
        .write_all(&torn)
        .expect("write");

    let store = store_at(dir.path(), FileOptions::default());
    assert_eq!(
        offsets(&*store, "torn", 0).await,
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(
        fs::metadata(&segment).expect("metadata").len(),
        whole,
        "the torn batch was cut off whole"
    );
    let range = store
        .append(
            &t("torn"),
            Batch::new(vec![Bytes::from_static(b"next")]),
            now(),
        )
        .await
        .expect("append");
    assert_eq!(
        range.first, 7,
        "numbering continues after the last whole batch"
    );
}

#[tokio::test]
async fn garbage_after_the_last_record_is_cut_off() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), FileOptions::default());
    fill(&*store, "garbage", 2, 1).await;
    drop(store);
    let segment = segment_files(dir.path(), "garbage").remove(0);
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .expect("open")
        .write_all(&[0xAB; 100])
        .expect("write");
    let store = store_at(dir.path(), FileOptions::default());
    assert_eq!(offsets(&*store, "garbage", 0).await, vec![1, 2]);
}

/// Damage inside a sealed segment is not a torn tail: opening stops and
/// says where, unless truncation is allowed.
#[tokio::test]
async fn corruption_in_a_sealed_segment_stops_opening_unless_truncation_is_allowed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        segment_bytes: 200,
        ..FileOptions::default()
    };
    let store = store_at(dir.path(), options);
    fill(&*store, "damaged", 20, 1).await;
    drop(store);
    let segments = segment_files(dir.path(), "damaged");
    assert!(segments.len() >= 3);
    let second = &segments[1];
    // Flip a payload byte of its first record, and lose its index so the
    // segment is scanned.
    let mut bytes = fs::read(second).expect("read");
    let first_payload = SEGMENT_HEADER_LEN as usize + RECORD_HEADER_LEN;
    bytes[first_payload] ^= 0xff;
    fs::write(second, &bytes).expect("write");
    fs::remove_file(second.with_extension("index")).expect("remove index");

    match FileStore::open(dir.path(), options) {
        Err(StoreError::Corrupt {
            path,
            position,
            detail,
        }) => {
            assert_eq!(&path, second);
            assert_eq!(position, SEGMENT_HEADER_LEN);
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Nothing was changed by the refusal.
    assert_eq!(fs::read(second).expect("read"), bytes);
    assert_eq!(segment_files(dir.path(), "damaged").len(), segments.len());

    let truncating = FileOptions {
        recovery: Recovery::Truncate,
        ..options
    };
    let store = store_at(dir.path(), truncating);
    let kept = offsets(&*store, "damaged", 0).await;
    let second_base =
        format::parse_segment_file_name(&second.file_name().expect("name").to_string_lossy())
            .expect("base");
    assert_eq!(
        kept,
        (1..second_base).collect::<Vec<_>>(),
        "the log ends where the damage began"
    );
    let range = store
        .append(
            &t("damaged"),
            Batch::new(vec![Bytes::from_static(b"after")]),
            now(),
        )
        .await
        .expect("append");
    assert_eq!(range.first, second_base);
}

#[tokio::test]
async fn a_missing_or_damaged_index_is_rebuilt() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        segment_bytes: 300,
        ..FileOptions::default()
    };
    let store = store_at(dir.path(), options);
    fill(&*store, "indexed", 30, 1).await;
    drop(store);
    let segments = segment_files(dir.path(), "indexed");
    fs::remove_file(segments[0].with_extension("index")).expect("remove");
    fs::write(segments[1].with_extension("index"), b"not an index").expect("damage");
    let store = store_at(dir.path(), options);
    assert_eq!(
        offsets(&*store, "indexed", 0).await,
        (1..=30).collect::<Vec<_>>()
    );
    for segment in &segments[..2] {
        let bytes = fs::read(segment.with_extension("index")).expect("rebuilt");
        assert!(
            format::decode_index(&bytes).is_some(),
            "{}",
            segment.display()
        );
    }
}

#[tokio::test]
async fn a_second_store_cannot_open_the_same_root() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), FileOptions::default());
    let error = FileStore::open(dir.path(), FileOptions::default()).expect_err("locked");
    assert!(
        error
            .to_string()
            .contains("in use by another minikafka server"),
        "{error}"
    );
    drop(store);
    FileStore::open(dir.path(), FileOptions::default()).expect("free again once closed");
}

#[tokio::test]
async fn entries_that_are_not_topics_are_left_alone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let topics = dir.path().join(TOPICS_DIR);
    fs::create_dir_all(topics.join("has space")).expect("mkdir");
    fs::write(topics.join("has space").join("keep.txt"), b"mine").expect("write");
    fs::create_dir_all(topics.join("empty-topic")).expect("mkdir");
    let store = store_at(dir.path(), FileOptions::default());
    assert!(store.list(None, usize::MAX).await.expect("list").is_empty());
    assert_eq!(
        fs::read(topics.join("has space").join("keep.txt")).expect("kept"),
        b"mine"
    );
}

#[tokio::test]
async fn a_segment_whose_creation_was_cut_short_is_repaired() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        segment_bytes: 100,
        ..FileOptions::default()
    };
    let store = store_at(dir.path(), options);
    fill(&*store, "cut", 3, 1).await;
    drop(store);
    // A crash right after creating the next segment file, before its header.
    let next = topic_dir(dir.path(), "cut").join(format::segment_file_name(4));
    if next.exists() {
        fs::remove_file(&next).expect("remove");
    }
    let last = segment_files(dir.path(), "cut").pop().expect("a segment");
    let bytes = fs::read(&last).expect("read");
    let index = format::SegmentIndex {
        end_offset: 4,
        log_len: bytes.len() as u64,
        newest_timestamp: now(),
        size_bytes: 3,
        entries: vec![(
            format::decode_segment_header(&bytes).expect("header").0,
            SEGMENT_HEADER_LEN,
        )],
        producers: Some(Vec::new()),
    };
    fs::write(last.with_extension("index"), format::encode_index(&index)).expect("index");
    fs::write(&next, b"MKFK").expect("a partial header");
    let store = store_at(dir.path(), options);
    assert_eq!(offsets(&*store, "cut", 0).await, vec![1, 2, 3]);
    let range = store
        .append(&t("cut"), Batch::new(vec![Bytes::from_static(b"4")]), now())
        .await
        .expect("append");
    assert_eq!(range.first, 4);
}

/// A payload the record format cannot hold (its length word has 31 bits)
/// is refused as too large, and creates nothing. (The zeroed allocation is
/// never touched, so it costs no memory.)
#[tokio::test]
async fn a_payload_over_the_record_limit_is_refused_as_too_large() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), FileOptions::default());
    let huge = Bytes::from(vec![0u8; format::MAX_PAYLOAD_LEN + 1]);
    match store.append(&t("t"), Batch::new(vec![huge]), now()).await {
        Err(StoreError::MessageTooLarge { size, limit }) => {
            assert_eq!(
                (size, limit),
                (format::MAX_PAYLOAD_LEN + 1, format::MAX_PAYLOAD_LEN)
            );
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert!(matches!(
        store.describe(&t("t")).await,
        Err(StoreError::TopicNotFound(_))
    ));
}

/// Times are found through sealed and active segments that hold many
/// sparse index entries each, and after retention removed whole segments:
/// each answers what a scan of everything held would.
#[tokio::test]
async fn times_are_found_through_the_sparse_indexes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), options(64 * 1024));
    let topic = t("timed");
    let payload = Bytes::from(vec![b'x'; 1000]);
    // Message i (from 1) is stored at ts(i / 2 * 10): pairs share a time.
    for i in 1..=300u64 {
        store
            .append(&topic, Batch::new(vec![payload.clone()]), ts(i / 2 * 10))
            .await
            .expect("append");
    }
    assert!(
        segment_files(dir.path(), "timed").len() >= 4,
        "the messages span several segments"
    );
    let check = |store: Arc<dyn Store>| {
        let topic = topic.clone();
        async move {
            let held = store.read(&topic, 0, ALL).await.expect("read");
            for n in (0..=1520).step_by(5) {
                let expected = held
                    .messages
                    .iter()
                    .find(|m| m.timestamp >= ts(n))
                    .map_or(held.next_offset, |m| m.offset);
                let found = store
                    .offset_for_time(&topic, ts(n))
                    .await
                    .expect("offset for time");
                assert_eq!(found, expected, "time {n}");
            }
            held.earliest_offset
        }
    };
    assert_eq!(check(Arc::clone(&store)).await, 1);
    store
        .enforce_retention(ts(700), EXPIRE_BEFORE_NOW)
        .await
        .expect("retention");
    assert!(
        check(Arc::clone(&store)).await > 1,
        "retention removed whole segments"
    );
}
