//! The retention sweeper: removes messages older than the retention age.
//!
//! One pass at start-up (before serving, so nothing expired is ever served
//! after a long downtime), then one every sweep interval. Passes run one
//! after another in a single task, so they never overlap; a failing pass is
//! logged and the next tick tries again, so the server stays up.

use std::sync::Arc;
use std::time::Duration;

use minikafka_backends::{RemovalReport, RetentionAge, RetentionDefaults, Store, StoreError};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Retention;

/// Removes every message older than `retention` as of `clock`'s now.
pub async fn sweep_once(
    store: &dyn Store,
    clock: &dyn Clock,
    retention: Duration,
) -> Result<RemovalReport, StoreError> {
    let defaults = RetentionDefaults {
        age: RetentionAge::MaxAge(retention),
    };
    let report = store.enforce_retention(clock.now(), defaults).await?;
    if report.messages_removed > 0 {
        tracing::info!(
            messages = report.messages_removed,
            bytes = report.bytes_removed,
            "retention removed expired messages"
        );
    }
    Ok(report)
}

/// With a retention age set: sweeps once now, then, in a task tracked by
/// `tasks`, every sweep interval until `stop` is cancelled. A failed first
/// pass is logged and serving goes on.
pub async fn start(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    retention: &Retention,
    stop: &CancellationToken,
    tasks: &TaskTracker,
) {
    let Some(max_age) = retention.max_age else {
        return;
    };
    if let Err(error) = sweep_once(&**store, &**clock, max_age).await {
        tracing::error!(%error, "start-up retention sweep failed; serving anyway");
    }
    tasks.spawn(run_sweeper(
        Arc::clone(store),
        Arc::clone(clock),
        max_age,
        retention.sweep_interval,
        stop.clone(),
    ));
}

/// Sweeps every `interval` until `stop` is cancelled. A pass under way when
/// `stop` fires is allowed to finish.
pub async fn run_sweeper(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    retention: Duration,
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
        if let Err(error) = sweep_once(&*store, &*clock, retention).await {
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
        Batch, Creation, MemoryStore, OffsetRange, ReadLimits, ReadResult, SettingsChange,
        Timestamp, TopicInfo, TopicName, TopicSettings, TopicWatch,
    };

    use super::*;
    use crate::clock::ManualClock;

    /// A store whose first retention pass fails; it counts the passes.
    #[derive(Debug, Default)]
    struct Flaky {
        passes: AtomicUsize,
        inner: MemoryStore,
    }

    #[async_trait]
    impl Store for Flaky {
        async fn append(
            &self,
            topic: &TopicName,
            batch: Batch,
            now: Timestamp,
        ) -> Result<OffsetRange, StoreError> {
            self.inner.append(topic, batch, now).await
        }
        async fn read(
            &self,
            topic: &TopicName,
            from: u64,
            limits: ReadLimits,
        ) -> Result<ReadResult, StoreError> {
            self.inner.read(topic, from, limits).await
        }
        async fn create_topic(
            &self,
            topic: &TopicName,
            settings: TopicSettings,
        ) -> Result<Creation, StoreError> {
            self.inner.create_topic(topic, settings).await
        }
        async fn update_topic(
            &self,
            topic: &TopicName,
            change: SettingsChange,
        ) -> Result<TopicSettings, StoreError> {
            self.inner.update_topic(topic, change).await
        }
        async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError> {
            self.inner.delete_topic(topic).await
        }
        async fn enforce_retention(
            &self,
            now: Timestamp,
            defaults: RetentionDefaults,
        ) -> Result<RemovalReport, StoreError> {
            match self.passes.fetch_add(1, Ordering::SeqCst) {
                0 => Err(StoreError::Io {
                    context: "injected".into(),
                    cause: io::Error::other("boom"),
                }),
                _ => self.inner.enforce_retention(now, defaults).await,
            }
        }
        async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
            self.inner.describe(topic).await
        }
        async fn list(
            &self,
            after: Option<&TopicName>,
            limit: usize,
        ) -> Result<Vec<TopicInfo>, StoreError> {
            self.inner.list(after, limit).await
        }
        async fn sync(&self) -> Result<(), StoreError> {
            self.inner.sync().await
        }
        fn watch(&self, topic: &TopicName) -> TopicWatch {
            self.inner.watch(topic)
        }
    }

    const SECOND: u64 = 1_000_000_000;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_nanos(1_800_000_000 * SECOND + seconds * SECOND)
    }

    #[tokio::test(start_paused = true)]
    async fn each_interval_removes_what_outlived_retention() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(at(0)));
        let topic = TopicName::new("t").expect("valid");
        store
            .append(&topic, Batch::new(vec![Bytes::from_static(b"old")]), at(0))
            .await
            .expect("append");
        store
            .append(&topic, Batch::new(vec![Bytes::from_static(b"new")]), at(50))
            .await
            .expect("append");
        let stop = CancellationToken::new();
        let sweeper = tokio::spawn(run_sweeper(
            Arc::clone(&store),
            clock.clone(),
            Duration::from_secs(60),
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
        let store = Arc::new(Flaky::default());
        let stop = CancellationToken::new();
        let sweeper = tokio::spawn(run_sweeper(
            Arc::clone(&store) as Arc<dyn Store>,
            Arc::new(ManualClock::new(at(0))),
            Duration::from_secs(60),
            Duration::from_secs(1),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        assert_eq!(
            store.passes.load(Ordering::SeqCst),
            3,
            "kept sweeping after the failure"
        );
        assert!(!sweeper.is_finished());
        stop.cancel();
        sweeper.await.expect("the sweeper stops when told");
    }
}
