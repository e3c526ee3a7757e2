//! Topic names, validated once at the edge so no store ever sees a bad one.
//!
//! The rules keep a name safe as a directory name on every file system (no
//! separators, no `.` or `..`) and match Kafka's, so names carry over.

use std::fmt;

/// The longest topic name accepted, in characters (Kafka's limit).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// A topic name: 1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
///
/// Holding a `TopicName` proves the name was validated, so stores can use it
/// as a directory or key without checking again.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicName(String);

/// Why a string is not a valid topic name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicNameError {
    /// The name is the empty string.
    #[error("topic name is empty")]
    Empty,
    /// The name is longer than [`MAX_TOPIC_NAME_LEN`].
    #[error("topic name is {len} characters long; the limit is {MAX_TOPIC_NAME_LEN}")]
    TooLong {
        /// The name's length in bytes (all valid characters are one byte).
        len: usize,
    },
    /// The name holds a character outside `[A-Za-z0-9._-]`.
    #[error("topic name '{name}' contains {found:?}; allowed are A-Z, a-z, 0-9, '.', '_' and '-'")]
    BadCharacter {
        /// The name as given.
        name: String,
        /// The first character not allowed.
        found: char,
    },
    /// The name is `.` or `..`.
    #[error("topic name '{0}' is reserved")]
    Reserved(String),
}

impl TopicName {
    /// Validates `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, TopicNameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(TopicNameError::Empty);
        }
        if let Some(found) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(TopicNameError::BadCharacter { name, found });
        }
        if name.len() > MAX_TOPIC_NAME_LEN {
            return Err(TopicNameError::TooLong { len: name.len() });
        }
        if name == "." || name == ".." {
            return Err(TopicNameError::Reserved(name));
        }
        Ok(Self(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::str::FromStr for TopicName {
    type Err = TopicNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for TopicName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

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
        assert_eq!(TopicName::new(""), Err(TopicNameError::Empty));
        assert_eq!(
            TopicName::new("x".repeat(MAX_TOPIC_NAME_LEN + 1)),
            Err(TopicNameError::TooLong { len: 250 })
        );
        assert_eq!(
            TopicName::new("."),
            Err(TopicNameError::Reserved(".".into()))
        );
        assert_eq!(
            TopicName::new(".."),
            Err(TopicNameError::Reserved("..".into()))
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
                TopicNameError::BadCharacter {
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
        assert!(matches!(
            err,
            TopicNameError::BadCharacter { found: 'é', .. }
        ));
    }
}
