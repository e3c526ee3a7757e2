//! Tests of what topic management means on disk: the settings file, a
//! delete through its tombstone (and what a crash or a failed step at each
//! point leaves), and retention by size removing whole sealed segments.

use std::fs;
use std::sync::Arc;

use bytes::Bytes;

use super::disk::{FaultyDisk, Operation};
use super::disk_full::{files, open};
use super::*;
use crate::test_support::{ALL, options, t, topic_dir, ts};

fn one(text: &str) -> Batch {
    Batch::new(vec![Bytes::copy_from_slice(text.as_bytes())])
}

async fn offsets(store: &FileStore, topic: &str) -> Result<Vec<u64>, StoreError> {
    let read = store.read(&t(topic), 0, ALL).await?;
    Ok(read.messages.iter().map(|m| m.offset).collect())
}

/// Appends `count` messages of 8 bytes to topic "t", one batch each, the
/// i-th at `ts(i)`.
async fn append_eight_byte_messages(store: &FileStore, count: u64) {
    for i in 1..=count {
        store
            .append(&t("t"), one("abcdefgh"), ts(i))
            .await
            .expect("append");
    }
}

fn deleted_dir_entries(root: &std::path::Path) -> usize {
    fs::read_dir(root.join(DELETED_DIR))
        .expect("the deleted directory exists")
        .count()
}

