//! `mkfk-admin`: manages topics and consumer groups.

use std::process::ExitCode;

use clap::Parser;
use minikafka_cmd::Connection;
use minikafka_cmd::admin::groups::{self, GroupsCommand};
use minikafka_cmd::admin::print::Output;
use minikafka_cmd::admin::topics::{self, TopicsCommand};

/// Manages a minikafka server's topics (list, describe, create, alter and
/// delete them) and consumer groups (list, describe with lag, delete,
/// reset).
///
/// Creating, altering and deleting need a token with `admin = true` on a
/// server with tokens. Errors are one line on standard error, with exit
/// status 1 (2 for a bad command line).
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    server: Connection,
    /// Print JSON instead of a table
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// What to manage.
#[derive(clap::Subcommand)]
enum Command {
    /// Topics: list, describe, create, alter, delete
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Consumer groups: list, describe, delete, reset
    #[command(subcommand)]
    Groups(GroupsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    minikafka_cmd::logging::init("warn");
    let Some(runtime) = minikafka_cmd::runtime("mkfk-admin") else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mkfk-admin: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = if cli.json {
        Output::Json
    } else {
        Output::Table
    };
    let client = cli.server.connect().await?;
    match cli.command {
        Command::Topics(command) => topics::run(&client, command, output).await,
        Command::Groups(command) => groups::run(&client, command, output).await,
    }
}
