//! Topic settings between the API and the store: checking the settings a
//! request asks for (before the store is touched, so a refused request
//! changes nothing), and resolving a topic's own settings against the
//! server's defaults into the effective values and their sources.

use minikafka_backends::{RetentionAge, RetentionDefaults, SettingsChange, TopicSettings};
use minikafka_proto::v1;
use tonic::Status;

use crate::validate::MessageLimits;

/// The server's defaults for the settings a topic does not set itself, and
/// its limits on each message's key and headers (which topics do not set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerDefaults {
    /// Removal by age (`MINIKAFKA_RETENTIONTIME`).
    pub retention: RetentionAge,
    /// The largest payload accepted (`MINIKAFKA_MAX_MESSAGE_BYTES`); also
    /// the most a topic may set.
    pub max_message_bytes: u64,
    /// How long a silent producer is remembered (`MINIKAFKA_PRODUCER_EXPIRY`).
    pub producer_expiry: RetentionAge,
    /// How long a group that commits nothing is kept
    /// (`MINIKAFKA_GROUP_RETENTION`).
    pub group_retention: RetentionAge,
    /// The largest message key accepted (`MINIKAFKA_MAX_KEY_BYTES`); no
    /// topic setting changes it.
    pub max_key_bytes: usize,
    /// The most headers on one message (`MINIKAFKA_MAX_HEADERS`).
    pub max_headers: usize,
    /// The most bytes of header names and values on one message
    /// (`MINIKAFKA_MAX_HEADER_BYTES`).
    pub max_header_bytes: usize,
}

impl ServerDefaults {
    /// What a produced message is checked against before the store sees
    /// it (a topic's own, smaller message limit is the store's to check).
    pub fn message_limits(&self) -> MessageLimits {
        MessageLimits {
            max_message_bytes: self.max_message_bytes,
            max_key_bytes: self.max_key_bytes,
            max_headers: self.max_headers,
            max_header_bytes: self.max_header_bytes,
        }
    }

    /// The defaults a retention sweep applies.
    pub fn retention_defaults(&self) -> RetentionDefaults {
        RetentionDefaults {
            age: self.retention,
            producer_expiry: self.producer_expiry,
            group_retention: self.group_retention,
        }
    }

    /// Checks the settings of a CreateTopic request; absent settings
    /// follow the server's defaults.
    pub fn settings(&self, settings: Option<v1::TopicSettings>) -> Result<TopicSettings, Status> {
        let settings = settings.unwrap_or_default();
        Ok(TopicSettings {
            retention: settings.retention.map(retention_age).transpose()?,
            retention_bytes: settings
                .retention_bytes
                .map(|bytes| positive("retention_bytes", bytes))
                .transpose()?,
            max_message_bytes: settings
                .max_message_bytes
                .map(|bytes| self.max_message_bytes(bytes))
                .transpose()?,
        })
    }

    /// Checks an UpdateTopic request's settings to set and names to reset:
    /// each setting named at most once, every name known.
    pub fn change(
        &self,
        settings: Option<v1::TopicSettings>,
        reset: &[String],
    ) -> Result<SettingsChange, Status> {
        let set = self.settings(settings)?;
        let mut change = SettingsChange {
            retention: set.retention.map(Some),
            retention_bytes: set.retention_bytes.map(Some),
            max_message_bytes: set.max_message_bytes.map(Some),
        };
        for name in reset {
            match name.as_str() {
                "retention" => reset_once(name, &mut change.retention)?,
                "retention_bytes" => reset_once(name, &mut change.retention_bytes)?,
                "max_message_bytes" => reset_once(name, &mut change.max_message_bytes)?,
                unknown => {
                    return Err(Status::invalid_argument(format!(
                        "reset: no setting is called '{unknown}'; the settings are retention, \
                         retention_bytes and max_message_bytes"
                    )));
                }
            }
        }
        Ok(change)
    }

    fn max_message_bytes(&self, bytes: u64) -> Result<u64, Status> {
        let bytes = positive("max_message_bytes", bytes)?;
        if bytes > self.max_message_bytes {
            return Err(Status::invalid_argument(format!(
                "max_message_bytes: {bytes} is above the server's limit of {} bytes \
                 (MINIKAFKA_MAX_MESSAGE_BYTES)",
                self.max_message_bytes
            )));
        }
        Ok(bytes)
    }

    /// A topic's effective settings: its own where it has them, else the
    /// server's, each with its source.
    pub fn effective(&self, own: &TopicSettings) -> v1::EffectiveSettings {
        let source = |own: bool| {
            if own {
                v1::SettingSource::Topic
            } else {
                v1::SettingSource::ServerDefault
            }
        };
        // A topic's own limit applies only up to the server's (which may
        // have been lowered since the topic set it).
        let own_max_message_bytes = own
            .max_message_bytes
            .filter(|&bytes| bytes <= self.max_message_bytes);
        v1::EffectiveSettings {
            retention: Some(retention_message(own.retention.unwrap_or(self.retention))),
            retention_source: source(own.retention.is_some()).into(),
            retention_bytes: own.retention_bytes,
            retention_bytes_source: source(own.retention_bytes.is_some()).into(),
            max_message_bytes: own_max_message_bytes.unwrap_or(self.max_message_bytes),
            max_message_bytes_source: source(own_max_message_bytes.is_some()).into(),
        }
    }
}

/// Marks the setting `name` to return to the server's default, unless
/// the request already sets or resets it.
fn reset_once<T>(name: &str, slot: &mut Option<Option<T>>) -> Result<(), Status> {
    if slot.is_some() {
        return Err(Status::invalid_argument(format!(
            "{name}: a request may set a setting or reset it, once, not both"
        )));
    }
    *slot = Some(None);
    Ok(())
}

