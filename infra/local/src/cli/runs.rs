//! `handoff runs`: the runs of a data dir, as a table.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use handoff_core::domain::RunStatus;

use super::stack::{open_store, runtime};

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub workflow: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
}

pub fn runs(args: RunsArgs) -> anyhow::Result<i32> {
    let store = open_store(&args.data_dir)?;
    let status = match &args.status {
        Some(s) => Some(RunStatus::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
            let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
            anyhow!("unknown status {s}; one of {}", known.join(", "))
        })?),
        None => None,
    };
    let runs = runtime()?
        .block_on(crate::store::all_runs(&store, status, args.limit.max(1)))
        .map_err(|e| anyhow!(e))?;
    println!(
        "{:<38} {:<20} {:<18} {:<9} {:<18} created",
        "run", "workflow", "status", "stage", "label"
    );
    for r in runs
        .iter()
        .filter(|r| args.workflow.as_ref().is_none_or(|w| &r.workflow == w))
    {
        println!(
            "{:<38} {:<20} {:<18} {:<9} {:<18} {}",
            r.id,
            r.workflow,
            r.status.as_str(),
            r.stage.as_str(),
            r.summary.label.clone().unwrap_or_default(),
            r.created_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(0)
}
