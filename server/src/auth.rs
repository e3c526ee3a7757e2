//! Tokens and topic permissions, from `MINIKAFKA_AUTH_FILE`.
//!
//! The file is TOML: one `[[token]]` table per token, with `name` (shown in
//! logs), `sha256` (the hex SHA-256 of the token; the token itself is never
//! stored or logged), `produce` and `consume` (topic patterns: an exact
//! name, a prefix ending in `*`, or `*`) and `admin` (may list and describe
//! every topic, and create, update and delete topics). Clients send
//! `authorization: Bearer <token>`. `groups` (patterns of the same kind)
//! names the consumer groups a token may commit for, start reads at, and
//! list, describe and delete; it commits only in topics it may consume.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Status};

/// The hex SHA-256 of a token: what the auth file stores.
pub fn digest_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Every token the server accepts.
#[derive(Debug)]
pub struct Tokens {
    entries: Vec<([u8; 32], Arc<Grant>)>,
}

/// What one token may do.
#[derive(Debug)]
pub struct Grant {
    /// The token's name, for logs.
    pub name: String,
    produce: Vec<Pattern>,
    consume: Vec<Pattern>,
    groups: Vec<Pattern>,
    admin: bool,
}

/// A topic (or group) pattern: `*`, a prefix ending in `*`, or an exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    All,
    Prefix(String),
    Exact(String),
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        let pattern = match text.strip_suffix('*') {
            Some("") => Self::All,
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Exact(text.to_owned()),
        };
        match &pattern {
            Self::Prefix(p) | Self::Exact(p) if p.contains('*') => {
                Err(format!("'{text}': '*' may only end a pattern"))
            }
            Self::Exact(p) if p.is_empty() => Err("an empty pattern".to_owned()),
            _ => Ok(pattern),
        }
    }

    fn matches(&self, topic: &str) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(prefix) => topic.starts_with(prefix.as_str()),
            Self::Exact(name) => topic == name,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    sha256: String,
    #[serde(default)]
    produce: Vec<String>,
    #[serde(default)]
    consume: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    admin: bool,
}

impl Tokens {
    /// Reads and checks the auth file; an error says why it cannot be
    /// used and, for a malformed one, the line at fault (the caller names
    /// the file).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        Self::parse(&text)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let file: File =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().replace('\n', " "))?;
        let mut entries = Vec::new();
        for entry in file.token {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(entry.sha256.trim(), &mut digest).map_err(|_| {
                format!(
                    "token '{}': sha256 must be 64 hex digits (see mkfk-server hash-token)",
                    entry.name
                )
            })?;
            let patterns = |list: &[String]| -> Result<Vec<Pattern>, String> {
                list.iter()
                    .map(|p| Pattern::parse(p).map_err(|e| format!("token '{}': {e}", entry.name)))
                    .collect()
            };
            let grant = Grant {
                produce: patterns(&entry.produce)?,
                consume: patterns(&entry.consume)?,
                groups: patterns(&entry.groups)?,
                admin: entry.admin,
                name: entry.name,
            };
            entries.push((digest, Arc::new(grant)));
        }
        Ok(Self { entries })
    }

    /// The names of the tokens, for the start-up log.
    pub fn names(&self) -> Vec<&str> {
        self.entries
            .iter()
            .map(|(_, grant)| grant.name.as_str())
            .collect()
    }

    /// The grant of `token`, compared in constant time against every entry.
    fn authenticate(&self, token: &str) -> Option<Arc<Grant>> {
        let digest = Sha256::digest(token.as_bytes());
        let mut found = None;
        for (known, grant) in &self.entries {
            if bool::from(known.ct_eq(digest.as_slice())) {
                found = Some(Arc::clone(grant));
            }
        }
        found
    }
}

/// What a request may do, decided once per request by [`Authenticator`].
#[derive(Debug, Clone)]
pub enum Access {
    /// No auth file: everything.
    Open,
    /// A token's grant.
    Token(Arc<Grant>),
}

impl Access {
    /// The access decided for `request`; fails closed if none was.
    pub fn of<T>(request: &Request<T>) -> Result<Self, Status> {
        request
            .extensions()
            .get::<Self>()
            .cloned()
            .ok_or_else(|| Status::internal("no access decision was made"))
    }

