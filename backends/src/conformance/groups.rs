//! The scenarios of consumer groups (issue #16): a group's committed offset
//! in each topic, the next one it will read, kept until the group is
//! deleted, its topic is deleted, or it commits nothing for the group
//! retention.

use super::*;
use crate::{GroupName, OffsetCommit};

fn group(name: &str) -> GroupName {
    GroupName::new(name).expect("valid test group name")
}

fn commit_at(offset: u64, seconds: u64) -> OffsetCommit {
    OffsetCommit {
        offset,
        time: at(seconds),
        metadata: String::new(),
    }
}

fn commit_with(offset: u64, seconds: u64, metadata: &str) -> OffsetCommit {
    OffsetCommit {
        metadata: metadata.to_owned(),
        ..commit_at(offset, seconds)
    }
}

async fn commit(store: &dyn Store, g: &GroupName, t: &TopicName, offset: u64, seconds: u64) {
    commit_exactly(store, g, t, commit_at(offset, seconds)).await;
}

async fn commit_exactly(store: &dyn Store, g: &GroupName, t: &TopicName, commit: OffsetCommit) {
    let offset = commit.offset;
    store
        .commit_offset(g, t, commit)
        .await
        .unwrap_or_else(|e| panic!("commit {offset} for {g} in {t}: {e}"));
}

async fn fetch(store: &dyn Store, g: &GroupName, t: &TopicName) -> Option<OffsetCommit> {
    store.fetch_offset(g, t).await.expect("fetch offset")
}

async fn group_names(store: &dyn Store) -> Vec<String> {
    store
        .list_groups(None, usize::MAX)
        .await
        .expect("list groups")
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `group`'s commits as (topic, offset) pairs, in the order described.
async fn positions(store: &dyn Store, g: &GroupName) -> Vec<(String, u64)> {
    store
        .describe_group(g)
        .await
        .expect("describe group")
        .into_iter()
        .map(|(topic, commit)| (topic.to_string(), commit.offset))
        .collect()
}

fn assert_group_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, g: &GroupName) {
    match result {
        Err(StoreError::GroupNotFound(name)) => assert_eq!(&name, g),
        other => panic!("expected GroupNotFound for {g}, got {other:?}"),
    }
}

/// Retention that keeps every message and expires groups idle for
/// `seconds`.
fn group_retention(seconds: u64) -> RetentionDefaults {
    RetentionDefaults {
        group_retention: RetentionAge::MaxAge(Duration::from_secs(seconds)),
        ..RetentionDefaults::by_age(RetentionAge::Forever)
    }
}

/// A commit is fetched back with its time and metadata; the last commit
/// wins, a lower offset rewinds, and other groups and topics are apart.
pub async fn a_commit_is_fetched_back_and_the_last_one_wins(store: Arc<dyn Store>) {
    let (t, u) = (topic("orders"), topic("audit"));
    let (billing, shipping) = (group("billing"), group("shipping"));
    append(&*store, &t, &["1", "2", "3", "4", "5"], at(0)).await;
    append(&*store, &u, &["x"], at(0)).await;
    assert_eq!(
        fetch(&*store, &billing, &t).await,
        None,
        "nothing committed"
    );

    let first = commit_with(3, 10, "read 1 and 2");
    commit_exactly(&*store, &billing, &t, first.clone()).await;
    assert_eq!(fetch(&*store, &billing, &t).await, Some(first));

    commit(&*store, &billing, &t, 6, 11).await;
    assert_eq!(
        fetch(&*store, &billing, &t).await,
        Some(commit_at(6, 11)),
        "the last commit wins, and replaces the metadata"
    );
    commit(&*store, &billing, &t, 2, 12).await;
    assert_eq!(
        fetch(&*store, &billing, &t).await,
        Some(commit_at(2, 12)),
        "a lower offset rewinds the group"
    );

    assert_eq!(fetch(&*store, &shipping, &t).await, None, "another group");
    assert_eq!(fetch(&*store, &billing, &u).await, None, "another topic");
    assert_eq!(
        topic_names(&*store).await,
        vec!["audit", "orders"],
        "commits make no topics"
    );
    let info = store.describe(&t).await.expect("describe");
    assert_eq!((info.next_offset, info.message_count), (6, 5));
}

