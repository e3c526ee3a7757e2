//! Edge cases of the file store found in review and by fuzzing, each
//! pinned by a test: the start position across rolls and retention,
//! cutoffs that go back, start files past the end of a cut log, stray
//! files among the topics, and damage inside the active segment. The
//! comment above each test states the invariant it holds.

use std::fs;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::format::{self, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::*;
use crate::test_support::{ALL, EXPIRE_BEFORE_NOW, options, t, topic_dir, ts};

fn log_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .expect("topic directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| fs::metadata(p).expect("metadata").len())
        .sum()
}

async fn read_offsets(store: &FileStore, topic: &str, from: u64) -> Result<Vec<u64>, StoreError> {
    let read = store.read(&t(topic), from, ALL).await?;
    Ok(read.messages.iter().map(|m| m.offset).collect())
}

type AppendFuture<'a> = Pin<Box<dyn Future<Output = Result<OffsetRange, StoreError>> + Send + 'a>>;

/// Polls a future once (so an append sends its command to the writer).
fn poll_once(future: &mut AppendFuture<'_>) {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(matches!(future.as_mut().poll(&mut cx), Poll::Pending));
}

/// Appends `batches` so that the writer thread takes them as ONE group,
/// deterministically: the writer is held inside the publish of an append to
/// `blocker` (an existing topic whose view we hold a read lock on) while the
/// batches are queued behind it.
async fn append_in_one_group(
    store: &FileStore,
    root: &Path,
    blocker: &str,
    batches: Vec<(&str, Vec<Bytes>, Timestamp)>,
) -> Vec<Result<OffsetRange, StoreError>> {
    let blocker_name = t(blocker);
    let blocker_topic = store.topic(&blocker_name).expect("blocker topic exists");
    let blocker_dir = topic_dir(root, blocker);
    let before = log_bytes(&blocker_dir);
    let guard = blocker_topic
        .view
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    let mut first: AppendFuture<'_> = Box::pin(store.append(
        &blocker_name,
        Batch::new(vec![Bytes::from_static(b"blocker")]),
        ts(0),
    ));
    poll_once(&mut first);
    // Once the blocker's record is on disk the writer has taken its group;
    // it then waits for our read lock in `publish`.
    while log_bytes(&blocker_dir) == before {
        std::thread::yield_now();
    }
    let names: Vec<TopicName> = batches.iter().map(|(n, _, _)| t(n)).collect();
    let mut futures: Vec<AppendFuture<'_>> = batches
        .into_iter()
        .zip(&names)
        .map(|((_, payloads, now), name)| store.append(name, Batch::new(payloads), now))
        .collect();
    for future in &mut futures {
        poll_once(future);
    }
    drop(guard);
    first.await.expect("blocker append");
    futures::future::join_all(futures).await
}

/// The start position always points at the start offset's record, also
/// when everything had expired and one group then appends to the active
/// segment (batch A) and rolls it (batch B): the start record (A's first)
/// stays in the sealed segment at its old length, not at its first byte,
/// and reads from the start return it.
#[tokio::test]
async fn start_position_after_everything_expired_and_a_group_that_appends_then_rolls() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(dir.path(), options(200)).expect("open");
    store
        .append(
            &t("t"),
            Batch::new(vec![Bytes::from_static(b"old")]),
            ts(10),
        )
        .await
        .expect("append");
    store
        .append(&t("x"), Batch::new(vec![Bytes::from_static(b"x")]), ts(10))
        .await
        .expect("append");
    // Everything in "t" expires: its start is at the end of its segment.
    store
        .enforce_retention(ts(11), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");

    let a = Bytes::from(vec![b'a'; 50]); // 43 + 74 = 117 bytes: fits
    let b = Bytes::from(vec![b'b'; 100]); // 117 + 124 > 200: rolls
    let results = append_in_one_group(
        &store,
        dir.path(),
        "x",
        vec![
            ("t", vec![a.clone()], ts(20)),
            ("t", vec![b.clone()], ts(20)),
        ],
    )
    .await;
    let ranges: Vec<(u64, u64)> = results
        .into_iter()
        .map(|r| r.expect("append"))
        .map(|r| (r.first, r.last))
        .collect();
    assert_eq!(ranges, vec![(2, 2), (3, 3)]);

    let read = store.read(&t("t"), 0, ALL).await;
    let payloads: Vec<(u64, Bytes)> = read
        .expect("reading the two acknowledged messages")
        .messages
        .into_iter()
        .map(|m| (m.offset, m.payload))
        .collect();
    assert_eq!(payloads, vec![(2, a), (3, b)]);
}

