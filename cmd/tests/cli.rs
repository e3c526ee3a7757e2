//! End-to-end tests of the command-line tools: every test runs the real
//! `mkfk-server`, `mkfk-producer` and `mkfk-consumer` binaries as child
//! processes talking over 127.0.0.1, and checks how they exit, what they
//! print and (through the Rust client library) what the server stored.
//!
//! Covered: the server's `--help`, its refusal of bad configuration and of
//! the not-yet-built file store, and its clean exit on SIGTERM; the
//! producer's batching of piped input, byte-exact lines with CRLF endings
//! stripped, lines sent while the pipe stays open, and its failures (no
//! server, an over-long line); the consumer's JSON and raw output, `--from`
//! and `--max`, waiting for a topic that does not exist yet, and exiting
//! quietly when its reader closes the pipe. A SIGTERM sent the moment the
//! server says it is listening still drains and syncs (the handlers are
//! installed before that line is logged).
//!
//! No test sleeps to let something happen: every wait is on a condition with
//! a deadline, and every child process is killed and reaped when its guard
//! is dropped, also when a test fails.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use minikafka_client::{Client, Code, Message, Position, TopicInfo};
use minikafka_server::config::KNOWN_VARIABLES;

const SERVER: &str = env!("CARGO_BIN_EXE_mkfk-server");
const PRODUCER: &str = env!("CARGO_BIN_EXE_mkfk-producer");
const CONSUMER: &str = env!("CARGO_BIN_EXE_mkfk-consumer");

/// How long any one awaited thing may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// The server's default `MINIKAFKA_MAX_MESSAGE_BYTES`.
const ONE_MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A command for `program` that inherits no `MINIKAFKA_*` or `RUST_LOG`
/// from the environment the tests run in.
fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MINIKAFKA_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null()).stdout(Stdio::null());
    command
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
struct Running {
    child: Child,
    name: &'static str,
}

impl Running {
    fn spawn(command: &mut Command, name: &'static str) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { child, name }
    }

    fn stdout(&mut self) -> Captured {
        Captured::drain(self.child.stdout.take().expect("stdout is piped"))
    }

    fn stderr(&mut self) -> Captured {
        Captured::drain(self.child.stderr.take().expect("stderr is piped"))
    }

    /// Waits for the process to exit; kills it and fails the test if it is
    /// still running after [`DEADLINE`].
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not exit within {DEADLINE:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Everything read so far from a child's output pipe, filled by a
/// background thread so the pipe never fills up.
#[derive(Clone, Default)]
struct Captured(Arc<(Mutex<CapturedState>, Condvar)>);

#[derive(Default)]
struct CapturedState {
    bytes: Vec<u8>,
    /// The pipe reached its end.
    closed: bool,
}

impl Captured {
    fn drain(mut source: impl Read + Send + 'static) -> Self {
        let captured = Self::default();
        let sink = captured.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 16 * 1024];
            loop {
                let n = source.read(&mut chunk).unwrap_or(0);
                let (state, changed) = &*sink.0;
                let Ok(mut state) = state.lock() else { return };
                if n == 0 {
                    state.closed = true;
                } else {
                    state.bytes.extend_from_slice(&chunk[..n]);
                }
                changed.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        captured
    }

    /// Waits until `done(bytes, closed)` holds; fails the test after
    /// [`DEADLINE`].
    fn wait_until(&self, what: &str, done: impl Fn(&[u8], bool) -> bool) -> (Vec<u8>, bool) {
        let (state, changed) = &*self.0;
        let deadline = Instant::now() + DEADLINE;
        let mut state = state.lock().expect("capture lock");
        while !done(&state.bytes, state.closed) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let so_far = String::from_utf8_lossy(&state.bytes).into_owned();
                drop(state);
                panic!("timed out after {DEADLINE:?} waiting for {what}; output so far:\n{so_far}");
            }
            state = changed.wait_timeout(state, left).expect("capture lock").0;
        }
        (state.bytes.clone(), state.closed)
    }

    /// Waits for a complete line containing `needle` and returns it, or
    /// `None` if the pipe closed without one.
    fn wait_for_line(&self, needle: &str) -> Option<String> {
        let find = |bytes: &[u8]| -> Option<String> {
            let text = String::from_utf8_lossy(bytes);
            // Only lines that ended: the last piece may be half written.
            let complete = text.rsplit_once('\n').map_or("", |(lines, _)| lines);
            complete
                .lines()
                .find(|line| line.contains(needle))
                .map(str::to_owned)
        };
        let (bytes, _) = self.wait_until(&format!("a line with {needle:?}"), |bytes, closed| {
            closed || find(bytes).is_some()
        });
        find(&bytes)
    }

