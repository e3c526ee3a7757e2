//! Measures a store directly (no network): appends one at a time and from
//! 64 concurrent tasks (group commit), batched appends, reads from the
//! start, the cost of a read as the topic grows, and (for the persistent
//! stores) the time to open a store holding 100 MB and 1 GB.
//!
//! ```sh
//! cargo run --release -p minikafka-backends --example store_bench -- file|sqlite|memory [DIR]
//! ```
//!
//! DIR (default: the system's temporary directory) must be on the disk to
//! measure; it needs about 2.5 GB free. Each figure is the median of 3 runs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use minikafka_backends::{
    Batch, Durability, FileOptions, FileStore, MemoryStore, ReadLimits, SqliteOptions, SqliteStore,
    Store, Timestamp, TopicName,
};

const RUNS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    File,
    Sqlite,
    Memory,
}

fn open(backend: Backend, path: &Path, durability: Durability) -> Arc<dyn Store> {
    match backend {
        Backend::File => Arc::new(
            FileStore::open(
                path,
                FileOptions {
                    durability,
                    ..FileOptions::default()
                },
            )
            .expect("open"),
        ),
        Backend::Sqlite => Arc::new(
            SqliteStore::open(
                path,
                SqliteOptions {
                    durability,
                    ..SqliteOptions::default()
                },
            )
            .expect("open"),
        ),
        Backend::Memory => Arc::new(MemoryStore::new()),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let backend = match args.next().as_deref() {
        Some("file") => Backend::File,
        Some("sqlite") => Backend::Sqlite,
        Some("memory") => Backend::Memory,
        _ => {
            eprintln!("usage: store_bench file|sqlite|memory [DIR]");
            std::process::exit(2);
        }
    };
    let base = args
        .next()
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let dir = tempfile::tempdir_in(base).expect("temporary directory");
    println!("{backend:?} store benchmark in {}", dir.path().display());
    let durabilities: &[Durability] = if backend == Backend::Memory {
        &[Durability::Never]
    } else {
        &[Durability::Always, Durability::Never]
    };

    for &durability in durabilities {
        for (tasks, batch) in [(1, 1), (64, 1), (1, 100)] {
            let mut rates = Vec::new();
            for run in 0..RUNS {
                let path = dir
                    .path()
                    .join(format!("append-{durability:?}-{tasks}-{batch}-{run}"));
                let store = open(backend, &path, durability);
                rates.push(appends(&store, tasks, batch, Duration::from_secs(2)).await);
            }
            println!(
                "append 100 B messages, {batch:>3} per append, {tasks:>2} tasks, {durability:?}: {:>10.0} messages/s",
                median(rates)
            );
        }
    }

    for (label, messages) in [("100 MB", 100_000u64), ("1 GB", 1_000_000)] {
        let path = dir.path().join(format!("grown-{messages}"));
        let store = open(backend, &path, Durability::Never);
        fill(&*store, messages, 1024, 100).await;
        let mut costs = Vec::new();
        for _ in 0..RUNS {
            costs.push(random_reads(&*store, messages, 10_000).await);
        }
        println!(
            "read 100 messages at a random offset of {label} (1 KiB messages): {:>7.1} us per read",
            median(costs)
        );
        if backend != Backend::Memory {
            drop(store);
            let mut times = Vec::new();
            for _ in 0..RUNS {
                let started = Instant::now();
                let store = open(backend, &path, Durability::Always);
                times.push(started.elapsed().as_secs_f64() * 1e3);
                drop(store);
            }
            println!("open a store holding {label}: {:>7.1} ms", median(times));
        }
    }

    let path = dir.path().join("reads");
    let store = open(backend, &path, Durability::Never);
    fill(&*store, 1_000_000, 100, 1_000).await;
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        rates.push(read_everything(&*store, 1_000_000).await);
    }
    println!(
        "read 1,000,000 x 100 B from the start, 1,000 per read: {:>10.0} messages/s",
        median(rates)
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn topic() -> TopicName {
    TopicName::new("bench").expect("valid")
}

/// Appends batches of `batch` 100-byte messages from `tasks` concurrent
/// tasks for `duration`; returns messages per second.
async fn appends(store: &Arc<dyn Store>, tasks: usize, batch: usize, duration: Duration) -> f64 {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let payloads = vec![Bytes::from(vec![b'x'; 100]); batch];
                let mut count = 0u64;
                while Instant::now() < deadline {
                    store
                        .append(&topic(), Batch::new(payloads.clone()), Timestamp::now())
                        .await
                        .expect("append");
                    count += batch as u64;
                }
                count
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.expect("worker");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Stores `messages` payloads of `size` bytes in batches of `batch`.
async fn fill(store: &dyn Store, messages: u64, size: usize, batch: u64) {
    let payload = Bytes::from(vec![b'y'; size]);
    for _ in 0..messages / batch {
        store
            .append(
                &topic(),
                Batch::new(vec![payload.clone(); batch as usize]),
                Timestamp::now(),
            )
            .await
            .expect("append");
    }
    store.sync().await.expect("sync");
}

/// Reads every message from the start; returns messages per second.
async fn read_everything(store: &dyn Store, messages: u64) -> f64 {
    let limits = ReadLimits {
        max_messages: 1_000,
        max_bytes: 1 << 20,
    };
    let started = Instant::now();
    let mut from = 1;
    while from <= messages {
        let read = store.read(&topic(), from, limits).await.expect("read");
        from = read.messages.last().expect("messages").offset + 1;
    }
    messages as f64 / started.elapsed().as_secs_f64()
}

/// Reads 100 messages from each of `reads` pseudo-random offsets; returns
/// the mean microseconds per read.
async fn random_reads(store: &dyn Store, messages: u64, reads: u64) -> f64 {
    let limits = ReadLimits {
        max_messages: 100,
        max_bytes: 1 << 20,
    };
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let started = Instant::now();
    for _ in 0..reads {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let from = 1 + (state >> 11) % (messages - 100);
        let read = store.read(&topic(), from, limits).await.expect("read");
        assert_eq!(read.messages.len(), 100);
    }
    started.elapsed().as_secs_f64() * 1e6 / reads as f64
}
