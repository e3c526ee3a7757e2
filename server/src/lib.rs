//! The minikafka gRPC server.
//!
//! # Layout
//! - [`config`] — [`Config`], read from `MINIKAFKA_*` environment
//!   variables, each declared once; TLS and auth files are read there.
//! - [`transport`] — how connections arrive: socket options, the
//!   connection cap, TLS, HTTP/2 windows and keepalive.
//! - [`routes`] — what is served on them: the services, health, reflection.
//! - [`service`] — the gRPC services: `minikafka.v1.MiniKafka` and the
//!   original Go project's `protocol.MiniKafka`, over one
//!   [`CheckedStore`](service::checked_store::CheckedStore).
//! - [`validate`] — request checks, made before the store is touched.
//! - [`settings`] — topic settings: their checks, and their effective
//!   values against the server's defaults.
//! - [`status`] — the one mapping from store errors to gRPC status codes.
//! - [`sweeper`] — the retention sweeper.
//! - [`clock`] — where "now" comes from, so tests can set it.
//! - [`auth`] — tokens and topic permissions (`MINIKAFKA_AUTH_FILE`).
//! - [`tls`] — the TLS identity and the check of the server's certificate.
//! - [`limits`] — load limits: the connection cap, the request-byte budget.
//! - [`open_files`] — raising the open-file limit at start-up.
//!
//! [`Server::run`] serves on a listener the caller bound (so a test binds
//! port 0) until the caller's shutdown future completes. The store is
//! opened by `minikafka_backends::open_store` from [`Config::store`].

pub mod auth;
pub mod clock;
pub mod config;
pub mod lag;
pub mod limits;
pub mod open_files;
pub mod routes;
pub mod service;
pub mod settings;
pub mod status;
pub mod sweeper;
pub mod tls;
pub mod transport;
pub mod validate;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use minikafka_backends::{Store, StoreError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

// Choosing and opening a store is the backends' job; re-exported for the
// binary that opens the store a `Config` names.
pub use minikafka_backends::{OpenStoreError, StoreConfig, open_store};

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, ConfigError};
pub use service::checked_store::Activity;
pub use tls::TlsIdentity;
pub use transport::STREAM_WINDOW;

use service::checked_store::CheckedStore;

/// How long in-flight requests get to finish after shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why serving stopped with an error. Each variant says its cause once:
/// in its message, or as its `source()`, never both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The gRPC transport failed (the cause is the source).
    #[error("serving gRPC failed")]
    Transport(#[source] tonic::transport::Error),
    /// The TLS identity could not be used.
    #[error("{0}")]
    Tls(String),
    /// The compiled-in descriptors did not load: a build defect.
    #[error("loading the reflection descriptors failed")]
    Reflection(#[source] tonic_reflection::server::Error),
    /// The final sync at shutdown failed: acknowledged data may not be durable.
    #[error("syncing the store at shutdown failed: {0}")]
    Sync(StoreError),
}

impl From<tonic_reflection::server::Error> for ServeError {
    fn from(error: tonic_reflection::server::Error) -> Self {
        Self::Reflection(error)
    }
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

    /// Sweeps once, then serves every route on `listener` until
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
        // TLS first: an unusable identity stops start-up before anything else.
        let mut transport = transport::server(&config.listener, &config.limits, &activity)?;
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let defaults = settings::ServerDefaults {
            retention: config.retention.default_age(),
            max_message_bytes: config.limits.max_message_bytes as u64,
            producer_expiry: config.retention.producer_expiry_age(),
            group_retention: config.retention.group_retention_age(),
            max_key_bytes: config.limits.max_key_bytes,
            max_headers: config.limits.max_headers,
            max_header_bytes: config.limits.max_header_bytes,
        };
        sweeper::start(
            &store,
            &clock,
            defaults.retention_defaults(),
            config.retention.sweep_interval,
            &stop,
            &tasks,
        )
        .await;

        let checked = CheckedStore::new(
            Arc::clone(&store),
            clock,
            defaults,
            config.topics.auto_create,
            stop.clone(),
            tasks.clone(),
            Arc::clone(&activity),
        );
        let (routes, health) =
            routes::routes(checked, config.auth, config.limits.max_request_bytes).await?;
        let incoming = transport::incoming(listener, &config.listener, &config.limits, &activity);

        let begin_shutdown = {
            let stop = stop.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: draining in-flight requests");
                health
                    .set_service_status("", tonic_health::ServingStatus::NotServing)
                    .await;
                stop.cancel();
            }
        };
        let serve = transport
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, begin_shutdown);
        let drain_deadline = async {
            stop.cancelled().await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        };
        tokio::select! {
            served = serve => served.map_err(ServeError::Transport)?,
            () = drain_deadline => tracing::warn!(
                timeout = ?DRAIN_TIMEOUT,
                "requests still in flight after the drain timeout; closing them"
            ),
        }

        tasks.close();
        tasks.wait().await;
        store.sync().await.map_err(ServeError::Sync)?;
        tracing::info!("store synced; server stopped");
        Ok(())
    }
}