/// Offsets from 1 (nothing read) to the topic's next offset (everything
/// read) can be committed; 0 and past the next offset are out of range,
/// name the topic's next offset, and change nothing.
pub async fn a_commit_outside_one_to_the_next_offset_is_out_of_range(store: Arc<dyn Store>) {
    let (t, g) = (topic("ranged"), group("ranger"));
    append(&*store, &t, &["a", "b", "c"], at(0)).await;
    commit(&*store, &g, &t, 2, 1).await;
    for offset in [0, 5, u64::MAX] {
        match store.commit_offset(&g, &t, commit_at(offset, 2)).await {
            Err(
                e @ StoreError::CommitOutOfRange {
                    offset: refused,
                    next_offset: 4,
                    ..
                },
            ) => {
                assert_eq!(refused, offset);
                let message = e.to_string();
                assert!(
                    message.contains("'ranger'") && message.contains("'ranged'"),
                    "{message}"
                );
            }
            other => panic!("expected CommitOutOfRange for {offset}, got {other:?}"),
        }
    }
    assert_eq!(
        fetch(&*store, &g, &t).await,
        Some(commit_at(2, 1)),
        "a refused commit changes nothing"
    );
    commit(&*store, &g, &t, 4, 3).await;
    commit(&*store, &g, &t, 1, 4).await;
    assert_eq!(fetch(&*store, &g, &t).await, Some(commit_at(1, 4)));

    let empty = topic("empty");
    store
        .create_topic(&empty, TopicSettings::default())
        .await
        .expect("create");
    commit(&*store, &g, &empty, 1, 5).await;
    assert!(matches!(
        store.commit_offset(&g, &empty, commit_at(2, 5)).await,
        Err(StoreError::CommitOutOfRange { next_offset: 1, .. })
    ));
}

