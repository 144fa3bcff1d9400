//! `handoff secrets`: the data dir's local secrets.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
}

pub fn secrets(args: SecretsArgs) -> anyhow::Result<i32> {
    let path = args.data_dir.join("secrets.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} not found: `handoff up` creates it", path.display()))?;
    println!("# {}", path.display());
    println!("{text}");
    Ok(0)
}