/// A topic's own settings live in its settings file, which a topic
/// following the server's defaults in everything does without.
#[tokio::test]
async fn settings_are_kept_in_a_file_only_while_the_topic_has_its_own() {
    let root = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(root.path(), FileOptions::default()).expect("open");
    let own = TopicSettings {
        retention: Some(crate::RetentionAge::Forever),
        retention_bytes: Some(1_000),
        max_message_bytes: None,
    };
    store
        .create_topic(&t("t"), own.clone())
        .await
        .expect("create");
    let file = topic_dir(root.path(), "t").join(format::SETTINGS_FILE);
    let text = fs::read_to_string(&file).expect("a settings file");
    assert_eq!(text, "MKFKSET1\nretention=forever\nretention_bytes=1000\n");
    store
        .update_topic(
            &t("t"),
            SettingsChange {
                retention: Some(None),
                retention_bytes: Some(None),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("reset");
    assert!(!file.exists(), "no settings of its own, no file");
    store
        .append(&t("plain"), one("x"), ts(1))
        .await
        .expect("append");
    assert!(
        !topic_dir(root.path(), "plain")
            .join(format::SETTINGS_FILE)
            .exists()
    );
}

/// A settings file this store cannot read stops it from opening, naming
/// the file: retention decides what is deleted, so settings are never
/// guessed.
#[tokio::test]
async fn a_damaged_settings_file_stops_the_store_from_opening() {
    let root = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(root.path(), FileOptions::default()).expect("open");
    store
        .append(&t("t"), one("x"), ts(1))
        .await
        .expect("append");
    drop(store);
    let file = topic_dir(root.path(), "t").join(format::SETTINGS_FILE);
    fs::write(&file, "MKFKSET1\nretention=sometimes\n").expect("write");
    match FileStore::open(root.path(), FileOptions::default()) {
        Err(StoreError::Corrupt { path, .. }) => assert_eq!(path, file),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// A delete whose rename to the tombstone fails changes nothing: the topic
/// stays whole and readable, on disk and in memory; once the disk works,
/// the delete does, leaving no file of the topic anywhere.
#[tokio::test]
async fn a_delete_whose_rename_fails_leaves_the_topic_whole() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let store = open(&disk, root.path(), options(100));
    append_eight_byte_messages(&store, 6).await;
    let before = files(root.path());
    disk.fail(Operation::Rename);
    match store.delete_topic(&t("t")).await {
        Err(StoreError::Io { context, .. }) => assert!(context.contains("moving"), "{context}"),
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert_eq!(files(root.path()), before);
    assert_eq!(
        offsets(&store, "t").await.expect("read"),
        (1..=6).collect::<Vec<_>>()
    );
    drop(store);
    let store = open(&disk, root.path(), options(100));
    assert_eq!(
        offsets(&store, "t").await.expect("read"),
        (1..=6).collect::<Vec<_>>()
    );

    disk.heal(Operation::Rename);
    assert_eq!(store.delete_topic(&t("t")).await.expect("delete"), 6);
    assert!(
        files(root.path()).iter().all(|f| f == ".lock"),
        "{:?}",
        files(root.path())
    );
    assert!(!topic_dir(root.path(), "t").exists());
    assert_eq!(deleted_dir_entries(root.path()), 0);
}

/// Once renamed to its tombstone, a topic is gone, even if removing its
/// files then fails: the delete succeeds, the name is free at once, and
/// the next start-up removes what was left.
#[tokio::test]
async fn a_tombstone_whose_removal_fails_is_removed_at_the_next_start() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let store = open(&disk, root.path(), options(100));
    append_eight_byte_messages(&store, 6).await;
    disk.fail_under(Operation::RemoveFile, &root.path().join(DELETED_DIR));
    assert_eq!(store.delete_topic(&t("t")).await.expect("delete"), 6);
    assert!(matches!(
        offsets(&store, "t").await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert_eq!(deleted_dir_entries(root.path()), 1, "the tombstone is left");
    store
        .append(&t("t"), one("new"), ts(7))
        .await
        .expect("append");
    drop(store);

    disk.heal(Operation::RemoveFile);
    let store = open(&disk, root.path(), options(100));
    assert_eq!(deleted_dir_entries(root.path()), 0, "removed at start-up");
    assert_eq!(offsets(&store, "t").await.expect("read"), vec![1]);
}

/// A stop right after the rename (the tombstone whole, its topic's name
/// free): the store opens without the topic and removes the tombstone.
#[tokio::test]
async fn a_topic_stopped_after_its_rename_is_gone_at_the_next_start() {
    let root = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(root.path(), options(100)).expect("open");
    append_eight_byte_messages(&store, 6).await;
    store
        .append(&t("other"), one("x"), ts(1))
        .await
        .expect("append");
    drop(store);
    fs::rename(
        topic_dir(root.path(), "t"),
        root.path().join(DELETED_DIR).join("0"),
    )
    .expect("rename as the delete would");

    let store = FileStore::open(root.path(), options(100)).expect("open");
    assert!(matches!(
        store.describe(&t("t")).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert_eq!(deleted_dir_entries(root.path()), 0);
    assert_eq!(offsets(&store, "other").await.expect("read"), vec![1]);
}

/// Retention by size deletes the oldest sealed segments while the topic is
/// over its limit, never the active one: a topic whose active segment
/// alone is over the limit keeps it.
#[tokio::test]
async fn retention_by_size_deletes_whole_sealed_segments_and_never_the_active_one() {
    let root = tempfile::tempdir().expect("temporary directory");
    // 16-byte header, 24 + 8 bytes a record: three records a segment.
    let store = FileStore::open(root.path(), options(112)).expect("open");
    append_eight_byte_messages(&store, 10).await;
    let segments = |root: &std::path::Path| {
        let mut bases: Vec<u64> = fs::read_dir(topic_dir(root, "t"))
            .expect("list")
            .filter_map(|e| {
                format::parse_segment_file_name(&e.expect("entry").file_name().to_string_lossy())
            })
            .collect();
        bases.sort_unstable();
        bases
    };
    assert_eq!(segments(root.path()), vec![1, 4, 7, 10]);
    let limit = |bytes| SettingsChange {
        retention_bytes: Some(Some(bytes)),
        ..SettingsChange::default()
    };
    let forever = RetentionDefaults::by_age(crate::RetentionAge::Forever);

    store.update_topic(&t("t"), limit(50)).await.expect("limit");
    let report = store
        .enforce_retention(ts(11), forever)
        .await
        .expect("sweep");
    assert_eq!((report.messages_removed, report.bytes_removed), (6, 48));
    assert_eq!(segments(root.path()), vec![7, 10]);
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.size_bytes), (7, 32));
    assert_eq!(info.oldest_timestamp, Some(ts(7)));

    store.update_topic(&t("t"), limit(1)).await.expect("limit");
    store
        .enforce_retention(ts(11), forever)
        .await
        .expect("sweep");
    assert_eq!(segments(root.path()), vec![10], "the active segment stays");
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.size_bytes), (10, 8));
    drop(store);
    let store = FileStore::open(root.path(), options(112)).expect("open");
    assert_eq!(offsets(&store, "t").await.expect("read"), vec![10]);
}

/// Many topics, few handles: the store keeps at most `open_files` segment
/// files open, whatever the number of topics, and every topic reads back
/// whole through handles opened again.
#[tokio::test]
async fn many_topics_keep_no_more_than_open_files_handles_open() {
    let root = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        open_files: 8,
        ..options(200)
    };
    let store = FileStore::open(root.path(), options).expect("open");
    for i in 0..100 {
        let name = format!("t{i:03}");
        for j in 0..3 {
            store
                .append(&t(&name), one(&format!("{name}-{j}-payload")), ts(j))
                .await
                .expect("append");
        }
        assert!(
            store.shared.files.len() <= 8,
            "{} open",
            store.shared.files.len()
        );
    }
    for i in 0..100 {
        let name = format!("t{i:03}");
        let read = store.read(&t(&name), 0, ALL).await.expect("read");
        let texts: Vec<Bytes> = read.messages.into_iter().map(|m| m.payload).collect();
        let expected: Vec<Bytes> = (0..3)
            .map(|j| Bytes::from(format!("{name}-{j}-payload")))
            .collect();
        assert_eq!(texts, expected);
    }
    assert!(store.shared.files.len() <= 8);
    drop(store);
    let store = FileStore::open(root.path(), options).expect("reopen");
    assert!(store.shared.files.len() <= 8, "recovery keeps few open too");
    assert_eq!(store.list(None, usize::MAX).await.expect("list").len(), 100);
}

/// Runs the ignored test `name` of this binary in a child process whose
/// open-file limit is `limit`, and asserts that it ran and passed (a
/// renamed child would otherwise match nothing and "pass").
fn run_under_open_file_limit(limit: u32, name: &str) {
    let binary = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {limit} && exec \"$0\" --exact --ignored --test-threads=1 {name}"
        ))
        .arg(binary)
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} under ulimit -n {limit}: {}\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// More topics than the process may open files: they all work, because
/// only recently used segments are kept open.
#[test]
fn more_topics_than_the_open_file_limit_all_work() {
    run_under_open_file_limit(
        64,
        "file::management::child_appends_to_500_topics_with_16_open_files",
    );
}

