//! TLS: the PEM files read at start-up, the check that clients will
//! accept the server's certificate, and tonic's TLS configuration.

use std::fmt;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use x509_parser::pem::Pem as PemBlock;

/// Where an operator finds how to make certificates that work.
pub const RECIPE: &str = "docs/operations.md, \"TLS\"";

/// The bytes of a PEM file, read at start-up. Its `Debug` shows only the
/// length: a private key is never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Pem(pub Vec<u8>);

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pem({} bytes)", self.0.len())
    }
}

/// The server's certificate chain and key, and the CA its clients'
/// certificates must be signed by (mutual TLS), read at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsIdentity {
    /// The certificate chain, the server's own certificate first
    /// (`MINIKAFKA_TLS_CERT`).
    pub certificate: Pem,
    /// Its private key (`MINIKAFKA_TLS_KEY`).
    pub key: Pem,
    /// When set, clients must present a certificate this CA signed
    /// (`MINIKAFKA_TLS_CLIENT_CA`).
    pub client_ca: Option<Pem>,
}

impl TlsIdentity {
    /// Checks that the certificate and the key serve TLS together, as the
    /// server will use them, so that a bad pair stops start-up with the
    /// rest of the configuration. The error says why.
    pub fn check(&self) -> Result<(), String> {
        tonic::transport::Server::builder()
            .tls_config(self.server_config())
            .map(drop)
            .map_err(|error| with_causes(&error))
    }

    /// tonic's configuration for serving with this identity.
    pub fn server_config(&self) -> ServerTlsConfig {
        let identity = Identity::from_pem(&self.certificate.0, &self.key.0);
        let config = ServerTlsConfig::new().identity(identity);
        match &self.client_ca {
            Some(ca) => config.client_ca_root(Certificate::from_pem(&ca.0)),
            None => config,
        }
    }
}

/// What went wrong, with every cause in its chain, each once: tonic's
/// transport errors say only "transport error" and keep the cause as
/// their source.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut said = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !said.contains(&cause_text) {
            said = format!("{said}: {cause_text}");
        }
        source = cause.source();
    }
    said
}

/// Refuses a certificate chain whose first certificate clients will not
/// accept as a server's: one missing, or a CA certificate
/// (basicConstraints CA:TRUE, as `openssl req -x509` makes by default),
/// which rustls refuses with `CaUsedAsEndEntity`. The error says what to
/// do instead.
pub fn check_server_certificate(pem: &[u8]) -> Result<(), String> {
    let block = PemBlock::iter_from_buffer(pem)
        .find_map(|block| block.ok().filter(|b| b.label == "CERTIFICATE"))
        .ok_or_else(|| "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned())?;
    let certificate = block
        .parse_x509()
        .map_err(|e| format!("its first certificate cannot be parsed: {e}"))?;
    if certificate.is_ca() {
        return Err(format!(
            "its certificate is a CA certificate (basicConstraints CA:TRUE, as `openssl req -x509` makes), \
             which clients refuse as a server's own; make a CA and a server certificate signed by it \
             ({RECIPE}), set MINIKAFKA_TLS_CERT to the server certificate, and give clients the CA"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    fn certificate(ca: bool) -> String {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params
            .self_signed(&KeyPair::generate().expect("key"))
            .expect("certificate")
            .pem()
    }

    #[test]
    fn a_ca_certificate_is_refused_saying_what_to_do() {
        let error = check_server_certificate(certificate(true).as_bytes()).expect_err("a CA");
        assert!(error.contains("CA:TRUE"), "{error}");
        assert!(error.contains(RECIPE), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
        assert!(check_server_certificate(certificate(false).as_bytes()).is_ok());
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        let error = check_server_certificate(b"not a certificate").expect_err("no PEM");
        assert!(error.contains("no PEM certificate"), "{error}");
    }

    #[test]
    fn a_key_is_never_shown() {
        assert_eq!(format!("{:?}", Pem(b"secret".to_vec())), "Pem(6 bytes)");
    }
}
