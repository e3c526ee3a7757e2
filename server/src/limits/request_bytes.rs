//! The request-byte budget (`MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES`): the
//! most bytes of request messages the server holds at once, across every
//! connection.
//!
//! tonic reads a whole request message into memory before the service sees
//! it, so the budget is applied below tonic, to the HTTP/2 body: before a
//! message's bytes are passed on, the message's full length (from its gRPC
//! length prefix) is reserved. A request that cannot have its reservation
//! yet is not read further; HTTP/2 flow control then stops its sender, so
//! a flood waits on the clients' side instead of filling the server.
//!
//! - A reservation is taken whole, in arrival order, before any of its
//!   message is read, so requests never hold part of the budget while
//!   waiting for the rest (which could deadlock); one larger than the whole
//!   budget takes the whole budget and runs alone.
//! - It is held until the call's response is produced (a unary call has
//!   then dropped its request), so `Subscribe` streams and other long calls
//!   hold nothing while they stay open; messages that arrive after the
//!   response (only in client-streaming calls) are not counted.
//! - A message over `MINIKAFKA_MAX_REQUEST_BYTES` reserves nothing: tonic
//!   refuses it as soon as it reads its length.
//! - A message of [`SMALL_MESSAGE`] or less reserves nothing and never
//!   waits, so health checks, polls and small produces are answered during
//!   a flood of large requests. What such calls hold is no more than what
//!   any open call may have sent unread (its stream window), which the
//!   memory bound counts per call anyway.
//! - A client can still sit on budget it reserved: by announcing a large
//!   message and sending it slowly, or by sending a second large message
//!   in a unary call (tonic reads and discards it), which waits while the
//!   first holds its share. It holds it until its deadline or until it
//!   goes away; no honest client does either.
//!
//! The response future is inside tonic's deadline (`grpc-timeout`)
//! handling, so a request waiting for the budget still ends at its
//! deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tonic::Status;
use tonic::body::Body;

use crate::Activity;

/// The bytes of gRPC's message prefix: a compression flag and a big-endian
/// `u32` length.
const PREFIX_LEN: usize = 5;

/// Messages this small (one HTTP/2 frame) are not held to the budget.
pub const SMALL_MESSAGE: usize = 16 * 1024;

/// A tower layer that holds every request's message bytes to the budget.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    budget: Arc<Semaphore>,
    total: usize,
    max_request_bytes: usize,
    activity: Arc<Activity>,
}

impl RequestBudget {
    /// A budget of `total` bytes for requests no larger than
    /// `max_request_bytes`, counted in `activity`.
    pub fn new(total: usize, max_request_bytes: usize, activity: Arc<Activity>) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        Self {
            budget: Arc::new(Semaphore::new(total)),
            total,
            max_request_bytes,
            activity,
        }
    }
}

impl<S> tower_layer::Layer<S> for RequestBudget {
    type Service = Budgeted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Budgeted {
            inner,
            budget: self.clone(),
        }
    }
}

/// The service of [`RequestBudget`]: wraps each request's body so that it
/// reserves before it reads, and releases when the response is produced.
#[derive(Debug, Clone)]
pub struct Budgeted<S> {
    inner: S,
    budget: RequestBudget,
}

impl<S, ResBody> tower_service::Service<http::Request<Body>> for Budgeted<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let held = Arc::new(Held {
            state: Mutex::default(),
            activity: Arc::clone(&self.budget.activity),
        });
        let budget = &self.budget;
        let request = request.map(|body| {
            Body::new(BudgetedBody {
                inner: body,
                budget: PollSemaphore::new(Arc::clone(&budget.budget)),
                total: budget.total,
                max_request_bytes: budget.max_request_bytes,
                held: Arc::clone(&held),
                framing: Framing::default(),
                waiting: None,
            })
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            // Released when the response is ready, or when the call is
            // dropped (cancelled, past its deadline).
            let _release = Release(held);
            response.await
        })
    }
}

/// What one request has reserved, shared by its body (which adds to it)
/// and its response future (which releases it).
#[derive(Debug)]
struct Held {
    state: Mutex<HeldState>,
    activity: Arc<Activity>,
}

#[derive(Debug, Default)]
struct HeldState {
    permit: Option<OwnedSemaphorePermit>,
    /// The response was produced: nothing more is held.
    released: bool,
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, HeldState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn released(&self) -> bool {
        self.lock().released
    }

    /// Holds `permit` until release (or gives it back at once if the
    /// response was already produced).
    fn keep(&self, permit: OwnedSemaphorePermit) {
        let mut state = self.lock();
        if state.released {
            return;
        }
        self.activity
            .request_bytes
            .fetch_add(permit.num_permits(), Ordering::Relaxed);
        match &mut state.permit {
            Some(held) => held.merge(permit),
            None => state.permit = Some(permit),
        }
    }

    fn release(&self) {
        let mut state = self.lock();
        state.released = true;
        if let Some(permit) = state.permit.take() {
            self.activity
                .request_bytes
                .fetch_sub(permit.num_permits(), Ordering::Relaxed);
        }
    }
}

