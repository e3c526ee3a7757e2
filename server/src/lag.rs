//! How far behind a group is in one topic: computed in this one place for
//! DescribeGroup (and for anything else that reports lag).

use std::time::Duration;

use minikafka_backends::{OffsetCommit, ReadLimits, Store, StoreError, Timestamp, TopicName};

/// A group's position in one topic, and how far behind it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLag {
    /// The topic.
    pub topic: TopicName,
    /// The group's commit in it.
    pub commit: OffsetCommit,
    /// The topic's next offset.
    pub next_offset: u64,
    /// The topic's earliest retained offset.
    pub earliest_offset: u64,
    /// Retained messages the group has not read:
    /// `next_offset - max(commit.offset, earliest_offset)`.
    pub lag: u64,
    /// How long ago the oldest unread retained message was stored; `None`
    /// when nothing is unread (or it could not be read).
    pub oldest_unread_age: Option<Duration>,
    /// Messages retention removed before the group read them.
    pub expired_unread: u64,
}

/// The lag of the group that committed `commit` in `topic`, at `now`.
/// Describes the topic and, when something is unread, reads the oldest
/// unread message for its timestamp: a describe and a one-message read.
pub async fn group_lag(
    store: &dyn Store,
    topic: TopicName,
    commit: OffsetCommit,
    now: Timestamp,
) -> Result<GroupLag, StoreError> {
    let info = store.describe(&topic).await?;
    let unread_from = commit.offset.max(info.earliest_offset);
    let lag = info.next_offset.saturating_sub(unread_from);
    let oldest_unread_age = if lag == 0 {
        None
    } else {
        let one = ReadLimits {
            max_messages: 1,
            max_bytes: 1,
        };
        // Damage or a race with retention leaves the age unknown rather
        // than failing the whole description.
        store
            .read(&topic, unread_from, one)
            .await
            .ok()
            .and_then(|read| read.messages.into_iter().next())
            .map(|oldest| {
                Duration::from_nanos(now.as_nanos().saturating_sub(oldest.timestamp.as_nanos()))
            })
    };
    Ok(GroupLag {
        expired_unread: info.earliest_offset.saturating_sub(commit.offset),
        topic,
        commit,
        next_offset: info.next_offset,
        earliest_offset: info.earliest_offset,
        lag,
        oldest_unread_age,
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use minikafka_backends::{Batch, GroupName, MemoryStore, RetentionAge, RetentionDefaults};

    use super::*;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_nanos(seconds * 1_000_000_000)
    }

    #[tokio::test]
    async fn lag_age_and_expired_messages_follow_the_commit_and_retention() {
        let store = MemoryStore::new();
        let topic = TopicName::new("t").expect("valid");
        for second in 1..=10 {
            store
                .append(
                    &topic,
                    Batch::new(vec![Bytes::from_static(b"m")]),
                    at(second),
                )
                .await
                .expect("append");
        }
        let commit = |offset| OffsetCommit {
            offset,
            time: at(10),
            metadata: String::new(),
        };
        store
            .commit_offset(&GroupName::new("g").expect("valid"), &topic, commit(4))
            .await
            .expect("commit");
        let lag = group_lag(&store, topic.clone(), commit(4), at(20))
            .await
            .expect("lag");
        assert_eq!((lag.next_offset, lag.lag, lag.expired_unread), (11, 7, 0));
        assert_eq!(
            lag.oldest_unread_age,
            Some(Duration::from_secs(16)),
            "offset 4 stored at 4 s"
        );

        let caught_up = group_lag(&store, topic.clone(), commit(11), at(20))
            .await
            .expect("lag");
        assert_eq!((caught_up.lag, caught_up.oldest_unread_age), (0, None));

        // Retention removes offsets 1..=6 (stored before 7 s).
        store
            .enforce_retention(
                at(20),
                RetentionDefaults::by_age(RetentionAge::MaxAge(Duration::from_secs(13))),
            )
            .await
            .expect("retention");
        let behind = group_lag(&store, topic, commit(4), at(20))
            .await
            .expect("lag");
        assert_eq!(
            (behind.earliest_offset, behind.lag, behind.expired_unread),
            (7, 4, 3)
        );
        assert_eq!(behind.oldest_unread_age, Some(Duration::from_secs(13)));
    }
}
