//! Topic and group names, validated once at the edge so no store ever sees a bad one.
//!
//! The rules keep a name safe as a directory name on every file system (no
//! separators, no `.` or `..`) and match Kafka's, so names carry over.

use std::fmt;

/// The longest topic or group name accepted, in characters (Kafka's limit).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Why a string is not a valid topic or group name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is the empty string.
    #[error("{what} name is empty")]
    Empty {
        /// What the name names: "topic" or "group".
        what: &'static str,
    },
    /// The name is longer than [`MAX_TOPIC_NAME_LEN`].
    #[error("{what} name is {len} characters long; the limit is {MAX_TOPIC_NAME_LEN}")]
    TooLong {
        /// What the name names.
        what: &'static str,
        /// The name's length in bytes (all valid characters are one byte).
        len: usize,
    },
    /// The name holds a character outside `[A-Za-z0-9._-]`.
    #[error("{what} name '{name}' contains {found:?}; allowed are A-Z, a-z, 0-9, '.', '_' and '-'")]
    BadCharacter {
        /// What the name names.
        what: &'static str,
        /// The name as given.
        name: String,
        /// The first character not allowed.
        found: char,
    },
    /// The name is `.` or `..`.
    #[error("{what} name '{name}' is reserved")]
    Reserved {
        /// What the name names.
        what: &'static str,
        /// The name as given.
        name: String,
    },
}

/// Why a string is not a valid topic name (kept under its old name).
pub type TopicNameError = NameError;

/// Checks `name` against the rules shared by topic and group names.
fn check(what: &'static str, name: String) -> Result<String, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::BadCharacter { what, name, found });
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(NameError::TooLong {
            what,
            len: name.len(),
        });
    }
    if name == "." || name == ".." {
        return Err(NameError::Reserved { what, name });
    }
    Ok(name)
}

/// Defines a validated name type: one set of rules, one set of impls.
macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `name` and wraps it.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                check($what, name.into()).map(Self)
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_name!(
    /// A topic name: 1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
    ///
    /// Holding a `TopicName` proves the name was validated, so stores can use it
    /// as a directory or key without checking again.
    TopicName,
    "topic"
);

validated_name!(
    /// A consumer group's name, under the same rules as a topic name, so a
    /// store may use it as a file name or key as safely.
    GroupName,
    "group"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_full_alphabet_and_the_longest_name() {
        for name in ["a", "orders", "Orders.v2_eu-west", "...", "-", "_", "0"] {
            assert_eq!(
                TopicName::new(name).map(|t| t.to_string()),
                Ok(name.to_owned())
            );
        }
        let longest = "x".repeat(MAX_TOPIC_NAME_LEN);
        assert!(TopicName::new(longest).is_ok());
    }

    #[test]
    fn rejects_each_rule_with_a_reason_naming_it() {
        assert_eq!(TopicName::new(""), Err(NameError::Empty { what: "topic" }));
        assert_eq!(
            TopicName::new("x".repeat(MAX_TOPIC_NAME_LEN + 1)),
            Err(NameError::TooLong {
                what: "topic",
                len: 250
            })
        );
        assert_eq!(
            TopicName::new("."),
            Err(NameError::Reserved {
                what: "topic",
                name: ".".into()
            })
        );
        assert_eq!(
            TopicName::new(".."),
            Err(NameError::Reserved {
                what: "topic",
                name: "..".into()
            })
        );
        for (name, found) in [
            ("a/b", '/'),
            ("a b", ' '),
            ("é", 'é'),
            ("a\0", '\0'),
            ("..\\x", '\\'),
        ] {
            let err = TopicName::new(name).expect_err(name);
            assert_eq!(
                err,
                NameError::BadCharacter {
                    what: "topic",
                    name: name.into(),
                    found
                }
            );
        }
        let message = TopicName::new("a/b").expect_err("slash").to_string();
        assert!(
            message.contains("'a/b'") && message.contains("'/'"),
            "{message}"
        );
    }

    #[test]
    fn a_long_name_of_bad_characters_reports_the_character() {
        // The character is the more useful complaint; and the length of a
        // name with multi-byte characters must not be miscounted.
        let err = TopicName::new("é".repeat(200)).expect_err("bad");
        assert!(matches!(err, NameError::BadCharacter { found: 'é', .. }));
    }

    #[test]
    fn group_names_follow_the_topic_rules_and_say_group() {
        assert_eq!(
            GroupName::new("billing.v2").map(|g| g.to_string()),
            Ok("billing.v2".to_owned())
        );
        let message = GroupName::new("a b").expect_err("space").to_string();
        assert!(message.starts_with("group name 'a b'"), "{message}");
    }
}
