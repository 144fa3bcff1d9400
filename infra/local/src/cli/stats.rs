//! `handoff stats`: the outcome figures from the local run store.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::Args;
use handoff_core::observe::stats::parse_since;
use handoff_local::outcomes;
use handoff_local::sqlite::SqliteStore;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this workflow's runs.
    #[arg(long)]
    pub workflow: Option<String>,
    /// How far back: `90m`, `24h`, `7d`, `2w`.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
}

pub fn stats(args: StatsArgs) -> anyhow::Result<i32> {
    let window = parse_since(&args.since).ok_or_else(|| {
        anyhow!(
            "--since {}: expected a number and s, m, h, d or w",
            args.since
        )
    })?;
    let path = args.data_dir.join("handoff.db");
    if !path.exists() {
        bail!(
            "no runs yet: {} does not exist (start `handoff up`)",
            path.display()
        );
    }
    let store = SqliteStore::open(&path).map_err(|e| anyhow!("{e}"))?;
    let since = chrono::Utc::now() - window;
    let figures = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(outcomes::gather(&store, args.workflow.as_deref(), since))
        .map_err(|e| anyhow!(e))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        let scope = match &args.workflow {
            Some(w) => format!("of {w}, last {}", args.since),
            None => format!("of all workflows, last {}", args.since),
        };
        print!("{}", outcomes::text(&figures, &scope));
    }
    Ok(0)
}
