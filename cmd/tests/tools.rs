//! What a new user of `mkfk-producer` and `mkfk-consumer` meets first, run
//! as real processes against real servers on 127.0.0.1: the exact lines
//! printed for no server, for a server's refusal and for a TLS certificate
//! that cannot be used (each cause said once); a bad topic reported before
//! any input is read; the `--from` forms; `--version`; and a following
//! consumer that waits for its server, says when it is lost and back, and
//! goes on where it was.

mod common;

use std::net::TcpListener;
use std::process::Stdio;

use common::*;

/// An address on 127.0.0.1 where nothing listens (a port just freed).
fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let address = listener.local_addr().expect("local address");
    format!("127.0.0.1:{}", address.port())
}

/// Runs `command` with its standard input left open and never written:
/// the tool must finish without reading a line.
fn run_without_input(command: &mut std::process::Command, name: &'static str) -> (i32, String) {
    let mut process = Running::spawn(
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
        name,
    );
    let stdin = process.child.stdin.take().expect("stdin is piped");
    let stderr = process.stderr();
    let status = process.wait();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    (status.code().expect("exited"), stderr)
}

#[test]
fn with_no_server_each_tool_says_so_once_and_what_to_check() {
    let address = free_address();
    let want = |tool: &str| {
        format!(
            "{tool}: cannot connect to {address}: connection refused; is mkfk-server running at that address?\n"
        )
    };
    let (code, stderr) = run_without_input(
        command(PRODUCER).args(["--host", &address, "--topic", "t"]),
        "mkfk-producer",
    );
    assert_eq!((code, stderr), (1, want("mkfk-producer")));

    let consumer = run(
        command(CONSUMER).args(["--host", &address, "--topic", "t", "--no-follow"]),
        "mkfk-consumer",
        None,
    );
    assert_eq!(consumer.status.code(), Some(1));
    assert_eq!(consumer.stderr, want("mkfk-consumer"));
}

