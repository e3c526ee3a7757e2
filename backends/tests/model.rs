//! Property tests: random interleavings of appends, reads, removals,
//! deletes, listings and (for the persistent stores) restarts give exactly
//! the results of a simple model, on every store. CI runs a fixed number of cases
//! (`MODEL_CASES`, 48 by default).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use minikafka_backends::{
    Batch, Durability, FileOptions, FileStore, MemoryStore, ReadLimits, ReadResult, Recovery,
    RetentionAge, RetentionDefaults, SettingsChange, SqliteOptions, SqliteStore, Store, StoreError,
    Timestamp, TopicName,
};
use proptest::prelude::*;

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Op {
    Append {
        topic: usize,
        sizes: Vec<usize>,
        advance: u64,
    },
    Read {
        topic: usize,
        from: u64,
        max_messages: usize,
        max_bytes: usize,
    },
    Remove {
        age: u64,
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

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, prop::collection::vec(0..40usize, 1..6), 0..3u64)
            .prop_map(|(topic, sizes, advance)| Op::Append { topic, sizes, advance }),
        4 => (0..3usize, 0..30u64, 1..8usize, 0..120usize)
            .prop_map(|(topic, from, max_messages, max_bytes)| Op::Read { topic, from, max_messages, max_bytes }),
        1 => (0..10u64).prop_map(|age| Op::Remove { age }),
        1 => (0..3usize).prop_map(|topic| Op::Describe { topic }),
        1 => (0..3usize).prop_map(|topic| Op::Delete { topic }),
        1 => (0..3usize, prop::option::of(0..10u64)).prop_map(|(topic, age)| Op::Retain { topic, age }),
        1 => (prop::option::of(0..3usize), 0..4usize).prop_map(|(after, limit)| Op::List { after, limit }),
        1 => Just(Op::Reopen),
    ]
}

/// A message as the model keeps it: offset, timestamp, payload.
type Kept = (u64, u64, Bytes);

/// What the store should hold: per topic, its retained messages and its
/// next offset; and the retention age of each topic that has its own
/// (`None`: forever).
#[derive(Default)]
struct Model {
    topics: BTreeMap<usize, (Vec<Kept>, u64)>,
    own_retention: BTreeMap<usize, Option<u64>>,
}

/// A comparable summary of a read: messages, earliest and next offset.
type Outcome = Result<(Vec<Kept>, u64, u64), String>;

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

impl Model {
    fn append(&mut self, topic: usize, payloads: &[Bytes], now: u64) -> (u64, u64) {
        let (messages, next) = self.topics.entry(topic).or_insert((Vec::new(), 1));
        let first = *next;
        for payload in payloads {
            messages.push((*next, now, payload.clone()));
            *next += 1;
        }
        (first, *next - 1)
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
            if out.len() >= max_messages || (!out.is_empty() && bytes + m.2.len() > max_bytes) {
                break;
            }
            bytes += m.2.len();
            out.push(m.clone());
        }
        Ok((out, earliest, *next))
    }

    /// Deletes a topic: how many messages it held, `None` if unknown.
    fn delete(&mut self, topic: usize) -> Option<u64> {
        self.own_retention.remove(&topic);
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
    }
}

fn outcome(result: Result<ReadResult, StoreError>) -> Outcome {
    match result {
        Ok(r) => Ok((
            r.messages
                .into_iter()
                .map(|m| (m.offset, m.timestamp.as_nanos(), m.payload))
                .collect(),
            r.earliest_offset,
            r.next_offset,
        )),
        Err(StoreError::TopicNotFound(_)) => Err("not found".into()),
        Err(StoreError::OffsetOutOfRange { .. }) => Err("out of range".into()),
        Err(other) => Err(format!("unexpected: {other}")),
    }
}

/// Runs `ops` against the store `open` makes (reopening it on `Reopen`
/// when `persistent`), checking each result against the model. The clock
/// only moves forward here, so the model needs no timestamp clamping.
fn check(
    ops: &[Op],
    persistent: bool,
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
                    sizes,
                    advance,
                } => {
                    clock += advance;
                    let payloads: Vec<Bytes> = sizes
                        .iter()
                        .enumerate()
                        .map(|(i, &s)| payload(step + i, s))
                        .collect();
                    let range = store
                        .append(
                            &topic_name(*topic),
                            Batch::new(payloads.clone()),
                            Timestamp::from_nanos(clock),
                        )
                        .await;
                    let range = range.map_err(|e| {
                        TestCaseError::fail(format!("step {step}: append failed: {e}"))
                    })?;
                    prop_assert_eq!(
                        (range.first, range.last),
                        model.append(*topic, &payloads, clock),
                        "step {}",
                        step
                    );
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
                Op::Remove { age } => {
                    let defaults =
                        RetentionDefaults::by_age(RetentionAge::MaxAge(Duration::from_nanos(*age)));
                    store
                        .enforce_retention(Timestamp::from_nanos(clock), defaults)
                        .await
                        .expect("remove");
                    model.remove(clock, *age);
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
                            let size: usize = messages.iter().map(|m| m.2.len()).sum();
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
                Op::Reopen if persistent => {
                    drop(store);
                    store = open();
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
        check(&ops, false, &|| Arc::clone(&store))?;
    }

    #[test]
    fn the_file_store_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().expect("temporary directory");
        check(&ops, true, &|| file_store(dir.path()))?;
    }

    #[test]
    fn the_sqlite_store_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().expect("temporary directory");
        check(&ops, true, &|| sqlite_store(dir.path()))?;
    }
}
