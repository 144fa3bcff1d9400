//! The AI step: the workflow's tasks in order, each through its tiers, each
//! answer validated against the task's schema before it lands at
//! `ai.<task>`. Nothing unvalidated reaches rules or actions; a task with
//! no valid answer follows its `on_failure`, and every call is audited.

mod ask;
mod cascade;
mod replay;
mod shown;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use handoff_spec::{Catalog, DocumentView, RuleInput, RuleScope, TaskKind, Workflow};

use crate::domain::*;
use crate::model::{build_prompt, BuiltPrompt, PromptInput, Redactor, ShownDocuments, Tiers};
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::*;
use crate::stages::{audit, documents, render, summarise, StageError};

pub use ask::TierCall;
use cascade::{run_task, Cascade, Costs};
pub use cascade::{Budget, TaskRecord, Trace};
pub use replay::{changed, recorded_tasks, replay_ai, RecordedTask, ReplayedAi};

/// How many reviewer corrections the model sees per call, and the
/// embedded classifier is trained on.
pub const FEEDBACK_WINDOW: usize = 500;

pub struct Reason {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    /// Where the run's documents are, for tasks that read them as pages.
    pub documents: Arc<dyn DocumentStore>,
    pub tiers: Tiers,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
}

impl Reason {
    /// A reason-stage entry in the run's audit trail.
    async fn audit(&self, run_id: &RunId, kind: &str, detail: Value) -> Result<(), StoreError> {
        let (log, clock) = (self.store.as_ref(), self.clock.as_ref());
        audit::record(log, clock, run_id, Stage::Reason, kind, detail).await
    }