/// Retention does not narrow what can be committed: a group may commit
/// below the earliest held (it is how the group's loss shows), and up to
/// the next offset after everything expired.
pub async fn a_commit_below_the_earliest_held_is_kept(store: Arc<dyn Store>) {
    let (t, g) = (topic("expiring"), group("slow"));
    append(&*store, &t, &["a", "b"], at(1)).await;
    append(&*store, &t, &["c"], at(10)).await;
    store
        .enforce_retention(at(5), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove");
    assert_eq!(
        store.describe(&t).await.expect("describe").earliest_offset,
        3
    );
    commit(&*store, &g, &t, 1, 20).await;
    assert_eq!(fetch(&*store, &g, &t).await, Some(commit_at(1, 20)));
    store
        .enforce_retention(at(100), EXPIRE_BEFORE_NOW)
        .await
        .expect("remove all");
    commit(&*store, &g, &t, 4, 100).await;
    assert_eq!(fetch(&*store, &g, &t).await, Some(commit_at(4, 100)));
}

/// Committing to or fetching from a topic that does not exist is not found
/// and creates neither the topic nor the group.
pub async fn commits_and_fetches_in_unknown_topics_are_not_found(store: Arc<dyn Store>) {
    let (t, g) = (topic("missing"), group("hopeful"));
    match store.commit_offset(&g, &t, commit_at(1, 0)).await {
        Err(StoreError::TopicNotFound(name)) => assert_eq!(name, t),
        other => panic!("expected TopicNotFound, got {other:?}"),
    }
    match store.fetch_offset(&g, &t).await {
        Err(StoreError::TopicNotFound(name)) => assert_eq!(name, t),
        other => panic!("expected TopicNotFound, got {other:?}"),
    }
    assert!(group_names(&*store).await.is_empty(), "no group was made");
    assert_group_not_found(store.describe_group(&g).await, &g);
    assert!(matches!(
        store.describe(&t).await,
        Err(StoreError::TopicNotFound(_))
    ));
}

/// `list_groups` names every group once, in name order, page by page from
/// any name (one that is not a group too).
pub async fn groups_list_in_name_order_page_by_page(store: Arc<dyn Store>) {
    let (t, u) = (topic("t"), topic("u"));
    append(&*store, &t, &["a"], at(0)).await;
    append(&*store, &u, &["a"], at(0)).await;
    for name in ["delta", "alpha", "echo", "charlie", "bravo"] {
        commit(&*store, &group(name), &t, 1, 0).await;
        commit(&*store, &group(name), &u, 2, 0).await;
    }
    assert_eq!(
        group_names(&*store).await,
        vec!["alpha", "bravo", "charlie", "delta", "echo"],
        "each group once, however many topics it committed in"
    );
    let page = |after: Option<&str>, limit| {
        let store = Arc::clone(&store);
        let after = after.map(group);
        async move {
            store
                .list_groups(after.as_ref(), limit)
                .await
                .expect("list groups")
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None, 2).await, vec!["alpha", "bravo"]);
    assert_eq!(page(Some("bravo"), 2).await, vec!["charlie", "delta"]);
    assert_eq!(page(Some("delta"), 2).await, vec!["echo"]);
    assert!(page(Some("echo"), 2).await.is_empty());
    assert_eq!(page(Some("b"), 1).await, vec!["bravo"], "after a non-group");
    assert!(page(None, 0).await.is_empty());
}

/// `describe_group` gives every commit of the group in topic name order;
/// an unknown group is not found.
pub async fn describe_lists_a_groups_commits_in_topic_order(store: Arc<dyn Store>) {
    let g = group("reader");
    for (name, offset) in [("zulu", 2), ("alpha", 1), ("mike", 3)] {
        let t = topic(name);
        append(&*store, &t, &["a", "b"], at(0)).await;
        commit_exactly(
            &*store,
            &g,
            &t,
            commit_with(offset, offset, &format!("in {name}")),
        )
        .await;
    }
    let described = store.describe_group(&g).await.expect("describe group");
    let expected: Vec<(TopicName, OffsetCommit)> = [("alpha", 1), ("mike", 3), ("zulu", 2)]
        .into_iter()
        .map(|(name, offset)| {
            (
                topic(name),
                commit_with(offset, offset, &format!("in {name}")),
            )
        })
        .collect();
    assert_eq!(described, expected);
    let stranger = group("stranger");
    assert_group_not_found(store.describe_group(&stranger).await, &stranger);
    let message = store
        .describe_group(&stranger)
        .await
        .expect_err("unknown group")
        .to_string();
    assert!(message.contains("'stranger'"), "{message}");
}

/// Deleting a group removes its commit in every topic and says how many;
/// the group is then not found, and other groups keep theirs.
pub async fn deleting_a_group_removes_every_commit(store: Arc<dyn Store>) {
    let (t, u) = (topic("t"), topic("u"));
    let (doomed, kept) = (group("doomed"), group("kept"));
    append(&*store, &t, &["a", "b"], at(0)).await;
    append(&*store, &u, &["a"], at(0)).await;
    commit(&*store, &doomed, &t, 2, 1).await;
    commit(&*store, &doomed, &u, 1, 1).await;
    commit(&*store, &kept, &t, 3, 1).await;
    assert_eq!(store.delete_group(&doomed).await.expect("delete"), 2);
    assert_eq!(fetch(&*store, &doomed, &t).await, None);
    assert_eq!(fetch(&*store, &doomed, &u).await, None);
    assert_group_not_found(store.describe_group(&doomed).await, &doomed);
    assert_group_not_found(store.delete_group(&doomed).await, &doomed);
    assert_eq!(group_names(&*store).await, vec!["kept"]);
    assert_eq!(fetch(&*store, &kept, &t).await, Some(commit_at(3, 1)));
    commit(&*store, &doomed, &t, 1, 2).await;
    assert_eq!(
        positions(&*store, &doomed).await,
        vec![("t".to_owned(), 1)],
        "a deleted group's name can commit afresh"
    );
}

/// Deleting a topic removes every group's commit in it; a group left with
/// none is gone, and a topic created again under the name has no commits.
pub async fn deleting_a_topic_removes_its_commits(store: Arc<dyn Store>) {
    let (t, u) = (topic("t"), topic("u"));
    let (both, only_t) = (group("both"), group("only-t"));
    append(&*store, &t, &["a", "b"], at(0)).await;
    append(&*store, &u, &["a"], at(0)).await;
    commit(&*store, &both, &t, 2, 1).await;
    commit(&*store, &both, &u, 2, 1).await;
    commit(&*store, &only_t, &t, 3, 1).await;
    store.delete_topic(&t).await.expect("delete topic");

    assert_eq!(group_names(&*store).await, vec!["both"]);
    assert_eq!(positions(&*store, &both).await, vec![("u".to_owned(), 2)]);
    assert_group_not_found(store.describe_group(&only_t).await, &only_t);
    assert!(matches!(
        store.fetch_offset(&both, &t).await,
        Err(StoreError::TopicNotFound(_))
    ));

    append(&*store, &t, &["new"], at(2)).await;
    assert_eq!(fetch(&*store, &both, &t).await, None, "a new topic");
    assert_eq!(fetch(&*store, &only_t, &t).await, None, "a new topic");
    commit(&*store, &only_t, &t, 2, 3).await;
    assert_eq!(fetch(&*store, &only_t, &t).await, Some(commit_at(2, 3)));
}

/// The sweep removes a group whose newest commit, in any topic, is older
/// than the group retention; a commit exactly at the cutoff stays, one
/// fresh commit keeps the whole group, and `Forever` keeps every group.
pub async fn idle_groups_expire_by_their_newest_commit(store: Arc<dyn Store>) {
    let (t, u) = (topic("t"), topic("u"));
    append(&*store, &t, &["a"], at(0)).await;
    append(&*store, &u, &["a"], at(0)).await;
    let (idle, edge, mixed) = (group("idle"), group("edge"), group("mixed"));
    commit(&*store, &idle, &t, 1, 0).await;
    commit(&*store, &idle, &u, 1, 5).await;
    commit(&*store, &edge, &t, 2, 10).await;
    commit(&*store, &mixed, &t, 1, 0).await;
    commit(&*store, &mixed, &u, 2, 15).await;

    let forever = RetentionDefaults {
        group_retention: RetentionAge::Forever,
        ..RetentionDefaults::by_age(RetentionAge::Forever)
    };
    let report = store
        .enforce_retention(at(1_000_000), forever)
        .await
        .expect("sweep keeping groups");
    assert_eq!(report.groups_removed, 0);
    assert_eq!(group_names(&*store).await, vec!["edge", "idle", "mixed"]);

    // At 20 with 10 seconds of retention the cutoff is 10.
    let report = store
        .enforce_retention(at(20), group_retention(10))
        .await
        .expect("sweep");
    assert_eq!(report.groups_removed, 1);
    assert_eq!(group_names(&*store).await, vec!["edge", "mixed"]);
    assert_group_not_found(store.describe_group(&idle).await, &idle);
    assert_eq!(fetch(&*store, &idle, &t).await, None);
    assert_eq!(
        positions(&*store, &mixed).await,
        vec![("t".to_owned(), 1), ("u".to_owned(), 2)],
        "a group is kept whole, its old commits too"
    );
    let again = store
        .enforce_retention(at(20), group_retention(10))
        .await
        .expect("sweep again");
    assert_eq!(again.groups_removed, 0);
    assert_eq!(
        store.describe(&t).await.expect("describe").message_count,
        1,
        "group retention leaves messages alone"
    );

    let report = store
        .enforce_retention(at(26), group_retention(10))
        .await
        .expect("sweep later");
    assert_eq!(report.groups_removed, 2);
    assert!(group_names(&*store).await.is_empty());
}

/// Metadata comes back exactly: empty, up to 4096 bytes of UTF-8 of every
/// width, and characters a careless store would mangle.
pub async fn commit_metadata_round_trips(store: Arc<dyn Store>) {
    let t = topic("meta");
    append(&*store, &t, &["a"], at(0)).await;
    let wide = "é€😀a".repeat(crate::MAX_COMMIT_METADATA_BYTES / 10) + "😀é";
    assert_eq!(wide.len(), crate::MAX_COMMIT_METADATA_BYTES);
    let texts = [
        String::new(),
        "plain".to_owned(),
        wide,
        "quote ' \" and a NUL \0, a newline \n; DROP TABLE x; --".to_owned(),
    ];
    for (i, metadata) in texts.into_iter().enumerate() {
        let g = group(&format!("g{i}"));
        let sent = commit_with(2, i as u64, &metadata);
        commit_exactly(&*store, &g, &t, sent.clone()).await;
        assert_eq!(fetch(&*store, &g, &t).await, Some(sent.clone()));
        assert_eq!(
            store.describe_group(&g).await.expect("describe"),
            vec![(t.clone(), sent)]
        );
    }
}

/// Many tasks committing at once, for their own groups and for a shared
/// one, each get every commit acknowledged and kept: each group holds the
/// last offset it committed in each topic.
pub async fn concurrent_commits_are_all_kept(store: Arc<dyn Store>) {
    const TASKS: u64 = 8;
    const COMMITS: u64 = 40;
    let topics: Vec<TopicName> = (0..TASKS).map(|i| topic(&format!("t{i}"))).collect();
    for t in &topics {
        let texts: Vec<String> = (0..COMMITS).map(|i| i.to_string()).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        append(&*store, t, &texts, at(0)).await;
    }
    let shared = group("shared");
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = Arc::clone(&store);
            let (own, shared, t) = (group(&format!("g{i}")), shared.clone(), topics.clone());
            tokio::spawn(async move {
                for offset in 1..=COMMITS {
                    // Each task commits in its own group to every topic in
                    // turn, and in the shared group to its own topic only.
                    commit(&*store, &own, &t[(offset % TASKS) as usize], offset, offset).await;
                    commit(&*store, &shared, &t[i as usize], offset + 1, offset).await;
                }
            })
        })
        .collect();
    for task in futures::future::join_all(tasks).await {
        task.expect("committing task");
    }
    for i in 0..TASKS {
        let own = group(&format!("g{i}"));
        let expected: Vec<(String, u64)> = (0..TASKS)
            .map(|slot| {
                let last = (1..=COMMITS).filter(|o| o % TASKS == slot).max();
                (format!("t{slot}"), last.expect("a commit per slot"))
            })
            .collect();
        assert_eq!(positions(&*store, &own).await, expected, "group g{i}");
    }
    let shared_positions: Vec<(String, u64)> =
        (0..TASKS).map(|i| (format!("t{i}"), COMMITS + 1)).collect();
    assert_eq!(positions(&*store, &shared).await, shared_positions);
    assert_eq!(group_names(&*store).await.len() as u64, TASKS + 1);
}

