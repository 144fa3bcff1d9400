//! Getting the reviewers' decision to the task that waits for it.
//!
//! A settling vote closes the approval in the store first, then answers the
//! task token. The store keeps the decision owed until the task takes it
//! (or can no longer take one), so a failed answer is not a lost one: the
//! reviewer's next click, [`Callback::redeliver_due`] (a schedule in AWS, a
//! timer locally) and the approval timeout all deliver the people's decision,
//! never a policy's.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tracing::{info, warn};

use crate::domain::*;
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::*;
use crate::stages::callback::Callback;
use crate::stages::{audit, StageError};

/// SendTaskSuccess is retried this often within one delivery.
const DELIVERY_ATTEMPTS: u32 = 3;
/// The sweep leaves a fresh decision to the click that made it, then waits
/// twice as long after each failed redelivery, up to an hour.
const FIRST_REDELIVERY: Duration = Duration::seconds(30);
const LAST_REDELIVERY_GAP: Duration = Duration::hours(1);

#[derive(Debug)]
pub enum DeliveryError {
    /// The task stopped waiting (it timed out, was answered, or the run ended).
    TaskClosed(String),
    /// The execution service did not answer; the decision stays owed.
    Unavailable(String),
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Redelivery {
    pub delivered: usize,
    /// The task had stopped waiting; nothing more can be delivered.
    pub closed: usize,
    /// Still owed: failed again, or not yet due.
    pub owed: usize,
}

impl Callback {
    /// Answers the approval's task token with its reviewers' decision and
    /// settles what the store owes.
    pub async fn deliver(
        &self,
        approval: &Approval,
        outcome: &ApprovalOutcome,
    ) -> Result<(), DeliveryError> {
        let output = serde_json::to_value(outcome).expect("outcomes serialise");
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            match self
                .executions
                .send_task_success(&approval.task_token, &output)
                .await
            {
                Err(ExecutionError::Unavailable(e)) if attempt < DELIVERY_ATTEMPTS => {
                    warn!(approval_id = %approval.id, error = %e, attempt, "task answer failed; retrying");
                }
                other => break other,
            }
        };
        match result {
            Ok(()) => {
                self.settle(approval).await;
                self.audit(
                    &approval.run_id,
                    "approval.decided",
                    json!({
                        "approval_id": approval.id,
                        "decision": outcome.decision,
                        "reviewers": outcome.reviewers,
                        "reason": outcome.reason,
                        "edits": outcome.edits,
                        "at": approval.decided_at,
                    }),
                )
                .await;
                info!(run_id = %approval.run_id, decision = %outcome.decision, "approval decided");
                Ok(())
            }
            Err(ExecutionError::TaskClosed(why)) => {
                if self.settle(approval).await {
                    self.audit(
                        &approval.run_id,
                        "approval.task_closed",
                        json!({ "approval_id": approval.id, "decision": outcome.decision, "detail": why }),
                    )
                    .await;
                }
                Err(DeliveryError::TaskClosed(why))
            }
            Err(ExecutionError::Unavailable(e)) => {
                warn!(approval_id = %approval.id, error = %e, "task answer not delivered");
                Err(DeliveryError::Unavailable(e))
            }
        }
    }

    /// Whether a delivery was still owed; a store fault leaves it owed,
    /// which costs one redundant redelivery, never a lost decision.
    async fn settle(&self, approval: &Approval) -> bool {
        match self.store.mark_delivered(&approval.id).await {
            Ok(owed) => owed,
            Err(e) => {
                warn!(approval_id = %approval.id, error = %e, "delivery not marked");
                false
            }
        }
    }

    /// Delivers every owed decision that is due, with back-off per
    /// approval, and reports per workflow what is still owed.
    pub async fn redeliver_due(&self) -> Result<Redelivery, StageError> {
        let mut owed = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.store.undelivered_approvals(100, cursor).await?;
            owed.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let now = self.clock.now();
        let mut sweep = Redelivery::default();
        let mut per_workflow: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for approval in owed {
            let Some(outcome) = approval.people_outcome() else {
                // Closed by a timeout policy, whose return value was the
                // delivery: nothing is owed.
                self.settle(&approval).await;
                continue;
            };
            let tally = per_workflow.entry(approval.workflow.clone()).or_default();
            // Within the first grace nothing can be due: spare the trail read.
            let decided = approval.decided_at.unwrap_or(approval.created_at);
            if now < decided + FIRST_REDELIVERY {
                sweep.owed += 1;
                tally.1 += 1;
                continue;
            }
            let failures = self.failed_redeliveries(&approval).await?;
            if now < next_attempt(decided, &failures) {
                sweep.owed += 1;
                tally.1 += 1;
                continue;
            }
            match self.deliver(&approval, &outcome).await {
                Ok(()) => {
                    sweep.delivered += 1;
                    tally.0 += 1;
                }
                Err(DeliveryError::TaskClosed(_)) => sweep.closed += 1,
                Err(DeliveryError::Unavailable(e)) => {
                    sweep.owed += 1;
                    tally.1 += 1;
                    self.audit(
                        &approval.run_id,
                        "approval.redelivery_failed",
                        json!({
                            "approval_id": approval.id,
                            "attempt": failures.len() + 1,
                            "error": e,
                        }),
                    )
                    .await;
                }
            }
        }
        for (workflow, (delivered, still_owed)) in per_workflow {
            self.metrics.emit(
                MetricDoc::workflow(&workflow)
                    .value(Metric::ApprovalRedeliveries, delivered as f64)
                    .value(Metric::ApprovalsUndelivered, still_owed as f64),
            );
        }
        if sweep != Redelivery::default() {
            info!(
                delivered = sweep.delivered,
                closed = sweep.closed,
                owed = sweep.owed,
                "approval redelivery sweep"
            );
        }
        Ok(sweep)
    }

    /// When each earlier redelivery of this approval failed, oldest first.
    async fn failed_redeliveries(
        &self,
        approval: &Approval,
    ) -> Result<Vec<DateTime<Utc>>, StageError> {
        Ok(self
            .store
            .trail(&approval.run_id)
            .await?
            .into_iter()
            .filter(|e| {
                e.kind == "approval.redelivery_failed"
                    && e.detail["approval_id"] == json!(approval.id)
            })
            .map(|e| e.at)
            .collect())
    }

    pub(crate) async fn audit(&self, run: &RunId, kind: &str, detail: serde_json::Value) {
        if let Err(e) = audit::record(
            self.store.as_ref(),
            self.clock.as_ref(),
            run,
            Stage::Approval,
            kind,
            detail,
        )
        .await
        {
            warn!(run_id = %run, kind, error = %e, "audit event not written");
        }
    }
}

/// 30 s after the decision, then 60 s, 120 s, … after each failure, capped.
fn next_attempt(decided: DateTime<Utc>, failures: &[DateTime<Utc>]) -> DateTime<Utc> {
    match failures.last() {
        None => decided + FIRST_REDELIVERY,
        Some(last) => {
            let doublings = u32::try_from(failures.len()).unwrap_or(u32::MAX).min(12);
            let gap = FIRST_REDELIVERY * 2_i32.pow(doublings);
            *last + gap.min(LAST_REDELIVERY_GAP)
        }
    }
}
