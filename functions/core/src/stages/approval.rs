//! The `approval` function: asks reviewers (`.waitForTaskToken`) and applies
//! the spec's on-timeout policy when nobody answered in time.
//!
//! The task token is stored with the approval and never leaves the server;
//! each reviewer gets a link signed for them alone.

use std::sync::Arc;

use chrono::Duration;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{info, warn};

use handoff_spec::{ApprovalSpec, Catalog, OnTimeout, Workflow};

use crate::domain::*;
use crate::links;
use crate::ports::*;
use crate::stages::{audit, StageError};

/// What the state machine sends: `RequestApproval` / `EscalateApproval`
/// (with a task token) and `ApprovalTimedOut`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApprovalTask {
    Request {
        run_id: RunId,
        workflow: String,
        #[serde(default)]
        escalation: bool,
        task_token: TaskToken,
    },
    Timeout {
        run_id: RunId,
        workflow: String,
    },
    /// From a schedule: remind reviewers whose links expire soon.
    RemindDue {},
    /// `RequestAudit`: a run that acts alone, sampled for a blind audit.
    Audit {
        run_id: RunId,
        workflow: String,
    },
}

/// Who answers for an automatic approval, in the outcome and the audit.
pub const APPROVE_ON_TIMEOUT: &str = "policy:approve-on-timeout";

/// The approval tasks of the state machine (`RequestApproval`, and its
/// timeout and escalation) and the reminder schedule.
pub struct ApprovalTasks {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub notifier: Arc<dyn Notifier>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    /// Name of the secret that signs approval links.
    pub link_secret: String,
    /// Where reviewers open links, without a trailing slash.
    pub public_url: String,
}

impl ApprovalTasks {
    pub async fn run(&self, task: &ApprovalTask) -> Result<Value, StageError> {
        match task {
            ApprovalTask::Request {
                run_id,
                workflow,
                escalation,
                task_token,
            } => {
                self.request(run_id, workflow, *escalation, task_token)
                    .await
            }
            ApprovalTask::Timeout { run_id, workflow } => self.timeout(run_id, workflow).await,
            ApprovalTask::RemindDue {} => Ok(json!({ "reminded": self.remind_due().await? })),
            ApprovalTask::Audit { run_id, workflow } => self.request_audit(run_id, workflow).await,
        }
    }

    fn policy(&self, workflow: &str) -> Result<(&Arc<Workflow>, &ApprovalSpec), StageError> {
        let wf = super::workflow(&self.catalog, workflow)?;
        let spec = wf.spec.approval.as_ref().ok_or_else(|| {
            StageError::Invalid(format!("workflow `{workflow}` has no approval policy"))
        })?;
        Ok((wf, spec))
    }

    async fn request(
        &self,
        run_id: &RunId,
        workflow: &str,
        escalation: bool,
        task_token: &TaskToken,
    ) -> Result<Value, StageError> {
        let (_, spec) = self.policy(workflow)?;
        let run = super::run_of(self.store.as_ref(), run_id).await?;
        let now = self.clock.now();
        // Escalation keeps the run waiting; a retried request finds it waiting.
        match self
            .store
            .transition(
                run_id,
                &[RunStatus::Running],
                RunStatus::AwaitingApproval,
                Stage::Approval,
                now,
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) if run.status == RunStatus::AwaitingApproval => {}
            Err(StoreError::Conflict(why)) => {
                let current = self.store.get_run(run_id).await?.map(|r| r.status);
                if current != Some(RunStatus::AwaitingApproval) {
                    return Err(StoreError::Conflict(why).into());
                }
            }
            Err(e) => return Err(e.into()),
        }

