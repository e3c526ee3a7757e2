//! Tests of the SQLite store on real database files: the conformance suite
//! in every durability mode, refusing files that are not ours (and leaving
//! them untouched), space reuse under a steady produce-and-expire load,
//! readers that race producers, migrations from real older databases, and
//! answered offset commits surviving a kill of the process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::Connection;

use super::*;
use crate::test_support::{EXPIRE_BEFORE_NOW, t, ts as at};

fn store_at(path: &Path, durability: Durability) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(
            path,
            SqliteOptions {
                durability,
                ..SqliteOptions::default()
            },
        )
        .expect("open the SQLite store"),
    )
}

mod always {
    use super::*;

    async fn open() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        (store_at(dir.path(), Durability::Always), dir)
    }

    fn open_at(path: &Path) -> Arc<dyn Store> {
        store_at(path, Durability::Always)
    }

    async fn open_capped(max_producers: usize) -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = SqliteOptions {
            max_producers,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(dir.path(), options).expect("open the SQLite store");
        (Arc::new(store), dir)
    }

    crate::conformance_tests!(open);
    crate::conformance_tests!(exact_size_retention open);
    crate::conformance_tests!(persistent open_at);
    crate::conformance_tests!(capped open_capped);
}

mod never_synced {
    use super::*;

    fn open_at(path: &Path) -> Arc<dyn Store> {
        store_at(path, Durability::Never)
    }

    crate::conformance_tests!(persistent open_at);
}

mod synced_on_an_interval {
    use super::*;

    fn open_at(path: &Path) -> Arc<dyn Store> {
        store_at(path, Durability::Interval(Duration::from_millis(5)))
    }

    crate::conformance_tests!(persistent open_at);
}

fn refusal(root: &Path) -> String {
    match SqliteStore::open(root, SqliteOptions::default()) {
        Err(error @ StoreError::NotOurs { .. }) => error.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(DATABASE_FILE);
    let garbage = b"these are not the bytes you are looking for".repeat(200);
    std::fs::write(&path, &garbage).expect("write");
    let message = refusal(dir.path());
    assert!(
        message.contains(&path.display().to_string()) && message.contains("not an SQLite database"),
        "{message}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), garbage, "untouched");
}

#[test]
fn another_applications_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(DATABASE_FILE);
    let other = Connection::open(&path).expect("create");
    other
        .execute_batch("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread');")
        .expect("fill");
    drop(other);
    let before = std::fs::read(&path).expect("read");
    let message = refusal(dir.path());
    assert!(message.contains("another application"), "{message}");
    assert_eq!(std::fs::read(&path).expect("read"), before, "untouched");
    assert!(
        !path.with_extension("sqlite3-wal").exists(),
        "not even switched to WAL mode"
    );
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    drop(SqliteStore::open(dir.path(), SqliteOptions::default()).expect("create"));
    let path = dir.path().join(DATABASE_FILE);
    for newer in [MIGRATIONS.len() + 1, 99] {
        Connection::open(&path)
            .expect("open")
            .pragma_update(None, "user_version", newer as i64)
            .expect("bump the version");
        let before = std::fs::read(&path).expect("read");
        let message = refusal(dir.path());
        assert!(
            message.contains("newer minikafka")
                && message.contains(&format!("schema version {newer};")),
            "{message}"
        );
        assert_eq!(std::fs::read(&path).expect("read"), before, "untouched");
    }
}

#[test]
fn the_database_is_marked_as_ours_with_the_current_schema() {
    let dir = tempfile::tempdir().expect("temporary directory");
    drop(SqliteStore::open(dir.path(), SqliteOptions::default()).expect("create"));
    let connection = Connection::open(dir.path().join(DATABASE_FILE)).expect("open");
    let application_id: i32 = connection
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("id");
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    let mode: String = connection
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    assert_eq!(
        (application_id, version, mode.as_str()),
        (APPLICATION_ID, MIGRATIONS.len() as i64, "wal")
    );
}

/// Retention frees pages that new messages reuse: under a steady load of
/// producing and expiring, the file stops growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_levels_off_under_a_steady_produce_and_expire_load() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), Durability::Never);
    let path = dir.path().join(DATABASE_FILE);
    let payload = Bytes::from(vec![b'p'; 1024]);
    let mut sizes = Vec::new();
    for round in 0..20u64 {
        for batch in 0..10 {
            let payloads = vec![payload.clone(); 100];
            store
                .append(&t("steady"), Batch::new(payloads), at(round * 100 + batch))
                .await
                .expect("append");
        }
        // Everything before this round expires.
        store
            .enforce_retention(at(round * 100), EXPIRE_BEFORE_NOW)
            .await
            .expect("remove");
        store.sync().await.expect("checkpoint");
        sizes.push(std::fs::metadata(&path).expect("metadata").len());
    }
    let (settled, last) = (sizes[4], sizes[19]);
    assert!(
        last <= settled + settled / 10,
        "the file kept growing: {sizes:?}"
    );
    let info = store.describe(&t("steady")).await.expect("describe");
    assert_eq!(
        (info.earliest_offset, info.message_count),
        (19_001, 1_000),
        "the last round is kept"
    );
}

