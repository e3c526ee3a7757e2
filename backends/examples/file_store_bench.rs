//! Measures the file store directly (no network): group commit, read
//! throughput, and start-up time against the amount of data stored.
//!
//! ```sh
//! cargo run --release -p minikafka-backends --example file_store_bench -- [DIR]
//! ```
//!
//! DIR (default: a temporary directory) must be on the disk to measure; it
//! needs about 1.2 GB free. Each figure is the median of 3 runs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use minikafka_backends::{
    Durability, FileOptions, FileStore, ReadLimits, Store, Timestamp, TopicName,
};

const RUNS: usize = 3;

#[tokio::main]
async fn main() {
    let base = std::env::args().nth(1).map(std::path::PathBuf::from);
    let dir =
        tempfile::tempdir_in(base.unwrap_or_else(std::env::temp_dir)).expect("temporary directory");
    println!("file store benchmark in {}", dir.path().display());

    for durability in [Durability::Always, Durability::Never] {
        for tasks in [1, 64] {
            let mut rates = Vec::new();
            for run in 0..RUNS {
                let path = dir
                    .path()
                    .join(format!("produce-{durability:?}-{tasks}-{run}"));
                rates.push(appends(&path, durability, tasks, Duration::from_secs(2)).await);
            }
            println!(
                "append 100 B, one message per append, {tasks:>2} concurrent tasks, {durability:?}: {:>9.0} appends/s (median of {RUNS})",
                median(rates)
            );
        }
    }

    let read_dir = dir.path().join("reads");
    fill(&read_dir, 1_000_000, 100, 1_000).await;
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        rates.push(read_everything(&read_dir, 1_000_000).await);
    }
    println!(
        "read 1,000,000 x 100 B from the start, 1,000 per read: {:>9.0} messages/s (median of {RUNS})",
        median(rates)
    );

    for (label, messages) in [("100 MB", 100_000u64), ("1 GB", 1_000_000)] {
        let path = dir.path().join(format!("startup-{messages}"));
        fill(&path, messages, 1024, 100).await;
        let times: Vec<f64> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                let store = FileStore::open(&path, FileOptions::default()).expect("open");
                let elapsed = started.elapsed().as_secs_f64() * 1e3;
                drop(store);
                elapsed
            })
            .collect();
        println!(
            "open a store holding {label} (1 KiB messages, 64 MiB segments): {:>7.1} ms (median of {RUNS})",
            median(times)
        );
        let mut costs = Vec::new();
        for _ in 0..RUNS {
            costs.push(random_reads(&path, messages, 10_000).await);
        }
        println!(
            "read 100 messages at a random offset of {label}: {:>7.1} us per read (median of {RUNS})",
            median(costs)
        );
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn topic() -> TopicName {
    TopicName::new("bench").expect("valid")
}

/// Appends single 100-byte messages from `tasks` concurrent tasks for
/// `duration`; returns appends per second.
async fn appends(path: &Path, durability: Durability, tasks: usize, duration: Duration) -> f64 {
    let store: Arc<dyn Store> = Arc::new(
        FileStore::open(
            path,
            FileOptions {
                durability,
                ..FileOptions::default()
            },
        )
        .expect("open"),
    );
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut count = 0u64;
                let payload = Bytes::from(vec![b'x'; 100]);
                while Instant::now() < deadline {
                    store
                        .append(&topic(), vec![payload.clone()], Timestamp::now())
                        .await
                        .expect("append");
                    count += 1;
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
async fn fill(path: &Path, messages: u64, size: usize, batch: u64) {
    let options = FileOptions {
        durability: Durability::Never,
        ..FileOptions::default()
    };
    let store = FileStore::open(path, options).expect("open");
    let payload = Bytes::from(vec![b'y'; size]);
    for _ in 0..messages / batch {
        store
            .append(
                &topic(),
                vec![payload.clone(); batch as usize],
                Timestamp::now(),
            )
            .await
            .expect("append");
    }
    store.sync().await.expect("sync");
}

/// Reads every message from the start; returns messages per second.
async fn read_everything(path: &Path, messages: u64) -> f64 {
    let store = FileStore::open(path, FileOptions::default()).expect("open");
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
async fn random_reads(path: &Path, messages: u64, reads: u64) -> f64 {
    let store = FileStore::open(path, FileOptions::default()).expect("open");
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
