//! Damage inside a sealed segment, made by flipping bytes of a real
//! store's files: reads return the messages before it, answer `DataLoss`
//! naming the first good offset after it to a read that reaches it, and
//! read on from that offset; [`verify`] reports the same ranges.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::format::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::*;
use crate::test_support::{ALL, options, t, topic_dir, ts};

/// Ten 4-byte messages fit a 300-byte segment: offsets 1..=10, 11..=20
/// and 21..=30 (the active one). Only each segment's first record is
/// indexed (entries are 4 KiB apart), so finding good records after
/// damage cannot lean on the index.
const SEGMENT_BYTES: u64 = 300;
const RECORD_LEN: u64 = RECORD_HEADER_LEN as u64 + 4;

async fn filled_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::open(root.path(), options(SEGMENT_BYTES)).expect("open");
    for i in 1..=30u64 {
        store
            .append(
                &t("t"),
                Batch::new(vec![Bytes::from(format!("m-{i:02}"))]),
                ts(i),
            )
            .await
            .expect("append");
    }
    root
}

fn segment(root: &Path, base: u64) -> PathBuf {
    topic_dir(root, "t").join(format::segment_file_name(base))
}

/// Where the record with `offset` starts in the segment based at `base`.
fn position_of(base: u64, offset: u64) -> u64 {
    SEGMENT_HEADER_LEN + (offset - base) * RECORD_LEN
}

fn damage(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).expect("read segment");
    change(&mut bytes);
    fs::write(path, bytes).expect("write segment");
}

fn reopen(root: &Path) -> FileStore {
    FileStore::open(root, options(SEGMENT_BYTES)).expect("a sealed segment is trusted at start-up")
}

async fn offsets_from(store: &FileStore, from: u64, max_messages: usize) -> Vec<u64> {
    let limits = ReadLimits {
        max_messages,
        max_bytes: usize::MAX,
    };
    let read = store.read(&t("t"), from, limits).await.expect("read");
    read.messages.iter().map(|m| m.offset).collect()
}

async fn assert_data_loss(store: &FileStore, from: u64, first: u64, next_good: u64) {
    match store.read(&t("t"), from, ALL).await {
        Err(StoreError::DataLoss {
            topic,
            first_offset,
            next_good_offset,
        }) => assert_eq!(
            (topic.as_str(), first_offset, next_good_offset),
            ("t", first, next_good),
            "a read from {from}"
        ),
        other => panic!("a read from {from}: expected DataLoss, got {other:?}"),
    }
}

/// Checks what reads and `verify` say about a single damaged range
/// `first..next_good` in the segment based at 11.
async fn assert_damaged_range(root: &Path, first: u64, next_good: u64, detail: &str) {
    let store = reopen(root);
    assert_eq!(
        offsets_from(&store, 1, usize::MAX).await,
        (1..first).collect::<Vec<_>>(),
        "the messages before the damage, as a short reply"
    );
    assert_eq!(offsets_from(&store, 12, 2).await, vec![12, 13], "limits");
    for from in first..next_good {
        assert_data_loss(&store, from, first, next_good).await;
    }
    assert_eq!(
        offsets_from(&store, next_good, usize::MAX).await,
        (next_good..=30).collect::<Vec<_>>(),
        "reads from the first good offset on"
    );
    let info = store.describe(&t("t")).await.expect("describe");
    assert_eq!((info.earliest_offset, info.next_offset), (1, 31));
    drop(store);

    let report = verify(root).expect("verify");
    assert_eq!((report.topics, report.segments), (1, 3));
    let found: Vec<_> = report
        .damage
        .iter()
        .map(|d| (d.first_offset, d.next_good_offset, d.position))
        .collect();
    assert_eq!(
        found,
        vec![(first, Some(next_good), position_of(11, first))],
        "{:?}",
        report.damage
    );
    let range = &report.damage[0];
    assert_eq!(range.segment, segment(root, 11));
    assert!(range.detail.contains(detail), "{}", range.detail);
    assert!(
        range
            .to_string()
            .contains(&format!("offsets {first}..={} are damaged", next_good - 1)),
        "{range}"
    );
}

#[tokio::test]
async fn a_clean_store_verifies_clean() {
    let root = filled_root().await;
    let report = verify(root.path()).expect("verify");
    assert_eq!(
        report,
        VerifyReport {
            topics: 1,
            segments: 3,
            records: 30,
            damage: Vec::new(),
        }
    );
}

