//! Topic administration through the server: creating, configuring and
//! deleting topics, with real clients, on real stores that are closed and
//! opened again.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use minikafka_backends::{Store, open_store};
use minikafka_client::{
    Client, Code, Position, Retention, Setting, SettingSource, TopicChange, TopicSettings,
};
use minikafka_proto::protocol;
use minikafka_proto::v1::{self, mini_kafka_client::MiniKafkaClient};
use minikafka_server::{Config, SystemClock};
use minikafka_tests::{DEADLINE, TestServer, default_config};

/// The configuration of a server on `backend` in `root`, with `extra`
/// variables.
fn config_in(root: &Path, backend: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("MINIKAFKA_BACKEND".to_owned(), backend.to_owned()),
        (
            "MINIKAFKA_ROOT_DIR".to_owned(),
            root.to_str().expect("UTF-8").to_owned(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_vars(vars).expect("a valid configuration")
}

/// A server with `config` on the store it names, opened now.
async fn start(config: Config) -> TestServer {
    let store_config = config.store.clone();
    let store: Arc<dyn Store> = tokio::task::spawn_blocking(move || open_store(&store_config))
        .await
        .expect("open the store")
        .expect("open the store");
    TestServer::start_with(config, store, Arc::new(SystemClock)).await
}

/// Stops `server` (syncing and closing its store) and starts another on
/// the same directory, as a restart would.
async fn restart(server: TestServer, config: Config) -> TestServer {
    server.stop().await.expect("a clean stop");
    start(config).await
}

async fn connect(server: &TestServer) -> Client {
    Client::connect(&server.address).await.expect("connect")
}

fn hours(hours: u64) -> Retention {
    Retention::MaxAge(Duration::from_secs(hours * 3_600))
}

#[tokio::test]
async fn a_topic_is_deleted_under_four_producers_and_two_subscribers() {
    for backend in ["file", "sqlite"] {
        delete_under_load(backend).await;
    }
}

/// On `backend`: a topic deleted while four producers send to it and two
/// subscribers follow it; then a restart.
async fn delete_under_load(backend: &str) {
    let root = tempfile::tempdir().expect("temporary directory");
    // Without auto-creation nothing can bring the topic back behind the
    // test's back, so "nothing of the old topic" can be checked.
    let config = config_in(
        root.path(),
        backend,
        &[
            ("MINIKAFKA_AUTO_CREATE_TOPICS", "false"),
            ("MINIKAFKA_SEGMENT_BYTES", "4KiB"),
        ],
    );
    let server = start(config.clone()).await;
    let client = connect(&server).await;
    client
        .admin()
        .create_topic("busy", &TopicSettings::default())
        .await
        .expect("create");

    let producers: Vec<_> = (0..4)
        .map(|id| {
            let producer = client.producer("busy");
            tokio::spawn(async move {
                let mut sent = 0u64;
                loop {
                    match producer.send(format!("old-{id}-{sent}")).await {
                        Ok(_) => sent += 1,
                        Err(error) => return (sent, error.code()),
                    }
                }
            })
        })
        .collect();
    let received: Arc<[AtomicU64; 2]> = Arc::default();
    let subscribers: Vec<_> = (0..2)
        .map(|id| {
            let mut stream = client.consumer("busy", Position::Earliest).stream();
            let received = Arc::clone(&received);
            tokio::spawn(async move {
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(_) => received[id].fetch_add(1, Ordering::SeqCst),
                        Err(error) => return Some(error.code()),
                    };
                }
                None
            })
        })
        .collect();

    // Deleted while everyone is busy: past 1,000 messages, each
    // subscriber having received some.
    let admin = client.admin();
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let held = admin.describe_topic("busy").await.expect("describe");
        let receiving = received.iter().all(|r| r.load(Ordering::SeqCst) > 0);
        if held.message_count >= 1_000 && receiving {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "too slow: {held:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deleted = admin.delete_topic("busy").await.expect("delete");
    assert!(deleted >= 1_000, "{deleted}");

    for producer in producers {
        let (sent, code) = producer.await.expect("no producer panicked");
        assert!(sent > 0);
        assert_eq!(code, Code::NotFound, "producers are told the topic is gone");
    }
    for subscriber in subscribers {
        let end = tokio::time::timeout(DEADLINE, subscriber)
            .await
            .expect("the subscription ended")
            .expect("no subscriber panicked");
        assert_eq!(
            end,
            Some(Code::NotFound),
            "subscriptions end with NOT_FOUND"
        );
    }

    let server = restart(server, config).await;
    let client = connect(&server).await;
    let missing = client.describe_topic("busy").await.expect_err("gone");
    assert_eq!(missing.code(), Code::NotFound);
    let poll = client
        .consumer("busy", Position::Earliest)
        .poll(None)
        .await
        .expect_err("nothing to read");
    assert_eq!(poll.code(), Code::NotFound);
    assert!(client.list_topics().await.expect("list").is_empty());

    // Made again, it is a new topic: offsets from 1, none of the old data.
    client
        .admin()
        .create_topic("busy", &TopicSettings::default())
        .await
        .expect("create again");
    let offset = client.producer("busy").send("new").await.expect("produce");
    assert_eq!(offset, 1);
    let polled = client
        .consumer("busy", Position::Earliest)
        .poll(None)
        .await
        .expect("poll");
    let payloads: Vec<&Bytes> = polled.messages.iter().map(|m| &m.payload).collect();
    assert_eq!(payloads, [&Bytes::from_static(b"new")], "{backend}");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_deleted_topic_stays_deleted_across_a_restart_on_each_persistent_store() {
    for backend in ["file", "sqlite"] {
        let root = tempfile::tempdir().expect("temporary directory");
        let config = config_in(root.path(), backend, &[]);
        let server = start(config.clone()).await;
        let client = connect(&server).await;
        let producer = client.producer("gone");
        for i in 0..50 {
            producer.send(format!("old {i}")).await.expect("produce");
        }
        client
            .producer("kept")
            .send("stays")
            .await
            .expect("produce");
        assert_eq!(
            client.admin().delete_topic("gone").await.expect("delete"),
            50
        );
        let again = client
            .admin()
            .delete_topic("gone")
            .await
            .expect_err("twice");
        assert_eq!(again.code(), Code::NotFound, "{backend}");

        let server = restart(server, config).await;
        let client = connect(&server).await;
        let names: Vec<String> = client
            .list_topics()
            .await
            .expect("list")
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["kept"], "{backend}");
        let offset = client.producer("gone").send("new").await.expect("produce");
        assert_eq!(offset, 1, "{backend}: a topic made again starts at 1");
        let info = client.describe_topic("gone").await.expect("describe");
        assert_eq!((info.message_count, info.size_bytes), (1, 3), "{backend}");
        server.stop().await.expect("stop");
    }
}

#[tokio::test]
async fn settings_survive_a_restart_on_each_persistent_store() {
    for backend in ["file", "sqlite"] {
        let root = tempfile::tempdir().expect("temporary directory");
        let config = config_in(root.path(), backend, &[]);
        let server = start(config.clone()).await;
        let admin = connect(&server).await.admin();
        let settings = TopicSettings {
            retention: Some(hours(36)),
            retention_bytes: Some(1 << 30),
            max_message_bytes: None,
        };
        admin.create_topic("kept", &settings).await.expect("create");
        let change = TopicChange {
            set: TopicSettings {
                max_message_bytes: Some(4_096),
                ..TopicSettings::default()
            },
            reset: vec![Setting::RetentionBytes],
        };
        let changed = admin.update_topic("kept", &change).await.expect("update");
        admin
            .create_topic(
                "forever",
                &TopicSettings {
                    retention: Some(Retention::Forever),
                    ..TopicSettings::default()
                },
            )
            .await
            .expect("create");

        let server = restart(server, config).await;
        let admin = connect(&server).await.admin();
        let after = admin.describe_topic("kept").await.expect("describe");
        assert_eq!(after.settings, changed.settings, "{backend}");
        let settings = after.settings.expect("settings");
        assert_eq!(settings.retention.value, hours(36));
        assert_eq!(settings.retention.source, SettingSource::Topic);
        assert_eq!(settings.retention_bytes.value, None);
        assert_eq!(
            settings.retention_bytes.source,
            SettingSource::ServerDefault
        );
        assert_eq!(settings.max_message_bytes.value, 4_096);
        let forever = admin.describe_topic("forever").await.expect("describe");
        assert_eq!(
            forever.settings.map(|s| s.retention.value),
            Some(Retention::Forever),
            "{backend}"
        );
        server.stop().await.expect("stop");
    }
}

/// A raw v1 client, to send what the Rust client would not.
async fn raw(server: &TestServer) -> MiniKafkaClient<tonic::transport::Channel> {
    MiniKafkaClient::new(server.channel().await)
}

fn max_age(seconds: i64) -> Option<v1::Retention> {
    Some(v1::Retention {
        retention: Some(v1::retention::Retention::MaxAge(prost_types::Duration {
            seconds,
            nanos: 0,
        })),
    })
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_setting_and_change_nothing() {
    let server = TestServer::start().await;
    let mut grpc = raw(&server).await;
    let bad: [(&str, v1::TopicSettings); 6] = [
        (
            "retention",
            v1::TopicSettings {
                retention: max_age(0),
                ..Default::default()
            },
        ),
        (
            "retention",
            v1::TopicSettings {
                retention: max_age(-60),
                ..Default::default()
            },
        ),
        (
            "retention",
            v1::TopicSettings {
                retention: Some(v1::Retention { retention: None }),
                ..Default::default()
            },
        ),
        (
            "retention_bytes",
            v1::TopicSettings {
                retention_bytes: Some(0),
                ..Default::default()
            },
        ),
        (
            "max_message_bytes",
            v1::TopicSettings {
                max_message_bytes: Some(0),
                ..Default::default()
            },
        ),
        (
            "max_message_bytes",
            v1::TopicSettings {
                max_message_bytes: Some((1 << 20) + 1),
                ..Default::default()
            },
        ),
    ];
    for (setting, settings) in &bad {
        let status = grpc
            .create_topic(v1::CreateTopicRequest {
                topic: "t".into(),
                settings: Some(*settings),
            })
            .await
            .expect_err(setting);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with(&format!("{setting}:")),
            "{status:?}"
        );
    }
    let client = connect(&server).await;
    assert!(
        client.list_topics().await.expect("list").is_empty(),
        "no refused create made a topic"
    );

    let admin = client.admin();
    let good = TopicSettings {
        retention: Some(hours(1)),
        retention_bytes: Some(1_000),
        max_message_bytes: Some(100),
    };
    let before = admin.create_topic("t", &good).await.expect("create");
    for (setting, settings) in bad {
        let status = grpc
            .update_topic(v1::UpdateTopicRequest {
                topic: "t".into(),
                settings: Some(settings),
                reset: Vec::new(),
            })
            .await
            .expect_err(setting);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    for (reset, settings) in [
        (
            "retention",
            v1::TopicSettings {
                retention: max_age(60),
                ..Default::default()
            },
        ),
        ("reset", v1::TopicSettings::default()),
    ] {
        let names = if reset == "reset" {
            vec!["size".to_owned()]
        } else {
            vec![reset.to_owned()]
        };
        let status = grpc
            .update_topic(v1::UpdateTopicRequest {
                topic: "t".into(),
                settings: Some(settings),
                reset: names,
            })
            .await
            .expect_err(reset);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with(&format!("{reset}:")),
            "{status:?}"
        );
    }
    let after = admin.describe_topic("t").await.expect("describe");
    assert_eq!(after.settings, before.settings, "nothing changed");

    let other = admin
        .create_topic("t", &TopicSettings::default())
        .await
        .expect_err("other settings");
    assert_eq!(other.code(), Code::AlreadyExists);
    let same = admin
        .create_topic("t", &good)
        .await
        .expect("the same again");
    assert_eq!(same.settings, before.settings);
}

#[tokio::test]
async fn a_topics_own_message_limit_is_enforced_below_the_servers() {
    let server = TestServer::start().await;
    let client = connect(&server).await;
    let small = TopicSettings {
        max_message_bytes: Some(10),
        ..TopicSettings::default()
    };
    client
        .admin()
        .create_topic("small", &small)
        .await
        .expect("create");
    let producer = client.producer("small");
    producer.send("0123456789").await.expect("at the limit");
    let error = producer.send("01234567890").await.expect_err("over it");
    assert_eq!(error.code(), Code::InvalidArgument, "{error}");
    let info = client.describe_topic("small").await.expect("describe");
    assert_eq!(info.message_count, 1, "nothing of the refused batch stored");
}

#[tokio::test]
async fn without_auto_creation_a_produce_to_an_unknown_topic_says_how_to_create_it() {
    let mut config = default_config();
    config.topics.auto_create = false;
    let server = TestServer::start_with_config(config).await;
    let client = connect(&server).await;
    let error = client.producer("new").send("x").await.expect_err("unknown");
    assert_eq!(error.code(), Code::NotFound);
    assert_eq!(
        error.to_string(),
        "not found: topic 'new' not found; create it first (CreateTopic, or mkfk-admin topics \
         create new): this server does not create topics on first produce \
         (MINIKAFKA_AUTO_CREATE_TOPICS=false)"
    );

    // The original API follows the same rule.
    let mut old = protocol::mini_kafka_client::MiniKafkaClient::new(server.channel().await);
    let produce = || protocol::ProduceRequest {
        topic: Some(protocol::Topic {
            topic: "new".into(),
        }),
        payload: Some(protocol::Payload {
            payload: Bytes::from_static(b"x"),
        }),
    };
    let status = old.produce(produce()).await.expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status
            .message()
            .contains("MINIKAFKA_AUTO_CREATE_TOPICS=false"),
        "{status:?}"
    );
    assert!(client.list_topics().await.expect("list").is_empty());

    client
        .admin()
        .create_topic("new", &TopicSettings::default())
        .await
        .expect("create");
    assert_eq!(client.producer("new").send("x").await.expect("produce"), 1);
    let reply = old.produce(produce()).await.expect("produce").into_inner();
    assert_eq!(reply.msg_number, 2);
}

