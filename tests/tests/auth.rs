//! Tokens and topic permissions (MINIKAFKA_AUTH_FILE), end to end: no or
//! an unknown token is UNAUTHENTICATED, a topic outside the token's
//! patterns is PERMISSION_DENIED, admins list everything and alone manage
//! topics, listings (page by page) show only what a token may describe,
//! and health stays open.

use std::sync::Arc;

use minikafka_backends::MemoryStore;
use minikafka_client::{Client, Code, Position};
use minikafka_proto::v1::{self, mini_kafka_client::MiniKafkaClient};
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
    let stored = server.store.list(None, 10).await.expect("list");
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

/// Creating, updating and deleting topics needs `admin = true`; a token
/// that may produce to a topic may not manage it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managing_topics_needs_an_admin_token() {
    let (server, _file) = server_with_tokens().await;
    let billing = client(&server, Some("billing-secret")).await.admin();
    let settings = minikafka_client::TopicSettings::default();
    let refused = billing
        .create_topic("invoices", &settings)
        .await
        .expect_err("not an admin");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused
            .to_string()
            .contains("token 'billing' may not create, update or delete topic 'invoices'"),
        "{refused}"
    );
    let ops = client(&server, Some("ops-secret")).await.admin();
    ops.create_topic("invoices", &settings)
        .await
        .expect("admin");
    let change = minikafka_client::TopicChange {
        reset: vec![minikafka_client::Setting::Retention],
        ..Default::default()
    };
    let refused = billing
        .update_topic("invoices", &change)
        .await
        .expect_err("update");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = billing.delete_topic("invoices").await.expect_err("delete");
    assert_eq!(refused.code(), Code::PermissionDenied);
    billing
        .describe_topic("invoices")
        .await
        .expect("still there");
    assert_eq!(ops.delete_topic("invoices").await.expect("admin"), 0);
}

/// A token's listing pages through every topic but shows only those it
/// may describe, each page at most `page_size`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_listing_pages_through_only_what_it_may_describe() {
    let (server, _file) = server_with_tokens().await;
    let ops = client(&server, Some("ops-secret")).await;
    for i in 0..30 {
        let topic = if i % 3 == 0 {
            format!("audit-{i:02}")
        } else {
            format!("other-{i:02}")
        };
        ops.producer(topic).send("x").await.expect("produce");
    }
    // Pages of four, by the raw API: 30 topics make 8 pages, holding the
    // auditor's 10 topics among them.
    let mut grpc = MiniKafkaClient::new(server.channel().await);
    let mut names = Vec::new();
    let mut pages = 0;
    let mut page_token = String::new();
    loop {
        let mut request = tonic::Request::new(v1::ListTopicsRequest {
            page_size: 4,
            page_token,
        });
        request.metadata_mut().insert(
            "authorization",
            "Bearer auditor-secret".parse().expect("ASCII"),
        );
        let page = grpc
            .list_topics(request)
            .await
            .expect("a page")
            .into_inner();
        assert!(page.topics.len() <= 4);
        names.extend(page.topics.into_iter().map(|t| t.name));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages, 8);
    let expected: Vec<String> = (0..30)
        .step_by(3)
        .map(|i| format!("audit-{i:02}"))
        .collect();
    assert_eq!(names, expected);
    let auditor = client(&server, Some("auditor-secret")).await;
    assert_eq!(auditor.list_topics().await.expect("list").len(), 10);
    assert_eq!(ops.list_topics().await.expect("list").len(), 30);
}
