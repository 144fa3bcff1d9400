//! One task through its tiers, per kind: a classify task stops at the first
//! confident answer, an extract task merges what each tier fills (earlier
//! tiers win), a summary or a draft takes the first valid text. With no
//! valid answer the task's `on_failure` decides, and it is recorded.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use handoff_spec::{TaskFailure, TaskKind, TaskSpec, EMBEDDED_TIER};

use super::ask::{ask, cached, not_called, Asked, TierCall};
use crate::model::{mask_answer, Tier, Tiers};
use crate::ports::{
    CachedAnswer, Clock, ModelRequest, Prompt, PromptDocument, RunStore, StoreError,
};

/// Characters of a prompt or an answer kept in a trace.
const TRACE_CHARS: usize = 8_000;

/// The token limits a run's billed calls are held to.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// Left of the per-run budget; `None`: no per-run limit.
    pub run_left: Option<u64>,
    /// The workflow's tokens per UTC day, over all its runs.
    pub daily: Option<u64>,
    /// The limits that refused a call (`per-run`, `daily`), each once, for
    /// the audit trail and the metrics.
    pub exhausted: Vec<&'static str>,
}

impl Budget {
    fn spend(&mut self, tokens: u64) {
        if let Some(left) = &mut self.run_left {
            *left = left.saturating_sub(tokens);
        }
    }

    fn exhaust(&mut self, limit: &'static str) {
        if !self.exhausted.contains(&limit) {
            self.exhausted.push(limit);
        }
    }
}

/// Where the cascade keeps what billed calls cost and answered: the run
/// store's answer cache and token ledger, and the workflow's settings.
pub struct Costs<'a> {
    pub store: &'a dyn RunStore,
    pub clock: &'a dyn Clock,
    pub workflow: &'a str,
    /// How long a billed answer is reused; `None`: the cache is off.
    pub cache_ttl: Option<TimeDelta>,
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
    /// The documents shown with the first turn, by hash and pages: never
    /// their bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<PromptDocument>,
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
    /// `None` outside a run (`handoff eval`): nothing cached or counted.
    pub costs: Option<&'a Costs<'a>>,
    /// The task's prompt as it keys the answer cache (see
    /// [`crate::model::BuiltPrompt::without_nonce`]); `None` when no billed
    /// tier reads it or the cache is off.
    pub cache_prompt: Option<Prompt>,
    pub calls: Vec<TierCall>,
    pub traces: Vec<Trace>,
}

