use std::path::PathBuf;

use minikafka_backends::{Durability, Recovery};

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn defaults_match_the_documented_table() {
    let c = config(&[("PATH", "/bin")]).expect("defaults are valid");
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.listener.address, "127.0.0.1:9999".parse().expect("addr"));
    assert_eq!(c.listener.tls, None);
    assert_eq!(c.listener.keepalive_interval, Duration::from_secs(30));
    assert_eq!(c.listener.keepalive_timeout, Duration::from_secs(10));
    assert_eq!(
        c.retention,
        Retention {
            max_age: Some(Duration::from_secs(7 * 86_400)),
            sweep_interval: Duration::from_secs(60),
            producer_expiry: Some(Duration::from_secs(7 * 86_400)),
            group_retention: Some(Duration::from_secs(7 * 86_400)),
        }
    );
    assert_eq!(
        c.store,
        StoreConfig::File {
            root: PathBuf::from("./mkfk-data"),
            options: FileOptions {
                durability: Durability::Always,
                segment_bytes: 64 * 1024 * 1024,
                recovery: Recovery::Strict,
                ..FileOptions::default()
            },
        }
    );
    assert_eq!(
        c.limits,
        Limits {
            max_message_bytes: 1024 * 1024,
            max_request_bytes: 16 * 1024 * 1024,
            max_streams_per_connection: 1000,
            max_connections: 512,
            max_inflight_request_bytes: 64 * 1024 * 1024,
            max_key_bytes: 16 * 1024,
            max_headers: 64,
            max_header_bytes: 64 * 1024,
        }
    );
    assert!(c.auth.is_none());
    assert!(
        c.topics.auto_create,
        "existing clients create topics on first produce"
    );
}

#[test]
fn every_variable_is_read() {
    let c = config(&[
        ("MINIKAFKA_HOST", ":7000"),
        ("MINIKAFKA_RETENTIONTIME", "forever"),
        ("MINIKAFKA_BACKEND", "sqlite"),
        ("MINIKAFKA_ROOT_DIR", "/var/lib/mkfk"),
        ("MINIKAFKA_FSYNC", "250ms"),
        ("MINIKAFKA_SWEEP_INTERVAL", "5s"),
        ("MINIKAFKA_MAX_MESSAGE_BYTES", "64KiB"),
        ("MINIKAFKA_MAX_REQUEST_BYTES", "1048576"),
        ("MINIKAFKA_MAX_STREAMS_PER_CONNECTION", "20"),
        ("MINIKAFKA_MAX_CONNECTIONS", "50"),
        ("MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES", "2GiB"),
        ("MINIKAFKA_KEEPALIVE_INTERVAL", "1m"),
        ("MINIKAFKA_KEEPALIVE_TIMEOUT", "500ms"),
        ("MINIKAFKA_AUTO_CREATE_TOPICS", "false"),
        ("MINIKAFKA_MAX_KEY_BYTES", "1KiB"),
        ("MINIKAFKA_MAX_HEADERS", "3"),
        ("MINIKAFKA_MAX_HEADER_BYTES", "2KiB"),
        ("MINIKAFKA_MAX_PRODUCERS", "7"),
        ("MINIKAFKA_PRODUCER_EXPIRY", "1h"),
        ("MINIKAFKA_GROUP_RETENTION", "forever"),
    ])
    .expect("valid");
    assert!(!c.topics.auto_create);
    assert_eq!(c.listener.address, "0.0.0.0:7000".parse().expect("addr"));
    assert_eq!(
        c.retention,
        Retention {
            max_age: None,
            sweep_interval: Duration::from_secs(5),
            producer_expiry: Some(Duration::from_secs(3600)),
            group_retention: None,
        }
    );
    assert_eq!(
        c.store,
        StoreConfig::Sqlite {
            root: PathBuf::from("/var/lib/mkfk"),
            options: SqliteOptions {
                durability: Durability::Interval(Duration::from_millis(250)),
                max_producers: 7,
            },
        }
    );
    assert_eq!(
        c.limits,
        Limits {
            max_message_bytes: 65_536,
            max_request_bytes: 1_048_576,
            max_streams_per_connection: 20,
            max_connections: 50,
            max_inflight_request_bytes: 2 << 30,
            max_key_bytes: 1024,
            max_headers: 3,
            max_header_bytes: 2048,
        }
    );
    assert_eq!(c.listener.keepalive_interval, Duration::from_secs(60));
    assert_eq!(c.listener.keepalive_timeout, Duration::from_millis(500));
    let file = config(&[
        ("MINIKAFKA_SEGMENT_BYTES", "4KiB"),
        ("MINIKAFKA_RECOVERY", "truncate"),
    ])
    .expect("valid");
    let StoreConfig::File { options, .. } = file.store else {
        panic!("the file store: {:?}", file.store);
    };
    assert_eq!(
        (options.segment_bytes, options.recovery),
        (4096, Recovery::Truncate)
    );
    assert!(matches!(
        config(&[("MINIKAFKA_BACKEND", "memory")])
            .expect("valid")
            .store,
        StoreConfig::Memory { .. }
    ));
    let forever = config(&[("MINIKAFKA_RETENTIONTIME", "forever")]).expect("valid");
    assert_eq!(
        forever.retention.producer_expiry, None,
        "producers are remembered as long as messages by default"
    );
}

