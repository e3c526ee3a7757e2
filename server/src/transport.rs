//! Transport: how connections are accepted and carried, apart from what
//! is served on them (see `routes`). The listener's socket options, the
//! connection cap, TLS, HTTP/2 windows and keepalive, and the
//! request-byte budget.
//!
//! A second listener (a metrics endpoint, say) takes [`server`] and
//! [`incoming`] with its own settings and serves its own routes.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tower_layer::{Identity, Stack};

use crate::config::{self, Limits, Listener};
use crate::limits::connections::{self, CappedIncoming};
use crate::limits::request_bytes::RequestBudget;
use crate::{Activity, ServeError};

/// How much of a call's request a client may send before the server reads
/// it (the HTTP/2 stream window). A request waiting for the request-byte
/// budget holds at most this much, plus one frame, of its body.
pub const STREAM_WINDOW: u32 = 128 * 1024;

/// The HTTP/2 window of a whole connection: room for every call it may
/// have open to fill its stream window. With less, calls waiting for the
/// budget could fill the connection's window with bytes the server does
/// not read yet, and stall the very call whose end would free the budget
/// (the window is shared; a stream's bytes leave it only when read).
fn connection_window(max_streams_per_connection: u32) -> u32 {
    let streams = max_streams_per_connection.saturating_add(1);
    streams.saturating_mul(STREAM_WINDOW).min(MAX_HTTP2_WINDOW)
}

/// The largest window HTTP/2 allows (2^31 - 1).
const MAX_HTTP2_WINDOW: u32 = (1 << 31) - 1;

// The largest stream limit accepted still gets a whole connection window.
const _: () = assert!(
    (config::MAX_STREAMS_PER_CONNECTION as u64 + 1) * STREAM_WINDOW as u64
        <= MAX_HTTP2_WINDOW as u64
);

/// tonic's server as a [`Listener`] and [`Limits`] configure it.
pub type Transport = tonic::transport::Server<Stack<RequestBudget, Identity>>;

/// tonic's server for `listener` under `limits`, counting what it holds
/// in `activity`. Fails when the TLS identity cannot be used.
pub fn server(
    listener: &Listener,
    limits: &Limits,
    activity: &Arc<Activity>,
) -> Result<Transport, ServeError> {
    let mut server = tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_streams_per_connection)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(connection_window(limits.max_streams_per_connection))
        // Dead peers (a crashed client, a cut network) must not hold
        // their calls and memory forever.
        .http2_keepalive_interval(Some(listener.keepalive_interval))
        .http2_keepalive_timeout(Some(listener.keepalive_timeout))
        // Inside tonic's deadline handling: waiting for the budget
        // still ends at the call's deadline.
        .layer(RequestBudget::new(
            limits.max_inflight_request_bytes,
            limits.max_request_bytes,
            Arc::clone(activity),
        ));
    if let Some(tls) = &listener.tls {
        // The configuration checked the identity; this fails only for one
        // made by hand, without `Config`.
        server = server.tls_config(tls.server_config()).map_err(|error| {
            ServeError::Tls(format!(
                "MINIKAFKA_TLS_CERT/MINIKAFKA_TLS_KEY: unusable: {}",
                crate::tls::with_causes(&error)
            ))
        })?;
    }
    Ok(server)
}

/// The connections accepted on `tcp`: without Nagle's delay, with TCP
/// keepalive, and at most `limits.max_connections` open at once.
pub fn incoming(
    tcp: TcpListener,
    listener: &Listener,
    limits: &Limits,
    activity: &Arc<Activity>,
) -> CappedIncoming {
    // Small replies must not wait for Nagle's algorithm.
    let incoming = TcpIncoming::from(tcp)
        .with_nodelay(Some(true))
        // TCP keepalive backs up HTTP/2's (whole seconds only).
        .with_keepalive(Some(
            (listener.keepalive_interval + listener.keepalive_timeout).max(Duration::from_secs(1)),
        ));
    connections::warn_if_over_file_limit(limits.max_connections);
    CappedIncoming::new(incoming, limits.max_connections, Arc::clone(activity))
}