/// Out of descriptors anyway (a limit below the cache's): the append says
/// so with [`StoreError::TooManyOpenFiles`], not as an internal error.
#[test]
fn running_out_of_descriptors_anyway_says_so() {
    run_under_open_file_limit(
        48,
        "file::management::child_runs_out_of_descriptors_with_a_large_cache",
    );
}

#[tokio::test]
#[ignore = "run by more_topics_than_the_open_file_limit_all_work under a low ulimit"]
async fn child_appends_to_500_topics_with_16_open_files() {
    let root = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        open_files: 16,
        ..FileOptions::default()
    };
    let store = FileStore::open(root.path(), options).expect("open");
    for i in 0..500 {
        store
            .append(&t(&format!("t{i}")), one("m"), ts(1))
            .await
            .expect("append");
    }
    for i in (0..500).step_by(7) {
        let read = store
            .read(&t(&format!("t{i}")), 0, ALL)
            .await
            .expect("read");
        assert_eq!(read.messages.len(), 1);
    }
    drop(store);
    let store = FileStore::open(root.path(), options).expect("reopen");
    assert_eq!(store.list(None, usize::MAX).await.expect("list").len(), 500);
}

#[tokio::test]
#[ignore = "run by running_out_of_descriptors_anyway_says_so under a low ulimit"]
async fn child_runs_out_of_descriptors_with_a_large_cache() {
    let root = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        open_files: 10_000,
        ..FileOptions::default()
    };
    let store = FileStore::open(root.path(), options).expect("open");
    for i in 0..100 {
        match store.append(&t(&format!("t{i}")), one("m"), ts(1)).await {
            Ok(_) => {}
            Err(error @ StoreError::TooManyOpenFiles { .. }) => {
                let message = error.to_string();
                assert!(message.contains("ulimit -n"), "{message}");
                return;
            }
            Err(other) => panic!("expected TooManyOpenFiles, got {other:?}"),
        }
    }
    panic!("100 topics fitted in 48 descriptors with every file kept open");
}

