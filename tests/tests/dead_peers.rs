//! A peer that stops answering without closing its connection (a crashed
//! machine, a cut network, a stuck program) is found by the server's
//! HTTP/2 pings and dropped, with its calls, after MINIKAFKA_KEEPALIVE_TIMEOUT.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use minikafka_proto::v1::mini_kafka_client::MiniKafkaClient;
use minikafka_tests::{TestServer, default_config, subscribe_request, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy on 127.0.0.1 in front of one server that can stop
/// forwarding, both ways, while it keeps every socket open: to the server,
/// its clients then look like peers that died without closing.
struct FreezingProxy {
    address: String,
    frozen: Arc<AtomicBool>,
    /// Bytes forwarded from the server to its clients.
    to_clients: Arc<AtomicUsize>,
}

impl FreezingProxy {
    async fn start(server: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let proxy = Self {
            address,
            frozen: Arc::default(),
            to_clients: Arc::default(),
        };
        let (server, frozen, to_clients) = (
            server.to_owned(),
            Arc::clone(&proxy.frozen),
            Arc::clone(&proxy.to_clients),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = TcpStream::connect(&server).await.expect("reach the server");
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = upstream.into_split();
                let uncounted = Arc::default();
                tokio::spawn(pump(client_read, server_write, frozen.clone(), uncounted));
                tokio::spawn(pump(
                    server_read,
                    client_write,
                    frozen.clone(),
                    to_clients.clone(),
                ));
            }
        });
        proxy
    }

    /// Stops forwarding; the sockets stay open.
    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, counting in `forwarded`, until `frozen`: then
/// holds both halves open, forwarding nothing, for as long as the test runs.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
    forwarded: Arc<AtomicUsize>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
        forwarded.fetch_add(n, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_answering_is_dropped_with_its_calls() {
    let mut config = default_config();
    config.listener.keepalive_interval = Duration::from_millis(100);
    config.listener.keepalive_timeout = Duration::from_millis(200);
    let server = TestServer::start_with_config(config).await;
    let proxy = FreezingProxy::start(&server.address).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", proxy.address))
        .expect("a valid URI")
        .connect()
        .await
        .expect("connect through the proxy");
    let _stream = MiniKafkaClient::new(channel)
        .subscribe(subscribe_request("t", 0))
        .await
        .expect("subscribe");
    wait_until("the subscription", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 1
    })
    .await;

    // While the peer answers, pings (17 bytes each) come and go and the
    // connection lives on.
    let sent = proxy.to_clients.load(Ordering::SeqCst);
    wait_until("three pings answered", || {
        proxy.to_clients.load(Ordering::SeqCst) >= sent + 3 * 17
    })
    .await;
    assert_eq!(server.activity.connections.load(Ordering::SeqCst), 1);
    assert_eq!(server.activity.subscriptions.load(Ordering::SeqCst), 1);

    proxy.freeze();
    wait_until("the server to drop the silent peer and its call", || {
        server.activity.connections.load(Ordering::SeqCst) == 0
            && server.activity.subscriptions.load(Ordering::SeqCst) == 0
    })
    .await;
}
