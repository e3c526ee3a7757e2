//! The producer side: tasks that claim batches from the shared [`Plan`] and
//! send them, timing each call to its acknowledgement.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use minikafka_client::Producer;

use super::client_error;
use super::measure::{Tally, micros};
use super::payload::{Extras, payload, warm_up_payload};
use super::plan::Plan;
use super::progress::Progress;

/// What one producer task did.
#[derive(Debug)]
pub struct ProducerStats {
    /// Messages acknowledged, with each call's acknowledgement latency.
    pub tally: Tally,
    /// Calls made (`send`, `send_batch`, `send_record` or `send_records`).
    pub calls: u64,
    /// When its last call was acknowledged.
    pub finished: Instant,
}

/// Sends one warm-up message (not counted by consumers).
pub async fn send_warm_up(producer: &Producer) -> anyhow::Result<()> {
    producer
        .send(warm_up_payload())
        .await
        .map(drop)
        .map_err(client_error)
}

/// What each producer call sends.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Messages per call (1: `send`, or `send_record`).
    pub batch: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// The key and headers of each message.
    pub extras: Extras,
}

/// One producer task: claims batches of messages shaped as `shape` says
/// from `plan` and sends them through `producer` (shared with the
/// producer's other tasks, number `index` from 0) until the plan is done.
pub async fn produce(
    index: usize,
    producer: Arc<Producer>,
    plan: Arc<Plan>,
    shape: Arc<Shape>,
    epoch: Instant,
    counters: Arc<Progress>,
) -> anyhow::Result<ProducerStats> {
    let Shape { batch, size, .. } = *shape;
    let extras = &shape.extras;
    let message_bytes = (size + extras.bytes()) as u64;
    let mut stats = ProducerStats {
        tally: Tally::default(),
        calls: 0,
        finished: Instant::now(),
    };
    while let Some(claim) = plan.claim(batch as u64, Instant::now()) {
        if let Some(at) = claim.send_at {
            tokio::time::sleep_until(at.into()).await;
        }
        let count = claim.messages.end - claim.messages.start;
        let sent = Instant::now();
        // Every message of one call has the same send time, so one payload
        // serves them all.
        let payload = payload(size, (sent - epoch).as_nanos() as u64);
        let result = match (batch, extras.is_empty()) {
            (1, true) => producer.send(payload).await.map(drop),
            (_, true) => {
                let payloads = std::iter::repeat_n(payload, count as usize);
                producer.send_batch(payloads).await.map(drop)
            }
            (1, false) => producer.send_record(extras.record(payload)).await.map(drop),
            (_, false) => {
                let record = extras.record(payload);
                let records = std::iter::repeat_n(record, count as usize);
                producer.send_records(records).await.map(drop)
            }
        };
        result.map_err(client_error).with_context(|| {
            format!(
                "producer {}: sending messages {}..={} of the run failed",
                index + 1,
                claim.messages.start + 1,
                claim.messages.end
            )
        })?;
        let acknowledged = Instant::now();
        stats
            .tally
            .latency
            .saturating_record(micros(acknowledged - sent));
        stats.tally.count(count, count * message_bytes);
        stats.calls += 1;
        stats.finished = acknowledged;
        counters.produced.fetch_add(count, Ordering::Relaxed);
    }
    Ok(stats)
}
