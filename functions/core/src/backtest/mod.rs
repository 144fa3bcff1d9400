//! Backtests: stored runs replayed through a candidate spec with no side
//! effects, so a spec change is judged on the deployment's own history with
//! the reviewers' verdicts as ground truth.
//!
//! A replay reads what the run stored (event, context with its lookups'
//! answers, the AI step's answers and records) and calls nothing outside:
//! unchanged tasks keep their recorded answers, changed ones are asked
//! again through the tiers given, then the candidate's rules, approval
//! policy and earned autonomy decide.

mod figures;
mod report;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use handoff_spec::{RuleInput, Workflow};

use crate::domain::{AiResult, Decision, Feedback, Run, RunId};
use crate::model::Tiers;
use crate::observe::autonomy::LabelAutonomy;
use crate::observe::review;
use crate::ports::{RunQuery, RunStore, Slot, StoreError};
use crate::stages::decide::{decide, with_autonomy};
use crate::stages::reason::{changed, primary, recorded_tasks, replay_ai};
use crate::stages::StageError;

pub use figures::{Change, Figures, LabelRow, Side};
pub use report::page;

/// How many reviewer verdicts a backtest reads, at most.
const MAX_VERDICTS: usize = 100_000;
const PAGE: usize = 500;

/// Which stored runs to replay.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only runs created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only the newest this many.
    pub runs: Option<usize>,
}

/// What one run decided, or would decide.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub label: Option<String>,
    pub confidence: Option<f64>,
    pub decision: Decision,
    /// The billed calls' cost and tokens.
    pub cost: f64,
    pub tokens: u64,
}

/// One run, before and after.
#[derive(Debug, Clone, Serialize)]
pub struct RunReplay {
    pub run_id: RunId,
    /// The reviewer's final label, where one was given.
    pub verdict: Option<String>,
    pub before: Outcome,
    pub after: Outcome,
    /// Tasks asked again; tasks left at their recorded answer because only
    /// billed tiers answer them and those were not allowed.
    pub asked: Vec<String>,
    pub kept: Vec<String>,
}

pub struct Backtest<'a> {
    pub store: &'a dyn RunStore,
    /// The tiers changed tasks are asked through.
    pub tiers: &'a Tiers,
    /// The spec the runs ran under and the one proposed.
    pub baseline: &'a Workflow,
    pub candidate: &'a Workflow,
}

impl Backtest<'_> {
    /// The selected runs of the workflow, newest first.
    pub async fn runs(&self, selection: &Selection) -> Result<Vec<Run>, StoreError> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_runs(&RunQuery {
                    workflow: Some(self.baseline.name().to_string()),
                    status: None,
                    sender: None,
                    limit: PAGE,
                    cursor,
                })
                .await?;
            out.extend(
                page.items
                    .into_iter()
                    .filter(|r| selection.since.is_none_or(|since| r.created_at >= since)),
            );
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        if let Some(n) = selection.runs {
            out.truncate(n);
        }
        Ok(out)
    }

    /// The reviewers' final labels by run: the latest confirmed verdict.
    pub async fn verdicts(&self) -> Result<BTreeMap<RunId, String>, StoreError> {
        let mut feedback: Vec<Feedback> = self
            .store
            .list_feedback(self.baseline.name(), MAX_VERDICTS)
            .await?
            .into_iter()
            .filter(Feedback::teaches)
            .collect();
        feedback.sort_by_key(|f| f.at);
        Ok(feedback
            .into_iter()
            .map(|f| (f.run_id, f.final_label))
            .collect())
    }

    /// The labels' proven autonomy as of the latest accuracy review.
    pub async fn proven(&self) -> Result<BTreeMap<String, LabelAutonomy>, StoreError> {
        Ok(review::latest(self.store, self.baseline.name())
            .await?
            .map(|r| r.autonomy)
            .unwrap_or_default())
    }

    /// The candidate's tasks that differ from the baseline's (or are new)
    /// and that billed tiers of `tiers` would answer.
    pub fn changed_llm_tasks(&self) -> Vec<String> {
        self.candidate
            .spec
            .reason
            .tasks()
            .iter()
            .filter(|task| changed(self.baseline, task))
            .filter(|task| {
                task.models
                    .iter()
                    .any(|m| self.tiers.get(m).is_some_and(|t| t.billed))
            })
            .map(|task| task.name.clone())
            .collect()
    }

    /// What asking `tasks` again costs over `runs`, estimated from what
    /// they cost when the runs ran: (tokens, cost).
    pub async fn llm_estimate(
        &self,
        runs: &[Run],
        tasks: &[String],
    ) -> Result<(u64, f64), StoreError> {
        let mut total = (0, 0.0);
        for run in runs {
            let recorded = recorded_tasks(&self.store.trail(&run.id).await?);
            for task in tasks.iter().filter_map(|t| recorded.get(t)) {
                total.0 += task.tokens;
                total.1 += task.cost;
            }
        }
        Ok(total)
    }

    /// One run replayed; `None` when it never reached a decision.
    pub async fn replay(
        &self,
        run: &Run,
        verdicts: &BTreeMap<RunId, String>,
        proven: &BTreeMap<String, LabelAutonomy>,
    ) -> Result<Option<RunReplay>, StageError> {
        let store = self.store;
        let (Some(ai_json), Some(decision_json), Some(event)) = (
            store.get_slot(&run.id, &Slot::Ai).await?,
            store.get_slot(&run.id, &Slot::Decision).await?,
            store.get_event(&run.id).await?,
        ) else {
            return Ok(None);
        };
        let invalid = |e: serde_json::Error| StageError::Invalid(format!("run {}: {e}", run.id));
        let recorded_ai: AiResult = serde_json::from_value(ai_json).map_err(invalid)?;
        let decided: Decision = serde_json::from_value(decision_json).map_err(invalid)?;
        let context = store
            .get_slot(&run.id, &Slot::Context)
            .await?
            .unwrap_or(json!({}));
        let event_json = serde_json::to_value(&event.fields).expect("fields serialise");
        let recorded = recorded_tasks(&store.trail(&run.id).await?);

        let replayed = replay_ai(
            self.tiers,
            self.baseline,
            self.candidate,
            &event.text(),
            &event_json,
            &context,
            &recorded_ai,
            &recorded,
        )
        .await?;
        let ai_value = replayed.ai.to_value();
        let decision = decide(
            self.candidate,
            &replayed.ai,
            &RuleInput {
                event: &event_json,
                ai: &ai_value,
                context: &context,
            },
        )
        .map_err(|e| StageError::Invalid(format!("run {}: {e}", run.id)))?;
        let decision = with_autonomy(decision, self.candidate, &replayed.ai, proven);

        let before_label = primary(self.baseline, &recorded_ai);
        let after_label = primary(self.candidate, &replayed.ai);
        Ok(Some(RunReplay {
            run_id: run.id.clone(),
            verdict: verdicts.get(&run.id).cloned(),
            before: Outcome {
                label: before_label.as_ref().map(|c| c.label.clone()),
                confidence: before_label.map(|c| c.confidence),
                decision: decided,
                cost: recorded.values().map(|r| r.cost).sum(),
                tokens: recorded.values().map(|r| r.tokens).sum(),
            },
            after: Outcome {
                label: after_label.as_ref().map(|c| c.label.clone()),
                confidence: after_label.map(|c| c.confidence),
                decision,
                cost: replayed.cost,
                tokens: replayed.tokens,
            },
            asked: replayed.asked,
            kept: replayed.kept,
        }))
    }
}
