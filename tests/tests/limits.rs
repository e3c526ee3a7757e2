//! Load limits: one connection may hold at most
//! MINIKAFKA_MAX_STREAMS_PER_CONNECTION calls at once, and the server at
//! most MINIKAFKA_MAX_CONNECTIONS connections, and the server holds at
//! most MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES of requests at once; more wait
//! their turn instead of costing the server more tasks and memory. Calls
//! end at their deadline, waiting or not.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use h2::SendStream;
use h2::client::{ResponseFuture, SendRequest};
use minikafka_backends::{MemoryStore, TopicName};
use minikafka_proto::v1::mini_kafka_client::MiniKafkaClient;
use minikafka_proto::v1::{PollRequest, ProduceRequest, ProduceResponse};
use minikafka_server::SystemClock;
use minikafka_tests::{
    DEADLINE, GatedStore, TestServer, at, default_config, subscribe_request, wait_until,
};
use prost::Message;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Channel;

/// A raw HTTP/2 connection to `server`, without tonic: it shows what a
/// client's HTTP/2 layer sees, the stream limit the server advertised and
/// whether a new stream is held back by it.
async fn raw_http2(server: &TestServer) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(&server.address)
        .await
        .expect("connect to the test server");
    let (send, connection) = h2::client::handshake(tcp)
        .await
        .expect("an HTTP/2 handshake");
    tokio::spawn(connection);
    send
}

