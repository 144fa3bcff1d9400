//! The local pages: the dashboard at `/` (runs by status and workflow,
//! pending approvals, charts as inline SVG), a run's timeline and the
//! outbox. Server-rendered with maud, readable without JavaScript.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Timelike, Utc};
use handoff_core::domain::{Approval, Run, RunId, RunStatus};
use handoff_core::http::HttpResponse;
use handoff_core::pages::{layout, truncate};
use handoff_core::ports::{Approvals, FeedbackLog};
use handoff_core::stages::run_detail::RunDetail;
use maud::{html, Markup, PreEscaped};
use serde_json::{json, Value};

use crate::stack::Stack;

const EXTRA_STYLE: &str = "body{max-width:72rem!important}th{width:auto!important}nav a{margin-right:1rem}\
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}\
.card{border:1px solid #ddd;border-radius:6px;padding:.8rem}.big{font-size:1.6rem;font-weight:600}\
td.num{text-align:right}.s-COMPLETED{color:#0a7d32}.s-FAILED,.s-REJECTED{color:#b3261e}.s-AWAITING_APPROVAL{color:#8a6d00}";

fn page(title: &str, body: Markup) -> HttpResponse {
    let body = html! {
        style { (PreEscaped(EXTRA_STYLE)) }
        nav { a href="/" { "Dashboard" } a href="/outbox" { "Outbox" } a href="/runs" { "Runs (JSON)" } }
        (body)
    };
    HttpResponse::html(200, layout(title, body))
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::error(503, "unavailable", &e.to_string())
}

