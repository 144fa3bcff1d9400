//! Blind audits: a sampled share of the runs that act alone also go to one
//! reviewer, who labels the message without seeing the AI's label or
//! confidence (so the answer is not anchored on it). The verdict is a
//! reviewer's feedback like any other and so feeds the autonomy bound;
//! the run itself never waits for it.
//!
//! The approval function sends the request (`{"kind": "audit"}` from the
//! state machine's `RequestAudit`, a plain invoke just before `Act` whose
//! failure also goes on to `Act`); the callback function serves the link
//! (`/audits/{run}`).

use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use tracing::{info, warn};

use handoff_spec::Workflow;

use crate::domain::*;
use crate::links;
use crate::ports::*;
use crate::stages::approval::ApprovalTasks;
use crate::stages::StageError;

/// How long an audit link stays valid: audits are not urgent.
pub const AUDIT_VALID_FOR: Duration = Duration::days(7);

impl ApprovalTasks {
    /// Asks one reviewer of the workflow (not the run's sender) to label the
    /// run blind. A retried request finds the audit stored and sends the
    /// same link again.
    pub async fn request_audit(&self, run_id: &RunId, workflow: &str) -> Result<Value, StageError> {
        let wf = super::workflow(&self.catalog, workflow)?;
        let run = super::run_of(self.store.as_ref(), run_id).await?;
        let now = self.clock.now();
        let audit = match self.store.get_slot(run_id, &Slot::Audit).await? {
            Some(stored) => serde_json::from_value::<BlindAudit>(stored)
                .map_err(|e| StageError::Invalid(e.to_string()))?,
            None => {
                let Some(auditor) = pick_auditor(wf, run.sender.as_deref()) else {
                    self.audit(
                        run_id,
                        "audit.skipped",
                        json!({ "reason": "no reviewer other than the sender to audit it" }),
                    )
                    .await?;
                    return Ok(json!({ "audit": "skipped" }));
                };
                let audit = BlindAudit {
                    run_id: run_id.clone(),
                    workflow: workflow.to_string(),
                    auditor,
                    requested_at: now,
                    expires_at: now + AUDIT_VALID_FOR,
                    verdict: None,
                };
                self.store
                    .put_slot(
                        run_id,
                        &Slot::Audit,
                        &serde_json::to_value(&audit).expect("audits serialise"),
                    )
                    .await?;
                audit
            }
        };
        if audit.verdict.is_some() {
            return Ok(json!({ "audit": "answered" }));
        }
        let secret = self
            .secrets
            .get(&self.link_secret)
            .await?
            .signing_key(&self.link_secret)?;
        let link = links::audit_link(
            &self.public_url,
            &secret,
            run_id,
            &audit.auditor,
            audit.expires_at.timestamp(),
        );
        let notified = self.notifier.notify(&notification(&audit, link)).await;
        if let Err(e) = &notified {
            warn!(run_id = %run_id, error = %e, "auditor not notified");
        }
        self.audit(
            run_id,
            "audit.requested",
            json!({
                "auditor": audit.auditor,
                "expires_at": audit.expires_at,
                "notified": notified.is_ok(),
            }),
        )
        .await?;
        info!(run_id = %run_id, workflow, "blind audit requested");
        Ok(json!({ "audit": "requested" }))
    }
}

/// One reviewer of the workflow's approval pool, at random, never the
/// run's sender.
fn pick_auditor(workflow: &Workflow, sender: Option<&str>) -> Option<String> {
    let pool: Vec<&String> = workflow
        .spec
        .approval
        .as_ref()
        .map(|a| a.reviewers.iter().collect())
        .unwrap_or_default();
    let eligible: Vec<&String> = pool
        .into_iter()
        .filter(|r| sender.is_none_or(|s| !s.trim().eq_ignore_ascii_case(r.trim())))
        .collect();
    eligible
        .choose(&mut rand::thread_rng())
        .map(|r| r.to_string())
}

/// The auditor's message: no label, no confidence, no subject line (the
/// page shows the message); only to their own address.
fn notification(audit: &BlindAudit, link: String) -> Notification {
    let text = format!(
        "A {} run acted without a person and was picked for a blind audit.\n\
         Label it as you would, without the AI's answer (the link is yours alone and expires {}):\n{link}",
        audit.workflow,
        audit.expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    Notification {
        run_id: audit.run_id.clone(),
        approval_id: links::audit_subject(&audit.run_id),
        workflow: audit.workflow.clone(),
        reviewer: audit.auditor.clone(),
        subject: format!("Blind audit: {}", audit.workflow),
        text,
        link,
        shared_text: String::new(),
        claim_link: String::new(),
        reminder: false,
        private: true,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("`{0}` is not a label of this workflow")]
    UnknownLabel(String),
    #[error("this audit is answered")]
    Answered,
    #[error("the audit expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records the auditor's label: the audit's verdict, and the reviewer
/// feedback that is evidence for the label's autonomy (confirmed: a blind
/// label confirms or refutes the AI, it cannot switch an approval off, as
/// the run acted alone already).
pub async fn record_verdict(
    store: &dyn RunStore,
    now: DateTime<Utc>,
    workflow: &Workflow,
    mut audit: BlindAudit,
    label: &str,
) -> Result<Feedback, AuditError> {
    if audit.verdict.is_some() {
        return Err(AuditError::Answered);
    }
    if now >= audit.expires_at {
        return Err(AuditError::Expired);
    }
    if !workflow
        .spec
        .reason
        .primary_labels()
        .iter()
        .any(|l| l == label)
    {
        return Err(AuditError::UnknownLabel(label.to_string()));
    }
    let ai: AiResult = store
        .get_slot(&audit.run_id, &Slot::Ai)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let predicted = ai.primary(&workflow.spec.reason);
    let event = store.get_event(&audit.run_id).await?;
    audit.verdict = Some(AuditVerdict {
        label: label.to_string(),
        at: now,
    });
    store
        .put_slot(
            &audit.run_id,
            &Slot::Audit,
            &serde_json::to_value(&audit).expect("audits serialise"),
        )
        .await?;
    let feedback = Feedback {
        workflow: audit.workflow.clone(),
        run_id: audit.run_id.clone(),
        at: now,
        text: event.map(|e| e.text()).unwrap_or_default(),
        predicted_label: predicted
            .as_ref()
            .map(|c| c.label.clone())
            .unwrap_or_default(),
        confidence: predicted.as_ref().map_or(0.0, |c| c.confidence),
        final_label: label.to_string(),
        edits: None,
        reviewer: audit.auditor.to_ascii_lowercase(),
        status: FeedbackStatus::Confirmed,
    };
    store.put_feedback(&feedback).await?;
    store
        .append(&AuditEvent::new(
            &audit.run_id,
            now,
            Stage::Approval,
            "audit.verdict",
            json!({
                "auditor": audit.auditor,
                "label": label,
                "agrees_with_ai": feedback.final_label == feedback.predicted_label,
            }),
        ))
        .await?;
    Ok(feedback)
}