/// Readers racing producers always see whole, consecutive batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_whole_batches_while_producers_write() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), Durability::Always);
    store
        .append(
            &t("busy"),
            Batch::new(vec![Bytes::from_static(b"0")]),
            at(0),
        )
        .await
        .expect("append");
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..50u64 {
                    let batch = (0..5)
                        .map(|j| Bytes::from(format!("{p}-{i}-{j}")))
                        .collect();
                    store
                        .append(&t("busy"), Batch::new(batch), at(i))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let limits = ReadLimits {
                    max_messages: 10_000,
                    max_bytes: usize::MAX,
                };
                for _ in 0..50 {
                    let read = store.read(&t("busy"), 0, limits).await.expect("read");
                    let offsets: Vec<u64> = read.messages.iter().map(|m| m.offset).collect();
                    assert_eq!(
                        offsets,
                        (1..read.next_offset).collect::<Vec<_>>(),
                        "a consecutive prefix"
                    );
                    assert_eq!((read.next_offset - 2) % 5, 0, "whole batches only");
                }
            })
        })
        .collect();
    for task in producers.into_iter().chain(readers) {
        task.await.expect("task");
    }
    assert_eq!(
        store
            .describe(&t("busy"))
            .await
            .expect("describe")
            .next_offset,
        1 + 1 + 4 * 50 * 5
    );
}

/// A payload over what SQLite stores in one value is refused as too large
/// before it reaches the database. (The zeroed allocation is never
/// touched, so it costs no memory.)
#[tokio::test]
async fn a_payload_over_sqlites_limit_is_refused_as_too_large() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), Durability::Always);
    let huge = Bytes::from(vec![0u8; MAX_PAYLOAD_BYTES + 1]);
    match store.append(&t("t"), Batch::new(vec![huge]), at(1)).await {
        Err(StoreError::MessageTooLarge { size, limit }) => {
            assert_eq!((size, limit), (MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES));
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
}

/// A topic whose next offset leaves no room for a batch refuses it with
/// `OffsetsExhausted`, changing nothing; a batch that still fits works.
#[tokio::test]
async fn a_topic_out_of_offsets_refuses_the_batch_that_does_not_fit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), Durability::Always);
    store
        .append(&t("t"), Batch::new(vec![Bytes::from_static(b"a")]), at(1))
        .await
        .expect("append");
    drop(store);
    let last = i64::MAX - 1;
    Connection::open(dir.path().join(DATABASE_FILE))
        .and_then(|db| {
            db.execute(
                "UPDATE topics SET next_offset = ?1 WHERE name = 't'",
                [last],
            )
        })
        .expect("moving the topic's next offset to its last");
    let store = store_at(dir.path(), Durability::Always);
    let two = vec![Bytes::from_static(b"b"), Bytes::from_static(b"c")];
    match store.append(&t("t"), Batch::new(two), at(2)).await {
        Err(StoreError::OffsetsExhausted { topic, last_offset }) => {
            assert_eq!((topic, last_offset), (t("t"), last as u64));
        }
        other => panic!("expected OffsetsExhausted, got {other:?}"),
    }
    let one = store
        .append(&t("t"), Batch::new(vec![Bytes::from_static(b"b")]), at(2))
        .await
        .expect("the last offset is still given");
    assert_eq!((one.first, one.last), (last as u64, last as u64));
}

