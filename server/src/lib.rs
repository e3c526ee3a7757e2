//! The minikafka gRPC server.
//!
//! # Layout
//! - [`config`] — [`Config`], read from `MINIKAFKA_*` environment variables.
//! - [`service`] — the gRPC services: `minikafka.v1.MiniKafka` and the
//!   original Go project's `protocol.MiniKafka`.
//! - [`validate`] — request checks, made before the store is touched.
//! - [`status`] — the one mapping from store errors to gRPC status codes.
//! - [`sweeper`] — the retention sweeper.
//! - [`clock`] — where "now" comes from, so tests can set it.
//! - [`auth`] — tokens and topic permissions (`MINIKAFKA_AUTH_FILE`).
//! - [`limits`] — load limits: the connection cap, the request-byte budget.
//!
//! [`Server::run`] serves on a listener the caller bound (so a test binds
//! port 0) until the caller's shutdown future completes; [`open_store`]
//! builds the store a [`Config`] names.

pub mod auth;
pub mod clock;
pub mod config;
pub mod limits;
pub mod service;
pub mod status;
pub mod sweeper;
pub mod validate;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use minikafka_backends::{
    FileOptions, FileStore, MemoryStore, SqliteOptions, SqliteStore, Store, StoreError,
};
use minikafka_proto::{protocol, v1};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Backend, Config, ConfigError, TlsFiles};
pub use service::core::Activity;

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

/// How long in-flight requests get to finish after shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not open its store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenStoreError {
    /// The store could not be opened (or recovered).
    #[error("cannot open the {backend} store in {root}: {source}")]
    Store {
        /// The configured backend.
        backend: Backend,
        /// The configured root directory.
        root: String,
        /// Why.
        source: StoreError,
    },
}

/// Opens the store that `config` names, recovering it after a crash. Does
/// blocking file I/O: call it before serving, or on a blocking thread.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, OpenStoreError> {
    let root = &config.root_dir;
    let opened: Result<Arc<dyn Store>, StoreError> = match config.backend {
        Backend::Memory => Ok(Arc::new(MemoryStore::new())),
        Backend::File => {
            let options = FileOptions {
                durability: config.fsync,
                segment_bytes: config.segment_bytes,
                recovery: config.recovery,
            };
            FileStore::open(root, options).map(|store| Arc::new(store) as Arc<dyn Store>)
        }
        Backend::Sqlite => {
            let options = SqliteOptions {
                durability: config.fsync,
            };
            SqliteStore::open(root, options).map(|store| Arc::new(store) as Arc<dyn Store>)
        }
    };
    opened.map_err(|source| OpenStoreError::Store {
        backend: config.backend,
        root: root.display().to_string(),
        source,
    })
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The gRPC transport failed.
    #[error("serving gRPC failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The TLS files could not be read or used.
    #[error("{0}")]
    Tls(String),
    /// The auth file could not be read or is malformed.
    #[error("{0}")]
    Auth(String),
    /// The compiled-in descriptors did not load: a build defect.
    #[error("loading the reflection descriptors failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The final sync at shutdown failed: acknowledged data may not be durable.
    #[error("syncing the store at shutdown failed: {0}")]
    Sync(#[from] StoreError),
}

/// A configured server, ready to run.
#[derive(Debug)]
pub struct Server {
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    activity: Arc<Activity>,
}

