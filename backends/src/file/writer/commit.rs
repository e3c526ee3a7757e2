//! Ending a group: syncing what it wrote (when every append must be
//! durable), publishing it, and answering each append; and the sync that
//! stops a topic when it fails.

use std::collections::BTreeSet;

use tokio::sync::oneshot;

use super::Writer;
use super::publish::publish;
use crate::{Durability, OffsetRange, StoreError, TopicName};

/// An append written to its segment but not yet answered: it waits for
/// its group's sync and publish.
pub struct WrittenAppend {
    pub(super) topic: TopicName,
    pub(super) range: OffsetRange,
    pub(super) reply: oneshot::Sender<Result<OffsetRange, StoreError>>,
}

impl Writer {
    /// Syncs what the group wrote (when every append must be durable),
    /// publishes it to readers, and answers each append. An append to a
    /// topic whose sync failed is answered with
    /// [`StoreError::TopicStopped`] and never published.
    pub(super) fn commit_group(&mut self, written: &mut Vec<WrittenAppend>) {
        if written.is_empty() {
            return;
        }
        if self.options.durability == Durability::Always {
            let _ = self.sync_unsynced();
        }
        let touched: BTreeSet<TopicName> = written.iter().map(|w| w.topic.clone()).collect();
        for name in &touched {
            if let Some(topic) = self.topics.get_mut(name)
                && topic.stopped.is_none()
            {
                publish(&self.shared, name, topic);
            }
        }
        for WrittenAppend {
            topic,
            range,
            reply,
        } in written.drain(..)
        {
            let answer = match self.topics.get(&topic).and_then(|t| t.stopped.clone()) {
                None => Ok(range),
                Some(cause) => Err(StoreError::TopicStopped { topic, cause }),
            };
            let _ = reply.send(answer);
        }
    }

    /// Syncs the active segment of every topic written since the last
    /// sync, and the commit log.
    /// A topic whose sync fails stops taking writes (see
    /// `TopicWriter::stopped`); the first such failure is returned.
    pub(super) fn sync_unsynced(&mut self) -> Result<(), StoreError> {
        let mut first_error = None;
        for name in std::mem::take(&mut self.unsynced) {
            let Some(topic) = self.topics.get_mut(&name) else {
                continue;
            };
            // The handle written through may have been closed since (the
            // cache keeps few open); a sync through a new one syncs the same
            // file, and reports a write-back error nobody has seen yet. Not
            // being able to open it fails the sync all the same.
            let synced = match self.shared.files.require(&topic.active) {
                Ok(file) => self.disk.sync_data(&file),
                Err(StoreError::Io { cause, .. } | StoreError::TooManyOpenFiles { cause, .. }) => {
                    Err(cause)
                }
                Err(other) => Err(std::io::Error::other(other.to_string())),
            };
            if let Err(error) = synced {
                let stopped = topic.stop(&name, &error);
                first_error.get_or_insert(stopped);
            }
        }
        if let Err(error) = self.commits.sync(&*self.disk) {
            first_error.get_or_insert(error);
        }
        self.unsynced_since = None;
        first_error.map_or(Ok(()), Err)
    }
}
