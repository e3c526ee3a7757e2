//! `mkfk-admin topics …`: list, describe, create, alter and delete topics.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use minikafka_client::{Client, Retention, Setting, TopicChange, TopicSettings};

use super::print::{Output, print_deleted, print_topic, print_topics};

/// The `topics` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TopicsCommand {
    /// List every topic, with its size and settings
    List,
    /// Describe one topic: its offsets, size and each setting with its source
    Describe {
        /// The topic
        name: String,
    },
    /// Create a topic; settings not given follow the server's defaults.
    /// Running it again with the same settings succeeds.
    Create {
        /// The topic
        name: String,
        /// Its settings
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Change the settings named, and only those
    Alter {
        /// The topic
        name: String,
        /// The settings to set
        #[command(flatten)]
        settings: SettingsArgs,
        /// Return these settings to the server's default: retention,
        /// retention-bytes, max-message-bytes
        #[arg(long, num_args = 1.., value_name = "SETTING")]
        reset: Vec<Setting>,
    },
    /// Delete a topic and every message in it. Asks for confirmation at a
    /// terminal; elsewhere --yes is required
    Delete {
        /// The topic
        name: String,
        /// Delete without asking
        #[arg(long)]
        yes: bool,
    },
}

/// The settings a topic can have of its own.
#[derive(Debug, clap::Args)]
pub struct SettingsArgs {
    /// Remove messages older than this (such as 12h or 3d), or 'forever'
    #[arg(long, value_parser = parse_retention)]
    retention: Option<Retention>,
    /// Remove the oldest messages while the topic holds more than this
    /// (such as 10GiB)
    #[arg(long, value_parser = parse_size)]
    retention_bytes: Option<u64>,
    /// The largest message the topic accepts (such as 1MiB), at most the
    /// server's limit
    #[arg(long, value_parser = parse_size)]
    max_message_bytes: Option<u64>,
}

impl SettingsArgs {
    fn settings(&self) -> TopicSettings {
        TopicSettings {
            retention: self.retention,
            retention_bytes: self.retention_bytes,
            max_message_bytes: self.max_message_bytes,
        }
    }

    fn is_empty(&self) -> bool {
        self.settings() == TopicSettings::default()
    }
}

/// `forever`, or a positive duration such as `90s`, `12h` or `3d`.
pub fn parse_retention(value: &str) -> Result<Retention, String> {
    if value == "forever" {
        return Ok(Retention::Forever);
    }
    match humantime::parse_duration(value) {
        Ok(age) if !age.is_zero() => Ok(Retention::MaxAge(age)),
        _ => Err(format!(
            "'{value}' is not a retention: give a positive duration such as 12h or 3d, or 'forever'"
        )),
    }
}

/// A positive size such as `512KiB`, `10GiB` or `1048576` (bytes).
pub fn parse_size(value: &str) -> Result<u64, String> {
    match value.parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() > 0 => Ok(size.as_u64()),
        _ => Err(format!(
            "'{value}' is not a size: give a positive size such as 1MiB, 10GiB or 1048576 (bytes)"
        )),
    }
}

/// Runs one `topics` subcommand against `client`, printing to standard
/// output.
pub async fn run(client: &Client, command: TopicsCommand, output: Output) -> anyhow::Result<()> {
    let admin = client.admin();
    let out = &mut std::io::stdout().lock();
    match command {
        TopicsCommand::List => print_topics(out, output, &admin.list_topics().await?)?,
        TopicsCommand::Describe { name } => {
            print_topic(out, output, &admin.describe_topic(&name).await?)?
        }
        TopicsCommand::Create { name, settings } => {
            let info = admin.create_topic(&name, &settings.settings()).await?;
            print_topic(out, output, &info)?;
        }
        TopicsCommand::Alter {
            name,
            settings,
            reset,
        } => {
            if settings.is_empty() && reset.is_empty() {
                bail!(
                    "nothing to change: give a setting (--retention, --retention-bytes, \
                     --max-message-bytes) or --reset"
                );
            }
            let change = TopicChange {
                set: settings.settings(),
                reset,
            };
            print_topic(out, output, &admin.update_topic(&name, &change).await?)?;
        }
        TopicsCommand::Delete { name, yes } => {
            if !yes {
                confirm_delete(client, &name).await?;
            }
            let deleted = admin.delete_topic(&name).await?;
            print_deleted(out, output, &name, deleted)?;
        }
    }
    Ok(())
}

/// Asks at the terminal whether to delete `topic`, saying what it holds;
/// refuses when standard input is not a terminal (a script must say --yes).
async fn confirm_delete(client: &Client, topic: &str) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to delete topic '{topic}' without confirmation: standard input is not a \
             terminal; pass --yes to delete it"
        );
    }
    let info = client.admin().describe_topic(topic).await?;
    eprint!(
        "Delete topic '{topic}' and its {} messages? This cannot be undone. Type the topic's \
         name to confirm: ",
        info.message_count
    );
    std::io::stderr().flush().context("writing the question")?;
    let answer = tokio::task::spawn_blocking(move || {
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer).map(|_| answer)
    })
    .await
    .context("reading the answer panicked")?
    .context("reading the answer")?;
    if answer.trim() != topic {
        bail!("topic '{topic}' was not deleted: the answer did not match its name");
    }
    Ok(())
}

/// How a retention reads in a table: `forever` or a duration such as `3days`.
pub fn retention_text(retention: Retention) -> String {
    match retention {
        Retention::Forever => "forever".to_owned(),
        Retention::MaxAge(age) => humantime::format_duration(age).to_string(),
    }
}

/// A retention in seconds; `None` for forever (for JSON).
pub fn retention_seconds(retention: Retention) -> Option<f64> {
    match retention {
        Retention::Forever => None,
        Retention::MaxAge(age) => Some(age.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retentions_are_durations_or_forever() {
        assert_eq!(parse_retention("forever"), Ok(Retention::Forever));
        assert_eq!(
            parse_retention("3d"),
            Ok(Retention::MaxAge(Duration::from_secs(3 * 86_400)))
        );
        let error = parse_retention("0s").expect_err("zero");
        assert!(error.contains("positive duration"), "{error}");
        assert!(parse_retention("soon").is_err());
    }

    #[test]
    fn sizes_are_positive_byte_counts() {
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        let error = parse_size("0").expect_err("zero");
        assert!(error.contains("positive size"), "{error}");
        assert!(parse_size("-1").is_err());
    }
}
