//! Property tests: random interleavings of appends, reads, removals,
//! deletes, listings, consumer groups' commits, fetches, descriptions,
//! deletes and expiry, and (for the persistent stores) restarts give
//! exactly the results of a simple model, on every store. CI runs a fixed number of cases
//! (`MODEL_CASES`, 48 by default).
//!
//! Appends carry records with keys and headers, and some come from
//! producers (with their next sequence, a retry of an earlier one, a gap,
//! or a fresh start) or on a condition (`expected_next_offset`). The model
//! knows which batches each store must remember for a producer; where a
//! store may or may not (the file store after a restart, for batches
//! retention removed or producers the sweep forgot: docs/api.md), it
//! accepts either answer and follows the store's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use minikafka_backends::{
    Batch, Durability, FileOptions, FileStore, GroupName, Header, MemoryStore, OffsetCommit,
    OffsetRange, ProducerSequence, ReadLimits, ReadResult, Record, Recovery, RetentionAge,
    RetentionDefaults, SettingsChange, SqliteOptions, SqliteStore, Store, StoreError, Timestamp,
    TopicName,
};
use proptest::prelude::*;

/// The shape of one record: payload size, key size, and each header's
/// name (an index into [`HEADER_NAMES`]) and value size.
type Shape = (usize, usize, Vec<(usize, usize)>);

/// Header names, one repeated within a record and one not ASCII.
const HEADER_NAMES: [&str; 3] = ["trace", "\u{e9}t\u{e9}", "trace"];

/// Which sequence a producer's batch carries.
#[derive(Debug, Clone, Copy)]
enum SequenceChoice {
    /// The one after its latest batch (a fresh start for a new producer).
    Next,
    /// Its batch this many before its latest: a retry.
    Retry(usize),
    /// This many past the next one.
    Gap(u64),
    /// A sequence it never used: a producer starting afresh.
    Fresh,
}

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Op {
    Append {
        topic: usize,
        records: Vec<Shape>,
        advance: u64,
        /// The producer (0..3) and the sequence it sends.
        producer: Option<(usize, SequenceChoice)>,
        /// `expected_next_offset` as the topic's next offset plus this.
        condition: Option<i64>,
    },
    Read {
        topic: usize,
        from: u64,
        max_messages: usize,
        max_bytes: usize,
    },
    /// A sweep with this default age, and groups idle for `group_age`
    /// removed (`None`: the 7-day default, which never passes here).
    Remove {
        age: u64,
        group_age: Option<u64>,
    },
    /// A group (0..3) commits `topic`'s next offset plus `delta` (from -6,
    /// some below 1, to 1, past the next offset).
    Commit {
        group: usize,
        topic: usize,
        delta: i64,
        advance: u64,
    },
    Fetch {
        group: usize,
        topic: usize,
    },
    DescribeGroup {
        group: usize,
    },
    DeleteGroup {
        group: usize,
    },
    ListGroups {
        after: Option<usize>,
        limit: usize,
    },
    Describe {
        topic: usize,
    },
    Delete {
        topic: usize,
    },
    /// Give a topic its own retention age (`None`: forever).
    Retain {
        topic: usize,
        age: Option<u64>,
    },
    List {
        after: Option<usize>,
        limit: usize,
    },
    Reopen,
}

fn shape() -> impl Strategy<Value = Shape> {
    let headers = prop_oneof![
        2 => Just(Vec::new()),
        1 => prop::collection::vec((0..HEADER_NAMES.len(), 0..6usize), 1..4),
    ];
    (
        0..40usize,
        prop_oneof![2 => Just(0), 1 => 1..6usize],
        headers,
    )
}