/// A database written by the first schema (as a minikafka before topic
/// settings left it) opens migrated: its topics keep their messages and
/// numbering, follow the server's defaults, and know their oldest
/// timestamp without reading a message.
#[tokio::test]
async fn a_version_1_database_is_migrated_to_topic_settings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    {
        let connection = Connection::open(dir.path().join(DATABASE_FILE)).expect("create");
        connection.execute_batch(MIGRATIONS[0]).expect("schema v1");
        connection
            .pragma_update(None, "application_id", APPLICATION_ID)
            .expect("id");
        connection
            .pragma_update(None, "user_version", 1)
            .expect("version");
        connection
            .execute_batch(
                "INSERT INTO topics VALUES (1, 'old', 2, 4, 30, 2);
                 INSERT INTO messages VALUES (1, 2, 20, x'6262'), (1, 3, 30, x'');
                 INSERT INTO topics VALUES (2, 'empty', 5, 5, 9, 0);",
            )
            .expect("v1 rows");
    }
    let store = store_at(dir.path(), Durability::Always);
    let old = store.describe(&t("old")).await.expect("describe");
    assert_eq!(
        (old.earliest_offset, old.next_offset, old.size_bytes),
        (2, 4, 2)
    );
    assert_eq!(old.oldest_timestamp, Some(Timestamp::from_nanos(20)));
    assert_eq!(old.settings, TopicSettings::default());
    let empty = store.describe(&t("empty")).await.expect("describe");
    assert_eq!((empty.next_offset, empty.oldest_timestamp), (5, None));
    let appended = store
        .append(&t("old"), Batch::new(vec![Bytes::from_static(b"c")]), at(1))
        .await
        .expect("append");
    assert_eq!(appended.first, 4);
    store
        .update_topic(
            &t("old"),
            SettingsChange {
                retention_bytes: Some(Some(1)),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("update");
    drop(store);
    let connection = Connection::open(dir.path().join(DATABASE_FILE)).expect("open");
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, MIGRATIONS.len() as i64);
}

/// Deleting a topic gives its space back to the file system in a new
/// database (made with incremental auto-vacuum), not only to later writes.
#[tokio::test]
async fn a_delete_gives_the_space_back_to_the_file_system() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), Durability::Always);
    let big = Bytes::from(vec![7u8; 64 * 1024]);
    for _ in 0..64 {
        store
            .append(&t("big"), Batch::new(vec![big.clone()]), at(1))
            .await
            .expect("append");
    }
    store
        .append(
            &t("small"),
            Batch::new(vec![Bytes::from_static(b"x")]),
            at(1),
        )
        .await
        .expect("append");
    store.sync().await.expect("checkpoint");
    let size = || {
        std::fs::metadata(dir.path().join(DATABASE_FILE))
            .expect("the database file")
            .len()
    };
    let before = size();
    assert!(before > 4 << 20, "{before} bytes");
    assert_eq!(store.delete_topic(&t("big")).await.expect("delete"), 64);
    store.sync().await.expect("checkpoint");
    let after = size();
    assert!(
        after < 1 << 20,
        "{before} bytes before the delete, {after} after"
    );
    assert_eq!(
        store
            .read(&t("small"), 0, crate::test_support::ALL)
            .await
            .expect("read")
            .messages
            .len(),
        1
    );
}

/// The checked-in database written by the release before keys, headers and
/// producers (see backends/tests/fixtures/sqlite-v1/README.md).
const V1_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sqlite-v1/minikafka.sqlite3"
);

/// A timestamp of the fixture: `seconds` after 1_800_000_000 s.
fn fixture_time(seconds: u64) -> Timestamp {
    Timestamp::from_nanos((1_800_000_000 + seconds) * 1_000_000_000)
}

