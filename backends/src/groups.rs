//! [`GroupTable`]: every group's committed offsets, in memory.
//!
//! The one implementation of the group rules that the stores share: the
//! memory store holds its groups here, and a store that persists commits
//! elsewhere (a log, a table) can keep this as its in-memory view, so
//! listing, describing and expiring cost no storage reads.

use std::collections::BTreeMap;

use crate::{GroupName, OffsetCommit, StoreError, Timestamp, TopicName};

/// Checks that `offset` can be committed in a topic whose next offset is
/// `next_offset`: from 1 (nothing read yet) up to `next_offset` (everything
/// read). The one rule every store applies before it records a commit.
pub fn check_commit(
    group: &GroupName,
    topic: &TopicName,
    offset: u64,
    next_offset: u64,
) -> Result<(), StoreError> {
    if (1..=next_offset).contains(&offset) {
        Ok(())
    } else {
        Err(StoreError::CommitOutOfRange {
            group: group.clone(),
            topic: topic.clone(),
            offset,
            next_offset,
        })
    }
}

/// Each group's commit in each topic it committed in.
///
/// A group exists while it has a commit in at least one topic: removing its
/// last commit (by deleting the topic) removes the group.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupTable {
    groups: BTreeMap<GroupName, BTreeMap<TopicName, OffsetCommit>>,
}

impl GroupTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `commit` as `group`'s position in `topic`, replacing any
    /// earlier one. The caller has checked the offset against the topic.
    pub fn commit(&mut self, group: &GroupName, topic: &TopicName, commit: OffsetCommit) {
        self.groups
            .entry(group.clone())
            .or_default()
            .insert(topic.clone(), commit);
    }

    /// `group`'s commit in `topic`, if any.
    pub fn fetch(&self, group: &GroupName, topic: &TopicName) -> Option<&OffsetCommit> {
        self.groups.get(group)?.get(topic)
    }

    /// Up to `limit` group names after `after`, in name order.
    pub fn list(&self, after: Option<&GroupName>, limit: usize) -> Vec<GroupName> {
        use std::ops::Bound;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.groups
            .range((from, Bound::Unbounded))
            .take(limit)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// `group`'s commits by topic name; `None` for a group with none.
    pub fn describe(&self, group: &GroupName) -> Option<Vec<(TopicName, OffsetCommit)>> {
        let topics = self.groups.get(group)?;
        Some(
            topics
                .iter()
                .map(|(topic, commit)| (topic.clone(), commit.clone()))
                .collect(),
        )
    }

    /// Removes `group`; returns how many commits it had (`None`: no such
    /// group).
    pub fn delete(&mut self, group: &GroupName) -> Option<u64> {
        self.groups.remove(group).map(|topics| topics.len() as u64)
    }

    /// Removes every group's commit in `topic` (the topic was deleted), and
    /// the groups left with none.
    pub fn delete_topic(&mut self, topic: &TopicName) {
        self.groups.retain(|_, topics| {
            topics.remove(topic);
            !topics.is_empty()
        });
    }

    /// The groups whose newest commit, in any topic, is older than
    /// `cutoff`: what the group retention removes.
    pub fn idle_since(&self, cutoff: Timestamp) -> Vec<GroupName> {
        self.groups
            .iter()
            .filter(|(_, topics)| topics.values().all(|commit| commit.time < cutoff))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// How many groups the table holds.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether the table holds no group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every commit, group by group: what a store writes out when it
    /// compacts its record of commits to the live set.
    pub fn iter(&self) -> impl Iterator<Item = (&GroupName, &TopicName, &OffsetCommit)> {
        self.groups.iter().flat_map(|(group, topics)| {
            topics
                .iter()
                .map(move |(topic, commit)| (group, topic, commit))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(offset: u64, secs: u64) -> OffsetCommit {
        OffsetCommit {
            offset,
            time: Timestamp::from_nanos(secs * 1_000_000_000),
            metadata: String::new(),
        }
    }

    #[test]
    fn a_group_lives_while_it_has_a_commit_and_expires_by_its_newest() {
        let group = |name: &str| GroupName::new(name).expect("valid group");
        let topic = |name: &str| TopicName::new(name).expect("valid topic");
        let (a, b, t, u) = (group("a"), group("b"), topic("t"), topic("u"));
        let mut table = GroupTable::new();
        table.commit(&a, &t, commit(5, 10));
        table.commit(&a, &u, commit(2, 30));
        table.commit(&b, &t, commit(1, 20));
        table.commit(&a, &t, commit(3, 40));
        assert_eq!(
            table.fetch(&a, &t),
            Some(&commit(3, 40)),
            "last commit wins"
        );
        assert_eq!(table.list(None, 10), vec![a.clone(), b.clone()]);
        assert_eq!(table.list(Some(&a), 10), vec![b.clone()]);
        assert_eq!(
            table.idle_since(Timestamp::from_nanos(25_000_000_000)),
            vec![b.clone()]
        );
        table.delete_topic(&t);
        assert_eq!(table.list(None, 10), vec![a.clone()], "b had only t");
        assert_eq!(table.iter().count(), 1);
        assert_eq!(table.delete(&a), Some(1));
        assert_eq!(table.delete(&a), None);
        assert!(table.is_empty());
    }
}
