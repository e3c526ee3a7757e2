//! Process tests of `mkfk-bench`: each runs the real binary against a real
//! `mkfk-server` (memory store) on a loopback port, with small numbers, and
//! checks what it counted and how it exited. No figure is asserted beyond
//! being positive and ordered: timings depend on the machine.

mod common;

use common::*;
use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_mkfk-bench");

/// Runs `mkfk-bench --host <server> <args>` to its end.
fn bench(server: &Server, args: &[&str]) -> Finished {
    let mut bench = command(BENCH);
    bench.args(["--host", &server.address]).args(args);
    run(&mut bench, "mkfk-bench", None)
}

/// Runs it with `--json`, checks that it succeeded and that standard output
/// is one JSON object and nothing else, and returns that object.
fn bench_json(server: &Server, args: &[&str]) -> Value {
    let finished = bench(server, &[args, &["--json"]].concat());
    assert!(
        finished.status.success(),
        "{:?}; stderr:\n{}",
        finished.status,
        finished.stderr
    );
    let stdout = String::from_utf8(finished.stdout).expect("UTF-8 output");
    assert_eq!(stdout.lines().count(), 1, "one line of JSON:\n{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

fn number(report: &Value, path: &str) -> f64 {
    report
        .pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {path} in {report}"))
}

/// Rates positive, percentiles ordered, one sample per call or message.
fn check_figures(part: &Value, latency: &str, samples: f64) {
    assert!(number(part, "/messages_per_sec") > 0.0, "{part}");
    assert!(number(part, "/mb_per_sec") > 0.0, "{part}");
    assert!(number(part, "/seconds") > 0.0, "{part}");
    let at = |p: &str| number(part, &format!("/{latency}/{p}"));
    assert_eq!(at("count"), samples, "{part}");
    assert!(at("p50") <= at("p90"), "{part}");
    assert!(at("p90") <= at("p99"), "{part}");
    assert!(at("p99") <= at("p99_9"), "{part}");
    assert!(at("p99_9") <= at("max"), "{part}");
    assert!(at("max") > 0.0, "{part}");
}

#[test]
fn producers_with_shared_tasks_and_consumers_each_count_every_message() {
    let server = Server::start();
    let report = bench_json(
        &server,
        &[
            "--topic",
            "bench1",
            "--messages",
            "2000",
            "--producers",
            "2",
            "--tasks",
            "4",
            "--consumers",
            "2",
            "--size",
            "64",
            "--threads",
            "3",
        ],
    );
    let produce = &report["produce"];
    assert_eq!(number(produce, "/messages"), 2000.0, "{report}");
    assert_eq!(number(produce, "/bytes"), 2000.0 * 64.0, "{report}");
    assert_eq!(number(produce, "/calls"), 2000.0, "one send per message");
    check_figures(produce, "ack_latency_us", 2000.0);

    let consume = &report["consume"];
    assert_eq!(number(consume, "/messages"), 4000.0, "{report}");
    check_figures(consume, "latency_us", 4000.0);
    let per_consumer = consume["per_consumer"].as_array().expect("per_consumer");
    assert_eq!(per_consumer.len(), 2, "{report}");
    for consumer in per_consumer {
        assert_eq!(number(consumer, "/messages"), 2000.0, "{report}");
        assert!(number(consumer, "/messages_per_sec") > 0.0, "{report}");
    }
    assert_eq!(number(&report, "/config/producers"), 2.0);
    assert_eq!(number(&report, "/config/tasks"), 4.0);
    assert_eq!(
        number(&report, "/config/threads"),
        3.0,
        "the runtime's own count"
    );
}

#[test]
fn batches_go_out_in_send_batch_calls_and_the_report_is_readable() {
    let server = Server::start();
    let args = ["--topic", "bench2", "--messages", "2050", "--batch", "100"];
    let report = bench_json(&server, &[&args[..], &["--consumers", "1"]].concat());
    assert_eq!(number(&report, "/produce/messages"), 2050.0, "{report}");
    assert_eq!(
        number(&report, "/produce/calls"),
        21.0,
        "20 full batches and one of 50: {report}"
    );
    check_figures(&report["produce"], "ack_latency_us", 21.0);
    assert_eq!(number(&report, "/consume/messages"), 2050.0, "{report}");
    check_figures(&report["consume"], "latency_us", 2050.0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(
        number(&report, "/config/threads"),
        2.min(cpus) as f64,
        "one thread per connection, up to one per CPU"
    );

    // Without --json: the human report, on standard output.
    let finished = bench(&server, &args);
    assert!(finished.status.success(), "{}", finished.stderr);
    let stdout = String::from_utf8(finished.stdout).expect("UTF-8 output");
    for needle in [
        "produced: 2,050 messages",
        "21 send_batch calls",
        "no consumers, 1 client thread\n", // one per connection by default
        "acknowledgement latency (µs): p50 ",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("consumed"), "no consumers:\n{stdout}");
}

#[test]
fn a_duration_and_a_rate_bound_the_run() {
    let server = Server::start();
    let report = bench_json(
        &server,
        &[
            "--topic",
            "bench3",
            "--duration",
            "300ms",
            "--rate",
            "1000",
            "--tasks",
            "2",
            "--consumers",
            "1",
            "--size",
            "8",
        ],
    );
    let produced = number(&report, "/produce/messages");
    // 1,000/s for 0.3 s: messages 0..300 are due within it, and no more.
    assert!(produced > 0.0 && produced <= 300.0, "{report}");
    assert_eq!(number(&report, "/consume/messages"), produced, "{report}");
    assert_eq!(number(&report, "/config/duration_seconds"), 0.3);
    assert!(report["config"]["messages"].is_null(), "{report}");
}

#[test]
fn an_invalid_topic_fails_naming_the_servers_error() {
    let server = Server::start();
    for consumers in ["0", "1"] {
        let finished = bench(
            &server,
            &[
                "--topic",
                "a/b",
                "--messages",
                "10",
                "--consumers",
                consumers,
            ],
        );
        assert!(!finished.status.success(), "{:?}", finished.status);
        assert!(finished.stdout.is_empty(), "no report on failure");
        assert!(
            finished.stderr.contains("mkfk-bench: ")
                && finished.stderr.contains("'a/b'")
                && finished.stderr.contains("invalid topic"),
            "{}",
            finished.stderr
        );
    }
}

#[test]
fn a_payload_too_large_for_the_server_fails_the_run() {
    let server = Server::start();
    let size = (ONE_MIB + 1).to_string();
    let finished = bench(
        &server,
        &["--topic", "bench4", "--messages", "3", "--size", &size],
    );
    assert!(!finished.status.success(), "{:?}", finished.status);
    assert!(finished.stdout.is_empty(), "no report on failure");
    assert!(
        finished.stderr.contains("mkfk-bench: "),
        "{}",
        finished.stderr
    );
}

#[test]
fn consumers_need_payloads_that_can_carry_the_send_time() {
    let finished = run(
        command(BENCH).args(["--topic", "t", "--consumers", "1", "--size", "4"]),
        "mkfk-bench",
        None,
    );
    assert!(!finished.status.success());
    assert!(
        finished.stderr.contains("--size must be at least 8"),
        "{}",
        finished.stderr
    );
}

#[test]
fn zero_threads_is_refused_naming_the_flag() {
    let finished = run(
        command(BENCH).args(["--topic", "t", "--threads", "0"]),
        "mkfk-bench",
        None,
    );
    assert!(!finished.status.success());
    assert!(finished.stderr.contains("--threads"), "{}", finished.stderr);
}

#[test]
fn no_server_is_an_error_naming_the_address() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let host = format!("127.0.0.1:{port}");
    let finished = run(
        command(BENCH).args(["--host", &host, "--topic", "t", "--messages", "1"]),
        "mkfk-bench",
        None,
    );
    assert!(!finished.status.success());
    assert!(
        finished.stderr.contains("cannot connect") && finished.stderr.contains(&host),
        "{}",
        finished.stderr
    );
}
