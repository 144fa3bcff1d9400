//! `GET /`: what is running, waiting and failing, how the runs ended, how
//! often reviewers keep the AI's answer, and which labels act alone. The
//! same page in a deployment and under `handoff up`; charts are inline SVG.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Timelike, Utc};
use maud::{html, Markup};

use crate::domain::{Approval, Run, RunStatus};
use crate::observe::autonomy::AutonomyStatus;
use crate::observe::review::AccuracyReview;
use crate::observe::stats::Stats;
use crate::pages::console::{self, Console};

/// Which runs the list at the bottom shows (`?workflow=…&status=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.workflow.is_none() && self.status.is_none()
    }

    fn keeps(&self, run: &Run) -> bool {
        self.workflow.as_ref().is_none_or(|w| *w == run.workflow)
            && self.status.is_none_or(|s| s == run.status)
    }
}

/// Everything the page shows, already limited to what the caller may read.
pub struct DashboardView<'a> {
    pub console: &'a Console,
    /// Newest first.
    pub runs: &'a [Run],
    /// Older runs were left out of the counts.
    pub truncated: bool,
    pub pending: &'a [Approval],
    /// The caller's workflows: each has a row, runs or not.
    pub workflows: &'a [String],
    /// The outcome figures, and the period (and workflow) they cover.
    pub outcomes: &'a Stats,
    pub outcomes_scope: &'a str,
    /// The latest accuracy review of each workflow that has one.
    pub reviews: &'a [AccuracyReview],
    /// Reviewed AI answers, all time, and how many the reviewer changed.
    pub judged: usize,
    pub overridden: usize,
    pub filter: &'a Filter,
    pub now: DateTime<Utc>,
}

/// How many runs the list at the bottom shows.
const LISTED: usize = 100;

