//! Consumer groups over the store: commits, fetches, listings, lag, and
//! where a read starts when the request names a time or a group.

use minikafka_backends::{GroupName, OffsetCommit, TopicName};
use minikafka_proto::v1;
use tonic::{Code, Status};

use super::checked_store::CheckedStore;
use crate::lag::{GroupLag, group_lag};
use crate::status::store_error_to_status;
use crate::validate;

/// Where a read begins: an offset (0: the earliest), or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The offset to read from; ignored when `from_end`.
    pub read_from: u64,
    /// Start after the last message stored when the read begins.
    pub from_end: bool,
}

impl CheckedStore {
    /// Records `group`'s position in `topic`, stamped with the clock.
    pub async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        offset: u64,
        metadata: String,
    ) -> Result<(), Status> {
        let commit = OffsetCommit {
            offset,
            time: self.clock.now(),
            metadata,
        };
        self.store
            .commit_offset(group, topic, commit)
            .await
            .map_err(store_error_to_status)
    }

    /// `group`'s commit in `topic`, if any.
    pub async fn fetch_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<OffsetCommit>, Status> {
        self.store
            .fetch_offset(group, topic)
            .await
            .map_err(store_error_to_status)
    }

    /// Up to `limit` group names after `after`.
    pub async fn list_groups(
        &self,
        after: Option<&GroupName>,
        limit: usize,
    ) -> Result<Vec<GroupName>, Status> {
        self.store
            .list_groups(after, limit)
            .await
            .map_err(store_error_to_status)
    }

    /// `group`'s position and lag in each topic it committed in, for the
    /// topics `visible` lets through. A topic deleted meanwhile is left out.
    pub async fn describe_group(
        &self,
        group: &GroupName,
        visible: impl Fn(&TopicName) -> bool,
    ) -> Result<Vec<GroupLag>, Status> {
        let commits = self
            .store
            .describe_group(group)
            .await
            .map_err(store_error_to_status)?;
        let now = self.clock.now();
        let mut lags = Vec::with_capacity(commits.len());
        for (topic, commit) in commits.into_iter().filter(|(t, _)| visible(t)) {
            match group_lag(&*self.store, topic, commit, now).await {
                Ok(lag) => lags.push(lag),
                Err(minikafka_backends::StoreError::TopicNotFound(_)) => {}
                Err(error) => return Err(store_error_to_status(error)),
            }
        }
        Ok(lags)
    }

    /// Removes `group`; how many commits it had.
    pub async fn delete_group(&self, group: &GroupName) -> Result<u64, Status> {
        self.store
            .delete_group(group)
            .await
            .map_err(store_error_to_status)
    }

    /// Where a read from `time` starts in `topic`.
    pub async fn offset_for_time(
        &self,
        topic: &TopicName,
        time: minikafka_backends::Timestamp,
    ) -> Result<u64, Status> {
        self.store
            .offset_for_time(topic, time)
            .await
            .map_err(store_error_to_status)
    }

    /// Where a read of `topic` starts for a request's `start` position;
    /// `plain` (its read_from and from_end) when it has none. For a topic
    /// that does not exist yet, a time or a group with no commit starts at
    /// the earliest, so a read that waits for the topic gets all of it.
    /// The caller has checked the group against the request's access.
    pub async fn resolve_start(
        &self,
        topic: &str,
        start: Option<v1::StartPosition>,
        plain: Start,
    ) -> Result<Start, Status> {
        let Some(position) = start.and_then(|s| s.position) else {
            return Ok(plain);
        };
        let topic = validate::topic(topic)?;
        let from = |read_from| Start {
            read_from,
            from_end: false,
        };
        let missing = |status: &Status| status.code() == Code::NotFound;
        match position {
            v1::start_position::Position::Time(time) => {
                let time = validate::time(Some(time), "start.time")?;
                match self.offset_for_time(&topic, time).await {
                    Ok(offset) => Ok(from(offset)),
                    Err(status) if missing(&status) => Ok(from(0)),
                    Err(status) => Err(status),
                }
            }
            v1::start_position::Position::Group(start) => {
                let group = validate::group(&start.group)?;
                match self.fetch_offset(&group, &topic).await {
                    Ok(Some(commit)) => Ok(from(commit.offset)),
                    Ok(None) if start.no_commit == v1::NoCommit::End as i32 => Ok(Start {
                        read_from: 0,
                        from_end: true,
                    }),
                    Ok(None) => Ok(from(0)),
                    Err(status) if missing(&status) => Ok(from(0)),
                    Err(status) => Err(status),
                }
            }
        }
    }
}

/// The group a request's start position names, if any: what the request's
/// access must allow.
pub fn start_group(start: Option<&v1::StartPosition>) -> Option<&str> {
    match start?.position.as_ref()? {
        v1::start_position::Position::Group(group) => Some(&group.group),
        v1::start_position::Position::Time(_) => None,
    }
}

/// A commit as the API shows it.
pub fn offset_commit(commit: OffsetCommit) -> v1::OffsetCommit {
    v1::OffsetCommit {
        offset: commit.offset,
        commit_time: Some(super::reading::timestamp(commit.time)),
        metadata: commit.metadata,
    }
}

/// A group's lag in one topic as the API shows it.
pub fn group_topic(lag: GroupLag) -> v1::GroupTopic {
    v1::GroupTopic {
        topic: lag.topic.to_string(),
        commit: Some(offset_commit(lag.commit)),
        next_offset: lag.next_offset,
        earliest_offset: lag.earliest_offset,
        lag: lag.lag,
        oldest_unread_age: lag
            .oldest_unread_age
            .and_then(|age| prost_types::Duration::try_from(age).ok()),
        expired_unread: lag.expired_unread,
    }
}
