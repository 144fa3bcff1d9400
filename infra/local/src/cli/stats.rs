//! `handoff stats` and `handoff review-accuracy`: the outcome figures and
//! the accuracy review, from the local run store.

use std::path::PathBuf;

use crate::store::all_runs;
use anyhow::anyhow;
use clap::Args;
use handoff_core::observe::review;
use handoff_core::observe::stats::{self, parse_since, Stats};
use handoff_core::pages::dashboard::duration;
use handoff_spec::Workflow;

use super::stack::open_store;

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
    let store = open_store(&args.data_dir)?;
    let since = chrono::Utc::now() - window;
    let figures = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let runs = all_runs(&store, None, MAX_RUNS).await?;
            stats::gather(&store, &runs, args.workflow.as_deref(), since)
                .await
                .map_err(|e| e.to_string())
        })
        .map_err(|e| anyhow!(e))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        let scope = match &args.workflow {
            Some(w) => format!("of {w}, last {}", args.since),
            None => format!("of all workflows, last {}", args.since),
        };
        print!("{}", text(&figures, &scope));
    }
    Ok(0)
}

/// How many runs (newest first) the figures look at, at most.
const MAX_RUNS: usize = 20_000;

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.0}%", 100.0 * r))
}

/// The figures as text.
fn text(s: &Stats, scope: &str) -> String {
    let mut out = format!("outcomes {scope}\n");
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<24} {v}\n"));
    line("runs received", s.received.to_string());
    line("completed", s.completed.to_string());
    line("rejected", s.rejected.to_string());
    line("failed", s.failed.to_string());
    line("open", s.open.to_string());
    line("auto-resolved", s.auto_resolved.to_string());
    line("reviewed", s.reviewed.to_string());
    line("approvals decided", s.approvals_decided.to_string());
    line("approval latency p50", duration(s.approval_latency_p50_ms));
    line("approval latency p90", duration(s.approval_latency_p90_ms));
    line(
        "override rate",
        format!(
            "{} ({} of {} reviewed AI answers)",
            percent(s.override_rate()),
            s.overrides,
            s.reviewed_answers
        ),
    );
    line(
        "mean AI confidence",
        s.mean_confidence
            .map_or_else(|| "—".into(), |c| format!("{c:.2}")),
    );
    if !s.labels.is_empty() {
        out.push_str("  accuracy by AI label (kept by the reviewer / reviewed)\n");
        for (label, a) in &s.labels {
            out.push_str(&format!(
                "    {label:<22} {:>4} {}/{}\n",
                percent(a.accuracy()),
                a.kept,
                a.reviewed
            ));
        }
    }
    out
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Only this workflow (default: every workflow with runs).
    #[arg(long)]
    pub workflow: Option<String>,
    /// The workflow specs `handoff up` was started with (default: the built-in ones).
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    /// How many days of reviewer decisions the review reads.
    #[arg(long, default_value_t = 7)]
    pub days: i64,
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
}

/// Runs the accuracy review now and stores it, as the weekly schedule would.
pub fn review_accuracy(args: ReviewArgs) -> anyhow::Result<i32> {
    let store = open_store(&args.data_dir)?;
    let catalog = super::stack::catalog_or_builtin(args.workflows.as_deref())?;
    let workflows: Vec<&Workflow> = match &args.workflow {
        Some(name) => vec![catalog
            .get(name)
            .ok_or_else(|| anyhow!("no workflow named {name}"))?
            .as_ref()],
        None => Vec::new(),
    };
    let reviews = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut workflows = workflows;
            if workflows.is_empty() {
                let with_runs: std::collections::BTreeSet<String> =
                    all_runs(&store, None, MAX_RUNS)
                        .await?
                        .into_iter()
                        .map(|r| r.workflow)
                        .collect();
                workflows = with_runs
                    .iter()
                    .filter_map(|name| catalog.get(name))
                    .map(|w| w.as_ref())
                    .collect();
            }
            review::run(&store, &workflows, chrono::Utc::now(), args.days.max(1))
                .await
                .map_err(|e| e.to_string())
        })
        .map_err(|e| anyhow!(e))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reviews)?);
        return Ok(0);
    }
    for r in &reviews {
        println!(
            "{} — last {} days: {} of {} AI labels kept by the reviewer ({})",
            r.workflow,
            args.days,
            r.kept,
            r.reviewed,
            r.accuracy()
                .map_or_else(|| "—".into(), |a| format!("{:.0}%", 100.0 * a))
        );
        for (label, l) in &r.labels {
            let changed: Vec<String> = l
                .changed_to
                .iter()
                .map(|(to, n)| format!("{to} ×{n}"))
                .collect();
            println!(
                "  {label:<22} {}/{} kept{}",
                l.kept,
                l.reviewed,
                if changed.is_empty() {
                    String::new()
                } else {
                    format!("; changed to {}", changed.join(", "))
                }
            );
        }
        for (label, a) in &r.autonomy {
            println!(
                "  autonomy {label:<13} {:?}: {} errors in {} verdicts, error bound {:.2}%{}",
                a.status,
                a.errors,
                a.samples,
                100.0 * a.error_bound,
                a.threshold.map_or_else(String::new, |t| format!(
                    ", acts alone at confidence {t:.2} ({:.0}% of its runs)",
                    100.0 * a.coverage
                ))
            );
        }
    }
    Ok(0)
}
