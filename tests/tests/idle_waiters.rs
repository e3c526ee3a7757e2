//! Idle waiters cost nothing: 1,000 subscriptions and 1,000 long polls on
//! one server make no store read and use next to no CPU while nothing is
//! stored, hold bounded memory, and all wake on one append.
//!
//! This test has a file (a test process) of its own: it measures the
//! process's CPU time and memory, which other tests running beside it in
//! the same process would disturb.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use minikafka_client::{Client, Position};
use minikafka_proto::v1::mini_kafka_client::MiniKafkaClient;
use minikafka_server::SystemClock;
use minikafka_tests::{
    CountingStore, DEADLINE, TestServer, default_config, subscribe_request, wait_until,
};

fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm")
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    statm
        .split_whitespace()
        .nth(1)
        .expect("resident")
        .parse::<u64>()
        .expect("pages")
        * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_subscriptions_and_long_polls_cost_no_work() {
    const WAITERS: usize = 1_000;
    let store = Arc::new(CountingStore::default());
    let server =
        TestServer::start_with(default_config(), store.clone(), Arc::new(SystemClock)).await;
    let client = Client::connect(&server.address).await.expect("connect");
    client.producer("idle").send("0").await.expect("send");
    let resident_before = resident_bytes();

    let mut channels = Vec::new();
    for _ in 0..10 {
        channels.push(server.channel().await);
    }
    let mut streams = Vec::new();
    let mut polls = Vec::new();
    for i in 0..WAITERS {
        let mut grpc = MiniKafkaClient::new(channels[i % channels.len()].clone());
        streams.push(
            grpc.subscribe(subscribe_request("idle", 2))
                .await
                .expect("subscribe")
                .into_inner(),
        );
        let mut consumer = client.consumer("idle", Position::Offset(2));
        polls.push(tokio::spawn(async move {
            consumer.poll(Some(Duration::from_secs(30))).await
        }));
    }
    wait_until("every waiter to wait", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == WAITERS
            && server.activity.waiting_polls.load(Ordering::SeqCst) == WAITERS
    })
    .await;
    let per_waiter = resident_bytes().saturating_sub(resident_before) / (2 * WAITERS as u64);

    // Idle: not one read, and next to no CPU, while nothing is stored.
    let (reads, cpu) = (store.reads(), cpu_time());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.reads(), reads, "idle waiters read the store");
    let busy = cpu_time() - cpu;
    assert!(
        busy <= Duration::from_millis(50),
        "{busy:?} of CPU in 500 ms of idling"
    );
    assert!(
        per_waiter < 100 * 1024,
        "{per_waiter} bytes per waiter, client and server together"
    );

    // One message wakes every one of them. It is sent on a connection of
    // its own: the 1,000 long polls fill their connection's stream limit.
    let producer = Client::connect(&server.address)
        .await
        .expect("connect")
        .producer("idle");
    producer.send("1").await.expect("send");
    for poll in polls {
        let polled = tokio::time::timeout(DEADLINE, poll)
            .await
            .expect("woken")
            .expect("task")
            .expect("poll");
        assert_eq!(polled.messages[0].offset, 2);
    }
    for stream in &mut streams {
        let batch = tokio::time::timeout(DEADLINE, stream.message())
            .await
            .expect("woken")
            .expect("ok")
            .expect("batch");
        assert_eq!(batch.messages[0].offset, 2);
    }
}
