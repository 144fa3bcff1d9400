//! The `api` function: the read side (`GET /runs`, `GET /runs/{id}`, the
//! dashboard at `GET /`), reviewer feedback (`POST /runs/{id}/feedback`) and
//! redriving a failed run (`POST /runs/{id}/redrive`).
//!
//! Task tokens never appear in a response.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tracing::warn;

use handoff_spec::Catalog;

use crate::domain::*;
use crate::http::{HttpRequest, HttpResponse};
use crate::links::{self, LinkError};
use crate::pages::{self, dashboard::DashboardView};
use crate::ports::*;
use crate::stages::redrive::{Redrive, RedriveError};

pub const MAX_LIMIT: usize = 100;
pub const DEFAULT_LIMIT: usize = 50;
/// The dashboard counts at most this many of the newest runs.
pub const DASHBOARD_SCAN: usize = 1000;
const MAX_FEEDBACK_BYTES: usize = 64 * 1024;

pub struct ReadApi {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    /// Name of the secret that signs reviewer tokens (the link secret).
    pub link_secret: String,
    /// Starts the execution of a redriven run.
    pub executions: Arc<dyn Executions>,
}

type Outcome = Result<HttpResponse, HttpResponse>;

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    warn!(error = %e, "read side unavailable");
    HttpResponse::error(
        503,
        "unavailable",
        "the run store is unavailable; retry later",
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    label: String,
    #[serde(default)]
    edits: Option<Value>,
}