/// A commit racing the delete of its topic never brings the commit (or its
/// group) back: once the delete is done, the topic has no commits, even
/// when created again.
pub async fn a_commit_racing_a_topic_delete_leaves_nothing(store: Arc<dyn Store>) {
    const TASKS: usize = 4;
    let t = topic("contested");
    append(&*store, &t, &["a", "b", "c"], at(0)).await;
    let committers: Vec<_> = (0..TASKS)
        .map(|i| {
            let (store, t, g) = (Arc::clone(&store), t.clone(), group(&format!("racer{i}")));
            tokio::spawn(async move {
                // The first commit lands before the delete starts, so each
                // task certainly races it.
                commit(&*store, &g, &t, 1, 0).await;
                loop {
                    match store.commit_offset(&g, &t, commit_at(2, 0)).await {
                        Ok(()) => tokio::task::yield_now().await,
                        Err(StoreError::TopicNotFound(_)) => break,
                        Err(e) => panic!("unexpected commit error: {e}"),
                    }
                }
            })
        })
        .collect();
    // Wait until every committer's first commit is in.
    while group_names(&*store).await.len() < TASKS {
        tokio::task::yield_now().await;
    }
    store.delete_topic(&t).await.expect("delete topic");
    for task in futures::future::join_all(committers).await {
        task.expect("committing task");
    }
    assert!(
        group_names(&*store).await.is_empty(),
        "every group had only the deleted topic"
    );
    append(&*store, &t, &["again"], at(1)).await;
    for i in 0..TASKS {
        assert_eq!(fetch(&*store, &group(&format!("racer{i}")), &t).await, None);
    }
}

