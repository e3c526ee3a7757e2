//! [`Subscription`]: messages pushed by the server as they are stored.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use minikafka_proto::v1;
use tonic::Streaming;

use crate::{Client, ClientError, Message};

/// The first wait before resubscribing after a transient error; it doubles
/// up to [`MAX_BACKOFF`] while errors repeat.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between resubscribing attempts, unless the consumer
/// sets another.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A stream of the messages of one topic, pushed as they are stored.
///
/// Made by [`Consumer::stream`](crate::Consumer::stream). After a transient
/// failure (the server restarting, the connection dropping) it resubscribes
/// from its position, waiting longer between attempts while failures
/// repeat, so no message is skipped or repeated; it logs the interruption
/// and the return once each at `info` (each retry at `debug`), and tells
/// an observer set with [`on_connection`](Self::on_connection). Other
/// errors end the stream after one `Err` item.
///
/// Offsets are consecutive within a topic, so a jump between two messages'
/// offsets means retention removed the ones in between before they were
/// read.
pub struct Subscription {
    position: Arc<AtomicU64>,
    observer: Arc<Mutex<Option<Observer>>>,
    inner: Pin<Box<dyn Stream<Item = Result<Message, ClientError>> + Send>>,
}

/// What a [`Subscription`] tells the observer set with
/// [`Subscription::on_connection`] about its connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A transient failure (the server down or restarting, the connection
    /// dropped) keeps the stream from subscribing (again); it keeps trying
    /// from its position, waiting longer between attempts. Reported once
    /// per outage, with the first attempt's failure; a stream that ends
    /// and subscribes again at the first attempt reports nothing.
    Lost(ClientError),
    /// Subscribed again after [`Lost`](Self::Lost).
    Restored,
}

type Observer = Box<dyn FnMut(ConnectionEvent) + Send>;

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(
        client: Client,
        topic: String,
        position: u64,
        from_end: bool,
        start: Option<v1::StartPosition>,
        max_batch: u32,
        max_backoff: Duration,
    ) -> Self {
        let position = Arc::new(AtomicU64::new(position));
        let observer = Arc::new(Mutex::new(None));
        let state = State {
            client,
            topic,
            position: Arc::clone(&position),
            from_end,
            start,
            max_batch,
            stream: None,
            received: VecDeque::new(),
            backoff: FIRST_BACKOFF.min(max_backoff),
            max_backoff,
            lost: false,
            observer: Arc::clone(&observer),
            ended: false,
        };
        Self {
            position,
            observer,
            inner: Box::pin(futures::stream::unfold(state, State::next)),
        }
    }

    /// The offset after the last message this stream has yielded: save it
    /// to resume here later. 0 until the first message when the stream
    /// started at the earliest or at the end.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// Calls `observer` when a transient failure interrupts the stream and
    /// when it is subscribed again, so a program can say so in its own
    /// words (as `mkfk-consumer` does).
    pub fn on_connection(self, observer: impl FnMut(ConnectionEvent) + Send + 'static) -> Self {
        *self.observer.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(observer));
        self
    }
}

impl Stream for Subscription {
    type Item = Result<Message, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct State {
    client: Client,
    topic: String,
    position: Arc<AtomicU64>,
    from_end: bool,
    /// Where to start (a time, a group's position) until the first
    /// message sets the position.
    start: Option<v1::StartPosition>,
    max_batch: u32,
    stream: Option<Streaming<v1::PollResponse>>,
    /// Messages received but not yet yielded.
    received: VecDeque<Message>,
    backoff: Duration,
    max_backoff: Duration,
    /// A transient failure was reported, and no subscribe has succeeded
    /// since.
    lost: bool,
    observer: Arc<Mutex<Option<Observer>>>,
    ended: bool,
}

impl State {
    async fn next(mut self) -> Option<(Result<Message, ClientError>, Self)> {
        loop {
            if let Some(message) = self.received.pop_front() {
                self.position.store(message.offset + 1, Ordering::Release);
                return Some((Ok(message), self));
            }
            if self.ended {
                return None;
            }
            // Whether the failure ended an established stream, rather than
            // an attempt to subscribe.
            let broke = self.stream.is_some();
            let failure = match self.stream.as_mut() {
                None => match self.client.subscribe(self.request()).await {
                    Ok(stream) => {
                        self.stream = Some(stream);
                        if self.lost {
                            self.lost = false;
                            tracing::info!(topic = %self.topic, "subscribed again");
                            self.tell(ConnectionEvent::Restored);
                        }
                        continue;
                    }
                    Err(error) => error,
                },
                Some(stream) => match stream.message().await {
                    Ok(Some(batch)) => {
                        self.backoff = FIRST_BACKOFF.min(self.max_backoff);
                        self.from_end = false;
                        self.received
                            .extend(batch.messages.into_iter().map(Message::from_proto));
                        continue;
                    }
                    // The server ended the stream: pick up where it stopped.
                    Ok(None) => ClientError::Status(tonic::Status::unavailable(
                        "the server ended the stream",
                    )),
                    Err(status) => self.client.error(status),
                },
            };
            self.stream = None;
            if !failure.is_transient() {
                self.ended = true;
                return Some((Err(failure), self));
            }
            // An outage is reported by the first attempt to subscribe again
            // that fails: its cause (say, "connection refused") says more
            // than how the old stream ended, and a blip is not reported.
            if broke || self.lost {
                tracing::debug!(topic = %self.topic, error = %failure, retry_in = ?self.backoff, "subscription interrupted");
            } else {
                self.lost = true;
                tracing::info!(topic = %self.topic, error = %failure, "subscription interrupted; resubscribing");
                self.tell(ConnectionEvent::Lost(failure));
            }
            tokio::time::sleep(self.backoff).await;
            self.backoff = (self.backoff * 2).min(self.max_backoff);
        }
    }

    fn tell(&self, event: ConnectionEvent) {
        let mut observer = self.observer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(observer) = observer.as_mut() {
            observer(event);
        }
    }

    fn request(&self) -> v1::SubscribeRequest {
        let read_from = self.position.load(Ordering::Acquire);
        v1::SubscribeRequest {
            topic: self.topic.clone(),
            read_from,
            max_batch: self.max_batch,
            from_end: self.from_end && read_from == 0,
            start: if read_from == 0 {
                self.start.clone()
            } else {
                None
            },
        }
    }
}
