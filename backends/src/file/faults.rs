//! Failures of the disk other than a full one, through the fault-injection
//! seam ([`FaultyDisk`]): a failed sync stops the topic (and what a restart
//! then finds), a failed rename while an index or a start file is saved,
//! and a failed removal during retention. Each leaves nothing acknowledged
//! lost, nothing unsynced visible, and reads going on.

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::disk::{FaultyDisk, Operation};
use super::disk_full::{files, open};
use super::*;
use crate::test_support::{ALL, EXPIRE_BEFORE_NOW, options, t, topic_dir, ts};

fn batch(tag: &str, messages: usize) -> Vec<Bytes> {
    (0..messages)
        .map(|i| Bytes::from(format!("{tag}-{i}")))
        .collect()
}

async fn offsets(store: &FileStore, topic: &str) -> Vec<u64> {
    let read = store.read(&t(topic), 0, ALL).await.expect("read");
    read.messages.iter().map(|m| m.offset).collect()
}

fn assert_stopped(result: Result<OffsetRange, StoreError>, topic: &str) {
    match result {
        Err(StoreError::TopicStopped { topic: name, cause }) => {
            assert_eq!(name.as_str(), topic);
            assert!(cause.contains("os error 5"), "{cause}");
        }
        other => panic!("expected TopicStopped for '{topic}', got {other:?}"),
    }
}

/// Every error event logged in this process, as text, captured by a
/// subscriber installed once for the whole test binary (the writer logs on
/// its own thread, so a thread-local subscriber would not see it).
fn logged_errors() -> &'static Mutex<Vec<String>> {
    static ERRORS: OnceLock<&'static Mutex<Vec<String>>> = OnceLock::new();
    ERRORS.get_or_init(|| {
        let errors: &'static Mutex<Vec<String>> = Box::leak(Box::default());
        let _ = tracing::subscriber::set_global_default(ErrorCapture(errors));
        errors
    })
}