pub fn render(view: &DashboardView<'_>) -> String {
    let finished: Vec<&Run> = view.runs.iter().filter(|r| r.status.is_final()).collect();
    let reviewed = finished.iter().filter(|r| r.summary.reviewed).count();
    let auto = finished.len() - reviewed;
    let mut by: BTreeMap<&str, BTreeMap<&'static str, usize>> = view
        .workflows
        .iter()
        .map(|w| (w.as_str(), BTreeMap::new()))
        .collect();
    for run in view.runs {
        *by.entry(&run.workflow)
            .or_default()
            .entry(run.status.as_str())
            .or_default() += 1;
    }
    let listed: Vec<&Run> = view
        .runs
        .iter()
        .filter(|r| view.filter.keeps(r))
        .take(LISTED)
        .collect();
    console::page(
        view.console,
        "Dashboard",
        html! {
            h1 { "handoff" }
            div class="grid" {
                div class="card" {
                    div class="big" { (view.runs.len()) }
                    @if view.truncated { "latest runs (older ones not counted)" } @else { "runs" }
                }
                div class="card" { div class="big" { (view.pending.len()) } "pending approvals" }
                div class="card" { div class="big" { (auto) " / " (reviewed) } "auto-resolved / reviewed" }
                div class="card" {
                    div class="big" { (rate(view.overridden, view.judged)) }
                    "override rate (" (view.overridden) " of " (view.judged) " reviewed AI answers changed)"
                }
            }
            h2 { "Runs per minute (last 30 minutes)" }
            (per_minute_chart(view.runs, view.now))
            h2 { "Auto-resolved vs reviewed" }
            (split_bar(auto, reviewed))
            (outcomes(view.outcomes, view.outcomes_scope))
            (reviews(view.reviews))
            h2 { "Runs by workflow and status" }
            table id="by-workflow" {
                tr { th { "workflow" } @for s in RunStatus::ALL { th { (s.as_str()) } } }
                @for (wf, counts) in &by {
                    tr {
                        td { a href={ "/?workflow=" (wf) } { (wf) } }
                        @for s in RunStatus::ALL {
                            td class="num" {
                                @let n = counts.get(s.as_str()).copied().unwrap_or(0);
                                @if n > 0 { a href={ "/?workflow=" (wf) "&status=" (s.as_str()) } { (n) } } @else { "0" }
                            }
                        }
                    }
                }
            }
            h2 id="pending" { "Pending approvals" }
            @if view.pending.is_empty() { p class="muted" { "None." } } @else {
                table {
                    tr { th { "run" } th { "workflow" } th { "reviewers" } th { "votes" } th { "expires" } }
                    @for a in view.pending {
                        tr {
                            td { a href=(view.console.run_href(&a.run_id)) { (a.run_id) } }
                            td { (a.workflow) }
                            td { (a.reviewers.join(", ")) }
                            td { (a.votes.len()) " of " (a.required) }
                            td { (a.expires_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                        }
                    }
                }
            }
            h2 { "Runs" @if !view.filter.is_empty() { " (filtered — " a href="/" { "all" } ")" } }
            @if listed.is_empty() { p class="muted" { "No runs yet." } } @else {
                table id="runs" {
                    tr { th { "run" } th { "workflow" } th { "status" } th { "stage" } th { "AI label" } th { "route" } th { "created" } }
                    @for r in &listed {
                        tr {
                            td { a href=(view.console.run_href(&r.id)) { (r.id) } }
                            td { (r.workflow) }
                            td class={ "s-" (r.status.as_str()) } { (r.status.as_str()) }
                            td { (r.stage.as_str()) }
                            td { (r.summary.label.as_deref().unwrap_or("–"))
                                 @if let Some(c) = r.summary.confidence { " (" (format!("{c:.2}")) ")" } }
                            td { (r.summary.route.as_deref().unwrap_or("–")) }
                            td { (r.created_at.format("%Y-%m-%d %H:%M:%S")) }
                        }
                    }
                }
            }
        },
    )
}

fn rate(n: usize, of: usize) -> String {
    if of == 0 {
        "—".into()
    } else {
        format!("{:.0}%", 100.0 * n as f64 / of as f64)
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.0}%", 100.0 * r))
}

/// A wait in the unit a person reads it in.
pub fn duration(ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) if ms < 120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) if ms < 7_200_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        Some(ms) => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

fn per_minute_chart(runs: &[Run], now: DateTime<Utc>) -> Markup {
    const MINUTES: i64 = 30;
    let end = now
        .with_second(0)
        .unwrap_or(now)
        .with_nanosecond(0)
        .unwrap_or(now);
    let mut counts = vec![0usize; MINUTES as usize];
    for r in runs {
        let ago = (end - r.created_at.with_second(0).unwrap_or(r.created_at)).num_minutes();
        if (0..MINUTES).contains(&ago) {
            counts[(MINUTES - 1 - ago) as usize] += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let (w, h) = (600.0, 120.0);
    let bar = w / MINUTES as f64;
    html! {
        svg width=(w) height=(h + 20.0) role="img" aria-label="runs per minute" xmlns="http://www.w3.org/2000/svg" {
            @for (i, n) in counts.iter().enumerate() {
                @let bh = h * (*n as f64) / (max as f64);
                rect x=(i as f64 * bar + 1.0) y=(h - bh) width=(bar - 2.0) height=(bh) fill="#3b6fd8" {
                    title { (n) " runs at " ((end - Duration::minutes(MINUTES - 1 - i as i64)).format("%H:%M")) }
                }
            }
            line x1="0" y1=(h) x2=(w) y2=(h) stroke="#999" {}
            text x="0" y=(h + 15.0) font-size="11" { "-30 min" }
            text x=(w - 30.0) y=(h + 15.0) font-size="11" { "now" }
            text x="4" y="12" font-size="11" { "max " (max) }
        }
    }
}

fn split_bar(auto: usize, reviewed: usize) -> Markup {
    let total = (auto + reviewed).max(1) as f64;
    let w = 600.0;
    let a = w * auto as f64 / total;
    html! {
        svg width=(w) height="28" role="img" aria-label="auto-resolved vs reviewed" xmlns="http://www.w3.org/2000/svg" {
            rect x="0" y="0" width=(a) height="20" fill="#0a7d32" {}
            rect x=(a) y="0" width=(w - a) height="20" fill="#e0a800" {}
        }
        p class="muted" { "green: auto-resolved (" (auto) "), amber: reviewed by a person (" (reviewed) ")" }
    }
}

/// Figures, an outcome bar and accuracy per label.
fn outcomes(s: &Stats, scope: &str) -> Markup {
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

/// The latest accuracy review of each workflow, and its earned autonomy.
fn reviews(reviews: &[AccuracyReview]) -> Markup {
    html! {
        h2 id="accuracy-review" { "Accuracy review" }
        @if reviews.is_empty() {
            p class="muted" { "No review yet: the weekly review (or " code { "handoff review-accuracy" } ") writes one." }
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
