//! [`ProducerTable`]: what makes a produce safe to retry, shared by every
//! store.
//!
//! A producer that sends a producer id and a sequence number with each
//! batch can retry a batch whose answer it never got: the store recognises
//! a sequence it has stored and answers with the original offsets instead
//! of storing the batch again. Each store keeps one table per topic,
//! changes it only together with the batches it describes (so it is as
//! durable as they are), and rebuilds it when it opens.
//!
//! The table is bounded twice: a producer idle for longer than the
//! server's producer expiry is forgotten by the retention sweep, and past
//! `max_producers` the least recently active producer is forgotten. A
//! forgotten producer is new again: its next batch is stored whatever its
//! sequence, so a retry that arrives after that can be stored twice
//! (docs/api.md says so).

use std::collections::{HashMap, VecDeque};

use crate::{OffsetRange, ProducerSequence, StoreError, Timestamp, TopicName};

/// How many of a producer's latest batches are remembered per topic, so a
/// producer can have this many batches in flight and retry any of them.
pub const REMEMBERED_BATCHES: usize = 5;

/// The producers remembered per topic when the configuration says nothing
/// (`MINIKAFKA_MAX_PRODUCERS`).
pub const DEFAULT_MAX_PRODUCERS: usize = 10_000;

/// What a store does with a batch from a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Store it: its sequence is the next one (or the producer is new).
    Append,
    /// Do not store it: it was stored already, at these offsets. Answer
    /// with them once the original is durable.
    Duplicate(OffsetRange),
}

/// One batch a producer stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StoredBatch {
    sequence: u64,
    offsets: OffsetRange,
}

/// What the table remembers of one producer in one topic.
#[derive(Clone, Debug)]
struct ProducerState {
    /// Its latest batches, oldest first; never empty.
    batches: VecDeque<StoredBatch>,
    /// When its latest batch was stored.
    last_stored: Timestamp,
}

/// What a [`ProducerTable`] remembers of one producer, for saving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RememberedProducer {
    /// The producer.
    pub producer_id: u64,
    /// When its latest batch was stored.
    pub last_stored: Timestamp,
    /// Its latest batches as (sequence, offsets), oldest first.
    pub batches: Vec<(u64, OffsetRange)>,
}

/// The producers of one topic and their latest batches.
#[derive(Clone, Debug)]
pub struct ProducerTable {
    producers: HashMap<u64, ProducerState>,
    max_producers: usize,
}

impl ProducerTable {
    /// An empty table that remembers at most `max_producers` producers
    /// (at least one).
    pub fn new(max_producers: usize) -> Self {
        Self {
            producers: HashMap::new(),
            max_producers: max_producers.max(1),
        }
    }

    /// Decides what to do with a batch `producer` sent to `topic`: append
    /// it, answer it as a duplicate, or refuse it with
    /// [`StoreError::SequenceOutOfOrder`].
    pub fn admit(
        &self,
        topic: &TopicName,
        producer: ProducerSequence,
    ) -> Result<Admission, StoreError> {
        let Some(state) = self.producers.get(&producer.producer_id) else {
            return Ok(Admission::Append);
        };
        let last = state.batches.back().map_or(0, |b| b.sequence);
        let expected = last.wrapping_add(1);
        if producer.sequence == expected {
            return Ok(Admission::Append);
        }
        match state
            .batches
            .iter()
            .find(|b| b.sequence == producer.sequence)
        {
            Some(stored) => Ok(Admission::Duplicate(stored.offsets)),
            None => Err(StoreError::SequenceOutOfOrder {
                topic: topic.clone(),
                producer_id: producer.producer_id,
                received: producer.sequence,
                expected,
            }),
        }
    }

    /// Records that `producer`'s batch was stored at `offsets` at `now`.
    /// Call it only for a batch [`admit`](Self::admit) answered
    /// [`Admission::Append`], in the order the batches were stored (also
    /// when replaying stored batches to rebuild the table).
    pub fn record(&mut self, producer: ProducerSequence, offsets: OffsetRange, now: Timestamp) {
        if !self.producers.contains_key(&producer.producer_id)
            && self.producers.len() >= self.max_producers
        {
            self.forget_least_recent();
        }
        let state = self
            .producers
            .entry(producer.producer_id)
            .or_insert_with(|| ProducerState {
                batches: VecDeque::with_capacity(REMEMBERED_BATCHES),
                last_stored: now,
            });
        if state.batches.len() == REMEMBERED_BATCHES {
            state.batches.pop_front();
        }
        state.batches.push_back(StoredBatch {
            sequence: producer.sequence,
            offsets,
        });
        state.last_stored = state.last_stored.max(now);
    }