    fn check(
        &self,
        topic: &str,
        allowed: impl Fn(&Grant) -> bool,
        what: &str,
    ) -> Result<(), Status> {
        match self {
            Self::Open => Ok(()),
            Self::Token(grant) if allowed(grant) => Ok(()),
            Self::Token(grant) => Err(Status::permission_denied(format!(
                "token '{}' may not {what} topic '{topic}'",
                grant.name
            ))),
        }
    }

    /// May this request produce to `topic`?
    pub fn may_produce(&self, topic: &str) -> Result<(), Status> {
        self.check(
            topic,
            |g| g.produce.iter().any(|p| p.matches(topic)),
            "produce to",
        )
    }

    /// May this request read `topic`?
    pub fn may_consume(&self, topic: &str) -> Result<(), Status> {
        self.check(
            topic,
            |g| g.consume.iter().any(|p| p.matches(topic)),
            "consume from",
        )
    }

    /// May this request create, update or delete `topic`? Only an admin
    /// token may (or anyone, on a server without tokens).
    pub fn may_administer(&self, topic: &str) -> Result<(), Status> {
        match self {
            Self::Token(grant) if !grant.admin => Err(Status::permission_denied(format!(
                "token '{}' may not create, update or delete topic '{topic}': that needs a \
                 token with admin = true",
                grant.name
            ))),
            _ => Ok(()),
        }
    }

    /// May this request commit `group`'s position in `topic`, fetch it, or
    /// start a read of `topic` at it? A token must be able to consume the
    /// topic and have the group among its `groups`; an admin may always.
    pub fn may_use_group(&self, group: &str, topic: &str) -> Result<(), Status> {
        match self {
            Self::Token(grant) if !grant.admin => {
                self.may_consume(topic)?;
                self.may_manage_group(group)
            }
            _ => Ok(()),
        }
    }

    /// May this request see, describe or delete `group`: an admin, or a
    /// token whose `groups` patterns match it.
    pub fn may_manage_group(&self, group: &str) -> Result<(), Status> {
        match self {
            Self::Token(grant)
                if !grant.admin && !grant.groups.iter().any(|p| p.matches(group)) =>
            {
                Err(Status::permission_denied(format!(
                    "token '{}' may not use group '{group}': its groups patterns do not match it",
                    grant.name
                )))
            }
            _ => Ok(()),
        }
    }

    /// May this request describe `topic` (admins, and anyone who may
    /// produce to or consume it)?
    pub fn may_describe(&self, topic: &str) -> Result<(), Status> {
        self.check(
            topic,
            |g| g.admin || g.produce.iter().chain(&g.consume).any(|p| p.matches(topic)),
            "describe",
        )
    }
}

/// The interceptor that turns `authorization: Bearer <token>` into an
/// [`Access`]: UNAUTHENTICATED for a missing or unknown token.
#[derive(Debug, Clone)]
pub struct Authenticator(pub Option<Arc<Tokens>>);

