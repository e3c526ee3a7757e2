//! The Go client (`clients/go`) and the original Go project's API, proved
//! against a real `mkfk-server` with Debian's Go toolchain and libraries:
//!
//! - the client's own test suite (`go test ./...`);
//! - a program written as the original project's clients are (Produce one
//!   message, Poll from a number), on the compat API;
//! - a fresh Go project outside the checkout that requires the client by
//!   path, as a user would, running the first program of docs/clients.md
//!   and the client's examples, including what they say about a retention
//!   gap and about damage on disk;
//! - the committed generated code matching what `protoc` makes of `proto/`.
//!
//! The Go module proxy is not used: `cmd/tests/go/debianproxy` serves
//! Debian's packaged libraries (`/usr/share/gocode/src`) as one, on a
//! loopback port. Go's build and module caches live under the target
//! directory. Without Go or those packages the tests fail, saying what to
//! install; they never pass by skipping.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use minikafka_client::Producer;

/// What to install when Go or the libraries are missing.
const INSTALL: &str = "apt-get install golang-go golang-google-grpc-dev golang-google-protobuf-dev \
     golang-github-golang-protobuf-1-5-dev protobuf-compiler protoc-gen-go protoc-gen-go-grpc";

/// The Go client's module path (clients/go/go.mod).
const MODULE: &str = "example.invalid/minikafka/clients/go";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cmd/ is in the repository")
        .to_path_buf()
}

/// `go` in `dir`, offline: modules from `proxy` (a URL, or "off"), caches
/// under `caches`, and nothing from the caller's Go settings.
fn offline_go(caches: &Path, proxy: &str, dir: &Path) -> Command {
    let mut go = Command::new("go");
    go.current_dir(dir)
        .env("GOCACHE", caches.join("build"))
        .env("GOMODCACHE", caches.join("mod"))
        .env("GOPROXY", proxy)
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-mod=mod -modcacherw")
        .env("GO111MODULE", "on")
        .env("GOWORK", "off")
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0");
    go
}

/// Go, set up to build offline against Debian's libraries through a
/// running `debianproxy`; stopped when dropped.
struct Go {
    proxy_url: String,
    caches: PathBuf,
    scratch: tempfile::TempDir,
    /// The running proxy, killed when this is dropped.
    _proxy: Running,
}

impl Go {
    fn start() -> Self {
        let found = Command::new("go").arg("version").output();
        assert!(
            found.as_ref().is_ok_and(|output| output.status.success()),
            "the Go tests need the go command ({found:?}): {INSTALL}"
        );
        let protobuf = Path::new("/usr/share/gocode/src/github.com/golang/protobuf/go.mod");
        let grpc = Path::new("/usr/share/gocode/src/google.golang.org/grpc/go.mod");
        assert!(
            grpc.exists()
                && fs::read_to_string(protobuf)
                    .is_ok_and(|m| m.contains("google.golang.org/protobuf")),
            "the Go tests need Debian's gRPC and protobuf libraries, with \
             github.com/golang/protobuf 1.5 (not 1.3): {INSTALL}"
        );
        let caches = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go");
        let scratch = tempfile::tempdir().expect("temporary directory");
        // The proxy needs nothing beyond Go's standard library.
        let proxy = scratch.path().join("debianproxy");
        step(
            offline_go(
                &caches,
                "off",
                &repository().join("cmd/tests/go/debianproxy"),
            )
            .args(["build", "-o"])
            .arg(&proxy)
            .arg("."),
            "go build debianproxy",
        );
        let mut running =
            Running::spawn(Command::new(&proxy).stdout(Stdio::piped()), "debianproxy");
        let mut first_line = String::new();
        BufReader::new(running.child.stdout.take().expect("stdout is piped"))
            .read_line(&mut first_line)
            .expect("read debianproxy's first line");
        let proxy_url = first_line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("debianproxy said {first_line:?}"))
            .trim()
            .to_owned();
        Self {
            proxy_url,
            caches,
            scratch,
            _proxy: running,
        }
    }

    /// `go` in `dir`, with modules from the proxy.
    fn command(&self, dir: &Path) -> Command {
        offline_go(&self.caches, &self.proxy_url, dir)
    }

    /// `go` run in a module of the checkout, with `-modfile` pointing at a
    /// copy of its go.mod, so that go.sum is written outside the checkout.
    fn in_checkout(&self, dir: &Path, subcommand: &str) -> Command {
        let copy = self.scratch.path().join(format!(
            "{}.mod",
            dir.file_name().expect("a directory").to_string_lossy()
        ));
        fs::copy(dir.join("go.mod"), &copy).expect("copy go.mod");
        let mut go = self.command(dir);
        go.arg(subcommand)
            .arg(format!("-modfile={}", copy.display()));
        go
    }
}

