//! `handoff show`: one run's timeline; the printing `handoff run` shares.

use crate::pages::{self, run_view, RunView};
use crate::stack::Stack;
use anyhow::anyhow;
use clap::Args;
use serde_json::{json, Value};

use super::stack::{open_store, runtime, StackArgs};

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub run_id: String,
    #[arg(long)]
    pub json: bool,
    /// Print each LLM call's prompt and answer (sensitive values redacted).
    #[arg(long)]
    pub traces: bool,
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn show(args: ShowArgs) -> anyhow::Result<i32> {
    open_store(&args.stack.data_dir)?;
    let options = args.stack.options(true)?;
    let stack = Stack::build(options, "http://127.0.0.1")?;
    let view = runtime()?
        .block_on(run_view(&stack, &args.run_id))
        .map_err(|e| anyhow!(e))?;
    let Some(view) = view else {
        eprintln!("no run {}", args.run_id);
        return Ok(1);
    };
    if args.json {
        let mut json = summary_json(&view);
        json["llm_calls"] = llm_calls(&view).map(|row| row.detail.clone()).collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_view(&view);
        for row in llm_calls(&view) {
            print_llm_call(&row.detail, args.traces);
        }
        if !args.traces && llm_calls(&view).next().is_some() {
            println!("(--traces prints each call's prompt and answer)");
        }
    }
    Ok(0)
}

pub(super) fn summary_json(view: &RunView) -> Value {
    json!({
        "run_id": view.detail.run.id,
        "workflow": view.detail.run.workflow,
        "status": view.detail.run.status.as_str(),
        "execution": view.execution_status,
        "stages": view.rows.iter().map(|r| json!({
            "at": r.at, "stage": r.stage, "event": r.what, "duration_ms": r.duration_ms,
        })).collect::<Vec<_>>(),
        // What the context stage gathered, documents' readings included:
        // the same member the served run (`GET /runs/{id}`) has.
        "context": view.detail.context,
        "ai": view.detail.ai,
        "decision": view.detail.decision,
        "approvals": view.detail.approvals.iter().map(|a| json!({
            "id": a.id.to_string(), "status": format!("{:?}", a.status),
            "votes": a.votes.iter().map(|v| json!({"reviewer": v.reviewer, "verdict": format!("{:?}", v.verdict)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "actions": view.detail.actions,
    })
}

fn llm_calls(view: &RunView) -> impl Iterator<Item = &pages::TimelineRow> {
    view.rows.iter().filter(|r| r.what == "llm.call")
}

/// One line per call; with `traces`, the prompt and the answer after it.
fn print_llm_call(d: &Value, traces: bool) {
    let s = |key: &str| d[key].as_str().unwrap_or("").to_string();
    println!(
        "LLM {} via {} ({}): {}",
        s("task"),
        s("tier"),
        s("model"),
        s("outcome")
    );
    if traces {
        println!("  system: {}", s("system"));
        for turn in d["turns"].as_array().into_iter().flatten() {
            println!(
                "  {}: {}",
                turn["role"].as_str().unwrap_or(""),
                turn["text"].as_str().unwrap_or("")
            );
        }
        println!("  answer: {}", d["answer"]);
    }
}

pub(super) fn print_view(view: &RunView) {
    let r = &view.detail.run;
    println!(
        "run {}  workflow {}  status {}",
        r.id,
        r.workflow,
        r.status.as_str()
    );
    println!(
        "{:<12} {:<10} {:<28} {:>10}",
        "at", "stage", "event", "duration"
    );
    for row in &view.rows {
        println!(
            "{:<12} {:<10} {:<28} {:>10}",
            row.at.format("%H:%M:%S%.3f"),
            row.stage,
            row.what,
            row.duration_ms
                .map(|d| format!("{d:.1} ms"))
                .unwrap_or_default()
        );
    }
    if let Some(Value::Object(ai)) = &view.detail.ai {
        // One line per task: `ai.<task>` and the tier that answered.
        for (task, out) in ai
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "needs_review" | "review_reasons"))
        {
            let tier = out["tier"].as_str().unwrap_or("-");
            let what = if let Some(label) = out["label"].as_str() {
                format!("{label} ({})", out["confidence"])
            } else if let Some(text) = out["text"].as_str() {
                let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let cut: String = line.chars().take(60).collect();
                if cut.len() < line.len() {
                    format!("{cut}…")
                } else {
                    cut
                }
            } else {
                out.to_string()
            };
            println!("AI {task}: {what}  [{tier}]");
        }
    }
    if let Some(d) = &view.detail.decision {
        println!(
            "decision: route {} priority {} approval {}",
            d["route"], d["priority"], d["needs_approval"]
        );
    }
    for a in &view.detail.approvals {
        println!(
            "approval {} {:?} ({} vote(s))",
            a.id,
            a.status,
            a.votes.len()
        );
    }
    for a in &view.detail.actions {
        println!(
            "action {}: {}",
            a["name"].as_str().unwrap_or("?"),
            if a["succeeded"] == true {
                "ok"
            } else if a["dry_run"] == true {
                "dry run, not sent"
            } else {
                "failed"
            }
        );
    }
}
