//! What only the file store has to get right about safe retries (the
//! conformance suite checks the rules every store shares): a duplicate
//! taken into the group that writes its original is answered with that
//! group, after its sync, and fails with it; the producer table is
//! rebuilt from the newest sealed segment's snapshot, and from the
//! segments themselves when snapshots are missing or damaged.

use std::fs;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::disk::{FaultyDisk, Operation};
use super::disk_full::open;
use super::format;
use super::*;
use crate::test_support::{ALL, t, topic_dir, ts};
use crate::writer_thread::{AppendRequest, GroupCommit};
use crate::{ProducerSequence, Record};

fn from_producer(sequence: u64, payload: &str) -> Batch {
    Batch {
        producer: Some(ProducerSequence {
            producer_id: 7,
            sequence,
        }),
        ..Batch::of_records(vec![Record::from_payload(Bytes::from(payload.to_owned()))])
    }
}

type Reply = oneshot::Receiver<Result<OffsetRange, StoreError>>;

/// Takes `batch` into `group` on the writer, as the writer thread does.
fn take(store: &FileStore, batch: Batch, group: &mut Vec<<Writer as GroupCommit>::Taken>) -> Reply {
    let (reply, answer) = oneshot::channel();
    let request = AppendRequest {
        topic: t("t"),
        batch,
        now: ts(1),
        reply,
    };
    store.writer.lock().expect("writer").take(request, group);
    answer
}

/// A batch and its retry in one group: the retry waits for the group's
/// sync, then gets the original's offsets; one copy is stored.
#[tokio::test]
async fn a_retry_in_its_originals_group_is_answered_after_the_groups_sync() {
    let root = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(root.path(), FileOptions::default()).expect("open");
    let mut group = Vec::new();
    let mut original = take(&store, from_producer(1, "once"), &mut group);
    let mut retry = take(&store, from_producer(1, "once"), &mut group);
    assert!(
        original.try_recv().is_err() && retry.try_recv().is_err(),
        "nothing is answered before the group's sync"
    );
    store.writer.lock().expect("writer").commit(&mut group);
    let first = OffsetRange { first: 1, last: 1 };
    assert_eq!(original.await.expect("answered").expect("stored"), first);
    assert_eq!(retry.await.expect("answered").expect("a duplicate"), first);
    let read = store.read(&t("t"), 0, ALL).await.expect("read");
    assert_eq!(read.messages.len(), 1, "stored once");
}

/// When the group's sync fails, its original is not acknowledged, and
/// neither is its retry: the duplicate is never answered with offsets that
/// are not durable.
#[tokio::test]
async fn a_retry_in_a_group_whose_sync_fails_fails_with_it() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let store = open(&disk, root.path(), FileOptions::default());
    store
        .append(
            &t("t"),
            Batch::new(vec![Bytes::from_static(b"first")]),
            ts(1),
        )
        .await
        .expect("append");
    disk.fail(Operation::SyncFile);
    let mut group = Vec::new();
    let original = take(&store, from_producer(1, "unsynced"), &mut group);
    let retry = take(&store, from_producer(1, "unsynced"), &mut group);
    store.writer.lock().expect("writer").commit(&mut group);
    for answer in [original.await, retry.await] {
        assert!(
            matches!(answer, Ok(Err(StoreError::TopicStopped { .. }))),
            "{answer:?}"
        );
    }
    let later = store
        .append(&t("t"), from_producer(1, "unsynced"), ts(2))
        .await;
    assert!(
        matches!(later, Err(StoreError::TopicStopped { .. })),
        "a later retry is not answered from the table either"
    );
}

/// Writes 12 single-message batches of producer 7 in 100-byte segments
/// (each sealed with a snapshot), and returns the store's directory.
async fn twelve_batches_in_small_segments() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(root.path(), crate::test_support::options(100)).expect("open");
    for sequence in 1..=12 {
        let range = store
            .append(
                &t("t"),
                from_producer(sequence, &format!("m{sequence:02}")),
                ts(sequence),
            )
            .await
            .expect("append");
        assert_eq!(range.first, sequence);
    }
    root
}

