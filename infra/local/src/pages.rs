//! The local console's own pages, beside the dashboard every deployment
//! serves at `/`: a run's timeline and the outbox. Server-rendered with
//! maud, readable without JavaScript.

use chrono::{DateTime, Utc};
use handoff_core::domain::RunId;
use handoff_core::http::HttpResponse;
use handoff_core::pages::console::{self, Console};
use handoff_core::pages::truncate;
use handoff_core::stages::run_detail::RunDetail;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::stack::Stack;

/// The local console: a run links to its timeline, and the outbox is a
/// page of its own.
pub const CONSOLE: Console = Console {
    run_page: "/timeline/",
    nav: &[("/outbox", "Outbox")],
};

fn page(title: &str, body: Markup) -> HttpResponse {
    HttpResponse::html(200, console::page(&CONSOLE, title, body))
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::error(503, "unavailable", &e.to_string())
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
                        td { a href=(CONSOLE.run_href(&e.run_id)) { (e.run_id) } }
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
