//! The retention sweeper: removes what each topic's retention (its own,
//! or the server's default) no longer keeps, by age and by size.
//!
//! One pass at start-up (before serving, so nothing expired is ever served
//! after a long downtime), then one every sweep interval. It always runs,
//! since a topic can have its own retention when the default is forever.
//! Passes run one after another in a single task, so they never overlap; a
//! failing pass is logged and the next tick tries again, so the server
//! stays up.

use std::sync::Arc;
use std::time::Duration;

use minikafka_backends::{RemovalReport, RetentionDefaults, Store, StoreError};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;

/// Removes, as of `clock`'s now, what each topic's retention no longer
/// keeps; `defaults` applies to topics without their own.
pub async fn sweep_once(
    store: &dyn Store,
    clock: &dyn Clock,
    defaults: RetentionDefaults,
) -> Result<RemovalReport, StoreError> {
    let report = store.enforce_retention(clock.now(), defaults).await?;
    if report.messages_removed > 0 {
        tracing::info!(
            messages = report.messages_removed,
            bytes = report.bytes_removed,
            "retention removed messages"
        );
    }
    if report.groups_removed > 0 {
        tracing::info!(
            groups = report.groups_removed,
            "removed groups that committed nothing for MINIKAFKA_GROUP_RETENTION"
        );
    }
    Ok(report)
}

/// Sweeps once now, then, in a task tracked by `tasks`, every `interval`
/// until `stop` is cancelled. A failed first pass is logged and serving
/// goes on.
pub async fn start(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    defaults: RetentionDefaults,
    interval: Duration,
    stop: &CancellationToken,
    tasks: &TaskTracker,
) {
    if let Err(error) = sweep_once(&**store, &**clock, defaults).await {
        tracing::error!(%error, "start-up retention sweep failed; serving anyway");
    }
    tasks.spawn(run_sweeper(
        Arc::clone(store),
        Arc::clone(clock),
        defaults,
        interval,
        stop.clone(),
    ));
}

