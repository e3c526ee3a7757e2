//! Each client installed as its users install it, outside the repository:
//! from what its packaging step made (the Python wheel, the npm tarball,
//! the Rust crate by path) into a fresh project in a temporary directory,
//! running a first program there against a real `mkfk-server` and
//! checking exactly what it prints.
//!
//! Downloads come from PyPI and npm only (the clients' dependencies, and
//! the Python build requirements); the Rust project reuses the workspace's
//! `Cargo.lock` and target directory, so nothing is fetched or rebuilt that
//! the workspace's own build already has.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The repository's root directory.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository's directory")
}

/// A temporary directory outside the repository (the system's).
fn outside() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert!(
        !dir.path().starts_with(repository()),
        "{} is inside the repository",
        dir.path().display()
    );
    dir
}

/// The only file in `dir` whose name ends with `suffix`.
fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one *{suffix} in {}: {found:?}",
        dir.display()
    );
    found[0].clone()
}

/// A first program for the installed Python package: the blocking API,
/// its errors, and the asyncio API.
const PYTHON_PROGRAM: &str = r#"
import asyncio
import sys
from importlib.resources import files

from minikafka_client import Consumer, MiniKafkaError, Producer
from minikafka_client import aio

host = sys.argv[1]
with Producer(host, "greetings") as producer:
    print("stored", producer.send_batch([b"hello", b"world"]))
with Consumer(host, "greetings", start="earliest") as consumer:
    for message in consumer.poll().messages:
        print(message.offset, message.payload.decode())
    print("position", consumer.position)
try:
    Consumer(host, "no-such-topic").poll()
except MiniKafkaError as error:
    print("error", error.code.name)


async def main() -> None:
    async with aio.Producer(host, "greetings") as producer:
        print("async stored", await producer.send(b"again"))
    async with aio.Consumer(host, "greetings", start=2) as consumer:
        result = await consumer.poll(wait=5)
        print("async", [(m.offset, m.payload.decode()) for m in result.messages])
    async with aio.Consumer(host, "greetings", start="earliest") as consumer:
        async for message in consumer.subscribe():
            print("async subscribed", message.offset, message.payload.decode())
            break


asyncio.run(main())
print("typed", files("minikafka_client").joinpath("py.typed").is_file())
"#;

