//! The consumer side: each consumer follows the topic from its end and
//! counts what it receives, timing each message from its send.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, bail};
use futures::StreamExt;
use minikafka_client::{Client, Position};
use tokio::sync::{mpsc, watch};

use super::STALL;
use super::client_error;
use super::measure::Tally;
use super::payload::{Stamp, stamp};
use super::progress::Progress;

/// What one consumer received.
#[derive(Debug)]
pub struct ConsumerStats {
    /// Messages received, with each one's produce-to-receive latency.
    pub tally: Tally,
    /// When it received its last message.
    pub last_received: Option<Instant>,
}

/// One consumer (number `index` from 0): follows `topic` from its end,
/// signals `ready` on its first warm-up message, then counts messages until
/// it has as many as `target` says were produced.
pub async fn consume(
    index: usize,
    client: Client,
    topic: String,
    epoch: Instant,
    ready: mpsc::UnboundedSender<usize>,
    mut target: watch::Receiver<Option<u64>>,
    counters: Arc<Progress>,
) -> anyhow::Result<ConsumerStats> {
    let name = format!("consumer {}", index + 1);
    let mut stream = client.consumer(topic, Position::End).stream();
    let mut ready = Some(ready);
    let mut stats = ConsumerStats {
        tally: Tally::default(),
        last_received: None,
    };
    loop {
        let wanted = *target.borrow_and_update();
        if wanted.is_some_and(|wanted| stats.tally.messages >= wanted) {
            return Ok(stats);
        }
        let item = tokio::select! {
            item = stream.next() => item,
            changed = target.changed() => {
                changed.with_context(|| format!("{name}: the benchmark ended"))?;
                continue;
            }
            () = tokio::time::sleep(STALL), if wanted.is_some() => bail!(
                "{name} received {} of {} messages, then nothing for {STALL:?}",
                stats.tally.messages,
                wanted.unwrap_or_default()
            ),
        };
        let message = match item {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(client_error(error).context(format!("{name} failed"))),
            None => bail!("{name}: the subscription ended"),
        };
        let received = Instant::now();
        let stamp = stamp(&message.payload);
        if stamp == Stamp::WarmUp {
            if let Some(ready) = ready.take() {
                // The benchmark waits for this; if it is gone, it has failed.
                let _ = ready.send(index);
            }
            continue;
        }
        if ready.is_some() {
            // Not produced by this run: nothing is, before every consumer
            // has had a warm-up message.
            continue;
        }
        if let Stamp::Sent(sent) = stamp {
            let received_nanos = (received - epoch).as_nanos() as u64;
            stats
                .tally
                .latency
                .saturating_record(received_nanos.saturating_sub(sent) / 1_000);
        }
        // Payload, key and header bytes, as the producers count them.
        let headers: usize = message
            .headers
            .iter()
            .map(|header| header.name.len() + header.value.len())
            .sum();
        let bytes = message.payload.len() + message.key.len() + headers;
        stats.tally.count(1, bytes as u64);
        stats.last_received = Some(received);
        counters.consumed[index].fetch_add(1, Ordering::Relaxed);
    }
}