    pub async fn run(&self, input: &RunRef) -> Result<Value, StageError> {
        let t0 = Instant::now();
        if let Some(existing) = self.store.get_slot(&input.run_id, &Slot::Ai).await? {
            let ai: AiResult =
                serde_json::from_value(existing).map_err(|e| StageError::Invalid(e.to_string()))?;
            let workflow = super::workflow(&self.catalog, &input.workflow)?;
            return Ok(summary(workflow, &ai));
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
            .await?
            .into_iter()
            .filter(Feedback::teaches)
            .collect::<Vec<_>>();
        // The documents' text follows the event's, for the model and for
        // the `text` field its prompt shows.
        let readings = documents::kept_readings(self.store.as_ref(), &input.run_id, &event).await?;
        let text = documents::text_with_documents(&event.text(), &readings);
        let mut event_json = serde_json::to_value(&event.fields).expect("fields serialise");
        if !readings.is_empty() {
            let body = event.field_str("text").unwrap_or_default();
            event_json["text"] = json!(documents::text_with_documents(body, &readings));
        }

        let mut ai = AiResult {
            review_reasons: documents::review_reasons(&readings),
            ..AiResult::default()
        };
        let mut records = Vec::new();
        let mut traces = Vec::new();
        let mut redactor = Redactor::for_workflow(workflow);
        let limits = &workflow.spec.budget;
        let mut budget = Budget {
            run_left: limits.run_tokens,
            daily: limits.daily_tokens,
            exhausted: Vec::new(),
        };
        let costs = Costs {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            workflow: &input.workflow,
            cache_ttl: (limits.cache_ttl_seconds > 0).then(|| {
                i64::try_from(limits.cache_ttl_seconds)
                    .ok()
                    .and_then(chrono::TimeDelta::try_seconds)
                    .unwrap_or(chrono::TimeDelta::MAX)
            }),
        };
        let no_documents = ShownDocuments::default();
        // Loaded and rendered when the first task that reads pages asks.
        let mut shown: Option<ShownDocuments> = None;
        for task in workflow.spec.reason.tasks() {
            let ai_json = ai.to_value();
            if let Some(when) = &task.when {
                if !condition_holds(when, &event_json, &ai_json, &context)? {
                    records.push(skipped(task));
                    continue;
                }
            }
            let reads_pages =
                task.documents == DocumentView::Pages && has_llm_tier(&self.tiers, task);
            if reads_pages && shown.is_none() {
                let docs = &event.documents;
                let loaded = shown::load(self.documents.as_ref(), &input.workflow, docs).await?;
                shown = Some(loaded);
            }
            let documents = match &shown {
                Some(shown) if reads_pages => shown,
                _ => &no_documents,
            };
            let (asks_llm, built) = prompt_for(
                &self.tiers,
                &PromptInput {
                    workflow,
                    task,
                    event: &event_json,
                    context: &context,
                    ai: &ai_json,
                    feedback: &feedback,
                    redactor: &redactor,
                    documents,
                },
            );
            let request = ModelRequest {
                workflow,
                task,
                text: &text,
                feedback: &feedback,
                prompt: &built.prompt,
                models: Some(self.store.as_ref()),
            };
            let mut cascade = Cascade {
                tiers: &self.tiers,
                budget: &mut budget,
                costs: Some(&costs),
                cache_prompt: (asks_llm && costs.cache_ttl.is_some())
                    .then(|| built.without_nonce()),
                calls: Vec::new(),
                traces: Vec::new(),
            };
            let fallback_draft = || match &task.kind {
                TaskKind::Draft(d) => d.template.as_ref().and_then(|template| {
                    let data = render::template_data(
                        &input.run_id,
                        &event,
                        &context,
                        &ai_json,
                        &Value::Null,
                    );
                    render::render(&format!("reason.{}.template", task.name), template, &data).ok()
                }),
                _ => None,
            };
            let run = run_task(&mut cascade, &request, fallback_draft).await?;
            if let Some(output) = &run.output {
                redactor.learn(task, output);
                ai.outputs.insert(task.name.clone(), output.clone());
            }
            ai.review_reasons
                .extend(run.record.review_reasons.iter().cloned());
            let mut record = serde_json::to_value(&run.record).expect("records serialise");
            if let Some((from, to)) = built.truncated {
                record["truncated"] = json!({ "from_chars": from, "to_chars": to });
            }
            if built.redacted > 0 {
                record["redacted"] = json!(built.redacted);
            }
            if reads_pages {
                // Which reader read what: the text readers are in
                // `context.documents`; these pages the model read itself.
                record["documents_shown"] = json!(documents.documents);
                if !documents.left_out.is_empty() {
                    record["documents_left_out"] = json!(documents.left_out);
                }
            }
            records.push(record);
            traces.extend(run.traces);
        }
        ai.needs_review = !ai.review_reasons.is_empty();

        self.store
            .put_slot(&input.run_id, &Slot::Ai, &ai.to_value())
            .await?;
        if let Some(c) = primary(workflow, &ai) {
            let label = SummaryUpdate {
                label: Some(c.label.clone()),
                confidence: Some(c.confidence),
                ..SummaryUpdate::default()
            };
            summarise(self.store.as_ref(), &input.run_id, &label).await?;
        }
        for trace in &traces {
            self.audit(
                &input.run_id,
                "llm.call",
                serde_json::to_value(trace).expect("traces serialise"),
            )
            .await?;
        }
        for limit in &budget.exhausted {
            let tokens = match *limit {
                "daily" => limits.daily_tokens,
                _ => limits.run_tokens,
            };
            self.audit(
                &input.run_id,
                "budget.exhausted",
                json!({ "limit": limit, "tokens": tokens }),
            )
            .await?;
        }
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            &input.run_id,
            Stage::Reason,
            t0,
            json!({
                "tasks": records,
                "needs_review": ai.needs_review,
                "review_reasons": ai.review_reasons,
            }),
        )
        .await?;
        for doc in task_metrics(
            &input.run_id,
            &input.workflow,
            &ai,
            &records,
            &budget.exhausted,
        ) {
            self.metrics.emit(doc);
        }
        Ok(summary(workflow, &ai))
    }
}

/// One task on one event, outside any run: what `handoff eval` measures.
/// Nothing is stored; the record carries every call.
pub async fn answer_task(
    tiers: &Tiers,
    workflow: &Workflow,
    task: &handoff_spec::TaskSpec,
    event: &Value,
    context: &Value,
) -> (Option<Value>, TaskRecord) {
    let text = event["text"].as_str().unwrap_or_default();
    answer_outside_run(tiers, workflow, task, text, event, context, &json!({})).await
}

/// One task outside any run, after the earlier tasks' answers `ai`: no
/// store, so no budget, nothing cached and no tokens on the ledger.
async fn answer_outside_run(
    tiers: &Tiers,
    workflow: &Workflow,
    task: &handoff_spec::TaskSpec,
    text: &str,
    event: &Value,
    context: &Value,
    ai: &Value,
) -> (Option<Value>, TaskRecord) {
    let (_, built) = prompt_for(
        tiers,
        &PromptInput {
            workflow,
            task,
            event,
            context,
            ai,
            feedback: &[],
            redactor: &Redactor::for_workflow(workflow),
            documents: &ShownDocuments::default(),
        },
    );
    let request = ModelRequest {
        workflow,
        task,
        text,
        feedback: &[],
        prompt: &built.prompt,
        models: None,
    };
    let mut budget = Budget::default();
    let mut cascade = Cascade {
        tiers,
        budget: &mut budget,
        costs: None,
        cache_prompt: None,
        calls: Vec::new(),
        traces: Vec::new(),
    };
    let run = run_task(&mut cascade, &request, || None)
        .await
        .expect("a cascade with no store reads none");
    (run.output, run.record)
}

