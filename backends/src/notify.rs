//! [`AppendNotifier`]: how readers learn, without polling, that a topic
//! grew.
//!
//! Every store owns one and calls [`AppendNotifier::appended`] once new
//! messages are readable. That call is the seam for stores whose appends
//! can come from elsewhere: a store shared by several servers (one
//! database) would call it from a task that listens for other servers'
//! appends (PostgreSQL `LISTEN`, say), and every waiting consumer on every
//! server wakes the same way.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

use crate::TopicName;

/// Wakes exactly the readers waiting on the topic that grew.
///
/// One `watch` channel per topic someone waits on, holding the topic's
/// next offset. Waiting costs a parked task and no CPU; an append to a
/// topic nobody waits on costs one map lookup.
#[derive(Debug, Default)]
pub struct AppendNotifier {
    topics: Mutex<HashMap<TopicName, watch::Sender<u64>>>,
    /// Channels kept at the last prune, so pruning runs when the map has
    /// doubled since, not on every call.
    kept_at_last_prune: Mutex<usize>,
}

/// Waits for a topic to grow. Made by [`AppendNotifier::watch`] (or
/// [`Store::watch`](crate::Store::watch)) *before* reading, so an append
/// between the read and the wait is not missed.
#[derive(Debug)]
pub struct TopicWatch(watch::Receiver<u64>);

impl TopicWatch {
    /// Returns once the topic's next offset has grown since this watch was
    /// made or last returned; never, if the notifier is gone.
    pub async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl AppendNotifier {
    /// A notifier with no one waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Announces that `topic`'s next offset is now `next_offset` (created
    /// or grown). Wakes the topic's watchers if it grew.
    pub fn appended(&self, topic: &TopicName, next_offset: u64) {
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = topics.get(topic) {
            sender.send_if_modified(|known| {
                let grew = next_offset > *known;
                *known = (*known).max(next_offset);
                grew
            });
        }
    }

    /// Announces that `topic` was deleted: wakes every watcher (whose
    /// read then finds the topic gone), and forgets its offsets, so a topic
    /// created again under the name, from offset 1, wakes them as it grows.
    pub fn deleted(&self, topic: &TopicName) {
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = topics.get(topic) {
            sender.send_replace(0);
        }
    }

    /// A watch on `topic`, which need not exist yet.
    pub fn watch(&self, topic: &TopicName) -> TopicWatch {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = topics.get(topic) {
            return TopicWatch(sender.subscribe());
        }
        self.prune(&mut topics);
        let (sender, receiver) = watch::channel(0);
        topics.insert(topic.clone(), sender);
        TopicWatch(receiver)
    }

    /// Drops the channels nobody listens to any more, so watching many
    /// names (say, topics that never come to exist) does not grow memory.
    fn prune(&self, topics: &mut HashMap<TopicName, watch::Sender<u64>>) {
        let mut kept = self
            .kept_at_last_prune
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if topics.len() >= (*kept * 2).max(64) {
            topics.retain(|_, sender| sender.receiver_count() > 0);
            *kept = topics.len();
        }
    }

    /// How many topics have a channel (for tests of the pruning).
    #[cfg(test)]
    fn channels(&self) -> usize {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).expect("valid")
    }

    #[tokio::test(start_paused = true)]
    async fn an_append_wakes_its_topic_only() {
        let notifier = AppendNotifier::new();
        let mut a = notifier.watch(&topic("a"));
        let mut b = notifier.watch(&topic("b"));
        notifier.appended(&topic("a"), 5);
        tokio::time::timeout(Duration::from_secs(1), a.changed())
            .await
            .expect("a woke");
        assert!(
            tokio::time::timeout(Duration::from_secs(1), b.changed())
                .await
                .is_err(),
            "b slept on"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_append_between_watching_and_waiting_is_not_missed() {
        let notifier = AppendNotifier::new();
        let mut watch = notifier.watch(&topic("t"));
        notifier.appended(&topic("t"), 2);
        tokio::time::timeout(Duration::from_secs(1), watch.changed())
            .await
            .expect("woke");
        // Seen once; the same offset again is no news.
        notifier.appended(&topic("t"), 2);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), watch.changed())
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_delete_wakes_the_watchers_and_a_new_topic_wakes_them_again() {
        let notifier = AppendNotifier::new();
        let mut watch = notifier.watch(&topic("t"));
        notifier.appended(&topic("t"), 10);
        watch.changed().await;
        notifier.deleted(&topic("t"));
        tokio::time::timeout(Duration::from_secs(1), watch.changed())
            .await
            .expect("woken by the delete");
        // The topic made again grows from offset 1: its first append is news.
        notifier.appended(&topic("t"), 2);
        tokio::time::timeout(Duration::from_secs(1), watch.changed())
            .await
            .expect("woken by the new topic");
    }

    #[test]
    fn channels_nobody_listens_to_are_pruned() {
        let notifier = AppendNotifier::new();
        let kept = notifier.watch(&topic("kept"));
        for i in 0..1_000 {
            drop(notifier.watch(&topic(&format!("gone-{i}"))));
        }
        assert!(
            notifier.channels() <= 128,
            "{} channels",
            notifier.channels()
        );
        drop(kept);
    }
}
