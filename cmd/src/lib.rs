//! What the minikafka command-line tools share; each binary in `src/bin/`
//! only parses its arguments and calls into these, the server and the client.
//!
//! # Layout
//! - [`batching`] — groups standard-input lines into produce batches.
//! - [`output`] — prints consumed messages as raw lines or JSON.
//! - [`logging`] — the tracing subscriber every binary installs.

pub mod batching;
pub mod logging;
pub mod output;

/// `--host` help shared by the client tools.
pub const HOST_HELP: &str =
    "Server address: host:port or a URL [env: MINIKAFKA_HOST, default: 127.0.0.1:9999]";
