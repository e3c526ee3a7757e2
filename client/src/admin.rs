//! [`Admin`]: creating, configuring, deleting and listing topics.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use minikafka_proto::v1;

use crate::client::topic_info;
use crate::{Client, ClientError, TopicInfo};

/// How long a topic keeps its messages by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Messages older than this are removed.
    MaxAge(Duration),
    /// Messages are never removed by age.
    Forever,
}

/// The settings a topic can have of its own; `None` follows the server's
/// default (`MINIKAFKA_RETENTIONTIME`, no size limit,
/// `MINIKAFKA_MAX_MESSAGE_BYTES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSettings {
    /// Removal by age.
    pub retention: Option<Retention>,
    /// Removal by size: the most payload bytes the whole topic keeps.
    pub retention_bytes: Option<u64>,
    /// The largest payload the topic accepts (at most the server's limit).
    pub max_message_bytes: Option<u64>,
}

/// One of a topic's settings, by name, for returning it to the server's
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// [`TopicSettings::retention`].
    Retention,
    /// [`TopicSettings::retention_bytes`].
    RetentionBytes,
    /// [`TopicSettings::max_message_bytes`].
    MaxMessageBytes,
}

impl Setting {
    /// Every setting.
    pub const ALL: [Setting; 3] = [Self::Retention, Self::RetentionBytes, Self::MaxMessageBytes];