#[test]
fn every_declared_default_parses() {
    for variable in VARIABLES {
        if let WhenUnset::Value(default) = variable.default {
            (variable.check)(default)
                .unwrap_or_else(|e| panic!("{}'s default does not parse: {e}", variable.name));
        }
    }
}

/// Every variable refuses a value with one line naming it, the value and
/// what is wrong; the values tried are ones no variable accepts as they
/// are (a blank one stands for unset where a variable may be unset).
#[test]
fn every_variable_refuses_a_bad_value_with_one_line() {
    for variable in VARIABLES {
        let refused: Vec<ConfigError> = ["", "no such \u{1} thing"]
            .into_iter()
            .filter(|value| !(variable.default == WhenUnset::Off && value.is_empty()))
            .filter_map(|value| {
                config(&[(variable.name, value)])
                    .err()
                    .map(|error| (value, error))
            })
            .map(|(value, error)| {
                assert_eq!(error.variable, variable.name, "{error}");
                assert_eq!(error.value, value, "{error}");
                error
            })
            .collect();
        assert!(!refused.is_empty(), "{} refuses nothing", variable.name);
        for error in refused {
            let line = error.to_string();
            assert!(line.starts_with(&format!("{}=", variable.name)), "{line}");
            assert!(!line.contains('\n'), "one line: {line}");
            let said = match &error.problem {
                Problem::Expected(what) | Problem::Unusable(what) => what,
            };
            assert!(line.ends_with(said.as_str()) && !said.is_empty(), "{line}");
        }
    }
}

#[test]
fn every_variable_has_one_declaration_and_a_help_line() {
    let help = help_text();
    for (i, variable) in VARIABLES.iter().enumerate() {
        assert!(variable.name.starts_with(PREFIX), "{}", variable.name);
        assert!(
            VARIABLES[i + 1..].iter().all(|v| v.name != variable.name),
            "{} is declared twice",
            variable.name
        );
        let line = help
            .lines()
            .find(|line| line.split_whitespace().next() == Some(variable.name))
            .unwrap_or_else(|| panic!("no help line for {}:\n{help}", variable.name));
        assert!(line.contains(variable.help), "{line}");
        if let WhenUnset::Value(default) = variable.default {
            assert!(line.ends_with(&format!("[default: {default}]")), "{line}");
        }
    }
    for group in Group::ALL {
        assert!(help.contains(group.title()), "{help}");
    }
}

#[test]
fn sweep_interval_defaults_to_a_tenth_of_retention_within_bounds() {
    let secs = Duration::from_secs;
    assert_eq!(default_sweep_interval(Some(secs(30))), secs(3));
    assert_eq!(
        default_sweep_interval(Some(Duration::from_millis(200))),
        Duration::from_millis(100)
    );
    assert_eq!(default_sweep_interval(Some(secs(86_400))), secs(60));
    let c = config(&[("MINIKAFKA_RETENTIONTIME", "10s")]).expect("valid");
    assert_eq!(c.retention.sweep_interval, secs(1));
}

