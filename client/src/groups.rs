//! Consumer groups: positions the server keeps per group and topic, their
//! lag, and where a read from a time starts.

use std::time::{Duration, SystemTime};

use minikafka_proto::v1;

use crate::client::system_time;
use crate::{Admin, Client, ClientError};

/// A group's committed position in one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The next offset the group will read (Kafka's convention: after
    /// processing offsets 1 to 10, a group commits 11).
    pub offset: u64,
    /// When the server stored the commit.
    pub time: SystemTime,
    /// What the application stored with it; empty when nothing.
    pub metadata: String,
}

/// A group's position in one topic, and how far behind it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTopic {
    /// The topic.
    pub topic: String,
    /// The group's commit in it.
    pub commit: Commit,
    /// The offset the topic's next message will get.
    pub next_offset: u64,
    /// The topic's earliest retained offset.
    pub earliest_offset: u64,
    /// Retained messages the group has not read.
    pub lag: u64,
    /// How long ago the oldest unread message was stored; `None` when the
    /// group has read everything.
    pub oldest_unread_age: Option<Duration>,
    /// Messages retention removed before the group read them.
    pub expired_unread: u64,
}

/// A group, as [`Admin::describe_group`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's name.
    pub name: String,
    /// Its position in each topic it committed in, by topic name.
    pub topics: Vec<GroupTopic>,
}

fn commit(commit: v1::OffsetCommit) -> Commit {
    Commit {
        offset: commit.offset,
        time: system_time(commit.commit_time),
        metadata: commit.metadata,
    }
}

/// A time as the API carries it.
pub(crate) fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(time)
}

impl Client {
    /// Stores `group`'s position in `topic`: `offset` is the next offset
    /// the group will read, from 1 to the topic's next offset (a lower one
    /// than before rewinds the group), with optional `metadata` (at most
    /// 4 KiB).
    pub async fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        offset: u64,
        metadata: Option<&str>,
    ) -> Result<(), ClientError> {
        let request = v1::CommitOffsetRequest {
            group: group.to_owned(),
            topic: topic.to_owned(),
            offset,
            metadata: metadata.map(str::to_owned),
        };
        self.call(request, |mut grpc, request| async move {
            grpc.commit_offset(request).await
        })
        .await?;
        Ok(())
    }

    /// `group`'s commit in `topic`; `None` when it has none.
    pub async fn fetch_offset(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<Option<Commit>, ClientError> {
        let request = v1::FetchOffsetRequest {
            group: group.to_owned(),
            topic: topic.to_owned(),
        };
        let reply = self
            .call(request, |mut grpc, request| async move {
                grpc.fetch_offset(request).await
            })
            .await?;
        Ok(reply.commit.map(commit))
    }

    /// The offset a read of `topic` from `time` starts at: the first
    /// message stored at or after it (the topic's next offset when none is
    /// that new).
    pub async fn offset_for_time(&self, topic: &str, time: SystemTime) -> Result<u64, ClientError> {
        let request = v1::OffsetForTimeRequest {
            topic: topic.to_owned(),
            time: Some(timestamp(time)),
        };
        let reply = self
            .call(request, |mut grpc, request| async move {
                grpc.offset_for_time(request).await
            })
            .await?;
        Ok(reply.offset)
    }
}

impl Admin {
    /// Every group's name, sorted, fetched a page at a time.
    pub async fn list_groups(&self) -> Result<Vec<String>, ClientError> {
        let mut groups = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = v1::ListGroupsRequest {
                page_size: 0,
                page_token,
            };
            let reply = self
                .client
                .call(request, |mut grpc, request| async move {
                    grpc.list_groups(request).await
                })
                .await?;
            groups.extend(reply.groups);
            if reply.next_page_token.is_empty() {
                return Ok(groups);
            }
            page_token = reply.next_page_token;
        }
    }

    /// `group`'s position and lag in each topic; code `NotFound` for a
    /// group with no commit.
    pub async fn describe_group(&self, group: &str) -> Result<GroupInfo, ClientError> {
        let request = v1::DescribeGroupRequest {
            group: group.to_owned(),
        };
        let reply = self
            .client
            .call(request, |mut grpc, request| async move {
                grpc.describe_group(request).await
            })
            .await?;
        Ok(GroupInfo {
            name: reply.name,
            topics: reply
                .topics
                .into_iter()
                .map(|t| GroupTopic {
                    topic: t.topic,
                    commit: commit(t.commit.unwrap_or_default()),
                    next_offset: t.next_offset,
                    earliest_offset: t.earliest_offset,
                    lag: t.lag,
                    oldest_unread_age: t
                        .oldest_unread_age
                        .and_then(|age| Duration::try_from(age).ok()),
                    expired_unread: t.expired_unread,
                })
                .collect(),
        })
    }

    /// Removes `group`'s commits in every topic; answers how many it had.
    pub async fn delete_group(&self, group: &str) -> Result<u64, ClientError> {
        let request = v1::DeleteGroupRequest {
            group: group.to_owned(),
        };
        let reply = self
            .client
            .call(request, |mut grpc, request| async move {
                grpc.delete_group(request).await
            })
            .await?;
        Ok(reply.commits_deleted)
    }
}
