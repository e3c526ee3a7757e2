//! The conformance suite: the scenarios every [`Store`] must pass.
//!
//! Each scenario is a public async function taking a fresh, empty store, so
//! a failing test names both the store and the rule it broke. A store's test
//! module runs them all with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! async fn open() -> (Arc<dyn Store>, tempfile::TempDir) { /* a fresh store */ }
//! minikafka_backends::conformance_tests!(open);
//! ```
//!
//! The second value `open` returns is kept alive for the test's duration (a
//! temporary directory, say). Persistent stores also run the restart
//! scenarios: `conformance_tests!(persistent open_at)`; stores that remove
//! single messages for retention by size (not whole segments) also
//! `conformance_tests!(exact_size_retention open)`. Every store also runs
//! `conformance_tests!(capped open_capped)`, on a store opened with a
//! small `max_producers`. A behaviour added to the trait is added here
//! first.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

mod groups;
mod records;
mod time;
mod topics;
pub use groups::*;
pub use records::*;
pub use time::*;
pub use topics::*;

use crate::{
    Batch, Creation, ReadLimits, RetentionAge, RetentionDefaults, SettingsChange, Store,
    StoreError, Timestamp, TopicName, TopicSettings,
};

/// Retention defaults under which a sweep at `now` removes every message
/// stored before `now`: the sweep's time is the cutoff.
pub const EXPIRE_BEFORE_NOW: RetentionDefaults =
    RetentionDefaults::by_age(RetentionAge::MaxAge(std::time::Duration::ZERO));

/// Generates one `#[tokio::test]` per scenario, each on a store from `$open`
/// (an async fn returning `(Arc<dyn Store>, guard)`).
///
/// `conformance_tests!(persistent $open_at)` adds the scenarios for stores
/// that keep data across a restart: `$open_at` is a fn taking a directory
/// (a fresh temporary one per test) and opening the store kept there.
/// Dropping the last `Arc` of a store must close it, so it can be opened
/// again.
///
/// `conformance_tests!(capped $open_capped)` adds the producer cap's
/// scenario: `$open_capped` is an async fn taking `max_producers` and
/// returning a fresh store with that cap, as `$open` does.
#[macro_export]
macro_rules! conformance_tests {
    ($open:path) => {
        $crate::conformance_tests!(@each $open;
            numbering_starts_at_one_in_every_topic,
            batches_get_consecutive_offsets,
            payloads_come_back_byte_for_byte,
            read_from_zero_starts_at_the_earliest,
            reading_at_the_end_is_empty_and_past_it_is_an_error,
            reads_stop_at_max_messages,
            reads_stop_at_max_bytes_but_return_one_message,
            unknown_topics_are_not_found,
            an_empty_batch_is_rejected_and_creates_nothing,
            timestamps_never_decrease,
            retention_removes_before_the_cutoff_and_keeps_the_boundary,
            numbering_continues_after_everything_expired,
            reading_removed_offsets_skips_to_the_earliest,
            list_and_describe_report_every_topic,
            concurrent_producers_get_distinct_ordered_offsets,
            a_large_payload_round_trips,
            a_watch_wakes_when_its_topic_is_created_or_grows,
            a_watch_ignores_other_topics,
            create_makes_a_topic_once_and_refuses_other_settings,
            update_changes_only_the_named_settings,
            delete_removes_the_topic_and_a_new_one_starts_at_one,
            a_delete_wakes_watches_and_reads_find_the_topic_gone,
            an_append_that_may_not_create_needs_the_topic,
            a_topic_refuses_payloads_over_its_own_limit,
            retention_by_age_follows_each_topics_own_setting,
            retention_by_size_removes_only_the_oldest,
            list_pages_through_the_topics_in_name_order,
            a_delete_racing_producers_and_readers_leaves_nothing,
            keys_and_headers_round_trip,
            sizes_count_keys_and_headers,
            a_retried_batch_gets_its_original_offsets_and_is_stored_once,
            a_sequence_gap_or_a_forgotten_old_one_is_refused,
            a_new_producer_starts_anywhere_and_sequences_wrap,
            producers_and_topics_have_separate_sequences,
            concurrent_copies_of_a_batch_are_stored_once,
            a_refused_batch_does_not_use_up_its_sequence,
            idle_producers_are_forgotten_by_the_sweep,
            deleting_a_topic_forgets_its_producers,
            a_conditional_append_needs_the_next_offset,
            a_conditional_append_to_a_missing_topic,
            dedup_comes_before_the_condition,
            an_empty_topic_answers_its_next_offset_for_any_time,
            a_time_before_every_message_answers_the_earliest,
            a_shared_timestamp_answers_the_first_message_with_it,
            a_time_between_messages_answers_the_next_newer,
            a_time_after_every_message_answers_the_next_offset,
            a_time_never_answers_an_expired_offset,
            a_time_in_an_unknown_topic_is_not_found,
            a_time_finds_its_message_among_many,
            a_commit_is_fetched_back_and_the_last_one_wins,
            a_commit_outside_one_to_the_next_offset_is_out_of_range,
            a_commit_below_the_earliest_held_is_kept,
            commits_and_fetches_in_unknown_topics_are_not_found,
            groups_list_in_name_order_page_by_page,
            describe_lists_a_groups_commits_in_topic_order,
            deleting_a_group_removes_every_commit,
            deleting_a_topic_removes_its_commits,
            idle_groups_expire_by_their_newest_commit,
            commit_metadata_round_trips,
            concurrent_commits_are_all_kept,
            a_commit_racing_a_topic_delete_leaves_nothing
        );
    };
    (persistent $open_at:path) => {
        $crate::conformance_tests!(@reopen $open_at;
            reopening_keeps_every_message_and_the_numbering,
            numbering_survives_expiring_everything_and_reopening,
            retention_survives_reopening,
            timestamps_never_decrease_across_reopening,
            settings_and_deletes_survive_reopening,
            keys_and_headers_survive_reopening,
            dedup_survives_reopening,
            a_deleted_topics_producers_stay_forgotten_after_reopening,
            offsets_for_times_survive_reopening,
            commits_survive_reopening
        );
    };
    (exact_size_retention $open:path) => {
        $crate::conformance_tests!(@each $open;
            retention_by_size_is_exact,
            retention_by_size_counts_keys_and_headers
        );
    };
    (capped $open_capped:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn past_the_cap_the_least_recently_active_producer_is_forgotten() {
            const MAX_PRODUCERS: usize = 3;
            let (store, _guard) = $open_capped(MAX_PRODUCERS).await;
            $crate::conformance::past_the_cap_the_least_recently_active_producer_is_forgotten(
                store,
                MAX_PRODUCERS,
            )
            .await;
        }
    };
    (@reopen $open_at:path; $($scenario:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let path = dir.path().to_owned();
                $crate::conformance::$scenario(&move || $open_at(&path)).await;
            }
        )+
    };
    (@each $open:path; $($scenario:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let (store, _guard) = $open().await;
                $crate::conformance::$scenario(store).await;
            }
        )+
    };
}

