//! The outcome figures of `handoff stats` and the dashboard's "Outcomes"
//! section, read from the run store: the local counterpart of the
//! CloudWatch dashboard.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use handoff_core::domain::Run;
use handoff_core::observe::autonomy::AutonomyStatus;
use handoff_core::observe::review::AccuracyReview;
use handoff_core::observe::stats::Stats;
use handoff_core::ports::RunStore;
use maud::{html, Markup};

use crate::store::all_runs;

/// How many runs (newest first) the figures look at, at most.
const MAX_RUNS: usize = 20_000;

/// The figures for `workflow` (all when `None`) since `since`.
pub async fn gather(
    store: &dyn RunStore,
    workflow: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Stats, String> {
    let runs = all_runs(store, None, MAX_RUNS).await?;
    let in_scope = |r: &&Run| r.created_at >= since && workflow.is_none_or(|w| w == r.workflow);
    let mut approvals = Vec::new();
    for run in runs.iter().filter(in_scope) {
        approvals.extend(
            store
                .approvals_of_run(&run.id)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let workflows: BTreeSet<&str> = runs
        .iter()
        .filter(in_scope)
        .map(|r| r.workflow.as_str())
        .collect();
    let mut feedback = Vec::new();
    for name in workflows {
        feedback.extend(
            store
                .list_feedback(name, MAX_RUNS)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(Stats::compute(
        &runs, &approvals, &feedback, workflow, since,
    ))
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.0}%", 100.0 * r))
}

fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) if ms < 120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) if ms < 7_200_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        Some(ms) => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

/// `handoff stats` as text.
pub fn text(s: &Stats, scope: &str) -> String {
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

/// The dashboard's section: figures, an outcome bar and accuracy per label.
pub fn section(s: &Stats, scope: &str) -> Markup {
    html! {
        h2 id="outcomes" { "Outcomes (" (scope) ")" }
        div class="grid" {
            div class="card" { div class="big" { (s.completed) " / " (s.rejected) " / " (s.failed) } "completed / rejected / failed" }
            div class="card" { div class="big" { (duration(s.approval_latency_p50_ms)) } "approval latency p50 (p90 " (duration(s.approval_latency_p90_ms)) ")" }
            div class="card" { div class="big" { (percent(s.override_rate())) } "override rate (" (s.overrides) " of " (s.reviewed_answers) ")" }
            div class="card" { div class="big" { (s.mean_confidence.map_or_else(|| "—".into(), |c| format!("{c:.2}"))) } "mean AI confidence" }
        }
        (outcome_bar(s))
        h3 { "Accuracy by AI label" }
        @if s.labels.is_empty() { p class="muted" { "No reviewed AI answers yet." } } @else { (accuracy_chart(s)) }
    }
}

fn outcome_bar(s: &Stats) -> Markup {
    let parts = [
        ("auto-resolved", s.auto_resolved, "#0a7d32"),
        ("reviewed", s.reviewed, "#e0a800"),
        ("failed", s.failed, "#b3261e"),
        ("open", s.open, "#9aa5b1"),
    ];
    let total = parts.iter().map(|p| p.1).sum::<usize>().max(1) as f64;
    let w = 600.0;
    let mut x = 0.0;
    let segments: Vec<(&str, usize, &str, f64, f64)> = parts
        .iter()
        .map(|&(name, n, colour)| {
            let width = w * n as f64 / total;
            x += width;
            (name, n, colour, x - width, width)
        })
        .collect();
    html! {
        svg width=(w) height="24" style="margin-top:.8rem" role="img" aria-label="run outcomes" xmlns="http://www.w3.org/2000/svg" {
            @for (name, n, colour, x, width) in segments {
                rect x=(x) y="0" width=(width) height="20" fill=(colour) { title { (name) ": " (n) } }
            }
        }
        p class="muted" {
            @for (i, (name, n, _)) in parts.iter().enumerate() {
                @if i > 0 { ", " } (name) " " (n)
            }
        }
    }
}

fn accuracy_chart(s: &Stats) -> Markup {
    let row = 22.0;
    let (label_w, bar_w) = (180.0, 360.0);
    let h = row * s.labels.len() as f64;
    html! {
        svg width=(label_w + bar_w + 90.0) height=(h) role="img" aria-label="accuracy by AI label" xmlns="http://www.w3.org/2000/svg" {
            @for (i, (label, a)) in s.labels.iter().enumerate() {
                @let y = i as f64 * row;
                @let kept = bar_w * a.accuracy().unwrap_or(0.0);
                text x="0" y=(y + 15.0) font-size="12" { (label) }
                rect x=(label_w) y=(y + 3.0) width=(bar_w) height=(row - 6.0) fill="#f3d5d3" {}
                rect x=(label_w) y=(y + 3.0) width=(kept) height=(row - 6.0) fill="#0a7d32" {
                    title { (a.kept) " of " (a.reviewed) " kept" }
                }
                text x=(label_w + bar_w + 6.0) y=(y + 15.0) font-size="12" { (percent(a.accuracy())) " (" (a.kept) "/" (a.reviewed) ")" }
            }
        }
    }
}

/// The latest stored accuracy review of each workflow that has one.
pub fn reviews_section(reviews: &[AccuracyReview]) -> Markup {
    html! {
        h2 id="accuracy-review" { "Accuracy review" }
        @if reviews.is_empty() {
            p class="muted" { "No review yet: run " code { "handoff review-accuracy" } "." }
        } @else {
            table {
                tr { th { "workflow" } th { "period" } th { "AI label" } th { "kept / reviewed" } th { "changed to" } }
                @for r in reviews {
                    @for (label, l) in &r.labels {
                        tr {
                            td { (r.workflow) }
                            td { (r.from.format("%Y-%m-%d")) " – " (r.to.format("%Y-%m-%d")) }
                            td { (label) }
                            td class="num" { (l.kept) " / " (l.reviewed) }
                            td { @for (i, (to, n)) in l.changed_to.iter().enumerate() { @if i > 0 { ", " } (to) " ×" (n) } }
                        }
                    }
                }
            }
            @if reviews.iter().any(|r| !r.autonomy.is_empty()) {
                h3 id="autonomy" { "Earned autonomy" }
                table {
                    tr { th { "workflow" } th { "label" } th { "status" } th { "errors / verdicts" } th { "error bound" } th { "acts alone at" } th { "coverage" } }
                    @for r in reviews {
                        @for (label, a) in &r.autonomy {
                            tr {
                                td { (r.workflow) }
                                td { (label) }
                                td { (match a.status { AutonomyStatus::Auto => "acts alone", AutonomyStatus::Review => "under review" }) }
                                td class="num" { (a.errors) " / " (a.samples) }
                                td class="num" { (format!("{:.2}%", 100.0 * a.error_bound)) }
                                td class="num" { (a.threshold.map_or_else(|| "—".to_string(), |t| format!("≥ {t:.2}"))) }
                                td class="num" { (format!("{:.0}%", 100.0 * a.coverage)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