fn positive(name: &str, value: u64) -> Result<u64, Status> {
    if value == 0 {
        return Err(Status::invalid_argument(format!(
            "{name}: must be positive; to return it to the server's default, reset it"
        )));
    }
    Ok(value)
}

fn retention_age(retention: v1::Retention) -> Result<RetentionAge, Status> {
    match retention.age() {
        Some(Some(age)) => Ok(RetentionAge::MaxAge(age)),
        Some(None) => Ok(RetentionAge::Forever),
        None => Err(Status::invalid_argument(
            "retention: give max_age (a positive duration) or forever = true; to return it to \
             the server's default, reset it",
        )),
    }
}

fn retention_message(age: RetentionAge) -> v1::Retention {
    match age {
        RetentionAge::Forever => v1::Retention::forever(),
        RetentionAge::MaxAge(age) => v1::Retention::max_age(age),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use minikafka_proto::v1::retention;
    use tonic::Code;

    use super::*;

    const DEFAULTS: ServerDefaults = ServerDefaults {
        retention: RetentionAge::MaxAge(Duration::from_secs(7 * 86_400)),
        max_message_bytes: 1 << 20,
        producer_expiry: RetentionAge::Forever,
        group_retention: RetentionAge::Forever,
        max_key_bytes: 16 << 10,
        max_headers: 64,
        max_header_bytes: 64 << 10,
    };

    fn max_age(seconds: i64, nanos: i32) -> v1::Retention {
        v1::Retention {
            retention: Some(retention::Retention::MaxAge(prost_types::Duration {
                seconds,
                nanos,
            })),
        }
    }

    fn refused(result: Result<impl std::fmt::Debug, Status>, naming: &str) {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with(&format!("{naming}:")),
            "{}",
            status.message()
        );
    }

    #[test]
    fn good_settings_become_the_topics_own() {
        let settings = DEFAULTS
            .settings(Some(v1::TopicSettings {
                retention: Some(max_age(3_600, 0)),
                retention_bytes: Some(10 << 30),
                max_message_bytes: Some(1 << 20),
            }))
            .expect("valid");
        assert_eq!(
            settings,
            TopicSettings {
                retention: Some(RetentionAge::MaxAge(Duration::from_secs(3_600))),
                retention_bytes: Some(10 << 30),
                max_message_bytes: Some(1 << 20),
            }
        );
        assert_eq!(
            DEFAULTS.settings(None).expect("none"),
            TopicSettings::default()
        );
    }

    #[test]
    fn zero_negative_and_over_the_limit_settings_are_refused_by_name() {
        let settings = |retention, retention_bytes, max_message_bytes| {
            DEFAULTS.settings(Some(v1::TopicSettings {
                retention,
                retention_bytes,
                max_message_bytes,
            }))
        };
        refused(settings(Some(max_age(0, 0)), None, None), "retention");
        refused(settings(Some(max_age(-5, 0)), None, None), "retention");
        refused(settings(Some(max_age(0, -1)), None, None), "retention");
        refused(
            settings(Some(v1::Retention::default()), None, None),
            "retention",
        );
        refused(settings(None, Some(0), None), "retention_bytes");
        refused(settings(None, None, Some(0)), "max_message_bytes");
        let over = settings(None, None, Some((1 << 20) + 1)).expect_err("over");
        assert!(
            over.message().contains("MINIKAFKA_MAX_MESSAGE_BYTES"),
            "{}",
            over.message()
        );
    }

    #[test]
    fn a_change_sets_and_resets_each_setting_at_most_once() {
        let change = DEFAULTS
            .change(
                Some(v1::TopicSettings {
                    retention_bytes: Some(5),
                    ..Default::default()
                }),
                &["retention".to_owned()],
            )
            .expect("valid");
        assert_eq!(
            change,
            SettingsChange {
                retention: Some(None),
                retention_bytes: Some(Some(5)),
                max_message_bytes: None,
            }
        );
        let both = DEFAULTS.change(
            Some(v1::TopicSettings {
                retention_bytes: Some(5),
                ..Default::default()
            }),
            &["retention_bytes".to_owned()],
        );
        refused(both, "retention_bytes");
        let twice = DEFAULTS.change(None, &["retention".to_owned(), "retention".to_owned()]);
        refused(twice, "retention");
        refused(DEFAULTS.change(None, &["size".to_owned()]), "reset");
    }

    #[test]
    fn effective_settings_say_where_each_comes_from() {
        let own = TopicSettings {
            retention: Some(RetentionAge::Forever),
            ..Default::default()
        };
        let effective = DEFAULTS.effective(&own);
        assert_eq!(
            effective.retention.and_then(|r| r.retention),
            Some(retention::Retention::Forever(true))
        );
        assert_eq!(
            effective.retention_source,
            i32::from(v1::SettingSource::Topic)
        );
        assert_eq!(effective.retention_bytes, None);
        assert_eq!(effective.max_message_bytes, 1 << 20);
        assert_eq!(
            effective.max_message_bytes_source,
            i32::from(v1::SettingSource::ServerDefault)
        );
        let above_a_lowered_limit = TopicSettings {
            max_message_bytes: Some(2 << 20),
            ..Default::default()
        };
        let effective = DEFAULTS.effective(&above_a_lowered_limit);
        assert_eq!(effective.max_message_bytes, 1 << 20, "the server's applies");
        assert_eq!(
            effective.max_message_bytes_source,
            i32::from(v1::SettingSource::ServerDefault)
        );
    }
}
