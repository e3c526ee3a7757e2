//! ListTopics and ListGroups paging, in the Google API style: a page size with a server
//! maximum, and an opaque token that says where the next page starts.
//!
//! The token is the last topic name of the previous page, base64url
//! encoded: opaque to clients (they pass it back as it is), and stable
//! across restarts and topics created or deleted in between, since the
//! next page starts after that name whatever happened since.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::str::FromStr;

use tonic::Status;

/// Topics per page when the request leaves it to the server.
pub const DEFAULT_PAGE_SIZE: usize = 1_000;
/// The most topics one page holds, whatever the request asks.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// The page size for a request's `page_size` (0: the default).
pub fn page_size(asked: u32) -> usize {
    match asked {
        0 => DEFAULT_PAGE_SIZE,
        n => (n as usize).min(MAX_PAGE_SIZE),
    }
}

/// Where a page starts: after the name the token holds; `None` (the
/// first page) for an empty token. A token this server did not make is
/// INVALID_ARGUMENT.
pub fn start_after<Name: FromStr>(page_token: &str) -> Result<Option<Name>, Status> {
    if page_token.is_empty() {
        return Ok(None);
    }
    URL_SAFE_NO_PAD
        .decode(page_token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|name| name.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            Status::invalid_argument(
                "page_token is not one this server gave: pass a reply's next_page_token as it \
                 is, or an empty one for the first page",
            )
        })
}

/// The token for the page after one that ended with `last` (a topic or
/// group name).
pub fn next_page_token(last: &impl AsRef<str>) -> String {
    URL_SAFE_NO_PAD.encode(last.as_ref())
}

#[cfg(test)]
mod tests {
    use minikafka_backends::TopicName;
    use tonic::Code;

    use super::*;

    #[test]
    fn page_sizes_default_and_are_capped() {
        assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(u32::MAX), MAX_PAGE_SIZE);
    }

    #[test]
    fn a_token_round_trips_and_a_bad_one_is_refused() {
        let name = TopicName::new("orders.eu-1").expect("valid");
        let token = next_page_token(&name);
        assert_ne!(token, "orders.eu-1", "opaque");
        assert_eq!(start_after(&token).expect("valid"), Some(name));
        assert_eq!(start_after::<TopicName>("").expect("first page"), None);
        for bad in ["not base64!", "Lw", "_w"] {
            let status = start_after::<TopicName>(bad).expect_err("bad token");
            assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
            assert!(status.message().starts_with("page_token"), "{bad}");
        }
    }
}
