//! The `callback` function: `GET|HEAD|POST /approvals/{id}` (with its
//! document pages, in `document.rs`, and the blind audits' `/audits/{run}`,
//! in `audit.rs`).
//!
//! GET and HEAD only show the page: mail scanners and chat unfurlers open
//! links, so opening one must never decide. POST verifies the link, records
//! the reviewer's vote once, and when the n-of-m tally is settled closes the
//! approval (a conditional write only one caller wins) and answers the task
//! token. Every outcome is a page (or JSON) with its own status; none is a 500.
// `Err(Reply)` is the answer page itself, built once per request, not an
// error travelling up a stack: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use handoff_spec::Catalog;

use crate::domain::*;
use crate::http::{HttpRequest, HttpResponse};
use crate::links::{self, LinkClaims, LinkError};
use crate::pages::{self, approval::ApprovalView};
use crate::ports::*;
use crate::stages::delivery::DeliveryError;

/// A decision form is small; anything larger is not one.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
const MAX_REASON_CHARS: usize = 2000;

pub struct Callback {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub executions: Arc<dyn Executions>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
    /// Name of the secret that signs approval links.
    pub link_secret: String,
    /// Reviewers' own addresses: where a claimed link goes.
    pub email: Arc<dyn Notifier>,
    /// The run's documents, shown page by page beside the extracted fields.
    pub documents: Arc<dyn DocumentStore>,
    /// The base of the links it sends; empty: `https://` and the request's
    /// `Host` (API Gateway routes only hosts that name this API, and the
    /// template cannot pass the API's URL to a function the API invokes
    /// without a dependency cycle).
    pub public_url: String,
}

mod audit;
mod claim;
mod document;
mod fields;
mod refusal;

use fields::SubmittedFields;

use refusal::Refusal;

/// One outcome, rendered as a page or as `{"status", "message", …}`.
struct Reply {
    status: u16,
    code: &'static str,
    title: String,
    message: String,
    extra: Map<String, Value>,
    page: Option<String>,
}

impl Reply {
    fn new(status: u16, code: &'static str, title: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            title: title.to_string(),
            message: message.into(),
            extra: Map::new(),
            page: None,
        }
    }

    fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    fn into_response(self, as_json: bool) -> HttpResponse {
        if as_json {
            let mut body = Map::new();
            body.insert("status".into(), json!(self.code));
            body.insert("message".into(), json!(self.message));
            body.extend(self.extra);
            HttpResponse::json(self.status, &Value::Object(body))
        } else {
            let page = self
                .page
                .unwrap_or_else(|| pages::message(&self.title, &self.message));
            HttpResponse::html(self.status, page)
        }
    }
}

/// What a reviewer submitted.
#[derive(Debug, Default, Deserialize)]
struct Submission {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    draft: Option<String>,
    #[serde(default)]
    label: Option<String>,
    /// JSON: `{"<task>": {"<field>": value}}`.
    #[serde(default, rename = "fields")]
    json_fields: Map<String, Value>,
    #[serde(skip)]
    fields: SubmittedFields,
}

