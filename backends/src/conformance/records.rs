//! The scenarios of issue #15: messages with keys and headers, produce
//! that is safe to retry (a producer id and a sequence per batch), and the
//! conditional append (`expected_next_offset`), with their rules across
//! reopening.

use super::*;
use crate::{
    Header, Message, OffsetRange, ProducerSequence, Record, producers::REMEMBERED_BATCHES,
};

/// A record with a payload, a key and headers, as `(name, value)` pairs.
fn record(payload: &[u8], key: &[u8], headers: &[(&str, &[u8])]) -> Record {
    Record {
        payload: Bytes::copy_from_slice(payload),
        key: Bytes::copy_from_slice(key),
        headers: headers
            .iter()
            .map(|(name, value)| Header {
                name: (*name).to_owned(),
                value: Bytes::copy_from_slice(value),
            })
            .collect(),
    }
}

/// A batch of `texts` from producer `producer_id` with its `sequence`.
fn from_producer(texts: &[&str], producer_id: u64, sequence: u64) -> Batch {
    Batch {
        producer: Some(ProducerSequence {
            producer_id,
            sequence,
        }),
        ..Batch::new(payloads(texts))
    }
}

/// A batch of `texts` on condition that the topic's next offset is
/// `expected`.
fn expecting(texts: &[&str], expected: u64) -> Batch {
    Batch {
        expected_next_offset: Some(expected),
        ..Batch::new(payloads(texts))
    }
}

fn range(first: u64, last: u64) -> OffsetRange {
    OffsetRange { first, last }
}

/// Sends producer `producer_id`'s batch `sequence` of `texts`.
async fn produce(
    store: &dyn Store,
    name: &TopicName,
    producer_id: u64,
    sequence: u64,
    texts: &[&str],
    now: Timestamp,
) -> Result<OffsetRange, StoreError> {
    store
        .append(name, from_producer(texts, producer_id, sequence), now)
        .await
}

/// The topic's next offset and how many messages it holds: what a batch
/// that was not stored leaves unchanged.
async fn extent(store: &dyn Store, name: &TopicName) -> (u64, usize) {
    let info = store.describe(name).await.expect("describe");
    let held = store.read(name, 0, ALL).await.expect("read").messages.len();
    (info.next_offset, held)
}

/// Asserts `result` is a refusal of producer `producer_id`'s sequence
/// `received` naming `expected` as the next one, in topic `name`.
#[track_caller]
fn assert_out_of_order(
    result: Result<OffsetRange, StoreError>,
    name: &TopicName,
    producer_id: u64,
    received: u64,
    expected: u64,
) {
    match result {
        Err(StoreError::SequenceOutOfOrder {
            topic,
            producer_id: id,
            received: r,
            expected: e,
        }) => assert_eq!(
            (topic, id, r, e),
            (name.clone(), producer_id, received, expected)
        ),
        other => panic!("expected SequenceOutOfOrder (expected {expected}), got {other:?}"),
    }
}

/// Asserts `result` is a failed conditional append that expected
/// `expected` and names the topic's `actual` next offset.
#[track_caller]
fn assert_mismatch(
    result: Result<OffsetRange, StoreError>,
    name: &TopicName,
    expected: u64,
    actual: u64,
) {
    match result {
        Err(StoreError::NextOffsetMismatch {
            topic,
            expected: e,
            actual: a,
        }) => assert_eq!((topic, e, a), (name.clone(), expected, actual)),
        other => panic!("expected NextOffsetMismatch (actual {actual}), got {other:?}"),
    }
}

/// The records every key-and-header scenario stores: no key, a binary key,
/// an empty payload; repeated header names, an empty value, binary values,
/// names out of alphabetical order.
fn assorted_records() -> Vec<Record> {
    vec![
        record(b"plain", b"", &[]),
        record(
            b"with everything",
            &[0, 255, b'\n', 0],
            &[
                ("trace", b"abc"),
                ("content-type", b"application/json"),
                ("trace", b"def"),
                ("bin", &[0, 1, 2, 255]),
                ("empty", b""),
                ("trace", b"abc"),
            ],
        ),
        record(b"", b"key only", &[]),
        record(
            b"headers only",
            b"",
            &[("z", b"1"), ("a", b"2"), ("\u{e9}t\u{e9}", b"3")],
        ),
    ]
}

