//! Coalescing single sends into batched `Produce` requests.
//!
//! Every [`Producer::send`](crate::Producer::send) (and
//! [`send_record`](crate::Producer::send_record)) queues its record here.
//! One task per producer sends what is queued, keeping up to
//! [`BatchOptions::max_in_flight`] requests going at once. While a request
//! slot is free, what is queued goes out at once (a lone send is never held
//! back); while every slot is busy, sends gather, and the batch closes when
//! a slot frees up, or when it reaches its message count or byte size. So
//! by default the linger adapts to the server's answer time (around 100 µs
//! on loopback) with no timer, whose millisecond granularity would cost
//! more than it saves. A configured [`BatchOptions::linger`] also holds a
//! batch while a slot is free, as long as another request is under way:
//! fuller batches for a little latency. Each caller still gets its own
//! offset.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::sender::Sender;
use crate::{ClientError, Record};

/// How a producer coalesces concurrent sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// The most messages in one request.
    pub max_messages: usize,
    /// The most message bytes (payloads, keys, header names and values)
    /// in one request (one larger message aside).
    pub max_bytes: usize,
    /// The most requests under way at once; while all are, sends gather
    /// into the next batch. The default, 2, keeps one request on the wire
    /// while the next gathers: 64 tasks sending through one producer made
    /// about 1.25x the messages per second with 2 as with 4, at less CPU
    /// per message on both sides and a lower median latency (fewer, fuller
    /// batches; see docs/performance.md).
    pub max_in_flight: usize,
    /// How long a batch may wait for more sends while a request slot is
    /// free but another request is under way (it goes at once when nothing
    /// is under way, and when it is full). The default, zero, holds
    /// nothing: batches then gather only while every slot is busy, which
    /// on loopback lingers about one answer time (around 100 µs). Tokio's
    /// timer counts in milliseconds, so a linger under 1 ms acts as 1 ms.
    pub linger: Duration,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_messages: 1_000,
            max_bytes: 1024 * 1024,
            max_in_flight: 2,
            linger: Duration::ZERO,
        }
    }
}

/// One send waiting in the queue for its offset.
pub(crate) struct QueuedSend {
    pub(crate) record: Record,
    pub(crate) reply: oneshot::Sender<Result<u64, ClientError>>,
}

/// Starts the task that sends the queued records through `sender`; it
/// ends once every sender is gone and what it took has been answered.
pub(crate) fn spawn(sender: Sender, options: BatchOptions) -> mpsc::UnboundedSender<QueuedSend> {
    let (queue, receiver) = mpsc::unbounded_channel();
    tokio::spawn(run(sender, options, receiver));
    queue
}

async fn run(
    sender: Sender,
    options: BatchOptions,
    mut queue: mpsc::UnboundedReceiver<QueuedSend>,
) {
    let mut in_flight = FuturesUnordered::new();
    let mut waiting: VecDeque<QueuedSend> = VecDeque::new();
    // When the first send now waiting arrived (for the linger).
    let mut gathering_since = Instant::now();
    let mut open = true;
    while open || !waiting.is_empty() || !in_flight.is_empty() {
        let held = !waiting.is_empty()
            && in_flight.len() < options.max_in_flight
            && !options.linger.is_zero();
        tokio::select! {
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            next = queue.recv(), if open => match next {
                Some(queued) => {
                    if waiting.is_empty() {
                        gathering_since = Instant::now();
                    }
                    waiting.push_back(queued);
                }
                None => open = false,
            },
            // Made only when polled, so a runtime without timers works
            // until a linger is asked for.
            () = async { tokio::time::sleep_until(gathering_since + options.linger).await }, if held => {}
        }
        while let Ok(queued) = queue.try_recv() {
            if waiting.is_empty() {
                gathering_since = Instant::now();
            }
            waiting.push_back(queued);
        }
        while in_flight.len() < options.max_in_flight
            && !waiting.is_empty()
            && !holds(
                &waiting,
                in_flight.len(),
                options,
                gathering_since.elapsed(),
            )
        {
            in_flight.push(send(sender.clone(), take_batch(&mut waiting, options)));
        }
    }
}

