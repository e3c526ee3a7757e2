//! Turning what a user types as a server address into a URI.

use crate::ClientError;

/// Accepts `host:port`, `:port` (this machine) or a URL (`http://host:port`)
/// and returns the URL to connect to.
pub fn endpoint_uri(address: &str) -> Result<String, ClientError> {
    let address = address.trim();
    let uri = if address.contains("://") {
        address.to_owned()
    } else if let Some(port) = address.strip_prefix(':') {
        format!("http://127.0.0.1:{port}")
    } else {
        format!("http://{address}")
    };
    match uri.parse::<tonic::transport::Uri>() {
        Ok(parsed) if parsed.host().is_some_and(|h| !h.is_empty()) => Ok(uri),
        _ => Err(ClientError::InvalidAddress(address.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_host_port_port_only_and_urls() {
        let ok = |a: &str| endpoint_uri(a).expect(a);
        assert_eq!(ok("127.0.0.1:9999"), "http://127.0.0.1:9999");
        assert_eq!(ok(" localhost:1 "), "http://localhost:1");
        assert_eq!(ok(":9999"), "http://127.0.0.1:9999");
        assert_eq!(ok("http://10.0.0.1:80"), "http://10.0.0.1:80");
        assert_eq!(ok("[::1]:9999"), "http://[::1]:9999");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in ["", "http://", "a b:1", "::::"] {
            let err = endpoint_uri(bad).expect_err(bad);
            assert!(err.to_string().contains("host:port"), "{err}");
        }
    }
}
