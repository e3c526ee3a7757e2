//! TLS and mutual TLS: a server configured with MINIKAFKA_TLS_* files
//! serves only TLS, clients that trust its CA get through, plain-text
//! clients do not, and with a client CA only clients presenting a
//! certificate it signed are served. Certificates are made here, at test
//! time, with rcgen.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minikafka_backends::MemoryStore;
use minikafka_client::{Client, TlsOptions};
use minikafka_server::{Config, SystemClock, TlsFiles};
use minikafka_tests::{TestServer, default_config};
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

    fn files(&self, client_ca: bool) -> TlsFiles {
        TlsFiles {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            client_ca: client_ca.then(|| self.path("ca.pem")),
        }
    }
}

async fn tls_server(pki: &Pki, client_ca: bool) -> TestServer {
    let config = Config {
        tls: Some(pki.files(client_ca)),
        ..default_config()
    };
    TestServer::start_with(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_certificate_stops_the_server_naming_the_variable() {
    let config = Config {
        tls: Some(TlsFiles {
            cert: Path::new("/nonexistent/cert.pem").into(),
            key: "/nonexistent/key.pem".into(),
            client_ca: None,
        }),
        ..default_config()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = minikafka_server::Server::new(config, Arc::new(MemoryStore::new()));
    let error = server
        .run(listener, std::future::pending())
        .await
        .expect_err("no certificate");
    let message = error.to_string();
    assert!(
        message.contains("MINIKAFKA_TLS_CERT=/nonexistent/cert.pem"),
        "{message}"
    );
}
