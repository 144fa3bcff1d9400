//! One tier asked for one task's answer: the call, one wait on a short
//! `Retry-After`, validation against the task's schema, one repair turn
//! quoting the errors, and the record of how it went.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use handoff_spec::{TaskKind, TaskSpec};

use crate::model::Tier;
use crate::ports::{CachedAnswer, ModelAnswer, ModelError, ModelRequest, ModelUsage, Prompt, Turn};

/// The longest `Retry-After` worth waiting for inside a stage; longer, the
/// cascade moves on and the wait is the state machine's retry.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// How one tier call went, for the audit trail and the metrics.
#[derive(Debug, Clone, Serialize)]
pub struct TierCall {
    pub tier: String,
    pub model: String,
    /// `answered`, `repaired`, `cached`, or a failure: `invalid`,
    /// `rate_limited`, `timeout`, `server_error`, `refused`, `empty`,
    /// `unavailable`, `unsupported`, `not_configured`, `over_budget`.
    pub outcome: &'static str,
    pub usage: ModelUsage,
    pub cost: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the caller needs of a call: the valid answer, if any, and the
/// conversation that produced it (for the trace).
pub struct Asked {
    pub call: TierCall,
    pub value: Option<Value>,
    pub conversation: Prompt,
    pub last_raw: Option<Value>,
}

pub async fn ask(tier: &Tier, request: &ModelRequest<'_>) -> Asked {
    let t0 = Instant::now();
    let validator = answer_validator(request.task);
    let mut conversation = request.prompt.clone();
    let mut usage = ModelUsage::default();
    let mut model = tier.name.clone();
    let mut last_raw = None;
    let mut repaired = false;
    for attempt in 0..2 {
        let req = ModelRequest {
            prompt: &conversation,
            ..*request
        };
        let answer = match call_with_wait(tier, &req).await {
            Ok(answer) => answer,
            Err(e) => {
                usage.latency_ms = t0.elapsed().as_millis() as u64;
                return Asked {
                    call: record(tier, model, e.outcome(), usage, Some(e.to_string())),
                    value: None,
                    conversation,
                    last_raw,
                };
            }
        };
        if let Some(u) = answer.usage {
            usage.add(ModelUsage { latency_ms: 0, ..u });
        }
        model = answer.model.clone();
        let note = answer.note.clone();
        let value = normalise(request.task, answer.value);
        last_raw = Some(value.clone());
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| match e.instance_path().as_str() {
                "" => e.to_string(),
                at => format!("{at}: {e}"),
            })
            .collect();
        if errors.is_empty() {
            usage.latency_ms = t0.elapsed().as_millis() as u64;
            let outcome = if repaired { "repaired" } else { "answered" };
            return Asked {
                call: record(tier, model, outcome, usage, note),
                value: Some(value),
                conversation,
                last_raw,
            };
        }
        if attempt == 1 || !tier.billed {
            usage.latency_ms = t0.elapsed().as_millis() as u64;
            return Asked {
                call: record(tier, model, "invalid", usage, Some(errors.join("; "))),
                value: None,
                conversation,
                last_raw,
            };
        }
        repaired = true;
        conversation.turns.push(Turn::Assistant(value.to_string()));
        conversation.turns.push(Turn::User(format!(
            "That answer does not match the schema: {}. Answer again with one JSON object \
             that matches it.",
            errors.join("; ")
        )));
    }
    unreachable!("the second attempt returns")
}

async fn call_with_wait(
    tier: &Tier,
    request: &ModelRequest<'_>,
) -> Result<ModelAnswer, ModelError> {
    match tier.model.answer(request).await {
        Err(ModelError::RateLimited {
            retry_after: Some(wait),
        }) if wait <= MAX_RETRY_WAIT => {
            tracing::info!(tier = %tier.name, wait_ms = wait.as_millis() as u64, "rate-limited; waiting as asked");
            tokio::time::sleep(wait).await;
            tier.model.answer(request).await
        }
        other => other,
    }
}

fn record(
    tier: &Tier,
    model: String,
    outcome: &'static str,
    usage: ModelUsage,
    detail: Option<String>,
) -> TierCall {
    TierCall {
        tier: tier.name.clone(),
        model,
        outcome,
        cost: tier.price.cost(usage.input_tokens, usage.output_tokens),
        usage,
        detail: detail.map(|d| d.chars().take(500).collect()),
    }
}

/// A billed tier's answer to the same question, reused: no tokens, no cost.
pub fn cached(tier: &str, answer: CachedAnswer, prompt: &Prompt) -> Asked {
    Asked {
        call: TierCall {
            tier: tier.to_string(),
            model: answer.model,
            outcome: "cached",
            usage: ModelUsage::default(),
            cost: 0.0,
            detail: Some(format!(
                "answered from the cache; first paid {} tokens",
                answer.usage.tokens()
            )),
        },
        value: Some(answer.value.clone()),
        conversation: prompt.clone(),
        last_raw: Some(answer.value),
    }
}

/// A call that never reached a model.
pub fn not_called(tier: &str, outcome: &'static str, detail: String) -> TierCall {
    TierCall {
        tier: tier.to_string(),
        model: String::new(),
        outcome,
        usage: ModelUsage::default(),
        cost: 0.0,
        detail: Some(detail),
    }
}

/// Extract answers may be partial (each tier fills what it can; `required`
/// is checked on the merged result), and models write `null` for "not
/// stated": both are normalised away before validation.
fn answer_validator(task: &TaskSpec) -> jsonschema::Validator {
    let mut schema = task.answer_schema();
    if matches!(task.kind, TaskKind::Extract(_)) {
        if let Some(map) = schema.as_object_mut() {
            map.remove("required");
        }
    }
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("task schemas are checked when the spec is loaded")
}

fn normalise(task: &TaskSpec, value: Value) -> Value {
    match (&task.kind, value) {
        (TaskKind::Extract(_), Value::Object(map)) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        (_, value) => value,
    }
}