#[test]
fn the_go_client_passes_its_tests() {
    let go = Go::start();
    let server = Server::start();
    let client = repository().join("clients/go");
    step(go.in_checkout(&client, "vet").arg("./..."), "go vet");
    let unformatted = step(
        Command::new("gofmt").arg("-l").arg(&client),
        "gofmt -l clients/go",
    );
    assert_eq!(unformatted, "", "gofmt would change these files");
    let output = step(
        go.in_checkout(&client, "test")
            .args(["-count=1", "-v", "./..."])
            .env("MINIKAFKA_TEST_HOST", &server.address),
        "the Go client's tests",
    );
    // Proof that the suite ran, not just compiled.
    assert!(
        output.contains("--- PASS: TestAThousandMessagesComeBackByteForByte"),
        "{output}"
    );
}

#[test]
fn an_original_go_client_works_against_the_compat_api() {
    let go = Go::start();
    let server = Server::start();
    let compat = repository().join("cmd/tests/go/compat");
    let program = go.scratch.path().join("compat");
    step(
        go.in_checkout(&compat, "build")
            .arg("-o")
            .arg(&program)
            .arg("."),
        "go build the compat program",
    );
    // "some topic": a name of the original project's own tests, which v1
    // refuses and the compat API maps.
    let finished = run(
        Command::new(&program).args(["-host", &server.address, "-topic", "some topic"]),
        "the compat program",
        None,
    );
    assert!(finished.status.success(), "{}", finished.stderr);
    assert_eq!(
        String::from_utf8_lossy(&finished.stdout),
        "produced \"hello\" as message 1\n\
         produced \"world\" as message 2\n\
         poll from 1: [hello world], new_read_from 3\n\
         poll from 3: [], new_read_from 3\n"
    );
}

/// A user's new project: `require` the client and `replace` it with the
/// checkout's clients/go; nothing is copied from the checkout.
struct UserProject {
    dir: tempfile::TempDir,
}

impl UserProject {
    /// The project, its main package the first program of docs/clients.md.
    fn create() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let client = repository().join("clients/go");
        fs::write(
            dir.path().join("go.mod"),
            format!(
                "module example.invalid/first-program\n\ngo 1.19\n\n\
                 require {MODULE} v0.0.0\n\n\
                 replace {MODULE} => {}\n",
                client.display()
            ),
        )
        .expect("write go.mod");
        fs::write(dir.path().join("main.go"), first_program()).expect("write main.go");
        Self { dir }
    }

    /// Builds `package` (a path in this project or in the client) as
    /// `name` in the project's directory.
    fn build(&self, go: &Go, package: &str, name: &str) -> PathBuf {
        let binary = self.dir.path().join(name);
        step(
            go.command(self.dir.path())
                .args(["build", "-o"])
                .arg(&binary)
                .arg(package),
            &format!("go build {package} in a new project"),
        );
        binary
    }
}

/// The Go program under "A first program" in docs/clients.md's Go section.
fn first_program() -> String {
    let docs = fs::read_to_string(repository().join("docs/clients.md")).expect("docs/clients.md");
    let go_section = docs
        .split_once("\n## Go")
        .expect("a Go section in docs/clients.md")
        .1;
    let program = go_section
        .split_once("```go\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a ```go block in the Go section")
        .0;
    assert!(program.starts_with("package main"), "{program}");
    program.to_owned()
}