/// Retention after such a group counts each removed record's bytes once:
/// `bytes_removed` never exceeds `size_bytes`, the sizes stay exact, and
/// the writer goes on taking commands.
#[tokio::test]
async fn retention_after_a_group_that_appends_then_rolls_counts_each_byte_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(dir.path(), options(200)).expect("open");
    store
        .append(
            &t("t"),
            Batch::new(vec![Bytes::from_static(b"old")]),
            ts(10),
        )
        .await
        .expect("append");
    store
        .append(&t("x"), Batch::new(vec![Bytes::from_static(b"x")]), ts(100))
        .await
        .expect("append");
    store
        .enforce_retention(ts(11), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    let results = append_in_one_group(
        &store,
        dir.path(),
        "x",
        vec![
            ("t", vec![Bytes::from(vec![b'a'; 50])], ts(20)),
            ("t", vec![Bytes::from(vec![b'b'; 100])], ts(20)),
        ],
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let report = store.enforce_retention(ts(21), EXPIRE_BEFORE_NOW).await;
    let report = report.expect("retention pass");
    assert_eq!(
        (report.messages_removed, report.bytes_removed),
        (2, 150),
        "the two messages of 50 and 100 bytes expired"
    );
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!((info.message_count, info.size_bytes), (0, 0));
}

/// A retention pass whose cutoff is earlier than the last one's (the clock
/// stepped back, or a restart with a longer retention) finds nothing to
/// remove and no damage, also when a sealed segment lies wholly before the
/// start: the records scanned for expiry are always those from the start
/// on, in the segment that holds the start. The same pass sweeps every
/// other topic.
#[tokio::test]
async fn an_earlier_cutoff_after_a_roll_is_not_corruption() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(dir.path(), options(100)).expect("open");
    store
        .append(&t("t"), Batch::new(vec![Bytes::from_static(b"a")]), ts(10))
        .await
        .expect("append");
    store
        .enforce_retention(ts(11), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    // Rolls: segment 1 (everything in it expired) is now sealed.
    store
        .append(
            &t("t"),
            Batch::new(vec![Bytes::from(vec![b'n'; 70])]),
            ts(20),
        )
        .await
        .expect("append");
    assert_eq!(read_offsets(&store, "t", 0).await.expect("read"), vec![2]);
    // Another topic holds a message older than the coming cutoff.
    store
        .append(
            &t("z-other"),
            Batch::new(vec![Bytes::from_static(b"old")]),
            ts(1),
        )
        .await
        .expect("append");

    let report = store.enforce_retention(ts(5), EXPIRE_BEFORE_NOW).await;
    assert!(report.is_ok(), "{report:?}");
    assert!(
        read_offsets(&store, "z-other", 0)
            .await
            .expect("read")
            .is_empty(),
        "the message stored at ts(1) is older than the cutoff ts(5)"
    );
}

/// A start file past the end of the log (the log was cut by
/// MINIKAFKA_RECOVERY=truncate, or a power cut took an unsynced tail while
/// the start file had been synced) is rewritten at the end of the log by
/// recovery, on disk and not only in memory: messages acknowledged after
/// that restart, at the offsets it pointed past, stay readable after the
/// next one.
#[tokio::test]
async fn a_start_file_past_a_truncated_log_does_not_hide_later_messages() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let opts = options(100); // 3 records of 27 bytes per segment
    let store = FileStore::open(dir.path(), opts).expect("open");
    for i in 1..=9u64 {
        store
            .append(
                &t("t"),
                Batch::new(vec![Bytes::from(format!("m{i:02}"))]),
                ts(i),
            )
            .await
            .expect("append");
    }
    // Deletes segment 1 (offsets 1-3); the start moves to offset 5 in
    // segment 4.
    let report = store
        .enforce_retention(ts(5), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    assert_eq!(report.messages_removed, 4);
    drop(store);

    // Damage offset 4's record in the sealed segment 4 (and lose its index
    // so it is scanned): truncate mode cuts the log there.
    let segment = topic_dir(dir.path(), "t").join(format::segment_file_name(4));
    let mut bytes = fs::read(&segment).expect("read");
    bytes[SEGMENT_HEADER_LEN as usize + RECORD_HEADER_LEN] ^= 0xff;
    fs::write(&segment, &bytes).expect("write");
    fs::remove_file(segment.with_extension("index")).expect("remove index");
    let truncating = FileOptions {
        recovery: Recovery::Truncate,
        ..opts
    };
    let store = FileStore::open(dir.path(), truncating).expect("open, truncating");
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.next_offset), (4, 4));
    for text in ["new-4", "new-5", "new-6"] {
        store
            .append(&t("t"), Batch::new(vec![Bytes::from(text)]), ts(20))
            .await
            .expect("append");
    }
    assert_eq!(
        read_offsets(&store, "t", 0).await.expect("read"),
        vec![4, 5, 6]
    );
    drop(store);

    let store = FileStore::open(dir.path(), opts).expect("reopen");
    assert_eq!(
        read_offsets(&store, "t", 0).await.expect("read"),
        vec![4, 5, 6],
        "messages acknowledged after the truncation survive a clean restart"
    );
}