impl ReadApi {
    pub async fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let id = req.path_params.get("id").map(String::as_str);
        let path = req.path.trim_end_matches('/');
        let action = id.and_then(|_| {
            ["/feedback", "/redrive"]
                .into_iter()
                .find(|a| path.ends_with(a))
        });
        let result = match (req.method.as_str(), path, id, action) {
            ("GET" | "HEAD", "", None, _) => self.dashboard().await,
            ("GET" | "HEAD", "/runs", None, _) => self.list(req).await,
            ("GET" | "HEAD", _, Some(id), None) => self.run(id).await,
            ("POST", _, Some(id), Some("/feedback")) => self.feedback(req, id).await,
            ("POST", _, Some(id), Some("/redrive")) => self.redrive(req, id).await,
            (_, "" | "/runs", None, _) => Err(method_not_allowed("GET, HEAD")),
            (_, _, Some(_), Some(_)) => Err(method_not_allowed("POST")),
            (_, _, Some(_), None) => Err(method_not_allowed("GET, HEAD")),
            _ => Err(HttpResponse::error(404, "not_found", "no such route")),
        };
        let mut response = result.unwrap_or_else(|r| r);
        if req.method == "HEAD" {
            response.body.clear();
        }
        response
    }

    async fn list(&self, req: &HttpRequest) -> Outcome {
        let status = match req.query.get("status").filter(|s| !s.is_empty()) {
            Some(s) => Some(RunStatus::parse(s).ok_or_else(|| {
                let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                HttpResponse::error(
                    400,
                    "bad_status",
                    &format!("unknown status `{s}`; one of {}", known.join(", ")),
                )
            })?),
            None => None,
        };
        let workflow = match req.query.get("workflow").filter(|w| !w.is_empty()) {
            Some(w) if self.catalog.get(w).is_none() => {
                return Err(HttpResponse::error(
                    400,
                    "unknown_workflow",
                    &format!("no workflow named `{w}`"),
                ))
            }
            other => other.cloned(),
        };
        let limit = parse_limit(req.query.get("limit"))?;
        let page = self
            .store
            .list_runs(&RunQuery {
                workflow,
                status,
                sender: None,
                limit,
                cursor: req.query.get("cursor").filter(|c| !c.is_empty()).cloned(),
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) | StoreError::NotFound(_) => {
                    HttpResponse::error(400, "bad_cursor", "the cursor is not from this listing")
                }
                other => unavailable(other),
            })?;
        Ok(HttpResponse::json(
            200,
            &json!({ "runs": page.items, "next": page.next }),
        ))
    }

    /// The run's workflow, if this deployment still has it.
    fn deployed(&self, run: &Run) -> Result<&Arc<handoff_spec::Workflow>, HttpResponse> {
        self.catalog.get(&run.workflow).ok_or_else(|| {
            HttpResponse::error(
                409,
                "unknown_workflow",
                &format!(
                    "the run's workflow `{}` is no longer deployed",
                    run.workflow
                ),
            )
        })
    }

    async fn stored_run(&self, id: &RunId) -> Result<Run, HttpResponse> {
        self.store
            .get_run(id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| run_not_found(id))
    }

    async fn run(&self, id: &str) -> Outcome {
        let id = RunId(id.to_string());
        let run = self.stored_run(&id).await?;
        let event = self.store.get_event(&id).await.map_err(unavailable)?;
        let slot = |s: Slot| {
            let store = self.store.clone();
            let id = id.clone();
            async move { store.get_slot(&id, &s).await.map_err(unavailable) }
        };
        let context = slot(Slot::Context).await?;
        let ai = slot(Slot::Ai).await?;
        let decision = slot(Slot::Decision).await?;
        let mut actions = Vec::new();
        if let Some(names) = decision
            .as_ref()
            .and_then(|d| d.get("actions"))
            .and_then(Value::as_array)
        {
            for name in names.iter().filter_map(Value::as_str) {
                if let Some(record) = slot(Slot::Action(name.to_string())).await? {
                    actions.push(record);
                }
            }
        }
        let approvals: Vec<Value> = self
            .store
            .approvals_of_run(&id)
            .await
            .map_err(unavailable)?
            .iter()
            .map(approval_json)
            .collect();
        let audit = self.store.trail(&id).await.map_err(unavailable)?;
        Ok(HttpResponse::json(
            200,
            &json!({
                "run": run,
                "event": event.map(|e| json!({
                    "delivery_id": e.delivery_id,
                    "received_at": e.received_at,
                    "fields": e.fields,
                })),
                "context": context,
                "ai": ai,
                "decision": decision,
                "approvals": approvals,
                "actions": actions,
                "audit": audit,
            }),
        ))
    }

    /// The reviewer a request's bearer token (signed with the link secret)
    /// names.
    async fn reviewer(&self, req: &HttpRequest) -> Result<String, HttpResponse> {
        let unauthorized = |message: &str| {
            let mut r = HttpResponse::error(401, "unauthorized", message);
            r.headers.push(("www-authenticate".into(), "Bearer".into()));
            r
        };
        let token = links::bearer(req.header("authorization")).ok_or_else(|| {
            unauthorized("a reviewer token is required (Authorization: Bearer …)")
        })?;
        let secret = self
            .secrets
            .get(&self.link_secret)
            .await
            .and_then(|s| s.signing_key(&self.link_secret))
            .map_err(unavailable)?;
        let reviewer = links::verify_reviewer_token(&secret, token, self.clock.now()).map_err(
            |e| match e {
                LinkError::Expired => unauthorized("the reviewer token expired"),
                LinkError::BadSignature | LinkError::Malformed(_) => {
                    unauthorized("the reviewer token is not valid")
                }
            },
        )?;
        Ok(reviewer)
    }

    /// `POST /runs/{id}/redrive`: a reviewer of the run's workflow starts a
    /// failed run again from the step that failed.
    async fn redrive(&self, req: &HttpRequest, id: &str) -> Outcome {
        let reviewer = self.reviewer(req).await?;
        let run_id = RunId(id.to_string());
        let run = self.stored_run(&run_id).await?;
        may_review(self.deployed(&run)?, &reviewer, &run.workflow)?;
        let redrive = Redrive {
            store: self.store.clone(),
            executions: self.executions.clone(),
            clock: self.clock.clone(),
        };
        match redrive.run(&run_id).await {
            Ok(redriven) => Ok(HttpResponse::json(202, &json!(redriven))),
            Err(RedriveError::NotFound(id)) => Err(run_not_found(&id)),
            Err(e @ RedriveError::NotFailed(..)) => {
                Err(HttpResponse::error(409, "not_failed", &e.to_string()))
            }
            Err(e @ RedriveError::BeforeApproval(_)) => Err(HttpResponse::error(
                409,
                "failed_before_approval",
                &e.to_string(),
            )),
            Err(e @ RedriveError::Changed(_)) => {
                Err(HttpResponse::error(409, "changed", &e.to_string()))
            }
            Err(RedriveError::Stage(e)) => Err(unavailable(e)),
        }
    }

    async fn feedback(&self, req: &HttpRequest, id: &str) -> Outcome {
        let reviewer = self.reviewer(req).await?;
        if req.body.len() > MAX_FEEDBACK_BYTES {
            return Err(HttpResponse::error(
                413,
                "payload_too_large",
                &format!("feedback is limited to {MAX_FEEDBACK_BYTES} bytes"),
            ));
        }
        if !req
            .header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
        {
            return Err(HttpResponse::error(
                415,
                "unsupported_media_type",
                "feedback is JSON (content-type: application/json)",
            ));
        }
        let body: FeedbackBody = serde_json::from_slice(&req.body).map_err(|e| {
            HttpResponse::error(
                400,
                "malformed_body",
                &format!("expected {{label, edits?}}: {e}"),
            )
        })?;
        let run_id = RunId(id.to_string());
        let run = self.stored_run(&run_id).await?;
        let workflow = self.deployed(&run)?;
        may_review(workflow, &reviewer, &run.workflow)?;
        let known = workflow.spec.reason.primary_labels();
        if !known.contains(&body.label) {
            return Err(HttpResponse::error(
                422,
                "unknown_label",
                &format!(
                    "`{}` is not a label of {}; one of {}",
                    body.label,
                    run.workflow,
                    known.join(", ")
                ),
            ));
        }
        let ai: Option<AiResult> = self
            .store
            .get_slot(&run_id, &Slot::Ai)
            .await
            .map_err(unavailable)?
            .and_then(|v| serde_json::from_value(v).ok());
        let primary = ai.and_then(|ai| ai.primary(&workflow.spec.reason));
        let text = self
            .store
            .get_event(&run_id)
            .await
            .map_err(unavailable)?
            .map(|e| e.text())
            .unwrap_or_default();
        let feedback = Feedback {
            workflow: run.workflow.clone(),
            run_id: run_id.clone(),
            at: self.clock.now(),
            text,
            predicted_label: primary
                .as_ref()
                .map(|c| c.label.clone())
                .unwrap_or_default(),
            confidence: primary.as_ref().map_or(0.0, |c| c.confidence),
            final_label: body.label,
            edits: body.edits,
            reviewer,
        };
        self.store
            .put_feedback(&feedback)
            .await
            .map_err(unavailable)?;
        crate::stages::audit::record(
            self.store.as_ref(),
            self.clock.as_ref(),
            &run_id,
            Stage::Finalize,
            "feedback.recorded",
            json!({
                "reviewer": feedback.reviewer,
                "predicted_label": feedback.predicted_label,
                "final_label": feedback.final_label,
                "edits": feedback.edits,
            }),
        )
        .await
        .map_err(unavailable)?;
        Ok(HttpResponse::json(
            201,
            &json!({
                "status": "recorded",
                "run_id": run_id,
                "predicted_label": feedback.predicted_label,
                "final_label": feedback.final_label,
            }),
        ))
    }

    async fn dashboard(&self) -> Outcome {
        let mut runs: Vec<Run> = Vec::new();
        let mut cursor = None;
        let mut truncated = false;
        loop {
            let page = self
                .store
                .list_runs(&RunQuery {
                    limit: MAX_LIMIT,
                    cursor,
                    ..RunQuery::default()
                })
                .await
                .map_err(unavailable)?;
            runs.extend(page.items);
            match page.next {
                Some(next) if runs.len() < DASHBOARD_SCAN => cursor = Some(next),
                Some(_) => {
                    truncated = true;
                    break;
                }
                None => break,
            }
        }
        let mut pending = 0;
        let mut cursor = None;
        loop {
            let page = self
                .store
                .pending_approvals(MAX_LIMIT, cursor)
                .await
                .map_err(unavailable)?;
            pending += page.items.len();
            match page.next {
                Some(next) if pending < DASHBOARD_SCAN => cursor = Some(next),
                _ => break,
            }
        }
        let by_status = RunStatus::ALL
            .iter()
            .map(|s| {
                let n = runs.iter().filter(|r| r.status == *s).count();
                (s.as_str().to_string(), n)
            })
            .collect();
        let mut by_workflow: BTreeMap<String, usize> =
            self.catalog.names().map(|n| (n.to_string(), 0)).collect();
        for run in &runs {
            *by_workflow.entry(run.workflow.clone()).or_default() += 1;
        }
        let latest = &runs[..runs.len().min(DEFAULT_LIMIT)];
        let view = DashboardView {
            by_status,
            by_workflow: by_workflow.into_iter().collect(),
            latest,
            pending_approvals: pending,
            counted: runs.len(),
            truncated,
        };
        Ok(HttpResponse::html(200, pages::dashboard::render(&view)))
    }
}

