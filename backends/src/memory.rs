//! [`MemoryStore`]: every topic in memory. The fastest store, and it loses
//! everything when the process exits.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::groups::check_commit;
use crate::{
    Admission, AppendNotifier, Batch, Creation, GroupName, GroupTable, Header, Message,
    OffsetCommit, OffsetRange, ProducerTable, ReadLimits, ReadResult, Record, RemovalReport,
    RetentionDefaults, SettingsChange, Store, StoreError, Timestamp, TopicInfo, TopicName,
    TopicSettings, TopicWatch,
};

/// A store that keeps each topic as a ring of messages in memory.
///
/// Locks are std `RwLock`s, not tokio ones, because nothing awaits while
/// one is held: every operation is a few memory moves. Locks are taken in
/// one order: `topics`, then a topic, then `groups`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    topics: RwLock<BTreeMap<TopicName, Arc<RwLock<TopicLog>>>>,
    groups: Mutex<GroupTable>,
    notifier: AppendNotifier,
    options: MemoryOptions,
}

/// One topic: the messages it holds, oldest first.
#[derive(Debug)]
struct TopicLog {
    /// The messages held; `messages[i]` has offset `earliest + i`.
    messages: VecDeque<Message>,
    /// The offset of the first message held, or the next offset when empty.
    earliest: u64,
    /// The sum of the held messages' sizes ([`Message::size`]).
    size_bytes: u64,
    /// The newest timestamp ever stored, kept after the message expires so
    /// timestamps never go back.
    newest_timestamp: Timestamp,
    /// The topic's own settings.
    settings: TopicSettings,
    /// The topic's producers and their latest batches, for safe retries.
    producers: ProducerTable,
}

impl TopicLog {
    fn new(settings: TopicSettings, max_producers: usize) -> Self {
        Self {
            messages: VecDeque::new(),
            earliest: 1,
            size_bytes: 0,
            newest_timestamp: Timestamp::default(),
            settings,
            producers: ProducerTable::new(max_producers),
        }
    }

    /// Removes the oldest message; `None` when empty.
    fn pop_oldest(&mut self) -> Option<Message> {
        let message = self.messages.pop_front()?;
        self.earliest += 1;
        self.size_bytes -= message.size() as u64;
        Some(message)
    }

    /// Removes what retention no longer keeps: by age (its own, else the
    /// default), then the oldest until the size is within its limit; and
    /// forgets the producers idle past the producer expiry.
    fn enforce_retention(&mut self, now: Timestamp, defaults: RetentionDefaults) -> RemovalReport {
        if let Some(cutoff) = defaults.producer_expiry.cutoff(now) {
            self.producers.forget_idle(cutoff);
        }
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
                report.bytes_removed += message.size() as u64;
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
            .or_insert_with(|| Arc::new(RwLock::new(self.new_log(TopicSettings::default()))))
            .clone()
    }

    fn new_log(&self, settings: TopicSettings) -> TopicLog {
        TopicLog::new(settings, self.options.max_producers)
    }

    /// The topic a batch goes to: a missing one is created only when the
    /// batch may create it and its condition, if any, expects a new
    /// topic's next offset (1), so that a refused batch creates nothing.
    fn topic_for(
        &self,
        name: &TopicName,
        batch: &Batch,
    ) -> Result<Arc<RwLock<TopicLog>>, StoreError> {
        if let Some(topic) = self.topic(name) {
            return Ok(topic);
        }
        if !batch.create_topic {
            return Err(StoreError::TopicNotFound(name.clone()));
        }
        batch.check_next_offset(name, 1)?;
        Ok(self.topic_or_create(name))
    }

    fn groups(&self) -> std::sync::MutexGuard<'_, GroupTable> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn topic_or_not_found(&self, name: &TopicName) -> Result<Arc<RwLock<TopicLog>>, StoreError> {
        self.topic(name)
            .ok_or_else(|| StoreError::TopicNotFound(name.clone()))
    }
}

