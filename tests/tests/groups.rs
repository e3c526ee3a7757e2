//! Consumer groups and reads from a time through a real server on a
//! loopback port: commits (the next offset to read; rewinds allowed;
//! 0 or past the end OUT_OF_RANGE; unknown topic NOT_FOUND), fetches,
//! paged listings, lag in DescribeGroup, deletes, OffsetForTime, Poll and
//! Subscribe starting at a group's position or at a time, and who may do
//! what under tokens.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use minikafka_backends::{MemoryStore, RetentionAge, RetentionDefaults};
use minikafka_proto::v1::{self, mini_kafka_client::MiniKafkaClient, start_position::Position};
use minikafka_server::auth::digest_hex;
use minikafka_server::{Config, ManualClock};
use minikafka_tests::{TestServer, at, clock_at, default_config};
use tonic::transport::Channel;
use tonic::{Code, Request};

type Grpc = MiniKafkaClient<Channel>;

/// A server on a memory store whose clock the test sets.
async fn server() -> (TestServer, Arc<ManualClock>, Grpc) {
    let clock = clock_at(0);
    let server = TestServer::start_with(
        default_config(),
        Arc::new(MemoryStore::new()),
        Arc::clone(&clock) as _,
    )
    .await;
    let grpc = MiniKafkaClient::new(server.channel().await);
    (server, clock, grpc)
}

/// Produces `count` one-byte messages to `topic`, one per second of the
/// clock from `first_second`.
async fn produce(grpc: &mut Grpc, clock: &ManualClock, topic: &str, first_second: u64, count: u64) {
    for second in first_second..first_second + count {
        clock.set(at(second));
        grpc.produce(v1::ProduceRequest {
            topic: topic.into(),
            payloads: vec![Bytes::from(vec![b'm'])],
            ..v1::ProduceRequest::default()
        })
        .await
        .expect("produce");
    }
}

fn commit(group: &str, topic: &str, offset: u64) -> v1::CommitOffsetRequest {
    v1::CommitOffsetRequest {
        group: group.into(),
        topic: topic.into(),
        offset,
        metadata: None,
    }
}

async fn fetch(grpc: &mut Grpc, group: &str, topic: &str) -> Option<v1::OffsetCommit> {
    grpc.fetch_offset(v1::FetchOffsetRequest {
        group: group.into(),
        topic: topic.into(),
    })
    .await
    .expect("fetch")
    .into_inner()
    .commit
}