/// Sweeps every `interval` until `stop` is cancelled. A pass under way when
/// `stop` fires is allowed to finish.
pub async fn run_sweeper(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    defaults: RetentionDefaults,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    // A slow pass delays the next rather than causing a burst of catch-ups.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = sweep_once(&*store, &*clock, defaults).await {
            tracing::error!(%error, retry_in = ?interval, "retention sweep failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use bytes::Bytes;
    use minikafka_backends::{
        Batch, Creation, GroupName, MemoryStore, OffsetCommit, OffsetRange, ReadLimits, ReadResult,
        RetentionAge, SettingsChange, Timestamp, TopicInfo, TopicName, TopicSettings, TopicWatch,
    };

    use super::*;
    use crate::clock::ManualClock;

    mockall::mock! {
        #[derive(Debug)]
        Flaky {}
        #[async_trait]
        impl Store for Flaky {
            async fn append(&self, topic: &TopicName, batch: Batch, now: Timestamp) -> Result<OffsetRange, StoreError>;
            async fn read(&self, topic: &TopicName, from: u64, limits: ReadLimits) -> Result<ReadResult, StoreError>;
            async fn offset_for_time(&self, topic: &TopicName, time: Timestamp) -> Result<u64, StoreError>;
            async fn commit_offset(&self, group: &GroupName, topic: &TopicName, commit: OffsetCommit) -> Result<(), StoreError>;
            async fn fetch_offset(&self, group: &GroupName, topic: &TopicName) -> Result<Option<OffsetCommit>, StoreError>;
            async fn list_groups<'s, 'n>(&'s self, after: Option<&'n GroupName>, limit: usize) -> Result<Vec<GroupName>, StoreError>;
            async fn describe_group(&self, group: &GroupName) -> Result<Vec<(TopicName, OffsetCommit)>, StoreError>;
            async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError>;
            async fn create_topic(&self, topic: &TopicName, settings: TopicSettings) -> Result<Creation, StoreError>;
            async fn update_topic(&self, topic: &TopicName, change: SettingsChange) -> Result<TopicSettings, StoreError>;
            async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError>;
            async fn enforce_retention(&self, now: Timestamp, defaults: RetentionDefaults) -> Result<RemovalReport, StoreError>;
            async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError>;
            async fn list<'s, 'n>(&'s self, after: Option<&'n TopicName>, limit: usize) -> Result<Vec<TopicInfo>, StoreError>;
            async fn sync(&self) -> Result<(), StoreError>;
            fn watch(&self, topic: &TopicName) -> TopicWatch;
        }
    }

    const SECOND: u64 = 1_000_000_000;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_nanos(1_800_000_000 * SECOND + seconds * SECOND)
    }

    fn batch(payload: &'static [u8]) -> Batch {
        Batch::new(vec![Bytes::from_static(payload)])
    }

    fn keep_for(seconds: u64) -> RetentionDefaults {
        RetentionDefaults::by_age(RetentionAge::MaxAge(Duration::from_secs(seconds)))
    }

    #[tokio::test(start_paused = true)]
    async fn each_interval_removes_what_outlived_retention() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(at(0)));
        let topic = TopicName::new("t").expect("valid");
        store
            .append(&topic, batch(b"old"), at(0))
            .await
            .expect("append");
        store
            .append(&topic, batch(b"new"), at(50))
            .await
            .expect("append");
        let stop = CancellationToken::new();
        let sweeper = tokio::spawn(run_sweeper(
            Arc::clone(&store),
            clock.clone(),
            keep_for(60),
            Duration::from_secs(10),
            stop.clone(),
        ));
        let count = || async {
            store
                .describe(&topic)
                .await
                .expect("describe")
                .message_count
        };

        clock.set(at(61));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(count().await, 2, "no pass before the first interval");
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(count().await, 1, "the first pass removed the old message");

        clock.set(at(111));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(count().await, 0, "the next pass removed the other");

        stop.cancel();
        sweeper.await.expect("the sweeper stops when told");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_pass_is_retried_at_the_next_tick() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut store = MockFlaky::new();
        let counted = Arc::clone(&calls);
        store.expect_enforce_retention().returning(move |_, _| {
            match counted.fetch_add(1, Ordering::SeqCst) {
                0 => Err(StoreError::Io {
                    context: "injected".into(),
                    cause: io::Error::other("boom"),
                }),
                _ => Ok(RemovalReport::default()),
            }
        });
        let stop = CancellationToken::new();
        let sweeper = tokio::spawn(run_sweeper(
            Arc::new(store),
            Arc::new(ManualClock::new(at(0))),
            keep_for(60),
            Duration::from_secs(1),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "kept sweeping after the failure"
        );
        assert!(!sweeper.is_finished());
        stop.cancel();
        sweeper.await.expect("the sweeper stops when told");
    }

    #[tokio::test]
    async fn a_topics_own_retention_is_kept_when_the_default_is_forever() {
        let store = MemoryStore::new();
        let own = TopicName::new("own").expect("valid");
        let other = TopicName::new("other").expect("valid");
        let hour = TopicSettings {
            retention: Some(RetentionAge::MaxAge(Duration::from_secs(3_600))),
            ..TopicSettings::default()
        };
        store.create_topic(&own, hour).await.expect("create");
        for topic in [&own, &other] {
            store
                .append(topic, batch(b"old"), at(0))
                .await
                .expect("append");
        }
        let forever = RetentionDefaults::by_age(RetentionAge::Forever);
        let report = sweep_once(&store, &ManualClock::new(at(7_200)), forever)
            .await
            .expect("sweep");
        assert_eq!(report.messages_removed, 1);
        assert_eq!(store.describe(&own).await.expect("own").message_count, 0);
        assert_eq!(
            store.describe(&other).await.expect("other").message_count,
            1
        );
    }
}