/// What the fixture's topics hold: (topic, offset, seconds, payload).
fn fixture_messages() -> Vec<(&'static str, u64, u64, &'static [u8])> {
    vec![
        ("events", 1, 3, &[0, 1, 2, 255]),
        ("events", 2, 3, b""),
        ("events", 3, 3, b"e3"),
        ("events", 4, 11, b"e4"),
        ("orders", 5, 10, b"order-5"),
        ("orders", 6, 10, b"order-6"),
    ]
}

/// A copy of the fixture at `fixture` in a new temporary directory, as
/// its database file: the tests never open a fixture in place.
fn copy_of(fixture: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(DATABASE_FILE);
    std::fs::copy(fixture, &path).expect("copy the fixture");
    (dir, path)
}

/// The schema version of the database at `path` (`PRAGMA user_version`).
fn schema_version(path: &Path) -> i64 {
    Connection::open(path)
        .expect("open")
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version")
}

/// Every message of `topic` as (offset, timestamp, payload), asserting
/// none has a key or headers.
async fn plain_messages(store: &dyn Store, topic: &str) -> Vec<(u64, Timestamp, Bytes)> {
    let read = store
        .read(&t(topic), 0, crate::test_support::ALL)
        .await
        .expect("read");
    read.messages
        .into_iter()
        .map(|m| {
            assert!(m.key.is_empty() && m.headers.is_empty(), "{m:?}");
            (m.offset, m.timestamp, m.payload)
        })
        .collect()
}

/// A database written before issue #15 is migrated in place: every message,
/// topic setting and retention start reads as it was; new messages with
/// keys, headers and producers go on in the same topics; all of it
/// survives reopening, and producers' retries get their original offsets.
#[tokio::test]
async fn a_database_from_before_keys_and_producers_is_upgraded_in_place() {
    let (dir, path) = copy_of(V1_FIXTURE);
    assert_eq!(
        schema_version(&path),
        2,
        "the fixture is the schema before #15"
    );

    let store = store_at(dir.path(), Durability::Always);
    let expect_old = |topic: &str| -> Vec<(u64, Timestamp, Bytes)> {
        fixture_messages()
            .into_iter()
            .filter(|m| m.0 == topic)
            .map(|(_, offset, seconds, payload)| {
                (offset, fixture_time(seconds), Bytes::from_static(payload))
            })
            .collect()
    };
    assert_eq!(
        plain_messages(&*store, "events").await,
        expect_old("events")
    );
    assert_eq!(
        plain_messages(&*store, "orders").await,
        expect_old("orders")
    );
    let infos = store.list(None, 10).await.expect("list");
    let summary: Vec<_> = infos
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.earliest_offset,
                i.next_offset,
                i.size_bytes,
                i.oldest_timestamp,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("events", 1, 5, 8, Some(fixture_time(3))),
            ("orders", 5, 7, 14, Some(fixture_time(10))),
            ("quiet", 1, 1, 0, None),
        ]
    );
    assert_eq!(
        infos[0].settings,
        TopicSettings {
            retention: Some(RetentionAge::Forever),
            retention_bytes: Some(1_000_000),
            max_message_bytes: Some(4096),
        }
    );
    assert_eq!(infos[1].settings, TopicSettings::default());
    assert_eq!(
        infos[2].settings.retention,
        Some(RetentionAge::MaxAge(Duration::from_secs(7 * 86_400)))
    );

    let keyed = crate::Record {
        payload: Bytes::from_static(b"order-7"),
        key: Bytes::from_static(b"customer-1"),
        headers: vec![crate::Header {
            name: "trace".to_owned(),
            value: Bytes::from_static(b"t-1"),
        }],
    };
    let from_producer = Batch {
        producer: Some(crate::ProducerSequence {
            producer_id: 42,
            sequence: 0,
        }),
        expected_next_offset: Some(7),
        ..Batch::of_records(vec![keyed.clone()])
    };
    let later = fixture_time(20);
    let stored = store
        .append(&t("orders"), from_producer.clone(), later)
        .await
        .expect("append to an old topic");
    assert_eq!((stored.first, stored.last), (7, 7));
    let plain = store
        .append(
            &t("events"),
            Batch::new(vec![Bytes::from_static(b"e5")]),
            later,
        )
        .await
        .expect("append plain");
    assert_eq!(plain.first, 5);
    drop(store);
    assert_eq!(schema_version(&path), MIGRATIONS.len() as i64);

    let store = store_at(dir.path(), Durability::Always);
    assert_eq!(
        store
            .append(&t("orders"), from_producer, later)
            .await
            .expect("a retry"),
        stored,
        "the retry gets its original offsets after a reopen"
    );
    let orders = store
        .read(&t("orders"), 0, crate::test_support::ALL)
        .await
        .expect("read")
        .messages;
    assert_eq!(orders.len(), 3);
    assert_eq!(
        (&orders[2].payload, &orders[2].key, &orders[2].headers),
        (&keyed.payload, &keyed.key, &keyed.headers)
    );
    let mut events = expect_old("events");
    events.push((5, later, Bytes::from_static(b"e5")));
    assert_eq!(plain_messages(&*store, "events").await, events);
    let orders = store.describe(&t("orders")).await.expect("describe");
    assert_eq!(
        (
            orders.earliest_offset,
            orders.next_offset,
            orders.size_bytes
        ),
        (5, 8, 14 + keyed.size() as u64)
    );
}

