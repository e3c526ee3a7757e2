//! Bad requests get the documented status codes, with messages a person
//! can act on, and change nothing.

use bytes::Bytes;
use minikafka_client::{Client, Code, Position};
use minikafka_tests::{TestServer, default_config};

#[tokio::test]
async fn unknown_topics_are_not_found() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let error = client
        .consumer("missing", Position::Earliest)
        .poll(None)
        .await
        .expect_err("poll");
    assert_eq!(error.code(), Code::NotFound);
    assert!(
        error.to_string().contains("topic 'missing' not found"),
        "{error}"
    );
    let error = client
        .describe_topic("missing")
        .await
        .expect_err("describe");
    assert_eq!(error.code(), Code::NotFound);
    assert!(
        client.list_topics().await.expect("list").is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn bad_topic_names_are_invalid_arguments_everywhere() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    for name in [
        "",
        ".",
        "..",
        "a/b",
        "with space",
        "ünïcode",
        &"x".repeat(250),
    ] {
        let error = client.producer(name).send("x").await.expect_err(name);
        assert_eq!(error.code(), Code::InvalidArgument, "produce to {name:?}");
        assert!(error.to_string().contains("invalid topic"), "{error}");
        let error = client
            .consumer(name, Position::Earliest)
            .poll(None)
            .await
            .expect_err(name);
        assert_eq!(error.code(), Code::InvalidArgument, "poll {name:?}");
        let error = client.describe_topic(name).await.expect_err(name);
        assert_eq!(error.code(), Code::InvalidArgument, "describe {name:?}");
    }
    assert!(
        client.list_topics().await.expect("list").is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn an_empty_batch_is_invalid_and_creates_nothing() {
    let server = TestServer::start().await;
    let client = Client::connect(&server.address).await.expect("connect");
    let error = client
        .producer("t")
        .send_batch(Vec::<Bytes>::new())
        .await
        .expect_err("empty");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.to_string().contains("at least one payload"),
        "{error}"
    );
    assert_eq!(
        client
            .describe_topic("t")
            .await
            .expect_err("not created")
            .code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn a_payload_over_the_limit_refuses_the_whole_batch() {
    let mut config = default_config();
    config.limits.max_message_bytes = 1000;
    let server = TestServer::start_with_config(config).await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("t");
    producer
        .send(vec![0u8; 1000])
        .await
        .expect("exactly the limit is fine");
    let batch = vec![Bytes::from_static(b"ok"), Bytes::from(vec![0u8; 1001])];
    let error = producer
        .send_batch(batch)
        .await
        .expect_err("over the limit");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.to_string().contains("payload 1 is 1001 bytes"),
        "{error}"
    );
    let info = client.describe_topic("t").await.expect("describe");
    assert_eq!(
        info.message_count, 1,
        "no part of the refused batch was stored"
    );
}

#[tokio::test]
async fn a_request_over_the_request_limit_is_refused_and_stores_nothing() {
    let mut config = default_config();
    config.limits.max_message_bytes = 1024;
    config.limits.max_request_bytes = 64 * 1024;
    let server = TestServer::start_with_config(config).await;
    let client = Client::connect(&server.address).await.expect("connect");
    let producer = client.producer("t");
    let batch: Vec<Bytes> = (0..100).map(|_| Bytes::from(vec![1u8; 1024])).collect();
    let error = producer
        .send_batch(batch)
        .await
        .expect_err("100 KiB request");
    assert_eq!(
        error.code(),
        Code::OutOfRange,
        "tonic's code for an oversized message: {error}"
    );
    assert_eq!(
        client
            .describe_topic("t")
            .await
            .expect_err("nothing stored")
            .code(),
        Code::NotFound
    );
}

/// A call that gets no answer within the client's timeout fails with
/// DEADLINE_EXCEEDED instead of hanging.
#[tokio::test]
async fn a_call_past_its_timeout_fails_with_deadline_exceeded() {
    let store = std::sync::Arc::new(minikafka_tests::GatedStore::default());
    let server = TestServer::start_with(
        default_config(),
        store,
        std::sync::Arc::new(minikafka_server::SystemClock),
    )
    .await;
    let client = Client::connect(&server.address)
        .await
        .expect("connect")
        .with_timeout(std::time::Duration::from_millis(200));
    // The store never lets this append through.
    let error = client
        .producer("stalled")
        .send("x")
        .await
        .expect_err("no answer in time");
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error}");
    assert!(
        matches!(error, minikafka_client::ClientError::Timeout(_)),
        "{error:?}"
    );
}
