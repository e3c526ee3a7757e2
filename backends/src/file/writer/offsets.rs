//! Groups' offset commits: written to the commit log as they are taken,
//! made durable with the group's sync, then shown to readers and answered.

use std::sync::PoisonError;
use std::time::Instant;

use super::Writer;
use crate::file::commits::Entry;
use crate::groups::check_commit;
use crate::writer_thread::CommitRequest;
use crate::{Durability, GroupName, StoreError, Timestamp, TopicName};

impl Writer {
    /// Checks a commit against its topic and writes it to the log; it is
    /// answered by [`Writer::finish_commits`] at the group's end.
    pub(super) fn take_offset_commit(&mut self, request: CommitRequest) {
        let written = self
            .topics
            .get(&request.topic)
            .ok_or_else(|| StoreError::TopicNotFound(request.topic.clone()))
            .and_then(|topic| {
                check_commit(
                    &request.group,
                    &request.topic,
                    request.commit.offset,
                    topic.active.end,
                )
            })
            .and_then(|()| {
                let entry = Entry::Commit(
                    request.group.clone(),
                    request.topic.clone(),
                    request.commit.clone(),
                );
                self.commits.write(&*self.disk, &entry)
            });
        match written {
            Ok(()) => {
                self.unsynced_since.get_or_insert_with(Instant::now);
                self.pending_commits.push(request);
            }
            Err(error) => {
                let _ = request.reply.send(Err(error));
            }
        }
    }

    /// Makes the group's commits as durable as configured, shows them to
    /// readers and answers them; then compacts the log if it has grown.
    pub(super) fn finish_commits(&mut self) {
        if self.pending_commits.is_empty() {
            return;
        }
        let synced = match self.options.durability {
            Durability::Always => self.commits.sync(&*self.disk).map_err(|e| e.to_string()),
            _ => Ok(()),
        };
        let mut table = self
            .shared
            .groups
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for request in self.pending_commits.drain(..) {
            let answer = match &synced {
                Ok(()) => {
                    table.commit(&request.group, &request.topic, request.commit);
                    Ok(())
                }
                Err(cause) => Err(StoreError::io(
                    "syncing the commit log",
                    std::io::Error::other(cause.clone()),
                )),
            };
            let _ = request.reply.send(answer);
        }
        if let Err(error) = self.commits.compact_if_grown(&*self.disk, &table) {
            tracing::error!(%error, "compacting the commit log failed; it is tried again later");
        }
    }

    /// Removes `groups` durably: written and synced, then gone for readers.
    fn remove_groups(&mut self, groups: &[GroupName]) -> Result<(), StoreError> {
        for group in groups {
            self.commits
                .write(&*self.disk, &Entry::DeleteGroup(group.clone()))?;
        }
        self.commits.sync(&*self.disk)?;
        let mut table = self
            .shared
            .groups
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for group in groups {
            table.delete(group);
        }
        Ok(())
    }

    /// Deletes a group's commits in every topic, durably.
    pub(super) fn delete_group(&mut self, group: &GroupName) -> Result<u64, StoreError> {
        let commits = self
            .shared
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .describe(group)
            .map(|topics| topics.len() as u64)
            .ok_or_else(|| StoreError::GroupNotFound(group.clone()))?;
        self.remove_groups(std::slice::from_ref(group))?;
        Ok(commits)
    }

    /// Removes the groups whose newest commit is older than `cutoff`;
    /// returns how many.
    pub(super) fn expire_groups(&mut self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let idle = self
            .shared
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .idle_since(cutoff);
        if !idle.is_empty() {
            self.remove_groups(&idle)?;
        }
        Ok(idle.len() as u64)
    }

    /// Forgets every group's commit in a deleted topic. The topic is gone
    /// whatever happens here: a commit record that cannot be written is
    /// logged, and its commits are dropped at the next start-up anyway
    /// unless the topic was created again meanwhile.
    pub(super) fn forget_topic_commits(&mut self, topic: &TopicName) {
        let mut table = self
            .shared
            .groups
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !table.iter().any(|(_, t, _)| t == topic) {
            return;
        }
        table.delete_topic(topic);
        drop(table);
        let written = self
            .commits
            .write(&*self.disk, &Entry::DeleteTopic(topic.clone()))
            .and_then(|()| self.commits.sync(&*self.disk));
        if let Err(error) = written {
            tracing::error!(%topic, %error, "could not record that the deleted topic's commits are gone");
        }
    }
}
