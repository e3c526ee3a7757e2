//! Reads that wait for appends: long polls (`Poll` with `max_wait`) and
//! subscriptions (`Subscribe`).
//!
//! Neither polls the store on a timer. Each takes the topic's watch from
//! the store *before* reading, reads, and if the read found nothing parks
//! on the watch until an append to that topic (or shutdown, or the
//! deadline, or the client leaving) wakes it. An idle waiter costs one
//! parked task.

use std::time::Duration;

use minikafka_backends::{ReadLimits, ReadResult, TopicName};
use minikafka_proto::v1;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

use super::checked_store::{CheckedStore, Counted};
use super::reading;
use crate::validate;

/// The longest a `Poll` waits, whatever its `max_wait`.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Batches a subscription reads ahead of a client that is slow to take
/// them. With the batches in flight in HTTP/2's windows, this bounds what
/// one stream holds in the server's memory to a few batches (a few MiB at
/// most), however long the client pauses.
const STREAM_BUFFER: usize = 2;

fn shutting_down() -> Status {
    Status::unavailable("the server is shutting down; reconnect to another server or retry later")
}

/// The stream a `Subscribe` call answers with.
pub type Subscription = ReceiverStream<Result<v1::PollResponse, Status>>;

impl CheckedStore {
    /// Reads from `topic`, waiting up to `wait` (capped at [`MAX_WAIT`]) for
    /// a message when none is available yet, or for the topic to be
    /// created. When the wait runs out: an empty reply, or NOT_FOUND if the
    /// topic still does not exist. A topic deleted while the poll waits
    /// ends it at once with NOT_FOUND.
    pub async fn read_waiting(
        &self,
        topic: &str,
        read_from: u64,
        limits: ReadLimits,
        wait: Duration,
    ) -> Result<ReadResult, Status> {
        let topic = validate::topic(topic)?;
        let _counted = Counted::new(&self.activity.waiting_polls);
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        let mut watch = self.store.watch(&topic);
        // Whether the topic existed at some read: if it is then found
        // missing, it was deleted, and the poll ends with NOT_FOUND.
        let mut existed = false;
        loop {
            let read = self.read_valid(&topic, read_from, limits).await;
            let waiting_for_topic =
                !existed && matches!(&read, Err(status) if status.code() == Code::NotFound);
            existed |= read.is_ok();
            match read {
                Ok(result) if !result.messages.is_empty() => return Ok(result),
                Ok(_) | Err(_) if Instant::now() >= deadline => return read,
                Ok(_) => {}
                Err(_) if waiting_for_topic => {}
                Err(status) => return Err(status),
            }
            tokio::select! {
                () = watch.changed() => {}
                () = tokio::time::sleep_until(deadline) => {}
                () = self.shutdown.cancelled() => return Err(shutting_down()),
            }
        }
    }

    /// Starts a subscription to `topic` from `read_from` (0: the earliest),
    /// or from the end when `from_end`: a task reads and pushes batches as
    /// messages arrive, until the client goes away or shutdown begins, or
    /// the topic is deleted (the stream then ends with NOT_FOUND).
    pub fn subscribe(
        &self,
        topic: &str,
        read_from: u64,
        from_end: bool,
        limits: ReadLimits,
    ) -> Result<Subscription, Status> {
        let topic = validate::topic(topic)?;
        let (batches, stream) = mpsc::channel(STREAM_BUFFER);
        let checked = self.clone();
        self.tasks.spawn(async move {
            let _counted = Counted::new(&checked.activity.subscriptions);
            let outcome = tokio::select! {
                outcome = checked.push(&topic, read_from, from_end, limits, &batches) => outcome,
                () = batches.closed() => Ok(()),
                () = checked.shutdown.cancelled() => Err(shutting_down()),
            };
            if let Err(status) = outcome {
                let _ = batches.send(Err(status)).await;
            }
        });
        Ok(ReceiverStream::new(stream))
    }