/// Whether the sends in `waiting` should wait for more before going out
/// (a slot being free): only with a linger, only while another request is
/// under way, and only until they fill a batch or have waited the linger.
fn holds(
    waiting: &VecDeque<QueuedSend>,
    in_flight: usize,
    options: BatchOptions,
    waited: Duration,
) -> bool {
    if options.linger.is_zero() || in_flight == 0 || waited >= options.linger {
        return false;
    }
    let batch = waiting.iter().take(options.max_messages);
    let bytes: usize = batch.map(|q| q.record.size()).sum();
    waiting.len() < options.max_messages && bytes < options.max_bytes
}

/// Takes the next batch off the front of `waiting`, within the limits
/// (one message however large).
fn take_batch(waiting: &mut VecDeque<QueuedSend>, options: BatchOptions) -> Vec<QueuedSend> {
    let mut bytes = 0;
    let mut batch = Vec::new();
    while let Some(next) = waiting.front() {
        let size = next.record.size();
        let full = batch.len() >= options.max_messages
            || (!batch.is_empty() && bytes + size > options.max_bytes);
        if full {
            break;
        }
        bytes += size;
        batch.extend(waiting.pop_front());
    }
    batch
}

/// Sends one batch and answers each of its senders with its own offset.
async fn send(sender: Sender, batch: Vec<QueuedSend>) {
    let (records, replies): (Vec<Record>, Vec<_>) =
        batch.into_iter().map(|q| (q.record, q.reply)).unzip();
    match sender.send(records, None).await {
        Ok(range) => {
            for (offset, reply) in (range.first..).zip(replies) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(len: usize) -> QueuedSend {
        QueuedSend {
            record: Record::new(vec![0u8; len]),
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn batches_close_at_the_message_count_or_the_byte_size() {
        let options = BatchOptions {
            max_messages: 3,
            max_bytes: 100,
            max_in_flight: 4,
            linger: Duration::ZERO,
        };
        let mut waiting: VecDeque<QueuedSend> = (0..7).map(|_| queued(10)).collect();
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            (!waiting.is_empty()).then(|| take_batch(&mut waiting, options).len())
        })
        .collect();
        assert_eq!(sizes, vec![3, 3, 1]);

        let mut waiting: VecDeque<QueuedSend> =
            [60, 50, 10, 500, 1].into_iter().map(queued).collect();
        let sizes: Vec<usize> = std::iter::from_fn(|| {
            (!waiting.is_empty()).then(|| take_batch(&mut waiting, options).len())
        })
        .collect();
        assert_eq!(
            sizes,
            vec![1, 2, 1, 1],
            "60 | 50+10 | 500 alone however large | 1"
        );

        let keyed = |key: usize| QueuedSend {
            record: Record::new(vec![0u8; 10])
                .with_key(vec![0u8; key])
                .with_header("h", vec![0u8; 9]),
            reply: oneshot::channel().0,
        };
        let mut waiting: VecDeque<QueuedSend> = [20, 20, 60].into_iter().map(keyed).collect();
        assert_eq!(
            take_batch(&mut waiting, options).len(),
            2,
            "keys and headers count: 40 + 40, then 80 would be over 100"
        );
    }

    #[test]
    fn a_linger_holds_a_batch_only_while_another_request_is_under_way() {
        let ms = Duration::from_millis;
        let options = BatchOptions {
            max_messages: 3,
            max_bytes: 100,
            max_in_flight: 4,
            linger: ms(5),
        };
        let waiting = |sizes: &[usize]| -> VecDeque<QueuedSend> {
            sizes.iter().map(|&n| queued(n)).collect()
        };
        assert!(holds(&waiting(&[10]), 1, options, ms(1)), "gathering");
        assert!(
            !holds(&waiting(&[10]), 0, options, ms(1)),
            "nothing under way: a lone send is not held back"
        );
        assert!(
            !holds(&waiting(&[10]), 1, options, ms(5)),
            "lingered enough"
        );
        assert!(
            !holds(&waiting(&[1, 1, 1]), 1, options, ms(1)),
            "count full"
        );
        assert!(!holds(&waiting(&[60, 50]), 1, options, ms(1)), "bytes full");
        let no_linger = BatchOptions {
            linger: Duration::ZERO,
            ..options
        };
        assert!(!holds(&waiting(&[10]), 1, no_linger, ms(1)), "no linger");
    }
}