#[tokio::test]
async fn list_topics_pages_through_every_topic_in_name_order() {
    let server = TestServer::start().await;
    let client = connect(&server).await;
    let mut names: Vec<String> = (0..25).map(|i| format!("topic-{i:02}")).collect();
    for name in &names {
        client
            .producer(name.as_str())
            .send("x")
            .await
            .expect("produce");
    }
    names.sort();
    let mut grpc = raw(&server).await;
    let mut pages = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = grpc
            .list_topics(v1::ListTopicsRequest {
                page_size: 10,
                page_token,
            })
            .await
            .expect("a page")
            .into_inner();
        pages.push(
            page.topics
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>(),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    assert_eq!(pages.concat(), names);

    // A full last page says it is the last: no empty page follows.
    let all_in_one = grpc
        .list_topics(v1::ListTopicsRequest {
            page_size: 25,
            page_token: String::new(),
        })
        .await
        .expect("one page")
        .into_inner();
    assert_eq!(all_in_one.topics.len(), 25);
    assert!(all_in_one.next_page_token.is_empty());

    let listed: Vec<String> = client
        .list_topics()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, names);

    let bad = grpc
        .list_topics(v1::ListTopicsRequest {
            page_size: 10,
            page_token: "not a token".into(),
        })
        .await
        .expect_err("bad token");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("page_token"), "{bad:?}");
}