fn seconds(t: &prost_types::Timestamp) -> u64 {
    let base = at(0).as_nanos() / 1_000_000_000;
    t.seconds as u64 - base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_the_next_offset_to_read_and_can_rewind() {
    let (_server, clock, mut grpc) = server().await;
    produce(&mut grpc, &clock, "orders", 1, 10).await;
    assert_eq!(
        fetch(&mut grpc, "billing", "orders").await,
        None,
        "no commit yet"
    );

    clock.set(at(20));
    grpc.commit_offset(v1::CommitOffsetRequest {
        metadata: Some("host-a".into()),
        ..commit("billing", "orders", 11)
    })
    .await
    .expect("everything read: the next offset");
    let found = fetch(&mut grpc, "billing", "orders")
        .await
        .expect("a commit");
    assert_eq!((found.offset, found.metadata.as_str()), (11, "host-a"));
    assert_eq!(seconds(found.commit_time.as_ref().expect("time")), 20);

    grpc.commit_offset(commit("billing", "orders", 3))
        .await
        .expect("a rewind is allowed");
    assert_eq!(
        fetch(&mut grpc, "billing", "orders")
            .await
            .map(|c| c.offset),
        Some(3)
    );

    for (offset, what) in [(0, "zero"), (12, "past the next offset")] {
        let status = grpc
            .commit_offset(commit("billing", "orders", offset))
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::OutOfRange, "{what}: {status:?}");
        assert!(
            status.message().contains("next offset 11"),
            "{}",
            status.message()
        );
    }
    let status = grpc
        .commit_offset(commit("billing", "nope", 1))
        .await
        .expect_err("unknown topic");
    assert_eq!(status.code(), Code::NotFound);
    let status = grpc
        .commit_offset(commit("bad group", "orders", 1))
        .await
        .expect_err("bad name");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("group name"),
        "{}",
        status.message()
    );
    let status = grpc
        .commit_offset(v1::CommitOffsetRequest {
            metadata: Some("x".repeat(4097)),
            ..commit("billing", "orders", 1)
        })
        .await
        .expect_err("metadata over 4 KiB");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fetch(&mut grpc, "billing", "orders")
            .await
            .map(|c| c.offset),
        Some(3),
        "refused commits changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_lag_the_oldest_unread_age_and_what_retention_took() {
    let (server, clock, mut grpc) = server().await;
    produce(&mut grpc, &clock, "orders", 1, 10).await;
    grpc.commit_offset(commit("billing", "orders", 4))
        .await
        .expect("commit");
    produce(&mut grpc, &clock, "audit", 11, 2).await;
    grpc.commit_offset(commit("billing", "audit", 3))
        .await
        .expect("commit");
    clock.set(at(30));

    let info = grpc
        .describe_group(v1::DescribeGroupRequest {
            group: "billing".into(),
        })
        .await
        .expect("describe")
        .into_inner();
    assert_eq!(info.name, "billing");
    let topics: Vec<_> = info.topics.iter().map(|t| t.topic.as_str()).collect();
    assert_eq!(topics, ["audit", "orders"], "in topic order");
    let audit = &info.topics[0];
    assert_eq!((audit.lag, audit.oldest_unread_age), (0, None), "caught up");
    let orders = &info.topics[1];
    assert_eq!(
        (orders.next_offset, orders.lag, orders.expired_unread),
        (11, 7, 0)
    );
    assert_eq!(
        orders.oldest_unread_age,
        Some(prost_types::Duration {
            seconds: 26,
            nanos: 0
        }),
        "offset 4 was stored at 4 s"
    );

    // Retention removes what was stored before 7 s: offsets 1 to 6.
    server
        .store
        .enforce_retention(
            at(30),
            RetentionDefaults::by_age(RetentionAge::MaxAge(Duration::from_secs(23))),
        )
        .await
        .expect("sweep");
    let info = grpc
        .describe_group(v1::DescribeGroupRequest {
            group: "billing".into(),
        })
        .await
        .expect("describe")
        .into_inner();
    let orders = &info.topics[1];
    assert_eq!(
        (orders.earliest_offset, orders.lag, orders.expired_unread),
        (7, 4, 3)
    );

    let status = grpc
        .describe_group(v1::DescribeGroupRequest {
            group: "nobody".into(),
        })
        .await
        .expect_err("unknown group");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_listed_in_pages_and_deleted() {
    let (_server, clock, mut grpc) = server().await;
    produce(&mut grpc, &clock, "t", 1, 1).await;
    for group in ["e", "a", "d", "b", "c"] {
        grpc.commit_offset(commit(group, "t", 1))
            .await
            .expect("commit");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = grpc
            .list_groups(v1::ListGroupsRequest {
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .expect("list")
            .into_inner();
        pages += 1;
        seen.extend(page.groups);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3, "no empty last page");

    let deleted = grpc
        .delete_group(v1::DeleteGroupRequest { group: "c".into() })
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(deleted.commits_deleted, 1);
    assert_eq!(fetch(&mut grpc, "c", "t").await, None);
    let status = grpc
        .delete_group(v1::DeleteGroupRequest { group: "c".into() })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
}

fn poll_from(topic: &str, start: Position) -> v1::PollRequest {
    v1::PollRequest {
        topic: topic.into(),
        start: Some(v1::StartPosition {
            position: Some(start),
        }),
        ..v1::PollRequest::default()
    }
}

fn group_start(group: &str, no_commit: v1::NoCommit) -> Position {
    Position::Group(v1::GroupStart {
        group: group.into(),
        no_commit: no_commit as i32,
    })
}

fn time(seconds: u64) -> prost_types::Timestamp {
    prost_types::Timestamp::from(at(seconds).to_system_time())
}

async fn first_offset(grpc: &mut Grpc, request: v1::PollRequest) -> (Option<u64>, u64) {
    let reply = grpc.poll(request).await.expect("poll").into_inner();
    (
        reply.messages.first().map(|m| m.offset),
        reply.new_read_from,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_start_at_a_groups_position_or_at_a_time() {
    let (_server, clock, mut grpc) = server().await;
    produce(&mut grpc, &clock, "orders", 1, 10).await;
    grpc.commit_offset(commit("billing", "orders", 6))
        .await
        .expect("commit");

    let from_group = poll_from("orders", group_start("billing", v1::NoCommit::Earliest));
    assert_eq!(first_offset(&mut grpc, from_group).await, (Some(6), 11));
    let no_commit_earliest = poll_from("orders", group_start("new", v1::NoCommit::Earliest));
    assert_eq!(first_offset(&mut grpc, no_commit_earliest).await.0, Some(1));
    let no_commit_end = poll_from("orders", group_start("new", v1::NoCommit::End));
    assert_eq!(first_offset(&mut grpc, no_commit_end).await, (None, 11));

    let from_time = poll_from("orders", Position::Time(time(4)));
    assert_eq!(first_offset(&mut grpc, from_time).await.0, Some(4));
    let after_all = poll_from("orders", Position::Time(time(99)));
    assert_eq!(first_offset(&mut grpc, after_all).await, (None, 11));
    let offset = grpc
        .offset_for_time(v1::OffsetForTimeRequest {
            topic: "orders".into(),
            time: Some(time(7)),
        })
        .await
        .expect("offset for time")
        .into_inner()
        .offset;
    assert_eq!(offset, 7);
    let status = grpc
        .offset_for_time(v1::OffsetForTimeRequest {
            topic: "orders".into(),
            time: None,
        })
        .await
        .expect_err("no time");
    assert_eq!(status.code(), Code::InvalidArgument);

    // A subscription from the group's position, then from the end for a
    // group with no commit: only what is stored afterwards.
    let subscribe = |start| v1::SubscribeRequest {
        topic: "orders".into(),
        start: Some(v1::StartPosition {
            position: Some(start),
        }),
        ..v1::SubscribeRequest::default()
    };
    let mut stream = grpc
        .subscribe(subscribe(group_start("billing", v1::NoCommit::Earliest)))
        .await
        .expect("subscribe")
        .into_inner();
    let batch = stream.next().await.expect("a batch").expect("ok");
    assert_eq!(batch.messages.first().map(|m| m.offset), Some(6));
    let mut from_end = grpc
        .subscribe(subscribe(group_start("fresh", v1::NoCommit::End)))
        .await
        .expect("subscribe")
        .into_inner();
    // The subscription reads the end before it waits; produce until it has.
    let mut next = Box::pin(from_end.next());
    let batch = loop {
        produce(&mut grpc, &clock, "orders", 50, 1).await;
        if let Ok(batch) = tokio::time::timeout(Duration::from_millis(200), &mut next).await {
            break batch.expect("a batch").expect("ok");
        }
    };
    assert!(
        batch.messages[0].offset >= 11,
        "{:?}",
        batch.messages[0].offset
    );
}

/// `message` sent with `token`.
fn with<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_use_the_groups_their_patterns_match() {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    let toml = format!(
        r#"
[[token]]
name = "billing"
sha256 = "{}"
produce = ["invoices"]
consume = ["invoices"]
groups = ["billing-*"]

[[token]]
name = "ops"
sha256 = "{}"
admin = true
"#,
        digest_hex("billing-secret"),
        digest_hex("ops-secret")
    );
    std::fs::write(file.path(), toml).expect("write the auth file");
    let path = file.path().to_str().expect("UTF-8").to_owned();
    let config =
        Config::from_vars([("MINIKAFKA_AUTH_FILE".to_owned(), path)]).expect("a valid auth file");
    let server = TestServer::start_with_config(config).await;
    let mut grpc = MiniKafkaClient::new(server.channel().await);
    let produce = v1::ProduceRequest {
        topic: "invoices".into(),
        payloads: vec![Bytes::from_static(b"i")],
        ..v1::ProduceRequest::default()
    };
    grpc.produce(with("billing-secret", produce))
        .await
        .expect("produce");

    grpc.commit_offset(with("billing-secret", commit("billing-eu", "invoices", 2)))
        .await
        .expect("its group");
    let status = grpc
        .commit_offset(with("billing-secret", commit("shipping", "invoices", 2)))
        .await
        .expect_err("not its group");
    assert_eq!(status.code(), Code::PermissionDenied);
    grpc.commit_offset(with("ops-secret", commit("shipping", "invoices", 1)))
        .await
        .expect("an admin may do everything");

    let listed = grpc
        .list_groups(with("billing-secret", v1::ListGroupsRequest::default()))
        .await
        .expect("list")
        .into_inner()
        .groups;
    assert_eq!(listed, ["billing-eu"], "only its groups");
    let listed = grpc
        .list_groups(with("ops-secret", v1::ListGroupsRequest::default()))
        .await
        .expect("list")
        .into_inner()
        .groups;
    assert_eq!(listed, ["billing-eu", "shipping"]);
    let status = grpc
        .delete_group(with(
            "billing-secret",
            v1::DeleteGroupRequest {
                group: "shipping".into(),
            },
        ))
        .await
        .expect_err("not its group");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = grpc
        .poll(with(
            "billing-secret",
            poll_from("invoices", group_start("shipping", v1::NoCommit::Earliest)),
        ))
        .await
        .expect_err("a read at another group's position");
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// The Rust client: a consumer in a group resumes where the group's last
/// commit left it, auto-commit commits what polls returned (on the
/// interval and on close), and the admin calls list, describe and delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_consumer_resumes_at_its_groups_commit() {
    use minikafka_client::{Client, ClientError, Position};

    let (server, clock, mut grpc) = server().await;
    produce(&mut grpc, &clock, "orders", 1, 10).await;
    let client = Client::connect(&server.address).await.expect("connect");

    let mut consumer = client
        .consumer("orders", Position::Earliest)
        .with_limits(4, 0)
        .group("billing");
    let polled = consumer.poll(None).await.expect("poll");
    let offsets: Vec<u64> = polled.messages.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, [1, 2, 3, 4], "no commit yet: the earliest");
    consumer.commit().await.expect("commit");
    assert_eq!(
        client
            .fetch_offset("billing", "orders")
            .await
            .expect("fetch")
            .map(|c| c.offset),
        Some(5),
        "the next offset to read"
    );

    let mut resumed = client
        .consumer("orders", Position::Earliest)
        .with_limits(4, 0)
        .group("billing")
        .with_auto_commit(Duration::ZERO);
    let polled = resumed.poll(None).await.expect("poll");
    assert_eq!(polled.messages.first().map(|m| m.offset), Some(5));
    resumed
        .poll(None)
        .await
        .expect("a poll commits what the last returned");
    assert_eq!(
        client
            .fetch_offset("billing", "orders")
            .await
            .expect("fetch")
            .map(|c| c.offset),
        Some(9)
    );
    resumed.close().await.expect("close commits");
    assert_eq!(
        client
            .fetch_offset("billing", "orders")
            .await
            .expect("fetch")
            .map(|c| c.offset),
        Some(11)
    );

    let mut from_end = client.consumer("orders", Position::End).group("fresh");
    assert!(from_end.poll(None).await.expect("poll").messages.is_empty());
    let mut no_group = client.consumer("orders", Position::Earliest);
    assert!(matches!(no_group.commit().await, Err(ClientError::NoGroup)));

    let mut from_time = client.consumer("orders", Position::Time(at(7).to_system_time()));
    let polled = from_time.poll(None).await.expect("poll");
    assert_eq!(polled.messages.first().map(|m| m.offset), Some(7));
    assert_eq!(
        client
            .offset_for_time("orders", at(3).to_system_time())
            .await
            .expect("offset for time"),
        3
    );

    let admin = client.admin();
    assert_eq!(admin.list_groups().await.expect("list"), ["billing"]);
    let info = admin.describe_group("billing").await.expect("describe");
    assert_eq!(
        (
            info.topics[0].topic.as_str(),
            info.topics[0].lag,
            info.topics[0].commit.offset
        ),
        ("orders", 0, 11)
    );
    assert_eq!(admin.delete_group("billing").await.expect("delete"), 1);
    let error = admin.describe_group("billing").await.expect_err("gone");
    assert_eq!(error.code(), Code::NotFound);
}
