//! [`Sender`]: how a producer's batches become `Produce` requests that are
//! safe to retry.
//!
//! An idempotent producer sends each request on a *lane*: a producer id of
//! its own, with that id's next sequence number. The server stores a batch
//! once per (id, sequence) and answers a repeat with the original offsets,
//! so a request whose answer was lost (a timeout, a dropped connection,
//! the server restarting) is sent again with the same id and sequence
//! until it is answered or the retry time runs out.
//!
//! Requests in flight at once each hold a lane of their own, so none waits
//! for another's answer to keep its sequence in order. A lane goes back to
//! the pool once its request is answered (its sequence moves on when the
//! batch was stored). A lane whose request's outcome stays unknown, its
//! retries exhausted, is retired: a later batch on it would reuse the
//! sequence of a batch the server may have stored, and be answered with
//! that batch's offsets instead of being stored.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use minikafka_proto::v1;
use tokio::time::Instant;

use crate::{Client, ClientError, OffsetRange, Record};

/// How long a request is retried unless the producer says otherwise.
pub(crate) const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(30);
/// The first wait before a retry; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Sends a producer's batches to its topic, idempotently unless told not
/// to. Clones share the pool of lanes.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    pub(crate) client: Client,
    pub(crate) topic: String,
    /// Whether requests carry a producer id and sequence and are retried;
    /// without, each is one attempt.
    pub(crate) idempotent: bool,
    /// How long a request is retried after transient failures.
    pub(crate) retry_for: Duration,
    /// The lanes not in use.
    lanes: Arc<Mutex<Vec<Lane>>>,
}

/// A producer id and its next sequence number.
#[derive(Debug)]
struct Lane {
    producer_id: u64,
    next_sequence: u64,
}

/// How a request ended.
enum Outcome {
    /// Stored (now or by an earlier attempt) at these offsets.
    Stored(OffsetRange),
    /// Refused, or failed before reaching the server: nothing stored.
    NotStored(ClientError),
    /// Perhaps stored, perhaps not: the last failure.
    Unknown(ClientError),
}

impl Sender {
    /// An idempotent sender to `topic` through `client`.
    pub(crate) fn new(client: Client, topic: String) -> Self {
        Self {
            client,
            topic,
            idempotent: true,
            retry_for: DEFAULT_RETRY_FOR,
            lanes: Arc::default(),
        }
    }

    /// Stores `records` in order and atomically (if the topic's next
    /// offset is `expected_next_offset`, when given), retrying transient
    /// failures with the same producer id and sequence when idempotent.
    pub(crate) async fn send(
        &self,
        records: Vec<Record>,
        expected_next_offset: Option<u64>,
    ) -> Result<OffsetRange, ClientError> {
        let mut request = self.request(records, expected_next_offset);
        if !self.idempotent {
            return self.client.produce(request).await;
        }
        let retry_for = self.retry_for;
        let mut lane = self.take_lane();
        request.producer_id = lane.producer_id;
        request.sequence = lane.next_sequence;
        match self.send_retrying(&request, retry_for).await {
            Outcome::Stored(range) => {
                lane.next_sequence = lane.next_sequence.wrapping_add(1);
                self.put_lane(lane);
                Ok(range)
            }
            Outcome::NotStored(error) => {
                self.put_lane(lane);
                Err(error)
            }
            Outcome::Unknown(error) => {
                tracing::warn!(
                    topic = %self.topic,
                    producer_id = lane.producer_id,
                    sequence = lane.next_sequence,
                    %error,
                    "produce outcome unknown after retrying for {retry_for:?}; the batch may be \
                     stored; its producer id is retired"
                );
                Err(error)
            }
        }
    }

    /// Sends `request` until it is answered, a failure is not transient,
    /// or `retry_for` has passed since the first attempt (which bounds
    /// every attempt too).
    async fn send_retrying(&self, request: &v1::ProduceRequest, retry_for: Duration) -> Outcome {
        let deadline = Instant::now() + retry_for;
        let mut backoff = FIRST_BACKOFF;
        // Whether an earlier attempt may have stored the batch.
        let mut uncertain = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = self.client.produce(request.clone());
            // Only a producer that retries for no time at all (zero) has
            // no time left at its first attempt: that one is not cut.
            let answer = if left.is_zero() {
                Ok(attempt.await)
            } else {
                tokio::time::timeout(left, attempt).await
            };
            let error = match answer {
                Ok(Ok(range)) => return Outcome::Stored(range),
                Ok(Err(error)) if !error.is_transient() && !uncertain => {
                    return Outcome::NotStored(error);
                }
                Ok(Err(error)) if !error.is_transient() => return Outcome::Unknown(error),
                Ok(Err(error)) => error,
                Err(_) => ClientError::Timeout(retry_for),
            };
            uncertain = true;
            if deadline.saturating_duration_since(Instant::now()) <= backoff {
                return Outcome::Unknown(error);
            }
            tracing::debug!(
                topic = %self.topic,
                producer_id = request.producer_id,
                sequence = request.sequence,
                %error,
                retry_in = ?backoff,
                "produce failed; retrying with the same sequence"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// The request for `records`: plain payloads in `payloads`, which
    /// every server version reads; anything else in `records`.
    fn request(
        &self,
        records: Vec<Record>,
        expected_next_offset: Option<u64>,
    ) -> v1::ProduceRequest {
        let mut request = v1::ProduceRequest {
            topic: self.topic.clone(),
            expected_next_offset,
            ..v1::ProduceRequest::default()
        };
        if records.iter().all(Record::is_plain) {
            request.payloads = records.into_iter().map(|r| r.payload).collect();
        } else {
            request.records = records.into_iter().map(Into::into).collect();
        }
        request
    }

    /// A lane not in use, or a new one.
    fn take_lane(&self) -> Lane {
        let idle = self
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        idle.unwrap_or_else(|| Lane {
            producer_id: random_producer_id(),
            next_sequence: 0,
        })
    }

    fn put_lane(&self, lane: Lane) {
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(lane);
    }
}

/// A random non-zero producer id: std's randomly keyed hasher (fresh keys
/// for each call) over the time and the process id, so producers in other
/// processes and on other machines pick others.
fn random_producer_id() -> u64 {
    loop {
        let mut hasher = RandomState::new().build_hasher();
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        hasher.write_u128(since_epoch.as_nanos());
        hasher.write_u32(std::process::id());
        let id = hasher.finish();
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn producer_ids_are_non_zero_and_distinct() {
        let ids: HashSet<u64> = (0..10_000).map(|_| random_producer_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(!ids.contains(&0));
    }
}
