//! The connection cap (`MINIKAFKA_MAX_CONNECTIONS`): the server accepts a
//! connection only while it holds fewer than the cap. Past it, new
//! connections wait in the listen queue (the kernel completes their TCP
//! handshake, the server reads nothing from them) until one closes, so a
//! flood of clients cannot make the server run out of file descriptors or
//! memory; a full listen queue makes further clients retry their SYN.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::Stream;
use tokio_util::sync::PollSemaphore;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

use crate::Activity;

/// The listener's connections, accepted only while fewer than the cap are
/// open: what the server serves instead of the bare listener.
#[derive(Debug)]
pub struct CappedIncoming {
    listener: TcpIncoming,
    slots: PollSemaphore,
    /// A slot taken for the next connection, before it is accepted.
    slot: Option<OwnedSemaphorePermit>,
    cap: usize,
    activity: Arc<Activity>,
    /// Whether the operator has been told that the cap was reached.
    warned: bool,
}

impl CappedIncoming {
    /// Accepts from `listener` while fewer than `cap` of its connections
    /// are open, counting them in `activity`.
    pub fn new(listener: TcpIncoming, cap: usize, activity: Arc<Activity>) -> Self {
        Self {
            listener,
            slots: PollSemaphore::new(Arc::new(Semaphore::new(cap))),
            slot: None,
            cap,
            activity,
            warned: false,
        }
    }
}

impl Stream for CappedIncoming {
    type Item = io::Result<CappedConnection>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.slot.is_none() {
            match this.slots.poll_acquire(cx) {
                Poll::Ready(Some(slot)) => this.slot = Some(slot),
                // The semaphore is never closed.
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    if !this.warned {
                        this.warned = true;
                        tracing::warn!(
                            cap = this.cap,
                            "MINIKAFKA_MAX_CONNECTIONS reached: new connections wait in the listen queue until one closes (said once)"
                        );
                    }
                    return Poll::Pending;
                }
            }
        }
        let accepted = ready!(Pin::new(&mut this.listener).poll_next(cx));
        Poll::Ready(accepted.map(|accepted| {
            accepted.map(|stream| {
                this.activity.connections.fetch_add(1, Ordering::Relaxed);
                CappedConnection {
                    stream,
                    _slot: this.slot.take(),
                    activity: Arc::clone(&this.activity),
                }
            })
        }))
    }
}

/// An accepted connection; its slot under the cap frees when it closes.
#[derive(Debug)]
pub struct CappedConnection {
    stream: TcpStream,
    _slot: Option<OwnedSemaphorePermit>,
    activity: Arc<Activity>,
}

impl Drop for CappedConnection {
    fn drop(&mut self) {
        self.activity.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connected for CappedConnection {
    // The same as a bare TCP stream's, so `remote_addr` and TLS peer
    // certificates are found where tonic looks for them.
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for CappedConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Open files the server keeps besides connections: the listener, the
/// runtime's, the store's segments and indexes, logs.
const FILES_BESIDES_CONNECTIONS: u64 = 64;

/// Warns when the process may not open enough files for `cap` connections
/// (`ulimit -n`, read from `/proc/self/limits` where there is one): past
/// that limit, accepting fails over and over instead of waiting under the
/// cap.
pub fn warn_if_over_file_limit(cap: usize) {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .as_deref()
        .and_then(open_file_limit)
    else {
        return;
    };
    if (cap as u64).saturating_add(FILES_BESIDES_CONNECTIONS) > limit {
        tracing::warn!(
            max_connections = cap,
            open_file_limit = limit,
            "MINIKAFKA_MAX_CONNECTIONS is close to or above the open-file limit: raise `ulimit -n` to at least {} or lower the cap",
            cap as u64 + FILES_BESIDES_CONNECTIONS
        );
    }
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text; `None` when
/// unlimited or not found.
fn open_file_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_file_limit_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             95000                95000                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(open_file_limit(limits), Some(1024));
        assert_eq!(
            open_file_limit("Max open files  unlimited  unlimited  files\n"),
            None
        );
        assert_eq!(open_file_limit(""), None);
    }
}
