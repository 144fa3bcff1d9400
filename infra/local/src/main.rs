//! `handoff`: the local runtime's command line.
mod cli;
#[allow(dead_code)]
mod store;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    let code = cli::run(args)?;
    std::process::exit(code);
}