impl Server {
    /// A server for `store`, configured by `config`, on the wall clock.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Self {
            config,
            store,
            clock: Arc::new(SystemClock),
            activity: Arc::default(),
        }
    }

    /// What the server holds (waiting reads, connections, request bytes),
    /// live while it runs.
    pub fn activity(&self) -> Arc<Activity> {
        Arc::clone(&self.activity)
    }

    /// Uses `clock` for message timestamps and retention, for tests.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sweeps once, then serves every service on `listener` until
    /// `shutdown` completes; then stops accepting, lets in-flight requests
    /// finish (up to [`DRAIN_TIMEOUT`]), stops the sweeper and syncs the store.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let Self {
            config,
            store,
            clock,
            activity,
        } = self;
        // TLS first: a bad certificate stops start-up before anything else.
        let mut builder = tonic::transport::Server::builder()
            .max_concurrent_streams(config.max_streams_per_connection)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(connection_window(config.max_streams_per_connection))
            // Dead peers (a crashed client, a cut network) must not hold
            // their calls and memory forever.
            .http2_keepalive_interval(Some(config.keepalive_interval))
            .http2_keepalive_timeout(Some(config.keepalive_timeout))
            // Inside tonic's deadline handling: waiting for the budget
            // still ends at the call's deadline.
            .layer(limits::request_bytes::RequestBudget::new(
                config.max_inflight_request_bytes,
                config.max_request_bytes,
                Arc::clone(&activity),
            ));
        if let Some(files) = &config.tls {
            builder = builder.tls_config(tls_config(files)?).map_err(|e| {
                ServeError::Tls(format!(
                    "MINIKAFKA_TLS_CERT/MINIKAFKA_TLS_KEY: unusable: {e}"
                ))
            })?;
        }
        let tokens = match &config.auth_file {
            Some(path) => {
                let tokens = auth::Tokens::load(path).map_err(ServeError::Auth)?;
                tracing::info!(tokens = ?tokens.names(), "clients need a token (MINIKAFKA_AUTH_FILE)");
                Some(Arc::new(tokens))
            }
            None => {
                tracing::warn!(
                    "no MINIKAFKA_AUTH_FILE: every client may produce to and read every topic"
                );
                None
            }
        };
        // Every service but health needs a token when an auth file is set.
        let authenticator = auth::Authenticator(tokens);
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();

        if let Some(retention) = config.retention {
            if let Err(error) = sweeper::sweep_once(&*store, &*clock, retention).await {
                tracing::error!(%error, "start-up retention sweep failed; serving anyway");
            }
            tasks.spawn(sweeper::run_sweeper(
                Arc::clone(&store),
                Arc::clone(&clock),
                retention,
                config.sweep_interval,
                stop.clone(),
            ));
        }

        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<v1::mini_kafka_server::MiniKafkaServer<service::v1::V1Service>>()
            .await;
        health
            .set_serving::<protocol::mini_kafka_server::MiniKafkaServer<service::compat::CompatService>>()
            .await;
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(minikafka_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        // Both versions: grpcurl and most tools speak v1, older ones v1alpha.
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;

        let core = service::core::Core::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            config.max_message_bytes,
            stop.clone(),
            tasks.clone(),
            Arc::clone(&activity),
        );
        let max_request = config.max_request_bytes;
        let v1 =
            v1::mini_kafka_server::MiniKafkaServer::new(service::v1::V1Service::new(core.clone()))
                .max_decoding_message_size(max_request);
        let compat = protocol::mini_kafka_server::MiniKafkaServer::new(
            service::compat::CompatService::new(core),
        )
        .max_decoding_message_size(max_request);

        // Small replies must not wait for Nagle's algorithm.
        let incoming = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            // TCP keepalive backs up HTTP/2's (whole seconds only).
            .with_keepalive(Some(
                (config.keepalive_interval + config.keepalive_timeout).max(Duration::from_secs(1)),
            ));
        limits::connections::warn_if_over_file_limit(config.max_connections);
        let incoming = limits::connections::CappedIncoming::new(
            incoming,
            config.max_connections,
            Arc::clone(&activity),
        );
        let begin_shutdown = {
            let stop = stop.clone();
            let health = health.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: draining in-flight requests");
                health
                    .set_service_status("", tonic_health::ServingStatus::NotServing)
                    .await;
                stop.cancel();
            }
        };
        let serve = builder
            .add_service(health_service)
            .add_service(InterceptedService::new(
                reflection_v1,
                authenticator.clone(),
            ))
            .add_service(InterceptedService::new(
                reflection_v1alpha,
                authenticator.clone(),
            ))
            .add_service(InterceptedService::new(v1, authenticator.clone()))
            .add_service(InterceptedService::new(compat, authenticator.clone()))
            .serve_with_incoming_shutdown(incoming, begin_shutdown);
        let drain_deadline = async {
            stop.cancelled().await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        };
        tokio::select! {
            served = serve => served?,
            () = drain_deadline => tracing::warn!(
                timeout = ?DRAIN_TIMEOUT,
                "requests still in flight after the drain timeout; closing them"
            ),
        }

        tasks.close();
        tasks.wait().await;
        store.sync().await?;
        tracing::info!("store synced; server stopped");
        Ok(())
    }
}

/// Reads the PEM files into tonic's TLS configuration; an error names the
/// variable and the file.
fn tls_config(files: &TlsFiles) -> Result<tonic::transport::ServerTlsConfig, ServeError> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let read = |variable: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            ServeError::Tls(format!(
                "{variable}={}: cannot read it: {e}",
                path.display()
            ))
        })
    };
    let identity = Identity::from_pem(
        read("MINIKAFKA_TLS_CERT", &files.cert)?,
        read("MINIKAFKA_TLS_KEY", &files.key)?,
    );
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &files.client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read("MINIKAFKA_TLS_CLIENT_CA", ca)?));
    }
    Ok(tls)
}
