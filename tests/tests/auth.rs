//! Tokens and topic permissions (MINIKAFKA_AUTH_FILE), end to end: no or
//! an unknown token is UNAUTHENTICATED, a topic outside the token's
//! patterns is PERMISSION_DENIED, admins list everything, listings show
//! only what a token may describe, and health stays open.

use std::sync::Arc;

use minikafka_backends::MemoryStore;
use minikafka_client::{Client, Code, Position};
use minikafka_server::auth::digest_hex;
use minikafka_server::{Config, SystemClock};
use minikafka_tests::TestServer;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn server_with_tokens() -> (TestServer, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    let toml = format!(
        r#"
[[token]]
name = "billing"
sha256 = "{}"
produce = ["invoices", "audit-*"]
consume = ["invoices"]

[[token]]
name = "auditor"
sha256 = "{}"
consume = ["audit-*"]

[[token]]
name = "ops"
sha256 = "{}"
admin = true
produce = ["*"]
"#,
        digest_hex("billing-secret"),
        digest_hex("auditor-secret"),
        digest_hex("ops-secret")
    );
    std::fs::write(file.path(), toml).expect("write the auth file");
    let path = file.path().to_str().expect("UTF-8").to_owned();
    let config =
        Config::from_vars([("MINIKAFKA_AUTH_FILE".to_owned(), path)]).expect("a valid auth file");
    let server =
        TestServer::start_with(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).await;
    (server, file)
}

async fn client(server: &TestServer, token: Option<&str>) -> Client {
    let client = Client::connect(&server.address).await.expect("connect");
    match token {
        Some(token) => client.with_token(token).expect("a valid token"),
        None => client,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_an_unknown_one_is_unauthenticated() {
    let (server, _file) = server_with_tokens().await;
    for token in [None, Some("guess")] {
        let error = client(&server, token)
            .await
            .producer("invoices")
            .send("x")
            .await
            .expect_err("refused");
        assert_eq!(error.code(), Code::Unauthenticated, "{token:?}: {error}");
        let error = client(&server, token)
            .await
            .list_topics()
            .await
            .expect_err("refused");
        assert_eq!(error.code(), Code::Unauthenticated);
    }
    let stored = server.store.list(None, usize::MAX).await.expect("list");
    assert!(stored.is_empty(), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_may_do_what_its_patterns_allow_and_no_more() {
    let (server, _file) = server_with_tokens().await;
    let billing = client(&server, Some("billing-secret")).await;
    let auditor = client(&server, Some("auditor-secret")).await;
    billing
        .producer("invoices")
        .send("invoice 1")
        .await
        .expect("billing produces invoices");
    billing
        .producer("audit-2026")
        .send("entry")
        .await
        .expect("billing produces audit-*");
    let polled = billing
        .consumer("invoices", Position::Earliest)
        .poll(None)
        .await
        .expect("billing reads invoices");
    assert_eq!(polled.messages.len(), 1);

    let denied = billing
        .producer("payroll")
        .send("x")
        .await
        .expect_err("not billing's");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.to_string().contains("'billing'") && denied.to_string().contains("'payroll'"),
        "{denied}"
    );
    let denied = billing
        .consumer("audit-2026", Position::Earliest)
        .poll(None)
        .await
        .expect_err("produce only");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = auditor
        .producer("audit-2026")
        .send("x")
        .await
        .expect_err("consume only");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let read = auditor
        .consumer("audit-2026", Position::Earliest)
        .poll(None)
        .await
        .expect("auditor reads audit-*");
    assert_eq!(read.messages.len(), 1);
    let mut stream = auditor.consumer("invoices", Position::Earliest).stream();
    let denied = futures::StreamExt::next(&mut stream)
        .await
        .expect("an item")
        .expect_err("not the auditor's");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_every_topic_and_others_only_theirs() {
    let (server, _file) = server_with_tokens().await;
    let ops = client(&server, Some("ops-secret")).await;
    for topic in ["invoices", "audit-1", "payroll"] {
        ops.producer(topic)
            .send("x")
            .await
            .expect("ops produces anywhere");
    }
    let names = |topics: Vec<minikafka_client::TopicInfo>| {
        topics.into_iter().map(|t| t.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(ops.list_topics().await.expect("list")),
        ["audit-1", "invoices", "payroll"]
    );
    let auditor = client(&server, Some("auditor-secret")).await;
    assert_eq!(
        names(auditor.list_topics().await.expect("list")),
        ["audit-1"]
    );
    let denied = auditor
        .describe_topic("payroll")
        .await
        .expect_err("not the auditor's");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_stays_open() {
    let (server, _file) = server_with_tokens().await;
    let channel = server.channel().await;
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert_eq!(
        reply.expect("no token needed").into_inner().status,
        ServingStatus::Serving as i32
    );
}

/// The auth file is read with the rest of the configuration, at start-up.
#[test]
fn a_malformed_auth_file_stops_the_server_with_the_line_at_fault() {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(
        file.path(),
        "[[token]]\nname = \"x\"\nsha256 = not-quoted\n",
    )
    .expect("write");
    let path = file.path().to_str().expect("UTF-8").to_owned();
    let message = Config::from_vars([("MINIKAFKA_AUTH_FILE".to_owned(), path.clone())])
        .expect_err("malformed")
        .to_string();
    assert!(
        message.starts_with(&format!("MINIKAFKA_AUTH_FILE={path:?}: "))
            && message.contains("line 3"),
        "{message}"
    );
}