#[test]
fn a_new_project_requires_the_client_by_path_and_runs_the_examples() {
    let go = Go::start();
    let server = Server::start();
    let project = UserProject::create();

    let first = project.build(&go, ".", "first-program");
    let finished = run(
        Command::new(&first).arg(&server.address),
        "the first program",
        None,
    );
    assert!(finished.status.success(), "{}", finished.stderr);
    assert_eq!(
        String::from_utf8_lossy(&finished.stdout),
        "stored at offset 1\n1: hello\nnext time, start at 2\n"
    );

    let producer = project.build(&go, &format!("{MODULE}/examples/producer"), "producer");
    let consumer = project.build(&go, &format!("{MODULE}/examples/consumer"), "consumer");
    let lines: Vec<String> = (1..=2500).map(|i| format!("line {i}")).collect();
    let produced = run(
        Command::new(&producer).args(["-host", &server.address, "-topic", "lines"]),
        "the producer example",
        Some((lines.join("\n") + "\n").into_bytes()),
    );
    assert!(produced.status.success(), "{}", produced.stderr);
    assert_eq!(
        produced.stderr,
        "producer: stored 2500 messages in 'lines' (offsets 1..2500)\n"
    );
    assert_eq!(
        consume(&consumer, &server, "lines", &["-follow=false"]),
        (Some(0), lines.join("\n") + "\n", String::new())
    );
    assert_eq!(
        consume(&consumer, &server, "lines", &["-from", "2499", "-max", "2"]),
        (Some(0), "line 2499\nline 2500\n".to_owned(), String::new())
    );

    assert_eq!(
        consume(&consumer, &server, "nothing", &["-follow=false"]),
        (
            Some(1),
            String::new(),
            "consumer: minikafka: NotFound: topic 'nothing' not found\n".to_owned()
        )
    );
}

/// The examples send a token (`-token` or `MINIKAFKA_TOKEN`) with unary
/// calls and with a subscription; without one the server refuses them.
#[test]
fn the_go_examples_send_a_token() {
    let go = Go::start();
    let project = UserProject::create();
    let producer = project.build(&go, &format!("{MODULE}/examples/producer"), "producer");
    let consumer = project.build(&go, &format!("{MODULE}/examples/consumer"), "consumer");
    let dir = tempfile::tempdir().expect("temporary directory");
    let auth = dir.path().join("auth.toml");
    fs::write(
        &auth,
        format!(
            "[[token]]\nname = \"go\"\nsha256 = \"{}\"\nproduce = [\"*\"]\nconsume = [\"*\"]\n",
            minikafka_server::auth::digest_hex("s3cret")
        ),
    )
    .expect("write the auth file");
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_AUTH_FILE", auth.to_str().expect("UTF-8 path")),
    ]);
    let produce = |args: &[&str]| {
        run(
            Command::new(&producer)
                .args(["-host", &server.address, "-topic", "guarded"])
                .args(args),
            "the producer example",
            Some(b"secret message\n".to_vec()),
        )
    };
    let refused = produce(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .starts_with("producer: minikafka: Unauthenticated: "),
        "{}",
        refused.stderr
    );
    let produced = produce(&["-token", "s3cret"]);
    assert_eq!(
        produced.stderr,
        "producer: stored 1 messages in 'guarded' (offsets 1..1)\n"
    );
    for args in [&["-follow=false"][..], &["-max", "1"][..]] {
        let finished = run(
            Command::new(&consumer)
                .args(["-host", &server.address, "-topic", "guarded"])
                .args(args)
                .env("MINIKAFKA_TOKEN", "s3cret"),
            "the consumer example with a token",
            None,
        );
        assert!(finished.status.success(), "{args:?}: {}", finished.stderr);
        assert_eq!(
            String::from_utf8_lossy(&finished.stdout),
            "secret message\n",
            "{args:?}"
        );
    }
}

/// Runs the consumer example on `topic` of `server`; how it exited, and
/// its standard output and error.
fn consume(
    consumer: &Path,
    server: &Server,
    topic: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let finished = run(
        Command::new(consumer)
            .args(["-host", &server.address, "-topic", topic])
            .args(args),
        "the consumer example",
        None,
    );
    (
        finished.status.code(),
        String::from_utf8_lossy(&finished.stdout).into_owned(),
        finished.stderr,
    )
}

