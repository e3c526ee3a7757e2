//! What the process tests share: running the real binaries as child
//! processes, capturing their output, waiting on conditions with a
//! deadline (never a fixed sleep), and reading back through the client.

#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use minikafka_client::{Client, Code, Message, Position, TopicInfo};

pub const SERVER: &str = env!("CARGO_BIN_EXE_mkfk-server");
pub const PRODUCER: &str = env!("CARGO_BIN_EXE_mkfk-producer");
pub const CONSUMER: &str = env!("CARGO_BIN_EXE_mkfk-consumer");

/// How long any one awaited thing may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The server's default `MINIKAFKA_MAX_MESSAGE_BYTES`.
pub const ONE_MIB: usize = 1024 * 1024;

/// A command for `program` that inherits no `MINIKAFKA_*` or `RUST_LOG`
/// from the environment the tests run in.
pub fn command(program: &str) -> Command {
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
pub struct Running {
    pub child: Child,
    name: &'static str,
}

impl Running {
    pub fn spawn(command: &mut Command, name: &'static str) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { child, name }
    }

    pub fn stdout(&mut self) -> Captured {
        Captured::drain(self.child.stdout.take().expect("stdout is piped"))
    }

    pub fn stderr(&mut self) -> Captured {
        Captured::drain(self.child.stderr.take().expect("stderr is piped"))
    }

    /// Waits for the process to exit; kills it and fails the test if it is
    /// still running after [`DEADLINE`].
    pub fn wait(&mut self) -> ExitStatus {
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

    /// Whether the process exits within a short while (50 ms).
    pub fn wait_briefly(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_millis(50);
        while Instant::now() < deadline {
            if !self.is_running() {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }

    pub fn is_running(&mut self) -> bool {
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
pub struct Captured(Arc<(Mutex<CapturedState>, Condvar)>);

#[derive(Default)]
pub struct CapturedState {
    bytes: Vec<u8>,
    /// The pipe reached its end.
    closed: bool,
}

impl Captured {
    pub fn drain(mut source: impl Read + Send + 'static) -> Self {
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
    pub fn wait_until(&self, what: &str, done: impl Fn(&[u8], bool) -> bool) -> (Vec<u8>, bool) {
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
    pub fn wait_for_line(&self, needle: &str) -> Option<String> {
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
    pub fn wait_for_end(&self) -> Vec<u8> {
        self.wait_until("the end of output", |_, closed| closed).0
    }

    pub fn text(&self) -> String {
        let (state, _) = &*self.0;
        String::from_utf8_lossy(&state.lock().expect("capture lock").bytes).into_owned()
    }
}

/// A running `mkfk-server` on a free port of 127.0.0.1 with the memory
/// store; killed when dropped.
pub struct Server {
    pub process: Running,
    pub address: String,
    pub log: Captured,
}

impl Server {
    /// A server on the memory store.
    pub fn start() -> Self {
        Self::start_with(&[("MINIKAFKA_BACKEND", "memory")])
    }

    /// A server with these `MINIKAFKA_*` variables (and a free port).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let mut server = command(SERVER);
        server
            .env("MINIKAFKA_HOST", "127.0.0.1:0")
            .stderr(Stdio::piped());
        for (name, value) in env {
            server.env(name, value);
        }
        let mut process = Running::spawn(&mut server, "mkfk-server");
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

    /// Kills the server with SIGKILL, as a crash would, and waits for it.
    pub fn crash(&mut self) {
        self.process.child.kill().expect("SIGKILL the server");
        self.process.wait();
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.address)
            .await
            .expect("connect to the test server")
    }

    pub fn producer(&self, topic: &str) -> Command {
        let mut producer = command(PRODUCER);
        producer.args(["--host", &self.address, "--topic", topic]);
        producer
    }

    pub fn consumer(&self, topic: &str, args: &[&str]) -> Command {
        let mut consumer = command(CONSUMER);
        consumer
            .args(["--host", &self.address, "--topic", topic])
            .args(args);
        consumer
    }
}

/// How a finished process exited and what it printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `command` to its end (within [`DEADLINE`]), writing `input` to its
/// standard input from a thread and closing it; no input means /dev/null.
pub fn run(command: &mut Command, name: &'static str, input: Option<Vec<u8>>) -> Finished {
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
pub async fn wait_for_messages(client: &Client, topic: &str, count: u64) -> TopicInfo {
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

/// Waits until retention has removed every message of `topic` before
/// `earliest`.
pub async fn wait_for_earliest(client: &Client, topic: &str, earliest: u64) {
    let deadline = Instant::now() + DEADLINE;
    while client
        .describe_topic(topic)
        .await
        .unwrap_or_else(|e| panic!("describe_topic({topic:?}): {e}"))
        .earliest_offset
        < earliest
    {
        assert!(
            Instant::now() < deadline,
            "retention did not reach offset {earliest} of '{topic}' within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `count` messages of `topic` from the earliest, then checks that
/// the topic holds no more.
pub async fn read_all(client: &Client, topic: &str, count: usize) -> Vec<Message> {
    let mut consumer = client.consumer(topic, Position::Earliest);
    let mut messages = Vec::with_capacity(count);
    let deadline = Instant::now() + DEADLINE;
    while messages.len() < count {
        assert!(
            Instant::now() < deadline,
            "read only {} of {count} messages of '{topic}' within {DEADLINE:?}",
            messages.len()
        );
        let polled = consumer.poll(None).await.expect("poll");
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
pub fn stored_count(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("mkfk-producer: stored "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no 'stored N messages' summary in:\n{stderr}"))
}

/// Whether process `pid` has installed a handler for SIGTERM: bit 15 of
/// the `SigCgt` mask in `/proc/PID/status`.
#[cfg(target_os = "linux")]
pub fn catches_sigterm(pid: u32) -> bool {
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
pub fn terminate(server: &mut Server) -> (ExitStatus, String) {
    let kill = Command::new("kill")
        .args(["-TERM", &server.process.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -TERM failed: {kill:?}");
    let status = server.process.wait();
    let log = String::from_utf8_lossy(&server.log.wait_for_end()).into_owned();
    (status, log)
}

/// The directory of a client in another language: `clients/<language>`.
pub fn clients_dir(language: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("clients")
        .join(language)
}

/// [`clients_dir`], once its `setup.sh` has installed what the client
/// needs (from PyPI or npm on first use).
pub fn set_up_client(language: &str) -> PathBuf {
    let dir = clients_dir(language);
    step(
        Command::new("bash").arg(dir.join("setup.sh")),
        &format!("clients/{language}/setup.sh"),
    );
    dir
}

/// Runs a step to its end and returns its standard output; fails the test
/// with its output if it fails. For steps that may take long (installs,
/// builds), unlike [`run`].
pub fn step(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The segment files (`*.log`) of a file store's topic directory, in order.
pub fn segment_files(topic_dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(topic_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", topic_dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}
