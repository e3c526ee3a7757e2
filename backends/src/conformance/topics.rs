//! The scenarios of topic management: creating, updating and deleting
//! topics, their own limits and retention, paged listing, and all of it
//! across reopening.

use super::*;

fn settings(
    retention: Option<RetentionAge>,
    retention_bytes: Option<u64>,
    max_message_bytes: Option<u64>,
) -> TopicSettings {
    TopicSettings {
        retention,
        retention_bytes,
        max_message_bytes,
    }
}

fn days(n: u64) -> RetentionAge {
    RetentionAge::MaxAge(Duration::from_secs(n * 86_400))
}

/// Retention defaults that keep everything by age.
const KEEP_FOREVER: RetentionDefaults = RetentionDefaults::by_age(RetentionAge::Forever);

/// Creating a topic makes it, empty, with its settings; creating it again
/// with the same settings succeeds and changes nothing; with other
/// settings it fails, naming the settings it has.
pub async fn create_makes_a_topic_once_and_refuses_other_settings(store: Arc<dyn Store>) {
    let t = topic("created");
    let own = settings(Some(days(3)), Some(1 << 30), Some(1024));
    assert_eq!(
        store.create_topic(&t, own.clone()).await.expect("create"),
        Creation::Created
    );
    let info = store.describe(&t).await.expect("describe");
    assert_eq!(
        (info.earliest_offset, info.next_offset, info.message_count),
        (1, 1, 0)
    );
    assert_eq!((info.size_bytes, info.oldest_timestamp), (0, None));
    assert_eq!(info.settings, own);
    assert_eq!(read_all(&*store, &t, 0).await, vec![]);
    append(&*store, &t, &["kept"], at(0)).await;

    assert_eq!(
        store.create_topic(&t, own.clone()).await.expect("again"),
        Creation::AlreadyExisted
    );
    match store.create_topic(&t, TopicSettings::default()).await {
        Err(StoreError::TopicExists { topic, settings }) => {
            assert_eq!((topic, settings), (t.clone(), own.clone()));
        }
        other => panic!("expected TopicExists, got {other:?}"),
    }
    let after = store.describe(&t).await.expect("describe");
    assert_eq!((after.next_offset, after.settings), (2, own));

    let plain = topic("plain");
    assert_eq!(
        store
            .create_topic(&plain, TopicSettings::default())
            .await
            .expect("create"),
        Creation::Created
    );
    assert_eq!(
        store.describe(&plain).await.expect("describe").settings,
        TopicSettings::default()
    );
}

/// An update changes only the settings it names (a reset returns one to
/// the server's default) and returns the result; an unknown topic is not
/// found, and is not created.
pub async fn update_changes_only_the_named_settings(store: Arc<dyn Store>) {
    let t = topic("updated");
    append(&*store, &t, &["m"], at(0)).await;
    let set = SettingsChange {
        retention: Some(Some(RetentionAge::Forever)),
        retention_bytes: Some(Some(500)),
        max_message_bytes: None,
    };
    let expected = settings(Some(RetentionAge::Forever), Some(500), None);
    assert_eq!(store.update_topic(&t, set).await.expect("set"), expected);
    assert_eq!(
        store.describe(&t).await.expect("describe").settings,
        expected
    );

    let partly = SettingsChange {
        retention: Some(None),
        max_message_bytes: Some(Some(64)),
        ..SettingsChange::default()
    };
    let expected = settings(None, Some(500), Some(64));
    assert_eq!(
        store.update_topic(&t, partly).await.expect("reset"),
        expected
    );
    assert_eq!(
        store.describe(&t).await.expect("describe").settings,
        expected
    );
    assert_eq!(
        store
            .update_topic(&t, SettingsChange::default())
            .await
            .expect("no change"),
        expected
    );

    let unknown = topic("never-made");
    let result = store
        .update_topic(&unknown, SettingsChange::default())
        .await;
    assert!(
        matches!(result, Err(StoreError::TopicNotFound(ref name)) if *name == unknown),
        "{result:?}"
    );
    assert!(matches!(
        store.describe(&unknown).await,
        Err(StoreError::TopicNotFound(_))
    ));
}

