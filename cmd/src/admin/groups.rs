//! `mkfk-admin groups …`: list, describe, delete and reset consumer groups.

use std::time::SystemTime;

use minikafka_client::Client;

use super::print::{Output, print_group, print_group_deleted, print_groups, print_reset};

/// The `groups` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum GroupsCommand {
    /// List every group
    List,
    /// Describe a group: in each topic, its committed offset, the lag, the
    /// age of the oldest unread message, and what retention removed unread
    Describe {
        /// The group
        name: String,
    },
    /// Delete a group's commits in every topic
    Delete {
        /// The group
        name: String,
    },
    /// Move a group's position in one topic (a rewind or a skip), like
    /// kafka-consumer-groups --reset-offsets
    Reset {
        /// The group
        name: String,
        /// The topic
        #[arg(long)]
        topic: String,
        /// Where to move it
        #[command(flatten)]
        to: ResetTo,
    },
}

/// Where `groups reset` moves a group: exactly one of these.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ResetTo {
    /// To this offset: the next one the group reads
    #[arg(long, value_name = "N")]
    to_offset: Option<u64>,
    /// To the first message stored at or after this time: RFC 3339
    /// (2026-11-23T10:00:00Z) or a duration ago (15m)
    #[arg(long, value_name = "TIME", value_parser = crate::parse_time)]
    to_time: Option<SystemTime>,
    /// To the earliest message the topic still holds
    #[arg(long)]
    to_earliest: bool,
    /// To the end: only messages stored from now on
    #[arg(long)]
    to_end: bool,
}

/// Runs one `groups` subcommand against `client`, printing to standard
/// output.
pub async fn run(client: &Client, command: GroupsCommand, output: Output) -> anyhow::Result<()> {
    let admin = client.admin();
    let out = &mut std::io::stdout().lock();
    match command {
        GroupsCommand::List => print_groups(out, output, &admin.list_groups().await?)?,
        GroupsCommand::Describe { name } => {
            print_group(out, output, &admin.describe_group(&name).await?)?
        }
        GroupsCommand::Delete { name } => {
            let deleted = admin.delete_group(&name).await?;
            print_group_deleted(out, output, &name, deleted)?;
        }
        GroupsCommand::Reset { name, topic, to } => {
            let offset = match to {
                ResetTo {
                    to_offset: Some(offset),
                    ..
                } => offset,
                ResetTo {
                    to_time: Some(time),
                    ..
                } => client.offset_for_time(&topic, time).await?,
                ResetTo {
                    to_earliest: true, ..
                } => client.describe_topic(&topic).await?.earliest_offset,
                ResetTo { .. } => client.describe_topic(&topic).await?.next_offset,
            };
            let before = client.fetch_offset(&name, &topic).await?;
            client.commit_offset(&name, &topic, offset, None).await?;
            print_reset(out, output, &name, &topic, before.map(|c| c.offset), offset)?;
        }
    }
    Ok(())
}
