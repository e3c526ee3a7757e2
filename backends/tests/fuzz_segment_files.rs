//! The `segment_decode` fuzz target's check (fuzz/src/segment_files.rs),
//! run over inputs made from real stores and over the inputs saved in
//! fuzz/seeds and fuzz/regressions: a change to the file store that breaks
//! the check fails here, without nightly or cargo-fuzz.

#[path = "../../fuzz/src/segment_files.rs"]
mod segment_files;

#[path = "../../fuzz/saved_inputs.rs"]
mod saved_inputs;

const TARGET: &str = "segment_decode";

#[test]
fn real_stores_pass_the_fuzz_check() {
    for seed in segment_files::seeds() {
        segment_files::check(&seed);
    }
}

#[test]
fn saved_fuzz_inputs_pass_the_fuzz_check() {
    for (path, bytes) in saved_inputs::saved(TARGET) {
        eprintln!("{path}");
        segment_files::check(&bytes);
    }
}

/// The seeds the fuzzer starts from are the current real-store inputs.
#[test]
fn checked_in_seeds_are_current() {
    saved_inputs::check_seeds(TARGET, &segment_files::seeds());
}

/// A root whose topic `t` holds one segment: a header for `base`, then
/// `tail`.
fn root_with_segment(base: u64, tail: &[u8]) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("a temporary directory");
    let dir = root.path().join("topics").join("t");
    std::fs::create_dir_all(&dir).expect("creating the topic directory");
    let mut bytes = b"MKFKLOG1".to_vec();
    bytes.extend_from_slice(&base.to_le_bytes());
    bytes.extend_from_slice(tail);
    std::fs::write(dir.join(format!("{base:020}.log")), bytes).expect("writing the segment");
    root
}

/// Found by `segment_decode` (issue #8): a segment whose base left no room
/// to number a batch made the append overflow in the writer thread (a
/// panic with overflow checks; offsets wrapping to 0 without), and once the
/// writer was gone every append to every topic failed with "the store is
/// shut down". Offsets now end at `i64::MAX`: the append fails, alone.
#[tokio::test]
async fn a_topic_at_the_largest_offset_does_not_kill_the_writer() {
    use bytes::Bytes;
    use minikafka_backends::{
        Batch, FileOptions, FileStore, Store, StoreError, Timestamp, TopicName,
    };

    let root = root_with_segment(i64::MAX as u64, b"");
    let Ok(store) = FileStore::open(root.path(), FileOptions::default()) else {
        return; // Refusing such a segment at start-up is an answer too.
    };
    let now = Timestamp::from_nanos(1);
    let t = TopicName::new("t").expect("valid");
    let batch = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
    let appended = store.append(&t, Batch::new(batch), now).await;
    assert!(
        matches!(
            &appended,
            Err(StoreError::OffsetsExhausted { topic, last_offset })
                if *topic == t && *last_offset == i64::MAX as u64
        ),
        "numbered past i64::MAX: {appended:?}"
    );
    let other = TopicName::new("other").expect("valid");
    let other = store
        .append(&other, Batch::new(vec![Bytes::from_static(b"x")]), now)
        .await;
    assert!(other.is_ok(), "other topics still take appends: {other:?}");
}

/// Found by `segment_decode` (issue #8): damage after the header of an
/// active segment based at u64::MAX made recovery overflow while it looked
/// for whole records after the damage (a panic at start-up with overflow
/// checks). A segment named past `i64::MAX` is now not the store's, and one
/// at it is cut back like any other.
#[test]
fn damage_in_a_segment_at_the_largest_offset_does_not_panic_recovery() {
    use minikafka_backends::{FileOptions, FileStore};

    for base in [u64::MAX, i64::MAX as u64] {
        let root = root_with_segment(base, &[0xff; 40]);
        // Refusing the segment or cutting the damage away are both fine.
        let _ = FileStore::open(root.path(), FileOptions::default());
    }
}
