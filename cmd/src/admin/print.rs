//! How `mkfk-admin` prints what the server answered: a table for people,
//! or JSON (`--json`) for programs.

use std::io::{self, Write};

use minikafka_client::{Effective, GroupInfo, SettingSource, TopicInfo};
use serde::Serialize;

use super::topics::{retention_seconds, retention_text};

/// How to print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns and labelled lines.
    Table,
    /// One JSON document.
    Json,
}

/// A topic as JSON.
#[derive(Serialize)]
struct JsonTopic<'a> {
    name: &'a str,
    earliest_offset: u64,
    next_offset: u64,
    message_count: u64,
    size_bytes: u64,
    /// RFC 3339; absent when the topic is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    oldest_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<JsonSettings>,
}

/// Effective settings as JSON: each value with its source
/// (`server_default` or `topic`); `null` is forever, or no size limit.
#[derive(Serialize)]
struct JsonSettings {
    retention: String,
    retention_seconds: Option<f64>,
    retention_source: &'static str,
    retention_bytes: Option<u64>,
    retention_bytes_source: &'static str,
    max_message_bytes: u64,
    max_message_bytes_source: &'static str,
}

fn source_name(source: SettingSource) -> &'static str {
    match source {
        SettingSource::ServerDefault => "server_default",
        SettingSource::Topic => "topic",
    }
}

fn json_topic(info: &TopicInfo) -> JsonTopic<'_> {
    JsonTopic {
        name: &info.name,
        earliest_offset: info.earliest_offset,
        next_offset: info.next_offset,
        message_count: info.message_count,
        size_bytes: info.size_bytes,
        oldest_timestamp: info
            .oldest_timestamp
            .map(|t| humantime::format_rfc3339_millis(t).to_string()),
        settings: info.settings.map(|s| JsonSettings {
            retention: retention_text(s.retention.value),
            retention_seconds: retention_seconds(s.retention.value),
            retention_source: source_name(s.retention.source),
            retention_bytes: s.retention_bytes.value,
            retention_bytes_source: source_name(s.retention_bytes.source),
            max_message_bytes: s.max_message_bytes.value,
            max_message_bytes_source: source_name(s.max_message_bytes.source),
        }),
    }
}

fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

fn size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// A setting's value for a table, with `*` marking one the topic sets.
fn cell<T>(setting: Effective<T>, text: impl Fn(T) -> String) -> String {
    match setting.source {
        SettingSource::Topic => format!("{}*", text(setting.value)),
        SettingSource::ServerDefault => text(setting.value),
    }
}

fn retention_bytes_text(bytes: Option<u64>) -> String {
    bytes.map_or("none".to_owned(), size)
}