/// The checked-in fixture itself is never changed by the tests (they work
/// on copies), so it stays what the old release wrote.
#[test]
fn the_v1_fixture_is_unchanged() {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(V1_FIXTURE)
        .expect("the fixture")
        .read_to_end(&mut bytes)
        .expect("read");
    assert_eq!(bytes.len(), 20_480);
    assert_eq!(&bytes[..16], b"SQLite format 3\0");
    // user_version, at byte 60 of the header: schema version 2.
    assert_eq!(&bytes[60..64], &[0, 0, 0, 2]);
}

/// The checked-in database written by the release before consumer groups
/// (see backends/tests/fixtures/sqlite-v3/README.md).
const V3_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sqlite-v3/minikafka.sqlite3"
);

/// A database written before issue #16 is migrated in place to schema 4:
/// every message reads as it was, with its key and headers; its producer's
/// retry still gets its original offsets; groups commit in the old topics,
/// within their old bounds, and the commits survive reopening.
#[tokio::test]
async fn a_database_from_before_groups_is_upgraded_in_place() {
    use crate::{GroupName, OffsetCommit};
    let (dir, path) = copy_of(V3_FIXTURE);
    assert_eq!(
        schema_version(&path),
        3,
        "the fixture is the schema before #16"
    );

    let store = store_at(dir.path(), Durability::Always);
    let read = |topic: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .read(&t(topic), 0, crate::test_support::ALL)
                .await
                .expect("read")
                .messages
        }
    };
    let events = read("events").await;
    let summary: Vec<_> = events
        .iter()
        .map(|m| {
            (
                m.offset,
                m.timestamp,
                &m.payload[..],
                &m.key[..],
                m.headers.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, fixture_time(3), &b"e1"[..], &b"k1"[..], 1),
            (2, fixture_time(3), &b"e2"[..], &b""[..], 0),
        ]
    );
    assert_eq!(events[0].headers[0].name, "trace");
    let orders: Vec<_> = read("orders").await.iter().map(|m| m.offset).collect();
    assert_eq!(orders, [4, 5], "the retention start survives");
    let retry = Batch {
        producer: Some(crate::ProducerSequence {
            producer_id: 42,
            sequence: 0,
        }),
        ..Batch::new(vec![Bytes::from_static(b"e1"), Bytes::from_static(b"e2")])
    };
    let again = store
        .append(&t("events"), retry, fixture_time(20))
        .await
        .expect("a retry");
    assert_eq!((again.first, again.last), (1, 2), "stored once, before");

    let group = GroupName::new("billing").expect("valid");
    let commit = |offset, seconds| OffsetCommit {
        offset,
        time: fixture_time(seconds),
        metadata: format!("at {offset}"),
    };
    store
        .commit_offset(&group, &t("orders"), commit(6, 30))
        .await
        .expect("commit at the next offset of an old topic");
    store
        .commit_offset(&group, &t("quiet"), commit(1, 31))
        .await
        .expect("commit in an empty old topic");
    assert!(matches!(
        store
            .commit_offset(&group, &t("events"), commit(4, 32))
            .await,
        Err(StoreError::CommitOutOfRange { next_offset: 3, .. })
    ));
    drop(store);
    assert_eq!(schema_version(&path), 4);

    let store = store_at(dir.path(), Durability::Always);
    assert_eq!(
        store.describe_group(&group).await.expect("describe"),
        vec![(t("orders"), commit(6, 30)), (t("quiet"), commit(1, 31))]
    );
}