/// Copies a batch's bytes (payloads, keys, header values) into one
/// right-sized buffer and slices it.
///
/// A payload decoded from a request is a slice of the whole receive buffer;
/// keeping it as-is would pin kilobytes per 100-byte message. One buffer per
/// batch costs one allocation, and a batch's messages share a timestamp, so
/// they expire, and free the buffer, together.
fn compact(records: Vec<Record>) -> Vec<Record> {
    let values = |r: &Record| {
        [&r.payload, &r.key]
            .into_iter()
            .chain(r.headers.iter().map(|h| &h.value))
            .map(Bytes::len)
            .sum::<usize>()
    };
    let mut buffer = BytesMut::with_capacity(records.iter().map(values).sum());
    for record in &records {
        buffer.extend_from_slice(&record.payload);
        buffer.extend_from_slice(&record.key);
        for header in &record.headers {
            buffer.extend_from_slice(&header.value);
        }
    }
    let mut buffer = buffer.freeze();
    records
        .into_iter()
        .map(|record| Record {
            payload: buffer.split_to(record.payload.len()),
            key: buffer.split_to(record.key.len()),
            headers: record
                .headers
                .into_iter()
                .map(|header| Header {
                    value: buffer.split_to(header.value.len()),
                    name: header.name,
                })
                .collect(),
        })
        .collect()
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
        let log = self.topic_for(topic, &batch)?;
        // Admission, the condition and the append under one lock: a retry
        // racing its original sees it stored or not at all.
        let mut log = log.write().unwrap_or_else(PoisonError::into_inner);
        log.settings.check_sizes(&batch.records)?;
        if let Some(producer) = batch.producer
            && let Admission::Duplicate(offsets) = log.producers.admit(topic, producer)?
        {
            return Ok(offsets);
        }
        batch.check_next_offset(topic, log.next_offset())?;
        let timestamp = now.max(log.newest_timestamp);
        let first = log.next_offset();
        for (offset, record) in (first..).zip(compact(batch.records)) {
            let message = Message {
                offset,
                timestamp,
                payload: record.payload,
                key: record.key,
                headers: record.headers,
            };
            log.size_bytes += message.size() as u64;
            log.messages.push_back(message);
        }
        log.newest_timestamp = timestamp;
        let next = log.next_offset();
        let offsets = OffsetRange {
            first,
            last: next - 1,
        };
        if let Some(producer) = batch.producer {
            log.producers.record(producer, offsets, timestamp);
        }
        drop(log);
        self.notifier.appended(topic, next);
        Ok(offsets)
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
                || (!messages.is_empty() && bytes + message.size() > limits.max_bytes);
            if full {
                break;
            }
            bytes += message.size();
            messages.push(message.clone());
        }
        Ok(ReadResult {
            messages,
            earliest_offset: log.earliest,
            next_offset,
        })
    }

    async fn offset_for_time(&self, topic: &TopicName, time: Timestamp) -> Result<u64, StoreError> {
        let log = self.topic_or_not_found(topic)?;
        let log = log.read().unwrap_or_else(PoisonError::into_inner);
        // Timestamps never decrease, so the messages older than `time` are
        // a prefix: a binary search finds where it ends.
        let older = log.messages.partition_point(|m| m.timestamp < time);
        Ok(log.earliest + older as u64)
    }

    async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        commit: OffsetCommit,
    ) -> Result<(), StoreError> {
        // The topics lock is held to the end, so a delete of the topic
        // cannot fall between the check and the commit.
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        let log = topics
            .get(topic)
            .ok_or_else(|| StoreError::TopicNotFound(topic.clone()))?;
        let next_offset = log
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .next_offset();
        check_commit(group, topic, commit.offset, next_offset)?;
        self.groups().commit(group, topic, commit);
        Ok(())
    }

    async fn fetch_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<OffsetCommit>, StoreError> {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        if !topics.contains_key(topic) {
            return Err(StoreError::TopicNotFound(topic.clone()));
        }
        Ok(self.groups().fetch(group, topic).cloned())
    }

    async fn list_groups(
        &self,
        after: Option<&GroupName>,
        limit: usize,
    ) -> Result<Vec<GroupName>, StoreError> {
        Ok(self.groups().list(after, limit))
    }

    async fn describe_group(
        &self,
        group: &GroupName,
    ) -> Result<Vec<(TopicName, OffsetCommit)>, StoreError> {
        self.groups()
            .describe(group)
            .ok_or_else(|| StoreError::GroupNotFound(group.clone()))
    }

    async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError> {
        self.groups()
            .delete(group)
            .ok_or_else(|| StoreError::GroupNotFound(group.clone()))
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
        let log = self.new_log(settings);
        topics.insert(topic.clone(), Arc::new(RwLock::new(log)));
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
        let removed = {
            let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
            let removed = topics
                .remove(topic)
                .ok_or_else(|| StoreError::TopicNotFound(topic.clone()))?;
            self.groups().delete_topic(topic);
            removed
        };
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
        if let Some(cutoff) = defaults.group_retention.cutoff(now) {
            let mut groups = self.groups();
            for group in groups.idle_since(cutoff) {
                groups.delete(&group);
                report.groups_removed += 1;
            }
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

    async fn open_capped(max_producers: usize) -> (Arc<dyn Store>, ()) {
        let options = MemoryOptions { max_producers };
        (Arc::new(MemoryStore::with_options(options)), ())
    }

    crate::conformance_tests!(open);
    crate::conformance_tests!(exact_size_retention open);
    crate::conformance_tests!(capped open_capped);

    #[test]
    fn compact_keeps_each_record_and_drops_the_receive_buffer() {
        let received = Bytes::from(vec![7u8; 4096]);
        let records = vec![
            Record::from_payload(received.slice(0..3)),
            Record::from_payload(Bytes::new()),
            Record {
                payload: received.slice(10..110),
                key: received.slice(200..216),
                headers: vec![
                    Header {
                        name: "trace".to_owned(),
                        value: received.slice(300..340),
                    },
                    Header {
                        name: "empty".to_owned(),
                        value: Bytes::new(),
                    },
                ],
            },
        ];
        let compacted = compact(records.clone());
        assert_eq!(compacted, records);
        drop(records);
        // The 4 KiB buffer is no longer referenced by the kept payloads.
        assert!(received.is_unique());
    }
}