impl Cascade<'_> {
    /// Asks one named tier: a billed one from the cache when it answered
    /// the same question before, else unless a budget is spent. `None` when
    /// it was not asked, recorded.
    async fn ask(
        &mut self,
        name: &str,
        request: &ModelRequest<'_>,
    ) -> Result<Option<Asked>, StoreError> {
        let Some(tier) = self.tiers.get(name) else {
            self.calls.push(not_called(
                name,
                "not_configured",
                format!("no model named `{name}` is configured here"),
            ));
            return Ok(None);
        };
        if !tier.billed {
            let asked = ask(tier, request).await;
            self.calls.push(asked.call.clone());
            return Ok(Some(asked));
        }
        let costs = self.costs;
        let now = costs.map(|c| c.clock.now());
        let key = self
            .cache_prompt
            .as_ref()
            .map(|prompt| cache_key(tier, &request.task.name, prompt));
        if let (Some(costs), Some(now), Some(key)) = (costs, now, &key) {
            if let Some(answer) = cached_answer(costs, key, now).await {
                let asked = cached(name, answer, request.prompt);
                self.traces.push(trace(request.task, &asked));
                self.calls.push(asked.call.clone());
                return Ok(Some(asked));
            }
        }
        if let Some(refused) = self.refusal(name, costs, now).await? {
            self.calls.push(refused);
            return Ok(None);
        }
        let asked = ask(tier, request).await;
        let tokens = asked.call.usage.tokens();
        self.budget.spend(tokens);
        if let (Some(costs), Some(now)) = (costs, now) {
            if tokens > 0 {
                record_spend(costs, now, tokens).await;
            }
            if let (Some(key), Some(value)) = (&key, &asked.value) {
                let answer = CachedAnswer {
                    value: value.clone(),
                    model: asked.call.model.clone(),
                    usage: asked.call.usage,
                };
                keep(costs, key, &answer, now).await;
            }
        }
        self.traces.push(trace(request.task, &asked));
        self.calls.push(asked.call.clone());
        Ok(Some(asked))
    }

    /// A spent budget's refusal of a billed call. The daily total is read
    /// before every call, so runs in parallel see each other's spend; a
    /// store that cannot say fails the stage, to be retried, rather than
    /// pay past the budget.
    async fn refusal(
        &mut self,
        name: &str,
        costs: Option<&Costs<'_>>,
        now: Option<DateTime<Utc>>,
    ) -> Result<Option<TierCall>, StoreError> {
        if self.budget.run_left == Some(0) {
            self.budget.exhaust("per-run");
            return Ok(Some(not_called(
                name,
                "over_budget",
                "the per-run token budget is spent".into(),
            )));
        }
        let (Some(limit), Some(costs), Some(now)) = (self.budget.daily, costs, now) else {
            return Ok(None);
        };
        let (workflow, day) = (costs.workflow, now.date_naive());
        let spent = costs.store.spent(workflow, day).await?;
        if spent < limit {
            return Ok(None);
        }
        self.budget.exhaust("daily");
        Ok(Some(not_called(
            name,
            "over_budget",
            format!(
                "the daily token budget of `{workflow}` ({limit} tokens) is spent: \
                 {spent} tokens used on {day} (UTC)"
            ),
        )))
    }

    /// Asks the tiers in `models` in turn, handing each answer to `take`,
    /// until `take` says it has enough, the tiers run out or the budget is
    /// spent.
    async fn ask_in_turn(
        &mut self,
        models: &[String],
        request: &ModelRequest<'_>,
        mut take: impl FnMut(&str, Value) -> bool,
    ) -> Result<(), StoreError> {
        for name in models {
            let Some(asked) = self.ask(name, request).await? else {
                if self.over_budget() {
                    break;
                }
                continue;
            };
            if let Some(value) = asked.value {
                if take(name, value) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn over_budget(&self) -> bool {
        self.calls
            .last()
            .is_some_and(|c| c.outcome == "over_budget")
    }
}

/// The cache is only a saving: one it cannot read is a miss.
async fn cached_answer(costs: &Costs<'_>, key: &str, now: DateTime<Utc>) -> Option<CachedAnswer> {
    match costs.store.get_cached(key, now).await {
        Ok(hit) => hit,
        Err(e) => {
            tracing::warn!(error = %e, "answer cache unreadable; asking the model");
            None
        }
    }
}

async fn keep(costs: &Costs<'_>, key: &str, answer: &CachedAnswer, now: DateTime<Utc>) {
    let Some(ttl) = costs.cache_ttl else {
        return;
    };
    let expires_at = now
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if let Err(e) = costs.store.put_cached(key, answer, expires_at).await {
        tracing::warn!(error = %e, "answer not cached");
    }
}

/// The tokens are paid for already: failing the stage now would only
/// lose the answer, so a ledger that cannot take them is logged.
async fn record_spend(costs: &Costs<'_>, now: DateTime<Utc>, tokens: u64) {
    let (workflow, day) = (costs.workflow, now.date_naive());
    if let Err(e) = costs.store.spend(workflow, day, tokens).await {
        tracing::warn!(error = %e, tokens, "tokens not added to the daily ledger");
    }
}

/// The answer cache's key for one tier asked one task's question: SHA-256
/// (hex) of the tier, the model it is configured to call, the task and the
/// prompt (instructions, turns, schema, and the hashes of the documents it
/// shows), so only an identical question to the same model reuses an answer.
pub fn cache_key(tier: &Tier, task: &str, prompt: &Prompt) -> String {
    let question = json!({
        "tier": tier.name,
        "model": tier.model_id,
        "task": task,
        "prompt": prompt,
    });
    hex::encode(Sha256::digest(question.to_string()))
}

fn trace(task: &TaskSpec, asked: &Asked) -> Trace {
    let cap = |s: &str| -> String {
        if s.chars().count() <= TRACE_CHARS {
            s.to_string()
        } else {
            format!("{}… [cut]", s.chars().take(TRACE_CHARS).collect::<String>())
        }
    };
    let Prompt {
        system,
        turns,
        documents,
        ..
    } = &asked.conversation;
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
        documents: documents.clone(),
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
) -> Result<TaskRun, StoreError> {
    let task = request.task;
    let mut reasons = Vec::new();
    let (output, status, tier) = match &task.kind {
        TaskKind::Classify(c) => {
            let mut best: Option<(Value, String)> = None;
            cascade
                .ask_in_turn(&task.models, request, |name, value| {
                    let confidence = value["confidence"].as_f64().unwrap_or(0.0);
                    best = Some((value, name.to_string()));
                    confidence >= c.accept_at
                })
                .await?;
            let settled = match best {
                Some((value, tier)) => Some((with_tier(value, &tier), "answered", Some(tier))),
                None => failure(cascade, request, &mut reasons, fallback_draft).await?,
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
            // With no fields to fill there is nothing to ask a tier for.
            if !e.fields.is_empty() {
                cascade
                    .ask_in_turn(&task.models, request, |name, value| {
                        let Value::Object(found) = value else {
                            return false;
                        };
                        answered_by.push(name.to_string());
                        for (k, v) in found {
                            merged.entry(k).or_insert(v);
                        }
                        e.fields.keys().all(|k| merged.contains_key(k))
                    })
                    .await?;
            }
            let (output, status, tier) = if answered_by.is_empty() {
                failure(cascade, request, &mut reasons, fallback_draft)
                    .await?
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
            cascade
                .ask_in_turn(&task.models, request, |name, value| {
                    first = Some((written(value, name), "answered", Some(name.to_string())));
                    true
                })
                .await?;
            match first {
                Some(done) => done,
                None => failure(cascade, request, &mut reasons, fallback_draft)
                    .await?
                    .unwrap_or((json!({ "text": "", "tier": "none" }), "failed", None)),
            }
        }
    };
    Ok(TaskRun {
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
    })
}

type Settled = (Value, &'static str, Option<String>);

/// No tier gave a valid answer: the task's `on_failure`. `None` is a
/// failed task, and `reasons` says why.
async fn failure(
    cascade: &mut Cascade<'_>,
    request: &ModelRequest<'_>,
    reasons: &mut Vec<String>,
    fallback_draft: impl FnOnce() -> Option<String>,
) -> Result<Option<Settled>, StoreError> {
    let task = request.task;
    Ok(match &task.on_failure {
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
                    .await?
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
    })
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