/// The checked-in v3 fixture is never changed by the tests either.
#[test]
fn the_v3_fixture_is_unchanged() {
    let bytes = std::fs::read(V3_FIXTURE).expect("the fixture");
    assert_eq!(bytes.len(), 28_672);
    assert_eq!(&bytes[..16], b"SQLite format 3\0");
    // user_version, at byte 60 of the header: schema version 3.
    assert_eq!(&bytes[60..64], &[0, 0, 0, 3]);
}

/// The database keeps what the producer tables keep: a producer's latest
/// five batches; the sweep deletes the rows of producers idle past the
/// expiry and of those past the cap, so a reopen does not bring back what
/// was forgotten.
#[tokio::test]
async fn producer_rows_are_bounded_and_forgetting_survives_reopening() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = SqliteOptions {
        max_producers: 2,
        ..SqliteOptions::default()
    };
    let open =
        || -> Arc<dyn Store> { Arc::new(SqliteStore::open(dir.path(), options).expect("open")) };
    let produce = |store: Arc<dyn Store>, producer_id, sequence, now| async move {
        let batch = Batch {
            producer: Some(crate::ProducerSequence {
                producer_id,
                sequence,
            }),
            ..Batch::new(vec![Bytes::from_static(b"m")])
        };
        store.append(&t("t"), batch, now).await
    };
    let rows = |store: Arc<dyn Store>| {
        drop(store);
        let connection = Connection::open(dir.path().join(DATABASE_FILE)).expect("open");
        let mut statement = connection
            .prepare("SELECT producer_id, count(*) FROM producer_batches GROUP BY producer_id")
            .expect("prepare");
        statement
            .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows")
    };

    let store = open();
    for sequence in 0..8 {
        produce(Arc::clone(&store), 1, sequence, at(0))
            .await
            .expect("1");
    }
    produce(Arc::clone(&store), 2, 0, at(10)).await.expect("2");
    produce(Arc::clone(&store), 3, 0, at(20)).await.expect("3");
    assert_eq!(rows(store), [(1, 5), (2, 1), (3, 1)]);

    // Producer 1 was forgotten for the cap in memory: the sweep forgets it
    // in the database too.
    let store = open();
    let keep_all = RetentionDefaults::by_age(RetentionAge::Forever);
    store
        .enforce_retention(at(30), keep_all)
        .await
        .expect("sweep");
    assert_eq!(rows(store), [(2, 1), (3, 1)]);

    let store = open();
    let expire_producers = RetentionDefaults {
        age: RetentionAge::Forever,
        producer_expiry: RetentionAge::MaxAge(Duration::from_nanos(5)),
        ..RetentionDefaults::by_age(RetentionAge::Forever)
    };
    store
        .enforce_retention(at(20), expire_producers)
        .await
        .expect("sweep");
    drop(store);
    let store = open();
    let anew = produce(Arc::clone(&store), 2, 9, at(21))
        .await
        .expect("producer 2 was forgotten, so any sequence is new");
    assert_eq!((anew.first, anew.last), (11, 11));
    match produce(Arc::clone(&store), 3, 9, at(21)).await {
        Err(StoreError::SequenceOutOfOrder { expected: 1, .. }) => {}
        other => panic!("producer 3 is remembered: {other:?}"),
    }
    assert_eq!(rows(store), [(2, 1), (3, 1)]);
}