fn sequence_choice() -> impl Strategy<Value = SequenceChoice> {
    prop_oneof![
        5 => Just(SequenceChoice::Next),
        2 => (0..7usize).prop_map(SequenceChoice::Retry),
        1 => (1..3u64).prop_map(SequenceChoice::Gap),
        1 => Just(SequenceChoice::Fresh),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (
            0..3usize,
            prop::collection::vec(shape(), 1..6),
            0..3u64,
            prop::option::weighted(0.6, (0..3usize, sequence_choice())),
            prop::option::weighted(0.25, -2..=2i64),
        )
            .prop_map(|(topic, records, advance, producer, condition)| Op::Append {
                topic,
                records,
                advance,
                producer,
                condition,
            }),
        4 => (0..3usize, 0..30u64, 1..8usize, 0..120usize)
            .prop_map(|(topic, from, max_messages, max_bytes)| Op::Read { topic, from, max_messages, max_bytes }),
        1 => (0..10u64, prop::option::of(0..12u64))
            .prop_map(|(age, group_age)| Op::Remove { age, group_age }),
        3 => (0..3usize, 0..3usize, -6..=1i64, 0..3u64)
            .prop_map(|(group, topic, delta, advance)| Op::Commit { group, topic, delta, advance }),
        1 => (0..3usize, 0..3usize).prop_map(|(group, topic)| Op::Fetch { group, topic }),
        1 => (0..3usize).prop_map(|group| Op::DescribeGroup { group }),
        1 => (0..3usize).prop_map(|group| Op::DeleteGroup { group }),
        1 => (prop::option::of(0..3usize), 0..4usize)
            .prop_map(|(after, limit)| Op::ListGroups { after, limit }),
        1 => (0..3usize).prop_map(|topic| Op::Describe { topic }),
        1 => (0..3usize).prop_map(|topic| Op::Delete { topic }),
        1 => (0..3usize, prop::option::of(0..10u64)).prop_map(|(topic, age)| Op::Retain { topic, age }),
        1 => (prop::option::of(0..3usize), 0..4usize).prop_map(|(after, limit)| Op::List { after, limit }),
        1 => Just(Op::Reopen),
    ]
}

/// A message as the model keeps it: offset, timestamp, record.
type Kept = (u64, u64, Record);

/// What a store knows of one of a producer's batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// It must remember it (if among the producer's latest five).
    Remembered,
    /// It has forgotten it (and every batch of the producer before it).
    Forgotten,
    /// It may remember it or not (the file store after a restart).
    Maybe,
}

/// One batch a producer stored.
#[derive(Debug, Clone)]
struct Sent {
    sequence: u64,
    offsets: (u64, u64),
    timestamp: u64,
    known: Known,
}

/// What a producer's batch may be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Stored, at the topic's next offsets.
    Stored,
    /// Not stored: it is this earlier batch.
    Duplicate(u64, u64),
    /// Refused: the producer's next sequence is this.
    OutOfOrder(u64),
    /// Refused: the topic's next offset is this.
    Mismatch(u64),
}

/// What the store should hold: per topic, its retained messages and its
/// next offset; the retention age of each topic that has its own
/// (`None`: forever); and per topic and producer, the batches it sent.
#[derive(Default)]
struct Model {
    topics: BTreeMap<usize, (Vec<Kept>, u64)>,
    own_retention: BTreeMap<usize, Option<u64>>,
    producers: BTreeMap<(usize, usize), Vec<Sent>>,
    /// How many fresh starts were made: each gets its own sequences.
    fresh_starts: u64,
    /// Per group, its commit in each topic: (offset, time, metadata).
    groups: BTreeMap<usize, BTreeMap<usize, Committed>>,
}

/// A commit as the model keeps it: offset, time, metadata.
type Committed = (u64, u64, String);

/// A comparable summary of a commit, fetch or group delete: the value, or
/// the error's kind.
type GroupOutcome<T> = Result<T, &'static str>;

/// A comparable summary of a read: messages, earliest and next offset.
type Outcome = Result<(Vec<Kept>, u64, u64), String>;

fn group_name(i: usize) -> GroupName {
    GroupName::new(format!("group-{i}")).expect("valid")
}