/// A time well after the epoch, so cutoffs before it are representable.
const T0: Timestamp = Timestamp::from_nanos(1_800_000_000_000_000_000);

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_nanos(T0.as_nanos() + seconds * 1_000_000_000)
}

fn topic(name: &str) -> TopicName {
    TopicName::new(name).expect("valid test topic name")
}

fn payloads(texts: &[&str]) -> Vec<Bytes> {
    texts
        .iter()
        .map(|t| Bytes::copy_from_slice(t.as_bytes()))
        .collect()
}

const ALL: ReadLimits = ReadLimits {
    max_messages: usize::MAX,
    max_bytes: usize::MAX,
};

async fn read_all(store: &dyn Store, name: &TopicName, from: u64) -> Vec<(u64, Bytes)> {
    let result = store.read(name, from, ALL).await.expect("read");
    result
        .messages
        .into_iter()
        .map(|m| (m.offset, m.payload))
        .collect()
}

/// The names of every topic, in the order `list` gives them.
async fn topic_names(store: &dyn Store) -> Vec<String> {
    store
        .list(None, usize::MAX)
        .await
        .expect("list")
        .into_iter()
        .map(|info| info.name.to_string())
        .collect()
}

async fn append(store: &dyn Store, name: &TopicName, texts: &[&str], now: Timestamp) -> (u64, u64) {
    let range = store
        .append(name, Batch::new(payloads(texts)), now)
        .await
        .expect("append");
    (range.first, range.last)
}

/// Every topic numbers its messages from 1, independently of the others.
pub async fn numbering_starts_at_one_in_every_topic(store: Arc<dyn Store>) {
    let (a, b) = (topic("a"), topic("b"));
    assert_eq!(append(&*store, &a, &["a1"], at(0)).await, (1, 1));
    assert_eq!(append(&*store, &b, &["b1"], at(0)).await, (1, 1));
    assert_eq!(append(&*store, &a, &["a2"], at(0)).await, (2, 2));
    assert_eq!(
        read_all(&*store, &a, 1).await,
        vec![(1, "a1".into()), (2, "a2".into())]
    );
    assert_eq!(read_all(&*store, &b, 1).await, vec![(1, "b1".into())]);
}