impl Authenticator {
    /// `service`, answering only the requests this lets through, each
    /// with its [`Access`].
    pub fn guard<S>(&self, service: S) -> InterceptedService<S, Self> {
        InterceptedService::new(service, self.clone())
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let access = match &self.0 {
            None => Access::Open,
            Some(tokens) => {
                let token = request
                    .metadata()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .ok_or_else(|| {
                        Status::unauthenticated(
                            "a token is required: send 'authorization: Bearer <token>'",
                        )
                    })?;
                Access::Token(
                    tokens
                        .authenticate(token)
                        .ok_or_else(|| Status::unauthenticated("unknown token"))?,
                )
            }
        };
        request.extensions_mut().insert(access);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        [[token]]
        name = "orders-writer"
        sha256 = "DIGEST_W"
        produce = ["orders"]

        [[token]]
        name = "reader"
        sha256 = "DIGEST_R"
        consume = ["orders*"]
        groups = ["billing-*"]

        [[token]]
        name = "ops"
        sha256 = "DIGEST_A"
        admin = true
    "#;

    fn tokens() -> Tokens {
        let text = FILE
            .replace("DIGEST_W", &digest_hex("w-secret"))
            .replace("DIGEST_R", &digest_hex("r-secret"))
            .replace("DIGEST_A", &digest_hex("a-secret"));
        Tokens::parse(&text).expect("valid")
    }

    #[test]
    fn tokens_are_found_by_their_digest_only() {
        let tokens = tokens();
        assert_eq!(
            tokens
                .authenticate("w-secret")
                .map(|g| g.name.clone())
                .as_deref(),
            Some("orders-writer")
        );
        assert!(tokens.authenticate("wrong").is_none());
        assert!(
            tokens.authenticate(&digest_hex("w-secret")).is_none(),
            "the digest is not the token"
        );
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn patterns_grant_exact_names_prefixes_or_everything() {
        let tokens = tokens();
        let access = |t| Access::Token(tokens.authenticate(t).expect("known"));
        assert!(access("w-secret").may_produce("orders").is_ok());
        assert!(
            access("w-secret").may_produce("orders-eu").is_err(),
            "exact name only"
        );
        let denied = access("w-secret")
            .may_consume("orders")
            .expect_err("no consume");
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(
            denied.message().contains("orders-writer"),
            "{}",
            denied.message()
        );
        assert!(
            access("r-secret").may_consume("orders-eu").is_ok(),
            "prefix"
        );
        assert!(access("r-secret").may_consume("payments").is_err());
        assert!(access("r-secret").may_describe("orders").is_ok());
        assert!(access("a-secret").may_describe("anything").is_ok(), "admin");
        assert!(
            access("a-secret").may_produce("anything").is_err(),
            "admin is not produce"
        );
        assert!(Access::Open.may_produce("x").is_ok());
        assert!(access("a-secret").may_administer("anything").is_ok());
        let denied = access("w-secret")
            .may_administer("orders")
            .expect_err("a producer is not an admin");
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(
            denied.message().contains("admin = true"),
            "{}",
            denied.message()
        );
        assert!(Access::Open.may_administer("x").is_ok());
    }

    #[test]
    fn groups_need_a_matching_pattern_and_the_topic_to_consume() {
        let tokens = tokens();
        let access = |t| Access::Token(tokens.authenticate(t).expect("known"));
        assert!(
            access("r-secret")
                .may_use_group("billing-eu", "orders")
                .is_ok()
        );
        let denied = access("r-secret")
            .may_use_group("shipping", "orders")
            .expect_err("group outside the patterns");
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(
            denied.message().contains("'shipping'"),
            "{}",
            denied.message()
        );
        assert!(
            access("r-secret")
                .may_use_group("billing-eu", "payments")
                .is_err(),
            "a topic it may not consume"
        );
        assert!(access("w-secret").may_manage_group("billing-eu").is_err());
        assert!(access("r-secret").may_manage_group("billing-eu").is_ok());
        assert!(
            access("a-secret").may_use_group("any", "thing").is_ok(),
            "admin"
        );
        assert!(Access::Open.may_use_group("any", "thing").is_ok());
    }

    #[test]
    fn a_malformed_file_is_refused_with_the_line_at_fault() {
        let error =
            Tokens::parse("[[token]]\nname = \"x\"\nsha256 = oops\n").expect_err("bad TOML");
        assert!(error.contains("line 3"), "{error}");
        let error =
            Tokens::parse("[[token]]\nname = \"x\"\nsha256 = \"abc\"\n").expect_err("short digest");
        assert!(
            error.contains("token 'x'") && error.contains("64 hex"),
            "{error}"
        );
        let digest = digest_hex("t");
        let error = Tokens::parse(&format!(
            "[[token]]\nname = \"x\"\nsha256 = \"{digest}\"\nproduce = [\"a*b\"]\n"
        ))
        .expect_err("star inside");
        assert!(error.contains("'a*b'"), "{error}");
        let error =
            Tokens::parse("[[token]]\nname = \"x\"\nsha = \"\"\n").expect_err("unknown key");
        assert!(error.contains("sha"), "{error}");
    }
}