/// Keys and headers come back exactly as stored: bytes, order, repeated
/// names and empty values; a plain payload gets an empty key and no
/// headers.
pub async fn keys_and_headers_round_trip(store: Arc<dyn Store>) {
    let t = topic("records");
    append(&*store, &t, &["before"], at(0)).await;
    let sent = assorted_records();
    let offsets = store
        .append(&t, Batch::of_records(sent.clone()), at(1))
        .await
        .expect("append records");
    assert_eq!(offsets, range(2, 5));
    append(&*store, &t, &["after"], at(2)).await;
    let read = store.read(&t, 0, ALL).await.expect("read").messages;
    assert_eq!(read.len(), 6);
    for message in [&read[0], &read[5]] {
        assert!(message.key.is_empty() && message.headers.is_empty());
    }
    let got: Vec<Record> = read[1..5]
        .iter()
        .map(|m| Record {
            payload: m.payload.clone(),
            key: m.key.clone(),
            headers: m.headers.clone(),
        })
        .collect();
    assert_eq!(got, sent);
    assert_eq!(
        read[1..5].iter().map(|m| m.offset).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
}

/// A topic's `size_bytes` counts each message's payload, key, and header
/// names and values, and so does a read's `max_bytes`.
pub async fn sizes_count_keys_and_headers(store: Arc<dyn Store>) {
    let t = topic("sized");
    // Each is 10 bytes: 2 of payload, 3 of key, 2 + 3 of one header.
    let ten = |p: &[u8]| record(p, b"key", &[("hn", b"val")]);
    let sent = vec![ten(b"p1"), ten(b"p2"), ten(b"p3")];
    assert!(sent.iter().all(|r| r.size() == 10));
    store
        .append(&t, Batch::of_records(sent), at(0))
        .await
        .expect("append");
    append(&*store, &t, &["four"], at(0)).await;
    let info = store.describe(&t).await.expect("describe");
    assert_eq!(info.size_bytes, 34);
    let limits = |max_bytes| ReadLimits {
        max_messages: 100,
        max_bytes,
    };
    let count = |r: crate::ReadResult| r.messages.len();
    assert_eq!(count(store.read(&t, 1, limits(19)).await.expect("read")), 1);
    assert_eq!(count(store.read(&t, 1, limits(20)).await.expect("read")), 2);
    assert_eq!(count(store.read(&t, 1, limits(33)).await.expect("read")), 3);
    assert_eq!(count(store.read(&t, 1, limits(34)).await.expect("read")), 4);
    assert_eq!(count(store.read(&t, 1, limits(5)).await.expect("read")), 1);
    let all = store.read(&t, 0, ALL).await.expect("read").messages;
    assert_eq!(all.iter().map(Message::size).sum::<usize>(), 34);
}

/// For a store that removes single messages: retention by size counts
/// keys and headers, and the bytes a sweep reports removed are what
/// `size_bytes` lost.
pub async fn retention_by_size_counts_keys_and_headers(store: Arc<dyn Store>) {
    let t = topic("sized-retention");
    // 10 bytes each, as above, but only 2 of them payload.
    let sent: Vec<Record> = (0..5)
        .map(|i| record(format!("p{i}").as_bytes(), b"key", &[("hn", b"val")]))
        .collect();
    store
        .append(&t, Batch::of_records(sent), at(0))
        .await
        .expect("append");
    let change = SettingsChange {
        retention_bytes: Some(Some(25)),
        ..SettingsChange::default()
    };
    store.update_topic(&t, change).await.expect("update");
    let report = store
        .enforce_retention(at(1), RetentionDefaults::by_age(RetentionAge::Forever))
        .await
        .expect("sweep");
    assert_eq!((report.messages_removed, report.bytes_removed), (3, 30));
    let info = store.describe(&t).await.expect("describe");
    assert_eq!((info.earliest_offset, info.size_bytes), (4, 20));
}

/// Records with keys and headers survive a reopen unchanged.
pub async fn keys_and_headers_survive_reopening(open: Reopen<'_>) {
    let t = topic("records");
    let store = open();
    let sent = assorted_records();
    store
        .append(&t, Batch::of_records(sent.clone()), at(1))
        .await
        .expect("append");
    let before = store.read(&t, 0, ALL).await.expect("read");
    let size = store.describe(&t).await.expect("describe").size_bytes;
    drop(store);

    let store = open();
    assert_eq!(store.read(&t, 0, ALL).await.expect("read"), before);
    assert_eq!(store.describe(&t).await.expect("describe").size_bytes, size);
    assert_eq!(
        size,
        sent.iter().map(|r| r.size() as u64).sum::<u64>(),
        "size_bytes counts keys and headers"
    );
}

/// Stores producer 1's batches 0..=6 of two messages each in `t`, with a
/// plain message in between so offsets and sequences differ; their
/// offsets, by sequence.
async fn seven_batches(store: &dyn Store, t: &TopicName) -> Vec<OffsetRange> {
    append(store, t, &["plain"], at(0)).await;
    let mut ranges = Vec::new();
    for sequence in 0..7 {
        let texts = [format!("{sequence}a"), format!("{sequence}b")];
        let texts = [texts[0].as_str(), texts[1].as_str()];
        ranges.push(
            produce(store, t, 1, sequence, &texts, at(sequence))
                .await
                .expect("a producer's batch"),
        );
    }
    assert_eq!(ranges[0], range(2, 3));
    assert_eq!(ranges[6], range(14, 15));
    ranges
}

/// A retry of any of a producer's last `REMEMBERED_BATCHES` batches gets
/// that batch's offsets and stores nothing, even when its payloads differ
/// (a client reusing a sequence number for other data gets the old
/// offsets); the producer's next sequence is then stored as usual.
pub async fn a_retried_batch_gets_its_original_offsets_and_is_stored_once(store: Arc<dyn Store>) {
    let t = topic("retried");
    let ranges = seven_batches(&*store, &t).await;
    let before = extent(&*store, &t).await;
    assert_eq!(before, (16, 15));
    let oldest_remembered = 7 - REMEMBERED_BATCHES as u64;
    for sequence in oldest_remembered..7 {
        let again = produce(&*store, &t, 1, sequence, &["retry", "retry"], at(20))
            .await
            .expect("a retry");
        assert_eq!(again, ranges[sequence as usize], "sequence {sequence}");
        let other_data = produce(&*store, &t, 1, sequence, &["x"], at(20))
            .await
            .expect("a reused sequence");
        assert_eq!(other_data, ranges[sequence as usize]);
    }
    assert_eq!(extent(&*store, &t).await, before, "nothing stored twice");
    let read = store.read(&t, 14, ALL).await.expect("read").messages;
    let texts: Vec<&[u8]> = read.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(texts, [&b"6a"[..], b"6b"]);
    assert_eq!(
        produce(&*store, &t, 1, 7, &["7a"], at(21))
            .await
            .expect("next"),
        range(16, 16)
    );
}

/// A sequence that skips ahead, or one older than the batches remembered,
/// is refused naming the sequence expected, and nothing is stored; the
/// expected one is then stored as usual.
pub async fn a_sequence_gap_or_a_forgotten_old_one_is_refused(store: Arc<dyn Store>) {
    let t = topic("gaps");
    seven_batches(&*store, &t).await;
    let before = extent(&*store, &t).await;
    assert_out_of_order(
        produce(&*store, &t, 1, 9, &["gap"], at(10)).await,
        &t,
        1,
        9,
        7,
    );
    assert_out_of_order(
        produce(&*store, &t, 1, 1, &["old"], at(10)).await,
        &t,
        1,
        1,
        7,
    );
    assert_out_of_order(
        produce(&*store, &t, 1, u64::MAX, &["far"], at(10)).await,
        &t,
        1,
        u64::MAX,
        7,
    );
    let refusal = produce(&*store, &t, 1, 9, &["gap"], at(10))
        .await
        .expect_err("a gap")
        .to_string();
    assert!(
        refusal.contains("gaps") && refusal.contains("sequence 9") && refusal.contains('7'),
        "{refusal}"
    );
    assert_eq!(extent(&*store, &t).await, before, "nothing stored");
    assert_eq!(
        produce(&*store, &t, 1, 7, &["7"], at(10))
            .await
            .expect("the expected one"),
        range(16, 16)
    );
}

/// A producer the store does not know may start at any sequence, and
/// sequences count on past the largest one, to 0; ids and sequences use
/// all 64 bits.
pub async fn a_new_producer_starts_anywhere_and_sequences_wrap(store: Arc<dyn Store>) {
    let t = topic("wrapping");
    let id = u64::MAX;
    let last = u64::MAX;
    assert_eq!(
        produce(&*store, &t, id, last - 1, &["a"], at(0))
            .await
            .expect("first"),
        range(1, 1)
    );
    assert_eq!(
        produce(&*store, &t, id, last, &["b"], at(0))
            .await
            .expect("the largest"),
        range(2, 2)
    );
    assert_eq!(
        produce(&*store, &t, id, 0, &["c"], at(0))
            .await
            .expect("wrapped"),
        range(3, 3)
    );
    assert_eq!(
        produce(&*store, &t, id, last, &["b"], at(0))
            .await
            .expect("a retry"),
        range(2, 2)
    );
    assert_out_of_order(
        produce(&*store, &t, id, 2, &["d"], at(0)).await,
        &t,
        id,
        2,
        1,
    );
    assert_eq!(
        produce(&*store, &t, 1 << 63, 1 << 63, &["e"], at(0))
            .await
            .expect("another"),
        range(4, 4)
    );
    assert_eq!(extent(&*store, &t).await, (5, 4));
}

/// Each producer has its own sequence in each topic: the same sequence
/// from another producer, or to another topic, is a new batch.
pub async fn producers_and_topics_have_separate_sequences(store: Arc<dyn Store>) {
    let (a, b) = (topic("a"), topic("b"));
    let first = produce(&*store, &a, 1, 0, &["1:0"], at(0))
        .await
        .expect("1");
    assert_eq!(first, range(1, 1));
    assert_eq!(
        produce(&*store, &a, 2, 0, &["2:0"], at(0))
            .await
            .expect("2"),
        range(2, 2)
    );
    assert_eq!(
        produce(&*store, &b, 1, 0, &["1:0 in b"], at(0))
            .await
            .expect("other topic"),
        range(1, 1)
    );
    assert_eq!(
        produce(&*store, &b, 1, 1, &["1:1 in b"], at(0))
            .await
            .expect("on in b"),
        range(2, 2)
    );
    assert_out_of_order(produce(&*store, &a, 1, 2, &["x"], at(0)).await, &a, 1, 2, 1);
    assert_eq!(
        produce(&*store, &a, 1, 0, &["again"], at(0))
            .await
            .expect("retry in a"),
        first
    );
    assert_eq!(extent(&*store, &a).await, (3, 2));
    assert_eq!(extent(&*store, &b).await, (3, 2));
}

/// Copies of one batch sent at once (a client retrying while its first
/// attempt is still being stored) all get the same offsets, and it is
/// stored once.
pub async fn concurrent_copies_of_a_batch_are_stored_once(store: Arc<dyn Store>) {
    let t = topic("copies");
    append(&*store, &t, &["plain"], at(0)).await;
    for sequence in 0..5 {
        let copies: Vec<_> = (0..8)
            .map(|_| {
                let (store, t) = (Arc::clone(&store), t.clone());
                tokio::spawn(
                    async move { produce(&*store, &t, 9, sequence, &["x", "y"], at(1)).await },
                )
            })
            .collect();
        let answers: Vec<OffsetRange> = futures::future::join_all(copies)
            .await
            .into_iter()
            .map(|copy| copy.expect("task").expect("a copy"))
            .collect();
        let first = 2 + 2 * sequence;
        assert!(
            answers.iter().all(|a| *a == range(first, first + 1)),
            "sequence {sequence}: {answers:?}"
        );
    }
    assert_eq!(extent(&*store, &t).await, (12, 11));
}

/// A batch refused for another reason (too large, topic missing) does not
/// use up its sequence: the producer sends it again, corrected, with the
/// same one.
pub async fn a_refused_batch_does_not_use_up_its_sequence(store: Arc<dyn Store>) {
    let t = topic("limited");
    let limited = TopicSettings {
        max_message_bytes: Some(4),
        ..TopicSettings::default()
    };
    store.create_topic(&t, limited).await.expect("create");
    produce(&*store, &t, 1, 0, &["ok"], at(0))
        .await
        .expect("small");
    assert!(matches!(
        produce(&*store, &t, 1, 1, &["much too large"], at(0)).await,
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert_eq!(
        produce(&*store, &t, 1, 1, &["ok"], at(0))
            .await
            .expect("corrected"),
        range(2, 2)
    );
    let missing = topic("missing");
    let may_not_create = Batch {
        create_topic: false,
        ..from_producer(&["x"], 1, 0)
    };
    assert!(matches!(
        store.append(&missing, may_not_create, at(0)).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert_eq!(
        produce(&*store, &missing, 1, 5, &["x"], at(0))
            .await
            .expect("created"),
        range(1, 1)
    );
}

/// The retention sweep forgets producers that stored nothing for longer
/// than the producer expiry (whatever the messages' retention): their next
/// batch is new, at any sequence. Producers active since are remembered,
/// and with no expiry none is forgotten.
pub async fn idle_producers_are_forgotten_by_the_sweep(store: Arc<dyn Store>) {
    let t = topic("idle");
    for sequence in 0..3 {
        produce(&*store, &t, 1, sequence, &["1"], at(0))
            .await
            .expect("1");
    }
    produce(&*store, &t, 2, 0, &["2"], at(0)).await.expect("2");
    let kept = produce(&*store, &t, 2, 1, &["2"], at(30))
        .await
        .expect("2 again");
    let forever = RetentionDefaults::by_age(RetentionAge::Forever);
    store
        .enforce_retention(at(1_000_000), forever)
        .await
        .expect("sweep keeping producers forever");
    assert_out_of_order(
        produce(&*store, &t, 1, 9, &["x"], at(31)).await,
        &t,
        1,
        9,
        3,
    );

    let expire_producers = RetentionDefaults {
        age: RetentionAge::Forever,
        producer_expiry: RetentionAge::MaxAge(Duration::from_secs(20)),
        ..RetentionDefaults::by_age(RetentionAge::Forever)
    };
    let report = store
        .enforce_retention(at(40), expire_producers)
        .await
        .expect("sweep");
    assert_eq!(report.messages_removed, 0, "messages are kept");
    assert_eq!(extent(&*store, &t).await, (6, 5));
    assert_eq!(
        produce(&*store, &t, 1, 9, &["new again"], at(41))
            .await
            .expect("forgotten"),
        range(6, 6)
    );
    assert_eq!(
        produce(&*store, &t, 2, 1, &["retry"], at(41))
            .await
            .expect("remembered"),
        kept
    );
    assert_out_of_order(
        produce(&*store, &t, 2, 5, &["x"], at(41)).await,
        &t,
        2,
        5,
        2,
    );
}

/// Past a topic's `max_producers`, a new producer makes the store forget
/// the least recently active one (whose next batch is then new, at any
/// sequence); the others are remembered. Run with a store opened with the
/// given `max_producers` (`conformance_tests!(capped ...)`).
pub async fn past_the_cap_the_least_recently_active_producer_is_forgotten(
    store: Arc<dyn Store>,
    max_producers: usize,
) {
    let t = topic("capped");
    let producers = max_producers as u64;
    // Producer 1 is the least recently active, though it was the first.
    produce(&*store, &t, 1, 0, &["1"], at(0)).await.expect("1");
    let mut ranges = Vec::new();
    for id in 2..=producers {
        ranges.push(produce(&*store, &t, id, 0, &["p"], at(1)).await.expect("p"));
    }
    // At the cap, every producer is remembered.
    assert_eq!(
        produce(&*store, &t, 1, 0, &["1"], at(2))
            .await
            .expect("retry"),
        range(1, 1)
    );
    produce(&*store, &t, producers + 1, 0, &["new"], at(2))
        .await
        .expect("one too many");
    for (id, stored) in (2..=producers).zip(ranges) {
        assert_eq!(
            produce(&*store, &t, id, 0, &["p"], at(3))
                .await
                .expect("retry"),
            stored,
            "producer {id}"
        );
    }
    // Checked last: producer 1 coming back is itself a new producer, which
    // makes the store forget another.
    let next = extent(&*store, &t).await.0;
    assert_eq!(
        produce(&*store, &t, 1, 7, &["1 anew"], at(3))
            .await
            .expect("forgotten"),
        range(next, next)
    );
}

/// Deleting a topic forgets its producers: in the topic created again, a
/// sequence they used is a new batch.
pub async fn deleting_a_topic_forgets_its_producers(store: Arc<dyn Store>) {
    let t = topic("deleted");
    for sequence in 0..3 {
        produce(&*store, &t, 1, sequence, &["old", "old"], at(0))
            .await
            .expect("1");
    }
    store.delete_topic(&t).await.expect("delete");
    assert_eq!(
        produce(&*store, &t, 1, 2, &["new"], at(1))
            .await
            .expect("a new batch"),
        range(1, 1)
    );
    assert_eq!(extent(&*store, &t).await, (2, 1));
    assert_out_of_order(produce(&*store, &t, 1, 5, &["x"], at(1)).await, &t, 1, 5, 3);
}

/// A conditional append is stored when the topic's next offset is the one
/// expected, and refused, storing nothing and naming the actual next
/// offset, when it is not; also after retention emptied the topic.
pub async fn a_conditional_append_needs_the_next_offset(store: Arc<dyn Store>) {
    let t = topic("conditional");
    append(&*store, &t, &["a", "b", "c"], at(0)).await;
    assert_eq!(
        store
            .append(&t, expecting(&["d", "e"], 4), at(0))
            .await
            .expect("match"),
        range(4, 5)
    );
    assert_mismatch(
        store.append(&t, expecting(&["late"], 4), at(0)).await,
        &t,
        4,
        6,
    );
    assert_mismatch(
        store.append(&t, expecting(&["early"], 9), at(0)).await,
        &t,
        9,
        6,
    );
    let refusal = store
        .append(&t, expecting(&["x"], 1), at(0))
        .await
        .expect_err("a mismatch")
        .to_string();
    assert!(
        refusal.contains("conditional") && refusal.contains('1') && refusal.contains('6'),
        "{refusal}"
    );
    assert_eq!(extent(&*store, &t).await, (6, 5), "nothing stored");
    store
        .enforce_retention(at(10), EXPIRE_BEFORE_NOW)
        .await
        .expect("expire everything");
    assert_mismatch(
        store.append(&t, expecting(&["f"], 1), at(10)).await,
        &t,
        1,
        6,
    );
    assert_eq!(
        store
            .append(&t, expecting(&["f"], 6), at(10))
            .await
            .expect("match"),
        range(6, 6)
    );
}

/// On a missing topic the next offset is 1: expecting 1 creates it,
/// expecting anything else is refused and does not create it; a topic
/// created empty also expects 1; an append that may not create the topic
/// is refused as not found first.
pub async fn a_conditional_append_to_a_missing_topic(store: Arc<dyn Store>) {
    let t = topic("missing");
    assert_mismatch(
        store.append(&t, expecting(&["x"], 2), at(0)).await,
        &t,
        2,
        1,
    );
    assert!(matches!(
        store.describe(&t).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert!(store.list(None, usize::MAX).await.expect("list").is_empty());
    let may_not_create = Batch {
        create_topic: false,
        ..expecting(&["x"], 1)
    };
    assert!(matches!(
        store.append(&t, may_not_create, at(0)).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert_eq!(
        store
            .append(&t, expecting(&["first"], 1), at(0))
            .await
            .expect("creates"),
        range(1, 1)
    );
    let created = topic("created");
    store
        .create_topic(&created, TopicSettings::default())
        .await
        .expect("create");
    assert_mismatch(
        store.append(&created, expecting(&["x"], 0), at(0)).await,
        &created,
        0,
        1,
    );
    assert_eq!(
        store
            .append(&created, expecting(&["first"], 1), at(0))
            .await
            .expect("match"),
        range(1, 1)
    );
}

/// Dedup comes before the condition: a retried conditional append that was
/// stored gets its original offsets, not a mismatch; a refused conditional
/// append does not use up its sequence; a sequence gap is refused as such
/// whatever the condition.
pub async fn dedup_comes_before_the_condition(store: Arc<dyn Store>) {
    let t = topic("both");
    let batch = |texts: &[&str], sequence, expected| Batch {
        expected_next_offset: Some(expected),
        ..from_producer(texts, 1, sequence)
    };
    assert_eq!(
        store
            .append(&t, batch(&["a", "b"], 0, 1), at(0))
            .await
            .expect("first"),
        range(1, 2)
    );
    assert_eq!(
        store
            .append(&t, batch(&["a", "b"], 0, 1), at(0))
            .await
            .expect("retry"),
        range(1, 2)
    );
    assert_mismatch(store.append(&t, batch(&["c"], 1, 1), at(0)).await, &t, 1, 3);
    assert_out_of_order(
        store.append(&t, batch(&["c"], 4, 1), at(0)).await,
        &t,
        1,
        4,
        1,
    );
    assert_eq!(extent(&*store, &t).await, (3, 2));
    assert_eq!(
        store
            .append(&t, batch(&["c"], 1, 3), at(0))
            .await
            .expect("matching now"),
        range(3, 3)
    );
}

/// A producer's last batches are remembered across a reopen (and a
/// second one): retries get their original offsets and store nothing,
/// older or skipping sequences are refused, and the producer goes on.
pub async fn dedup_survives_reopening(open: Reopen<'_>) {
    let (t, other) = (topic("retried"), topic("other"));
    let store = open();
    let ranges = seven_batches(&*store, &t).await;
    let other_range = produce(&*store, &other, 2, 40, &["o"], at(0))
        .await
        .expect("2");
    drop(store);

    let store = open();
    let before = extent(&*store, &t).await;
    for sequence in 7 - REMEMBERED_BATCHES as u64..7 {
        assert_eq!(
            produce(&*store, &t, 1, sequence, &["retry"], at(20))
                .await
                .expect("retry"),
            ranges[sequence as usize],
            "sequence {sequence}"
        );
    }
    assert_out_of_order(
        produce(&*store, &t, 1, 1, &["old"], at(20)).await,
        &t,
        1,
        1,
        7,
    );
    assert_out_of_order(
        produce(&*store, &t, 1, 8, &["gap"], at(20)).await,
        &t,
        1,
        8,
        7,
    );
    assert_eq!(extent(&*store, &t).await, before, "nothing stored");
    assert_eq!(
        produce(&*store, &other, 2, 40, &["o"], at(20))
            .await
            .expect("retry"),
        other_range
    );
    let seventh = produce(&*store, &t, 1, 7, &["7"], at(21))
        .await
        .expect("next");
    assert_eq!(seventh, range(16, 16));
    let eighth = produce(&*store, &t, 1, 8, &["8"], at(22))
        .await
        .expect("next");
    drop(store);

    let store = open();
    assert_eq!(
        produce(&*store, &t, 1, 7, &["retry"], at(30))
            .await
            .expect("retry"),
        seventh
    );
    assert_eq!(
        produce(&*store, &t, 1, 8, &["retry"], at(30))
            .await
            .expect("retry"),
        eighth
    );
    assert_eq!(
        produce(&*store, &t, 1, 4, &["retry"], at(30))
            .await
            .expect("retry"),
        ranges[4]
    );
    assert_out_of_order(
        produce(&*store, &t, 1, 3, &["old"], at(30)).await,
        &t,
        1,
        3,
        9,
    );
    assert_eq!(extent(&*store, &t).await, (18, 17));
}

/// A deleted topic's producers stay forgotten across a reopen: in the
/// topic created again, their sequences are new batches.
pub async fn a_deleted_topics_producers_stay_forgotten_after_reopening(open: Reopen<'_>) {
    let (t, kept) = (topic("deleted"), topic("kept"));
    let store = open();
    for sequence in 0..3 {
        produce(&*store, &t, 1, sequence, &["old"], at(0))
            .await
            .expect("1");
    }
    let kept_range = produce(&*store, &kept, 1, 0, &["k"], at(0))
        .await
        .expect("kept");
    store.delete_topic(&t).await.expect("delete");
    drop(store);

    let store = open();
    assert_eq!(
        produce(&*store, &t, 1, 2, &["new"], at(1))
            .await
            .expect("a new batch"),
        range(1, 1)
    );
    assert_eq!(
        produce(&*store, &kept, 1, 0, &["k"], at(1))
            .await
            .expect("retry"),
        kept_range
    );
    drop(store);

    let store = open();
    assert_eq!(
        produce(&*store, &t, 1, 2, &["new"], at(2))
            .await
            .expect("retry"),
        range(1, 1)
    );
    assert_eq!(extent(&*store, &t).await, (2, 1));
}