/// A batch gets consecutive offsets in the order of its payloads.
pub async fn batches_get_consecutive_offsets(store: Arc<dyn Store>) {
    let t = topic("batches");
    assert_eq!(append(&*store, &t, &["x"], at(0)).await, (1, 1));
    assert_eq!(append(&*store, &t, &["p", "q", "r"], at(0)).await, (2, 4));
    let read = read_all(&*store, &t, 2).await;
    assert_eq!(
        read,
        vec![(2, "p".into()), (3, "q".into()), (4, "r".into())]
    );
}

/// Payloads are opaque bytes: every byte value and empty payloads survive.
pub async fn payloads_come_back_byte_for_byte(store: Arc<dyn Store>) {
    let t = topic("bytes");
    let every_byte: Vec<u8> = (0..=255).collect();
    let sent = vec![
        Bytes::from(every_byte),
        Bytes::new(),
        Bytes::from_static(b"\n\r\0\xff"),
    ];
    store
        .append(&t, Batch::new(sent.clone()), at(0))
        .await
        .expect("append");
    let read: Vec<Bytes> = read_all(&*store, &t, 0)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(read, sent);
}

/// Reading from 0 starts at the earliest message held.
pub async fn read_from_zero_starts_at_the_earliest(store: Arc<dyn Store>) {
    let t = topic("zero");
    append(&*store, &t, &["old"], at(0)).await;
    append(&*store, &t, &["new"], at(10)).await;
    let result = store.read(&t, 0, ALL).await.expect("read");
    assert_eq!(result.messages[0].offset, 1);
    store
        .enforce_retention(at(5), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    let result = store.read(&t, 0, ALL).await.expect("read");
    assert_eq!(result.messages.len(), 1);
    assert_eq!(result.messages[0].offset, 2);
    assert_eq!((result.earliest_offset, result.next_offset), (2, 3));
}

/// Reading at the next offset returns nothing; past it is an error, since
/// offsets never go back and no such read could ever succeed.
pub async fn reading_at_the_end_is_empty_and_past_it_is_an_error(store: Arc<dyn Store>) {
    let t = topic("end");
    append(&*store, &t, &["a", "b"], at(0)).await;
    let result = store.read(&t, 3, ALL).await.expect("read at the end");
    assert!(result.messages.is_empty());
    assert_eq!((result.earliest_offset, result.next_offset), (1, 3));
    match store.read(&t, 4, ALL).await {
        Err(StoreError::OffsetOutOfRange {
            requested: 4,
            next_offset: 3,
            ..
        }) => {}
        other => panic!("expected OffsetOutOfRange, got {other:?}"),
    }
}

/// A read returns at most `max_messages` (0 counts as 1).
pub async fn reads_stop_at_max_messages(store: Arc<dyn Store>) {
    let t = topic("count");
    append(&*store, &t, &["1", "2", "3", "4", "5"], at(0)).await;
    let limits = ReadLimits {
        max_messages: 2,
        max_bytes: usize::MAX,
    };
    let result = store.read(&t, 2, limits).await.expect("read");
    let offsets: Vec<u64> = result.messages.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, vec![2, 3]);
    let limits = ReadLimits {
        max_messages: 0,
        max_bytes: usize::MAX,
    };
    assert_eq!(
        store
            .read(&t, 1, limits)
            .await
            .expect("read")
            .messages
            .len(),
        1
    );
}

/// A read returns no more than `max_bytes` of payload, except that one
/// message is always returned if any is available.
pub async fn reads_stop_at_max_bytes_but_return_one_message(store: Arc<dyn Store>) {
    let t = topic("bytes-limit");
    append(&*store, &t, &["aaaa", "bbbb", "cccc", "dddddddddd"], at(0)).await;
    let limits = |max_bytes| ReadLimits {
        max_messages: 100,
        max_bytes,
    };
    let count = |r: crate::ReadResult| r.messages.len();
    assert_eq!(count(store.read(&t, 1, limits(8)).await.expect("read")), 2);
    assert_eq!(count(store.read(&t, 1, limits(11)).await.expect("read")), 2);
    assert_eq!(count(store.read(&t, 1, limits(12)).await.expect("read")), 3);
    assert_eq!(count(store.read(&t, 4, limits(1)).await.expect("read")), 1);
    assert_eq!(count(store.read(&t, 1, limits(0)).await.expect("read")), 1);
}

