//! What a read from a time costs as a topic grows: in a file store topic of
//! 10^4 and of 10^7 messages, the median time of `offset_for_time` plus a
//! read of 100 messages from there, against a read of 100 messages from an
//! offset, each at 1,000 random points. Both should cost about the same,
//! whatever the size: the time is found by binary search over the
//! segments and their indexes, never by a scan.
//!
//! ```sh
//! cargo run --release -p minikafka-backends --example time_bench -- [DIR]
//! ```
//!
//! DIR (default: the system's temporary directory) needs about 600 MB free.

use std::time::{Duration, Instant};

use bytes::Bytes;
use minikafka_backends::{
    Batch, Durability, FileOptions, FileStore, ReadLimits, Store, Timestamp, TopicName,
};

const POINTS: usize = 1_000;
const READ: ReadLimits = ReadLimits {
    max_messages: 100,
    max_bytes: 1 << 20,
};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A tiny deterministic generator, so runs pick the same points.
fn points(count: u64) -> impl Iterator<Item = u64> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    std::iter::repeat_with(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        1 + state % count
    })
}

#[tokio::main]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    println!(
        "| messages | offset_for_time + read 100 (median) | read 100 from an offset (median) |"
    );
    println!("|---|---|---|");
    for count in [10_000_u64, 10_000_000] {
        let root = tempfile::tempdir_in(&dir).expect("temporary directory");
        let options = FileOptions {
            durability: Durability::Never,
            ..FileOptions::default()
        };
        let store = FileStore::open(root.path(), options).expect("open");
        let topic = TopicName::new("times").expect("valid");
        // Message i is stored at i milliseconds: one timestamp per batch
        // of 1,000, so times repeat as they do under load.
        let payload = Bytes::from_static(b"sixteen byte msg");
        for batch in 0..count / 1_000 {
            let records = vec![payload.clone(); 1_000];
            let at = Timestamp::from_nanos(1_000_000_000_000 + batch * 1_000_000_000);
            store
                .append(&topic, Batch::new(records), at)
                .await
                .expect("append");
        }
        let batches = count / 1_000;
        let mut by_time = Vec::with_capacity(POINTS);
        for batch in points(batches).take(POINTS) {
            let time = Timestamp::from_nanos(1_000_000_000_000 + (batch - 1) * 1_000_000_000);
            let started = Instant::now();
            let offset = store.offset_for_time(&topic, time).await.expect("time");
            let read = store.read(&topic, offset, READ).await.expect("read");
            by_time.push(started.elapsed());
            assert_eq!(read.messages[0].offset, (batch - 1) * 1_000 + 1);
        }
        let mut by_offset = Vec::with_capacity(POINTS);
        for offset in points(count).take(POINTS) {
            let started = Instant::now();
            let read = store.read(&topic, offset, READ).await.expect("read");
            by_offset.push(started.elapsed());
            assert_eq!(read.messages[0].offset, offset);
        }
        println!(
            "| {count} | {:?} | {:?} |",
            median(by_time),
            median(by_offset)
        );
    }
}
