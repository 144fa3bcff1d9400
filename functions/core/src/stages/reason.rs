//! Classifies, extracts and drafts; validates the model's answer against
//! the spec, and never passes on a guess below the workflow's threshold.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use handoff_spec::{Catalog, Workflow};

use crate::domain::*;
use crate::observe::emf::{Metric, MetricDoc, TokenPrice};
use crate::ports::*;
use crate::stages::{audit, render, StageError};

/// How many reviewer corrections the model sees per call.
const FEEDBACK_WINDOW: usize = 500;

pub struct Reason {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub model: Arc<dyn Model>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
    /// What a model's tokens are estimated to cost.
    pub price: TokenPrice,
}

impl Reason {
    pub async fn run(&self, input: &RunRef) -> Result<Value, StageError> {
        let t0 = Instant::now();
        if let Some(existing) = self.store.get_slot(&input.run_id, &Slot::Ai).await? {
            let ai: AiResult =
                serde_json::from_value(existing).map_err(|e| StageError::Invalid(e.to_string()))?;
            return Ok(summary(&ai));
        }
        let workflow = super::workflow(&self.catalog, &input.workflow)?;
        let event = super::event_of(self.store.as_ref(), &input.run_id).await?;
        let context = self
            .store
            .get_slot(&input.run_id, &Slot::Context)
            .await?
            .unwrap_or(json!({}));
        let feedback = self
            .store
            .list_feedback(&input.workflow, FEEDBACK_WINDOW)
            .await?;
        let text = event.text();

        let answer = self
            .model
            .infer(&ModelRequest {
                workflow,
                text: &text,
                feedback: &feedback,
            })
            .await;
        let usage = answer.as_ref().ok().and_then(|a| a.usage);
        let mut ai = match answer {
            Ok(answer) => validate(workflow, answer),
            Err(ModelError::Invalid(why)) => {
                unanswered(workflow, format!("model output invalid: {why}"))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(template) = &workflow.spec.reason.draft {
            let ai_json = serde_json::to_value(&ai).expect("AI results serialise");
            let data =
                render::template_data(&input.run_id, &event, &context, &ai_json, &Value::Null);
            ai.draft = Some(render::render("reason.draft", template, &data)?);
        }

        self.store
            .put_slot(
                &input.run_id,
                &Slot::Ai,
                &serde_json::to_value(&ai).expect("AI results serialise"),
            )
            .await?;
        if let Some(mut run) = self.store.get_run(&input.run_id).await? {
            run.summary.label = Some(ai.label.clone());
            run.summary.confidence = Some(ai.confidence);
            self.store.set_summary(&input.run_id, &run.summary).await?;
        }
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            &input.run_id,
            Stage::Reason,
            t0,
            json!({
                "tier": ai.tier, "label": ai.label, "confidence": ai.confidence,
                "needs_review": ai.needs_review, "review_reasons": ai.review_reasons,
                "fields": ai.fields.keys().collect::<Vec<_>>(),
                "usage": usage,
            }),
        )
        .await?;
        self.metrics.emit(answer_metrics(
            &input.run_id,
            &input.workflow,
            &ai,
            usage,
            self.price,
        ));
        Ok(summary(&ai))
    }
}

/// Confidence and tier of the answer, and what the model's tokens cost.
fn answer_metrics(
    run: &RunId,
    workflow: &str,
    ai: &AiResult,
    usage: Option<ModelUsage>,
    price: TokenPrice,
) -> MetricDoc {
    let mut doc = MetricDoc::workflow(workflow)
        .dimension("tier", &ai.tier)
        .count(Metric::ModelTier)
        .value(Metric::AiConfidence, ai.confidence)
        .property("run_id", run.to_string())
        .property("label", ai.label.clone());
    if let Some(usage) = usage {
        doc = doc
            .value(Metric::LlmInputTokens, usage.input_tokens as f64)
            .value(Metric::LlmOutputTokens, usage.output_tokens as f64)
            .value(
                Metric::LlmCost,
                price.cost(usage.input_tokens, usage.output_tokens),
            );
    }
    doc
}

/// Checks an answer against the spec: a known label, a confidence in
/// [0, 1], the required fields; anything off sends the run to a person.
pub fn validate(workflow: &Workflow, answer: ModelAnswer) -> AiResult {
    let spec = &workflow.spec.reason;
    let mut reasons = Vec::new();
    let known = spec.labels.iter().any(|l| l.name == answer.label);
    if !known {
        reasons.push(format!(
            "label `{}` is not one of the workflow's labels",
            answer.label
        ));
    }
    let confidence_ok = (0.0..=1.0).contains(&answer.confidence);
    if !confidence_ok {
        reasons.push(format!(
            "confidence {} is outside [0, 1]",
            answer.confidence
        ));
    } else if answer.confidence < spec.review_below {
        reasons.push(format!(
            "confidence {:.2} is below the review threshold {:.2}",
            answer.confidence, spec.review_below
        ));
    }
    for field in spec.extract.iter().filter(|f| f.required) {
        if !answer.fields.contains_key(&field.name) {
            reasons.push(format!("required field `{}` was not found", field.name));
        }
    }
    AiResult {
        label: if known { answer.label } else { String::new() },
        confidence: if confidence_ok {
            answer.confidence
        } else {
            0.0
        },
        rationale: answer.rationale,
        fields: answer.fields,
        draft: None,
        tier: answer.tier,
        needs_review: !reasons.is_empty(),
        review_reasons: reasons,
    }
}

fn unanswered(_workflow: &Workflow, why: String) -> AiResult {
    AiResult {
        label: String::new(),
        confidence: 0.0,
        rationale: String::new(),
        fields: Default::default(),
        draft: None,
        tier: "none".into(),
        needs_review: true,
        review_reasons: vec![why],
    }
}

fn summary(ai: &AiResult) -> Value {
    json!({ "label": ai.label, "confidence": ai.confidence, "needs_review": ai.needs_review })
}
