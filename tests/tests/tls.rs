//! TLS and mutual TLS: a server configured with MINIKAFKA_TLS_* files
//! serves only TLS, clients that trust its CA get through, plain-text
//! clients do not, and with a client CA only clients presenting a
//! certificate it signed are served. Certificates are made here, at test
//! time, with rcgen, and with the openssl recipe of docs/operations.md,
//! run as it stands there; a certificate clients would refuse stops
//! start-up.

use std::path::{Path, PathBuf};
use std::process::Command;

use minikafka_client::{Client, TlsOptions};
use minikafka_server::{Config, ConfigError};
use minikafka_tests::TestServer;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A CA, a server certificate for 127.0.0.1 and a client certificate it
/// signed, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: String,
    client: (String, String),
}

impl Pki {
    fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA");
        let issue = |names: Vec<String>| {
            let key = KeyPair::generate().expect("key");
            let cert = CertificateParams::new(names)
                .expect("params")
                .signed_by(&key, &ca)
                .expect("signed");
            (cert.pem(), key.serialize_pem())
        };
        let server = issue(vec!["127.0.0.1".into(), "localhost".into()]);
        let client = issue(vec!["client.example".into()]);
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, pem) in [
            ("ca.pem", ca.as_ref().pem()),
            ("server.pem", server.0),
            ("server.key", server.1),
        ] {
            std::fs::write(dir.path().join(name), pem).expect("write");
        }
        Self {
            dir,
            ca: ca.as_ref().pem(),
            client,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn path_str(&self, name: &str) -> String {
        self.path(name).to_str().expect("UTF-8").to_owned()
    }
}

/// The configuration an operator would write: TLS files by path.
fn tls_config(cert: &str, key: &str, client_ca: Option<&str>) -> Result<Config, ConfigError> {
    let mut vars = vec![("MINIKAFKA_TLS_CERT", cert), ("MINIKAFKA_TLS_KEY", key)];
    vars.extend(client_ca.map(|ca| ("MINIKAFKA_TLS_CLIENT_CA", ca)));
    Config::from_vars(vars.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())))
}

async fn tls_server(pki: &Pki, client_ca: bool) -> TestServer {
    let ca = pki.path_str("ca.pem");
    let config = tls_config(
        &pki.path_str("server.pem"),
        &pki.path_str("server.key"),
        client_ca.then_some(ca.as_str()),
    )
    .expect("valid TLS files");
    TestServer::start_with_config(config).await
}

fn trusting(pki: &Pki) -> TlsOptions {
    TlsOptions {
        ca_certificate: Some(pki.ca.clone().into_bytes()),
        identity: None,
    }
}

/// Whether the error is the connection being refused (how it shows
/// depends on when in the handshake the peer gives up).
fn refused(error: &minikafka_client::ClientError) -> bool {
    use minikafka_client::Code;
    matches!(
        error.code(),
        Code::Unavailable | Code::Cancelled | Code::Unknown
    )
}

