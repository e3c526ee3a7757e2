//! Clients in other languages, proved against a real `mkfk-server`: the
//! Python client (grpcio, code generated from `proto/` when the package is
//! built, installed into its `.venv`) and the Node client (@grpc/grpc-js,
//! loading `proto/` at run time) each run their own test suites here, so
//! the README's test command runs them too. `packaging.rs` installs each
//! client outside the repository, as its users do.
//!
//! Each suite also runs against a second server with tokens
//! (`MINIKAFKA_AUTH_FILE`): `MINIKAFKA_TEST_AUTH_HOST` is its address,
//! `MINIKAFKA_TEST_TOKEN` a token that may produce and consume any topic,
//! and `MINIKAFKA_TEST_ADMIN_TOKEN` an admin token.
//!
//! Each suite's dependencies are installed on first use from PyPI and the
//! npm registry (`clients/python/setup.sh`, `clients/node/setup.sh`), so a
//! fresh machine needs only `python3` (with venv) and `node` with `npm`.
//! Both scripts repair what a failed or interrupted run left behind; that
//! is tested here on copies of the scripts with inputs that install nothing
//! from the network.

mod common;

use std::process::Command;

use common::*;

/// The token that may produce and consume every topic on the auth server.
const CLIENT_TOKEN: &str = "client-secret";
/// The token that may administer every topic on the auth server.
const ADMIN_TOKEN: &str = "admin-secret";

/// The servers a client suite runs against: one open, one with tokens.
struct Servers {
    open: Server,
    with_tokens: Server,
    /// Holds the auth file for as long as the server runs.
    _auth_dir: tempfile::TempDir,
}

impl Servers {
    fn start() -> Self {
        let auth_dir = tempfile::tempdir().expect("temporary directory");
        let auth = auth_dir.path().join("auth.toml");
        let digest = minikafka_server::auth::digest_hex;
        std::fs::write(
            &auth,
            format!(
                "[[token]]\nname = \"client\"\nsha256 = \"{}\"\nproduce = [\"*\"]\nconsume = [\"*\"]\n\n\
                 [[token]]\nname = \"ops\"\nsha256 = \"{}\"\nadmin = true\n",
                digest(CLIENT_TOKEN),
                digest(ADMIN_TOKEN),
            ),
        )
        .expect("write the auth file");
        let with_tokens = Server::start_with(&[
            ("MINIKAFKA_BACKEND", "memory"),
            ("MINIKAFKA_AUTH_FILE", auth.to_str().expect("UTF-8 path")),
        ]);
        Servers {
            open: Server::start(),
            with_tokens,
            _auth_dir: auth_dir,
        }
    }

    /// Points a suite at both servers. MINIKAFKA_TOKEN is removed so that
    /// a call made without a token really is.
    fn environment<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("MINIKAFKA_TEST_HOST", &self.open.address)
            .env("MINIKAFKA_TEST_AUTH_HOST", &self.with_tokens.address)
            .env("MINIKAFKA_TEST_TOKEN", CLIENT_TOKEN)
            .env("MINIKAFKA_TEST_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("MINIKAFKA_TOKEN")
    }
}

#[test]
fn the_python_client_passes_its_tests() {
    let python = set_up_client("python");
    let servers = Servers::start();
    step(
        // Not `python -m pytest`, which would import the package from the
        // source tree instead of the one setup.sh installed.
        servers.environment(
            Command::new(python.join(".venv/bin/pytest"))
                .args(["-q", "-p", "no:cacheprovider", "tests"])
                .current_dir(&python),
        ),
        "the Python client's tests",
    );
}

#[test]
fn the_node_client_passes_its_tests() {
    let node = set_up_client("node");
    let servers = Servers::start();
    step(
        servers.environment(Command::new("npm").args(["test"]).current_dir(&node)),
        "the Node client's tests",
    );
}

/// A copy of `language`'s setup.sh in a temporary directory, beside
/// `files` (name, contents) that stand in for what it installs.
fn setup_copy(language: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::copy(
        clients_dir(language).join("setup.sh"),
        dir.path().join("setup.sh"),
    )
    .expect("copy setup.sh");
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).expect("write");
    }
    dir
}

/// A `.venv` that a failed `python3 -m venv` left (a Python, no pip) is
/// made again by the next run, not trusted.
#[test]
fn python_setup_remakes_a_half_made_venv() {
    let dir = setup_copy("python", &[("requirements.txt", "# nothing to install\n")]);
    let bin = dir.path().join(".venv/bin");
    std::fs::create_dir_all(&bin).expect("mkdir .venv/bin");
    std::os::unix::fs::symlink("/usr/bin/python3", bin.join("python")).expect("symlink");
    assert!(!bin.join("pip").exists());

    let setup = || {
        step(
            Command::new("bash").arg(dir.path().join("setup.sh")),
            "setup.sh",
        );
    };
    setup();
    assert!(
        bin.join("pip").exists(),
        "the venv was made again, with pip"
    );
    let marker = dir.path().join(".venv/installed-requirements.txt");
    assert_eq!(
        std::fs::read_to_string(&marker).expect("requirements marker"),
        "# nothing to install\n"
    );
    // A later run trusts the finished venv and keeps it.
    let kept = dir.path().join(".venv/kept");
    std::fs::write(&kept, "").expect("write");
    setup();
    assert!(kept.exists(), "a finished venv is kept");
}

/// A `node_modules` that an interrupted `npm ci` left is installed again
/// by the next run.
#[test]
fn node_setup_reinstalls_a_half_finished_node_modules() {
    let dir = setup_copy(
        "node",
        &[
            (
                "package.json",
                r#"{"name":"setup-test","version":"1.0.0","private":true}"#,
            ),
            (
                "package-lock.json",
                r#"{"name":"setup-test","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"setup-test","version":"1.0.0"}}}"#,
            ),
        ],
    );
    let modules = dir.path().join("node_modules");
    std::fs::create_dir_all(modules.join("half-installed")).expect("mkdir");

    step(
        Command::new("bash").arg(dir.path().join("setup.sh")),
        "setup.sh",
    );
    assert!(
        !modules.join("half-installed").exists(),
        "npm ci ran again and replaced the half-finished tree"
    );
    assert_eq!(
        std::fs::read(modules.join(".installed-package-lock.json")).expect("marker"),
        std::fs::read(dir.path().join("package-lock.json")).expect("lock")
    );
}
