//! A full disk, through the fault-injection seam ([`FaultyDisk`]): a write
//! that hits `ENOSPC` fails as `StorageFull` and changes nothing — no
//! partial record on disk or visible, no new topic, no temporary file —
//! reads go on, retention can still free space, and once space is back
//! appends succeed again without a restart. `cmd/tests/durability.rs` does
//! the same on a real, small file system.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::disk::FaultyDisk;
use super::*;
use crate::test_support::{ALL, EXPIRE_BEFORE_NOW, options, t, topic_dir, ts};

/// A store on `disk` (also used by the other fault tests).
pub(super) fn open(disk: &Arc<FaultyDisk>, root: &Path, options: FileOptions) -> FileStore {
    FileStore::open_on(Arc::clone(disk) as Arc<dyn Disk>, root, options).expect("open")
}

fn batch(tag: u8, messages: usize) -> Vec<Bytes> {
    (0..messages)
        .map(|i| Bytes::from(vec![tag; 40 + i]))
        .collect()
}

async fn payloads(store: &FileStore, topic: &str) -> Vec<(u64, Bytes)> {
    let read = store.read(&t(topic), 1, ALL).await.expect("read");
    read.messages
        .into_iter()
        .map(|m| (m.offset, m.payload))
        .collect()
}

/// Every file under `root` (for "nothing left behind" checks).
pub(super) fn files(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("list") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(
                    path.strip_prefix(root)
                        .expect("under root")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    found.sort();
    found
}

fn assert_storage_full(result: Result<OffsetRange, StoreError>) {
    match result {
        Err(StoreError::StorageFull { .. }) => {}
        other => panic!("expected StorageFull, got {other:?}"),
    }
}

#[tokio::test]
async fn an_append_that_fills_the_disk_leaves_no_trace_and_works_once_space_returns() {
    for durability in [Durability::Always, Durability::Never] {
        let root = tempfile::tempdir().expect("temporary directory");
        let disk = Arc::new(FaultyDisk::default());
        let options = FileOptions {
            durability,
            ..FileOptions::default()
        };
        let store = open(&disk, root.path(), options);
        let acknowledged = store
            .append(&t("t"), Batch::new(batch(b'a', 3)), ts(1))
            .await;
        assert_eq!(
            acknowledged.expect("append"),
            OffsetRange { first: 1, last: 3 }
        );
        let before = payloads(&store, "t").await;
        let log = root
            .path()
            .join("topics/t")
            .join(format::segment_file_name(1));
        let log_len = fs::metadata(&log).expect("segment").len();

        // Room for part of the next batch's first record: a torn write.
        disk.set_free(Some(30));
        assert_storage_full(
            store
                .append(&t("t"), Batch::new(batch(b'b', 5)), ts(2))
                .await,
        );
        assert_storage_full(
            store
                .append(&t("t"), Batch::new(batch(b'c', 1)), ts(3))
                .await,
        );
        assert_eq!(
            payloads(&store, "t").await,
            before,
            "{durability:?}: reads go on"
        );
        assert_eq!(
            fs::metadata(&log).expect("segment").len(),
            log_len,
            "{durability:?}: the torn bytes were cut away"
        );
        let info = store.describe(&t("t")).await.expect("describe");
        assert_eq!(info.next_offset, 4, "{durability:?}");

        disk.set_free(None);
        let resumed = store
            .append(&t("t"), Batch::new(batch(b'd', 2)), ts(4))
            .await;
        assert_eq!(resumed.expect("append"), OffsetRange { first: 4, last: 5 });
        let after = payloads(&store, "t").await;
        drop(store);

        let reopened = open(&disk, root.path(), options);
        assert_eq!(payloads(&reopened, "t").await, after, "{durability:?}");
        assert_eq!(
            after.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(after[3].1, Bytes::from(vec![b'd'; 40]));
    }
}

#[tokio::test]
async fn a_topic_that_cannot_be_created_for_lack_of_space_does_not_exist() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let store = open(&disk, root.path(), FileOptions::default());
    disk.set_free(Some(0));
    assert_storage_full(
        store
            .append(&t("new"), Batch::new(batch(b'a', 1)), ts(1))
            .await,
    );
    assert!(matches!(
        store.describe(&t("new")).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert_eq!(files(root.path()), vec![".lock".to_owned()]);

    disk.set_free(None);
    let created = store
        .append(&t("new"), Batch::new(batch(b'a', 1)), ts(1))
        .await;
    assert_eq!(created.expect("append"), OffsetRange { first: 1, last: 1 });
}

#[tokio::test]
async fn a_roll_that_cannot_write_its_index_fails_whole_and_is_retried() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let options = options(200);
    let store = open(&disk, root.path(), options);
    store
        .append(&t("t"), Batch::new(batch(b'a', 3)), ts(1))
        .await
        .expect("append");
    let before = files(root.path());
    disk.set_free(Some(10));
    // Over 200 bytes with what is there: the segment must roll first.
    assert_storage_full(
        store
            .append(&t("t"), Batch::new(batch(b'b', 2)), ts(2))
            .await,
    );
    assert_eq!(
        files(root.path()),
        before,
        "no index, temporary file or new segment"
    );

    disk.set_free(None);
    let rolled = store
        .append(&t("t"), Batch::new(batch(b'b', 2)), ts(2))
        .await;
    assert_eq!(rolled.expect("append"), OffsetRange { first: 4, last: 5 });
    let all = payloads(&store, "t").await;
    drop(store);
    let reopened = open(&disk, root.path(), options);
    assert_eq!(payloads(&reopened, "t").await, all);
    assert_eq!(all.len(), 5);
}

/// Retention is how a full disk gets space back without an operator: it
/// must work with no space at all (deleting whole segments needs none).
#[tokio::test]
async fn retention_frees_whole_segments_on_a_full_disk() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let options = options(200);
    let store = open(&disk, root.path(), options);
    for (i, tag) in [b'a', b'b', b'c'].into_iter().enumerate() {
        store
            .append(&t("t"), Batch::new(batch(tag, 3)), ts(10 * (i as u64 + 1)))
            .await
            .expect("append");
    }
    let dir = topic_dir(root.path(), "t");
    assert!(dir.join(format::segment_file_name(4)).exists());
    disk.set_free(Some(0));
    assert_storage_full(
        store
            .append(&t("t"), Batch::new(batch(b'x', 1)), ts(40))
            .await,
    );

    let removed = store
        .enforce_retention(ts(25), EXPIRE_BEFORE_NOW)
        .await
        .expect("retention");
    assert_eq!(removed.messages_removed, 6);
    assert!(!dir.join(format::segment_file_name(1)).exists());
    assert!(!dir.join(format::segment_file_name(4)).exists());
    let left: Vec<u64> = payloads_from(&store, 7).await;
    assert_eq!(left, vec![7, 8, 9]);
    drop(store);

    // A crash now finds the old start file (or none) before the first
    // segment: the first segment is the start.
    disk.set_free(None);
    let reopened = open(&disk, root.path(), options);
    let info = reopened.describe(&t("t")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.next_offset), (7, 10));
    let appended = reopened
        .append(&t("t"), Batch::new(batch(b'y', 1)), ts(50))
        .await;
    assert_eq!(
        appended.expect("append"),
        OffsetRange {
            first: 10,
            last: 10
        }
    );
}

