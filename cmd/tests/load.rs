//! Load, as an operator would meet it: a real `mkfk-server` process on real
//! files, flooded by clients over 127.0.0.1. Its memory must stay within
//! the bound docs/operations.md derives ("Limits"), whatever the flood.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use minikafka_client::Client;
use minikafka_server::{Config, STREAM_WINDOW};

const MIB: u64 = 1024 * 1024;

/// How long the whole flood may take (1 GiB through a debug build; about
/// 3 s here).
const FLOOD_DEADLINE: Duration = Duration::from_secs(60);

/// The largest HTTP/2 frame the server accepts (hyper's default, which
/// tonic keeps): a request waiting for the budget has read one.
const MAX_FRAME: u64 = 16 * 1024;
/// The file store's writer keeps one buffer, the size of the largest batch.
const WRITE_BUFFER: u64 = 16 * MIB;
/// What the bound leaves for stacks, bookkeeping and page rounding.
const SLACK: u64 = 16 * MIB;

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`: kB there).
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    kib * 1024
}

/// 64 concurrent produces of 16 MiB each (1 GiB in all) over 8 connections
/// leave the server's peak resident memory within the bound of
/// docs/operations.md: what it used before, plus the request budget, plus
/// what each waiting request may have sent unread, plus the store's write
/// buffer, plus what the allocator keeps for reuse; far below 1 GiB.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_maximum_size_produces_stays_within_the_request_budget() {
    const CONNECTIONS: usize = 8;
    const REQUESTS: usize = 64;
    const PAYLOADS: usize = 16;
    // Just under 1 MiB, so that 16 payloads and their framing fit in the
    // default 16 MiB request limit: maximum-size requests.
    const PAYLOAD: usize = ONE_MIB - 64;

    let budget = Config::from_vars(Vec::new())
        .expect("the defaults are valid")
        .limits
        .max_inflight_request_bytes as u64;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().to_str().expect("a UTF-8 temporary path");
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "file"),
        ("MINIKAFKA_ROOT_DIR", root),
        ("MINIKAFKA_FSYNC", "never"),
    ]);
    let pid = server.process.child.id();
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        // Each client is a connection of its own.
        let client = server.client().await;
        client
            .producer("warm-up")
            .send("x")
            .await
            .expect("a first produce");
        clients.push(client);
    }
    let before = memory(pid, "VmRSS");

    let payload = Bytes::from(vec![b'm'; PAYLOAD]);
    let sends: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let producer = clients[i % CONNECTIONS].producer("flood");
            let batch = vec![payload.clone(); PAYLOADS];
            tokio::spawn(async move { producer.send_batch(batch).await })
        })
        .collect();
    let started = Instant::now();
    let mut ranges = Vec::with_capacity(REQUESTS);
    for send in sends {
        let range = tokio::time::timeout(FLOOD_DEADLINE, send)
            .await
            .expect("the flood is stored in time: no request stalls behind the waiting ones")
            .expect("task")
            .expect("every produce is stored");
        ranges.push((range.first, range.last));
    }
    eprintln!("flood stored in {:?}", started.elapsed());
    let peak = memory(pid, "VmHWM");

    // Every message was stored, each batch in one run of offsets.
    ranges.sort_unstable();
    let mut next = 1;
    for (first, last) in ranges {
        assert_eq!((first, last), (next, next + PAYLOADS as u64 - 1));
        next = last + 1;
    }
    let info = wait_for_messages(&clients[0], "flood", (REQUESTS * PAYLOADS) as u64).await;
    assert_eq!(info.message_count, (REQUESTS * PAYLOADS) as u64);
    assert_eq!(info.size_bytes, (REQUESTS * PAYLOADS * PAYLOAD) as u64);

    // Each request waiting for the budget: its stream window and a frame.
    let waiting = REQUESTS as u64 * (u64::from(STREAM_WINDOW) + MAX_FRAME);
    // glibc's malloc keeps freed request buffers for reuse instead of
    // returning them (48 MiB at most in runs here): allow a budget's worth.
    let allocator = budget;
    let bound = before + budget + waiting + WRITE_BUFFER + allocator + SLACK;
    eprintln!(
        "server resident memory: {} MiB before, peak {} MiB, bound {} MiB",
        before / MIB,
        peak / MIB,
        bound / MIB
    );
    assert!(
        peak <= bound,
        "peak resident memory {} MiB is over the bound {} MiB ({} MiB before the flood)",
        peak / MIB,
        bound / MIB,
        before / MIB
    );
}

/// Past MINIKAFKA_MAX_CONNECTIONS the server says so, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaching_the_connection_cap_is_logged_once() {
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_MAX_CONNECTIONS", "1"),
    ]);
    let first = server.client().await;
    first
        .list_topics()
        .await
        .expect("the first connection is served");
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let address = server.address.clone();
            tokio::spawn(async move {
                let client = Client::connect(&address).await.expect("connect");
                client.list_topics().await.map(|_| ())
            })
        })
        .collect();
    server
        .log
        .wait_for_line("MINIKAFKA_MAX_CONNECTIONS reached")
        .expect("a warning that the cap was reached");
    drop(first);
    for waiting in waiting {
        waiting
            .await
            .expect("task")
            .expect("served in turn as connections close");
    }
    let warnings = server
        .log
        .text()
        .matches("MINIKAFKA_MAX_CONNECTIONS reached")
        .count();
    assert_eq!(warnings, 1, "{}", server.log.text());
}