/// Headers that are not what the store wrote (a tool changed the row) fail
/// the read with `Corrupt`, naming the topic and the offset, rather than
/// being served wrong.
#[tokio::test]
async fn damaged_headers_are_reported_not_served() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_at(dir.path(), Durability::Always);
    let record = crate::Record {
        headers: vec![crate::Header {
            name: "trace".to_owned(),
            value: Bytes::from_static(b"t"),
        }],
        ..crate::Record::from_payload(Bytes::from_static(b"p"))
    };
    store
        .append(&t("damaged"), Batch::of_records(vec![record]), at(0))
        .await
        .expect("append");
    drop(store);
    Connection::open(dir.path().join(DATABASE_FILE))
        .expect("open")
        .execute("UPDATE messages SET headers = x'000000ff'", [])
        .expect("damage the headers");
    let store = store_at(dir.path(), Durability::Always);
    match store.read(&t("damaged"), 0, crate::test_support::ALL).await {
        Err(StoreError::Corrupt { detail, .. }) => assert_eq!(
            detail,
            "topic 'damaged', offset 1: a header's name is cut short"
        ),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// The environment variable naming the root a crash child commits in.
const CRASH_ROOT: &str = "MINIKAFKA_TEST_CRASH_ROOT";
/// Groups committing at once in the crash child.
const CRASH_GROUPS: usize = 8;
/// Messages in the crash child's topic: the highest offset a group commits
/// is one more.
const CRASH_MESSAGES: usize = 1000;

/// Under `Durability::Always`, every commit a killed process had answered
/// is in the database after it: a child process commits for 8 groups at
/// once, rising offsets, printing each answer; it is killed with SIGKILL
/// mid-stream, and reopening finds each group at or past the highest
/// offset it was answered for.
#[test]
fn answered_commits_survive_a_kill() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let root = tempfile::tempdir().expect("temporary directory");
    let binary = std::env::current_exe().expect("the test binary");
    let mut child = std::process::Command::new(binary)
        .args([
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "sqlite::tests::child_commits_until_killed",
        ])
        .env(CRASH_ROOT, root.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("the child's output");
    let mut acked = [0u64; CRASH_GROUPS];
    let mut answers = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        let Some(answer) = line.strip_prefix("acked ") else {
            continue;
        };
        let (group, offset) = answer.split_once(' ').expect("group and offset");
        let group: usize = group.parse().expect("group");
        acked[group] = acked[group].max(offset.parse().expect("offset"));
        answers += 1;
        if answers == 300 {
            child.kill().expect("kill the child");
            break;
        }
    }
    let status = child.wait().expect("reap the child");
    assert_eq!(answers, 300, "the child stopped before it was killed");
    assert_eq!(status.signal(), Some(9), "killed mid-stream: {status}");

    let store = SqliteStore::open(root.path(), SqliteOptions::default()).expect("reopen");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (group, &highest) in acked.iter().enumerate() {
        let name = crate::GroupName::new(format!("g{group}")).expect("valid");
        let stored = runtime
            .block_on(store.fetch_offset(&name, &t("crash")))
            .expect("fetch")
            .map_or(0, |commit| commit.offset);
        assert!(
            stored >= highest,
            "group {group}: answered {highest}, found {stored}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by answered_commits_survive_a_kill, which kills it"]
async fn child_commits_until_killed() {
    let root = std::env::var(CRASH_ROOT).expect("the root to commit in");
    let store = store_at(Path::new(&root), Durability::Always);
    let messages = vec![Bytes::from_static(b"m"); CRASH_MESSAGES];
    store
        .append(&t("crash"), Batch::new(messages), at(0))
        .await
        .expect("append");
    let committers = (0..CRASH_GROUPS).map(|group| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let name = crate::GroupName::new(format!("g{group}")).expect("valid");
            for offset in 1..=CRASH_MESSAGES as u64 + 1 {
                let commit = crate::OffsetCommit {
                    offset,
                    time: at(offset),
                    metadata: String::new(),
                };
                store
                    .commit_offset(&name, &t("crash"), commit)
                    .await
                    .expect("commit");
                println!("acked {group} {offset}");
            }
        })
    });
    for committer in futures::future::join_all(committers).await {
        committer.expect("committer");
    }
}