/// A subscriber that keeps the fields of every ERROR event.
struct ErrorCapture(&'static Mutex<Vec<String>>);

impl tracing::Subscriber for ErrorCapture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::ERROR
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        self.0.lock().expect("log").push(text.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A failed fsync under `Durability::Always`: the produce it was for fails,
/// nothing of it is shown to readers, the topic refuses later writes with
/// `TopicStopped` naming it (and says so in the log), other topics and
/// reads go on. After a restart the topic takes writes again, recovered
/// from what is on disk: the acknowledged messages, and the failed batch
/// too if its bytes reached the disk (here they did: only the sync failed).
#[tokio::test]
async fn a_failed_sync_stops_the_topic_until_a_restart_recovers_it() {
    let errors = logged_errors();
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let store = open(&disk, root.path(), FileOptions::default());
    let acknowledged = store
        .append(&t("stopping"), Batch::new(batch("a", 3)), ts(1))
        .await;
    assert_eq!(
        acknowledged.expect("append"),
        OffsetRange { first: 1, last: 3 }
    );
    store
        .append(&t("bystander"), Batch::new(batch("b", 1)), ts(1))
        .await
        .expect("append");

    disk.fail(Operation::SyncFile);
    assert_stopped(
        store
            .append(&t("stopping"), Batch::new(batch("c", 2)), ts(2))
            .await,
        "stopping",
    );
    disk.heal(Operation::SyncFile);
    assert_eq!(
        offsets(&store, "stopping").await,
        vec![1, 2, 3],
        "the unsynced batch is not shown"
    );
    assert_stopped(
        store
            .append(&t("stopping"), Batch::new(batch("d", 1)), ts(3))
            .await,
        "stopping",
    );
    let info = store.describe(&t("stopping")).await.expect("describe");
    assert_eq!(info.next_offset, 4);
    let other = store
        .append(&t("bystander"), Batch::new(batch("e", 1)), ts(3))
        .await;
    assert_eq!(other.expect("append"), OffsetRange { first: 2, last: 2 });
    assert!(
        errors
            .lock()
            .expect("log")
            .iter()
            .any(|line| line.contains("topic 'stopping' takes no more writes")),
        "the log says the topic stopped"
    );
    drop(store);

    let reopened = open(&disk, root.path(), FileOptions::default());
    let read = reopened.read(&t("stopping"), 0, ALL).await.expect("read");
    let payloads: Vec<&[u8]> = read.messages.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(
        payloads,
        [&b"a-0"[..], b"a-1", b"a-2", b"c-0", b"c-1"],
        "recovery keeps every whole batch on disk"
    );
    let resumed = reopened
        .append(&t("stopping"), Batch::new(batch("f", 1)), ts(4))
        .await;
    assert_eq!(resumed.expect("append"), OffsetRange { first: 6, last: 6 });
}

/// Without a sync per append, a failed sync (here the one a `sync` asks
/// for) stops the topic just the same, also for appends made on the
/// caller's thread.
#[tokio::test]
async fn a_failed_sync_stops_a_topic_written_without_syncs() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let options = FileOptions {
        durability: Durability::Never,
        ..FileOptions::default()
    };
    let store = open(&disk, root.path(), options);
    store
        .append(&t("t"), Batch::new(batch("a", 2)), ts(1))
        .await
        .expect("append");
    store
        .append(&t("t"), Batch::new(batch("b", 1)), ts(1))
        .await
        .expect("append");
    disk.fail(Operation::SyncFile);
    match store.sync().await {
        Err(StoreError::TopicStopped { topic, .. }) => assert_eq!(topic, t("t")),
        other => panic!("expected TopicStopped, got {other:?}"),
    }
    disk.heal(Operation::SyncFile);
    let here = store.writer.lock().expect("writer").append_here(
        &t("t"),
        &Batch::new(batch("c", 1)),
        ts(2),
    );
    assert_stopped(here.expect("a write the caller's thread takes"), "t");
    assert_stopped(
        store
            .append(&t("t"), Batch::new(batch("c", 1)), ts(2))
            .await,
        "t",
    );
    assert_eq!(offsets(&store, "t").await, vec![1, 2, 3], "reads go on");
}

/// A failed rename while a sealed segment's index is saved fails the
/// append that needed the roll, leaves no index, temporary file or new
/// segment, and does not stop the topic: the next append rolls.
#[tokio::test]
async fn a_failed_rename_of_an_index_fails_the_roll_and_changes_nothing() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let options = options(200);
    let store = open(&disk, root.path(), options);
    store
        .append(&t("t"), Batch::new(batch("a", 4)), ts(1))
        .await
        .expect("append");
    let dir = topic_dir(root.path(), "t");
    let before = files(root.path());

    disk.fail(Operation::Rename);
    match store
        .append(&t("t"), Batch::new(batch("b", 4)), ts(2))
        .await
    {
        Err(StoreError::Io { context, .. }) => {
            assert!(context.contains("renaming"), "{context}");
            assert!(context.contains(".index"), "{context}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert_eq!(
        files(root.path()),
        before,
        "no index, temporary file or segment"
    );
    assert_eq!(offsets(&store, "t").await, vec![1, 2, 3, 4]);

    disk.heal(Operation::Rename);
    let rolled = store
        .append(&t("t"), Batch::new(batch("b", 4)), ts(2))
        .await;
    assert_eq!(rolled.expect("append"), OffsetRange { first: 5, last: 8 });
    drop(store);
    let reopened = open(&disk, root.path(), options);
    assert_eq!(offsets(&reopened, "t").await, (1..=8).collect::<Vec<_>>());
    assert!(dir.join(format::index_file_name(1)).exists());
}

/// A failed rename while the start file is saved fails the retention
/// pass and moves no start, in memory or on disk; the next pass works.
#[tokio::test]
async fn a_failed_rename_of_the_start_file_moves_no_start() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let store = open(&disk, root.path(), FileOptions::default());
    for i in 1..=3 {
        store
            .append(&t("t"), Batch::new(batch("m", 1)), ts(i))
            .await
            .expect("append");
    }
    let dir = topic_dir(root.path(), "t");
    let before = files(root.path());

    disk.fail(Operation::Rename);
    match store.enforce_retention(ts(3), EXPIRE_BEFORE_NOW).await {
        Err(StoreError::Io { context, .. }) => {
            assert!(context.contains("renaming"), "{context}");
            assert!(context.contains("start"), "{context}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert_eq!(files(root.path()), before, "no start or temporary file");
    assert!(!dir.join(format::START_FILE).exists());
    assert_eq!(offsets(&store, "t").await, vec![1, 2, 3]);

    disk.heal(Operation::Rename);
    let removed = store
        .enforce_retention(ts(3), EXPIRE_BEFORE_NOW)
        .await
        .expect("retention");
    assert_eq!(removed.messages_removed, 2);
    assert_eq!(offsets(&store, "t").await, vec![3]);
    drop(store);
    let reopened = open(&disk, root.path(), FileOptions::default());
    assert_eq!(offsets(&reopened, "t").await, vec![3]);
}

/// A failed removal of an expired segment fails the pass, naming the
/// file; the segment stays in the log, readable, with every later one, and
/// the next pass deletes it. The pass still sweeps the other topics.
#[tokio::test]
async fn a_failed_removal_during_retention_keeps_the_segment_for_the_next_pass() {
    let root = tempfile::tempdir().expect("temporary directory");
    let disk = Arc::new(FaultyDisk::default());
    let options = options(200);
    let store = open(&disk, root.path(), options);
    for topic in ["t", "u"] {
        for i in 1..=3 {
            store
                .append(&t(topic), Batch::new(batch("m", 4)), ts(i))
                .await
                .expect("append");
        }
    }
    let dir = topic_dir(root.path(), "t");
    let first = dir.join(format::segment_file_name(1));
    assert!(dir.join(format::segment_file_name(5)).exists(), "rolled");

    disk.fail_under(Operation::RemoveFile, &dir);
    match store.enforce_retention(ts(3), EXPIRE_BEFORE_NOW).await {
        Err(StoreError::Io { context, .. }) => {
            assert!(context.contains(&*first.to_string_lossy()), "{context}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert!(first.exists());
    assert_eq!(offsets(&store, "t").await, (1..=12).collect::<Vec<_>>());
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!(info.earliest_offset, 1);
    assert_eq!(
        offsets(&store, "u").await,
        (9..=12).collect::<Vec<_>>(),
        "the other topic was swept"
    );

    disk.heal(Operation::RemoveFile);
    let removed = store
        .enforce_retention(ts(3), EXPIRE_BEFORE_NOW)
        .await
        .expect("retention");
    assert_eq!(removed.messages_removed, 8);
    assert!(!first.exists());
    assert_eq!(offsets(&store, "t").await, (9..=12).collect::<Vec<_>>());
    drop(store);
    let reopened = open(&disk, root.path(), options);
    assert_eq!(offsets(&reopened, "t").await, (9..=12).collect::<Vec<_>>());
    assert_eq!(offsets(&reopened, "u").await, (9..=12).collect::<Vec<_>>());
}

/// A topic whose directory, first segment or directory entry cannot be
/// made durable does not exist: the produce fails, nothing is left on
/// disk, and the next produce creates it.
#[tokio::test]
async fn a_topic_that_cannot_be_created_does_not_exist() {
    for operation in [
        Operation::CreateDir,
        Operation::CreateFile,
        Operation::SyncFile,
        Operation::SyncDir,
    ] {
        let root = tempfile::tempdir().expect("temporary directory");
        let disk = Arc::new(FaultyDisk::default());
        let store = open(&disk, root.path(), FileOptions::default());
        disk.fail(operation);
        match store
            .append(&t("new"), Batch::new(batch("a", 1)), ts(1))
            .await
        {
            Err(StoreError::Io { cause, .. }) => {
                assert_eq!(cause.raw_os_error(), Some(5), "{operation:?}");
            }
            other => panic!("{operation:?}: expected an Io error, got {other:?}"),
        }
        assert!(
            matches!(
                store.describe(&t("new")).await,
                Err(StoreError::TopicNotFound(_))
            ),
            "{operation:?}"
        );
        assert_eq!(
            files(root.path()),
            vec![".lock".to_owned()],
            "{operation:?}"
        );
        assert!(!topic_dir(root.path(), "new").exists(), "{operation:?}");
        disk.heal(operation);
        let created = store
            .append(&t("new"), Batch::new(batch("a", 1)), ts(1))
            .await;
        assert_eq!(created.expect("append"), OffsetRange { first: 1, last: 1 });
    }
}