/// Releases a request's reservation when dropped.
struct Release(Arc<Held>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Counts one request waiting for the budget for as long as it lives.
#[derive(Debug)]
struct Waiting(Arc<Activity>);

impl Waiting {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.requests_waiting.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(activity))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.requests_waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A frame received but not yet passed on: the messages it starts need
/// `permits` reserved first.
struct FrameAwaitingBudget {
    frame: Frame<Bytes>,
    permits: u32,
    _waiting: Waiting,
}

/// A request body that reserves each message's bytes before passing them on.
struct BudgetedBody {
    inner: Body,
    budget: PollSemaphore,
    total: usize,
    max_request_bytes: usize,
    held: Arc<Held>,
    framing: Framing,
    waiting: Option<FrameAwaitingBudget>,
}

impl http_body::Body for BudgetedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        let pending = match this.waiting.take() {
            Some(pending) => pending,
            None => {
                let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                    Some(Ok(frame)) => frame,
                    other => return Poll::Ready(other),
                };
                let needed = frame.data_ref().map_or(0, |data| {
                    this.framing.starting(data, this.max_request_bytes)
                });
                if needed == 0 || this.held.released() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                FrameAwaitingBudget {
                    frame,
                    // Never more than the whole budget, or it would wait forever.
                    permits: u32::try_from(needed.min(this.total)).unwrap_or(u32::MAX),
                    _waiting: Waiting::new(&this.held.activity),
                }
            }
        };
        if !this.held.released() {
            match this.budget.poll_acquire_many(cx, pending.permits) {
                Poll::Pending => {
                    this.waiting = Some(pending);
                    return Poll::Pending;
                }
                Poll::Ready(Some(permit)) => this.held.keep(permit),
                Poll::Ready(None) => {} // the budget is never closed
            }
        }
        Poll::Ready(Some(Ok(pending.frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.waiting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Where a request body stands in gRPC's framing: each message is a
/// 5-byte prefix, then as many bytes as the prefix says.
#[derive(Debug, Default)]
struct Framing {
    prefix: [u8; PREFIX_LEN],
    /// How much of the current prefix has been seen.
    prefix_seen: usize,
    /// How much of the current message is still to come.
    message_left: usize,
}

impl Framing {
    /// Follows the framing through `data`, the next bytes of the body, and
    /// returns the bytes to reserve for the messages whose prefix ends in
    /// it: each one's prefix and length, except a small one and one over
    /// `max_request_bytes`, which tonic refuses without reading it.
    fn starting(&mut self, mut data: &[u8], max_request_bytes: usize) -> usize {
        let mut needed = 0usize;
        while !data.is_empty() {
            if self.message_left > 0 {
                let n = self.message_left.min(data.len());
                self.message_left -= n;
                data = &data[n..];
                continue;
            }
            let n = (PREFIX_LEN - self.prefix_seen).min(data.len());
            self.prefix[self.prefix_seen..self.prefix_seen + n].copy_from_slice(&data[..n]);
            self.prefix_seen += n;
            data = &data[n..];
            if self.prefix_seen == PREFIX_LEN {
                self.prefix_seen = 0;
                let [_, a, b, c, d] = self.prefix;
                let len = u32::from_be_bytes([a, b, c, d]) as usize;
                self.message_left = len;
                if (SMALL_MESSAGE + 1..=max_request_bytes).contains(&len) {
                    needed = needed.saturating_add(PREFIX_LEN + len);
                }
            }
        }
        needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend(std::iter::repeat_n(7u8, len as usize));
        bytes
    }

    #[test]
    fn each_message_is_reserved_where_its_prefix_ends() {
        const LARGE: u32 = SMALL_MESSAGE as u32 + 1;
        let body: Vec<u8> = [message(LARGE), message(10), message(LARGE + 2)].concat();
        let limit = 1 << 20;
        // In one piece: all the large ones at once.
        let both = 2 * (5 + LARGE as usize) + 2;
        assert_eq!(Framing::default().starting(&body, limit), both);
        // Byte by byte: each where its prefix ends, and nowhere else.
        let mut framing = Framing::default();
        let per_byte: Vec<(usize, usize)> = body
            .iter()
            .enumerate()
            .map(|(i, byte)| (i, framing.starting(&[*byte], limit)))
            .filter(|&(_, needed)| needed > 0)
            .collect();
        let third_prefix_end = 2 * 5 + LARGE as usize + 10 + 4;
        assert_eq!(
            per_byte,
            vec![
                (4, 5 + LARGE as usize),
                (third_prefix_end, 5 + LARGE as usize + 2)
            ]
        );
    }

    #[test]
    fn small_messages_and_those_over_the_request_limit_reserve_nothing() {
        let mut framing = Framing::default();
        assert_eq!(framing.starting(&message(SMALL_MESSAGE as u32), 1 << 20), 0);
        assert_eq!(framing.starting(&message(0), 1 << 20), 0);
        let over = SMALL_MESSAGE as u32 + 2000;
        assert_eq!(
            framing.starting(&message(over)[..100], over as usize - 1),
            0
        );
        assert_eq!(framing.message_left, over as usize - 95);
    }
}
