//! One task through its tiers, per kind: a classify task stops at the first
//! confident answer, an extract task merges what each tier fills (earlier
//! tiers win), a summary or a draft takes the first valid text. With no
//! valid answer the task's `on_failure` decides, and it is recorded.

use serde::Serialize;
use serde_json::{json, Value};

use handoff_spec::{TaskFailure, TaskKind, TaskSpec, EMBEDDED_TIER};

use super::ask::{ask, not_called, Asked, TierCall};
use crate::model::{mask_answer, Tiers};
use crate::ports::{ModelRequest, Prompt};

/// Characters of a prompt or an answer kept in a trace.
const TRACE_CHARS: usize = 8_000;

/// Tokens a run may still spend on billed tiers.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub left: Option<u64>,
    /// Which limit `left` is, for the audit trail.
    pub limit: &'static str,
}

impl Budget {
    fn allows(&self) -> bool {
        self.left.is_none_or(|left| left > 0)
    }

    fn spend(&mut self, tokens: u64) {
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(tokens);
        }
    }
}

/// How a task went, for the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRecord {
    pub task: String,
    pub kind: &'static str,
    /// `answered`, `skipped`, `fallback`, `default` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    pub calls: Vec<TierCall>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub review_reasons: Vec<String>,
}

/// An LLM call's prompt and answer, size-capped and with sensitive values
/// redacted, so a person can see why the AI said what it said.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub task: String,
    pub tier: String,
    pub model: String,
    pub outcome: &'static str,
    pub system: String,
    pub turns: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Value>,
}

pub struct TaskRun {
    /// What lands at `ai.<task>`; `None` only for a skipped task.
    pub output: Option<Value>,
    pub record: TaskRecord,
    pub traces: Vec<Trace>,
}

pub struct Cascade<'a> {
    pub tiers: &'a Tiers,
    pub budget: &'a mut Budget,
    pub calls: Vec<TierCall>,
    pub traces: Vec<Trace>,
}

impl Cascade<'_> {
    /// Asks one named tier, unless it is not configured or the budget is
    /// spent; `None` then, recorded.
    async fn ask(&mut self, name: &str, request: &ModelRequest<'_>) -> Option<Asked> {
        let Some(tier) = self.tiers.get(name) else {
            self.calls.push(not_called(
                name,
                "not_configured",
                format!("no model named `{name}` is configured here"),
            ));
            return None;
        };
        if tier.billed && !self.budget.allows() {
            self.calls.push(not_called(
                name,
                "over_budget",
                format!("the {} token budget is spent", self.budget.limit),
            ));
            return None;
        }
        let asked = ask(tier, request).await;
        self.budget.spend(asked.call.usage.tokens());
        if tier.billed {
            self.traces.push(trace(request.task, &asked));
        }
        self.calls.push(asked.call.clone());
        Some(asked)
    }

    fn over_budget(&self) -> bool {
        self.calls
            .last()
            .is_some_and(|c| c.outcome == "over_budget")
    }
}

fn trace(task: &TaskSpec, asked: &Asked) -> Trace {
    let cap = |s: &str| -> String {
        if s.chars().count() <= TRACE_CHARS {
            s.to_string()
        } else {
            format!("{}… [cut]", s.chars().take(TRACE_CHARS).collect::<String>())
        }
    };
    let Prompt { system, turns, .. } = &asked.conversation;
    Trace {
        task: task.name.clone(),
        tier: asked.call.tier.clone(),
        model: asked.call.model.clone(),
        outcome: asked.call.outcome,
        system: cap(system),
        turns: turns
            .iter()
            .map(|t| {
                let mut v = serde_json::to_value(t).expect("turns serialise");
                if let Some(Value::String(text)) = v.get_mut("text") {
                    *text = cap(text);
                }
                v
            })
            .collect(),
        answer: asked.last_raw.as_ref().map(|a| {
            let masked = mask_answer(task, a);
            let text = masked.to_string();
            if text.chars().count() <= TRACE_CHARS {
                masked
            } else {
                json!(cap(&text))
            }
        }),
    }
}