async fn payloads_from(store: &FileStore, from: u64) -> Vec<u64> {
    let read = store.read(&t("t"), from, ALL).await.expect("read");
    read.messages.iter().map(|m| m.offset).collect()
}

/// A missing index is rebuilt at start-up; with no space to save it, the
/// store still opens (the index only spares the next start-up a scan).
#[tokio::test]
async fn a_store_opens_on_a_full_disk_even_when_an_index_cannot_be_saved() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let options = options(200);
    let store = open(&disk, root.path(), options);
    for tag in [b'a', b'b'] {
        store
            .append(&t("t"), Batch::new(batch(tag, 3)), ts(1))
            .await
            .expect("append");
    }
    let all = payloads(&store, "t").await;
    drop(store);
    let index = topic_dir(root.path(), "t")
        .join(format::segment_file_name(1))
        .with_extension("index");
    fs::remove_file(&index).expect("remove index");

    disk.set_free(Some(0));
    let reopened = open(&disk, root.path(), options);
    assert_eq!(payloads(&reopened, "t").await, all);
    assert!(!index.exists());
    assert!(
        !files(root.path()).iter().any(|f| f.ends_with(".tmp")),
        "{:?}",
        files(root.path())
    );
}

/// A commit that hits a full disk is refused and changes nothing: the
/// group keeps its old position, before and after a reopen, and commits
/// work again once space is back.
#[tokio::test]
async fn a_commit_on_a_full_disk_is_refused_and_changes_nothing() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let store = open(&disk, root.path(), FileOptions::default());
    store
        .append(&t("t"), Batch::new(batch(b'a', 3)), ts(1))
        .await
        .expect("append");
    let group = GroupName::new("g").expect("group");
    let commit = |offset| OffsetCommit {
        offset,
        time: ts(2),
        metadata: String::new(),
    };
    store
        .commit_offset(&group, &t("t"), commit(2))
        .await
        .expect("commit");
    disk.set_free(Some(0));
    let refused = store.commit_offset(&group, &t("t"), commit(4)).await;
    assert!(
        matches!(refused, Err(StoreError::StorageFull { .. })),
        "{refused:?}"
    );
    assert_eq!(
        store.fetch_offset(&group, &t("t")).await.expect("fetch"),
        Some(commit(2))
    );
    disk.set_free(None);
    store
        .commit_offset(&group, &t("t"), commit(3))
        .await
        .expect("commits work again with space back");
    drop(store);
    let store = open(&disk, root.path(), FileOptions::default());
    assert_eq!(
        store.fetch_offset(&group, &t("t")).await.expect("fetch"),
        Some(commit(3))
    );
}
