//! [`MemoryStore`]: every topic in memory. The fastest store, and it loses
//! everything when the process exits.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::{
    AppendNotifier, Batch, Creation, Message, OffsetRange, ReadLimits, ReadResult, RemovalReport,
    RetentionDefaults, SettingsChange, Store, StoreError, Timestamp, TopicInfo, TopicName,
    TopicSettings, TopicWatch,
};

/// A store that keeps each topic as a ring of messages in memory.
///
/// Locks are std `RwLock`s, not tokio ones, because nothing awaits while
/// one is held: every operation is a few memory moves.
#[derive(Debug, Default)]
pub struct MemoryStore {
    topics: RwLock<BTreeMap<TopicName, Arc<RwLock<TopicLog>>>>,
    notifier: AppendNotifier,
    // Read once the memory store keeps producers (issue #15).
    #[allow(dead_code)]
    options: MemoryOptions,
}

/// One topic: the messages it holds, oldest first.
#[derive(Debug)]
struct TopicLog {
    /// The messages held; `messages[i]` has offset `earliest + i`.
    messages: VecDeque<Message>,
    /// The offset of the first message held, or the next offset when empty.
    earliest: u64,
    /// The sum of the held payloads' lengths.
    size_bytes: u64,
    /// The newest timestamp ever stored, kept after the message expires so
    /// timestamps never go back.
    newest_timestamp: Timestamp,
    /// The topic's own settings.
    settings: TopicSettings,
}

impl TopicLog {
    fn new(settings: TopicSettings) -> Self {
        Self {
            messages: VecDeque::new(),
            earliest: 1,
            size_bytes: 0,
            newest_timestamp: Timestamp::default(),
            settings,
        }
    }

    /// Removes the oldest message; `None` when empty.
    fn pop_oldest(&mut self) -> Option<Message> {
        let message = self.messages.pop_front()?;
        self.earliest += 1;
        self.size_bytes -= message.payload.len() as u64;
        Some(message)
    }

    /// Removes what retention no longer keeps: by age (its own, else the
    /// default), then the oldest until the size is within its limit.
    fn enforce_retention(&mut self, now: Timestamp, defaults: RetentionDefaults) -> RemovalReport {
        let cutoff = self.settings.retention.unwrap_or(defaults.age).cutoff(now);
        let limit = self.settings.retention_bytes.unwrap_or(u64::MAX);
        let mut report = RemovalReport::default();
        while let Some(oldest) = self.messages.front() {
            let expired = cutoff.is_some_and(|cutoff| oldest.timestamp < cutoff);
            if !(expired || self.size_bytes > limit) {
                break;
            }
            if let Some(message) = self.pop_oldest() {
                report.messages_removed += 1;
                report.bytes_removed += message.payload.len() as u64;
            }
        }
        report
    }

    fn next_offset(&self) -> u64 {
        self.earliest + self.messages.len() as u64
    }

    fn info(&self, name: &TopicName) -> TopicInfo {
        TopicInfo {
            name: name.clone(),
            earliest_offset: self.earliest,
            next_offset: self.next_offset(),
            message_count: self.messages.len() as u64,
            size_bytes: self.size_bytes,
            oldest_timestamp: self.messages.front().map(|m| m.timestamp),
            settings: self.settings.clone(),
        }
    }
}

/// How a [`MemoryStore`] behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryOptions {
    /// The most producers remembered per topic for safe retries
    /// (`MINIKAFKA_MAX_PRODUCERS`): see [`ProducerTable`](crate::ProducerTable).
    pub max_producers: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            max_producers: crate::producers::DEFAULT_MAX_PRODUCERS,
        }
    }
}

