//! The AI step of a stored run again, under a candidate spec, for a
//! backtest: a task the candidate left as it was keeps its recorded answer
//! (and what it cost); a changed or new task is asked again outside the run
//! through the tiers given, which hold billed tiers only when the caller
//! allowed them. Nothing is stored and no lookup is made.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use handoff_spec::{TaskSpec, Workflow};

use crate::domain::{AiResult, AuditEvent};
use crate::model::Tiers;
use crate::stages::StageError;

use super::{answer_outside_run, condition_holds};

/// What the reason stage recorded of one task of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedTask {
    pub review_reasons: Vec<String>,
    /// The billed calls' cost and tokens.
    pub cost: f64,
    pub tokens: u64,
}

/// Per task, what the run's `reason.finished` audit event recorded.
pub fn recorded_tasks(trail: &[AuditEvent]) -> BTreeMap<String, RecordedTask> {
    let Some(finished) = trail.iter().rev().find(|e| e.kind == "reason.finished") else {
        return BTreeMap::new();
    };
    let records = finished.detail["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    records
        .iter()
        .filter_map(|record| {
            let name = record["task"].as_str()?.to_string();
            let calls = record["calls"].as_array().cloned().unwrap_or_default();
            let number = |call: &Value, key: &str| call["usage"][key].as_u64().unwrap_or(0);
            Some((
                name,
                RecordedTask {
                    review_reasons: record["review_reasons"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    cost: calls.iter().filter_map(|c| c["cost"].as_f64()).sum(),
                    tokens: calls
                        .iter()
                        .map(|c| number(c, "input_tokens") + number(c, "output_tokens"))
                        .sum(),
                },
            ))
        })
        .collect()
}

/// The candidate's AI result for one stored run.
#[derive(Debug, Clone, Default)]
pub struct ReplayedAi {
    pub ai: AiResult,
    /// Tasks asked again.
    pub asked: Vec<String>,
    /// Changed or new tasks that only billed tiers answer, not asked
    /// because billed tiers were not allowed: the recorded answer stands
    /// where there is one.
    pub kept: Vec<String>,
    pub cost: f64,
    pub tokens: u64,
}

/// The run's AI step under `candidate`, `recorded` being what ran under
/// `baseline` (the stored `ai` slot and its tasks' records).
#[allow(clippy::too_many_arguments)]
pub async fn replay_ai(
    tiers: &Tiers,
    baseline: &Workflow,
    candidate: &Workflow,
    text: &str,
    event: &Value,
    context: &Value,
    recorded_ai: &AiResult,
    recorded: &BTreeMap<String, RecordedTask>,
) -> Result<ReplayedAi, StageError> {
    let unchanged = |task: &TaskSpec| !changed(baseline, task);
    let tasks = candidate.spec.reason.tasks();
    if tasks.len() == baseline.spec.reason.tasks().len() && tasks.iter().all(unchanged) {
        return Ok(ReplayedAi {
            ai: recorded_ai.clone(),
            cost: recorded.values().map(|r| r.cost).sum(),
            tokens: recorded.values().map(|r| r.tokens).sum(),
            ..ReplayedAi::default()
        });
    }
    let mut out = ReplayedAi::default();
    let mut reasons = Vec::new();
    for task in candidate.spec.reason.tasks() {
        let ai_json = out.ai.to_value();
        if let Some(when) = &task.when {
            if !condition_holds(when, event, &ai_json, context)? {
                continue;
            }
        }
        let unchanged = unchanged(task);
        let answerable = task.models.iter().any(|m| tiers.get(m).is_some());
        let record = recorded.get(&task.name);
        let output = recorded_ai.outputs.get(&task.name);
        if !unchanged && !answerable {
            out.kept.push(task.name.clone());
        }
        if unchanged || !answerable {
            if let Some(output) = output {
                out.ai.outputs.insert(task.name.clone(), output.clone());
            }
            if let Some(record) = record {
                reasons.extend(record.review_reasons.iter().cloned());
                out.cost += record.cost;
                out.tokens += record.tokens;
            }
            continue;
        }
        let (output, record) =
            answer_outside_run(tiers, candidate, task, text, event, context, &ai_json).await;
        out.asked.push(task.name.clone());
        if let Some(output) = output {
            out.ai.outputs.insert(task.name.clone(), output);
        }
        reasons.extend(record.review_reasons.iter().cloned());
        for call in &record.calls {
            out.cost += call.cost;
            out.tokens += call.usage.input_tokens + call.usage.output_tokens;
        }
    }
    out.ai.needs_review = !reasons.is_empty();
    out.ai.review_reasons = reasons;
    Ok(out)
}

/// Whether a candidate's task differs from the baseline's, or is new.
pub fn changed(baseline: &Workflow, task: &TaskSpec) -> bool {
    let as_json = |t: &TaskSpec| serde_json::to_value(t).unwrap_or(json!(null));
    baseline
        .spec
        .reason
        .task(&task.name)
        .is_none_or(|before| as_json(before) != as_json(task))
}