/// After a reopen, each of the last five batches is a duplicate with its
/// offsets, an older one is refused, and the next sequence is stored.
async fn assert_producer_remembered(root: &std::path::Path) {
    let store = FileStore::open(root, crate::test_support::options(100)).expect("reopen");
    for sequence in 8..=12 {
        let range = store
            .append(&t("t"), from_producer(sequence, "retry"), ts(20))
            .await
            .expect("a duplicate");
        assert_eq!(
            range,
            OffsetRange {
                first: sequence,
                last: sequence
            }
        );
    }
    let too_old = store
        .append(&t("t"), from_producer(7, "retry"), ts(20))
        .await;
    assert!(
        matches!(
            too_old,
            Err(StoreError::SequenceOutOfOrder {
                received: 7,
                expected: 13,
                ..
            })
        ),
        "{too_old:?}"
    );
    let next = store
        .append(&t("t"), from_producer(13, "m13"), ts(20))
        .await
        .expect("append");
    assert_eq!(next.first, 13);
    let read = store.read(&t("t"), 0, ALL).await.expect("read");
    assert_eq!(read.messages.len(), 13, "no retry was stored");
}

#[tokio::test]
async fn the_producer_table_is_rebuilt_from_the_newest_snapshot() {
    let root = twelve_batches_in_small_segments().await;
    let dir = topic_dir(root.path(), "t");
    let indexes = fs::read_dir(&dir)
        .expect("list")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "index"))
        })
        .count();
    assert!(indexes >= 4, "{indexes} sealed segments");
    assert_producer_remembered(root.path()).await;
}

/// Start-up reads the snapshot, not the sealed segments: damage in the
/// newest sealed one (which start-up trusts through its index) does not
/// make its producer batch forgotten.
#[tokio::test]
async fn rebuilding_from_the_snapshot_reads_no_sealed_records() {
    let root = twelve_batches_in_small_segments().await;
    let segment = topic_dir(root.path(), "t").join(format::segment_file_name(11));
    let mut bytes = fs::read(&segment).expect("read segment");
    *bytes.last_mut().expect("a payload byte") ^= 1;
    fs::write(&segment, bytes).expect("damage the segment");
    let store = FileStore::open(root.path(), crate::test_support::options(100)).expect("reopen");
    let retry = store
        .append(&t("t"), from_producer(11, "retry"), ts(20))
        .await
        .expect("a duplicate");
    assert_eq!(
        retry,
        OffsetRange {
            first: 11,
            last: 11
        }
    );
}

/// The newest snapshot damaged and the one before it gone (its index
/// rebuilt without one): start-up reads the segments after an older
/// snapshot instead, and remembers the same.
#[tokio::test]
async fn damaged_or_missing_snapshots_fall_back_to_reading_segments() {
    let root = twelve_batches_in_small_segments().await;
    let dir = topic_dir(root.path(), "t");
    let mut indexes: Vec<_> = fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "index"))
        .collect();
    indexes.sort();
    let newest = indexes.pop().expect("an index");
    let mut bytes = fs::read(&newest).expect("read index");
    let header = format::decode_index_header(&bytes).expect("header");
    assert!(header.snapshot.is_some_and(|(_, len, _)| len > 0));
    *bytes.last_mut().expect("a snapshot byte") ^= 1;
    fs::write(&newest, bytes).expect("damage the snapshot");
    fs::remove_file(indexes.pop().expect("another index")).expect("remove an index");
    assert_producer_remembered(root.path()).await;
    let index = format::decode_index(&fs::read(&newest).expect("read index"));
    assert!(
        index.and_then(|i| i.producers).is_some(),
        "the newest index has its snapshot again"
    );
}