fn parse_limit(raw: Option<&String>) -> Result<usize, HttpResponse> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(HttpResponse::error(
            400,
            "bad_limit",
            &format!("limit must be a number from 1 to {MAX_LIMIT}"),
        )),
    }
}

fn run_not_found(id: &RunId) -> HttpResponse {
    HttpResponse::error(404, "run_not_found", &format!("no run `{id}`"))
}

fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut r = HttpResponse::error(405, "method_not_allowed", &format!("use {allow}"));
    r.headers.push(("allow".into(), allow.to_string()));
    r
}

/// An approval as the read side shows it: everything but the task token.
fn approval_json(a: &Approval) -> Value {
    json!({
        "id": a.id,
        "workflow": a.workflow,
        "reviewers": a.reviewers,
        "required": a.required,
        "status": a.status,
        "escalation": a.escalation,
        "created_at": a.created_at,
        "expires_at": a.expires_at,
        "decided_at": a.decided_at,
        "votes": a.votes,
    })
}

/// Only a workflow's reviewers (or its escalation reviewers) may act on its runs.
fn may_review(
    workflow: &handoff_spec::Workflow,
    reviewer: &str,
    name: &str,
) -> Result<(), HttpResponse> {
    let listed = workflow.spec.approval.as_ref().is_some_and(|a| {
        a.reviewers
            .iter()
            .chain(&a.escalate_to)
            .any(|r| r.eq_ignore_ascii_case(reviewer))
    });
    if listed {
        Ok(())
    } else {
        Err(HttpResponse::error(
            403,
            "not_a_reviewer",
            &format!("`{reviewer}` is not a reviewer of {name}"),
        ))
    }
}