    /// Waits for the end of the pipe and returns everything read.
    fn wait_for_end(&self) -> Vec<u8> {
        self.wait_until("the end of output", |_, closed| closed).0
    }

    fn text(&self) -> String {
        let (state, _) = &*self.0;
        String::from_utf8_lossy(&state.lock().expect("capture lock").bytes).into_owned()
    }
}

/// A running `mkfk-server` on a free port of 127.0.0.1 with the memory
/// store; killed when dropped.
struct Server {
    process: Running,
    address: String,
    log: Captured,
}

impl Server {
    fn start() -> Self {
        let mut process = Running::spawn(
            command(SERVER)
                .env("MINIKAFKA_HOST", "127.0.0.1:0")
                .env("MINIKAFKA_BACKEND", "memory")
                .stderr(Stdio::piped()),
            "mkfk-server",
        );
        let log = process.stderr();
        let line = log.wait_for_line("listening on ").unwrap_or_else(|| {
            panic!(
                "mkfk-server stopped without listening; its log:\n{}",
                log.text()
            )
        });
        let address = line
            .split_once("listening on ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .expect("an address after 'listening on'")
            .to_owned();
        let parsed: SocketAddr = address
            .parse()
            .unwrap_or_else(|e| panic!("{address:?} in {line:?} is not an address: {e}"));
        assert!(parsed.ip().is_loopback(), "{line}");
        assert_ne!(parsed.port(), 0, "{line}");
        Self {
            process,
            address,
            log,
        }
    }

    async fn client(&self) -> Client {
        Client::connect(&self.address)
            .await
            .expect("connect to the test server")
    }

    fn producer(&self, topic: &str) -> Command {
        let mut producer = command(PRODUCER);
        producer.args(["--host", &self.address, "--topic", topic]);
        producer
    }

    fn consumer(&self, topic: &str, args: &[&str]) -> Command {
        let mut consumer = command(CONSUMER);
        consumer
            .args(["--host", &self.address, "--topic", topic])
            .args(args);
        consumer
    }
}

/// How a finished process exited and what it printed.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `command` to its end (within [`DEADLINE`]), writing `input` to its
/// standard input from a thread and closing it; no input means /dev/null.
fn run(command: &mut Command, name: &'static str, input: Option<Vec<u8>>) -> Finished {
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut process = Running::spawn(command, name);
    let writer = input.map(|input| {
        let mut stdin = process.child.stdin.take().expect("stdin is piped");
        // A process that fails early closes its end: ignore EPIPE here.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let stdout = process.stdout();
    let stderr = process.stderr();
    let status = process.wait();
    if let Some(writer) = writer {
        writer.join().expect("the stdin writer thread");
    }
    Finished {
        status,
        stdout: stdout.wait_for_end(),
        stderr: String::from_utf8_lossy(&stderr.wait_for_end()).into_owned(),
    }
}

/// Waits until `topic` holds at least `count` messages.
async fn wait_for_messages(client: &Client, topic: &str, count: u64) -> TopicInfo {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match client.describe_topic(topic).await {
            Ok(info) if info.message_count >= count => return info,
            Ok(_) => {}
            Err(error) if error.code() == Code::NotFound => {}
            Err(error) => panic!("describe_topic({topic:?}): {error}"),
        }
        assert!(
            Instant::now() < deadline,
            "'{topic}' did not reach {count} messages within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads `count` messages of `topic` from the earliest, then checks that
/// the topic holds no more.
async fn read_all(client: &Client, topic: &str, count: usize) -> Vec<Message> {
    let mut consumer = client.consumer(topic, Position::Earliest);
    let mut messages = Vec::with_capacity(count);
    let deadline = Instant::now() + DEADLINE;
    while messages.len() < count {
        assert!(
            Instant::now() < deadline,
            "read only {} of {count} messages of '{topic}' within {DEADLINE:?}",
            messages.len()
        );
        let polled = consumer.poll().await.expect("poll");
        assert_eq!(polled.gap, None, "nothing should have expired");
        if polled.messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        messages.extend(polled.messages);
    }
    assert_eq!(messages.len(), count, "more messages than produced");
    let info = client.describe_topic(topic).await.expect("describe_topic");
    assert_eq!(info.message_count, count as u64, "{info:?}");
    messages
}

/// The `N` of "stored N messages" in the producer's summary.
fn stored_count(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("mkfk-producer: stored "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no 'stored N messages' summary in:\n{stderr}"))
}

// ---------------------------------------------------------------------------
// mkfk-server
// ---------------------------------------------------------------------------

#[test]
fn server_help_lists_every_variable() {
    let help = run(command(SERVER).arg("--help"), "mkfk-server --help", None);
    assert!(help.status.success(), "{:?}: {}", help.status, help.stderr);
    let stdout = String::from_utf8(help.stdout).expect("help is UTF-8");
    for variable in KNOWN_VARIABLES {
        assert!(
            stdout.contains(variable),
            "--help does not mention {variable}:\n{stdout}"
        );
    }
}

#[test]
fn server_refuses_a_bad_value_with_one_line_naming_it() {
    for (variable, value) in [
        ("MINIKAFKA_FSYNC", "sometimes"),
        ("MINIKAFKA_RETENTIONTIME", "7dayz"),
    ] {
        let server = run(
            command(SERVER)
                .env("MINIKAFKA_HOST", "127.0.0.1:0")
                .env("MINIKAFKA_BACKEND", "memory")
                .env(variable, value),
            "mkfk-server",
            None,
        );
        assert_eq!(
            server.status.code(),
            Some(2),
            "{variable}={value}: {}",
            server.stderr
        );
        let lines: Vec<&str> = server.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{variable}={value}: want one line:\n{}",
            server.stderr
        );
        let want = format!("mkfk-server: {variable}={value:?} is not valid: expected ");
        assert!(
            lines[0].starts_with(&want) && lines[0].len() > want.len(),
            "{variable}={value}: got {:?}, want {want:?} and what is expected",
            lines[0]
        );
    }
}

#[test]
fn server_refuses_the_file_backend_until_it_exists() {
    let server = run(
        command(SERVER)
            .env("MINIKAFKA_HOST", "127.0.0.1:0")
            .env("MINIKAFKA_BACKEND", "file"),
        "mkfk-server",
        None,
    );
    assert_eq!(server.status.code(), Some(1), "{}", server.stderr);
    assert!(
        server.stderr.contains("not available yet"),
        "{}",
        server.stderr
    );
    assert!(
        !server.stderr.contains("listening on"),
        "it must not serve:\n{}",
        server.stderr
    );
}

/// Whether process `pid` has installed a handler for SIGTERM: bit 15 of
/// the `SigCgt` mask in `/proc/PID/status`.
#[cfg(target_os = "linux")]
fn catches_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .expect("a SigCgt line in /proc/PID/status");
    let mask = u64::from_str_radix(mask.trim(), 16).expect("SigCgt is a hex mask");
    mask & (1 << (15 - 1)) != 0
}

/// Sends SIGTERM to `server` and returns how it exited and its whole log.
#[cfg(target_os = "linux")]
fn terminate(server: &mut Server) -> (ExitStatus, String) {
    let kill = Command::new("kill")
        .args(["-TERM", &server.process.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -TERM failed: {kill:?}");
    let status = server.process.wait();
    let log = String::from_utf8_lossy(&server.log.wait_for_end()).into_owned();
    (status, log)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_exits_0_on_sigterm_after_syncing() {
    let mut server = Server::start();
    // A client with an open connection, as in real life.
    let client = server.client().await;
    client.producer("t").send("before").await.expect("produce");
    let (status, log) = terminate(&mut server);
    assert_eq!(status.code(), Some(0), "{status:?}; log:\n{log}");
    assert!(log.contains("store synced; server stopped"), "log:\n{log}");
    drop(client);
}

/// A supervisor may stop the server as soon as it reports that it is
/// listening; the contract (exit 0 after syncing) holds from then on.
#[cfg(target_os = "linux")]
#[test]
fn server_handles_sigterm_as_soon_as_it_reports_listening() {
    let mut server = Server::start();
    let handled = catches_sigterm(server.process.child.id());
    let (status, log) = terminate(&mut server);
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?} (SIGTERM handler installed when 'listening on' was logged: {handled}); log:\n{log}"
    );
    assert!(log.contains("store synced; server stopped"), "log:\n{log}");
}

// ---------------------------------------------------------------------------
// mkfk-producer
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_stores_20000_piped_lines_in_batches() {
    const LINES: usize = 20_000;
    let server = Server::start();
    let input: String = (1..=LINES).map(|i| format!("line-{i}\n")).collect();
    let producer = run(
        &mut server.producer("t"),
        "mkfk-producer",
        Some(input.into_bytes()),
    );
    assert!(producer.status.success(), "{:?}", producer.status);
    assert_eq!(
        producer.stderr.trim_end(),
        "mkfk-producer: stored 20000 messages in 't' (offsets 1..20000)"
    );

    let client = server.client().await;
    let messages = read_all(&client, "t", LINES).await;
    for (i, message) in messages.iter().enumerate() {
        assert_eq!(message.offset, i as u64 + 1);
        assert_eq!(message.payload, format!("line-{}", i + 1));
    }
    // The memory store stamps every message of one request with the same
    // time, so distinct timestamps bound the number of requests from above.
    let requests = messages
        .iter()
        .map(|m| m.timestamp)
        .collect::<HashSet<SystemTime>>()
        .len();
    assert!(
        requests <= 200,
        "{LINES} lines took {requests} requests: the producer did not batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_keeps_binary_bytes_and_strips_crlf() {
    let server = Server::start();
    let input = b"nul\x00byte\n\xff\xfe\xfd\na\r\ninner\rcr\nlast-without-newline".to_vec();
    let producer = run(&mut server.producer("t"), "mkfk-producer", Some(input));
    assert!(producer.status.success(), "{}", producer.stderr);
    assert_eq!(
        producer.stderr.trim_end(),
        "mkfk-producer: stored 5 messages in 't' (offsets 1..5)"
    );

    let client = server.client().await;
    let payloads: Vec<Bytes> = read_all(&client, "t", 5)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    let want: Vec<Bytes> = vec![
        Bytes::from_static(b"nul\x00byte"),
        Bytes::from_static(b"\xff\xfe\xfd"),
        Bytes::from_static(b"a"),
        Bytes::from_static(b"inner\rcr"),
        Bytes::from_static(b"last-without-newline"),
    ];
    assert_eq!(payloads, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_sends_a_line_while_the_pipe_stays_open() {
    let server = Server::start();
    let client = server.client().await;
    let mut producer = Running::spawn(
        server
            .producer("t")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-producer",
    );
    let stderr = producer.stderr();
    let mut stdin = producer.child.stdin.take().expect("stdin is piped");

    for (count, line) in [(1, "first"), (2, "second")] {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write a line");
        stdin.flush().expect("flush");
        // The pipe is still open: the line must arrive anyway.
        wait_for_messages(&client, "t", count).await;
        assert!(producer.is_running(), "{}", stderr.text());
    }

    drop(stdin);
    let status = producer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        "mkfk-producer: stored 2 messages in 't' (offsets 1..2)"
    );
    let payloads: Vec<Bytes> = read_all(&client, "t", 2)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, vec!["first", "second"]);
}

#[test]
fn producer_without_a_server_cannot_connect() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port();
    // The listener is dropped: nothing listens on `port` now.
    let address = format!("127.0.0.1:{port}");
    let producer = run(
        command(PRODUCER).args(["--host", &address, "--topic", "t"]),
        "mkfk-producer",
        None,
    );
    assert!(!producer.status.success(), "{:?}", producer.status);
    assert!(
        producer.stderr.contains("cannot connect"),
        "{}",
        producer.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_fails_on_an_over_long_line_and_reports_what_was_stored() {
    let server = Server::start();
    let mut input = b"good-1\ngood-2\ngood-3\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', ONE_MIB + 1));
    input.push(b'\n');
    let producer = run(&mut server.producer("t"), "mkfk-producer", Some(input));
    assert!(!producer.status.success(), "{}", producer.stderr);
    assert!(
        producer.stderr.contains("invalid argument"),
        "{}",
        producer.stderr
    );
    // Whichever batches went before the failing one are stored, and the
    // summary says how many: a batch is all or nothing.
    let stored = stored_count(&producer.stderr);
    assert!(stored <= 3, "{}", producer.stderr);
    let client = server.client().await;
    match client.describe_topic("t").await {
        Ok(info) => assert_eq!(info.message_count, stored, "{}", producer.stderr),
        Err(error) => {
            assert_eq!(error.code(), Code::NotFound, "{error}");
            assert_eq!(stored, 0, "{}", producer.stderr);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_keeps_the_batches_stored_before_an_over_long_line() {
    let server = Server::start();
    let client = server.client().await;
    let mut producer = Running::spawn(
        server
            .producer("t")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-producer",
    );
    let stderr = producer.stderr();
    let mut stdin = producer.child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(b"good-1\ngood-2\ngood-3\n")
        .expect("write good lines");
    stdin.flush().expect("flush");
    // The good lines are stored before the long one is even written.
    wait_for_messages(&client, "t", 3).await;
    let mut long = vec![b'x'; ONE_MIB + 1];
    long.push(b'\n');
    // The producer may exit as soon as it has read the line: ignore EPIPE.
    let _ = stdin.write_all(&long);
    drop(stdin);

    let status = producer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("invalid argument"), "{stderr}");
    assert!(
        stderr.contains("stored 3 messages in 't' (offsets 1..3)"),
        "{stderr}"
    );
    let payloads: Vec<Bytes> = read_all(&client, "t", 3)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, vec!["good-1", "good-2", "good-3"]);
}

// ---------------------------------------------------------------------------
// mkfk-consumer
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_prints_json_lines_with_base64_for_binary() {
    let server = Server::start();
    let client = server.client().await;
    let payloads = vec![
        Bytes::from_static(b"a"),
        Bytes::from_static(b"b"),
        Bytes::from_static(b"\xff"),
    ];
    let range = client
        .producer("t")
        .send_batch(payloads)
        .await
        .expect("produce");
    assert_eq!((range.first, range.last), (1, 3));
    let stored = read_all(&client, "t", 3).await;

    let consumer = run(
        &mut server.consumer("t", &["--format", "json", "--max", "3"]),
        "mkfk-consumer",
        None,
    );
    assert!(consumer.status.success(), "{}", consumer.stderr);
    let stdout = String::from_utf8(consumer.stdout).expect("JSON output is UTF-8");
    assert!(stdout.ends_with('\n'), "{stdout:?}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");

    let want_payloads = [
        ("payload", "a"),
        ("payload", "b"),
        ("payload_base64", "/w=="),
    ];
    for ((line, (key, value)), message) in lines.iter().zip(want_payloads).zip(&stored) {
        let object = line.as_object().expect("a JSON object per line");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want_keys = vec!["offset", "timestamp", key];
        want_keys.sort_unstable();
        assert_eq!(keys, want_keys, "{line}");
        assert_eq!(line["offset"], message.offset, "{line}");
        assert_eq!(line[key], value, "{line}");

        let timestamp = line["timestamp"].as_str().expect("timestamp is a string");
        assert!(timestamp.ends_with('Z'), "{line}");
        let printed = humantime::parse_rfc3339(timestamp)
            .unwrap_or_else(|e| panic!("{timestamp:?} is not RFC 3339: {e}"));
        // The stored time, truncated to milliseconds.
        let behind = message
            .timestamp
            .duration_since(printed)
            .unwrap_or_else(|_| panic!("{timestamp} is after the stored time"));
        assert!(behind < Duration::from_millis(1), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_prints_raw_lines_from_an_offset_up_to_max() {
    let server = Server::start();
    let client = server.client().await;
    client
        .producer("t")
        .send_batch(["line-1", "line-2", "line-3", "line-4"])
        .await
        .expect("produce");

    let consumer = run(
        &mut server.consumer("t", &["--from", "2", "--max", "2"]),
        "mkfk-consumer",
        None,
    );
    assert!(consumer.status.success(), "{}", consumer.stderr);
    assert_eq!(
        String::from_utf8_lossy(&consumer.stdout),
        "line-2\nline-3\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_waits_for_a_topic_to_be_created() {
    let server = Server::start();
    let client = server.client().await;
    let mut consumer = Running::spawn(
        server
            .consumer("later", &["--interval", "50ms", "--max", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-consumer",
    );
    let stdout = consumer.stdout();
    let stderr = consumer.stderr();
    let waiting = "mkfk-consumer: waiting for topic 'later' to be created";
    let line = stderr.wait_for_line(waiting);
    assert_eq!(line.as_deref(), Some(waiting), "{}", stderr.text());
    assert!(consumer.is_running(), "{}", stderr.text());

    client
        .producer("later")
        .send("hello")
        .await
        .expect("produce");
    let status = consumer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(String::from_utf8_lossy(&stdout.wait_for_end()), "hello\n");
    assert_eq!(
        stderr.matches("waiting for topic").count(),
        1,
        "said once, not on every poll:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_exits_0_when_its_reader_goes_away() {
    let server = Server::start();
    let client = server.client().await;
    let producer = client.producer("t");
    producer.send("one").await.expect("produce");
    let mut consumer = Running::spawn(
        server
            .consumer("t", &["--interval", "50ms"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "mkfk-consumer",
    );
    let stderr = consumer.stderr();
    // Like `| head -n 1`: read one line, then close the pipe.
    let stdout = consumer.child.stdout.take().expect("stdout is piped");
    let (first_line, read) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        drop(reader);
        let _ = first_line.send(line);
    });
    let line = read
        .recv_timeout(DEADLINE)
        .expect("the consumer printed its first line");
    assert_eq!(line, "one\n");
    assert!(consumer.is_running(), "no --max: it keeps reading");

    // The next message has nowhere to go.
    producer.send("two").await.expect("produce");
    let status = consumer.wait();
    let stderr = String::from_utf8_lossy(&stderr.wait_for_end()).into_owned();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(stderr, "", "a closed pipe is not an error");
}