    /// Forgets every producer whose latest batch was stored before
    /// `cutoff`; returns how many.
    pub fn forget_idle(&mut self, cutoff: Timestamp) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, state| state.last_stored >= cutoff);
        before - self.producers.len()
    }

    /// How many producers are remembered.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is remembered.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Everything the table remembers, least recently active producer
    /// first: what a store saves to rebuild the table without replaying
    /// every stored batch. [`record`](Self::record)ing each producer's
    /// batches in this order, at its `last_stored`, rebuilds an equal
    /// table (and the cap forgets the same producers it would have).
    pub fn remembered(&self) -> Vec<RememberedProducer> {
        let mut producers: Vec<RememberedProducer> = self
            .producers
            .iter()
            .map(|(&producer_id, state)| RememberedProducer {
                producer_id,
                last_stored: state.last_stored,
                batches: state
                    .batches
                    .iter()
                    .map(|b| (b.sequence, b.offsets))
                    .collect(),
            })
            .collect();
        producers.sort_by_key(|p| (p.last_stored, p.producer_id));
        producers
    }

    /// Rebuilds the remembered state of one producer, as
    /// [`remembered`](Self::remembered) gave it.
    pub fn restore(&mut self, producer: &RememberedProducer) {
        for &(sequence, offsets) in &producer.batches {
            let batch = ProducerSequence {
                producer_id: producer.producer_id,
                sequence,
            };
            self.record(batch, offsets, producer.last_stored);
        }
    }

    /// Forgets the producer whose latest batch is the oldest. A scan, but
    /// only when a new producer arrives at a full table.
    fn forget_least_recent(&mut self) {
        let oldest = self
            .producers
            .iter()
            .min_by_key(|(_, state)| state.last_stored)
            .map(|(&id, _)| id);
        if let Some(id) = oldest {
            self.producers.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> TopicName {
        TopicName::new("orders").expect("valid")
    }

    fn seq(producer_id: u64, sequence: u64) -> ProducerSequence {
        ProducerSequence {
            producer_id,
            sequence,
        }
    }

    fn range(first: u64, last: u64) -> OffsetRange {
        OffsetRange { first, last }
    }

    fn at(nanos: u64) -> Timestamp {
        Timestamp::from_nanos(nanos)
    }

    #[test]
    fn a_new_producer_starts_at_any_sequence_and_then_counts_up() {
        let mut table = ProducerTable::new(10);
        assert_eq!(
            table.admit(&topic(), seq(7, 41)).expect("admitted"),
            Admission::Append
        );
        table.record(seq(7, 41), range(1, 3), at(1));
        assert_eq!(
            table.admit(&topic(), seq(7, 42)).expect("admitted"),
            Admission::Append
        );
        let gap = table.admit(&topic(), seq(7, 44)).expect_err("refused");
        assert!(
            matches!(
                gap,
                StoreError::SequenceOutOfOrder {
                    received: 44,
                    expected: 42,
                    ..
                }
            ),
            "{gap:?}"
        );
        assert_eq!(
            gap.to_string(),
            "topic 'orders': producer 7 sent sequence 44, but the next expected from it is 42"
        );
    }

    #[test]
    fn the_last_batches_are_answered_with_their_offsets_and_older_ones_refused() {
        let mut table = ProducerTable::new(10);
        for n in 0..=REMEMBERED_BATCHES as u64 {
            table.record(seq(1, n), range(n * 10 + 1, n * 10 + 10), at(n));
        }
        for n in 1..=REMEMBERED_BATCHES as u64 {
            assert_eq!(
                table.admit(&topic(), seq(1, n)).expect("admitted"),
                Admission::Duplicate(range(n * 10 + 1, n * 10 + 10))
            );
        }
        let old = table.admit(&topic(), seq(1, 0)).expect_err("refused");
        assert!(
            old.to_string()
                .contains("older than the batches remembered")
        );
    }

    #[test]
    fn producers_are_separate() {
        let mut table = ProducerTable::new(10);
        table.record(seq(1, 5), range(1, 1), at(1));
        assert_eq!(
            table.admit(&topic(), seq(2, 5)).expect("admitted"),
            Admission::Append
        );
    }

    #[test]
    fn idle_producers_are_forgotten_and_then_start_afresh() {
        let mut table = ProducerTable::new(10);
        table.record(seq(1, 0), range(1, 1), at(100));
        table.record(seq(2, 0), range(2, 2), at(200));
        assert_eq!(table.forget_idle(at(150)), 1);
        assert_eq!(table.len(), 1);
        assert_eq!(
            table.admit(&topic(), seq(1, 9)).expect("admitted"),
            Admission::Append
        );
        assert!(table.admit(&topic(), seq(2, 9)).is_err());
    }

    #[test]
    fn past_the_cap_the_least_recently_active_producer_is_forgotten() {
        let mut table = ProducerTable::new(2);
        table.record(seq(1, 0), range(1, 1), at(1));
        table.record(seq(2, 0), range(2, 2), at(2));
        table.record(seq(1, 1), range(3, 3), at(3));
        table.record(seq(3, 0), range(4, 4), at(4));
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.admit(&topic(), seq(2, 7)).expect("admitted"),
            Admission::Append
        );
        assert_eq!(
            table.admit(&topic(), seq(1, 1)).expect("admitted"),
            Admission::Duplicate(range(3, 3))
        );
    }
}
