//! What the minikafka command-line tools share; each binary in `src/bin/`
//! only parses its arguments and calls into these, the server and the client.
//!
//! # Layout
//! - [`bench`] — the producers, consumers and measurements of `mkfk-bench`.
//! - [`batching`] — groups standard-input lines into produce batches.
//! - [`output`] — prints consumed messages as raw lines or JSON.
//! - [`logging`] — the tracing subscriber every binary installs.

pub mod batching;
pub mod bench;
pub mod logging;
pub mod output;

/// The server and topic every client tool works with.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Server address: host:port or a URL
    #[arg(long, env = "MINIKAFKA_HOST", default_value = minikafka_client::DEFAULT_ADDRESS)]
    pub host: String,
    /// The topic (a producer creates it on first use; a consumer waits for it)
    #[arg(long)]
    pub topic: String,
}

/// Starts the async runtime, or reports on standard error why it could not
/// (with the program's name) and returns `None`.
pub fn runtime(program: &str) -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new()
        .inspect_err(|error| eprintln!("{program}: cannot start the async runtime: {error}"))
        .ok()
}
