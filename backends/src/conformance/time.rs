//! The scenarios of `offset_for_time` (issue #16): where a read from a time
//! starts, answered from timestamps, which never decrease within a topic.

use super::*;

/// The offsets `times` (in seconds after `T0`) start at in `name`.
async fn offsets_for(store: &dyn Store, name: &TopicName, times: &[u64]) -> Vec<u64> {
    let mut offsets = Vec::with_capacity(times.len());
    for &seconds in times {
        let offset = store
            .offset_for_time(name, at(seconds))
            .await
            .expect("offset for time");
        offsets.push(offset);
    }
    offsets
}

/// The offset the earliest time there is starts at in `name`.
async fn offset_at_the_epoch(store: &dyn Store, name: &TopicName) -> u64 {
    store
        .offset_for_time(name, Timestamp::from_nanos(0))
        .await
        .expect("offset for the epoch")
}

/// A topic with no messages answers its next offset (1 when new), whatever
/// the time.
pub async fn an_empty_topic_answers_its_next_offset_for_any_time(store: Arc<dyn Store>) {
    let t = topic("empty");
    store
        .create_topic(&t, TopicSettings::default())
        .await
        .expect("create");
    assert_eq!(offsets_for(&*store, &t, &[0, 5]).await, vec![1, 1]);
    assert_eq!(offset_at_the_epoch(&*store, &t).await, 1);
}

/// A time before every message held answers the earliest.
pub async fn a_time_before_every_message_answers_the_earliest(store: Arc<dyn Store>) {
    let t = topic("before");
    append(&*store, &t, &["a", "b"], at(10)).await;
    append(&*store, &t, &["c"], at(20)).await;
    assert_eq!(offsets_for(&*store, &t, &[0, 9]).await, vec![1, 1]);
    assert_eq!(offset_at_the_epoch(&*store, &t).await, 1);
}

/// When several messages share the time asked for, the first of them
/// answers, not a later one.
pub async fn a_shared_timestamp_answers_the_first_message_with_it(store: Arc<dyn Store>) {
    let t = topic("shared");
    append(&*store, &t, &["a"], at(1)).await;
    append(&*store, &t, &["b", "c", "d"], at(2)).await;
    append(&*store, &t, &["e"], at(2)).await;
    append(&*store, &t, &["f"], at(3)).await;
    assert_eq!(offsets_for(&*store, &t, &[1, 2, 3]).await, vec![1, 2, 6]);
}

/// A time between two messages answers the newer one.
pub async fn a_time_between_messages_answers_the_next_newer(store: Arc<dyn Store>) {
    let t = topic("between");
    append(&*store, &t, &["a"], at(10)).await;
    append(&*store, &t, &["b"], at(20)).await;
    append(&*store, &t, &["c"], at(30)).await;
    assert_eq!(offsets_for(&*store, &t, &[11, 19, 25]).await, vec![2, 2, 3]);
    let just_after = Timestamp::from_nanos(at(20).as_nanos() + 1);
    assert_eq!(
        store.offset_for_time(&t, just_after).await.expect("offset"),
        3
    );
}

/// A time after every message answers the next offset, from which a read
/// waits for what comes.
pub async fn a_time_after_every_message_answers_the_next_offset(store: Arc<dyn Store>) {
    let t = topic("after");
    append(&*store, &t, &["a", "b", "c"], at(10)).await;
    assert_eq!(offsets_for(&*store, &t, &[11, 1000]).await, vec![4, 4]);
    let read = store.read(&t, 4, ALL).await.expect("read from it");
    assert!(read.messages.is_empty());
}

/// After retention removed the oldest messages, a time before what is held
/// answers the earliest held, never a removed offset; after everything
/// expired, the next offset.
pub async fn a_time_never_answers_an_expired_offset(store: Arc<dyn Store>) {
    let t = topic("expiring");
    append(&*store, &t, &["a", "b"], at(1)).await;
    append(&*store, &t, &["c"], at(2)).await;
    append(&*store, &t, &["d"], at(3)).await;
    store
        .enforce_retention(at(2), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    let earliest = store.describe(&t).await.expect("describe").earliest_offset;
    assert_eq!(earliest, 3);
    assert_eq!(
        offsets_for(&*store, &t, &[0, 1, 2, 3]).await,
        vec![3, 3, 3, 4]
    );
    store
        .enforce_retention(at(100), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove all");
    assert_eq!(offsets_for(&*store, &t, &[0, 3, 200]).await, vec![5, 5, 5]);
}

/// A topic that does not exist is not found, and asking does not create it.
pub async fn a_time_in_an_unknown_topic_is_not_found(store: Arc<dyn Store>) {
    let t = topic("missing");
    match store.offset_for_time(&t, at(0)).await {
        Err(StoreError::TopicNotFound(name)) => assert_eq!(name, t),
        other => panic!("expected TopicNotFound, got {other:?}"),
    }
    assert!(matches!(
        store.describe(&t).await,
        Err(StoreError::TopicNotFound(_))
    ));
}

/// Among many messages in many batches (across segments in a store that
/// rolls them small), every time answers the first message at or after it.
pub async fn a_time_finds_its_message_among_many(store: Arc<dyn Store>) {
    let t = topic("many");
    // Batch i (0-based) holds i % 3 + 1 messages at second 2 * i, so times
    // repeat within a batch and leave gaps between batches.
    let mut first_at = Vec::new();
    for i in 0..60u64 {
        let texts: Vec<String> = (0..=i % 3).map(|j| format!("message {i}.{j}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (first, _) = append(&*store, &t, &texts, at(2 * i)).await;
        first_at.push(first);
    }
    let next = store.describe(&t).await.expect("describe").next_offset;
    for i in 0..60u64 {
        let at_batch = first_at[i as usize];
        let after_batch = first_at.get(i as usize + 1).copied().unwrap_or(next);
        assert_eq!(
            offsets_for(&*store, &t, &[2 * i, 2 * i + 1]).await,
            vec![at_batch, after_batch],
            "times {} and {}",
            2 * i,
            2 * i + 1
        );
    }
}

/// After a reopen, times answer the same offsets, and the newest timestamp
/// (kept even when every message expired) still answers the next offset.
pub async fn offsets_for_times_survive_reopening(open: Reopen<'_>) {
    let t = topic("reopened");
    let store = open();
    append(&*store, &t, &["a"], at(10)).await;
    append(&*store, &t, &["b", "c"], at(20)).await;
    append(&*store, &t, &["d"], at(30)).await;
    let before = offsets_for(&*store, &t, &[0, 10, 15, 20, 30, 31]).await;
    assert_eq!(before, vec![1, 1, 2, 2, 4, 5]);
    drop(store);

    let store = open();
    assert_eq!(
        offsets_for(&*store, &t, &[0, 10, 15, 20, 30, 31]).await,
        before
    );
    append(&*store, &t, &["e"], at(40)).await;
    assert_eq!(offsets_for(&*store, &t, &[35, 40, 41]).await, vec![5, 5, 6]);
}
