//! `handoff demo`: the events/ samples played through a running stack.

use std::path::PathBuf;
use std::time::Duration;

use crate::client::{self, Client};
use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::stack::{runtime, served_client};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The running stack (default: the one `handoff up` recorded in the data dir).
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
    /// Leave approvals waiting instead of approving them.
    #[arg(long)]
    pub no_approve: bool,
}

pub fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let url = match args.url {
        Some(u) => u,
        None => {
            let path = args.data_dir.join("up.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "{} not found: start `handoff up` first or pass --url",
                    path.display()
                )
            })?;
            let v: Value = serde_json::from_str(&text)?;
            v["url"].as_str().unwrap_or_default().to_string()
        }
    };
    let client = served_client(&args.data_dir, &url, handoff_workflows::shared())?;
    runtime()?.block_on(play_demo(&client, !args.no_approve))?;
    println!("Open {}/", client.base);
    Ok(0)
}

/// Plays the samples, approves what waits (unless told not to) and prints
/// where each run ended.
pub(super) async fn play_demo(client: &Client, approve: bool) -> anyhow::Result<()> {
    let stamp = chrono::Utc::now().timestamp_millis();
    let mut runs = Vec::new();
    for (i, (workflow, payload)) in client::samples().into_iter().enumerate() {
        let run_id = client
            .send(&workflow, &payload, &format!("demo-{stamp}-{i}"))
            .await?;
        println!("webhook  {workflow:<20} → accepted, run {run_id}");
        runs.push((workflow, run_id));
    }
    let verdict = approve.then_some("approve");
    for (workflow, run_id) in &runs {
        let driven = client
            .follow(run_id, verdict, Duration::from_secs(30))
            .await?;
        if driven.decided > 0 {
            println!(
                "approved {workflow:<20}   run {run_id} ({} reviewer link(s) POSTed)",
                driven.decided
            );
        }
        println!(
            "finished {workflow:<20}   run {run_id}: {}  {}/timeline/{run_id}",
            driven.status, client.base
        );
    }
    Ok(())
}