/// The same holds when the start file points past a tail lost because it
/// was never synced (MINIKAFKA_FSYNC=<interval>), simulated here by
/// cutting the tail off after a clean close.
#[tokio::test]
async fn a_start_file_past_a_lost_unsynced_tail_does_not_hide_later_messages() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let opts = FileOptions {
        durability: Durability::Interval(Duration::from_secs(3600)),
        ..FileOptions::default()
    };
    let store = FileStore::open(dir.path(), opts).expect("open");
    for i in 1..=3u64 {
        store
            .append(
                &t("t"),
                Batch::new(vec![Bytes::from(format!("m{i}"))]),
                ts(i),
            )
            .await
            .expect("append");
    }
    store
        .enforce_retention(ts(10), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    drop(store);
    // A power cut loses messages 2 and 3 (not yet synced): the file holds
    // its header and message 1 only; the (synced) start file says 4.
    let segment = topic_dir(dir.path(), "t").join(format::segment_file_name(1));
    let keep = SEGMENT_HEADER_LEN + (RECORD_HEADER_LEN + 2) as u64;
    fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open")
        .set_len(keep)
        .expect("truncate");

    let store = FileStore::open(dir.path(), opts).expect("open after the power cut");
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.next_offset), (2, 2));
    for text in ["after-2", "after-3", "after-4"] {
        store
            .append(&t("t"), Batch::new(vec![Bytes::from(text)]), ts(20))
            .await
            .expect("append");
    }
    store.sync().await.expect("sync");
    drop(store);

    let store = FileStore::open(dir.path(), opts).expect("reopen");
    assert_eq!(
        read_offsets(&store, "t", 0).await.expect("read"),
        vec![2, 3, 4],
        "messages acknowledged (and synced) after the restart survive"
    );
}

/// Recovery trusts a start file's position only if a whole, checksummed
/// record with the start offset begins there, in the segment that holds
/// the start: a stale position (the start file of a topic whose every
/// message expired, after a roll) that lands inside a payload that merely
/// looks like a record header is located afresh, so reads from the start
/// work and `size_bytes` is exact.
#[tokio::test]
async fn a_stale_start_position_is_not_trusted_because_a_payload_looks_like_a_header() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let opts = options(100);
    let store = FileStore::open(dir.path(), opts).expect("open");
    store
        .append(&t("t"), Batch::new(vec![Bytes::from_static(b"a")]), ts(10))
        .await
        .expect("append");
    // The start file now says (2, 41): the end of segment 1.
    store
        .enforce_retention(ts(11), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    // 64 bytes of binary payload; bytes 9..17 are the number 2 (u64 LE).
    let mut payload = vec![0u8; 64];
    payload[9..17].copy_from_slice(&2u64.to_le_bytes());
    let payload = Bytes::from(payload);
    // Rolls: segment 2 holds offset 2 at byte 16, its payload at 40..104.
    store
        .append(&t("t"), Batch::new(vec![payload.clone()]), ts(20))
        .await
        .expect("append");
    drop(store);

    let store = FileStore::open(dir.path(), opts).expect("reopen");
    let read = store
        .read(&t("t"), 0, ALL)
        .await
        .expect("read after reopening");
    assert_eq!(read.messages.len(), 1);
    assert_eq!(read.messages[0].payload, payload);
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!(info.size_bytes, 64);
}

