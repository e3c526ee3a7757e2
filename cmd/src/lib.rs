//! What the minikafka command-line tools share; each binary in `src/bin/`
//! only parses its arguments and calls into these, the server and the client.
//!
//! # Layout
//! - [`admin`] — the commands of `mkfk-admin` and how it prints their results.
//! - [`bench`](mod@bench) — the producers, consumers and measurements of `mkfk-bench`.
//! - [`batching`] — groups standard-input lines into produce batches.
//! - [`output`] — prints consumed messages as raw lines or JSON.
//! - [`records`] — turns `mkfk-producer`'s lines into keyed messages with headers.
//! - [`logging`] — the tracing subscriber every binary installs.

pub mod admin;
pub mod batching;
pub mod bench;
pub mod logging;
pub mod output;
pub mod records;

/// The server every client tool talks to, and how to reach it: its
/// address, TLS files and token (global, so a tool with subcommands takes
/// them after the subcommand too). Reported (by `mkfk-bench`) as its address
/// only: no file paths, no token.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Connection {
    /// Server address: host:port, or a URL (https:// for TLS)
    #[arg(long, global = true, env = "MINIKAFKA_HOST", default_value = minikafka_client::DEFAULT_ADDRESS)]
    pub host: String,
    /// PEM file of the CA that signed the server's certificate (for https://)
    #[arg(long, global = true)]
    #[serde(skip)]
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate, for a server that requires one (mutual TLS)
    #[arg(long, global = true, requires = "key_file")]
    #[serde(skip)]
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM private key of --cert-file
    #[arg(long, global = true, requires = "cert_file")]
    #[serde(skip)]
    pub key_file: Option<std::path::PathBuf>,
    /// Token for a server with tokens (sent as `authorization: Bearer`)
    #[arg(long, global = true, env = "MINIKAFKA_TOKEN", hide_env_values = true)]
    #[serde(skip)]
    pub token: Option<String>,
}

/// The server and topic a producing or consuming tool works with.
/// Reported (by `mkfk-bench`) as its address and topic only.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Target {
    /// The server, and how to reach it.
    #[command(flatten)]
    #[serde(flatten)]
    pub server: Connection,
    /// The topic (a producer creates it on first use, unless the server runs
    /// with MINIKAFKA_AUTO_CREATE_TOPICS=false; a consumer waits for it)
    #[arg(long)]
    pub topic: String,
}

impl Connection {
    /// The TLS files named on the command line, read.
    pub fn tls(&self) -> anyhow::Result<minikafka_client::TlsOptions> {
        use anyhow::Context;
        let read = |path: &std::path::Path| {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        let identity = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        Ok(minikafka_client::TlsOptions {
            ca_certificate: self.ca_file.as_deref().map(read).transpose()?,
            identity,
        })
    }

    /// Connects to the server, with the token if one was given.
    pub async fn connect(&self) -> anyhow::Result<minikafka_client::Client> {
        Ok(self.client(&self.tls()?).await?)
    }

    /// Connects to the server with TLS files already read (by [`Self::tls`]),
    /// for a tool that opens many connections; with the token if one was
    /// given.
    pub async fn client(
        &self,
        tls: &minikafka_client::TlsOptions,
    ) -> Result<minikafka_client::Client, minikafka_client::ClientError> {
        let client = minikafka_client::Client::connect_with(&self.host, tls).await?;
        self.with_token(client)
    }

    /// A client that connects on its first call, so it can be made while
    /// the server is down (for a consumer that waits for it).
    pub fn connect_lazily(&self) -> anyhow::Result<minikafka_client::Client> {
        let client = minikafka_client::Client::connect_lazily(&self.host, &self.tls()?)?;
        Ok(self.with_token(client)?)
    }

    fn with_token(
        &self,
        client: minikafka_client::Client,
    ) -> Result<minikafka_client::Client, minikafka_client::ClientError> {
        match &self.token {
            Some(token) => client.with_token(token),
            None => Ok(client),
        }
    }
}

/// Starts the async runtime, or reports on standard error why it could not
/// (with the program's name) and returns `None`.
pub fn runtime(program: &str) -> Option<tokio::runtime::Runtime> {
    runtime_with_workers(program, None)
}

/// [`runtime`] with `workers` worker threads instead of tokio's default
/// (one per CPU, or `TOKIO_WORKER_THREADS`).
pub fn runtime_with_workers(
    program: &str,
    workers: Option<usize>,
) -> Option<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    builder
        .build()
        .inspect_err(|error| eprintln!("{program}: cannot start the async runtime: {error}"))
        .ok()
}

/// Installs the SIGINT and SIGTERM handlers now, and returns a future that
/// completes when either signal arrives (logged at `info`).
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use anyhow::Context;
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("watching SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("watching SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}

/// A point in time from the command line: an RFC 3339 time
/// (`2026-11-23T10:00:00Z`) or a duration ago (`15m`, `2h`).
pub fn parse_time(value: &str) -> Result<std::time::SystemTime, String> {
    if let Ok(ago) = humantime::parse_duration(value) {
        return Ok(std::time::SystemTime::now()
            .checked_sub(ago)
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH));
    }
    humantime::parse_rfc3339_weak(value).map_err(|_| {
        format!(
            "'{value}' is not a time: give an RFC 3339 time such as 2026-11-23T10:00:00Z, or a \
             duration ago such as 15m"
        )
    })
}
