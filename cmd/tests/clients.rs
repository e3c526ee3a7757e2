//! Clients in other languages, proved against a real `mkfk-server`: the
//! Python client (grpcio, code generated from `proto/`) and the Node client
//! (@grpc/grpc-js, loading `proto/` at run time) each run their own test
//! suites here, so the README's test command runs them too.
//!
//! Each suite's dependencies are installed on first use from PyPI and the
//! npm registry (`clients/python/setup.sh`, `npm ci`), so a fresh machine
//! needs only `python3` and `node`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn clients_dir(language: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("clients")
        .join(language)
}

#[test]
fn the_python_client_passes_its_tests() {
    let python = clients_dir("python");
    step(
        Command::new("bash").arg(python.join("setup.sh")),
        "clients/python/setup.sh",
    );
    let server = Server::start();
    step(
        Command::new(python.join(".venv/bin/python"))
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
            .current_dir(&python)
            .env("MINIKAFKA_TEST_HOST", &server.address),
        "the Python client's tests",
    );
}

#[test]
fn the_node_client_passes_its_tests() {
    let node = clients_dir("node");
    if !node.join("node_modules").exists() {
        step(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&node),
            "npm ci",
        );
    }
    let server = Server::start();
    step(
        Command::new("npm")
            .args(["test"])
            .current_dir(&node)
            .env("MINIKAFKA_TEST_HOST", &server.address),
        "the Node client's tests",
    );
}