/// Prints topics: a table with one row each, or a JSON array.
pub fn print_topics(out: &mut impl Write, output: Output, topics: &[TopicInfo]) -> io::Result<()> {
    if output == Output::Json {
        let topics: Vec<JsonTopic<'_>> = topics.iter().map(json_topic).collect();
        return write_json(out, &topics);
    }
    let header = [
        "NAME",
        "MESSAGES",
        "SIZE",
        "OFFSETS",
        "RETENTION",
        "RETENTION BYTES",
        "MAX MESSAGE",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut rows = vec![header];
    for topic in topics {
        let (retention, retention_bytes, max_message) = match topic.settings {
            Some(s) => (
                cell(s.retention, retention_text),
                cell(s.retention_bytes, retention_bytes_text),
                cell(s.max_message_bytes, size),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        rows.push(vec![
            topic.name.clone(),
            topic.message_count.to_string(),
            size(topic.size_bytes),
            offsets(topic),
            retention,
            retention_bytes,
            max_message,
        ]);
    }
    write_table(out, &rows)?;
    if topics.iter().any(|t| t.settings.is_some()) {
        writeln!(
            out,
            "(* the topic's own setting; the rest are the server's defaults)"
        )?;
    }
    Ok(())
}

fn offsets(topic: &TopicInfo) -> String {
    if topic.message_count == 0 {
        format!("none (next {})", topic.next_offset)
    } else {
        format!("{}..={}", topic.earliest_offset, topic.next_offset - 1)
    }
}

/// Prints one topic: labelled lines, or a JSON object.
pub fn print_topic(out: &mut impl Write, output: Output, topic: &TopicInfo) -> io::Result<()> {
    if output == Output::Json {
        return write_json(out, &json_topic(topic));
    }
    let oldest = topic.oldest_timestamp.map_or("-".to_owned(), |t| {
        humantime::format_rfc3339_seconds(t).to_string()
    });
    let mut lines = vec![
        ("topic", topic.name.clone()),
        ("messages", topic.message_count.to_string()),
        ("size", size(topic.size_bytes)),
        ("offsets", offsets(topic)),
        ("oldest message", oldest),
    ];
    if let Some(s) = topic.settings {
        let with_source = |text: String, source| format!("{text} ({source})");
        lines.extend([
            (
                "retention",
                with_source(retention_text(s.retention.value), s.retention.source),
            ),
            (
                "retention bytes",
                with_source(
                    retention_bytes_text(s.retention_bytes.value),
                    s.retention_bytes.source,
                ),
            ),
            (
                "max message bytes",
                with_source(size(s.max_message_bytes.value), s.max_message_bytes.source),
            ),
        ]);
    }
    for (label, value) in lines {
        writeln!(out, "{:<18} {value}", format!("{label}:"))?;
    }
    Ok(())
}

/// Writes `rows` (the first is the header) as left-aligned columns.
fn write_table(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

/// Prints group names: one per line, or a JSON array.
pub fn print_groups(out: &mut impl Write, output: Output, groups: &[String]) -> io::Result<()> {
    match output {
        Output::Json => write_json(out, &groups),
        Output::Table => {
            writeln!(out, "GROUP")?;
            groups.iter().try_for_each(|group| writeln!(out, "{group}"))
        }
    }
}

/// A group's position in one topic as JSON.
#[derive(Serialize)]
struct JsonGroupTopic<'a> {
    topic: &'a str,
    committed_offset: u64,
    /// RFC 3339.
    commit_time: String,
    metadata: &'a str,
    next_offset: u64,
    earliest_offset: u64,
    lag: u64,
    /// Absent when the group has read everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    oldest_unread_age_seconds: Option<f64>,
    expired_unread: u64,
}

/// Prints a group: a table with a row per topic, or a JSON object.
pub fn print_group(out: &mut impl Write, output: Output, group: &GroupInfo) -> io::Result<()> {
    let rfc3339 = |t| humantime::format_rfc3339_seconds(t).to_string();
    if output == Output::Json {
        let topics: Vec<JsonGroupTopic<'_>> = group
            .topics
            .iter()
            .map(|t| JsonGroupTopic {
                topic: &t.topic,
                committed_offset: t.commit.offset,
                commit_time: rfc3339(t.commit.time),
                metadata: &t.commit.metadata,
                next_offset: t.next_offset,
                earliest_offset: t.earliest_offset,
                lag: t.lag,
                oldest_unread_age_seconds: t.oldest_unread_age.map(|age| age.as_secs_f64()),
                expired_unread: t.expired_unread,
            })
            .collect();
        return write_json(
            out,
            &serde_json::json!({ "group": group.name, "topics": topics }),
        );
    }
    let header = [
        "TOPIC",
        "COMMITTED",
        "NEXT",
        "LAG",
        "OLDEST UNREAD",
        "EXPIRED UNREAD",
        "COMMITTED AT",
    ];
    let mut rows = vec![header.map(str::to_owned).to_vec()];
    for t in &group.topics {
        let age = t.oldest_unread_age.map_or("-".to_owned(), |age| {
            humantime::format_duration(std::time::Duration::from_secs(age.as_secs())).to_string()
        });
        rows.push(vec![
            t.topic.clone(),
            t.commit.offset.to_string(),
            t.next_offset.to_string(),
            t.lag.to_string(),
            age,
            t.expired_unread.to_string(),
            rfc3339(t.commit.time),
        ]);
    }
    writeln!(out, "group: {}", group.name)?;
    write_table(out, &rows)
}

/// Prints what a group delete removed.
pub fn print_group_deleted(
    out: &mut impl Write,
    output: Output,
    group: &str,
    commits_deleted: u64,
) -> io::Result<()> {
    match output {
        Output::Json => write_json(
            out,
            &serde_json::json!({ "group": group, "commits_deleted": commits_deleted }),
        ),
        Output::Table => writeln!(
            out,
            "deleted group '{group}' and its commits in {commits_deleted} topics"
        ),
    }
}

/// Prints where a reset moved a group.
pub fn print_reset(
    out: &mut impl Write,
    output: Output,
    group: &str,
    topic: &str,
    before: Option<u64>,
    offset: u64,
) -> io::Result<()> {
    match output {
        Output::Json => write_json(
            out,
            &serde_json::json!({ "group": group, "topic": topic, "previous_offset": before, "offset": offset }),
        ),
        Output::Table => {
            let before = before.map_or("no commit".to_owned(), |o| format!("offset {o}"));
            writeln!(
                out,
                "group '{group}' in topic '{topic}': now at offset {offset} (was {before})"
            )
        }
    }
}

/// Prints what a delete removed.
pub fn print_deleted(
    out: &mut impl Write,
    output: Output,
    topic: &str,
    messages_deleted: u64,
) -> io::Result<()> {
    match output {
        Output::Json => write_json(
            out,
            &serde_json::json!({ "topic": topic, "messages_deleted": messages_deleted }),
        ),
        Output::Table => writeln!(
            out,
            "deleted topic '{topic}' and its {messages_deleted} messages"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use minikafka_client::{EffectiveSettings, Retention};

    use super::*;

    fn topic() -> TopicInfo {
        TopicInfo {
            name: "orders".into(),
            earliest_offset: 3,
            next_offset: 11,
            message_count: 8,
            size_bytes: 2_048,
            oldest_timestamp: None,
            settings: Some(EffectiveSettings {
                retention: Effective {
                    value: Retention::MaxAge(Duration::from_secs(3 * 86_400)),
                    source: SettingSource::Topic,
                },
                retention_bytes: Effective {
                    value: None,
                    source: SettingSource::ServerDefault,
                },
                max_message_bytes: Effective {
                    value: 1 << 20,
                    source: SettingSource::ServerDefault,
                },
            }),
        }
    }

    fn printed(print: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        print(&mut out).expect("write to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_table_marks_the_topics_own_settings() {
        let text = printed(|out| print_topics(out, Output::Table, &[topic()]));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("NAME    MESSAGES  SIZE     OFFSETS"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("orders  8         2.0 KiB  3..=10   3days*"),
            "{text}"
        );
        assert!(lines[1].ends_with("none             1.0 MiB"), "{text}");
    }

    #[test]
    fn a_description_names_each_settings_source() {
        let text = printed(|out| print_topic(out, Output::Table, &topic()));
        assert!(
            text.contains("retention:         3days (topic)\n"),
            "{text}"
        );
        assert!(
            text.contains("max message bytes: 1.0 MiB (server default)\n"),
            "{text}"
        );
    }

    #[test]
    fn json_carries_values_and_sources() {
        let text = printed(|out| print_topic(out, Output::Json, &topic()));
        let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(value["name"], "orders");
        assert_eq!(value["settings"]["retention_seconds"], 259_200.0);
        assert_eq!(value["settings"]["retention_source"], "topic");
        assert_eq!(
            value["settings"]["retention_bytes"],
            serde_json::Value::Null
        );
        assert_eq!(
            value["settings"]["max_message_bytes_source"],
            "server_default"
        );
    }
}