/// A delete removes the topic and its messages and says how many it held;
/// a topic created again under the name is new, from offset 1, with the
/// server's default settings; deleting an unknown topic is not found.
pub async fn delete_removes_the_topic_and_a_new_one_starts_at_one(store: Arc<dyn Store>) {
    let (t, other) = (topic("doomed"), topic("bystander"));
    store
        .create_topic(&t, settings(Some(RetentionAge::Forever), None, None))
        .await
        .expect("create");
    append(&*store, &t, &["a", "b"], at(0)).await;
    append(&*store, &t, &["c"], at(1)).await;
    append(&*store, &other, &["x"], at(1)).await;

    assert_eq!(store.delete_topic(&t).await.expect("delete"), 3);
    assert!(matches!(
        store.read(&t, 0, ALL).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert!(matches!(
        store.describe(&t).await,
        Err(StoreError::TopicNotFound(_))
    ));
    let names: Vec<TopicName> = store
        .list(None, usize::MAX)
        .await
        .expect("list")
        .into_iter()
        .map(|info| info.name)
        .collect();
    assert_eq!(names, vec![other.clone()]);
    assert_eq!(read_all(&*store, &other, 0).await, vec![(1, "x".into())]);

    assert_eq!(append(&*store, &t, &["new"], at(2)).await, (1, 1));
    assert_eq!(read_all(&*store, &t, 0).await, vec![(1, "new".into())]);
    let info = store.describe(&t).await.expect("describe");
    assert_eq!(
        (info.earliest_offset, info.next_offset, info.size_bytes),
        (1, 2, 3)
    );
    assert_eq!(info.settings, TopicSettings::default());

    let missing = topic("missing");
    assert!(matches!(
        store.delete_topic(&missing).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert_eq!(store.delete_topic(&t).await.expect("delete again"), 1);
    assert!(matches!(
        store.delete_topic(&t).await,
        Err(StoreError::TopicNotFound(_))
    ));
}

/// A watch on a topic wakes when it is deleted, and a read then finds it
/// gone; once created again, its growth wakes the watch again.
pub async fn a_delete_wakes_watches_and_reads_find_the_topic_gone(store: Arc<dyn Store>) {
    let t = topic("watched-delete");
    append(&*store, &t, &["1", "2", "3"], at(0)).await;
    let mut watch = store.watch(&t);
    assert!(!woken(&mut watch), "no news yet");
    store.delete_topic(&t).await.expect("delete");
    assert!(woken(&mut watch), "the delete wakes the watch");
    assert!(matches!(
        store.read(&t, 4, ALL).await,
        Err(StoreError::TopicNotFound(_))
    ));
    append(&*store, &t, &["again"], at(1)).await;
    assert!(woken(&mut watch), "the new topic's first append wakes it");
    assert_eq!(read_all(&*store, &t, 0).await, vec![(1, "again".into())]);
}

/// A batch that may not create its topic fails on a missing one, creating
/// nothing, and appends normally to one that exists.
pub async fn an_append_that_may_not_create_needs_the_topic(store: Arc<dyn Store>) {
    let t = topic("explicit");
    let batch = Batch {
        create_topic: false,
        ..Batch::new(payloads(&["m"]))
    };
    let result = store.append(&t, batch.clone(), at(0)).await;
    assert!(
        matches!(result, Err(StoreError::TopicNotFound(ref name)) if *name == t),
        "{result:?}"
    );
    assert!(matches!(
        store.describe(&t).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert!(store.list(None, usize::MAX).await.expect("list").is_empty());
    store
        .create_topic(&t, TopicSettings::default())
        .await
        .expect("create");
    let range = store.append(&t, batch, at(0)).await.expect("append");
    assert_eq!((range.first, range.last), (1, 1));
}

/// A payload over the topic's own largest message refuses the whole batch
/// and changes nothing; one exactly at the limit is taken; other topics
/// are not limited by it.
pub async fn a_topic_refuses_payloads_over_its_own_limit(store: Arc<dyn Store>) {
    let (t, free) = (topic("small-messages"), topic("free"));
    store
        .create_topic(&t, settings(None, None, Some(4)))
        .await
        .expect("create");
    append(&*store, &t, &["four"], at(0)).await;
    let result = store
        .append(&t, Batch::new(payloads(&["ok", "fives"])), at(1))
        .await;
    match result {
        Err(StoreError::MessageTooLarge { size, limit }) => assert_eq!((size, limit), (5, 4)),
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert_eq!(read_all(&*store, &t, 0).await, vec![(1, "four".into())]);
    append(&*store, &free, &["fives"], at(1)).await;

    store
        .update_topic(
            &t,
            SettingsChange {
                max_message_bytes: Some(None),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("reset");
    assert_eq!(append(&*store, &t, &["fives"], at(2)).await, (2, 2));
}

/// Retention by age follows each topic's own setting, else the default:
/// a topic's own age removes what the default would keep, `Forever` keeps
/// what the default would remove, and a changed setting applies at the
/// next sweep. The oldest timestamp follows the start.
pub async fn retention_by_age_follows_each_topics_own_setting(store: Arc<dyn Store>) {
    let (short, forever, default) = (topic("short"), topic("forever"), topic("default"));
    store
        .create_topic(
            &short,
            settings(
                Some(RetentionAge::MaxAge(Duration::from_secs(10))),
                None,
                None,
            ),
        )
        .await
        .expect("create");
    store
        .create_topic(&forever, settings(Some(RetentionAge::Forever), None, None))
        .await
        .expect("create");
    for t in [&short, &forever, &default] {
        append(&*store, t, &["old"], at(0)).await;
        append(&*store, t, &["mid"], at(50)).await;
        append(&*store, t, &["new"], at(95)).await;
    }
    let defaults = RetentionDefaults::by_age(RetentionAge::MaxAge(Duration::from_secs(60)));
    let report = store
        .enforce_retention(at(100), defaults)
        .await
        .expect("sweep");
    assert_eq!((report.messages_removed, report.bytes_removed), (3, 9));
    assert_eq!(read_all(&*store, &short, 0).await, vec![(3, "new".into())]);
    assert_eq!(read_all(&*store, &forever, 0).await.len(), 3);
    assert_eq!(
        read_all(&*store, &default, 0).await,
        vec![(2, "mid".into()), (3, "new".into())]
    );
    let info = store.describe(&default).await.expect("describe");
    assert_eq!(
        (info.earliest_offset, info.oldest_timestamp),
        (2, Some(at(50)))
    );
    assert_eq!(
        store
            .describe(&forever)
            .await
            .expect("describe")
            .oldest_timestamp,
        Some(at(0))
    );

    // Forever as the default keeps everything of a topic without its own.
    store
        .enforce_retention(at(1_000), KEEP_FOREVER)
        .await
        .expect("sweep");
    assert_eq!(read_all(&*store, &default, 0).await.len(), 2);

    store
        .update_topic(
            &forever,
            SettingsChange {
                retention: Some(None),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("update");
    store
        .enforce_retention(at(100), defaults)
        .await
        .expect("sweep");
    assert_eq!(read_all(&*store, &forever, 0).await.len(), 2);
}

/// Ten messages of 4 bytes each in `t`, one batch each, at `at(i)`.
async fn ten_small_messages(store: &dyn Store, t: &TopicName) {
    for i in 1..=10u64 {
        append(store, t, &[&format!("m{i:03}")], at(i)).await;
    }
}

/// What a size-limited topic holds after a sweep: (earliest, size).
async fn sweep_with_size_limit(store: &dyn Store, t: &TopicName, limit: u64) -> (u64, u64) {
    store
        .update_topic(
            t,
            SettingsChange {
                retention_bytes: Some(Some(limit)),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("set the limit");
    let before = store.describe(t).await.expect("describe");
    let report = store
        .enforce_retention(at(11), KEEP_FOREVER)
        .await
        .expect("sweep");
    let info = store.describe(t).await.expect("describe");
    assert_eq!(
        report.messages_removed,
        info.earliest_offset - before.earliest_offset
    );
    assert_eq!(report.bytes_removed, before.size_bytes - info.size_bytes);
    (info.earliest_offset, info.size_bytes)
}

/// Retention by size removes only the oldest messages, whole, and keeps
/// the numbering and what remains readable; a topic within its limit, or
/// without one, loses nothing. (How close to the limit a store comes is
/// its own: see `retention_by_size_is_exact`.)
pub async fn retention_by_size_removes_only_the_oldest(store: Arc<dyn Store>) {
    let (t, unlimited) = (topic("sized"), topic("unlimited"));
    ten_small_messages(&*store, &t).await;
    ten_small_messages(&*store, &unlimited).await;
    assert_eq!(sweep_with_size_limit(&*store, &t, 40).await, (1, 40));
    let (earliest, size) = sweep_with_size_limit(&*store, &t, 10).await;
    // At least the newest message is kept: a store that removes whole
    // segments never removes the one it writes to.
    assert!((1..=10).contains(&earliest), "{earliest}");
    assert_eq!(size, 4 * (11 - earliest));
    let kept = read_all(&*store, &t, 0).await;
    assert_eq!(kept.len() as u64, 11 - earliest);
    assert_eq!(kept.last(), Some(&(10, Bytes::from_static(b"m010"))));
    let info = store.describe(&t).await.expect("describe");
    assert_eq!(info.oldest_timestamp, Some(at(earliest)));
    assert_eq!(append(&*store, &t, &["next"], at(12)).await, (11, 11));
    assert_eq!(read_all(&*store, &unlimited, 0).await.len(), 10);
}

/// For a store that removes single messages: after a sweep, a topic over
/// its size limit holds the newest messages that fit in it.
pub async fn retention_by_size_is_exact(store: Arc<dyn Store>) {
    let t = topic("exact");
    ten_small_messages(&*store, &t).await;
    assert_eq!(sweep_with_size_limit(&*store, &t, 10).await, (9, 8));
    assert_eq!(sweep_with_size_limit(&*store, &t, 8).await, (9, 8));
    assert_eq!(sweep_with_size_limit(&*store, &t, 1).await, (11, 0));
    let info = store.describe(&t).await.expect("describe");
    assert_eq!((info.next_offset, info.oldest_timestamp), (11, None));
}

/// `list` pages through the topics in name order: up to `limit`, after a
/// name (which need not exist), with their settings and oldest timestamps.
pub async fn list_pages_through_the_topics_in_name_order(store: Arc<dyn Store>) {
    let names = ["a", "b", "b.1", "c", "d-2", "e"];
    for (i, name) in names.iter().rev().enumerate() {
        append(&*store, &topic(name), &["x"], at(i as u64)).await;
    }
    store
        .update_topic(
            &topic("c"),
            SettingsChange {
                retention_bytes: Some(Some(7)),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("update");
    let mut seen = Vec::new();
    let mut after: Option<TopicName> = None;
    loop {
        let page = store.list(after.as_ref(), 4).await.expect("list");
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        seen.extend(page);
    }
    let seen_names: Vec<&str> = seen.iter().map(|info| info.name.as_str()).collect();
    assert_eq!(seen_names, names);
    for info in &seen {
        assert_eq!(info, &store.describe(&info.name).await.expect("describe"));
    }
    assert_eq!(seen[3].settings.retention_bytes, Some(7));
    assert_eq!(seen[5].oldest_timestamp, Some(at(0)));

    let page = store.list(Some(&topic("b.0")), 2).await.expect("list");
    let page: Vec<&str> = page.iter().map(|info| info.name.as_str()).collect();
    assert_eq!(page, ["b.1", "c"]);
    assert!(
        store
            .list(Some(&topic("z")), 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(store.list(None, 0).await.expect("list").is_empty());
}

/// A delete racing producers and readers of the topic: nothing panics,
/// every call answers with the topic's messages or "not found", and once
/// the delete returned nothing of the old topic is readable.
pub async fn a_delete_racing_producers_and_readers_leaves_nothing(store: Arc<dyn Store>) {
    let t = topic("raced");
    append(&*store, &t, &["seed"], at(0)).await;
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let (store, t) = (Arc::clone(&store), t.clone());
            tokio::spawn(async move {
                for i in 0..200 {
                    let batch = Batch {
                        create_topic: false,
                        ..Batch::new(payloads(&[&format!("p{p}-{i}")]))
                    };
                    match store.append(&t, batch, at(1)).await {
                        Ok(_) => {}
                        Err(StoreError::TopicNotFound(_)) => return,
                        Err(other) => panic!("producer: {other}"),
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, t) = (Arc::clone(&store), t.clone());
            tokio::spawn(async move {
                loop {
                    match store.read(&t, 0, ALL).await {
                        Ok(read) => assert!(
                            read.messages
                                .windows(2)
                                .all(|w| w[1].offset == w[0].offset + 1)
                        ),
                        Err(StoreError::TopicNotFound(_)) => return,
                        Err(other) => panic!("reader: {other}"),
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    // Deleted once the producers are well under way (and far from done).
    while store.describe(&t).await.expect("describe").next_offset < 50
        && !producers.iter().all(tokio::task::JoinHandle::is_finished)
    {
        tokio::task::yield_now().await;
    }
    store.delete_topic(&t).await.expect("delete");
    assert!(matches!(
        store.read(&t, 0, ALL).await,
        Err(StoreError::TopicNotFound(_))
    ));
    for task in producers.into_iter().chain(readers) {
        task.await.expect("no task panicked");
    }
    assert!(matches!(
        store.read(&t, 0, ALL).await,
        Err(StoreError::TopicNotFound(_))
    ));
    assert_eq!(append(&*store, &t, &["fresh"], at(2)).await, (1, 1));
    assert_eq!(read_all(&*store, &t, 0).await, vec![(1, "fresh".into())]);
}

/// A topic's own settings, as created and updated, survive reopening, and
/// so does a delete: the topic stays gone, and made again starts at 1.
pub async fn settings_and_deletes_survive_reopening(open: Reopen<'_>) {
    let (kept, changed, deleted) = (topic("kept"), topic("changed"), topic("deleted"));
    let kept_settings = settings(Some(days(7)), Some(1 << 20), Some(100));
    let store = open();
    store
        .create_topic(&kept, kept_settings.clone())
        .await
        .expect("create");
    append(&*store, &changed, &["c"], at(0)).await;
    store
        .update_topic(
            &changed,
            SettingsChange {
                retention: Some(Some(RetentionAge::Forever)),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("update");
    append(&*store, &deleted, &["1", "2", "3"], at(0)).await;
    store.delete_topic(&deleted).await.expect("delete");
    drop(store);

    let store = open();
    let kept_info = store.describe(&kept).await.expect("describe");
    assert_eq!(kept_info.settings, kept_settings);
    assert_eq!(kept_info.next_offset, 1);
    assert_eq!(
        store.describe(&changed).await.expect("describe").settings,
        settings(Some(RetentionAge::Forever), None, None)
    );
    assert!(matches!(
        store.describe(&deleted).await,
        Err(StoreError::TopicNotFound(_))
    ));
    store
        .update_topic(
            &changed,
            SettingsChange {
                retention: Some(None),
                ..SettingsChange::default()
            },
        )
        .await
        .expect("reset");
    assert_eq!(append(&*store, &deleted, &["new"], at(1)).await, (1, 1));
    drop(store);

    let store = open();
    assert_eq!(
        store.describe(&changed).await.expect("describe").settings,
        TopicSettings::default()
    );
    assert_eq!(
        read_all(&*store, &deleted, 0).await,
        vec![(1, "new".into())]
    );
    assert_eq!(topic_names(&*store).await, ["changed", "deleted", "kept"]);
}
