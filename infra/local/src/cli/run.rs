//! `handoff run`: one event to its end, on a stack of its own or on the
//! `handoff up` already serving the data dir.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client;
use crate::pages::run_view;
use crate::stack::{catalog_from_dir, Stack};
use anyhow::{anyhow, Context};
use clap::Args;
use handoff_core::domain::{RunId, RunStatus};
use handoff_core::ports::Runs;
use serde_json::{json, Value};

use super::show::{print_view, summary_json};
use super::stack::{
    init_logs, live_stack, own_client, runtime, serve, served_client, LlmArgs, StackArgs,
};

/// How long `handoff run` waits for each step of a run.
const RUN_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow the event is for (default: the event's own).
    #[arg(long)]
    pub workflow: Option<String>,
    /// An API Gateway webhook event (as in events/) or a bare JSON payload.
    pub event: PathBuf,
    #[command(flatten)]
    pub run: RunOptions,
}

/// How `handoff run` and `handoff mail` carry a run through.
#[derive(Debug, Args)]
pub struct RunOptions {
    /// Approve when the run asks for approval.
    #[arg(long, conflicts_with = "reject")]
    pub approve: bool,
    /// Reject when the run asks for approval.
    #[arg(long)]
    pub reject: bool,
    /// Print a machine-readable summary instead of the timeline.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// What starts the run.
pub enum Inbound {
    /// A JSON payload, signed as the workflow's sender signs it.
    Webhook(Value),
    /// A raw e-mail (`message/rfc822`), as a mail relay hands it over.
    Mail(Vec<u8>),
}

impl Inbound {
    async fn start(&self, client: &client::Client, workflow: &str) -> anyhow::Result<String> {
        match self {
            Inbound::Webhook(payload) => client.send(workflow, payload, &delivery_id()).await,
            Inbound::Mail(message) => client.send_mail(workflow, message).await,
        }
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(&args.event)
        .with_context(|| format!("reading {}", args.event.display()))?;
    let event: Value = serde_json::from_str(&text).context("the event is not JSON")?;
    let (sample_workflow, payload) = match client::sample_payload(&event) {
        Some((w, p)) => (Some(w), p),
        None => (None, event),
    };
    let workflow = args
        .workflow
        .clone()
        .or(sample_workflow)
        .ok_or_else(|| anyhow!("--workflow is required for a bare payload"))?;
    run_to_end(&args.run, &workflow, Inbound::Webhook(payload))
}

/// Starts one run with `inbound` and follows it to its end (or to its
/// approval request), on the data dir's `handoff up` if one serves it.
pub fn run_to_end(args: &RunOptions, workflow: &str, inbound: Inbound) -> anyhow::Result<i32> {
    init_logs();
    let mut options = args.stack.options(true)?;
    let verdict = match (args.approve, args.reject) {
        (true, _) => Some("approve"),
        (_, true) => Some("reject"),
        _ => None,
    };
    if let Some((url, _)) = live_stack(&args.stack.data_dir) {
        if args.llm.given() {
            eprintln!(
                "note: --llm / --models do not apply: the `handoff up` at {url} runs this event \
                 with the models it was started with"
            );
        }
        return runtime()?.block_on(run_remote(&url, args, workflow, &inbound, verdict));
    }
    // On stderr, so that `--json` keeps stdout to the summary.
    for line in args.llm.configure(&mut options)? {
        eprintln!("{line}");
    }
    runtime()?.block_on(async move {
        let (stack, addr, _server, _) = serve(options, 0).await?;
        let client = own_client(&stack, format!("http://{addr}"));
        let started = Instant::now();
        let run_id = inbound.start(&client, workflow).await?;
        let status = client.follow(&run_id, verdict, RUN_WITHIN).await?.status;
        // Let the execution record its end before reading the timeline.
        wait_execution_end(&stack, &run_id, Duration::from_secs(5)).await;
        let view = run_view(&stack, &run_id)
            .await
            .map_err(|e| anyhow!(e))?
            .ok_or_else(|| anyhow!("run {run_id} vanished"))?;
        let links = if status == "AWAITING_APPROVAL" {
            client.approval_links(&run_id).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        if args.json {
            let mut summary = summary_json(&view);
            summary["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
            summary["approval_links"] = json!(links);
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print_view(&view);
            if !links.is_empty() {
                println!(
                    "\nWaiting for approval. `handoff up --data-dir {}` serves these links:",
                    args.stack.data_dir.display()
                );
                for l in &links {
                    println!("  {l}");
                }
            }
            println!(
                "\n{status} in {:.0} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        Ok(if status == "FAILED" { 1 } else { 0 })
    })
}

/// `handoff run` against the `handoff up` already serving the data dir.
async fn run_remote(
    url: &str,
    args: &RunOptions,
    workflow: &str,
    inbound: &Inbound,
    verdict: Option<&str>,
) -> anyhow::Result<i32> {
    let catalog = match &args.stack.workflows {
        Some(dir) => Arc::new(catalog_from_dir(dir)?),
        None => handoff_workflows::shared(),
    };
    let client = served_client(&args.stack.data_dir, url, catalog)?;
    let started = Instant::now();
    let run_id = inbound.start(&client, workflow).await?;
    let status = client.follow(&run_id, verdict, RUN_WITHIN).await?.status;
    let run = client.run(&run_id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        println!("run {run_id}  workflow {workflow}  status {status}  (served by {url})");
        println!(
            "{:<12} {:<10} {:<28} {:>10}",
            "at", "stage", "event", "duration"
        );
        for e in run["audit"].as_array().into_iter().flatten() {
            let at = e["at"].as_str().unwrap_or_default();
            println!(
                "{:<12} {:<10} {:<28} {:>10}",
                at.get(11..23).unwrap_or(at),
                e["stage"].as_str().unwrap_or_default(),
                e["kind"].as_str().unwrap_or_default(),
                e["detail"]["duration_ms"]
                    .as_f64()
                    .map(|d| format!("{d:.1} ms"))
                    .unwrap_or_default()
            );
        }
        println!(
            "\n{status} in {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(if status == "FAILED" { 1 } else { 0 })
}

async fn wait_execution_end(stack: &Stack, run_id: &str, timeout: Duration) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        match stack.executions.execution_status(run_id).await {
            Ok(Some(status)) if status != "RUNNING" => return,
            Ok(None) => return,
            _ => {}
        }
        let run = stack.store.get_run(&RunId(run_id.to_string())).await;
        if matches!(run, Ok(Some(r)) if r.status == RunStatus::AwaitingApproval) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A fresh delivery id, so that the same event can be run again.
fn delivery_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("cli-{hex}")
}