fn topic_name(i: usize) -> TopicName {
    TopicName::new(format!("topic-{i}")).expect("valid")
}

fn payload(seed: usize, size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| (seed * 31 + i) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// The record of `shape`, its bytes varied by `seed`.
fn record(seed: usize, shape: &Shape) -> Record {
    let (payload_size, key_size, headers) = shape;
    Record {
        payload: payload(seed, *payload_size),
        key: payload(seed + 7, *key_size),
        headers: headers
            .iter()
            .enumerate()
            .map(|(i, &(name, size))| Header {
                name: HEADER_NAMES[name].to_owned(),
                value: payload(seed + 11 * i, size),
            })
            .collect(),
    }
}

/// The producer id of producer `index`: large, so ids use all 64 bits.
fn producer_id(index: usize) -> u64 {
    u64::MAX - index as u64
}

impl Model {
    fn append(&mut self, topic: usize, records: &[Record], now: u64) -> (u64, u64) {
        let (messages, next) = self.topics.entry(topic).or_insert((Vec::new(), 1));
        let first = *next;
        for record in records {
            messages.push((*next, now, record.clone()));
            *next += 1;
        }
        (first, *next - 1)
    }

    /// The topic's next offset: 1 if it does not exist.
    fn next_offset(&self, topic: usize) -> u64 {
        self.topics.get(&topic).map_or(1, |t| t.1)
    }

    /// A sequence no producer used.
    fn fresh_sequence(&mut self) -> u64 {
        self.fresh_starts += 1;
        self.fresh_starts * 1_000_000
    }

    /// The sequence producer `producer` sends to `topic` for `choice`.
    fn sequence(&mut self, topic: usize, producer: usize, choice: SequenceChoice) -> u64 {
        let sent = self.producers.get(&(topic, producer));
        let last = sent.and_then(|s| s.last()).map(|s| s.sequence);
        match (choice, last) {
            (SequenceChoice::Fresh, _) | (_, None) => self.fresh_sequence(),
            (SequenceChoice::Next, Some(last)) => last.wrapping_add(1),
            (SequenceChoice::Gap(gap), Some(last)) => last.wrapping_add(1 + gap),
            (SequenceChoice::Retry(back), Some(last)) => {
                let sent = sent.map_or(&[][..], Vec::as_slice);
                sent.len()
                    .checked_sub(1 + back)
                    .map_or(last.wrapping_add(1), |i| sent[i].sequence)
            }
        }
    }

    /// What a batch from `producer` (if any) with `sequence`, on
    /// `condition`, may be answered with: one answer where the store's
    /// knowledge of the producer is certain, several where it is not.
    fn answers(
        &self,
        topic: usize,
        producer: Option<(usize, u64)>,
        condition: Option<u64>,
    ) -> Vec<Answer> {
        let next = self.next_offset(topic);
        let unconditional = match condition {
            Some(expected) if expected != next => Answer::Mismatch(next),
            _ => Answer::Stored,
        };
        let Some((producer, sequence)) = producer else {
            return vec![unconditional];
        };
        let sent = self
            .producers
            .get(&(topic, producer))
            .map_or(&[][..], Vec::as_slice);
        let remembered: Vec<&Sent> = sent
            .iter()
            .rev()
            .take_while(|s| s.known == Known::Remembered)
            .take(5)
            .collect();
        if let Some(original) = remembered.iter().find(|s| s.sequence == sequence) {
            return vec![Answer::Duplicate(original.offsets.0, original.offsets.1)];
        }
        let Some(last) = sent.last() else {
            return vec![unconditional];
        };
        let expected = last.sequence.wrapping_add(1);
        if !sent.iter().any(|s| s.known == Known::Maybe) {
            return if remembered.is_empty() || sequence == expected {
                vec![unconditional]
            } else {
                vec![Answer::OutOfOrder(expected)]
            };
        }
        if sequence == expected {
            return vec![unconditional];
        }
        let mut answers = vec![Answer::OutOfOrder(expected)];
        answers.extend(
            sent.iter()
                .filter(|s| s.known == Known::Maybe && s.sequence == sequence)
                .map(|s| Answer::Duplicate(s.offsets.0, s.offsets.1)),
        );
        if remembered.is_empty() {
            answers.push(unconditional);
        }
        answers
    }

    /// Records that `producer`'s batch `sequence` was stored at `offsets`
    /// at `now`. A sequence other than the next one was stored because the
    /// store did not know the producer: it forgot every batch before.
    fn sent(
        &mut self,
        topic: usize,
        producer: usize,
        sequence: u64,
        offsets: (u64, u64),
        now: u64,
    ) {
        let sent = self.producers.entry((topic, producer)).or_default();
        let next = sent.last().map(|s| s.sequence.wrapping_add(1));
        if next != Some(sequence) {
            for earlier in sent.iter_mut() {
                earlier.known = Known::Forgotten;
            }
        }
        sent.push(Sent {
            sequence,
            offsets,
            timestamp: now,
            known: Known::Remembered,
        });
    }

    /// The sweep forgets producers whose latest batch is older than
    /// `cutoff`.
    fn forget_idle(&mut self, cutoff: u64) {
        for sent in self.producers.values_mut() {
            if sent.last().is_some_and(|s| s.timestamp < cutoff) {
                for s in sent.iter_mut() {
                    s.known = Known::Forgotten;
                }
            }
        }
    }

    /// After a restart of a store that rebuilds its producers from the
    /// batches it holds (and may keep forgotten ones in a snapshot): what
    /// it forgot, and batches retention removed, may be known or not.
    fn restarted_loosely(&mut self) {
        for (&(topic, _), sent) in &mut self.producers {
            let earliest = self
                .topics
                .get(&topic)
                .map_or(u64::MAX, |(messages, next)| {
                    messages.first().map_or(*next, |m| m.0)
                });
            for s in sent.iter_mut() {
                if s.known == Known::Forgotten || s.offsets.0 < earliest {
                    s.known = Known::Maybe;
                }
            }
        }
    }

    fn read(&self, topic: usize, from: u64, max_messages: usize, max_bytes: usize) -> Outcome {
        let Some((messages, next)) = self.topics.get(&topic) else {
            return Err("not found".into());
        };
        if from > *next {
            return Err("out of range".into());
        }
        let earliest = messages.first().map_or(*next, |m| m.0);
        let mut out = Vec::new();
        let mut bytes = 0;
        for m in messages.iter().filter(|m| m.0 >= from.max(earliest)) {
            if out.len() >= max_messages || (!out.is_empty() && bytes + m.2.size() > max_bytes) {
                break;
            }
            bytes += m.2.size();
            out.push(m.clone());
        }
        Ok((out, earliest, *next))
    }

    /// `group` commits `offset` in `topic` at `now`.
    fn commit(
        &mut self,
        group: usize,
        topic: usize,
        offset: u64,
        now: u64,
        metadata: &str,
    ) -> GroupOutcome<()> {
        let Some((_, next)) = self.topics.get(&topic) else {
            return Err("topic not found");
        };
        if !(1..=*next).contains(&offset) {
            return Err("out of range");
        }
        let committed = (offset, now, metadata.to_owned());
        self.groups
            .entry(group)
            .or_default()
            .insert(topic, committed);
        Ok(())
    }

    /// `group`'s commit in `topic`.
    fn fetch(&self, group: usize, topic: usize) -> GroupOutcome<Option<Committed>> {
        if !self.topics.contains_key(&topic) {
            return Err("topic not found");
        }
        Ok(self.groups.get(&group).and_then(|g| g.get(&topic)).cloned())
    }

    /// `group`'s commits by topic (numbers sort as the names do).
    fn describe_group(&self, group: usize) -> GroupOutcome<Vec<(String, Committed)>> {
        let commits = self.groups.get(&group).ok_or("group not found")?;
        Ok(commits
            .iter()
            .map(|(&topic, commit)| (topic_name(topic).to_string(), commit.clone()))
            .collect())
    }

    /// Deletes `group`: how many commits it had.
    fn delete_group(&mut self, group: usize) -> GroupOutcome<u64> {
        let commits = self.groups.remove(&group).ok_or("group not found")?;
        Ok(commits.len() as u64)
    }

    /// The names of up to `limit` groups after `after`, in name order.
    fn list_groups(&self, after: Option<usize>, limit: usize) -> Vec<String> {
        self.groups
            .keys()
            .filter(|&&g| after.is_none_or(|after| g > after))
            .take(limit)
            .map(|&g| group_name(g).to_string())
            .collect()
    }

    /// Removes the groups whose newest commit is older than `cutoff`; how
    /// many.
    fn expire_groups(&mut self, cutoff: u64) -> u64 {
        let before = self.groups.len();
        self.groups
            .retain(|_, commits| commits.values().any(|commit| commit.1 >= cutoff));
        (before - self.groups.len()) as u64
    }

    /// Deletes a topic: how many messages it held, `None` if unknown. Its
    /// commits go, and the groups left with none.
    fn delete(&mut self, topic: usize) -> Option<u64> {
        self.own_retention.remove(&topic);
        self.groups.retain(|_, commits| {
            commits.remove(&topic);
            !commits.is_empty()
        });
        self.producers.retain(|&(t, _), _| t != topic);
        self.topics
            .remove(&topic)
            .map(|(messages, _)| messages.len() as u64)
    }

    /// The names of up to `limit` topics after `after`, in name order
    /// (topic names sort as their numbers do: "topic-0" < "topic-1").
    fn list(&self, after: Option<usize>, limit: usize) -> Vec<String> {
        self.topics
            .keys()
            .filter(|&&t| after.is_none_or(|after| t > after))
            .take(limit)
            .map(|&t| topic_name(t).to_string())
            .collect()
    }

    /// Gives an existing topic its own retention age; false if unknown.
    fn retain(&mut self, topic: usize, age: Option<u64>) -> bool {
        let known = self.topics.contains_key(&topic);
        if known {
            self.own_retention.insert(topic, age);
        }
        known
    }

    /// A sweep at `now` with `default_age`: each topic keeps what is newer
    /// than its own age, else the default's.
    fn remove(&mut self, now: u64, default_age: u64) {
        for (topic, (messages, _)) in &mut self.topics {
            let age = self
                .own_retention
                .get(topic)
                .copied()
                .unwrap_or(Some(default_age));
            if let Some(age) = age {
                let cutoff = now.saturating_sub(age);
                messages.retain(|m| m.1 >= cutoff);
            }
        }
        // The default age is the producer expiry too.
        self.forget_idle(now.saturating_sub(default_age));
    }
}

fn outcome(result: Result<ReadResult, StoreError>) -> Outcome {
    match result {
        Ok(r) => Ok((
            r.messages
                .into_iter()
                .map(|m| {
                    let record = Record {
                        payload: m.payload,
                        key: m.key,
                        headers: m.headers,
                    };
                    (m.offset, m.timestamp.as_nanos(), record)
                })
                .collect(),
            r.earliest_offset,
            r.next_offset,
        )),
        Err(StoreError::TopicNotFound(_)) => Err("not found".into()),
        Err(StoreError::OffsetOutOfRange { .. }) => Err("out of range".into()),
        Err(other) => Err(format!("unexpected: {other}")),
    }
}

/// The kind of a group operation's error, as the model names it.
fn group_error(error: StoreError) -> Result<&'static str, TestCaseError> {
    match error {
        StoreError::TopicNotFound(_) => Ok("topic not found"),
        StoreError::GroupNotFound(_) => Ok("group not found"),
        StoreError::CommitOutOfRange { .. } => Ok("out of range"),
        other => Err(TestCaseError::fail(format!("unexpected: {other}"))),
    }
}