#[tokio::test]
async fn a_flipped_payload_byte_loses_only_its_record() {
    let root = filled_root().await;
    damage(&segment(root.path(), 11), |bytes| {
        bytes[position_of(11, 15) as usize + RECORD_HEADER_LEN] ^= 0x40;
    });
    assert_damaged_range(root.path(), 15, 16, "checksum").await;
}

/// A damaged length field is not trusted to find the next record: good
/// records are found again by their checksums and offsets.
#[tokio::test]
async fn a_damaged_length_field_is_not_trusted() {
    let root = filled_root().await;
    damage(&segment(root.path(), 11), |bytes| {
        let at = position_of(11, 15) as usize + 4;
        bytes[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
    });
    assert_damaged_range(root.path(), 15, 16, "torn write").await;
}

#[tokio::test]
async fn damage_across_records_loses_each_of_them() {
    let root = filled_root().await;
    damage(&segment(root.path(), 11), |bytes| {
        let from = position_of(11, 15) as usize + 10;
        let to = position_of(11, 17) as usize + 10;
        bytes[from..to].fill(0);
    });
    assert_damaged_range(root.path(), 15, 18, "checksum").await;
}

/// With no good record after the damage in its segment, reading goes on
/// at the next segment.
#[tokio::test]
async fn damage_to_a_segments_last_record_resumes_at_the_next_segment() {
    let root = filled_root().await;
    damage(&segment(root.path(), 11), |bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
    });
    assert_damaged_range(root.path(), 20, 21, "checksum").await;
}

/// An incomplete write at the end of the last segment is what a crash (or
/// a write in progress, in a copy of a live directory) leaves, and what
/// recovery cuts: not damage.
#[tokio::test]
async fn a_torn_tail_of_the_last_segment_is_not_damage() {
    let root = filled_root().await;
    let last = segment(root.path(), 21);
    damage(&last, |bytes| bytes.extend_from_slice(&[0xab; 30]));
    let report = verify(root.path()).expect("verify");
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert_eq!(report.records, 30);
}

#[tokio::test]
async fn verify_of_a_directory_that_is_not_a_store_fails() {
    let root = tempfile::tempdir().expect("temporary directory");
    match verify(&root.path().join("missing")) {
        Err(StoreError::Io { context, .. }) => {
            assert!(context.contains("holds no file store"), "{context}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
}

/// A sealed segment whose records end before the end offset its index
/// promises (its last record lost, the index rewritten to match the
/// shorter file): the missing offsets are damage, up to the next segment.
#[tokio::test]
async fn records_missing_at_a_segments_end_are_damage() {
    let root = filled_root().await;
    let path = segment(root.path(), 11);
    let index_path = path.with_extension("index");
    let mut index =
        format::decode_index(&fs::read(&index_path).expect("read index")).expect("a whole index");
    index.log_len -= RECORD_LEN;
    fs::write(&index_path, format::encode_index(&index)).expect("write index");
    damage(&path, |bytes| {
        bytes.truncate(bytes.len() - RECORD_LEN as usize)
    });

    let store = reopen(root.path());
    assert_eq!(
        offsets_from(&store, 1, usize::MAX).await,
        (1..20).collect::<Vec<_>>()
    );
    assert_data_loss(&store, 20, 20, 21).await;
    assert_eq!(
        offsets_from(&store, 21, usize::MAX).await,
        (21..=30).collect::<Vec<_>>()
    );
    drop(store);
    let report = verify(root.path()).expect("verify");
    let found: Vec<_> = report
        .damage
        .iter()
        .map(|d| (d.first_offset, d.next_good_offset, d.position))
        .collect();
    assert_eq!(found, vec![(20, Some(21), position_of(11, 20))]);
    assert!(
        report.damage[0].detail.contains("ends at offset 20"),
        "{:?}",
        report.damage
    );
}

/// A time whose first message lies past damage is answered with the
/// damaged offset, so a read from it reports the loss rather than
/// skipping it silently; times before or after the damaged segment are
/// answered as if nothing were wrong.
#[tokio::test]
async fn a_time_past_damage_answers_the_damaged_offset() {
    let root = filled_root().await;
    damage(&segment(root.path(), 11), |bytes| {
        bytes[position_of(11, 15) as usize + RECORD_HEADER_LEN] ^= 0x40;
    });
    let store = reopen(root.path());
    let mut answers = Vec::new();
    for time in [13, 15, 17, 25] {
        let offset = store
            .offset_for_time(&t("t"), ts(time))
            .await
            .expect("offset for time");
        answers.push(offset);
    }
    assert_eq!(answers, vec![13, 15, 15, 25]);
    assert_data_loss(&store, 15, 15, 16).await;
}