/// The files this process holds open under `root` (from /proc/self/fd).
fn open_files_under(root: &std::path::Path) -> Vec<String> {
    fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.starts_with(root))
        .map(|target| target.display().to_string())
        .collect()
}

/// A delete closes the topic's files, so their space is freed at once
/// rather than when the handles would have been evicted.
#[tokio::test]
async fn a_delete_closes_the_topics_files() {
    let root = tempfile::tempdir().expect("temporary directory");
    let root_path = fs::canonicalize(root.path()).expect("canonical root");
    let store = FileStore::open(&root_path, options(100)).expect("open");
    append_eight_byte_messages(&store, 10).await;
    assert_eq!(offsets(&store, "t").await.expect("read").len(), 10);
    let topic_files: Vec<String> = open_files_under(&root_path)
        .into_iter()
        .filter(|f| f.contains("/topics/t/"))
        .collect();
    assert!(!topic_files.is_empty(), "the reads opened its segments");
    store.delete_topic(&t("t")).await.expect("delete");
    let left: Vec<String> = open_files_under(&root_path)
        .into_iter()
        .filter(|f| !f.ends_with("/.lock"))
        .collect();
    assert!(left.is_empty(), "still open: {left:?}");
}

/// A tombstone that cannot be removed at start-up keeps nothing from
/// working: the store opens (with a warning), and later deletes pick
/// tombstone names of their own.
#[tokio::test]
async fn a_tombstone_that_cannot_be_removed_at_start_up_is_left_for_later() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    drop(open(&disk, root.path(), options(100)));
    let stuck = root.path().join(DELETED_DIR).join("0");
    fs::create_dir(&stuck).expect("a tombstone");
    fs::write(stuck.join("00000000000000000001.log"), b"old").expect("a file in it");
    disk.fail_under(Operation::RemoveFile, &stuck);
    let store = open(&disk, root.path(), options(100));
    assert!(stuck.exists(), "left for the next start-up");
    append_eight_byte_messages(&store, 2).await;
    assert_eq!(store.delete_topic(&t("t")).await.expect("delete"), 2);
    assert_eq!(deleted_dir_entries(root.path()), 1, "only the stuck one");
    disk.heal(Operation::RemoveFile);
    drop(store);
    drop(open(&disk, root.path(), options(100)));
    assert_eq!(deleted_dir_entries(root.path()), 0);
}

/// Readers racing retention with a single open file: a segment deleted
/// between a read's look at the view and its opening of the file is
/// skipped (the start moved past it), never an error, and every read
/// returns consecutive messages from the earliest it reports on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_on_while_retention_deletes_the_segments_they_were_about_to_open() {
    let root = tempfile::tempdir().expect("temporary directory");
    let options = FileOptions {
        open_files: 1,
        durability: crate::Durability::Never,
        ..options(112)
    };
    let store = Arc::new(FileStore::open(root.path(), options).expect("open"));
    append_eight_byte_messages(&store, 30).await;
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..300 {
                    let read = store
                        .read(&t("t"), 0, ALL)
                        .await
                        .expect("a read never fails");
                    let offsets: Vec<u64> = read.messages.iter().map(|m| m.offset).collect();
                    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{offsets:?}");
                    // Read from 0: from the earliest, whatever was removed.
                    if let Some(&first) = offsets.first() {
                        assert_eq!(first, read.earliest_offset);
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for i in 31..=200 {
        store
            .append(&t("t"), one("abcdefgh"), ts(i))
            .await
            .expect("append");
        store
            .enforce_retention(
                ts(i.saturating_sub(20)),
                crate::conformance::EXPIRE_BEFORE_NOW,
            )
            .await
            .expect("sweep");
    }
    for reader in readers {
        reader.await.expect("no reader panicked");
    }
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!(info.next_offset, 201);
    assert!(info.earliest_offset > 150, "{info:?}");
}
