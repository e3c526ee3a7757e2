//! Retention through the server: the start-up sweep removes what expired
//! while the server was down, before anything is served; consumers learn
//! of the gap; numbering continues.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use minikafka_backends::{Batch, MemoryStore, RetentionAge, Store, TopicName, TopicSettings};
use minikafka_client::{Client, Gap, Position};
use minikafka_server::Config;
use minikafka_tests::{TestServer, at, clock_at, default_config};

fn config(retention: Duration) -> Config {
    let mut config = default_config();
    config.retention.max_age = Some(retention);
    config
}

async fn store_with_history() -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let topic = TopicName::new("events").expect("valid");
    let old: Vec<Bytes> = vec!["1".into(), "2".into(), "3".into()];
    store
        .append(&topic, Batch::new(old), at(0))
        .await
        .expect("append");
    store
        .append(&topic, Batch::new(vec!["4".into(), "5".into()]), at(3_000))
        .await
        .expect("append");
    store
}

#[tokio::test]
async fn the_start_up_sweep_runs_before_anything_is_served() {
    // An hour of retention; the clock says the first batch is 100 minutes old.
    let server = TestServer::start_with(
        config(Duration::from_secs(3_600)),
        store_with_history().await,
        clock_at(6_000),
    )
    .await;
    let client = Client::connect(&server.address).await.expect("connect");
    let info = client.describe_topic("events").await.expect("describe");
    assert_eq!(
        (info.earliest_offset, info.next_offset, info.message_count),
        (4, 6, 2)
    );

    let mut from_start = client.consumer("events", Position::Earliest);
    let polled = from_start.poll(None).await.expect("poll");
    assert_eq!(
        polled.messages.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(polled.gap, None, "reading from the earliest is no gap");

    let mut resuming = client.consumer("events", Position::Offset(2));
    let polled = resuming.poll(None).await.expect("poll");
    assert_eq!(polled.gap, Some(Gap { first: 2, last: 3 }));
    assert_eq!(polled.gap.map(|g| g.count()), Some(2));
    assert_eq!(polled.messages[0].offset, 4);
}

#[tokio::test]
async fn numbering_continues_after_everything_expired() {
    let server = TestServer::start_with(
        config(Duration::from_secs(60)),
        store_with_history().await,
        clock_at(10_000),
    )
    .await;
    let client = Client::connect(&server.address).await.expect("connect");
    let info = client
        .describe_topic("events")
        .await
        .expect("the topic outlives its messages");
    assert_eq!(
        (info.earliest_offset, info.next_offset, info.message_count),
        (6, 6, 0)
    );
    assert_eq!(info.oldest_timestamp, None);
    assert_eq!(client.producer("events").send("6").await.expect("send"), 6);
}

#[tokio::test]
async fn forever_keeps_everything() {
    let mut config = default_config();
    config.retention.max_age = None;
    let server =
        TestServer::start_with(config, store_with_history().await, clock_at(1_000_000)).await;
    let client = Client::connect(&server.address).await.expect("connect");
    assert_eq!(
        client
            .describe_topic("events")
            .await
            .expect("describe")
            .message_count,
        5
    );
}

/// With the default forever, the sweeper still runs for a topic with a
/// retention of its own: at start-up it removes that topic's old messages
/// and only that topic's.
#[tokio::test]
async fn a_topics_own_retention_is_swept_when_the_default_is_forever() {
    let store = store_with_history().await;
    let hour = TopicSettings {
        retention: Some(RetentionAge::MaxAge(Duration::from_secs(3_600))),
        ..TopicSettings::default()
    };
    let own = TopicName::new("own").expect("valid");
    store.create_topic(&own, hour).await.expect("create");
    store
        .append(&own, Batch::new(vec!["old".into()]), at(0))
        .await
        .expect("append");
    store
        .append(&own, Batch::new(vec!["new".into()]), at(5_000))
        .await
        .expect("append");
    let mut config = default_config();
    config.retention.max_age = None;
    let server = TestServer::start_with(config, store, clock_at(6_000)).await;
    let client = Client::connect(&server.address).await.expect("connect");
    let own = client.describe_topic("own").await.expect("describe");
    assert_eq!((own.earliest_offset, own.message_count), (2, 1));
    let events = client.describe_topic("events").await.expect("describe");
    assert_eq!(events.message_count, 5, "the default keeps everything");
}