#[test]
fn the_python_wheel_installs_and_runs_outside_the_repository() {
    let python = set_up_client("python");
    let work = outside();
    let dist = work.path().join("dist");
    // An sdist, then a wheel built from that sdist (as `python -m build`
    // does), each in an isolated environment with the declared build
    // requirements: the sdist must carry the .proto files.
    step(
        Command::new(python.join(".venv/bin/python"))
            .args(["-m", "build", "--outdir"])
            .arg(&dist)
            .arg(&python),
        "python -m build",
    );
    only_file(&dist, ".tar.gz");
    let wheel = only_file(&dist, "-py3-none-any.whl");

    let venv = work.path().join("venv");
    step(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    step(
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .arg(&wheel),
        "pip install the wheel",
    );
    let app = work.path().join("app");
    std::fs::create_dir(&app).expect("mkdir app");
    std::fs::write(app.join("first.py"), PYTHON_PROGRAM).expect("write first.py");

    let server = Server::start();
    let output = step(
        Command::new(venv.join("bin/python"))
            .arg("first.py")
            .arg(&server.address)
            .current_dir(&app),
        "the first Python program",
    );
    assert_eq!(
        output,
        "stored (1, 2)\n\
         1 hello\n\
         2 world\n\
         position 3\n\
         error NOT_FOUND\n\
         async stored 3\n\
         async [(2, 'world'), (3, 'again')]\n\
         async subscribed 1 hello\n\
         typed True\n",
    );
}

/// A first program for the installed Node package, as an ES module.
const NODE_ESM_PROGRAM: &str = r#"
import { Consumer, Producer, status } from 'minikafka-client';

const host = process.argv[2];
const producer = new Producer(host, 'greetings');
const { first, last } = await producer.sendBatch(['hello', 'world']);
console.log(`stored ${first}..${last}`);
const consumer = new Consumer(host, 'greetings', { start: 'earliest' });
for (const message of (await consumer.poll()).messages) {
  console.log(`${message.offset} ${message.payload}`);
}
console.log(`position ${consumer.position}`);
try {
  await new Consumer(host, 'no-such-topic').poll();
} catch (error) {
  console.log(`error ${error.code === status.NOT_FOUND ? 'NOT_FOUND' : error.code}`);
}
producer.close();
consumer.close();
"#;

/// The same package through CommonJS `require`.
const NODE_CJS_PROGRAM: &str = r#"
const { Consumer, Producer } = require('minikafka-client');

(async () => {
  const host = process.argv[2];
  const producer = new Producer(host, 'greetings');
  console.log(`stored ${await producer.send('again')}`);
  const consumer = new Consumer(host, 'greetings', { start: 3n });
  for (const message of (await consumer.poll()).messages) {
    console.log(`${message.offset} ${message.payload}`);
  }
  producer.close();
  consumer.close();
})();
"#;

#[test]
fn the_npm_tarball_installs_and_runs_outside_the_repository() {
    let node = clients_dir("node");
    let work = outside();
    let packed = work.path().join("packed");
    std::fs::create_dir(&packed).expect("mkdir packed");
    step(
        Command::new("npm")
            .args(["pack", "--pack-destination"])
            .arg(&packed)
            .current_dir(&node),
        "npm pack",
    );
    let tarball = only_file(&packed, ".tgz");
    assert!(
        !node.join("proto").exists(),
        "postpack removes the packed copy of the .proto files"
    );

    let app = work.path().join("app");
    std::fs::create_dir(&app).expect("mkdir app");
    step(
        Command::new("npm").args(["init", "-y"]).current_dir(&app),
        "npm init",
    );
    step(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .arg(&tarball)
            .current_dir(&app),
        "npm install the tarball",
    );
    let installed = app.join("node_modules/minikafka-client");
    for file in ["src/index.d.ts", "proto/minikafka/v1/minikafka.proto"] {
        assert!(installed.join(file).is_file(), "the package holds {file}");
    }
    std::fs::write(app.join("first.mjs"), NODE_ESM_PROGRAM).expect("write first.mjs");
    std::fs::write(app.join("first.cjs"), NODE_CJS_PROGRAM).expect("write first.cjs");

    let server = Server::start();
    let run = |program: &str| {
        step(
            Command::new("node")
                .arg(program)
                .arg(&server.address)
                .current_dir(&app),
            program,
        )
    };
    assert_eq!(
        run("first.mjs"),
        "stored 1..2\n1 hello\n2 world\nposition 3\nerror NOT_FOUND\n"
    );
    assert_eq!(run("first.cjs"), "stored 3\n3 again\n");
}

/// The README's dependency line and first program, in a fresh project.
#[test]
fn the_rust_crate_builds_and_runs_by_path_outside_the_repository() {
    let repository = repository();
    let readme = std::fs::read_to_string(repository.join("client/README.md")).expect("README");
    let program = rust_block_after(&readme, "## A first program");
    let work = outside();
    let app = work.path().join("first-program");
    std::fs::create_dir_all(app.join("src")).expect("mkdir src");
    let client = repository.join("client");
    std::fs::write(
        app.join("Cargo.toml"),
        format!(
            "[package]\nname = \"first-program\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nminikafka-client = {{ path = {:?} }}\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
            client.display().to_string()
        ),
    )
    .expect("write Cargo.toml");
    // The workspace's lock and target directory: the versions it already
    // built, so only what differs is compiled.
    std::fs::copy(repository.join("Cargo.lock"), app.join("Cargo.lock")).expect("copy Cargo.lock");
    let server = Server::start();
    std::fs::write(
        app.join("src/main.rs"),
        program.replace("127.0.0.1:9999", &server.address),
    )
    .expect("write main.rs");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let mut cargo = Command::new(env!("CARGO"));
    // What `cargo test` sets for the tests it runs is no business of this
    // build; left in, it changes the fingerprints of what was built already.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" {
            cargo.env_remove(&*name);
        }
    }
    let started = std::time::Instant::now();
    let output = step(
        cargo
            .args(["run", "--quiet"])
            .current_dir(&app)
            .env("CARGO_TARGET_DIR", target),
        "cargo run in the fresh project",
    );
    eprintln!(
        "the fresh Rust project built and ran in {:?}",
        started.elapsed()
    );
    assert_eq!(output, "stored offsets 1..=2\n1 one\n2 two\nnext: 3\n");
}

/// The first ```rust block after `heading` in `markdown`.
fn rust_block_after<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let (_, after) = markdown
        .split_once(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let (_, block) = after.split_once("```rust\n").expect("a ```rust block");
    block.split_once("```").expect("the block's end").0
}