/// A plain file in `topics/` whose name is a valid topic name (a README, a
/// note, `lost+found`-like debris) is skipped with a warning: it does not
/// keep the store from opening.
#[tokio::test]
async fn a_stray_file_in_the_topics_directory_does_not_stop_opening() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(dir.path(), FileOptions::default()).expect("open");
    store
        .append(
            &t("t"),
            Batch::new(vec![Bytes::from_static(b"kept")]),
            ts(1),
        )
        .await
        .expect("append");
    drop(store);
    fs::write(dir.path().join(TOPICS_DIR).join("README.txt"), b"notes").expect("write");
    let store = FileStore::open(dir.path(), FileOptions::default());
    let store = store.expect("a stray file is skipped with a warning");
    assert_eq!(read_offsets(&store, "t", 0).await.expect("read"), vec![1]);
}

/// A sealed segment wholly before the start (its messages all expired while
/// it was active, then it was rolled) is deleted by the first pass whose
/// cutoff it is older than, even though that pass moves no start.
#[tokio::test]
async fn a_wholly_expired_sealed_segment_before_the_start_is_deleted() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(dir.path(), options(100)).expect("open");
    store
        .append(&t("t"), Batch::new(vec![Bytes::from_static(b"a")]), ts(10))
        .await
        .expect("append");
    store
        .enforce_retention(ts(11), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    store
        .append(
            &t("t"),
            Batch::new(vec![Bytes::from(vec![b'n'; 70])]),
            ts(20),
        )
        .await
        .expect("append");
    store
        .enforce_retention(ts(15), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    let first = topic_dir(dir.path(), "t").join(format::segment_file_name(1));
    assert!(
        !first.exists(),
        "segment 1's last record (ts 10) is older than the cutoff (ts 15)"
    );
}

/// Damage inside the active segment with whole records after it: the log
/// is cut at the damage, as for a torn tail (the records after a gap cannot
/// be served in order, and after a power cut they can be the unsynced part
/// of the last writes, written back out of order), but the cut bytes are
/// kept beside the segment, never destroyed.
#[tokio::test]
async fn corruption_in_the_middle_of_the_active_segment_keeps_the_cut_bytes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(dir.path(), FileOptions::default()).expect("open");
    for i in 1..=10u64 {
        store
            .append(
                &t("t"),
                Batch::new(vec![Bytes::from(format!("m{i:02}"))]),
                ts(i),
            )
            .await
            .expect("append");
    }
    drop(store);
    // Flip one payload byte of offset 3 (records are 27 bytes).
    let segment = topic_dir(dir.path(), "t").join(format::segment_file_name(1));
    let mut bytes = fs::read(&segment).expect("read");
    let damaged_record = SEGMENT_HEADER_LEN as usize + 2 * 27;
    bytes[damaged_record + RECORD_HEADER_LEN] ^= 0xff;
    fs::write(&segment, &bytes).expect("write");

    let store = FileStore::open(dir.path(), FileOptions::default()).expect("open");
    assert_eq!(
        read_offsets(&store, "t", 0).await.expect("read"),
        vec![1, 2]
    );
    let kept = fs::read(segment.with_extension("log.damaged")).expect("the cut bytes are kept");
    assert_eq!(
        kept,
        bytes[damaged_record..],
        "every byte after the last whole batch"
    );
    drop(store);
    // The kept file does not disturb the next start.
    let store = FileStore::open(dir.path(), FileOptions::default()).expect("reopen");
    assert_eq!(
        read_offsets(&store, "t", 0).await.expect("read"),
        vec![1, 2]
    );
}

/// A topic directory holding a start file but no segment (not a state the
/// store leaves, but one a hand or a bad restore can; found by the
/// `segment_decode` fuzz target) opens as no topic, and the stale start
/// file never hides the messages of a topic created there: they survive a
/// restart.
#[tokio::test]
async fn a_stale_start_file_without_segments_does_not_hide_a_new_topic() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let topic = topic_dir(dir.path(), "t");
    fs::create_dir_all(&topic).expect("topic directory");
    fs::write(
        topic.join(format::START_FILE),
        format::encode_start(2, 40, 0),
    )
    .expect("start file");
    let store = FileStore::open(dir.path(), options(1 << 20)).expect("open");
    let appended = store
        .append(
            &t("t"),
            Batch::new(vec![Bytes::from_static(b"appended")]),
            ts(1),
        )
        .await
        .expect("append");
    assert_eq!(appended, OffsetRange { first: 1, last: 1 });
    drop(store);
    let reopened = FileStore::open(dir.path(), options(1 << 20)).expect("reopen");
    assert_eq!(
        read_offsets(&reopened, "t", 1).await.expect("read"),
        vec![1]
    );
}
