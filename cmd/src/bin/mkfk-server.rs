//! `mkfk-server`: runs a minikafka server configured by `MINIKAFKA_*`
//! environment variables, until SIGINT or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use minikafka_server::config::{self, CLIENT_DEFAULT_RECEIVE_LIMIT};
use minikafka_server::{Config, Server, open_store};
use tokio::net::TcpListener;

/// Runs a minikafka server. All configuration comes from the environment.
#[derive(Parser)]
#[command(version, after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Reads a token on standard input and prints its SHA-256, the `sha256`
    /// of a [[token]] table in MINIKAFKA_AUTH_FILE.
    HashToken,
    /// Checks every record of a file store's data directory against its
    /// checksum, reading only (safe on a copy of a live directory). Prints
    /// each damaged range and a summary; exits 0 if there is none, 1 if
    /// there is, 2 if the directory cannot be read.
    Verify {
        /// The data directory to check.
        #[arg(long, env = "MINIKAFKA_ROOT_DIR", default_value = "./mkfk-data")]
        root: std::path::PathBuf,
    },
}

const ENVIRONMENT: &str = "\
Environment:
  MINIKAFKA_HOST               listen address; :9999 means all interfaces [default: 127.0.0.1:9999]
  MINIKAFKA_RETENTIONTIME      age after which messages are removed, or 'forever' [default: 7d]
  MINIKAFKA_BACKEND            file, sqlite or memory [default: file]
  MINIKAFKA_ROOT_DIR           where the file and sqlite stores keep data [default: ./mkfk-data]
  MINIKAFKA_FSYNC              always, never, or an interval such as 1s [default: always]
  MINIKAFKA_SWEEP_INTERVAL     how often retention runs [default: retention/10, within 100ms..60s]
  MINIKAFKA_MAX_MESSAGE_BYTES  largest payload accepted [default: 1MiB]
  MINIKAFKA_MAX_REQUEST_BYTES  largest gRPC request accepted [default: 16MiB]
  MINIKAFKA_SEGMENT_BYTES      file store: size at which a new segment starts [default: 64MiB]
  MINIKAFKA_RECOVERY           file store: strict (refuse to start on damage inside the log)
                               or truncate (cut the log there) [default: strict]
  MINIKAFKA_TLS_CERT           PEM certificate chain: with MINIKAFKA_TLS_KEY, serve TLS only
  MINIKAFKA_TLS_KEY            PEM private key of MINIKAFKA_TLS_CERT
  MINIKAFKA_TLS_CLIENT_CA      PEM CA: require client certificates it signed (mutual TLS)
  MINIKAFKA_AUTH_FILE          TOML file of [[token]] tables: tokens and topic permissions
  MINIKAFKA_MAX_STREAMS_PER_CONNECTION  most calls open at once on one connection [default: 1000]
  MINIKAFKA_MAX_CONNECTIONS    most connections open at once; more wait until one closes [default: 512]
  MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES  most bytes of requests held at once; more wait [default: 64MiB]
  MINIKAFKA_KEEPALIVE_INTERVAL ping a connection silent this long [default: 30s]
  MINIKAFKA_KEEPALIVE_TIMEOUT  drop it when the ping is unanswered this long [default: 10s]
  RUST_LOG                     log filter [default: info]

SIGINT or SIGTERM: stop accepting, finish in-flight requests, sync the store, exit 0.";

fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::HashToken) => return hash_token(),
        Some(Command::Verify { root }) => return verify(&root),
        None => {}
    }
    minikafka_cmd::logging::init("info");
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mkfk-server: {error}");
            return ExitCode::from(2);
        }
    };
    for name in config::unknown_variables(std::env::vars()) {
        tracing::warn!(
            "ignoring {name}: no minikafka setting has that name (see mkfk-server --help)"
        );
    }
    let Some(runtime) = minikafka_cmd::runtime("mkfk-server") else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mkfk-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Handlers first: a signal that arrives once we say we are listening
    // must drain and sync, not kill the process.
    let shutdown = shutdown_signal()?;
    if config.max_message_bytes as u64 > CLIENT_DEFAULT_RECEIVE_LIMIT {
        tracing::warn!(
            "MINIKAFKA_MAX_MESSAGE_BYTES is above 4 MiB: clients must raise their gRPC receive limit to read such messages"
        );
    }
    let started = std::time::Instant::now();
    let store = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || open_store(&config))
            .await
            .context("opening the store")??
    };
    tracing::info!(backend = %config.backend, root_dir = %config.root_dir.display(), elapsed = ?started.elapsed(), "store opened");
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (MINIKAFKA_HOST)", config.listen))?;
    let address = listener
        .local_addr()
        .context("reading the listen address")?;
    let retention = config.retention.map_or("forever".to_owned(), |r| {
        humantime::format_duration(r).to_string()
    });
    tracing::info!(
        backend = %config.backend,
        root_dir = %config.root_dir.display(),
        retention = %retention,
        sweep_interval = %humantime::format_duration(config.sweep_interval),
        max_message_bytes = config.max_message_bytes,
        tls = %match &config.tls {
            None => "off",
            Some(tls) if tls.client_ca.is_some() => "mutual",
            Some(_) => "on",
        },
        "listening on {address}"
    );
    Server::new(config, store).run(listener, shutdown).await?;
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers now, and returns a future that
/// completes when either signal arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
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

/// `mkfk-server hash-token`: the digest of the token on standard input
/// (its first line, without the line ending).
fn hash_token() -> ExitCode {
    let mut token = String::new();
    if let Err(error) = std::io::stdin().read_line(&mut token) {
        eprintln!("mkfk-server: reading the token from standard input failed: {error}");
        return ExitCode::FAILURE;
    }
    let token = token.trim_end_matches(['\n', '\r']);
    if token.is_empty() {
        eprintln!("mkfk-server: no token on standard input");
        return ExitCode::FAILURE;
    }
    println!("{}", minikafka_server::auth::digest_hex(token));
    ExitCode::SUCCESS
}

/// `mkfk-server verify`: the damaged ranges of the file store in `root`,
/// one line each, then a summary line.
fn verify(root: &std::path::Path) -> ExitCode {
    let report = match minikafka_backends::file::verify(root) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("mkfk-server: verify: {error}");
            return ExitCode::from(2);
        }
    };
    for range in &report.damage {
        println!("{range}");
    }
    let checked = format!(
        "{}: {} topics, {} segments, {} records checked",
        root.display(),
        report.topics,
        report.segments,
        report.records
    );
    if report.damage.is_empty() {
        println!("{checked}; no damage found");
        ExitCode::SUCCESS
    } else {
        println!("{checked}; {} damaged ranges found", report.damage.len());
        ExitCode::FAILURE
    }
}