/// Runs one task through its tiers. `fallback_draft` renders the draft
/// template against the results so far.
pub async fn run_task(
    cascade: &mut Cascade<'_>,
    request: &ModelRequest<'_>,
    fallback_draft: impl FnOnce() -> Option<String>,
) -> TaskRun {
    let task = request.task;
    let mut reasons = Vec::new();
    let (output, status, tier) = match &task.kind {
        TaskKind::Classify(c) => {
            let mut best: Option<(Value, String)> = None;
            for name in &task.models {
                let Some(asked) = cascade.ask(name, request).await else {
                    if cascade.over_budget() {
                        break;
                    }
                    continue;
                };
                if let Some(value) = asked.value {
                    let confidence = value["confidence"].as_f64().unwrap_or(0.0);
                    best = Some((value, name.clone()));
                    if confidence >= c.accept_at {
                        break;
                    }
                }
            }
            let settled = match best {
                Some((value, tier)) => Some((with_tier(value, &tier), "answered", Some(tier))),
                None => failure(cascade, request, &mut reasons, fallback_draft).await,
            };
            let (output, status, tier) = settled.unwrap_or_else(|| {
                (
                    json!({ "label": "", "confidence": 0.0, "rationale": "", "tier": "none" }),
                    "failed",
                    None,
                )
            });
            let confidence = output["confidence"].as_f64().unwrap_or(0.0);
            if status != "failed" && status != "default" && confidence < c.review_below {
                reasons.push(format!(
                    "task `{}`: confidence {confidence:.2} is below the review threshold {:.2}",
                    task.name, c.review_below
                ));
            }
            (output, status, tier)
        }
        TaskKind::Extract(e) => {
            let mut merged = serde_json::Map::new();
            let mut answered_by = Vec::new();
            for name in &task.models {
                if e.fields.keys().all(|k| merged.contains_key(k)) {
                    break;
                }
                let Some(asked) = cascade.ask(name, request).await else {
                    if cascade.over_budget() {
                        break;
                    }
                    continue;
                };
                if let Some(Value::Object(found)) = asked.value {
                    answered_by.push(name.clone());
                    for (k, v) in found {
                        merged.entry(k).or_insert(v);
                    }
                }
            }
            let (output, status, tier) = if answered_by.is_empty() {
                failure(cascade, request, &mut reasons, fallback_draft)
                    .await
                    .unwrap_or((json!({}), "failed", None))
            } else {
                (
                    Value::Object(merged),
                    "answered",
                    Some(answered_by.join("+")),
                )
            };
            for field in &e.required {
                if output.get(field).is_none() {
                    reasons.push(format!(
                        "task `{}`: required field `{field}` was not found",
                        task.name
                    ));
                }
            }
            (output, status, tier)
        }
        TaskKind::Summarize(_) | TaskKind::Draft(_) => {
            let mut first = None;
            for name in &task.models {
                let Some(asked) = cascade.ask(name, request).await else {
                    if cascade.over_budget() {
                        break;
                    }
                    continue;
                };
                if let Some(value) = asked.value {
                    first = Some((written(value, name), "answered", Some(name.clone())));
                    break;
                }
            }
            match first {
                Some(done) => done,
                None => failure(cascade, request, &mut reasons, fallback_draft)
                    .await
                    .unwrap_or((json!({ "text": "", "tier": "none" }), "failed", None)),
            }
        }
    };
    TaskRun {
        output: Some(output),
        record: TaskRecord {
            task: task.name.clone(),
            kind: task.kind.name(),
            status,
            tier,
            calls: std::mem::take(&mut cascade.calls),
            review_reasons: reasons,
        },
        traces: std::mem::take(&mut cascade.traces),
    }
}

type Settled = (Value, &'static str, Option<String>);

/// No tier gave a valid answer: the task's `on_failure`. `None` is a
/// failed task, and `reasons` says why.
async fn failure(
    cascade: &mut Cascade<'_>,
    request: &ModelRequest<'_>,
    reasons: &mut Vec<String>,
    fallback_draft: impl FnOnce() -> Option<String>,
) -> Option<Settled> {
    let task = request.task;
    match &task.on_failure {
        TaskFailure::Default(value) => Some((value.clone(), "default", Some("default".into()))),
        TaskFailure::Review => {
            reasons.push(no_valid_answer(task, &cascade.calls));
            None
        }
        TaskFailure::Fallback => {
            let settled = match &task.kind {
                TaskKind::Draft(_) => fallback_draft().map(|text| {
                    (
                        json!({ "text": text, "tier": "template" }),
                        "fallback",
                        Some("template".to_string()),
                    )
                }),
                _ if task.models.iter().any(|m| m == EMBEDDED_TIER) => None,
                _ => cascade
                    .ask(EMBEDDED_TIER, request)
                    .await
                    .and_then(|asked| asked.value)
                    .map(|value| {
                        let output = match &task.kind {
                            TaskKind::Summarize(_) => written(value, EMBEDDED_TIER),
                            TaskKind::Classify(_) => with_tier(value, EMBEDDED_TIER),
                            _ => value,
                        };
                        (output, "fallback", Some(EMBEDDED_TIER.to_string()))
                    }),
            };
            if settled.is_none() {
                reasons.push(no_valid_answer(task, &cascade.calls));
            }
            settled
        }
    }
}

fn no_valid_answer(task: &handoff_spec::TaskSpec, calls: &[TierCall]) -> String {
    let tried: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.tier, c.outcome))
        .collect();
    if tried.is_empty() {
        format!("task `{}`: no model tier answered", task.name)
    } else {
        format!(
            "task `{}`: no valid answer ({})",
            task.name,
            tried.join(", ")
        )
    }
}

fn with_tier(mut value: Value, tier: &str) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("tier".into(), json!(tier));
    }
    value
}

/// A summary or a draft: the text, who wrote it, and whether it is made of
/// the inbound text's own sentences.
fn written(value: Value, tier: &str) -> Value {
    let mut out = with_tier(value, tier);
    if tier == EMBEDDED_TIER {
        out["extractive"] = json!(true);
    }
    out
}