impl Callback {
    pub async fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let as_json = req.wants_json();
        let path = req.path.trim_end_matches('/');
        let mut response = if path.contains("/documents/") {
            self.document_page(req)
                .await
                .unwrap_or_else(|refusal| refusal.reply().into_response(as_json))
        } else {
            self.answer_page(req, path, as_json).await
        };
        if req.method == "HEAD" {
            response.body.clear();
        }
        response
    }

    /// The pages: an approval, a shared channel's claim, a blind audit.
    async fn answer_page(&self, req: &HttpRequest, path: &str, as_json: bool) -> HttpResponse {
        let claim = path.ends_with("/claim");
        let audit = path.starts_with("/audits/");
        let reply = match (req.method.as_str(), claim, audit) {
            ("GET" | "HEAD", _, true) => self.show_audit(req).await,
            ("POST", _, true) => self.answer_audit(req).await,
            ("GET" | "HEAD", true, _) => self.show_claim(req).await,
            ("POST", true, _) => self.send_claim(req).await,
            ("GET" | "HEAD", false, _) => self.show(req).await,
            ("POST", false, _) => self.decide(req).await,
            (_, _, _) => Err(Refusal::MethodNotAllowed),
        };
        match reply {
            Ok(reply) => reply.into_response(as_json),
            Err(refusal) => {
                let mut response = refusal.reply().into_response(as_json);
                if matches!(refusal, Refusal::MethodNotAllowed) {
                    response
                        .headers
                        .push(("allow".into(), "GET, HEAD, POST".into()));
                }
                response
            }
        }
    }

    /// Verifies the link and finds its approval. Forged links are refused
    /// before anything is read from the store.
    async fn open(&self, req: &HttpRequest) -> Result<(Approval, LinkClaims), Refusal> {
        let id = approval_id(req)?;
        let secret = self.link_key().await?;
        let claims = links::verify_link(&secret, &id, &req.query, self.clock.now()).map_err(
            |e| match e {
                LinkError::BadSignature => Refusal::BadSignature,
                LinkError::Expired => Refusal::Expired,
                LinkError::Malformed(why) => Refusal::MalformedLink(why.to_string()),
            },
        )?;
        let approval = self.stored_approval(&id).await?;
        if !approval.reviewers.contains(&claims.reviewer) {
            return Err(Refusal::NotAReviewer);
        }
        Ok((approval, claims))
    }

    async fn show(&self, req: &HttpRequest) -> Result<Reply, Refusal> {
        let (approval, claims) = self.open(req).await?;
        let sig = req.query.get("sig").map_or("", String::as_str);
        let page = self.page(&approval, &claims, sig).await?;
        let mut reply = Reply::new(
            200,
            "open",
            "Approval",
            pages::approval::closed_notice(&approval),
        )
        .with("approval_status", json!(approval.status))
        .with("required", json!(approval.required))
        .with("reviewers", json!(approval.reviewers.len()));
        if let Some(vote) = approval.vote_of(&claims.reviewer) {
            reply = reply.with("your_vote", json!(vote.verdict));
        }
        reply.page = Some(page);
        Ok(reply)
    }

    async fn page(
        &self,
        approval: &Approval,
        claims: &LinkClaims,
        sig: &str,
    ) -> Result<String, Refusal> {
        let run = &approval.run_id;
        let unavailable = |_| Refusal::Unavailable;
        let event = self.store.get_event(run).await.map_err(unavailable)?;
        let ai = self.ai(run).await?;
        let decision: Option<Decision> = self
            .store
            .get_slot(run, &Slot::Decision)
            .await
            .map_err(unavailable)?
            .and_then(|v| serde_json::from_value(v).ok());
        let context = self
            .store
            .get_slot(run, &Slot::Context)
            .await
            .map_err(unavailable)?;
        let link_query = format!(
            "?r={}&exp={}&sig={}",
            urlencoding::encode(&claims.reviewer),
            claims.expires,
            urlencoding::encode(sig)
        );
        let workflow = self.catalog.get(&approval.workflow);
        let actions = decision
            .as_ref()
            .map(|d| {
                d.actions
                    .iter()
                    .map(|name| {
                        let kind = workflow
                            .and_then(|w| w.action(name))
                            .map_or("unknown", |a| a.connector.kind());
                        (name.clone(), kind.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let view = ApprovalView {
            approval,
            reviewer: &claims.reviewer,
            received_at: event
                .as_ref()
                .map(|e| e.received_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            route: decision.as_ref().map(|d| d.route.clone()),
            priority: decision.as_ref().map(|d| {
                serde_json::to_value(d.priority)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            }),
            decision_reason: decision.as_ref().map(|d| d.reason.clone()),
            subject: event
                .as_ref()
                .and_then(|e| e.field_str("subject"))
                .map(str::to_string),
            text: event
                .as_ref()
                .and_then(|e| e.field_str("text"))
                .map(str::to_string),
            ai: ai.as_ref(),
            actions,
            labels: workflow
                .map(|w| w.spec.reason.primary_labels())
                .unwrap_or_default(),
            label: ai
                .as_ref()
                .zip(workflow)
                .and_then(|(ai, w)| ai.primary(&w.spec.reason))
                .map(|c| c.label),
            draft: ai
                .as_ref()
                .zip(workflow)
                .and_then(|(ai, w)| ai.draft(&w.spec.reason)),
            documents: document::views(&approval.id, event.as_ref(), context.as_ref(), &link_query),
            fields: workflow
                .map(|w| fields::field_views(w, ai.as_ref()))
                .unwrap_or_default(),
            form_action: link_query,
        };
        Ok(pages::approval::render(&view))
    }

    async fn ai(&self, run: &RunId) -> Result<Option<AiResult>, Refusal> {
        Ok(self
            .store
            .get_slot(run, &Slot::Ai)
            .await
            .map_err(|_| Refusal::Unavailable)?
            .and_then(|v| serde_json::from_value(v).ok()))
    }

    async fn decide(&self, req: &HttpRequest) -> Result<Reply, Refusal> {
        let (approval, claims) = self.open(req).await?;
        let reviewer = claims.reviewer.clone();
        let submission = parse_submission(req)?;
        let verdict = match submission.verdict.trim() {
            "approve" => Verdict::Approve,
            "reject" => Verdict::Reject,
            _ => return Err(Refusal::InvalidVerdict),
        };
        if approval.status != ApprovalStatus::Pending || approval.vote_of(&reviewer).is_some() {
            return self.already_decided(&approval, &reviewer).await;
        }
        let edits = self.edits(&approval, &submission).await?;
        let now = self.clock.now();
        let vote = Vote {
            reviewer: reviewer.clone(),
            verdict,
            reason: pages::truncate(submission.reason.trim(), MAX_REASON_CHARS),
            edits: edits.clone(),
            at: now,
        };
        let approval = match self.store.record_vote(&approval.id, &vote).await {
            Ok(a) => a,
            Err(StoreError::Conflict(_)) => {
                let current = self.reload(&approval.id).await?;
                return self.already_decided(&current, &reviewer).await;
            }
            Err(StoreError::NotFound(_)) => return Err(Refusal::NotFound),
            Err(_) => return Err(Refusal::Unavailable),
        };
        self.audit(
            &approval.run_id,
            "approval.vote",
            json!({
                "approval_id": approval.id,
                "reviewer": reviewer,
                "verdict": verdict,
                "reason": vote.reason,
                "at": now,
                "edits": edits,
            }),
        )
        .await;
        info!(run_id = %approval.run_id, approval_id = %approval.id, verdict = ?verdict, "vote recorded");

        let Some(to) = approval.people_decision() else {
            return Ok(waiting(&approval, verdict));
        };
        self.close_and_deliver(approval, to, &reviewer).await
    }

    /// Closes an approval its votes settle, then answers the waiting task.
    /// The vote is saved either way: a failure here leaves the decision owed,
    /// and the next click, the redelivery sweep or the timeout delivers it.
    async fn close_and_deliver(
        &self,
        approval: Approval,
        to: ApprovalStatus,
        reviewer: &str,
    ) -> Result<Reply, Refusal> {
        let now = self.clock.now();
        match self.store.close_approval(&approval.id, to, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                let current = self.reload(&approval.id).await?;
                return self.already_decided(&current, reviewer).await;
            }
            Err(_) => return Err(Refusal::SavedNotDelivered),
        }
        let mut closed = approval;
        closed.status = to;
        closed.decided_at = Some(now);
        self.answer(&closed).await
    }

    /// Delivers a closed approval's decision and renders what happened.
    async fn answer(&self, approval: &Approval) -> Result<Reply, Refusal> {
        self.hand_over(approval).await.reply()
    }

    /// Hands a closed approval's people's decision to the waiting task.
    async fn hand_over(&self, approval: &Approval) -> Handover {
        let Some(outcome) = approval.people_outcome() else {
            return Handover::Closed;
        };
        match self.deliver(approval, &outcome).await {
            Ok(()) => Handover::Delivered(outcome),
            Err(DeliveryError::TaskClosed(_)) => Handover::Closed,
            Err(DeliveryError::Unavailable(_)) => Handover::Unavailable,
        }
    }

    /// A second click, another reviewer's earlier decision, or a timeout.
    /// When this reviewer's own decision closed the approval but never
    /// reached the workflow, the repeated click delivers it.
    async fn already_decided(&self, approval: &Approval, reviewer: &str) -> Result<Reply, Refusal> {
        if approval.vote_of(reviewer).is_some() {
            // Votes settled it but the close failed: close it now.
            if approval.status == ApprovalStatus::Pending {
                if let Some(to) = approval.people_decision() {
                    return Box::pin(self.close_and_deliver(approval.clone(), to, reviewer)).await;
                }
            }
            if approval.decided_by_people() {
                match self.hand_over(approval).await {
                    Handover::Closed => {}
                    delivered_now_or_unavailable => return delivered_now_or_unavailable.reply(),
                }
            }
        }
        if approval.status == ApprovalStatus::Expired {
            return Err(Refusal::Closed(Some(approval.status)));
        }
        let mut message = match approval.vote_of(reviewer) {
            Some(vote) => pages::approval::your_vote(vote),
            None => String::new(),
        };
        if approval.status != ApprovalStatus::Pending {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(&pages::approval::closed_notice(approval));
        }
        let votes: Vec<Value> = approval
            .votes
            .iter()
            .map(|v| json!({ "reviewer": v.reviewer, "verdict": v.verdict, "at": v.at }))
            .collect();
        Err(Refusal::AlreadyDecided {
            message,
            status: approval.status,
            votes,
            decided_at: approval.decided_at,
        })
    }

    /// `{"draft", "label", "fields"}`, only what the reviewer changed.
    async fn edits(
        &self,
        approval: &Approval,
        submission: &Submission,
    ) -> Result<Option<Value>, Refusal> {
        let ai = self.ai(&approval.run_id).await?;
        let reason = self.catalog.get(&approval.workflow).map(|w| &w.spec.reason);
        let (original, predicted) = match (&ai, reason) {
            (Some(ai), Some(reason)) => (ai.draft(reason), ai.primary(reason).map(|c| c.label)),
            _ => (None, None),
        };
        let mut edits = Map::new();
        if let Some(draft) = &submission.draft {
            let draft = draft.replace("\r\n", "\n");
            let original = original.clone().unwrap_or_default().replace("\r\n", "\n");
            // Browsers send CRLF and drop a textarea's leading newline.
            if draft.trim() != original.trim() {
                edits.insert("draft".into(), json!(draft));
            }
        }
        if let Some(label) = submission.label.as_deref().map(str::trim) {
            if !label.is_empty() && predicted.as_deref() != Some(label) {
                let known = reason.is_some_and(|r| r.primary_labels().iter().any(|l| l == label));
                if !known {
                    return Err(Refusal::UnknownLabel(label.to_string()));
                }
                edits.insert("label".into(), json!(label));
            }
        }
        if !submission.fields.values.is_empty() {
            let workflow = self
                .catalog
                .get(&approval.workflow)
                .ok_or(Refusal::NotFound)?;
            if let Some(fields) = fields::field_edits(workflow, ai.as_ref(), &submission.fields)? {
                edits.insert("fields".into(), fields);
            }
        }
        Ok((!edits.is_empty()).then_some(Value::Object(edits)))
    }

    async fn reload(&self, id: &ApprovalId) -> Result<Approval, Refusal> {
        self.store
            .get_approval(id)
            .await
            .map_err(|_| Refusal::Unavailable)?
            .ok_or(Refusal::NotFound)
    }
}

/// The `{id}` of an `/approvals/{id}…` route.
fn approval_id(req: &HttpRequest) -> Result<ApprovalId, Refusal> {
    req.path_params
        .get("id")
        .filter(|id| !id.is_empty())
        .map(|id| ApprovalId(id.clone()))
        .ok_or(Refusal::NotFound)
}

impl Callback {
    async fn stored_approval(&self, id: &ApprovalId) -> Result<Approval, Refusal> {
        self.store
            .get_approval(id)
            .await
            .map_err(|_| Refusal::Unavailable)?
            .ok_or(Refusal::NotFound)
    }

    async fn link_key(&self) -> Result<Secret, Refusal> {
        self.secrets
            .get(&self.link_secret)
            .await
            .and_then(|s| s.signing_key(&self.link_secret))
            .map_err(|e| {
                warn!(error = %e, "link secret unavailable");
                Refusal::Unavailable
            })
    }
}

/// What handing a decision to the waiting task came to.
enum Handover {
    Delivered(ApprovalOutcome),
    /// The task stopped waiting (it timed out or the run ended), or there
    /// was no people's decision to hand over.
    Closed,
    /// The vote is saved; the execution service did not take it yet.
    Unavailable,
}

impl Handover {
    fn reply(self) -> Result<Reply, Refusal> {
        let outcome = match self {
            Handover::Delivered(outcome) => outcome,
            Handover::Closed => return Err(Refusal::Closed(None)),
            Handover::Unavailable => return Err(Refusal::SavedNotDelivered),
        };
        let (code, title, message) = if outcome.decision == "approved" {
            (
                "approved",
                "Approved",
                "Thank you. The request is approved and the run continues.",
            )
        } else {
            (
                "rejected",
                "Rejected",
                "Thank you. The request is rejected; no action will be taken.",
            )
        };
        Ok(Reply::new(200, code, title, message).with("reviewers", json!(outcome.reviewers)))
    }
}

fn waiting(approval: &Approval, verdict: Verdict) -> Reply {
    let approvals = approval.count(Verdict::Approve);
    let more = approval.required.saturating_sub(approvals);
    let possible = approval.reviewers.len() >= approval.required;
    let yours = match verdict {
        Verdict::Approve => "Your approval is recorded",
        Verdict::Reject => "Your rejection is recorded",
    };
    let message = if possible {
        format!("{yours}; waiting for {more} more approval(s).")
    } else {
        format!(
            "{yours}. Fewer reviewers can answer than the {} approvals required, so the request will be settled by the workflow's timeout policy.",
            approval.required
        )
    };
    Reply::new(202, "recorded", "Recorded", message)
        .with("waiting_for", json!(more))
        .with("required", json!(approval.required))
}

fn parse_submission(req: &HttpRequest) -> Result<Submission, Refusal> {
    if req.body.len() > MAX_FORM_BYTES {
        return Err(Refusal::FormTooLarge);
    }
    let malformed = |why: &str| Refusal::MalformedForm(why.to_string());
    let content_type = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let mut submission: Submission =
            serde_json::from_slice(&req.body).map_err(|e| malformed(&e.to_string()))?;
        for (task, fields) in std::mem::take(&mut submission.json_fields) {
            let Value::Object(fields) = fields else {
                return Err(malformed(&format!("`fields.{task}` is not an object")));
            };
            submission
                .fields
                .values
                .extend(fields.into_iter().map(|(f, v)| (task.clone(), f, v)));
        }
        return Ok(submission);
    }
    if !content_type.is_empty() && !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(Refusal::UnsupportedForm);
    }
    let body = std::str::from_utf8(&req.body).map_err(|_| malformed("not UTF-8"))?;
    let form = parse_form(body).ok_or_else(|| malformed("bad percent-encoding"))?;
    let values = form
        .iter()
        .filter_map(|(key, value)| {
            let (task, field) = key
                .strip_prefix(pages::approval::FIELD_PREFIX)?
                .split_once('.')?;
            Some((
                task.to_string(),
                field.to_string(),
                Value::String(value.clone()),
            ))
        })
        .collect();
    Ok(Submission {
        verdict: form.get("verdict").cloned().unwrap_or_default(),
        reason: form.get("reason").cloned().unwrap_or_default(),
        draft: form.get("draft").cloned(),
        label: form.get("label").cloned(),
        json_fields: Map::new(),
        fields: SubmittedFields {
            values,
            typed_as_text: true,
        },
    })
}

/// `application/x-www-form-urlencoded`; the first value of a name wins.
fn parse_form(body: &str) -> Option<BTreeMap<String, String>> {
    let mut form = BTreeMap::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            urlencoding::decode(&s.replace('+', " "))
                .ok()
                .map(|c| c.into_owned())
        };
        form.entry(decode(k)?).or_insert(decode(v)?);
    }
    Some(form)
}
