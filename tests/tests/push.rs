//! Push delivery end to end: long polls and subscriptions wake on appends
//! (no timers), cost nothing while idle, hold bounded data for slow
//! readers, end when their client leaves or the server shuts down, and
//! resume after a restart.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use minikafka_backends::{MemoryStore, Store};
use minikafka_client::{Client, Code, Position};
use minikafka_proto::v1::mini_kafka_client::MiniKafkaClient;
use minikafka_server::SystemClock;
use minikafka_tests::{
    CountingStore, DEADLINE, TestServer, default_config, subscribe_request, wait_until,
};
use tonic::transport::Endpoint;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_when_its_topic_gets_a_message() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let mut consumer = client.consumer("later", Position::Earliest);
    let waiting = tokio::spawn(async move { consumer.poll(Some(Duration::from_secs(20))).await });
    wait_until("the poll to wait", || {
        server.activity.waiting_polls.load(Ordering::SeqCst) == 1
    })
    .await;
    client.producer("later").send("hello").await.expect("send");
    let polled = tokio::time::timeout(DEADLINE, waiting)
        .await
        .expect("answered")
        .expect("task")
        .expect("poll");
    assert_eq!(polled.messages[0].payload, "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_delivers_history_then_each_new_message() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("t");
    producer.send_batch(["1", "2"]).await.expect("send");
    let mut stream = client.consumer("t", Position::Earliest).stream();
    for expected in 1..=2 {
        assert_eq!(
            stream.next().await.expect("item").expect("message").offset,
            expected
        );
    }
    producer.send("3").await.expect("send");
    let third = tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("pushed")
        .expect("item")
        .expect("message");
    assert_eq!((third.offset, third.payload), (3, Bytes::from("3")));
    assert_eq!(stream.position(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_from_the_end_sees_only_new_messages() {
    let store = Arc::new(CountingStore::default());
    let server =
        TestServer::start_with(default_config(), store.clone(), Arc::new(SystemClock)).await;
    let client = Client::connect(&server.address).await.expect("connect");
    client
        .producer("t")
        .send_batch(["old", "older"])
        .await
        .expect("send");
    let mut stream = client.consumer("t", Position::End).stream();
    let reads_before = store.reads();
    let next = tokio::spawn(async move { stream.next().await });
    // "The end" is where the subscription's first read finds it.
    wait_until("the subscription's first read", || {
        store.reads() > reads_before
    })
    .await;
    client.producer("t").send("new").await.expect("send");
    let message = tokio::time::timeout(DEADLINE, next)
        .await
        .expect("pushed")
        .expect("task")
        .expect("item")
        .expect("message");
    assert_eq!((message.offset, message.payload), (3, Bytes::from("new")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_task_ends_when_the_subscriber_goes_away() {
    let server = TestServer::start().await;
    let mut grpc = MiniKafkaClient::new(server.channel().await);
    let stream = grpc
        .subscribe(subscribe_request("quiet", 0))
        .await
        .expect("subscribe")
        .into_inner();
    wait_until("the subscription", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(stream);
    drop(grpc);
    wait_until("the server task to end", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 0
    })
    .await;
}

/// A subscriber that stops reading: the server reads ahead by a few
/// batches and then waits, however much more is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_reader_holds_a_bounded_amount_in_the_server() {
    const PAYLOAD: usize = 64 * 1024;
    const MESSAGES: usize = 1024; // 64 MiB in all
    // A subscription reads 1 MiB at a time (the server's default batch):
    // 16 of these payloads, each a batch of its own.
    const BATCH: u64 = 16 * PAYLOAD as u64;
    // The client's HTTP/2 stream window: less than one batch, so only the
    // first batch is on its way to the client, in part.
    const WINDOW: u32 = PAYLOAD as u32;
    // What the server holds once it can go no further: the batch HTTP/2 is
    // sending (up to the window), the next one hyper holds until the window
    // opens, the two of the subscription's channel (STREAM_BUFFER in
    // server/src/service/waiting.rs) and the one read that waits for room
    // in it.
    const HELD: u64 = 5 * BATCH;

    let store = Arc::new(CountingStore::default());
    let server =
        TestServer::start_with(default_config(), store.clone(), Arc::new(SystemClock)).await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("big");
    let channel = Endpoint::from_shared(format!("http://{}", server.address))
        .expect("a valid URI")
        .initial_stream_window_size(WINDOW)
        .connect()
        .await
        .expect("connect");
    let mut grpc = MiniKafkaClient::new(channel).max_decoding_message_size(64 << 20);
    let mut stream = grpc
        .subscribe(subscribe_request("big", 0))
        .await
        .expect("subscribe")
        .into_inner();

    for batch in 0..MESSAGES / 16 {
        let payloads: Vec<Bytes> = (0..16)
            .map(|i| Bytes::from(vec![(batch * 16 + i) as u8; PAYLOAD]))
            .collect();
        producer.send_batch(payloads).await.expect("send");
    }
    // The reader has not read a thing: the server reads until every place
    // that can hold a batch holds one, and then no further.
    wait_until("the server to read as far ahead as it can", || {
        store.bytes_read() >= HELD
    })
    .await;
    assert_eq!(store.bytes_read(), HELD, "read ahead of a paused reader");
    // Still so after the server has answered another call.
    client.producer("other").send("x").await.expect("send");
    assert_eq!(store.bytes_read(), HELD, "read ahead of a paused reader");

    let mut received = 0;
    while received < MESSAGES {
        let batch = stream.message().await.expect("stream").expect("a batch");
        for message in batch.messages {
            assert_eq!(message.offset, received as u64 + 1);
            assert_eq!(message.payload[0], received as u8);
            received += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_streams_and_long_polls_promptly_with_unavailable() {
    let server = TestServer::start().await;
    let mut grpc = MiniKafkaClient::new(server.channel().await);
    let mut stream = grpc
        .subscribe(subscribe_request("t", 0))
        .await
        .expect("subscribe")
        .into_inner();
    let mut consumer = Client::connect(&server.address)
        .await
        .expect("connect")
        .consumer("t", Position::Earliest);
    let poll = tokio::spawn(async move { consumer.poll(Some(Duration::from_secs(30))).await });
    wait_until("both to wait", || {
        server.activity.subscriptions.load(Ordering::SeqCst) == 1
            && server.activity.waiting_polls.load(Ordering::SeqCst) == 1
    })
    .await;

    // Well under the 10 s drain timeout: the waits end, they are not waited out.
    tokio::time::timeout(Duration::from_secs(3), server.stop())
        .await
        .expect("a prompt stop")
        .expect("a clean stop");
    let ended = stream
        .message()
        .await
        .expect_err("the stream ends with an error");
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    let polled = poll
        .await
        .expect("task")
        .expect_err("the poll ends with an error");
    assert_eq!(polled.code(), Code::Unavailable, "{polled}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resumes_where_it_was_after_the_server_restarts() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let server =
        TestServer::start_with(default_config(), Arc::clone(&store), Arc::new(SystemClock)).await;
    let address = server.address.clone();
    let client = Client::connect(&address).await.expect("connect");
    client
        .producer("t")
        .send_batch(["1", "2"])
        .await
        .expect("send");
    let consumer = client
        .consumer("t", Position::Earliest)
        .with_max_backoff(Duration::from_millis(50));
    let mut stream = consumer.stream();
    for expected in 1..=2 {
        assert_eq!(
            stream.next().await.expect("item").expect("message").offset,
            expected
        );
    }

    server.stop().await.expect("stop");
    let server = TestServer::start_at(
        &address,
        default_config(),
        Arc::clone(&store),
        Arc::new(SystemClock),
    )
    .await;
    Client::connect(&server.address)
        .await
        .expect("reconnect")
        .producer("t")
        .send_batch(["3", "4"])
        .await
        .expect("send");
    for expected in 3..=4 {
        let message = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("resumed")
            .expect("item")
            .expect("message");
        assert_eq!(message.offset, expected, "no message skipped or repeated");
    }
}
