//! `mkfk-server`: runs a minikafka server configured by `MINIKAFKA_*`
//! environment variables, until SIGINT or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use minikafka_server::config::{self, Config};
use minikafka_server::service::reading::{
    CLIENT_DEFAULT_RECEIVE_LIMIT, LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ,
};
use minikafka_server::{Server, open_store};
use tokio::net::TcpListener;

/// Runs a minikafka server. All configuration comes from the environment.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version, after_help = after_help())]
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
        #[arg(long, env = "MINIKAFKA_ROOT_DIR", default_value = root_dir_default())]
        root: std::path::PathBuf,
    },
}

/// `MINIKAFKA_ROOT_DIR`'s default, as the server declares it.
fn root_dir_default() -> &'static str {
    config::Variable::named("MINIKAFKA_ROOT_DIR")
        .and_then(config::Variable::default_value)
        .expect("MINIKAFKA_ROOT_DIR is declared with a default")
}

/// The help after the commands: every variable, from their declarations,
/// then what the signals do.
fn after_help() -> String {
    format!(
        "{}  Logging:\n    {:<37} log filter [default: info]\n\n\
         SIGINT or SIGTERM: stop accepting, finish in-flight requests, sync the store, exit 0.",
        config::help_text(),
        "RUST_LOG"
    )
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::HashToken) => return hash_token(),
        Some(Command::Verify { root }) => return verify(&root),
        None => {}
    }
    // The configuration first: it says how to log (a bad value is one
    // plain line on standard error either way).
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mkfk-server: {error}");
            return ExitCode::from(2);
        }
    };
    minikafka_cmd::logging::init_as("info", config.log_format);
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
    let shutdown = minikafka_cmd::shutdown_signal()?;
    if config.limits.outgrow_default_clients() {
        tracing::warn!(
            "MINIKAFKA_MAX_MESSAGE_BYTES={} makes poll replies above 4 MiB ({CLIENT_DEFAULT_RECEIVE_LIMIT} bytes), \
             more than gRPC clients accept by default: to read messages over {LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ} bytes, \
             clients must raise their receive limit",
            config.limits.max_message_bytes
        );
    }
    // Before the store opens its files; said in the "listening" line, so
    // that a start-up failure stays one line.
    let open_files = match minikafka_server::open_files::raise_to_hard_limit() {
        Ok(limit) => limit.to_string(),
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit; keeping it");
            "unchanged".to_owned()
        }
    };
    let started = std::time::Instant::now();
    let store_config = config.store.clone();
    // Its error says everything (the store, the directory, the cause).
    let store = tokio::task::spawn_blocking(move || open_store(&store_config))
        .await
        .context("opening the store panicked")??;
    let store_kind = config.store.kind();
    let root_dir = config
        .store
        .root()
        .map_or("-".to_owned(), |root| root.display().to_string());
    tracing::info!(store = %store_kind, %root_dir, elapsed = ?started.elapsed(), "store opened");
    let address = config.listener.address;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (MINIKAFKA_HOST)"))?;
    let address = listener
        .local_addr()
        .context("reading the listen address")?;
    let retention = config.retention.max_age.map_or("forever".to_owned(), |r| {
        humantime::format_duration(r).to_string()
    });
    tracing::info!(
        store = %store_kind,
        %root_dir,
        retention = %retention,
        sweep_interval = %humantime::format_duration(config.retention.sweep_interval),
        max_message_bytes = config.limits.max_message_bytes,
        %open_files,
        tls = %match &config.listener.tls {
            None => "off",
            Some(tls) if tls.client_ca.is_some() => "mutual",
            Some(_) => "on",
        },
        "listening on {address}"
    );
    Server::new(config, store).run(listener, shutdown).await?;
    Ok(())
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