async fn round_trip(client: &Client) {
    let offset = client
        .producer("secret")
        .send("over TLS")
        .await
        .expect("send");
    let polled = client
        .consumer("secret", minikafka_client::Position::Offset(offset))
        .poll(None)
        .await
        .expect("poll");
    assert_eq!(polled.messages[0].payload, "over TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_trust_the_ca_are_served_over_tls_and_plain_text_is_not() {
    let pki = Pki::new();
    let server = tls_server(&pki, false).await;
    let url = format!("https://{}", server.address);
    let client = Client::connect_with(&url, &trusting(&pki))
        .await
        .expect("a TLS connection");
    round_trip(&client).await;

    let plain = Client::connect(&server.address)
        .await
        .expect("TCP connects");
    assert!(
        plain.list_topics().await.is_err(),
        "a plain-text client is not served"
    );
    let missing_ca = Client::connect(&url).await.expect_err("https needs a CA");
    assert!(missing_ca.to_string().contains("--ca-file"), "{missing_ca}");
    let strangers = TlsOptions {
        ca_certificate: Some(Pki::new().ca.into_bytes()),
        identity: None,
    };
    let untrusted = match Client::connect_with(&url, &strangers).await {
        Ok(client) => client
            .list_topics()
            .await
            .map(|_| ())
            .expect_err("another CA's server is not trusted"),
        Err(error) => error,
    };
    assert!(refused(&untrusted), "{untrusted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_only_clients_with_its_certificates_are_served() {
    let pki = Pki::new();
    let server = tls_server(&pki, true).await;
    let url = format!("https://{}", server.address);
    let anonymous = match Client::connect_with(&url, &trusting(&pki)).await {
        Ok(client) => client
            .list_topics()
            .await
            .map(|_| ())
            .expect_err("no client certificate"),
        Err(error) => error,
    };
    assert!(refused(&anonymous), "{anonymous}");

    let identity = (
        pki.client.0.clone().into_bytes(),
        pki.client.1.clone().into_bytes(),
    );
    let options = TlsOptions {
        identity: Some(identity),
        ..trusting(&pki)
    };
    let client = Client::connect_with(&url, &options)
        .await
        .expect("mutual TLS");
    round_trip(&client).await;
}

#[test]
fn an_unreadable_certificate_stops_the_server_naming_the_variable() {
    let error = tls_config("/nonexistent/cert.pem", "/nonexistent/key.pem", None)
        .expect_err("no certificate");
    let message = error.to_string();
    assert!(
        message.starts_with("MINIKAFKA_TLS_CERT=\"/nonexistent/cert.pem\": cannot read it: "),
        "{message}"
    );
}

/// Runs `sh` commands in `dir`, failing the test with their output if
/// any fails.
fn shell(dir: &Path, script: &str) {
    let output = Command::new("sh")
        .args(["-e", "-c", script])
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(
        output.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The block after `<!-- tls-recipe` in docs/operations.md, as it stands.
fn documented_recipe() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
    let doc = std::fs::read_to_string(&path).expect("read docs/operations.md");
    let (_, after) = doc
        .split_once("<!-- tls-recipe")
        .expect("the recipe's marker in docs/operations.md");
    let (_, block) = after
        .split_once("```sh\n")
        .expect("a sh block after the marker");
    let (recipe, _) = block.split_once("\n```").expect("the end of the block");
    recipe.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_openssl_recipe_makes_a_server_clients_trust() {
    let dir = tempfile::tempdir().expect("temporary directory");
    shell(dir.path(), &documented_recipe());
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_owned();
    let config =
        tls_config(&path("server.pem"), &path("server.key"), None).expect("the recipe's files");
    let server = TestServer::start_with_config(config).await;
    let ca = std::fs::read(dir.path().join("ca.pem")).expect("the CA");
    let options = TlsOptions {
        ca_certificate: Some(ca),
        identity: None,
    };
    for host in ["127.0.0.1", "localhost"] {
        let port = server.address.rsplit_once(':').expect("host:port").1;
        let client = Client::connect_with(&format!("https://{host}:{port}"), &options)
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        round_trip(&client).await;
    }
}

#[test]
fn a_self_signed_req_x509_certificate_is_refused_saying_what_to_do() {
    let dir = tempfile::tempdir().expect("temporary directory");
    shell(
        dir.path(),
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
         -subj /CN=localhost -keyout self.key -out self.pem",
    );
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_owned();
    let error = tls_config(&path("self.pem"), &path("self.key"), None).expect_err("a CA");
    assert_eq!(error.variable, "MINIKAFKA_TLS_CERT");
    let message = error.to_string();
    for needed in [
        "is a CA certificate (basicConstraints CA:TRUE",
        "clients refuse",
        "docs/operations.md, \"TLS\"",
        "set MINIKAFKA_TLS_CERT to the server certificate",
    ] {
        assert!(message.contains(needed), "{needed}: {message}");
    }
    assert!(!message.contains('\n'), "one line: {message}");
}