/// A group operation's result as a [`GroupOutcome`].
fn group_outcome<T, U>(
    result: Result<T, StoreError>,
    summary: impl FnOnce(T) -> U,
) -> Result<GroupOutcome<U>, TestCaseError> {
    match result {
        Ok(value) => Ok(Ok(summary(value))),
        Err(error) => Ok(Err(group_error(error)?)),
    }
}

/// A stored commit as the model keeps it.
fn committed(commit: OffsetCommit) -> Committed {
    (commit.offset, commit.time.as_nanos(), commit.metadata)
}

/// What an append's result says, as an [`Answer`] and the offsets it got.
fn answered(result: Result<OffsetRange, StoreError>) -> Result<(Answer, (u64, u64)), String> {
    match result {
        Ok(range) => Ok((Answer::Stored, (range.first, range.last))),
        Err(StoreError::SequenceOutOfOrder { expected, .. }) => {
            Ok((Answer::OutOfOrder(expected), (0, 0)))
        }
        Err(StoreError::NextOffsetMismatch { actual, .. }) => {
            Ok((Answer::Mismatch(actual), (0, 0)))
        }
        Err(other) => Err(other.to_string()),
    }
}

/// How a store rebuilds its producers when it reopens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// It is never reopened (the memory store).
    Never,
    /// Exactly as they were (SQLite keeps them in their own table).
    Exactly,
    /// From the batches it holds: what retention removed or the sweep
    /// forgot may be known or not (the file store).
    Loosely,
}