/// The task's prompt, built only when one of its tiers is an LLM: the
/// embedded tier reads the text itself. The flag says whether it was built.
fn prompt_for(tiers: &Tiers, input: &PromptInput<'_>) -> (bool, BuiltPrompt) {
    if has_llm_tier(tiers, input.task) {
        (true, build_prompt(input))
    } else {
        (false, BuiltPrompt::unused(input.task))
    }
}

/// Whether one of the task's tiers is an LLM this deployment has.
fn has_llm_tier(tiers: &Tiers, task: &handoff_spec::TaskSpec) -> bool {
    task.models
        .iter()
        .any(|m| tiers.get(m).is_some_and(|t| t.billed))
}

fn condition_holds(
    when: &str,
    event: &Value,
    ai: &Value,
    context: &Value,
) -> Result<bool, StageError> {
    let rule = handoff_spec::CompiledRule::compile("when", when).map_err(StageError::Invalid)?;
    let scope = RuleScope::new(&RuleInput { event, ai, context })
        .map_err(|e| StageError::Invalid(e.to_string()))?;
    rule.matches(&scope)
        .map_err(|e| StageError::Invalid(e.to_string()))
}

fn skipped(task: &handoff_spec::TaskSpec) -> Value {
    json!({ "task": task.name, "kind": task.kind.name(), "status": "skipped", "calls": [] })
}

/// The workflow's first classify task's result: what the run's summary,
/// feedback and accuracy reviews are about.
pub fn primary(workflow: &Workflow, ai: &AiResult) -> Option<Classification> {
    let (task, _) = workflow.spec.reason.primary()?;
    ai.classification(&task.name)
}

/// Per classify task the answering tier and its confidence; per billed
/// call its tokens, cost and latency, per cache hit zero tokens and cost
/// (outcome `cached`); dimensions workflow, task, tier. Per spent budget a
/// `BudgetExhausted`, the limit a property.
fn task_metrics(
    run: &RunId,
    workflow: &str,
    ai: &AiResult,
    records: &[Value],
    exhausted: &[&'static str],
) -> Vec<MetricDoc> {
    let mut docs = Vec::new();
    for record in records {
        let task = record["task"].as_str().unwrap_or_default();
        let doc = |tier: &str| {
            MetricDoc::workflow(workflow)
                .dimension("task", task)
                .dimension("tier", tier)
                .property("run_id", run.to_string())
        };
        if let Some(c) = (record["kind"] == "classify")
            .then(|| ai.classification(task))
            .flatten()
        {
            docs.push(
                doc(&c.tier)
                    .count(Metric::ModelTier)
                    .value(Metric::AiConfidence, c.confidence)
                    .property("label", c.label),
            );
        }
        for call in record["calls"].as_array().into_iter().flatten() {
            let usage = &call["usage"];
            let number = |key: &str| usage[key].as_f64().unwrap_or(0.0);
            let tier = call["tier"].as_str().unwrap_or_default();
            if call["outcome"] == "cached" {
                // No latency: a lookup's time would skew the model's.
                docs.push(
                    doc(tier)
                        .value(Metric::LlmInputTokens, 0.0)
                        .value(Metric::LlmOutputTokens, 0.0)
                        .value(Metric::LlmCost, 0.0)
                        .property("outcome", "cached"),
                );
                continue;
            }
            if number("input_tokens") + number("output_tokens") == 0.0 {
                continue;
            }
            docs.push(
                doc(tier)
                    .value(Metric::LlmInputTokens, number("input_tokens"))
                    .value(Metric::LlmOutputTokens, number("output_tokens"))
                    .value(Metric::LlmCost, call["cost"].as_f64().unwrap_or(0.0))
                    .value(Metric::LlmLatency, number("latency_ms"))
                    .property("outcome", call["outcome"].clone()),
            );
        }
    }
    for limit in exhausted {
        docs.push(
            MetricDoc::workflow(workflow)
                .count(Metric::BudgetExhausted)
                .property("limit", *limit)
                .property("run_id", run.to_string()),
        );
    }
    docs
}

fn summary(workflow: &Workflow, ai: &AiResult) -> Value {
    let c = primary(workflow, ai);
    json!({
        "label": c.as_ref().map(|c| c.label.clone()),
        "confidence": c.as_ref().map(|c| c.confidence),
        "needs_review": ai.needs_review,
    })
}
