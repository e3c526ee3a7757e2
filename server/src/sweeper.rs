//! The retention sweeper: removes messages older than the retention age.
//!
//! One pass at start-up (before serving, so nothing expired is ever served
//! after a long downtime), then one every sweep interval. Passes run one
//! after another in a single task, so they never overlap; a failing pass is
//! logged and the next tick tries again, so the server stays up.

use std::sync::Arc;
use std::time::Duration;

use minikafka_backends::{RemovalReport, Store, StoreError};
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
    let cutoff = clock.now().saturating_sub(retention);
    let report = store.remove_older_than(cutoff).await?;
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
        MemoryStore, OffsetRange, ReadLimits, ReadResult, Timestamp, TopicInfo, TopicName,
        TopicWatch,
    };

    use super::*;
    use crate::clock::ManualClock;

    mockall::mock! {
        #[derive(Debug)]
        Flaky {}
        #[async_trait]
        impl Store for Flaky {
            async fn append(&self, topic: &TopicName, payloads: Vec<Bytes>, now: Timestamp) -> Result<OffsetRange, StoreError>;
            async fn read(&self, topic: &TopicName, from: u64, limits: ReadLimits) -> Result<ReadResult, StoreError>;
            async fn remove_older_than(&self, cutoff: Timestamp) -> Result<RemovalReport, StoreError>;
            async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError>;
            async fn list(&self) -> Result<Vec<TopicInfo>, StoreError>;
            async fn sync(&self) -> Result<(), StoreError>;
            fn watch(&self, topic: &TopicName) -> TopicWatch;
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
            .append(&topic, vec![Bytes::from_static(b"old")], at(0))
            .await
            .expect("append");
        store
            .append(&topic, vec![Bytes::from_static(b"new")], at(50))
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
        let calls = Arc::new(AtomicUsize::new(0));
        let mut store = MockFlaky::new();
        let counted = Arc::clone(&calls);
        store.expect_remove_older_than().returning(move |_| {
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
            Duration::from_secs(60),
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
}