/// Reading or describing a topic never produced to fails with
/// `TopicNotFound` naming it, and creates nothing.
pub async fn unknown_topics_are_not_found(store: Arc<dyn Store>) {
    let t = topic("missing");
    match store.read(&t, 0, ALL).await {
        Err(StoreError::TopicNotFound(name)) => assert_eq!(name, t),
        other => panic!("expected TopicNotFound, got {other:?}"),
    }
    match store.describe(&t).await {
        Err(e @ StoreError::TopicNotFound(_)) => {
            assert_eq!(e.to_string(), "topic 'missing' not found")
        }
        other => panic!("expected TopicNotFound, got {other:?}"),
    }
    assert!(store.list(None, usize::MAX).await.expect("list").is_empty());
}

/// An empty batch fails and does not create the topic.
pub async fn an_empty_batch_is_rejected_and_creates_nothing(store: Arc<dyn Store>) {
    let t = topic("empty");
    assert!(matches!(
        store.append(&t, Batch::new(Vec::new()), at(0)).await,
        Err(StoreError::EmptyBatch)
    ));
    assert!(matches!(
        store.describe(&t).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert!(store.list(None, usize::MAX).await.expect("list").is_empty());
}

/// A batch appended with an earlier `now` than the topic's newest message
/// gets the newest timestamp instead: timestamps never go back.
pub async fn timestamps_never_decrease(store: Arc<dyn Store>) {
    let t = topic("clock");
    append(&*store, &t, &["first"], at(10)).await;
    append(&*store, &t, &["clock went back"], at(3)).await;
    append(&*store, &t, &["later"], at(20)).await;
    let result = store.read(&t, 0, ALL).await.expect("read");
    let stamps: Vec<Timestamp> = result.messages.iter().map(|m| m.timestamp).collect();
    assert_eq!(stamps, vec![at(10), at(10), at(20)]);
}

/// Retention removes messages stored before the cutoff, keeps one stored
/// exactly at it, and leaves other topics' newer messages alone.
pub async fn retention_removes_before_the_cutoff_and_keeps_the_boundary(store: Arc<dyn Store>) {
    let (t, other) = (topic("retained"), topic("other"));
    append(&*store, &t, &["a", "b"], at(1)).await;
    append(&*store, &t, &["c"], at(2)).await;
    append(&*store, &t, &["d"], at(3)).await;
    append(&*store, &other, &["x"], at(5)).await;
    let report = store
        .enforce_retention(at(2), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    assert_eq!((report.messages_removed, report.bytes_removed), (2, 2));
    assert_eq!(
        read_all(&*store, &t, 0).await,
        vec![(3, "c".into()), (4, "d".into())]
    );
    assert_eq!(read_all(&*store, &other, 0).await, vec![(1, "x".into())]);
    let again = store
        .enforce_retention(at(2), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove again");
    assert_eq!(again.messages_removed, 0);
}

/// When every message expired, the topic remains, empty, and numbering
/// continues where it was.
pub async fn numbering_continues_after_everything_expired(store: Arc<dyn Store>) {
    let t = topic("expired");
    append(&*store, &t, &["a", "b", "c"], at(0)).await;
    store
        .enforce_retention(at(100), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    let info = store.describe(&t).await.expect("describe");
    assert_eq!(
        (info.earliest_offset, info.next_offset, info.message_count),
        (4, 4, 0)
    );
    assert_eq!((info.size_bytes, info.oldest_timestamp), (0, None));
    let empty = store.read(&t, 0, ALL).await.expect("read");
    assert!(empty.messages.is_empty());
    assert_eq!((empty.earliest_offset, empty.next_offset), (4, 4));
    assert_eq!(append(&*store, &t, &["d"], at(200)).await, (4, 4));
    assert_eq!(read_all(&*store, &t, 0).await, vec![(4, "d".into())]);
}

/// A reader asking for offsets retention removed gets the earliest held
/// instead, and `earliest_offset` tells it what it missed.
pub async fn reading_removed_offsets_skips_to_the_earliest(store: Arc<dyn Store>) {
    let t = topic("gap");
    append(&*store, &t, &["1", "2", "3"], at(0)).await;
    append(&*store, &t, &["4", "5"], at(10)).await;
    store
        .enforce_retention(at(5), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    let result = store.read(&t, 2, ALL).await.expect("read");
    assert_eq!(result.earliest_offset, 4);
    let offsets: Vec<u64> = result.messages.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, vec![4, 5]);
}

/// `list` describes every topic sorted by name; `describe` agrees with it.
pub async fn list_and_describe_report_every_topic(store: Arc<dyn Store>) {
    let (b, a) = (topic("beta"), topic("alpha"));
    append(&*store, &b, &["12345", "678"], at(7)).await;
    append(&*store, &a, &["x"], at(8)).await;
    append(&*store, &a, &["yy"], at(9)).await;
    let list = store.list(None, usize::MAX).await.expect("list");
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["alpha", "beta"]);
    let beta = store.describe(&b).await.expect("describe");
    assert_eq!(list[1], beta);
    assert_eq!(
        (beta.earliest_offset, beta.next_offset, beta.message_count),
        (1, 3, 2)
    );
    assert_eq!((beta.size_bytes, beta.oldest_timestamp), (8, Some(at(7))));
    store
        .enforce_retention(at(9), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    let alpha = store.describe(&a).await.expect("describe");
    assert_eq!(
        (alpha.earliest_offset, alpha.message_count, alpha.size_bytes),
        (2, 1, 2)
    );
    assert_eq!(alpha.oldest_timestamp, Some(at(9)));
}

/// Producers appending concurrently to one topic get every offset exactly
/// once, and each producer's batches keep their order.
pub async fn concurrent_producers_get_distinct_ordered_offsets(store: Arc<dyn Store>) {
    const PRODUCERS: usize = 8;
    const BATCHES: usize = 50;
    let t = topic("busy");
    let tasks: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let (store, t) = (Arc::clone(&store), t.clone());
            tokio::spawn(async move {
                let mut ranges = Vec::new();
                for batch in 0..BATCHES {
                    let texts = [
                        format!("{producer}:{batch}:a"),
                        format!("{producer}:{batch}:b"),
                    ];
                    let batch = texts.iter().map(|s| Bytes::from(s.clone())).collect();
                    let range = store
                        .append(&t, Batch::new(batch), at(0))
                        .await
                        .expect("append");
                    ranges.push((range.first, range.last));
                }
                ranges
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in futures::future::join_all(tasks).await {
        let ranges = task.expect("producer task");
        assert!(
            ranges.windows(2).all(|w| w[0].1 < w[1].0),
            "a producer's batches out of order"
        );
        for (first, last) in ranges {
            assert_eq!(last, first + 1, "a batch's offsets are consecutive");
            assert!(
                seen.insert(first) && seen.insert(last),
                "offset given twice"
            );
        }
    }
    let total = (PRODUCERS * BATCHES * 2) as u64;
    assert_eq!(seen, (1..=total).collect::<BTreeSet<u64>>());
    let read = read_all(&*store, &t, 0).await;
    assert_eq!(read.len() as u64, total);
    for pair in read.chunks(2) {
        // Both halves of a batch sit next to each other, in order.
        let (a, b) = (&pair[0].1, &pair[1].1);
        assert_eq!(a.slice(..a.len() - 1), b.slice(..b.len() - 1));
        assert!(a.ends_with(b"a") && b.ends_with(b"b"));
    }
}

/// A payload far larger than a read's byte limit is stored and read whole.
pub async fn a_large_payload_round_trips(store: Arc<dyn Store>) {
    let t = topic("large");
    let large: Bytes = (0..8 * 1024 * 1024)
        .map(|i: u32| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    store
        .append(
            &t,
            Batch::new(vec![Bytes::from_static(b"small"), large.clone()]),
            at(0),
        )
        .await
        .expect("append");
    let limits = ReadLimits {
        max_messages: 10,
        max_bytes: 1024,
    };
    let first = store.read(&t, 0, limits).await.expect("read");
    assert_eq!(
        first.messages.len(),
        1,
        "the small message fills the byte limit"
    );
    let second = store.read(&t, 2, limits).await.expect("read");
    assert_eq!(second.messages.len(), 1);
    assert_eq!(second.messages[0].payload, large);
    let info = store.describe(&t).await.expect("describe");
    assert_eq!(info.size_bytes, large.len() as u64 + 5);
}

/// Opens the store kept in one directory, again and again.
pub type Reopen<'a> = &'a (dyn Fn() -> Arc<dyn Store> + Sync);

/// Everything appended survives closing and reopening, and numbering
/// continues where it was.
pub async fn reopening_keeps_every_message_and_the_numbering(open: Reopen<'_>) {
    let (a, b) = (topic("a"), topic("b"));
    let store = open();
    append(&*store, &a, &["1", "2", "3"], at(1)).await;
    append(&*store, &a, &["4"], at(2)).await;
    append(&*store, &b, &["x"], at(3)).await;
    let before = store.read(&a, 0, ALL).await.expect("read");
    drop(store);

    let store = open();
    assert_eq!(
        store.read(&a, 0, ALL).await.expect("read after reopening"),
        before
    );
    assert_eq!(read_all(&*store, &b, 0).await, vec![(1, "x".into())]);
    assert_eq!(append(&*store, &a, &["5"], at(4)).await, (5, 5));
    assert_eq!(append(&*store, &b, &["y", "z"], at(4)).await, (2, 3));
    assert_eq!(topic_names(&*store).await, vec!["a", "b"]);
}

/// A topic whose every message expired keeps its next offset across a
/// restart, and stays empty.
pub async fn numbering_survives_expiring_everything_and_reopening(open: Reopen<'_>) {
    let t = topic("expired");
    let store = open();
    append(&*store, &t, &["a", "b", "c"], at(0)).await;
    store
        .enforce_retention(at(100), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    drop(store);

    let store = open();
    let info = store.describe(&t).await.expect("the topic is still there");
    assert_eq!(
        (info.earliest_offset, info.next_offset, info.message_count),
        (4, 4, 0)
    );
    assert!(
        store
            .read(&t, 0, ALL)
            .await
            .expect("read")
            .messages
            .is_empty(),
        "nothing expired comes back"
    );
    assert_eq!(append(&*store, &t, &["d"], at(200)).await, (4, 4));
}

/// What retention removed stays removed after a restart.
pub async fn retention_survives_reopening(open: Reopen<'_>) {
    let t = topic("retained");
    let store = open();
    append(&*store, &t, &["old", "older"], at(0)).await;
    append(&*store, &t, &["new"], at(10)).await;
    store
        .enforce_retention(at(5), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    drop(store);

    let store = open();
    assert_eq!(read_all(&*store, &t, 0).await, vec![(3, "new".into())]);
    let info = store.describe(&t).await.expect("describe");
    assert_eq!(
        (info.earliest_offset, info.size_bytes, info.oldest_timestamp),
        (3, 3, Some(at(10)))
    );
}

/// The newest timestamp is remembered across a restart: a clock that went
/// back while the store was closed does not make timestamps go back.
pub async fn timestamps_never_decrease_across_reopening(open: Reopen<'_>) {
    let t = topic("clock");
    let store = open();
    append(&*store, &t, &["first"], at(10)).await;
    drop(store);

    let store = open();
    append(&*store, &t, &["clock went back"], at(3)).await;
    let stamps: Vec<Timestamp> = store
        .read(&t, 0, ALL)
        .await
        .expect("read")
        .messages
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(stamps, vec![at(10), at(10)]);
}

/// Whether `watch` has news right now, without waiting.
fn woken(watch: &mut crate::TopicWatch) -> bool {
    use futures::FutureExt;
    Box::pin(watch.changed()).now_or_never().is_some()
}

/// A watch made before a topic exists wakes when it is created, and again
/// each time it grows; by the time `append` returns, the watch has news,
/// and a read finds what caused it.
pub async fn a_watch_wakes_when_its_topic_is_created_or_grows(store: Arc<dyn Store>) {
    let t = topic("watched");
    let mut watch = store.watch(&t);
    assert!(!woken(&mut watch), "no news before any append");
    append(&*store, &t, &["first"], at(0)).await;
    assert!(woken(&mut watch), "creation wakes the watch");
    assert_eq!(read_all(&*store, &t, 0).await, vec![(1, "first".into())]);
    assert!(!woken(&mut watch), "news is delivered once");
    append(&*store, &t, &["second", "third"], at(0)).await;
    assert!(woken(&mut watch), "growth wakes the watch");
    assert_eq!(read_all(&*store, &t, 2).await.len(), 2);
}

/// Appends to one topic do not wake watchers of another.
pub async fn a_watch_ignores_other_topics(store: Arc<dyn Store>) {
    let (watched, other) = (topic("quiet"), topic("busy"));
    append(&*store, &watched, &["x"], at(0)).await;
    let mut watch = store.watch(&watched);
    for _ in 0..3 {
        append(&*store, &other, &["y"], at(0)).await;
    }
    assert!(!woken(&mut watch), "another topic's appends are not news");
}
