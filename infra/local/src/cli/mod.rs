mod asl;
mod asl_tasks;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "handoff", about = "Run handoff workflows locally")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Amazon States Language tools: validate, run, conformance.
    #[command(subcommand)]
    Asl(asl::AslCommand),
}

/// Runs the chosen subcommand and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Asl(cmd) => asl::run(cmd),
    }
}