#[test]
fn a_bad_value_names_the_variable_the_value_and_what_is_expected() {
    let cases = [
        ("MINIKAFKA_HOST", "nonsense", "host:port"),
        ("MINIKAFKA_HOST", "127.0.0.1:99999", "host:port"),
        ("MINIKAFKA_RETENTIONTIME", "7 dayz", "'forever'"),
        ("MINIKAFKA_RETENTIONTIME", "0s", "positive duration"),
        ("MINIKAFKA_BACKEND", "postgres", "file, sqlite, memory"),
        ("MINIKAFKA_ROOT_DIR", "", "directory"),
        ("MINIKAFKA_FSYNC", "sometimes", "always, never"),
        ("MINIKAFKA_SWEEP_INTERVAL", "-1s", "positive duration"),
        ("MINIKAFKA_SWEEP_INTERVAL", "", "positive duration"),
        ("MINIKAFKA_MAX_MESSAGE_BYTES", "big", "1MiB"),
        ("MINIKAFKA_MAX_REQUEST_BYTES", "0", "above 0"),
        ("MINIKAFKA_MAX_REQUEST_BYTES", "2GiB", "at most 1GiB"),
        ("MINIKAFKA_SEGMENT_BYTES", "100", "at least 1KiB"),
        ("MINIKAFKA_RECOVERY", "repair", "strict"),
        ("MINIKAFKA_MAX_STREAMS_PER_CONNECTION", "0", "at least 1"),
        (
            "MINIKAFKA_MAX_STREAMS_PER_CONNECTION",
            "16001",
            "at most 16000",
        ),
        ("MINIKAFKA_MAX_CONNECTIONS", "0", "at least 1"),
        (
            "MINIKAFKA_MAX_CONNECTIONS",
            "-5",
            "whole number of connections",
        ),
        ("MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES", "0", "above 0"),
        ("MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES", "lots", "64MiB"),
        ("MINIKAFKA_KEEPALIVE_INTERVAL", "0s", "positive duration"),
        ("MINIKAFKA_KEEPALIVE_TIMEOUT", "soon", "positive duration"),
        (
            "MINIKAFKA_TLS_CERT",
            "/nonexistent/cert.pem",
            "cannot read it",
        ),
        (
            "MINIKAFKA_AUTH_FILE",
            "/nonexistent/auth.toml",
            "cannot read it",
        ),
    ];
    for (variable, value, expected) in cases {
        let err = config(&[(variable, value)]).expect_err(variable);
        assert_eq!(err.variable, variable);
        assert_eq!(err.value, value);
        let line = err.to_string();
        assert!(line.contains(variable) && line.contains(expected), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }
}

#[test]
fn a_message_limit_above_the_request_limit_is_refused() {
    let err = config(&[
        ("MINIKAFKA_MAX_MESSAGE_BYTES", "32MiB"),
        ("MINIKAFKA_MAX_REQUEST_BYTES", "16MiB"),
    ])
    .expect_err("message larger than request");
    assert_eq!(err.variable, "MINIKAFKA_MAX_MESSAGE_BYTES");
    assert!(
        err.to_string().contains("MINIKAFKA_MAX_REQUEST_BYTES"),
        "{err}"
    );
}

#[test]
fn tls_needs_a_certificate_and_its_key_together_and_reads_them_at_start_up() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_owned();
    std::fs::write(path("c.pem"), certificate.pem()).expect("write");
    std::fs::write(path("k.pem"), key.serialize_pem()).expect("write");
    let (c, k) = (path("c.pem"), path("k.pem"));

    let tls = config(&[("MINIKAFKA_TLS_CERT", &c), ("MINIKAFKA_TLS_KEY", &k)])
        .expect("valid")
        .listener
        .tls
        .expect("TLS");
    assert_eq!(tls.certificate.0, certificate.pem().into_bytes());
    assert_eq!(tls.key.0, key.serialize_pem().into_bytes());
    assert_eq!(tls.client_ca, None);
    let blank = config(&[("MINIKAFKA_TLS_CERT", " "), ("MINIKAFKA_TLS_KEY", "")]);
    assert_eq!(blank.expect("blank is unset").listener.tls, None);
    let err = config(&[("MINIKAFKA_TLS_CERT", &c)]).expect_err("no key");
    assert_eq!(err.variable, "MINIKAFKA_TLS_KEY");
    let err = config(&[("MINIKAFKA_TLS_KEY", &k)]).expect_err("no cert");
    assert_eq!(err.variable, "MINIKAFKA_TLS_CERT");
    let err = config(&[("MINIKAFKA_TLS_CLIENT_CA", &c)]).expect_err("no server identity");
    assert_eq!(
        (err.variable.as_str(), err.value.as_str()),
        ("MINIKAFKA_TLS_CLIENT_CA", c.as_str())
    );
}