/// Opens a `Subscribe` to `topic` from its start on `send`, framed by hand
/// (a gRPC message is a 0 byte, its length as 4 big-endian bytes, then the
/// message); the call lasts as long as the handles returned.
fn raw_subscribe(
    server: &TestServer,
    send: &mut SendRequest<Bytes>,
    topic: &str,
) -> (ResponseFuture, SendStream<Bytes>) {
    let request = http::Request::post(format!(
        "http://{}/minikafka.v1.MiniKafka/Subscribe",
        server.address
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(())
    .expect("a valid request");
    let (response, mut body) = send.send_request(request, false).expect("a stream");
    let message = subscribe_request(topic, 0).encode_to_vec();
    let length = u32::try_from(message.len()).expect("a small message");
    let mut frame = vec![0];
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&message);
    body.send_data(frame.into(), true)
        .expect("the request message");
    (response, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_holds_at_most_its_stream_limit() {
    let mut config = default_config();
    config.limits.max_streams_per_connection = 2;
    let server =
        TestServer::start_with(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).await;
    let subscriptions = || server.activity.subscriptions.load(Ordering::SeqCst);
    let mut send = raw_http2(&server).await;
    wait_until("the server's SETTINGS to allow 2 streams", || {
        send.current_max_send_streams() == 2
    })
    .await;
    let first = raw_subscribe(&server, &mut send, "a");
    let _second = raw_subscribe(&server, &mut send, "b");
    wait_until("two streams", || subscriptions() == 2).await;

    // The third is queued by the client's HTTP/2 layer, its HEADERS unsent,
    // until a stream closes: the server never sees it meanwhile.
    let mut third_sender = send.clone();
    let (third, _third_request) = raw_subscribe(&server, &mut third_sender, "c");
    let mut opened = std::pin::pin!(std::future::poll_fn(|cx| third_sender.poll_ready(cx)));
    assert!(
        futures::poll!(opened.as_mut()).is_pending(),
        "a third stream on the connection waits for a free slot"
    );
    assert_eq!(subscriptions(), 2);

    drop(first);
    tokio::time::timeout(DEADLINE, opened)
        .await
        .expect("the third stream opens once the first has closed")
        .expect("the connection is up");
    let third = tokio::time::timeout(DEADLINE, third)
        .await
        .expect("the third stream is answered")
        .expect("a response");
    assert_eq!(third.status(), http::StatusCode::OK);
    // It is served: a message to its topic is pushed on it.
    server
        .store
        .append(
            &TopicName::new("c").expect("valid"),
            minikafka_backends::Batch::new(vec![Bytes::from_static(b"m")]),
            at(0),
        )
        .await
        .expect("append");
    let mut third = third.into_body();
    tokio::time::timeout(DEADLINE, third.data())
        .await
        .expect("the message is pushed")
        .expect("a DATA frame")
        .expect("no error");
    wait_until("the first stream's task to end", || subscriptions() == 2).await;
}

/// A health check on `channel`, as a call any connection may make.
async fn health_check(channel: Channel) -> Result<(), tonic::Status> {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .map(drop)
}

/// Connections to `server` that the kernel has completed but the server
/// has not accepted: its listen queue, read from `/proc/net/tcp`, where a
/// listening socket's `rx_queue` column is that count.
fn unaccepted_connections(server: &TestServer) -> usize {
    let (_, port) = server.address.rsplit_once(':').expect("host:port");
    let port = format!("{:04X}", port.parse::<u16>().expect("a port"));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    // Columns: sl local_address rem_address st tx_queue:rx_queue ...; st 0A
    // is LISTEN.
    let queue = table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields[1].ends_with(&format!(":{port}")) && fields[3] == "0A")
        .and_then(|fields| Some(fields[4].split_once(':')?.1.to_owned()))
        .expect("the server's listening socket in /proc/net/tcp");
    usize::from_str_radix(&queue, 16).expect("a hexadecimal count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_until_one_closes() {
    let mut config = default_config();
    config.limits.max_connections = 2;
    let server = TestServer::start_with_config(config).await;
    let connections = || server.activity.connections.load(Ordering::SeqCst);
    let first = server.channel().await;
    let second = server.channel().await;
    health_check(first.clone()).await.expect("first connection");
    health_check(second.clone())
        .await
        .expect("second connection");
    assert_eq!(connections(), 2);
    assert_eq!(unaccepted_connections(&server), 0);

    let third = tokio::spawn({
        let address = format!("http://{}", server.address);
        async move {
            let channel = Channel::from_shared(address)
                .expect("a valid URI")
                .connect()
                .await
                .expect("the kernel completes the TCP handshake");
            health_check(channel.clone()).await.map(|()| channel)
        }
    });
    wait_until("the third connection in the server's listen queue", || {
        unaccepted_connections(&server) == 1
    })
    .await;
    // The server goes on serving the connections it holds, and still
    // leaves the third unaccepted.
    health_check(second.clone())
        .await
        .expect("the second still works");
    assert_eq!(
        unaccepted_connections(&server),
        1,
        "a connection past the cap is not accepted while the others are open"
    );
    assert_eq!(connections(), 2);
    assert!(!third.is_finished(), "the third is not served");

    drop(first);
    let third = tokio::time::timeout(DEADLINE, third)
        .await
        .expect("the third connection is served once the first closed")
        .expect("the task does not panic")
        .expect("a health check on the third connection");
    assert_eq!(unaccepted_connections(&server), 0);
    wait_until("the first connection's end to be counted", || {
        connections() == 2
    })
    .await;
    health_check(second).await.expect("the second still works");
    drop(third);
}

/// A server whose appends wait until the test releases them, with a
/// request-byte budget of `budget`.
async fn gated_server(budget: usize) -> (TestServer, Arc<GatedStore>) {
    let store = Arc::new(GatedStore::default());
    let mut config = default_config();
    config.limits.max_inflight_request_bytes = budget;
    let server = TestServer::start_with(config, store.clone(), Arc::new(SystemClock)).await;
    (server, store)
}

/// A `Produce` of one payload of `len` bytes to `topic`, spawned.
fn spawn_produce(
    channel: &Channel,
    topic: &str,
    len: usize,
) -> JoinHandle<Result<tonic::Response<ProduceResponse>, tonic::Status>> {
    let mut grpc = MiniKafkaClient::new(channel.clone());
    let request = produce_request(topic, len);
    tokio::spawn(async move { grpc.produce(request).await })
}

/// A `Produce` of one payload of `len` bytes to `topic`.
fn produce_request(topic: &str, len: usize) -> ProduceRequest {
    ProduceRequest {
        topic: topic.into(),
        payloads: vec![vec![b'p'; len].into()],
        ..ProduceRequest::default()
    }
}

/// A long poll of `topic` that waits as long as the server allows (30 s).
fn long_poll(topic: &str) -> PollRequest {
    PollRequest {
        topic: topic.into(),
        max_wait: Some(prost_types::Duration {
            seconds: 30,
            nanos: 0,
        }),
        ..PollRequest::default()
    }
}

/// Checks that `status` is tonic's answer to a call past its deadline.
fn assert_past_deadline(status: &tonic::Status) {
    // tonic's server answers CANCELLED ("Timeout expired"); a client's own
    // timer would say DEADLINE_EXCEEDED.
    assert!(
        matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{status:?}"
    );
}

/// `message` with a `grpc-timeout` of `timeout`: only the server enforces
/// it, since a tonic client keeps no timer of its own for it.
fn with_deadline<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// Waits (up to [`DEADLINE`]) for the gated store to have an append waiting.
async fn append_entered(store: &GatedStore) {
    tokio::time::timeout(DEADLINE, store.entered.notified())
        .await
        .expect("an append reaches the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_byte_budget_wait_unread_for_their_share() {
    const BUDGET: usize = 1024 * 1024;
    let (server, store) = gated_server(BUDGET).await;
    let activity = Arc::clone(&server.activity);
    let request_bytes = || activity.request_bytes.load(Ordering::SeqCst);
    let channel = server.channel().await;

    let first = spawn_produce(&channel, "t", 768 * 1024);
    append_entered(&store).await;
    let held = request_bytes();
    assert!(
        (768 * 1024..=BUDGET).contains(&held),
        "the first request holds its size: {held}"
    );

    // Another connection, so HTTP/2 flow control of the first is no factor.
    let second = spawn_produce(&server.channel().await, "t", 768 * 1024);
    wait_until("the second request to wait for the budget", || {
        activity.requests_waiting.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(request_bytes(), held, "the waiting request holds nothing");

    store.release.notify_one();
    let first = first.await.expect("task").expect("the first is stored");
    assert_eq!(first.get_ref().first_offset, 1);
    // The second is read only now, and reaches the store.
    append_entered(&store).await;
    store.release.notify_one();
    let second = second.await.expect("task").expect("the second is stored");
    assert_eq!(second.get_ref().first_offset, 2);
    wait_until("the budget to be free again", || {
        request_bytes() == 0 && activity.requests_waiting.load(Ordering::SeqCst) == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_larger_than_the_whole_budget_runs_alone() {
    const BUDGET: usize = 64 * 1024;
    let (server, store) = gated_server(BUDGET).await;
    let channel = server.channel().await;
    let large = spawn_produce(&channel, "t", 512 * 1024);
    append_entered(&store).await;
    assert_eq!(server.activity.request_bytes.load(Ordering::SeqCst), BUDGET);
    let next = spawn_produce(&channel, "t", 32 * 1024);
    wait_until("the next request to wait behind it", || {
        server.activity.requests_waiting.load(Ordering::SeqCst) == 1
    })
    .await;
    // Small calls need none of the budget: a health check still passes.
    health_check(channel.clone())
        .await
        .expect("answered while the budget is taken");
    store.release.notify_one();
    large
        .await
        .expect("task")
        .expect("the large request is stored");
    append_entered(&store).await;
    store.release.notify_one();
    next.await.expect("task").expect("then the next one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_hold_none_of_the_budget() {
    const BUDGET: usize = 64 * 1024;
    let mut config = default_config();
    config.limits.max_inflight_request_bytes = BUDGET;
    let server = TestServer::start_with_config(config).await;
    let channel = server.channel().await;
    let mut streams = Vec::new();
    for topic in ["a", "b", "c"] {
        let mut grpc = MiniKafkaClient::new(channel.clone());
        let stream = grpc
            .subscribe(subscribe_request(topic, 0))
            .await
            .expect("subscribe");
        streams.push(stream);
    }
    let mut grpc = MiniKafkaClient::new(channel.clone());
    let poll = tokio::spawn(async move { grpc.poll(long_poll("d")).await });
    wait_until("three subscriptions and a long poll", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 3
            && server.activity.waiting_polls.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(server.activity.request_bytes.load(Ordering::SeqCst), 0);
    spawn_produce(&channel, "a", BUDGET - 100)
        .await
        .expect("task")
        .expect("a produce of nearly the whole budget runs beside them");
    poll.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_for_the_budget_still_ends_at_its_deadline() {
    const BUDGET: usize = 64 * 1024;
    let (server, store) = gated_server(BUDGET).await;
    let channel = server.channel().await;
    let first = spawn_produce(&channel, "t", 60 * 1024);
    append_entered(&store).await;

    let mut grpc = MiniKafkaClient::new(channel.clone());
    let request = produce_request("t", 60 * 1024);
    let started = std::time::Instant::now();
    let timeout = Duration::from_millis(500);
    let late = tokio::spawn(async move { grpc.produce(with_deadline(request, timeout)).await });
    wait_until("the late request to wait for the budget", || {
        server.activity.requests_waiting.load(Ordering::SeqCst) == 1
    })
    .await;
    let late = tokio::time::timeout(DEADLINE, late)
        .await
        .expect("the server answers at the deadline")
        .expect("task")
        .expect_err("past its deadline");
    assert!(started.elapsed() >= timeout);
    assert_past_deadline(&late);
    wait_until("the late request to stop waiting", || {
        server.activity.requests_waiting.load(Ordering::SeqCst) == 0
    })
    .await;
    store.release.notify_one();
    first.await.expect("task").expect("the first is stored");
}

/// tonic answers a call past its `grpc-timeout` itself and drops the
/// server's work on it: a long poll and a stalled produce end then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_ends_calls_at_their_deadline() {
    let (server, _store) = gated_server(default_config().limits.max_inflight_request_bytes).await;
    let mut grpc = MiniKafkaClient::new(server.channel().await);
    let timeout = Duration::from_millis(200);
    let (polled, produced) = tokio::time::timeout(
        DEADLINE,
        futures::future::join(
            grpc.clone().poll(with_deadline(long_poll("t"), timeout)),
            grpc.produce(with_deadline(produce_request("t", 10), timeout)),
        ),
    )
    .await
    .expect("both are answered at their deadline, not after 30 s or never");
    assert_past_deadline(&polled.expect_err("poll"));
    assert_past_deadline(&produced.expect_err("produce"));
    wait_until("the long poll's wait to end", || {
        server.activity.waiting_polls.load(Ordering::SeqCst) == 0
    })
    .await;
}
