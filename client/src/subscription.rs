//! [`Subscription`]: messages pushed by the server as they are stored.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use minikafka_proto::v1;
use tonic::{Code, Streaming};

use crate::client::system_time;
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
/// repeat, so no message is skipped or repeated. Other errors end the
/// stream after one `Err` item.
///
/// Offsets are consecutive within a topic, so a jump between two messages'
/// offsets means retention removed the ones in between before they were
/// read.
pub struct Subscription {
    position: Arc<AtomicU64>,
    inner: Pin<Box<dyn Stream<Item = Result<Message, ClientError>> + Send>>,
}

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
        max_batch: u32,
        max_backoff: Duration,
    ) -> Self {
        let position = Arc::new(AtomicU64::new(position));
        let state = State {
            client,
            topic,
            position: Arc::clone(&position),
            from_end,
            max_batch,
            stream: None,
            pending: VecDeque::new(),
            backoff: FIRST_BACKOFF.min(max_backoff),
            max_backoff,
            ended: false,
        };
        Self {
            position,
            inner: Box::pin(futures::stream::unfold(state, State::next)),
        }
    }

    /// The offset after the last message this stream has yielded: save it
    /// to resume here later. 0 until the first message when the stream
    /// started at the earliest or at the end.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }
}

impl Stream for Subscription {
    type Item = Result<Message, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Errors after which resubscribing can succeed.
fn is_transient(error: &ClientError) -> bool {
    matches!(
        error.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Aborted
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
    )
}

struct State {
    client: Client,
    topic: String,
    position: Arc<AtomicU64>,
    from_end: bool,
    max_batch: u32,
    stream: Option<Streaming<v1::PollResponse>>,
    /// Messages received but not yet yielded.
    pending: VecDeque<Message>,
    backoff: Duration,
    max_backoff: Duration,
    ended: bool,
}

impl State {
    async fn next(mut self) -> Option<(Result<Message, ClientError>, Self)> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                self.position.store(message.offset + 1, Ordering::Release);
                return Some((Ok(message), self));
            }
            if self.ended {
                return None;
            }
            let failure = match self.stream.as_mut() {
                None => match self.client.subscribe(self.request()).await {
                    Ok(stream) => {
                        self.stream = Some(stream);
                        continue;
                    }
                    Err(error) => error,
                },
                Some(stream) => match stream.message().await {
                    Ok(Some(batch)) => {
                        self.backoff = FIRST_BACKOFF.min(self.max_backoff);
                        self.from_end = false;
                        self.pending
                            .extend(batch.messages.into_iter().map(|m| Message {
                                offset: m.offset,
                                timestamp: system_time(m.timestamp),
                                payload: m.payload,
                            }));
                        continue;
                    }
                    // The server ended the stream: pick up where it stopped.
                    Ok(None) => ClientError::Status(tonic::Status::unavailable(
                        "the server ended the stream",
                    )),
                    Err(status) => ClientError::Status(status),
                },
            };
            self.stream = None;
            if !is_transient(&failure) {
                self.ended = true;
                return Some((Err(failure), self));
            }
            tracing::warn!(topic = %self.topic, error = %failure, retry_in = ?self.backoff, "subscription interrupted; resubscribing");
            tokio::time::sleep(self.backoff).await;
            self.backoff = (self.backoff * 2).min(self.max_backoff);
        }
    }

    fn request(&self) -> v1::SubscribeRequest {
        let read_from = self.position.load(Ordering::Acquire);
        v1::SubscribeRequest {
            topic: self.topic.clone(),
            read_from,
            max_batch: self.max_batch,
            from_end: self.from_end && read_from == 0,
        }
    }
}
