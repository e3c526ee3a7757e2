//! End-to-end tests of minikafka: a real server on a loopback port, real
//! gRPC clients. The tests live in `tests/`; this library holds what they
//! share. (Tests of the command-line tools as processes live beside the
//! binaries, in `cmd/tests/`, where Cargo guarantees the binaries are built.)

use std::sync::Arc;

use minikafka_backends::{MemoryStore, Store, Timestamp};
use minikafka_server::{Clock, Config, ManualClock, ServeError, Server, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in this process on `127.0.0.1:<free port>`.
pub struct TestServer {
    /// `host:port` to connect to.
    pub address: String,
    /// The store it serves, for setting up and checking state directly.
    pub store: Arc<dyn Store>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

/// The default configuration, as a server with no `MINIKAFKA_*` variables
/// set would have it.
pub fn default_config() -> Config {
    Config::from_vars(Vec::new()).expect("the defaults are valid")
}

/// A timestamp `seconds` after an arbitrary fixed instant in 2027.
pub fn at(seconds: u64) -> Timestamp {
    Timestamp::from_nanos(1_800_000_000_000_000_000 + seconds * 1_000_000_000)
}

/// A clock set to `at(seconds)`.
pub fn clock_at(seconds: u64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at(seconds)))
}

impl TestServer {
    /// A server with the default configuration on a fresh memory store.
    pub async fn start() -> Self {
        Self::start_with_config(default_config()).await
    }

    /// A server with `config` on a fresh memory store.
    pub async fn start_with_config(config: Config) -> Self {
        Self::start_with(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).await
    }

    /// A server with `config`, serving `store`, on `clock`. Binds before
    /// returning, so clients can connect at once.
    pub async fn start_with(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("local address").to_string();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = Server::new(config, Arc::clone(&store)).with_clock(clock);
        let task = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));
        Self {
            address,
            store,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = self.task.take().expect("running");
        task.await.expect("the server task does not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