#[test]
fn a_malformed_auth_file_is_refused_with_the_line_at_fault() {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(file.path(), "[[token]]\nname = \"x\"\nsha256 = oops\n").expect("write");
    let path = file.path().to_str().expect("UTF-8");
    let err = config(&[("MINIKAFKA_AUTH_FILE", path)]).expect_err("malformed");
    let line = err.to_string();
    assert!(
        line.starts_with(&format!("MINIKAFKA_AUTH_FILE={path:?}: ")) && line.contains("line 3"),
        "{line}"
    );
}

#[test]
fn misspelt_variables_are_found() {
    let vars = [
        ("MINIKAFKA_RETENTION_TIME", "1h"),
        ("MINIKAFKA_HOST", ":1"),
        ("MINIKAFKA_TOKEN", "t"),
        ("HOME", "/root"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(
        unknown_variables(vars),
        vec!["MINIKAFKA_RETENTION_TIME".to_owned()]
    );
}

#[test]
fn a_message_limit_whose_poll_reply_outgrows_default_clients_is_flagged() {
    let limits = |size: &str| {
        config(&[("MINIKAFKA_MAX_MESSAGE_BYTES", size)])
            .expect("valid")
            .limits
    };
    assert!(!limits("1MiB").outgrow_default_clients());
    // 4 MiB itself does not fit: the reply's framing takes it over.
    assert!(limits("4MiB").outgrow_default_clients());
    let largest = LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ.to_string();
    let over = (LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ + 1).to_string();
    assert!(!limits(&largest).outgrow_default_clients());
    assert!(limits(&over).outgrow_default_clients());
}

/// docs/operations.md lists every variable under its group's heading,
/// with its default.
#[test]
fn the_documented_table_lists_every_variable_in_its_group_with_its_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");
    let doc = std::fs::read_to_string(path).expect("read docs/operations.md");
    for variable in VARIABLES {
        let heading = format!("**{}**", variable.group.title());
        let (_, section) = doc
            .split_once(&heading)
            .unwrap_or_else(|| panic!("no {heading} in docs/operations.md"));
        let section = section.split("\n**").next().unwrap_or_default();
        let row = section
            .lines()
            .find(|line| {
                line.starts_with("| ")
                    && line
                        .split(" | ")
                        .next()
                        .is_some_and(|names| names.contains(&format!("`{}`", variable.name)))
            })
            .unwrap_or_else(|| panic!("{} is not under {heading}", variable.name));
        if let WhenUnset::Value(default) = variable.default {
            assert!(row.contains(&format!("| `{default}` |")), "{row}");
        }
    }
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused_at_start_up() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let certificate = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&rcgen::KeyPair::generate().expect("key"))
        .expect("certificate");
    let other_key = rcgen::KeyPair::generate().expect("key");
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_owned();
    std::fs::write(path("c.pem"), certificate.pem()).expect("write");
    std::fs::write(path("k.pem"), other_key.serialize_pem()).expect("write");
    let err = config(&[
        ("MINIKAFKA_TLS_CERT", &path("c.pem")),
        ("MINIKAFKA_TLS_KEY", &path("k.pem")),
    ])
    .expect_err("a key of another certificate");
    assert_eq!(
        (err.variable.as_str(), err.value.as_str()),
        ("MINIKAFKA_TLS_KEY", path("k.pem").as_str())
    );
    let line = err.to_string();
    assert!(
        line.contains("cannot serve TLS together") && line.contains("KeyMismatch"),
        "{line}"
    );
}