    /// The subscription loop: read, push, and wait when caught up. Returns
    /// `Ok` when the client has gone, or the error to end the stream with.
    async fn push(
        &self,
        topic: &TopicName,
        read_from: u64,
        from_end: bool,
        limits: ReadLimits,
        batches: &mpsc::Sender<Result<v1::PollResponse, Status>>,
    ) -> Result<(), Status> {
        let mut watch = self.store.watch(topic);
        // From the end, read_from is ignored (the proto says so): the first
        // read starts at the earliest offset, which is never out of range.
        let mut position = if from_end { 0 } else { read_from };
        let mut from_end = from_end;
        // Whether the topic existed at some read: if it is then found
        // missing, it was deleted, and the stream ends with NOT_FOUND.
        let mut existed = false;
        loop {
            let read = self.read_valid(topic, position, limits).await;
            existed |= read.is_ok();
            match read {
                Ok(result) if from_end => {
                    // The end as of the first read after the watch was made:
                    // nothing stored after that is missed.
                    position = result.next_offset;
                    from_end = false;
                }
                Ok(result) if !result.messages.is_empty() => {
                    let response = reading::poll_response(position, result);
                    position = response.new_read_from;
                    if batches.send(Ok(response)).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                // Caught up. If retention removed everything from here on,
                // move past it; the next batch's earliest_offset says so.
                Ok(result) => position = reading::next_read_position(position, &result),
                Err(status) if status.code() == Code::NotFound && !existed => {
                    if from_end {
                        position = 1;
                        from_end = false;
                    }
                }
                Err(status) => return Err(status),
            }
            watch.changed().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use minikafka_backends::{Batch, MemoryStore, RetentionAge, RetentionDefaults, Store};
    use tokio_stream::StreamExt;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    use super::*;
    use crate::SystemClock;
    use crate::settings::ServerDefaults;

    fn checked_store() -> (CheckedStore, Arc<dyn Store>, CancellationToken) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let shutdown = CancellationToken::new();
        let defaults = ServerDefaults {
            retention: RetentionAge::Forever,
            max_message_bytes: 1 << 20,
            producer_expiry: RetentionAge::Forever,
            group_retention: RetentionAge::Forever,
            max_key_bytes: 16 << 10,
            max_headers: 64,
            max_header_bytes: 64 << 10,
        };
        let checked = CheckedStore::new(
            Arc::clone(&store),
            Arc::new(SystemClock),
            defaults,
            true,
            shutdown.clone(),
            TaskTracker::new(),
            Arc::default(),
        );
        (checked, store, shutdown)
    }

    const LIMITS: ReadLimits = ReadLimits {
        max_messages: 100,
        max_bytes: 1 << 20,
    };

    async fn produce(checked: &CheckedStore, topic: &str, texts: &[&'static str]) {
        let request = v1::ProduceRequest {
            topic: topic.to_owned(),
            payloads: texts
                .iter()
                .map(|t| Bytes::from_static(t.as_bytes()))
                .collect(),
            ..v1::ProduceRequest::default()
        };
        checked.produce(request).await.expect("produce");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_poll_returns_when_a_message_arrives() {
        let (checked, _, _) = checked_store();
        produce(&checked, "t", &["old"]).await;
        let waiting = {
            let checked = checked.clone();
            tokio::spawn(async move {
                checked
                    .read_waiting("t", 2, LIMITS, Duration::from_secs(20))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiting.is_finished(), "nothing to return yet");
        produce(&checked, "t", &["new"]).await;
        let result = waiting.await.expect("task").expect("read");
        assert_eq!(result.messages[0].payload, "new");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_poll_gives_up_at_its_deadline_or_the_cap() {
        let (checked, _, _) = checked_store();
        produce(&checked, "t", &["x"]).await;
        let started = Instant::now();
        let empty = checked
            .read_waiting("t", 2, LIMITS, Duration::from_secs(3))
            .await
            .expect("read");
        assert!(empty.messages.is_empty());
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        let started = Instant::now();
        checked
            .read_waiting("t", 2, LIMITS, Duration::from_secs(3_600))
            .await
            .expect("read");
        assert_eq!(started.elapsed(), MAX_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_poll_waits_for_its_topic_and_says_not_found_if_it_never_comes() {
        let (checked, _, _) = checked_store();
        let missing = checked
            .read_waiting("later", 0, LIMITS, Duration::from_secs(2))
            .await
            .expect_err("missing");
        assert_eq!(missing.code(), Code::NotFound);
        let waiting = {
            let checked = checked.clone();
            tokio::spawn(async move {
                checked
                    .read_waiting("later", 0, LIMITS, Duration::from_secs(20))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        produce(&checked, "later", &["created"]).await;
        assert_eq!(
            waiting.await.expect("task").expect("read").messages.len(),
            1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_waiting_reads_with_unavailable() {
        let (checked, _, shutdown) = checked_store();
        let waiting = {
            let checked = checked.clone();
            tokio::spawn(async move {
                checked
                    .read_waiting("t", 0, LIMITS, Duration::from_secs(20))
                    .await
            })
        };
        let mut stream = checked.subscribe("t", 0, false, LIMITS).expect("subscribe");
        tokio::time::sleep(Duration::from_secs(1)).await;
        shutdown.cancel();
        assert_eq!(
            waiting.await.expect("task").expect_err("ended").code(),
            Code::Unavailable
        );
        let ended = stream
            .next()
            .await
            .expect("a last item")
            .expect_err("an error");
        assert_eq!(ended.code(), Code::Unavailable);
        assert!(stream.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_pushes_history_then_new_messages() {
        let (checked, _, _) = checked_store();
        produce(&checked, "t", &["1", "2"]).await;
        let mut stream = checked.subscribe("t", 0, false, LIMITS).expect("subscribe");
        let first = stream.next().await.expect("a batch").expect("ok");
        assert_eq!(first.messages.len(), 2);
        produce(&checked, "t", &["3"]).await;
        let next = stream.next().await.expect("a batch").expect("ok");
        assert_eq!((next.messages[0].offset, next.new_read_from), (3, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_from_the_end_sees_only_new_messages() {
        let (checked, _, _) = checked_store();
        produce(&checked, "t", &["old", "older"]).await;
        let mut stream = checked.subscribe("t", 0, true, LIMITS).expect("subscribe");
        let mut fresh = checked
            .subscribe("not-yet", 0, true, LIMITS)
            .expect("subscribe");
        tokio::time::sleep(Duration::from_secs(1)).await;
        produce(&checked, "t", &["new"]).await;
        produce(&checked, "not-yet", &["first"]).await;
        let batch = stream.next().await.expect("a batch").expect("ok");
        assert_eq!(
            batch.messages.iter().map(|m| m.offset).collect::<Vec<_>>(),
            vec![3]
        );
        let batch = fresh.next().await.expect("a batch").expect("ok");
        assert_eq!(batch.messages[0].offset, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_from_the_end_ignores_read_from() {
        // Found by the request_validation fuzz target: the proto says
        // read_from is ignored with from_end, but one past the end ended
        // the stream with OUT_OF_RANGE.
        let (checked, _, _) = checked_store();
        produce(&checked, "t", &["old"]).await;
        let mut stream = checked.subscribe("t", 99, true, LIMITS).expect("subscribe");
        tokio::time::sleep(Duration::from_secs(1)).await;
        produce(&checked, "t", &["new"]).await;
        let batch = stream.next().await.expect("a batch").expect("ok");
        assert_eq!(batch.messages[0].offset, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_skips_what_retention_removed_and_says_so() {
        let (checked, store, _) = checked_store();
        let topic = TopicName::new("t").expect("valid");
        let old = minikafka_backends::Timestamp::from_nanos(1_000);
        let batch = Batch::new(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        store.append(&topic, batch, old).await.expect("append");
        let one_microsecond =
            RetentionDefaults::by_age(RetentionAge::MaxAge(Duration::from_micros(1)));
        store
            .enforce_retention(
                minikafka_backends::Timestamp::from_nanos(2_001),
                one_microsecond,
            )
            .await
            .expect("remove");
        let mut stream = checked.subscribe("t", 1, false, LIMITS).expect("subscribe");
        tokio::time::sleep(Duration::from_secs(1)).await;
        produce(&checked, "t", &["c"]).await;
        let batch = stream.next().await.expect("a batch").expect("ok");
        assert_eq!(batch.messages[0].offset, 3);
        assert_eq!(
            batch.earliest_offset, 3,
            "the batch shows offsets 1..=2 were removed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deleting_a_topic_ends_its_long_polls_and_subscriptions_with_not_found() {
        let (checked, store, _) = checked_store();
        produce(&checked, "t", &["a"]).await;
        let mut stream = checked.subscribe("t", 1, false, LIMITS).expect("subscribe");
        let first = stream.next().await.expect("a batch").expect("ok");
        assert_eq!(first.messages.len(), 1);
        let waiting = {
            let checked = checked.clone();
            tokio::spawn(async move {
                checked
                    .read_waiting("t", 2, LIMITS, Duration::from_secs(20))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "the poll waits for a message");
        let deleted_at = Instant::now();
        let topic = TopicName::new("t").expect("valid");
        store.delete_topic(&topic).await.expect("delete");
        let poll = waiting.await.expect("task").expect_err("deleted");
        assert_eq!(poll.code(), Code::NotFound);
        assert_eq!(
            deleted_at.elapsed(),
            Duration::ZERO,
            "at once, not at the deadline"
        );
        let end = stream
            .next()
            .await
            .expect("the stream's end")
            .expect_err("deleted");
        assert_eq!(end.code(), Code::NotFound);
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscription_ends_when_its_client_goes_away() {
        let (checked, _, _) = checked_store();
        let stream = checked.subscribe("t", 0, false, LIMITS).expect("subscribe");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            checked
                .activity
                .subscriptions
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        drop(stream);
        checked.tasks.close();
        tokio::time::timeout(Duration::from_secs(1), checked.tasks.wait())
            .await
            .expect("the task ended");
        assert_eq!(
            checked
                .activity
                .subscriptions
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }
}