/// Runs `ops` against the store `open` makes (reopening it on `Reopen`
/// unless `restart` is `Never`), checking each result against the model.
/// The clock only moves forward here, so the model needs no timestamp
/// clamping.
fn check(
    ops: &[Op],
    restart: Restart,
    open: &dyn Fn() -> Arc<dyn Store>,
) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut store = open();
        let mut model = Model::default();
        let mut clock = 1_000u64;
        for (step, op) in ops.iter().enumerate() {
            match op {
                Op::Append {
                    topic,
                    records,
                    advance,
                    producer,
                    condition,
                } => {
                    clock += advance;
                    let records: Vec<Record> = records
                        .iter()
                        .enumerate()
                        .map(|(i, shape)| record(step + i, shape))
                        .collect();
                    let producer =
                        producer.map(|(p, choice)| (p, model.sequence(*topic, p, choice)));
                    let condition = condition
                        .map(|delta| model.next_offset(*topic).saturating_add_signed(delta));
                    let answers = model.answers(*topic, producer, condition);
                    let batch = Batch {
                        producer: producer.map(|(p, sequence)| ProducerSequence {
                            producer_id: producer_id(p),
                            sequence,
                        }),
                        expected_next_offset: condition,
                        ..Batch::of_records(records.clone())
                    };
                    let result = store
                        .append(&topic_name(*topic), batch, Timestamp::from_nanos(clock))
                        .await;
                    let (answer, offsets) = answered(result).map_err(|e| {
                        TestCaseError::fail(format!("step {step}: append failed: {e}"))
                    })?;
                    let answer = match answer {
                        Answer::Stored
                            if answers.contains(&Answer::Duplicate(offsets.0, offsets.1)) =>
                        {
                            Answer::Duplicate(offsets.0, offsets.1)
                        }
                        other => other,
                    };
                    prop_assert!(
                        answers.contains(&answer),
                        "step {}: {:?} {:?} was answered {:?} {:?}; the model allows {:?}",
                        step,
                        producer,
                        condition,
                        answer,
                        offsets,
                        answers
                    );
                    if answer == Answer::Stored {
                        let expected = model.append(*topic, &records, clock);
                        prop_assert_eq!(offsets, expected, "step {}", step);
                        if let Some((p, sequence)) = producer {
                            model.sent(*topic, p, sequence, offsets, clock);
                        }
                    }
                }
                Op::Read {
                    topic,
                    from,
                    max_messages,
                    max_bytes,
                } => {
                    let limits = ReadLimits {
                        max_messages: *max_messages,
                        max_bytes: *max_bytes,
                    };
                    let got = outcome(store.read(&topic_name(*topic), *from, limits).await);
                    prop_assert_eq!(
                        got,
                        model.read(*topic, *from, *max_messages, *max_bytes),
                        "step {}: {:?}",
                        step,
                        op
                    );
                }
                Op::Remove { age, group_age } => {
                    let mut defaults =
                        RetentionDefaults::by_age(RetentionAge::MaxAge(Duration::from_nanos(*age)));
                    if let Some(group_age) = group_age {
                        defaults.group_retention =
                            RetentionAge::MaxAge(Duration::from_nanos(*group_age));
                    }
                    let report = store
                        .enforce_retention(Timestamp::from_nanos(clock), defaults)
                        .await
                        .expect("remove");
                    model.remove(clock, *age);
                    let groups_removed =
                        group_age.map_or(0, |g| model.expire_groups(clock.saturating_sub(g)));
                    prop_assert_eq!(report.groups_removed, groups_removed, "step {}", step);
                }
                Op::Commit {
                    group,
                    topic,
                    delta,
                    advance,
                } => {
                    clock += advance;
                    let offset = model.next_offset(*topic).saturating_add_signed(*delta);
                    let metadata = format!("step {step}");
                    let commit = OffsetCommit {
                        offset,
                        time: Timestamp::from_nanos(clock),
                        metadata: metadata.clone(),
                    };
                    let got = store
                        .commit_offset(&group_name(*group), &topic_name(*topic), commit)
                        .await;
                    prop_assert_eq!(
                        group_outcome(got, |()| ())?,
                        model.commit(*group, *topic, offset, clock, &metadata),
                        "step {}: {:?}",
                        step,
                        op
                    );
                }
                Op::Fetch { group, topic } => {
                    let got = store
                        .fetch_offset(&group_name(*group), &topic_name(*topic))
                        .await;
                    prop_assert_eq!(
                        group_outcome(got, |commit| commit.map(committed))?,
                        model.fetch(*group, *topic),
                        "step {}: {:?}",
                        step,
                        op
                    );
                }
                Op::DescribeGroup { group } => {
                    let got = store.describe_group(&group_name(*group)).await;
                    let summary = |commits: Vec<(TopicName, OffsetCommit)>| {
                        commits
                            .into_iter()
                            .map(|(topic, commit)| (topic.to_string(), committed(commit)))
                            .collect::<Vec<_>>()
                    };
                    prop_assert_eq!(
                        group_outcome(got, summary)?,
                        model.describe_group(*group),
                        "step {}: {:?}",
                        step,
                        op
                    );
                }
                Op::DeleteGroup { group } => {
                    let got = store.delete_group(&group_name(*group)).await;
                    prop_assert_eq!(
                        group_outcome(got, |deleted| deleted)?,
                        model.delete_group(*group),
                        "step {}: {:?}",
                        step,
                        op
                    );
                }
                Op::ListGroups { after, limit } => {
                    let after_name = after.map(group_name);
                    let got: Vec<String> = store
                        .list_groups(after_name.as_ref(), *limit)
                        .await
                        .map_err(|e| TestCaseError::fail(format!("step {step}: list groups: {e}")))?
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    prop_assert_eq!(got, model.list_groups(*after, *limit), "step {}", step);
                }
                Op::Retain { topic, age } => {
                    let retention = match age {
                        Some(age) => RetentionAge::MaxAge(Duration::from_nanos(*age)),
                        None => RetentionAge::Forever,
                    };
                    let change = SettingsChange {
                        retention: Some(Some(retention)),
                        ..SettingsChange::default()
                    };
                    let got = match store.update_topic(&topic_name(*topic), change).await {
                        Ok(settings) => {
                            prop_assert_eq!(settings.retention, Some(retention), "step {}", step);
                            true
                        }
                        Err(StoreError::TopicNotFound(_)) => false,
                        Err(other) => {
                            return Err(TestCaseError::fail(format!(
                                "step {step}: update failed: {other}"
                            )));
                        }
                    };
                    prop_assert_eq!(got, model.retain(*topic, *age), "step {}", step);
                }
                Op::Describe { topic } => {
                    let got = store.describe(&topic_name(*topic)).await;
                    match (got, model.topics.get(topic)) {
                        (Ok(info), Some((messages, next))) => {
                            let earliest = messages.first().map_or(*next, |m| m.0);
                            let size: usize = messages.iter().map(|m| m.2.size()).sum();
                            prop_assert_eq!(
                                (
                                    info.earliest_offset,
                                    info.next_offset,
                                    info.message_count,
                                    info.size_bytes
                                ),
                                (earliest, *next, messages.len() as u64, size as u64),
                                "step {}",
                                step
                            );
                            let oldest = info.oldest_timestamp.map(Timestamp::as_nanos);
                            prop_assert_eq!(oldest, messages.first().map(|m| m.1), "step {}", step);
                        }
                        (Err(StoreError::TopicNotFound(_)), None) => {}
                        (got, want) => {
                            let got = got.map(|info| info.next_offset).map_err(|e| e.to_string());
                            prop_assert!(
                                false,
                                "step {}: describe gave {:?}, the model has {:?}",
                                step,
                                got,
                                want.map(|w| w.1)
                            );
                        }
                    }
                }
                Op::Delete { topic } => {
                    let got = match store.delete_topic(&topic_name(*topic)).await {
                        Ok(held) => Some(held),
                        Err(StoreError::TopicNotFound(_)) => None,
                        Err(other) => {
                            return Err(TestCaseError::fail(format!(
                                "step {step}: delete failed: {other}"
                            )));
                        }
                    };
                    prop_assert_eq!(got, model.delete(*topic), "step {}", step);
                }
                Op::List { after, limit } => {
                    let after_name = after.map(topic_name);
                    let got: Vec<String> = store
                        .list(after_name.as_ref(), *limit)
                        .await
                        .map_err(|e| TestCaseError::fail(format!("step {step}: list: {e}")))?
                        .into_iter()
                        .map(|info| info.name.to_string())
                        .collect();
                    prop_assert_eq!(got, model.list(*after, *limit), "step {}", step);
                }
                Op::Reopen if restart != Restart::Never => {
                    drop(store);
                    store = open();
                    if restart == Restart::Loosely {
                        model.restarted_loosely();
                    }
                }
                Op::Reopen => {}
            }
        }
        Ok(())
    })
}

fn config() -> ProptestConfig {
    let cases = std::env::var("MODEL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Segments of a few records, so scenarios cross segments and retention
/// deletes whole ones.
fn file_store(path: &Path) -> Arc<dyn Store> {
    let options = FileOptions {
        durability: Durability::Never,
        segment_bytes: 150,
        recovery: Recovery::Strict,
        ..FileOptions::default()
    };
    Arc::new(FileStore::open(path, options).expect("open"))
}

fn sqlite_store(path: &Path) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(
            path,
            SqliteOptions {
                durability: Durability::Never,
                ..SqliteOptions::default()
            },
        )
        .expect("open"),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_memory_store_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        check(&ops, Restart::Never, &|| Arc::clone(&store))?;
    }

    #[test]
    fn the_file_store_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().expect("temporary directory");
        check(&ops, Restart::Loosely, &|| file_store(dir.path()))?;
    }

    #[test]
    fn the_sqlite_store_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().expect("temporary directory");
        check(&ops, Restart::Exactly, &|| sqlite_store(dir.path()))?;
    }
}