        let secret = self.link_key().await?;
        let existing = self
            .store
            .approvals_of_run(run_id)
            .await?
            .into_iter()
            .find(|a| a.escalation == escalation && a.status == ApprovalStatus::Pending);
        let approval = match existing {
            // A retried invocation with the same token: one approval, same links.
            Some(a) if &a.task_token == task_token => a,
            // The state machine retried the request (a new token per attempt):
            // the same approval, its links and votes, now answering this token.
            Some(mut a) => {
                a.task_token = task_token.clone();
                self.store.put_approval(&a).await?;
                a
            }
            None => {
                let approval = new_approval(&run, workflow, spec, escalation, task_token, now);
                self.store.put_approval(&approval).await?;
                approval
            }
        };

        let sender_excluded = run.sender.as_deref().is_some_and(|s| {
            escalation_pool(spec, escalation)
                .iter()
                .any(|r| same_person(s, r))
        });
        let understaffed = approval.reviewers.len() < approval.required;
        if understaffed {
            warn!(run_id = %run_id, workflow, "fewer eligible reviewers than required");
        }

        let (notified, failed) = self
            .notify_each(&approval, &secret, approval.reviewers.iter(), |n| n)
            .await?;
        self.audit(
            run_id,
            "approval.requested",
            json!({
                "approval_id": approval.id,
                "reviewers": approval.reviewers,
                "notified": notified,
                "not_notified": failed,
                "required": approval.required,
                "escalation": escalation,
                "expires_at": approval.expires_at,
                "sender_excluded": sender_excluded,
                "understaffed": understaffed.then(|| format!(
                    "{} eligible reviewer(s) for {} required approval(s): the approval cannot pass and will time out per policy",
                    approval.reviewers.len(),
                    approval.required
                )),
            }),
        )
        .await?;
        if notified.is_empty() && !failed.is_empty() {
            // Nobody can answer; fail so the state machine's retry tries again.
            return Err(NotifyError(format!("no reviewer of {} was notified", approval.id)).into());
        }
        info!(run_id = %run_id, workflow, approval_id = %approval.id, "approval requested");
        Ok(json!({ "approval_id": approval.id, "reviewers": notified.len() }))
    }

    async fn timeout(&self, run_id: &RunId, workflow: &str) -> Result<Value, StageError> {
        let (_, spec) = self.policy(workflow)?;
        let approvals = self.store.approvals_of_run(run_id).await?;
        if let Some(outcome) = self.people_decided(run_id, &approvals).await? {
            return Ok(serde_json::to_value(&outcome).expect("outcomes serialise"));
        }
        let expired = approvals
            .iter()
            .find(|a| a.status == ApprovalStatus::Pending)
            .or(approvals.first());
        let was_escalation = expired.is_some_and(|a| a.escalation);

        let outcome = match spec.on_timeout {
            OnTimeout::Reject => rejected_by_timeout(),
            OnTimeout::Approve => ApprovalOutcome {
                decision: "approved".into(),
                reviewers: vec![APPROVE_ON_TIMEOUT.into()],
                reason: "approved by policy: nobody answered in time".into(),
                edits: None,
                timeout_seconds: None,
            },
            OnTimeout::Escalate if !was_escalation && !spec.escalate_to.is_empty() => {
                ApprovalOutcome {
                    decision: "escalate".into(),
                    reviewers: spec.escalate_to.clone(),
                    reason: "escalated: nobody answered in time".into(),
                    edits: None,
                    timeout_seconds: Some(escalation_timeout(spec)),
                }
            }
            OnTimeout::Escalate => rejected_by_timeout(),
        };
        // Approve-on-timeout closes the approval as approved: the run's
        // outcome (finalize) reads the newest approval's status.
        let closed_as = if outcome.decision == "approved" {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Expired
        };
        if let Some(a) = expired.filter(|a| a.status == ApprovalStatus::Pending) {
            match self
                .store
                .close_approval(&a.id, closed_as, self.clock.now())
                .await
            {
                // This task's return value is the delivery.
                Ok(()) => {
                    self.store.mark_delivered(&a.id).await?;
                }
                // A vote closed it meanwhile: the people's decision stands.
                Err(StoreError::Conflict(_)) => {
                    let approvals = self.store.approvals_of_run(run_id).await?;
                    if let Some(outcome) = self.people_decided(run_id, &approvals).await? {
                        return Ok(serde_json::to_value(&outcome).expect("outcomes serialise"));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.audit(
            run_id,
            "approval.timed_out",
            json!({
                "approval_id": expired.map(|a| &a.id),
                "escalation": was_escalation,
                "policy": spec.on_timeout,
                "decision": outcome.decision,
                "timeout_seconds": outcome.timeout_seconds,
            }),
        )
        .await?;
        info!(run_id = %run_id, workflow, decision = %outcome.decision, "approval timed out");
        Ok(serde_json::to_value(&outcome).expect("outcomes serialise"))
    }
}

impl ApprovalTasks {
    /// An approval-stage entry in the run's audit trail.
    pub(super) async fn audit(
        &self,
        run_id: &RunId,
        kind: &str,
        detail: Value,
    ) -> Result<(), StoreError> {
        let (log, clock) = (self.store.as_ref(), self.clock.as_ref());
        audit::record(log, clock, run_id, Stage::Approval, kind, detail).await
    }

    /// The key the reviewers' approval links are signed with.
    async fn link_key(&self) -> Result<Secret, SecretError> {
        let secret = self.secrets.get(&self.link_secret).await?;
        secret.signing_key(&self.link_secret)
    }

    /// The decision the reviewers' votes settled, which a timeout never
    /// overturns: an approval closed by votes whose answer did not reach the
    /// task, or one whose settling vote was saved while its close failed
    /// (closed here). Returning it is its delivery.
    async fn people_decided(
        &self,
        run_id: &RunId,
        approvals: &[Approval],
    ) -> Result<Option<ApprovalOutcome>, StageError> {
        let Some(approval) = approvals.iter().find(|a| {
            a.decided_by_people()
                || (a.status == ApprovalStatus::Pending && a.people_decision().is_some())
        }) else {
            return Ok(None);
        };
        let outcome = approval.people_outcome().expect("settled by its votes");
        if approval.status == ApprovalStatus::Pending {
            let to = approval.people_decision().expect("settled by its votes");
            match self
                .store
                .close_approval(&approval.id, to, self.clock.now())
                .await
            {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.store.mark_delivered(&approval.id).await?;
        self.audit(
            run_id,
            "approval.timed_out",
            json!({
                "approval_id": approval.id,
                "escalation": approval.escalation,
                "decided_by": "reviewers",
                "decision": outcome.decision,
                "reviewers": outcome.reviewers,
            }),
        )
        .await?;
        info!(run_id = %run_id, decision = %outcome.decision, "approval timed out after its reviewers decided; their decision stands");
        Ok(Some(outcome))
    }

    /// Sends each of `reviewers` their own link, shaped by `dress`; answers
    /// who was reached and who was not (a failed channel is logged, not fatal).
    async fn notify_each<'a>(
        &self,
        approval: &Approval,
        secret: &Secret,
        reviewers: impl Iterator<Item = &'a String>,
        dress: impl Fn(Notification) -> Notification,
    ) -> Result<(Vec<String>, Vec<String>), StageError> {
        let run_id = &approval.run_id;
        let (primary, event) = message_inputs(self.store.as_ref(), &self.catalog, approval).await?;
        let expires = approval.expires_at.timestamp();
        let mut notified = Vec::new();
        let mut failed = Vec::new();
        for reviewer in reviewers {
            let link =
                links::approval_link(&self.public_url, secret, &approval.id, reviewer, expires);
            let message = dress(notification(
                approval,
                primary.as_ref(),
                event.as_ref(),
                reviewer,
                link,
                &self.public_url,
            ));
            match self.notifier.notify(&message).await {
                Ok(()) => notified.push(reviewer.clone()),
                Err(e) => {
                    warn!(run_id = %run_id, reminder = message.reminder, error = %e, "reviewer not notified");
                    failed.push(reviewer.clone());
                }
            }
        }
        Ok((notified, failed))
    }

    /// Reminds the reviewers who have not answered, once per approval, when
    /// its links expire within the spec's `remind_before_seconds`. The local
    /// runtime calls this on a timer; in AWS a schedule invokes it.
    pub async fn remind_due(&self) -> Result<usize, StageError> {
        let mut reminded = 0;
        let mut cursor = None;
        loop {
            let page = self.store.pending_approvals(100, cursor).await?;
            for approval in &page.items {
                if self.remind(approval).await? {
                    reminded += 1;
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(reminded),
            }
        }
    }

    async fn remind(&self, approval: &Approval) -> Result<bool, StageError> {
        let Some(before) = self
            .catalog
            .get(&approval.workflow)
            .and_then(|w| w.spec.approval.as_ref())
            .and_then(|spec| spec.remind_before_seconds)
        else {
            return Ok(false);
        };
        let now = self.clock.now();
        let due = approval.expires_at - Duration::seconds(i64::try_from(before).unwrap_or(0));
        if now < due || now >= approval.expires_at {
            return Ok(false);
        }
        let run_id = &approval.run_id;
        let already = self.store.trail(run_id).await?.iter().any(|e| {
            e.kind == "approval.reminded" && e.detail["approval_id"] == json!(approval.id)
        });
        if already {
            return Ok(false);
        }
        let secret = self.link_key().await?;
        let silent = approval
            .reviewers
            .iter()
            .filter(|r| approval.vote_of(r).is_none());
        let (notified, failed) = self
            .notify_each(approval, &secret, silent, |mut n| {
                n.reminder = true;
                n.subject = format!("Reminder: {}", n.subject);
                n.text = format!(
                    "Reminder: your answer is still needed; the link expires {}.\n{}",
                    approval.expires_at.format("%Y-%m-%d %H:%M UTC"),
                    n.text
                );
                n
            })
            .await?;
        self.audit(
            run_id,
            "approval.reminded",
            json!({
                "approval_id": approval.id,
                "reminded": notified,
                "not_reminded": failed,
                "expires_at": approval.expires_at,
            }),
        )
        .await?;
        info!(run_id = %run_id, approval_id = %approval.id, "reviewers reminded");
        Ok(true)
    }
}

fn rejected_by_timeout() -> ApprovalOutcome {
    ApprovalOutcome {
        decision: "rejected".into(),
        reviewers: Vec::new(),
        reason: "rejected by policy: nobody answered in time".into(),
        edits: None,
        timeout_seconds: None,
    }
}

fn escalation_timeout(spec: &ApprovalSpec) -> u64 {
    spec.escalation_timeout_seconds
        .unwrap_or(spec.timeout_seconds)
}

/// Links stop working a little before the state machine's own timeout: its
/// clock started before this stage ran, and an answer that closes the
/// approval after the task timed out would contradict the timeout policy.
pub fn link_lifetime(timeout_seconds: u64) -> i64 {
    let timeout = i64::try_from(timeout_seconds).unwrap_or(i64::MAX / 4);
    timeout - (timeout / 10).min(LINK_MARGIN_SECONDS)
}

/// At most this much earlier than the state machine's timeout.
pub const LINK_MARGIN_SECONDS: i64 = 60;

fn escalation_pool(spec: &ApprovalSpec, escalation: bool) -> &[String] {
    if escalation {
        &spec.escalate_to
    } else {
        &spec.reviewers
    }
}

fn same_person(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Reviewers per the spec, minus the run's sender: nobody approves their
/// own request. `required` is never lowered to fit.
fn new_approval(
    run: &Run,
    workflow: &str,
    spec: &ApprovalSpec,
    escalation: bool,
    task_token: &TaskToken,
    now: chrono::DateTime<chrono::Utc>,
) -> Approval {
    let (required, timeout) = if escalation {
        (1, escalation_timeout(spec))
    } else {
        (spec.required, spec.timeout_seconds)
    };
    let mut reviewers: Vec<String> = Vec::new();
    for r in escalation_pool(spec, escalation) {
        let is_sender = run.sender.as_deref().is_some_and(|s| same_person(s, r));
        if !is_sender && !reviewers.iter().any(|x| same_person(x, r)) {
            reviewers.push(r.clone());
        }
    }
    Approval {
        id: ApprovalId::random(),
        run_id: run.id.clone(),
        workflow: workflow.to_string(),
        task_token: task_token.clone(),
        reviewers,
        required,
        status: ApprovalStatus::Pending,
        escalation,
        created_at: now,
        expires_at: now + Duration::seconds(link_lifetime(timeout)),
        votes: Vec::new(),
        decided_at: None,
    }
}

/// What a reviewer's message shows of the run: the AI's primary label and
/// the event.
pub(crate) async fn message_inputs(
    store: &dyn RunStore,
    catalog: &Catalog,
    approval: &Approval,
) -> Result<(Option<Classification>, Option<CanonicalEvent>), StoreError> {
    let ai = store
        .get_slot(&approval.run_id, &Slot::Ai)
        .await?
        .and_then(|v| serde_json::from_value::<AiResult>(v).ok());
    let primary = ai
        .as_ref()
        .zip(catalog.get(&approval.workflow))
        .and_then(|(ai, w)| ai.primary(&w.spec.reason));
    let event = store.get_event(&approval.run_id).await?;
    Ok((primary, event))
}

/// One reviewer's message. Only the subject line comes from the sender;
/// it is [`neutral`] so it can neither add a line nor pass for a link.
pub(crate) fn notification(
    approval: &Approval,
    ai: Option<&Classification>,
    event: Option<&CanonicalEvent>,
    reviewer: &str,
    link: String,
    public_url: &str,
) -> Notification {
    let label = ai.map_or("unclassified", |a| a.label.as_str());
    let subject_line = event
        .and_then(|e| e.field_str("subject"))
        .map(|s| excerpt(&neutral(s), 120))
        .unwrap_or_default();
    let escalated = if approval.escalation {
        "Escalated: "
    } else {
        ""
    };
    let mut text = format!(
        "{escalated}a {} run needs your decision.\nAI label: {label}",
        approval.workflow
    );
    if let Some(ai) = ai {
        text.push_str(&format!(" ({:.0}% confident)", ai.confidence * 100.0));
    }
    if !subject_line.is_empty() {
        text.push_str(&format!("\nSubject: {subject_line}"));
    }
    let needed = format!(
        "\n{} of {} approval(s) needed.",
        approval.required,
        approval.reviewers.len()
    );
    let shared_text =
        format!("{text}{needed} For {reviewer}: the button e-mails you your own link.");
    text.push_str(&format!(
        "{needed} Review, edit and decide here (the link is yours alone and expires {}):\n{link}",
        approval.expires_at.format("%Y-%m-%d %H:%M UTC"),
    ));
    Notification {
        run_id: approval.run_id.clone(),
        approval_id: approval.id.clone(),
        workflow: approval.workflow.clone(),
        reviewer: reviewer.to_string(),
        subject: format!(
            "{escalated}Approval needed: {} ({label})",
            approval.workflow
        ),
        text,
        link,
        shared_text,
        claim_link: claim_link(public_url, &approval.id, reviewer),
        reminder: false,
        private: false,
    }
}

/// The page that e-mails `reviewer` their signed link for `approval`.
pub fn claim_link(public_url: &str, approval: &ApprovalId, reviewer: &str) -> String {
    format!(
        "{}/approvals/{approval}/claim?r={}",
        public_url.trim_end_matches('/'),
        urlencoding::encode(reviewer)
    )
}

/// Sender text made safe for a notification: control and direction
/// characters (a newline could start a fake link line) become spaces, and
/// `://` is broken so no client turns it into a link.
pub fn neutral(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
            if c.is_control() || bidi || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("://", "[:]//")
}

fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