    /// The name the API uses: `retention`, `retention_bytes`,
    /// `max_message_bytes`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Retention => "retention",
            Self::RetentionBytes => "retention_bytes",
            Self::MaxMessageBytes => "max_message_bytes",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A setting name that is not one of [`Setting::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no setting is called '{0}'; the settings are retention, retention_bytes and max_message_bytes"
)]
pub struct UnknownSetting(pub String);

impl FromStr for Setting {
    type Err = UnknownSetting;

    /// A setting by its API name; dashes may stand for underscores.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let name = name.replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|setting| setting.name() == name)
            .ok_or(UnknownSetting(name))
    }
}

/// A change to a topic's settings: the ones to set, and the ones to
/// return to the server's default. Settings named in neither stay as
/// they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicChange {
    /// Each setting present here is set on the topic.
    pub set: TopicSettings,
    /// These return to the server's default.
    pub reset: Vec<Setting>,
}

/// Where a setting's effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingSource {
    /// The server's configuration (or its built-in default).
    ServerDefault,
    /// The topic's own setting.
    Topic,
}

impl fmt::Display for SettingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ServerDefault => "server default",
            Self::Topic => "topic",
        })
    }
}

/// A setting's value as it applies, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective<T> {
    /// The value in force.
    pub value: T,
    /// Where it comes from.
    pub source: SettingSource,
}

/// A topic's settings as they apply, each with its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveSettings {
    /// Removal by age.
    pub retention: Effective<Retention>,
    /// Removal by size; `None`: no size limit.
    pub retention_bytes: Effective<Option<u64>>,
    /// The largest payload accepted.
    pub max_message_bytes: Effective<u64>,
}

/// Topic administration over a [`Client`]'s connection (and its token:
/// creating, updating and deleting need an admin token on a server with
/// tokens). Made by [`Client::admin`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct Admin {
    pub(crate) client: Client,
}

impl Client {
    /// Topic administration over this connection.
    pub fn admin(&self) -> Admin {
        Admin {
            client: self.clone(),
        }
    }
}

impl Admin {
    /// Creates `topic` with `settings`. A topic that already exists with
    /// the same settings is answered as created; with other settings the
    /// call fails with code `AlreadyExists`.
    pub async fn create_topic(
        &self,
        topic: &str,
        settings: &TopicSettings,
    ) -> Result<TopicInfo, ClientError> {
        let request = v1::CreateTopicRequest {
            topic: topic.to_owned(),
            settings: Some(settings_message(settings)),
        };
        let reply = self
            .client
            .call(request, |mut grpc, request| async move {
                grpc.create_topic(request).await
            })
            .await?;
        Ok(topic_info(reply))
    }

    /// Changes the settings `change` names, and only those; answers the
    /// topic as it is after the change.
    pub async fn update_topic(
        &self,
        topic: &str,
        change: &TopicChange,
    ) -> Result<TopicInfo, ClientError> {
        let request = v1::UpdateTopicRequest {
            topic: topic.to_owned(),
            settings: Some(settings_message(&change.set)),
            reset: change.reset.iter().map(|s| s.name().to_owned()).collect(),
        };
        let reply = self
            .client
            .call(request, |mut grpc, request| async move {
                grpc.update_topic(request).await
            })
            .await?;
        Ok(topic_info(reply))
    }

    /// Deletes `topic` and every message in it; answers how many messages
    /// it held. A topic created again under the name starts at offset 1.
    pub async fn delete_topic(&self, topic: &str) -> Result<u64, ClientError> {
        let request = v1::DeleteTopicRequest {
            topic: topic.to_owned(),
        };
        let reply = self
            .client
            .call(request, |mut grpc, request| async move {
                grpc.delete_topic(request).await
            })
            .await?;
        Ok(reply.messages_deleted)
    }

    /// One topic, with its settings; code `NotFound` if it does not exist.
    pub async fn describe_topic(&self, topic: &str) -> Result<TopicInfo, ClientError> {
        self.client.describe_topic(topic).await
    }

    /// Every topic, sorted by name, fetched a page at a time.
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>, ClientError> {
        self.client.list_topics().await
    }
}

/// The request message for `settings`.
fn settings_message(settings: &TopicSettings) -> v1::TopicSettings {
    v1::TopicSettings {
        retention: settings.retention.map(retention_message),
        retention_bytes: settings.retention_bytes,
        max_message_bytes: settings.max_message_bytes,
    }
}

fn retention_message(retention: Retention) -> v1::Retention {
    match retention {
        Retention::Forever => v1::Retention::forever(),
        Retention::MaxAge(age) => v1::Retention::max_age(age),
    }
}

/// The effective settings in a reply; `None` from a server that does not
/// report them (one older than topic settings).
pub(crate) fn effective_settings(
    settings: Option<v1::EffectiveSettings>,
) -> Option<EffectiveSettings> {
    let settings = settings?;
    let retention = match settings.retention?.age()? {
        None => Retention::Forever,
        Some(age) => Retention::MaxAge(age),
    };
    let source = |source: i32| match v1::SettingSource::try_from(source) {
        Ok(v1::SettingSource::Topic) => SettingSource::Topic,
        _ => SettingSource::ServerDefault,
    };
    Some(EffectiveSettings {
        retention: Effective {
            value: retention,
            source: source(settings.retention_source),
        },
        retention_bytes: Effective {
            value: settings.retention_bytes,
            source: source(settings.retention_bytes_source),
        },
        max_message_bytes: Effective {
            value: settings.max_message_bytes,
            source: source(settings.max_message_bytes_source),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_as_the_api_names_them() {
        for setting in Setting::ALL {
            assert_eq!(setting.name().parse::<Setting>(), Ok(setting));
        }
        assert_eq!("max-message-bytes".parse(), Ok(Setting::MaxMessageBytes));
        let error = "size".parse::<Setting>().expect_err("unknown");
        assert!(error.to_string().starts_with("no setting is called 'size'"));
    }

    #[test]
    fn effective_settings_round_trip_through_the_messages() {
        let message = v1::EffectiveSettings {
            retention: Some(retention_message(Retention::MaxAge(Duration::from_secs(
                3_600,
            )))),
            retention_source: v1::SettingSource::Topic.into(),
            retention_bytes: None,
            retention_bytes_source: v1::SettingSource::ServerDefault.into(),
            max_message_bytes: 1_024,
            max_message_bytes_source: v1::SettingSource::ServerDefault.into(),
        };
        let settings = effective_settings(Some(message)).expect("complete");
        assert_eq!(
            settings.retention,
            Effective {
                value: Retention::MaxAge(Duration::from_secs(3_600)),
                source: SettingSource::Topic
            }
        );
        assert_eq!(settings.retention_bytes.value, None);
        assert_eq!(settings.max_message_bytes.value, 1_024);
        assert_eq!(effective_settings(None), None);
    }
}