/// Every acknowledged commit, rewind, group delete, topic delete and
/// expiry survives closing and reopening; committing goes on after it.
pub async fn commits_survive_reopening(open: Reopen<'_>) {
    let (t, u, gone) = (topic("t"), topic("u"), topic("gone"));
    let (g, h, deleted, idle) = (group("g"), group("h"), group("deleted"), group("idle"));
    let store = open();
    append(&*store, &t, &["1", "2", "3", "4"], at(0)).await;
    append(&*store, &u, &["1"], at(0)).await;
    append(&*store, &gone, &["1"], at(0)).await;
    for offset in 1..=5 {
        commit(&*store, &g, &t, offset, 100 + offset).await;
    }
    commit(&*store, &g, &t, 2, 110).await;
    let with_metadata = commit_with(2, 111, "position ü");
    commit_exactly(&*store, &g, &u, with_metadata.clone()).await;
    commit(&*store, &g, &gone, 2, 112).await;
    commit(&*store, &h, &gone, 1, 112).await;
    commit(&*store, &h, &t, 3, 113).await;
    commit(&*store, &deleted, &t, 3, 114).await;
    commit(&*store, &idle, &u, 1, 0).await;
    store.delete_group(&deleted).await.expect("delete group");
    store.delete_topic(&gone).await.expect("delete topic");
    let report = store
        .enforce_retention(at(100), group_retention(50))
        .await
        .expect("sweep");
    assert_eq!(report.groups_removed, 1);
    drop(store);

    let store = open();
    assert_eq!(group_names(&*store).await, vec!["g", "h"]);
    assert_eq!(
        store.describe_group(&g).await.expect("describe g"),
        vec![(t.clone(), commit_at(2, 110)), (u.clone(), with_metadata)]
    );
    assert_eq!(positions(&*store, &h).await, vec![("t".to_owned(), 3)]);
    assert_group_not_found(store.describe_group(&deleted).await, &deleted);
    assert_group_not_found(store.describe_group(&idle).await, &idle);
    append(&*store, &gone, &["new"], at(200)).await;
    assert_eq!(fetch(&*store, &g, &gone).await, None, "the deleted topic's");

    commit(&*store, &g, &t, 5, 201).await;
    commit(&*store, &idle, &t, 4, 202).await;
    drop(store);

    let store = open();
    assert_eq!(fetch(&*store, &g, &t).await, Some(commit_at(5, 201)));
    assert_eq!(fetch(&*store, &idle, &t).await, Some(commit_at(4, 202)));
    assert_eq!(group_names(&*store).await, vec!["g", "h", "idle"]);
}
