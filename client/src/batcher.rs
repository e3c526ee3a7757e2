//! Coalescing single sends into batched `Produce` requests.
//!
//! Every [`Producer::send`](crate::Producer::send) queues its payload here.
//! One task per producer takes what is queued and sends it as one request,
//! keeping up to [`BatchOptions::max_in_flight`] requests going at once.
//! When nothing is in flight a send goes out at once, alone; while
//! requests are in flight, sends gather (up to the linger) into the next
//! batch. So a lone send is never held back, and many concurrent sends
//! travel many to a request, each caller still getting its own offset.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::{Client, ClientError, OffsetRange};

/// How a producer coalesces concurrent sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// The most messages in one request.
    pub max_messages: usize,
    /// The most payload bytes in one request (one larger message aside).
    pub max_bytes: usize,
    /// How long a batch may wait for more sends while earlier requests are
    /// in flight; never applies to a send when nothing is in flight.
    pub linger: Duration,
    /// The most requests under way at once.
    pub max_in_flight: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_messages: 1_000,
            max_bytes: 1024 * 1024,
            linger: Duration::from_micros(100),
            max_in_flight: 4,
        }
    }
}

/// One send waiting for its offset.
pub(crate) struct Pending {
    pub(crate) payload: Bytes,
    pub(crate) reply: oneshot::Sender<Result<u64, ClientError>>,
}

/// Starts the task that sends `topic`'s queued payloads; it ends once every
/// sender is gone and what it took has been answered.
pub(crate) fn spawn(
    client: Client,
    topic: String,
    options: BatchOptions,
) -> mpsc::UnboundedSender<Pending> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(run(client, topic, options, receiver));
    sender
}

async fn run(
    client: Client,
    topic: String,
    options: BatchOptions,
    mut queue: mpsc::UnboundedReceiver<Pending>,
) {
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            first = queue.recv(), if open && in_flight.len() < options.max_in_flight => {
                let Some(first) = first else {
                    open = false;
                    continue;
                };
                let linger = if in_flight.is_empty() { Duration::ZERO } else { options.linger };
                let batch = gather(first, &mut queue, options, linger).await;
                in_flight.push(send(client.clone(), topic.clone(), batch));
            }
        }
    }
}

/// Takes `first` and whatever else is queued, waiting up to `linger` for
/// more, until the batch is full.
async fn gather(
    first: Pending,
    queue: &mut mpsc::UnboundedReceiver<Pending>,
    options: BatchOptions,
    linger: Duration,
) -> Vec<Pending> {
    let deadline = Instant::now() + linger;
    let mut bytes = first.payload.len();
    let mut batch = vec![first];
    while batch.len() < options.max_messages && bytes < options.max_bytes {
        let next = match queue.try_recv() {
            Ok(next) => next,
            Err(_) if linger.is_zero() => break,
            Err(_) => match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(next)) => next,
                Ok(None) | Err(_) => break,
            },
        };
        bytes += next.payload.len();
        batch.push(next);
    }
    batch
}

/// Sends one batch and answers each of its senders with its own offset.
async fn send(client: Client, topic: String, batch: Vec<Pending>) {
    let (payloads, replies): (Vec<Bytes>, Vec<_>) =
        batch.into_iter().map(|p| (p.payload, p.reply)).unzip();
    match crate::producer::produce(&client, topic, payloads).await {
        Ok(OffsetRange { first, .. }) => {
            for (offset, reply) in (first..).zip(replies) {
                let _ = reply.send(Ok(offset));
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(error.duplicate()));
            }
        }
    }
}
