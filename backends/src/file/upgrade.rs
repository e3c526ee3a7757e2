//! A data directory written by the v1 layout (the checked-in fixture,
//! backends/tests/fixtures/file-store-v1, made by the release before keys,
//! headers and producers) opens, reads unchanged, takes new appends in the
//! same topics (in v2 segments) and reopens with all of it.

use std::fs;
use std::path::Path;

use bytes::Bytes;

use super::format::{self, SegmentFormat};
use super::*;
use crate::test_support::{ALL, t, topic_dir, ts};
use crate::{Header, Message, ProducerSequence, Record, RetentionAge};

const SECOND: u64 = 1_000_000_000;

/// The options the fixture was written with.
const OPTIONS: FileOptions = FileOptions {
    durability: Durability::Always,
    segment_bytes: 200,
    recovery: Recovery::Strict,
    open_files: 256,
    max_producers: crate::producers::DEFAULT_MAX_PRODUCERS,
};

/// A copy of the fixture in a temporary directory (the checked-in bytes
/// are never opened in place: opening writes).
fn fixture_copy() -> tempfile::TempDir {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/file-store-v1");
    let copy = tempfile::tempdir().expect("temporary directory");
    copy_tree(&fixture, copy.path());
    copy
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create directory");
    for entry in fs::read_dir(from).expect("list the fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() != "README.md" {
            fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn order(n: u32) -> Bytes {
    Bytes::from(format!("order {n:04}: 3 apples"))
}

/// (offset, timestamp in seconds, payload) of every message the fixture
/// holds in `orders`, as its README describes.
fn fixture_orders() -> Vec<(u64, u64, Bytes)> {
    vec![
        (7, 5, order(7)),
        (8, 5, order(8)),
        (
            9,
            6,
            Bytes::from_static(&[0, 1, 2, 0xfe, 0xff, b'\n', 0x80]),
        ),
        (10, 7, order(10)),
        (11, 7, order(11)),
        (12, 8, Bytes::new()),
        (13, 8, order(13)),
    ]
}

fn plain(offset: u64, second: u64, payload: Bytes) -> Message {
    Message {
        offset,
        timestamp: ts(second * SECOND),
        payload,
        key: Bytes::new(),
        headers: Vec::new(),
    }
}

async fn read_all(store: &FileStore, topic: &str) -> Vec<Message> {
    store.read(&t(topic), 0, ALL).await.expect("read").messages
}

/// What the fixture holds, read back exactly.
async fn assert_fixture_unchanged(store: &FileStore) {
    let expected: Vec<Message> = fixture_orders()
        .into_iter()
        .map(|(offset, second, payload)| plain(offset, second, payload))
        .collect();
    let orders = read_all(store, "orders").await;
    assert_eq!(orders[..expected.len()], expected[..]);
    let audit = read_all(store, "audit.log").await;
    let audit_expected = [
        (1, 10, "login alice"),
        (2, 10, "login bob"),
        (3, 10, "logout alice"),
        (4, 11, "logout bob"),
    ]
    .map(|(offset, second, text)| plain(offset, second, Bytes::from(text)));
    assert_eq!(audit[..4], audit_expected[..]);
}

fn segment_format(path: &Path) -> SegmentFormat {
    let bytes = fs::read(path).expect("read segment");
    format::decode_segment_header(&bytes)
        .expect("a segment header")
        .1
}

#[tokio::test]
async fn a_v1_directory_reads_unchanged_takes_appends_and_reopens() {
    let root = fixture_copy();
    let report = verify(root.path()).expect("verify the fixture");
    assert_eq!((report.records, report.damage.len()), (13, 0), "{report:?}");

    let store = FileStore::open(root.path(), OPTIONS).expect("open the v1 fixture");
    assert_fixture_unchanged(&store).await;
    let info = store.describe(&t("orders")).await.expect("describe");
    let payload_bytes: usize = fixture_orders().iter().map(|(_, _, p)| p.len()).sum();
    assert_eq!(
        (
            info.earliest_offset,
            info.next_offset,
            info.size_bytes,
            info.oldest_timestamp
        ),
        (7, 14, payload_bytes as u64, Some(ts(5 * SECOND)))
    );
    let audit = store.describe(&t("audit.log")).await.expect("describe");
    assert_eq!(
        (audit.settings.retention, audit.settings.max_message_bytes),
        (Some(RetentionAge::Forever), Some(1024))
    );
    assert_eq!(
        store
            .describe(&t("empty"))
            .await
            .expect("describe")
            .next_offset,
        1
    );

    // New appends go on in the same topics, with keys, headers and a
    // producer, in a v2 segment after the v1 one.
    let keyed = Record {
        payload: Bytes::from_static(b"order 0014: 1 pear"),
        key: Bytes::from_static(b"customer-7"),
        headers: vec![Header {
            name: "content-type".into(),
            value: Bytes::from_static(b"text/plain"),
        }],
    };
    let producer = ProducerSequence {
        producer_id: 99,
        sequence: 1,
    };
    let batch = Batch {
        producer: Some(producer),
        ..Batch::of_records(vec![keyed.clone(), Record::from_payload(order(15))])
    };
    let now = ts(20 * SECOND);
    let appended = store
        .append(&t("orders"), batch.clone(), now)
        .await
        .expect("append");
    assert_eq!((appended.first, appended.last), (14, 15));
    for topic in ["audit.log", "empty"] {
        store
            .append(&t(topic), Batch::new(vec![Bytes::from_static(b"new")]), now)
            .await
            .expect("append");
    }
    let dir = topic_dir(root.path(), "orders");
    assert_eq!(
        segment_format(&dir.join(format::segment_file_name(12))),
        SegmentFormat::V1,
        "the v1 segment is left as it was"
    );
    assert!(dir.join(format::index_file_name(12)).exists(), "and sealed");
    assert_eq!(
        segment_format(&dir.join(format::segment_file_name(14))),
        SegmentFormat::V2
    );
    drop(store);

    let store = FileStore::open(root.path(), OPTIONS).expect("reopen");
    assert_fixture_unchanged(&store).await;
    let orders = read_all(&store, "orders").await;
    let new: Vec<(u64, Bytes, Bytes, Vec<Header>)> = orders[7..]
        .iter()
        .map(|m| {
            (
                m.offset,
                m.payload.clone(),
                m.key.clone(),
                m.headers.clone(),
            )
        })
        .collect();
    assert_eq!(
        new,
        vec![
            (
                14,
                keyed.payload.clone(),
                keyed.key.clone(),
                keyed.headers.clone()
            ),
            (15, order(15), Bytes::new(), Vec::new()),
        ]
    );
    for (topic, next) in [("audit.log", 6), ("empty", 2)] {
        let messages = read_all(&store, topic).await;
        let last = messages.last().expect("a message");
        assert_eq!((last.offset + 1, &last.payload[..]), (next, &b"new"[..]));
    }
    // The producer was remembered across the reopen: a retry is answered
    // with the original offsets and stores nothing.
    let retried = store
        .append(&t("orders"), batch, ts(21 * SECOND))
        .await
        .expect("retry");
    assert_eq!((retried.first, retried.last), (14, 15));
    assert_eq!(read_all(&store, "orders").await.len(), 9);
    drop(store);

    let report = verify(root.path()).expect("verify after the upgrade");
    assert_eq!(report.damage, Vec::new());
    assert_eq!(report.records, 13 + 4);
}

/// The fixture's start file is v1 and points inside a v1 segment: the
/// size of what it skips follows from the positions, and retention after
/// the upgrade moves the start on in the v2 layout.
#[tokio::test]
async fn retention_after_the_upgrade_counts_sizes_and_moves_the_start() {
    let root = fixture_copy();
    let store = FileStore::open(root.path(), OPTIONS).expect("open the v1 fixture");
    let defaults =
        crate::RetentionDefaults::by_age(RetentionAge::MaxAge(std::time::Duration::from_secs(10)));
    let removed = store
        .enforce_retention(ts(16 * SECOND + SECOND / 2), defaults)
        .await
        .expect("retention");
    // Offsets 7 to 9 (5 s and 6 s) expire: the rest of segment 5, then
    // offset 9 inside segment 9.
    assert_eq!((removed.messages_removed, removed.bytes_removed), (3, 47));
    let info = store.describe(&t("orders")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.size_bytes), (10, 60));
    drop(store);
    let store = FileStore::open(root.path(), OPTIONS).expect("reopen");
    let info = store.describe(&t("orders")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.size_bytes), (10, 60));
    let offsets: Vec<u64> = read_all(&store, "orders")
        .await
        .iter()
        .map(|m| m.offset)
        .collect();
    assert_eq!(offsets, vec![10, 11, 12, 13]);
}
