//! How `mkfk-server` stops at start-up, as a real process: each failure is
//! one line on standard error that says each cause once and what is wrong,
//! with exit code 2 for configuration and 1 for a store that cannot be
//! opened. And the start-up warning about messages too large for gRPC
//! clients' default receive limit, on both sides of its threshold.

mod common;

use std::path::Path;

use common::*;
use minikafka_server::service::reading::LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ;

/// Runs `mkfk-server` with `env` on a free port until it exits (it is
/// expected to fail at start-up).
fn failed_start(env: &[(&str, &str)]) -> Finished {
    let mut server = command(SERVER);
    server
        .env("MINIKAFKA_HOST", "127.0.0.1:0")
        .envs(env.iter().copied());
    run(&mut server, "mkfk-server", None)
}

/// The only line on standard error.
fn only_line(finished: &Finished) -> &str {
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one line:\n{}", finished.stderr);
    lines[0]
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn a_data_directory_whose_topics_is_a_file_stops_the_server_with_one_line() {
    let root = tempfile::tempdir().expect("temporary directory");
    std::fs::write(root.path().join("topics"), b"not a directory").expect("write");
    let root = path_str(root.path());
    let failed = failed_start(&[("MINIKAFKA_ROOT_DIR", root)]);
    assert_eq!(failed.status.code(), Some(1), "{}", failed.stderr);
    assert_eq!(
        only_line(&failed),
        format!(
            "mkfk-server: cannot open the file store in {root}: creating {root}/topics: {}",
            std::io::Error::from_raw_os_error(17)
        )
    );
}

#[test]
fn a_second_server_on_a_directory_in_use_says_another_server_has_it() {
    let root = tempfile::tempdir().expect("temporary directory");
    let root = path_str(root.path());
    let _first = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "sqlite"),
        ("MINIKAFKA_ROOT_DIR", root),
    ]);
    let second = failed_start(&[
        ("MINIKAFKA_BACKEND", "sqlite"),
        ("MINIKAFKA_ROOT_DIR", root),
    ]);
    assert_eq!(second.status.code(), Some(1), "{}", second.stderr);
    assert_eq!(
        only_line(&second),
        format!(
            "mkfk-server: cannot open the sqlite store in {root}: {root} is in use by another minikafka server (it holds {root}/.lock)"
        )
    );
}

#[test]
fn a_ca_certificate_as_the_servers_own_stops_start_up_saying_what_to_do() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "365",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "self.key",
            "-out",
            "self.pem",
        ])
        .current_dir(dir.path())
        .output()
        .expect("run openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let cert = path_str(&dir.path().join("self.pem")).to_owned();
    let key = path_str(&dir.path().join("self.key")).to_owned();
    let failed = failed_start(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_TLS_CERT", &cert),
        ("MINIKAFKA_TLS_KEY", &key),
    ]);
    assert_eq!(failed.status.code(), Some(2), "{}", failed.stderr);
    assert_eq!(
        only_line(&failed),
        format!(
            "mkfk-server: MINIKAFKA_TLS_CERT={cert:?}: its certificate is a CA certificate \
             (basicConstraints CA:TRUE, as `openssl req -x509` makes), which clients refuse as a \
             server's own; make a CA and a server certificate signed by it (docs/operations.md, \
             \"TLS\"), set MINIKAFKA_TLS_CERT to the server certificate, and give clients the CA"
        )
    );
}

/// Whether the server warned, before listening, that clients with the
/// default receive limit cannot read its largest messages.
fn warns_about(max_message_bytes: &str) -> bool {
    let server = Server::start_with(&[
        ("MINIKAFKA_BACKEND", "memory"),
        ("MINIKAFKA_MAX_MESSAGE_BYTES", max_message_bytes),
    ]);
    let log = server.log.text();
    let listening = log.find("listening on").expect("the server is listening");
    log[..listening].contains("above 4 MiB")
}

#[test]
fn the_large_message_warning_allows_for_the_poll_replys_framing() {
    assert!(
        warns_about("4MiB"),
        "4 MiB itself cannot be read by default"
    );
    assert!(warns_about(
        &(LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ + 1).to_string()
    ));
    assert!(!warns_about(
        &LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ.to_string()
    ));
    assert!(!warns_about("1MiB"));
}

/// The server raises its soft open-file limit to the hard one and says the
/// limit in force in its "listening" line.
#[test]
fn the_listening_line_says_the_open_file_limit_raised_to_the_hard_one() {
    let server = Server::start();
    let line = server
        .log
        .wait_for_line("listening on ")
        .expect("the listening line");
    let limit = line
        .split_once("open_files=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no open_files in {line:?}"));
    let hard = std::process::Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .expect("run ulimit -Hn");
    let hard = String::from_utf8_lossy(&hard.stdout).trim().to_owned();
    if hard != "unlimited" {
        assert_eq!(limit, hard, "{line}");
    }
}

/// `MINIKAFKA_LOG_FORMAT=json`: every line the server writes, from the
/// first, is one JSON object with a timestamp, a level and a message; a
/// bad value stops start-up with one plain line naming the variable.
#[test]
fn json_logs_are_one_object_per_line() {
    let mut server = command(SERVER);
    server
        .env("MINIKAFKA_HOST", "127.0.0.1:0")
        .env("MINIKAFKA_BACKEND", "memory")
        .env("MINIKAFKA_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped());
    let mut process = Running::spawn(&mut server, "mkfk-server");
    let log = process.stderr();
    log.wait_for_line("listening on ")
        .unwrap_or_else(|| panic!("no 'listening on' line:\n{}", log.text()));
    process.child.kill().expect("stop the server");
    process.wait();
    let text = log.text();
    let mut listening = false;
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        let message = event["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{line}"));
        listening |= message.starts_with("listening on 127.0.0.1:");
    }
    assert!(listening, "{text}");

    let failed = failed_start(&[("MINIKAFKA_LOG_FORMAT", "xml")]);
    assert_eq!(failed.status.code(), Some(2));
    assert_eq!(
        only_line(&failed),
        "mkfk-server: MINIKAFKA_LOG_FORMAT=\"xml\" is not valid: expected text or json"
    );
}