impl MemoryStore {
    /// An empty store with the default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with `options`.
    pub fn with_options(options: MemoryOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    fn topic(&self, name: &TopicName) -> Option<Arc<RwLock<TopicLog>>> {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        topics.get(name).cloned()
    }

    fn topic_or_create(&self, name: &TopicName) -> Arc<RwLock<TopicLog>> {
        if let Some(topic) = self.topic(name) {
            return topic;
        }
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        topics
            .entry(name.clone())
            .or_insert_with(|| Arc::new(RwLock::new(TopicLog::new(TopicSettings::default()))))
            .clone()
    }

    fn topic_or_not_found(&self, name: &TopicName) -> Result<Arc<RwLock<TopicLog>>, StoreError> {
        self.topic(name)
            .ok_or_else(|| StoreError::TopicNotFound(name.clone()))
    }
}

/// Copies a batch's payloads into one right-sized buffer and slices it.
///
/// A payload decoded from a request is a slice of the whole receive buffer;
/// keeping it as-is would pin kilobytes per 100-byte message. One buffer per
/// batch costs one allocation, and a batch's messages share a timestamp, so
/// they expire, and free the buffer, together.
fn compact(payloads: Vec<Bytes>) -> Vec<Bytes> {
    let total = payloads.iter().map(Bytes::len).sum();
    let mut buffer = BytesMut::with_capacity(total);
    for payload in &payloads {
        buffer.extend_from_slice(payload);
    }
    let mut buffer = buffer.freeze();
    payloads.iter().map(|p| buffer.split_to(p.len())).collect()
}

#[async_trait]
impl Store for MemoryStore {
    async fn append(
        &self,
        topic: &TopicName,
        batch: Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        if batch.records.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        let log = if batch.create_topic {
            self.topic_or_create(topic)
        } else {
            self.topic_or_not_found(topic)?
        };
        let mut log = log.write().unwrap_or_else(PoisonError::into_inner);
        log.settings.check_sizes(&batch.records)?;
        let payloads = compact(batch.records.into_iter().map(|r| r.payload).collect());
        let timestamp = now.max(log.newest_timestamp);
        let first = log.next_offset();
        for (offset, payload) in (first..).zip(payloads) {
            log.size_bytes += payload.len() as u64;
            log.messages.push_back(Message {
                offset,
                timestamp,
                payload,
                key: Bytes::new(),
                headers: Vec::new(),
            });
        }
        log.newest_timestamp = timestamp;
        let next = log.next_offset();
        drop(log);
        self.notifier.appended(topic, next);
        Ok(OffsetRange {
            first,
            last: next - 1,
        })
    }

    async fn read(
        &self,
        topic: &TopicName,
        from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, StoreError> {
        let log = self.topic_or_not_found(topic)?;
        let log = log.read().unwrap_or_else(PoisonError::into_inner);
        let next_offset = log.next_offset();
        if from > next_offset {
            return Err(StoreError::OffsetOutOfRange {
                topic: topic.clone(),
                requested: from,
                next_offset,
            });
        }
        let start = usize::try_from(from.saturating_sub(log.earliest)).unwrap_or(usize::MAX);
        let mut messages = Vec::new();
        let mut bytes = 0usize;
        for message in log.messages.range(start.min(log.messages.len())..) {
            let full = messages.len() >= limits.max_messages.max(1)
                || (!messages.is_empty() && bytes + message.payload.len() > limits.max_bytes);
            if full {
                break;
            }
            bytes += message.payload.len();
            messages.push(message.clone());
        }
        Ok(ReadResult {
            messages,
            earliest_offset: log.earliest,
            next_offset,
        })
    }

    async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(log) = topics.get(topic) {
            let existing = &log.read().unwrap_or_else(PoisonError::into_inner).settings;
            return crate::store::create_existing(topic, existing, &settings);
        }
        topics.insert(
            topic.clone(),
            Arc::new(RwLock::new(TopicLog::new(settings))),
        );
        Ok(Creation::Created)
    }

    async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        let log = self.topic_or_not_found(topic)?;
        let mut log = log.write().unwrap_or_else(PoisonError::into_inner);
        log.settings.apply(&change);
        Ok(log.settings.clone())
    }

    async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError> {
        let removed = self
            .topics
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(topic)
            .ok_or_else(|| StoreError::TopicNotFound(topic.clone()))?;
        let held = removed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .messages
            .len() as u64;
        self.notifier.deleted(topic);
        Ok(held)
    }

    async fn enforce_retention(
        &self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        let topics: Vec<_> = {
            let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
            topics.values().cloned().collect()
        };
        let mut report = RemovalReport::default();
        for log in topics {
            let mut log = log.write().unwrap_or_else(PoisonError::into_inner);
            let removed = log.enforce_retention(now, defaults);
            report.messages_removed += removed.messages_removed;
            report.bytes_removed += removed.bytes_removed;
        }
        Ok(report)
    }

    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
        let log = self.topic_or_not_found(topic)?;
        let log = log.read().unwrap_or_else(PoisonError::into_inner);
        Ok(log.info(topic))
    }

    async fn list(
        &self,
        after: Option<&TopicName>,
        limit: usize,
    ) -> Result<Vec<TopicInfo>, StoreError> {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        Ok(crate::store::page(&topics, after, limit)
            .map(|(name, log)| {
                log.read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .info(name)
            })
            .collect())
    }

    async fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn watch(&self, topic: &TopicName) -> TopicWatch {
        self.notifier.watch(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open() -> (Arc<dyn Store>, ()) {
        (Arc::new(MemoryStore::new()), ())
    }

    crate::conformance_tests!(open);
    crate::conformance_tests!(exact_size_retention open);

    #[test]
    fn compact_keeps_each_payload_and_drops_the_receive_buffer() {
        let received = Bytes::from(vec![7u8; 4096]);
        let payloads = vec![received.slice(0..3), Bytes::new(), received.slice(10..110)];
        let compacted = compact(payloads.clone());
        assert_eq!(compacted, payloads);
        drop(payloads);
        // The 4 KiB buffer is no longer referenced by the kept payloads.
        assert!(received.is_unique());
    }
}
