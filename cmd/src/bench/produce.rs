//! The producer side: tasks that claim batches from the shared [`Plan`] and
//! send them, timing each call to its acknowledgement.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use minikafka_client::Producer;

use super::client_error;
use super::measure::{Tally, micros};
use super::payload::{payload, warm_up_payload};
use super::plan::Plan;
use super::progress::Progress;

/// What one producer task did.
#[derive(Debug)]
pub struct ProducerStats {
    /// Messages acknowledged, with each call's acknowledgement latency.
    pub tally: Tally,
    /// `send` or `send_batch` calls made.
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

/// One producer task: claims batches of `batch` messages of `size` bytes
/// from `plan` and sends them through `producer` (shared with the
/// producer's other tasks, number `index` from 0) until the plan is done.
pub async fn produce(
    index: usize,
    producer: Arc<Producer>,
    plan: Arc<Plan>,
    (batch, size): (usize, usize),
    epoch: Instant,
    counters: Arc<Progress>,
) -> anyhow::Result<ProducerStats> {
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
        let result = if batch == 1 {
            producer.send(payload).await.map(drop)
        } else {
            let payloads = std::iter::repeat_n(payload, count as usize);
            producer.send_batch(payloads).await.map(drop)
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
        stats.tally.count(count, count * size as u64);
        stats.calls += 1;
        stats.finished = acknowledged;
        counters.produced.fetch_add(count, Ordering::Relaxed);
    }
    Ok(stats)
}
