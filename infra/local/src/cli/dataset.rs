//! `handoff dataset export`: the runs reviewers judged, as JSONL that
//! `handoff eval --task W/T --data FILE` reads.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use handoff_core::dataset;

use super::stack::{open_store, runtime};

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Write (text, context digest, final label, final fields, reviewer)
    /// per judged run as JSONL.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub workflow: String,
    /// Only verdicts of the last `30d`, `12h`, `2w`, …
    #[arg(long, value_name = "AGE")]
    pub since: Option<String>,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The workflow specs `handoff up` was started with (default: the built-in ones).
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
}

pub fn run(command: DatasetCommand) -> anyhow::Result<i32> {
    let DatasetCommand::Export(args) = command;
    let catalog = super::stack::catalog_or_builtin(args.workflows.as_deref())?;
    let workflow = catalog
        .get(&args.workflow)
        .ok_or_else(|| anyhow!("no workflow `{}`", args.workflow))?;
    let since = super::stack::since_age(args.since.as_deref())?;
    let store = open_store(&args.data_dir)?;
    let examples = runtime()?
        .block_on(dataset::export(&store, workflow, since))
        .map_err(|e| anyhow!("{e}"))?;
    let mut lines = Vec::new();
    for e in &examples {
        serde_json::to_writer(&mut lines, e)?;
        lines.push(b'\n');
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &lines).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{} examples written to {}", examples.len(), path.display());
        }
        None => std::io::stdout().lock().write_all(&lines)?,
    }
    Ok(0)
}