/// A consumer behind retention is told what it missed; one that reaches
/// damage on disk stops, saying where reading can go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_examples_report_gaps_and_damage() {
    let go = Go::start();
    let project = UserProject::create();
    let consumer = project.build(&go, &format!("{MODULE}/examples/consumer"), "consumer");

    let expiring = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_RETENTIONTIME", "2s"),
        ("MINIKAFKA_SWEEP_INTERVAL", "100ms"),
    ]);
    let client = expiring.client().await;
    let producer = client.producer("fleeting");
    producer.send_batch(["1", "2", "3"]).await.expect("produce");
    wait_for_earliest(&client, "fleeting", 4).await;
    producer.send("4").await.expect("produce");
    assert_eq!(
        consume(
            &consumer,
            &expiring,
            "fleeting",
            &["-from", "2", "-follow=false"]
        ),
        (
            Some(0),
            "4\n".to_owned(),
            "consumer: gap: retention removed 2 unread messages (offsets 2..3)\n".to_owned()
        )
    );

    // Sixty messages, one per request, in segments of 1 KiB: the first
    // segment is sealed. Flip a byte of offset 3's payload in it.
    let data = tempfile::tempdir().expect("temporary directory");
    let root = data.path().to_str().expect("UTF-8 path");
    let file_store = [
        ("MINIKAFKA_BACKEND", "file"),
        ("MINIKAFKA_ROOT_DIR", root),
        ("MINIKAFKA_SEGMENT_BYTES", "1KiB"),
    ];
    let mut server = Server::start_with(&file_store);
    // Without a producer id, so every record has the plain layout and its
    // place in the segment is known.
    let producer = Producer::connect(&server.address, "damaged")
        .await
        .expect("connect a producer")
        .with_idempotence(false);
    for i in 1..=60 {
        producer
            .send(format!("message {i:02}"))
            .await
            .expect("produce");
    }
    server.crash();
    let logs = segment_files(&data.path().join("topics/damaged"));
    assert!(logs.len() >= 2, "a sealed segment: {logs:?}");
    let mut segment = fs::read(&logs[0]).expect("read the first segment");
    // A 16-byte header, then records of a 24-byte header and the payload.
    let payload_of_offset_3 = 16 + 2 * (24 + "message 01".len()) + 24;
    segment[payload_of_offset_3] ^= 0x20;
    fs::write(&logs[0], segment).expect("damage the first segment");

    let server = Server::start_with(&file_store);
    assert_eq!(
        consume(&consumer, &server, "damaged", &["-follow=false"]),
        (
            Some(1),
            "message 01\nmessage 02\n".to_owned(),
            "consumer: minikafka: DataLoss: topic 'damaged': offsets 3..=3 are damaged on disk \
             and cannot be read; the first good offset after them is 4\n\
             consumer: to go on past the damage, start again with -from 4\n"
                .to_owned()
        )
    );
    assert_eq!(
        consume(&consumer, &server, "damaged", &["-from", "4", "-max", "1"]),
        (Some(0), "message 04\n".to_owned(), String::new())
    );
}

/// The committed generated code is what Debian's protoc and plugins make
/// of proto/ with the commands in docs/clients.md.
#[test]
fn the_committed_go_code_is_generated_from_proto() {
    let out = tempfile::tempdir().expect("temporary directory");
    let generated = [
        (
            "proto/minikafka/v1/minikafka.proto",
            "minikafka/v1/minikafka.proto",
            MODULE,
            "minikafkav1",
            "clients/go",
        ),
        (
            "proto/protocol/minikafka.proto",
            "protocol/minikafka.proto",
            "example.invalid/minikafka/compat",
            "protocol",
            "cmd/tests/go/compat",
        ),
    ];
    for (file, import, module, package, committed) in generated {
        let mapping = format!("M{import}={module}/{package}");
        let found = Command::new("protoc")
            .current_dir(repository())
            .args(["-I", "proto"])
            .arg(format!("--go_out={}", out.path().display()))
            .args([
                "--go_opt",
                &format!("module={module}"),
                "--go_opt",
                &mapping,
            ])
            .arg(format!("--go-grpc_out={}", out.path().display()))
            .args([
                "--go-grpc_opt",
                &format!("module={module}"),
                "--go-grpc_opt",
                &mapping,
            ])
            .arg(file)
            .output();
        let output = found.unwrap_or_else(|e| panic!("cannot run protoc ({e}): {INSTALL}"));
        assert!(
            output.status.success(),
            "protoc {file} failed (are its Go plugins installed? {INSTALL}): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for name in ["minikafka.pb.go", "minikafka_grpc.pb.go"] {
            let fresh = fs::read_to_string(out.path().join(package).join(name)).expect("generated");
            let path = repository().join(committed).join(package).join(name);
            let kept = fs::read_to_string(&path).expect("committed");
            assert!(
                fresh == kept,
                "{} differs from what protoc generates from {file}: regenerate it (docs/clients.md)",
                path.display()
            );
        }
    }
}
