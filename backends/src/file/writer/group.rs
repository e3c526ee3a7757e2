//! The file store's body of the shared group-commit loop
//! ([`crate::writer_thread::run`]).

use std::time::Instant;

use super::Writer;
use super::commit::WrittenAppend;
use crate::file::retention;
use crate::writer_thread::{AppendRequest, CommitRequest, GroupCommit};
use crate::{
    Creation, Durability, GroupName, RemovalReport, RetentionDefaults, SettingsChange, StoreError,
    Timestamp, TopicName, TopicSettings,
};

impl GroupCommit for Writer {
    /// An append is written when taken; the group's sync, publish and
    /// answers come at commit.
    type Taken = WrittenAppend;

    fn sync_due(&self) -> Option<Instant> {
        match (self.options.durability, self.unsynced_since) {
            (Durability::Interval(interval), Some(since)) => Some(since + interval),
            _ => None,
        }
    }

    fn take(&mut self, append: AppendRequest, group: &mut Vec<WrittenAppend>) {
        let AppendRequest {
            topic,
            batch,
            now,
            reply,
        } = append;
        match self.append(&topic, &batch, now) {
            Ok(range) => group.push(WrittenAppend {
                topic,
                range,
                reply,
            }),
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }

    fn commit(&mut self, group: &mut Vec<WrittenAppend>) {
        self.commit_group(group);
        self.finish_commits();
    }

    /// A commit is written to the commit log when taken; its sync and
    /// answer come at the group's commit, after the appends'.
    fn take_commit(&mut self, commit: CommitRequest, _group: &mut Vec<WrittenAppend>) {
        self.take_offset_commit(commit);
    }

    fn create_topic(
        &mut self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        self.create(topic, settings)
    }

    fn update_topic(
        &mut self,
        topic: &TopicName,
        change: &SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        self.update_settings(topic, change)
    }

    fn delete_topic(&mut self, topic: &TopicName) -> Result<u64, StoreError> {
        let held = self.delete(topic)?;
        self.forget_topic_commits(topic);
        Ok(held)
    }

    fn delete_group(&mut self, group: &GroupName) -> Result<u64, StoreError> {
        Writer::delete_group(self, group)
    }

    /// Runs retention on every published topic that takes writes. A topic
    /// that fails does not keep the others from being swept: the pass goes
    /// on, and answers with the first failure (later ones are logged here).
    fn enforce_retention(
        &mut self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        let mut report = RemovalReport::default();
        let mut first_error = None;
        let producer_cutoff = defaults.producer_expiry.cutoff(now);
        for (name, topic) in &mut self.topics {
            if let Some(cutoff) = producer_cutoff {
                topic.producers.forget_idle(cutoff);
            }
            if !topic.published || topic.stopped.is_some() {
                continue;
            }
            match retention::enforce(&self.shared, &*self.disk, name, &topic.topic, now, defaults) {
                Ok(removed) => {
                    report.messages_removed += removed.messages_removed;
                    report.bytes_removed += removed.bytes_removed;
                }
                Err(error) if first_error.is_none() => first_error = Some(error),
                Err(error) => tracing::error!(topic = %name, %error, "retention failed"),
            }
        }
        if let Some(cutoff) = defaults.group_retention.cutoff(now) {
            match self.expire_groups(cutoff) {
                Ok(removed) => report.groups_removed = removed,
                Err(error) if first_error.is_none() => first_error = Some(error),
                Err(error) => tracing::error!(%error, "expiring groups failed"),
            }
        }
        first_error.map_or(Ok(report), Err)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.sync_unsynced()
    }

    fn sync_interval(&mut self) {
        if let Err(error) = self.sync_unsynced() {
            tracing::error!(%error, "interval sync failed");
        }
    }

    fn finish(&mut self) {
        if let Err(error) = self.sync_unsynced() {
            tracing::error!(%error, "final sync of the file store failed");
        }
    }
}