#[test]
fn a_bad_topic_is_reported_before_any_input_is_read() {
    let server = Server::start();
    let (code, stderr) = run_without_input(&mut server.producer("a/b"), "mkfk-producer");
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr,
        "mkfk-producer: invalid argument: invalid topic: topic name 'a/b' contains '/'; \
         allowed are A-Z, a-z, 0-9, '.', '_' and '-'\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_printed_once() {
    let server = Server::start();
    server
        .client()
        .await
        .producer("ok")
        .send("one")
        .await
        .expect("produce");
    for (topic, args, want) in [
        (
            "a/b",
            &["--no-follow"][..],
            "mkfk-consumer: invalid argument: invalid topic: topic name 'a/b' contains '/'; \
             allowed are A-Z, a-z, 0-9, '.', '_' and '-'\n",
        ),
        (
            "a/b",
            &[][..],
            "mkfk-consumer: invalid argument: invalid topic: topic name 'a/b' contains '/'; \
             allowed are A-Z, a-z, 0-9, '.', '_' and '-'\n",
        ),
        (
            "nope",
            &["--no-follow"][..],
            "mkfk-consumer: not found: topic 'nope' not found\n",
        ),
        (
            "ok",
            &["--no-follow", "--from", "5"][..],
            "mkfk-consumer: out of range: read_from 5 is beyond the end of topic 'ok' \
             (its next offset is 2)\n",
        ),
    ] {
        let consumer = run(&mut server.consumer(topic, args), "mkfk-consumer", None);
        assert_eq!(consumer.status.code(), Some(1), "{topic} {args:?}");
        assert_eq!(consumer.stderr, want, "{topic} {args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_accepts_earliest_start_0_an_offset_and_end_and_names_them_all() {
    let server = Server::start();
    server
        .client()
        .await
        .producer("t")
        .send_batch(["a", "b"])
        .await
        .expect("produce");
    for (from, want) in [
        ("earliest", "a\nb\n"),
        ("start", "a\nb\n"),
        ("0", "a\nb\n"),
        ("2", "b\n"),
    ] {
        let consumer = run(
            &mut server.consumer("t", &["--no-follow", "--from", from]),
            "mkfk-consumer",
            None,
        );
        assert!(consumer.status.success(), "{from}: {}", consumer.stderr);
        assert_eq!(String::from_utf8_lossy(&consumer.stdout), want, "{from}");
    }

    let refused = run(
        &mut server.consumer("t", &["--from", "soon"]),
        "mkfk-consumer",
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", refused.stderr);
    let first = refused.stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "error: invalid value 'soon' for '--from <FROM>': 'soon' is not a position: give an \
         offset (1 or more); 0, 'earliest' or 'start' for the earliest retained message; 'end' \
         for only new messages; an RFC 3339 time such as 2026-11-23T10:00:00Z; or a duration \
         ago such as 15m"
    );
}

#[test]
fn version_names_the_program() {
    for (program, name) in [
        (PRODUCER, "mkfk-producer"),
        (CONSUMER, "mkfk-consumer"),
        (SERVER, "mkfk-server"),
        (env!("CARGO_BIN_EXE_mkfk-bench"), "mkfk-bench"),
        (env!("CARGO_BIN_EXE_mkfk-admin"), "mkfk-admin"),
    ] {
        let version = run(command(program).arg("--version"), name, None);
        assert!(version.status.success(), "{}", version.stderr);
        assert_eq!(
            String::from_utf8_lossy(&version.stdout),
            format!("{name} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

/// A following consumer started before its server waits for it; when the
/// server goes away and comes back it says so once each way, in its own
/// words, and goes on where it was.
#[test]
fn a_following_consumer_waits_for_its_server_and_says_when_it_is_lost_and_back() {
    let address = free_address();
    let root = tempfile::tempdir().expect("temporary directory");
    let env = [
        ("MINIKAFKA_HOST", address.as_str()),
        ("MINIKAFKA_BACKEND", "sqlite"),
        ("MINIKAFKA_ROOT_DIR", root.path().to_str().expect("UTF-8")),
    ];
    let mut consumer = Running::spawn(
        command(CONSUMER)
            .args(["--host", &address, "--topic", "t", "--interval", "100ms"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-consumer",
    );
    let stdout = consumer.stdout();
    let stderr = consumer.stderr();
    let lost = format!(
        "mkfk-consumer: cannot connect to {address}: connection refused; is mkfk-server running \
         at that address? (retrying until it answers)"
    );
    let back = format!("mkfk-consumer: connected to {address}");
    let wait_for = |line: &str, times: usize| {
        stderr.wait_until(&format!("{times} x {line:?}"), |said, _| {
            String::from_utf8_lossy(said)
                .lines()
                .filter(|l| *l == line)
                .count()
                >= times
        });
    };

    wait_for(&lost, 1);
    assert!(consumer.is_running(), "{}", stderr.text());
    for (round, message) in [(1, "first"), (2, "second")] {
        let mut server = Server::start_with(&env);
        let produced = run(
            &mut server.producer("t"),
            "mkfk-producer",
            Some(format!("{message}\n").into_bytes()),
        );
        assert!(produced.status.success(), "{}", produced.stderr);
        assert_eq!(stdout.wait_for_line(message).as_deref(), Some(message));
        wait_for(&back, round);
        server.crash();
        wait_for(&lost, round + 1);
    }
    assert_eq!(
        stdout.text(),
        "first\nsecond\n",
        "each message once, in order"
    );
    let said = stderr.text();
    assert_eq!(
        said,
        format!("{lost}\n{back}\n{lost}\n{back}\n{lost}\n"),
        "one line each way, no library log lines"
    );
}

/// A server whose certificate is a CA certificate (as `openssl req -x509`
/// makes) is refused by the client with words that say what to do. The
/// listener is `openssl s_server`, so this holds whatever mkfk-server
/// accepts at start-up.
#[test]
fn a_ca_certificate_on_the_server_is_explained() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.pem()).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");

    let address = free_address();
    let port = address.rsplit_once(':').expect("host:port").1;
    let mut listener = Running::spawn(
        std::process::Command::new("openssl")
            .args(["s_server", "-accept", port, "-naccept", "1", "-cert"])
            .arg(&cert_path)
            .arg("-key")
            .arg(&key_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
        "openssl s_server",
    );
    let ready = listener.stdout();
    assert!(
        ready.wait_for_line("ACCEPT").is_some(),
        "openssl s_server did not start: {}",
        ready.text()
    );

    let url = format!("https://{address}");
    let (code, stderr) = run_without_input(
        command(PRODUCER)
            .args(["--host", &url, "--topic", "t", "--ca-file"])
            .arg(&cert_path),
        "mkfk-producer",
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "mkfk-producer: cannot connect to {url}: the server's certificate is a CA \
             certificate (as `openssl req -x509` makes), which TLS refuses as a server's own; \
             make a CA and a server certificate signed by it, give the server the latter and \
             the client the CA (docs/operations.md has the recipe)\n"
        )
    );
}