pub async fn dashboard(stack: &Stack, query: &str) -> HttpResponse {
    let filter: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                urlencoding::decode(v)
                    .map(|c| c.into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let runs = match crate::store::all_runs(stack.store.as_ref(), None, 5000).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let pending = match stack.store.pending_approvals(100, None).await {
        Ok(p) => p.items,
        Err(e) => return unavailable(e),
    };
    let now = stack.clock.now();
    let scope_workflow = filter.get("workflow").filter(|w| !w.is_empty());
    let figures = match crate::outcomes::gather(
        stack.store.as_ref(),
        scope_workflow.map(String::as_str),
        now - Duration::hours(24),
    )
    .await
    {
        Ok(f) => f,
        Err(e) => return unavailable(e),
    };
    let mut reviews = Vec::new();
    for name in stack.catalog.names() {
        if let Ok(Some(r)) = handoff_core::observe::review::latest(stack.store.as_ref(), name).await
        {
            reviews.push(r);
        }
    }
    let scope = match scope_workflow {
        Some(w) => format!("{w}, last 24 hours"),
        None => "last 24 hours".to_string(),
    };
    let depth = stack.queue.depth().await.unwrap_or(0);
    let dead = stack
        .queue
        .dead_letters()
        .await
        .map(|d| d.len())
        .unwrap_or(0);

    let mut by: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for run in &runs {
        *by.entry(run.workflow.clone())
            .or_default()
            .entry(run.status.as_str())
            .or_default() += 1;
    }
    let finished: Vec<&Run> = runs.iter().filter(|r| r.status.is_final()).collect();
    let reviewed = finished.iter().filter(|r| r.summary.reviewed).count();
    let auto = finished.len() - reviewed;
    let mut feedback = Vec::new();
    for name in stack.catalog.names() {
        if let Ok(f) = stack.store.list_feedback(name, 1000).await {
            feedback.extend(f);
        }
    }
    let overridden = feedback
        .iter()
        .filter(|f| f.final_label != f.predicted_label)
        .count();
    let shown: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            filter
                .get("status")
                .is_none_or(|s| s.is_empty() || r.status.as_str() == s)
        })
        .filter(|r| {
            filter
                .get("workflow")
                .is_none_or(|w| w.is_empty() || &r.workflow == w)
        })
        .take(100)
        .collect();

    page(
        "Dashboard",
        html! {
            h1 { "handoff — local" }
            div class="grid" {
                div class="card" { div class="big" { (runs.len()) } "runs" }
                div class="card" { div class="big" { (pending.len()) } "pending approvals" }
                div class="card" { div class="big" { (auto) " / " (reviewed) } "auto-resolved / reviewed" }
                div class="card" {
                    div class="big" { (depth) " / " (dead) }
                    "intake queue / dead-lettered (after " (stack.template.queue.max_receive_count) " receives)"
                }
                div class="card" {
                    div class="big" { (rate(overridden, feedback.len())) }
                    "override rate (" (overridden) " of " (feedback.len()) " reviewed AI answers changed)"
                }
            }
            h2 { "Runs per minute (last 30 minutes)" }
            (per_minute_chart(&runs, now))
            h2 { "Auto-resolved vs reviewed" }
            (split_bar(auto, reviewed))
            (crate::outcomes::section(&figures, &scope))
            (crate::outcomes::reviews_section(&reviews))
            h2 { "Runs by workflow and status" }
            table {
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
            @if pending.is_empty() { p class="muted" { "None." } } @else {
                table {
                    tr { th { "run" } th { "workflow" } th { "reviewers" } th { "votes" } th { "expires" } }
                    @for a in &pending { (pending_row(a)) }
                }
                p class="muted" { "Reviewer links are on the " a href="/outbox" { "outbox" } " page." }
            }
            h2 { "Runs" @if !filter.is_empty() { " (filtered — " a href="/" { "all" } ")" } }
            table {
                tr { th { "run" } th { "workflow" } th { "status" } th { "stage" } th { "AI label" } th { "route" } th { "created" } }
                @for r in &shown {
                    tr {
                        td { a href={ "/timeline/" (r.id) } { (r.id) } }
                        td { (r.workflow) }
                        td class={ "s-" (r.status.as_str()) } { (r.status.as_str()) }
                        td { (r.stage.as_str()) }
                        td { (r.summary.label.clone().unwrap_or_default())
                             @if let Some(c) = r.summary.confidence { " (" (format!("{c:.2}")) ")" } }
                        td { (r.summary.route.clone().unwrap_or_default()) }
                        td { (r.created_at.format("%H:%M:%S")) }
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

fn pending_row(a: &Approval) -> Markup {
    html! {
        tr {
            td { a href={ "/timeline/" (a.run_id) } { (a.run_id) } }
            td { (a.workflow) }
            td { (a.reviewers.join(", ")) }
            td { (a.votes.len()) " of " (a.required) }
            td { (a.expires_at.format("%Y-%m-%d %H:%M:%S UTC")) }
        }
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

/// One line of a run's timeline.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    pub at: DateTime<Utc>,
    pub stage: String,
    pub what: String,
    pub duration_ms: Option<f64>,
    pub detail: Value,
}

/// A run as the console shows it: what is stored about it, its trail as
/// timeline rows, and its execution's status.
pub struct RunView {
    pub detail: RunDetail,
    pub rows: Vec<TimelineRow>,
    pub execution_status: Option<String>,
}

pub async fn run_view(stack: &Stack, id: &str) -> Result<Option<RunView>, String> {
    let id = RunId(id.to_string());
    let Some(detail) = RunDetail::load(stack.store.as_ref(), &id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let rows = detail
        .audit
        .iter()
        .map(|e| TimelineRow {
            at: e.at,
            stage: e.stage.as_str().to_string(),
            duration_ms: e.detail.get("duration_ms").and_then(Value::as_f64),
            what: e.kind.clone(),
            detail: e.detail.clone(),
        })
        .collect();
    let execution_status = stack
        .executions
        .execution_status(id.as_str())
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(RunView {
        detail,
        rows,
        execution_status,
    }))
}

pub async fn timeline(stack: &Stack, id: &str) -> HttpResponse {
    let view = match run_view(stack, id).await {
        Ok(Some(v)) => v,
        Ok(None) => return HttpResponse::error(404, "run_not_found", &format!("no run `{id}`")),
        Err(e) => return unavailable(e),
    };
    let r = &view.detail.run;
    let pretty = |v: &Value| truncate(&serde_json::to_string_pretty(v).unwrap_or_default(), 4000);
    let slowest = view
        .rows
        .iter()
        .filter_map(|r| r.duration_ms)
        .fold(0.001, f64::max);
    page(
        &format!("Run {}", r.id),
        html! {
            h1 { "Run " (r.id) }
            table {
                tr { th { "workflow" } td { (r.workflow) } }
                tr { th { "status" } td class={ "s-" (r.status.as_str()) } { (r.status.as_str()) } }
                tr { th { "execution" } td { (view.execution_status.clone().unwrap_or_else(|| "not started".into())) } }
                tr { th { "delivery id" } td { (r.delivery_id) } }
                tr { th { "created" } td { (r.created_at.to_rfc3339()) } }
                tr { th { "updated" } td { (r.updated_at.to_rfc3339()) } }
            }
            h2 { "Timeline" }
            table id="timeline" {
                tr { th { "at" } th { "stage" } th { "event" } th { "duration" } th {} }
                @for row in &view.rows {
                    tr {
                        td { (row.at.format("%H:%M:%S%.3f")) }
                        td { (row.stage) }
                        td { (row.what) }
                        td class="num" { @if let Some(ms) = row.duration_ms { (format!("{ms:.1} ms")) } }
                        td {
                            @if let Some(ms) = row.duration_ms {
                                svg width="200" height="12" role="img" aria-label="duration" xmlns="http://www.w3.org/2000/svg" {
                                    rect x="0" y="1" width=(format!("{:.1}", 200.0 * ms / slowest)) height="10" fill="#3b6fd8" {}
                                }
                            }
                        }
                    }
                }
            }
            h2 { "AI output" }
            @match &view.detail.ai { Some(ai) => pre { (pretty(ai)) }, None => p class="muted" { "None yet." } }
            h2 { "LLM calls" }
            @let calls: Vec<&TimelineRow> = view.rows.iter().filter(|r| r.what == "llm.call").collect();
            @if calls.is_empty() { p class="muted" { "None: no LLM tier was asked." } }
            @for call in calls {
                @let d = &call.detail;
                details class="llm-call" {
                    summary {
                        (d["task"].as_str().unwrap_or("?")) " · " (d["tier"].as_str().unwrap_or("?"))
                        " · " (d["model"].as_str().unwrap_or("")) " · " (d["outcome"].as_str().unwrap_or(""))
                    }
                    h3 { "System" }
                    pre { (truncate(d["system"].as_str().unwrap_or(""), 8000)) }
                    @for turn in d["turns"].as_array().into_iter().flatten() {
                        h3 { (turn["role"].as_str().unwrap_or("")) }
                        pre { (truncate(turn["text"].as_str().unwrap_or(""), 8000)) }
                    }
                    h3 { "Answer" }
                    pre { (pretty(&d["answer"])) }
                }
            }
            h2 { "Decision" }
            @match &view.detail.decision { Some(d) => pre { (pretty(d)) }, None => p class="muted" { "None yet." } }
            h2 { "Approval" }
            @if view.detail.approvals.is_empty() { p class="muted" { "No approval asked." } }
            @for a in &view.detail.approvals {
                table {
                    tr { th { "approval" } td { (a.id.to_string()) } }
                    tr { th { "status" } td { (format!("{:?}", a.status)) } }
                    tr { th { "reviewers" } td { (a.reviewers.join(", ")) } }
                    tr { th { "votes" } td {
                        @for v in &a.votes { div { (v.reviewer) ": " (format!("{:?}", v.verdict)) @if !v.reason.is_empty() { " — " (v.reason) } } }
                    } }
                    tr { th { "expires" } td { (a.expires_at.to_rfc3339()) } }
                }
            }
            h2 { "Actions" }
            @if view.detail.actions.is_empty() { p class="muted" { "None performed." } }
            @for a in &view.detail.actions { pre { (pretty(a)) } }
        },
    )
}

pub async fn outbox(stack: &Stack, as_json: bool) -> HttpResponse {
    let entries = match stack.outbox.entries(500).await {
        Ok(e) => e,
        Err(e) => return unavailable(e),
    };
    if as_json {
        let items: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "id": e.id, "at": e.at, "kind": e.kind, "run_id": e.run_id,
                    "target": e.target, "subject": e.subject, "body": e.body,
                    "link": e.link, "delivered": e.delivered,
                })
            })
            .collect();
        return HttpResponse::json(200, &json!({ "entries": items }));
    }
    page(
        "Outbox",
        html! {
            h1 { "Outbox" }
            p class="muted" { "Reviewer notifications with their links, and actions (delivered over HTTP or recorded here). Newest first." }
            table id="outbox" {
                tr { th { "at" } th { "kind" } th { "run" } th { "to" } th { "subject" } th { "link / body" } }
                @for e in &entries {
                    tr {
                        td { (e.at.format("%H:%M:%S")) }
                        td { (e.kind) @if e.kind == "action" { @if e.delivered { " (delivered)" } @else { " (recorded)" } } }
                        td { a href={ "/timeline/" (e.run_id) } { (e.run_id) } }
                        td { (e.target) }
                        td { (e.subject) }
                        td {
                            @if let Some(link) = &e.link { a class="review" href=(link) { "Review" } }
                            @else { code { (truncate(&e.body, 200)) } }
                        }
                    }
                }
            }
        },
    )
}
