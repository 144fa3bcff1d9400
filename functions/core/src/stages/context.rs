//! Gathers what the decision needs, within the workflow's byte budget.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use handoff_spec::{LookupSpec, OnFailure, BYTES_PER_TOKEN};

use crate::domain::*;
use crate::ports::*;
use crate::stages::documents::DocumentReader;
use crate::stages::{audit, budget, lookup_http, StageError};

/// The `LoadContext` task: prior runs, reference tables and HTTP lookups
/// within the workflow's budgets.
pub struct LoadContext {
    pub catalog: Arc<handoff_spec::Catalog>,
    pub store: Arc<dyn RunStore>,
    pub fetcher: Arc<dyn Fetcher>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    /// Where the event's documents are kept, and what reads the scans.
    pub documents: Arc<dyn DocumentStore>,
    pub ocr: Arc<dyn Ocr>,
}

impl LoadContext {
    /// A context-stage entry in the run's audit trail.
    async fn audit(&self, run_id: &RunId, kind: &str, detail: Value) -> Result<(), StoreError> {
        let (log, clock) = (self.store.as_ref(), self.clock.as_ref());
        audit::record(log, clock, run_id, Stage::Context, kind, detail).await
    }

    /// Returns the lookup names that produced data. A retried stage reuses
    /// the stored context instead of looking things up again, and reuses
    /// each HTTP lookup that answered before the stage failed.
    pub async fn run(&self, input: &RunRef) -> Result<Value, StageError> {
        let t0 = Instant::now();
        let run_id = &input.run_id;
        if let Some(existing) = self.store.get_slot(run_id, &Slot::Context).await? {
            return Ok(summary(&existing, true));
        }
        let workflow = super::workflow(&self.catalog, &input.workflow)?;
        let event = super::event_of(self.store.as_ref(), run_id).await?;
        let url_data = json!({
            "run": { "id": run_id, "workflow": event.workflow },
            "event": event.fields,
        });

        let total = workflow.spec.context.budget_bytes();
        let mut context = Map::new();
        let mut failed = Vec::new();
        let mut cached = Vec::new();
        let mut truncated = Vec::new();
        for lookup in &workflow.spec.context.lookups {
            let mut value = match lookup {
                LookupSpec::PriorRuns { limit, .. } => {
                    self.prior_runs(run_id, &event, *limit).await?
                }
                LookupSpec::Static {
                    key_field,
                    table,
                    default,
                    ..
                } => {
                    let key = event.fields.get(key_field).map(value_as_key);
                    key.and_then(|k| table.get(&k).cloned())
                        .or_else(|| default.clone())
                        .unwrap_or(Value::Null)
                }
                LookupSpec::Http(http) => {
                    // Cut before it is stored: to its own budget, else to the
                    // total it could never exceed in the context anyway.
                    let (limit, budget_name) = match http.max_bytes {
                        Some(own) => (own, "lookup"),
                        None => (total, "total"),
                    };
                    let outcome = lookup_http::fetch(
                        self.store.as_ref(),
                        self.fetcher.as_ref(),
                        self.secrets.as_ref(),
                        run_id,
                        http,
                        &url_data,
                        limit,
                    )
                    .await?;
                    match outcome {
                        Ok(found) => {
                            if found.cached {
                                cached.push(http.name.clone());
                            }
                            let kept = budget::size(&found.value);
                            if found.original_bytes > kept {
                                truncated.push(json!({
                                    "lookup": http.name, "budget": budget_name, "limit": limit,
                                    "from_bytes": found.original_bytes, "to_bytes": kept,
                                }));
                            }
                            found.value
                        }
                        Err(reason) => {
                            let policy = http.on_failure;
                            self.audit(run_id, "context.lookup_failed", json!({ "lookup": http.name, "reason": reason, "on_failure": policy })).await?;
                            if policy == OnFailure::Fail {
                                return Err(StageError::Lookup {
                                    lookup: http.name.clone(),
                                    reason,
                                });
                            }
                            failed.push(json!({ "lookup": http.name, "reason": reason }));
                            continue;
                        }
                    }
                }
            };
            if let Some(limit) = lookup.max_bytes() {
                if let Some((from, to)) = budget::fit(&mut value, limit) {
                    truncated.push(json!({
                        "lookup": lookup.name(), "budget": "lookup", "limit": limit,
                        "from_bytes": from, "to_bytes": to,
                    }));
                }
            }
            context.insert(lookup.name().to_string(), value);
        }
        for (name, from, to) in budget::fit_total(&mut context, total) {
            truncated.push(json!({
                "lookup": name, "budget": "total", "limit": total,
                "from_bytes": from, "to_bytes": to,
            }));
        }
        if !event.documents.is_empty() {
            // Outside the budget: a few lines per document, for rules (the
            // reader, the OCR confidence); the text goes to the AI step.
            let readings = DocumentReader {
                documents: self.documents.as_ref(),
                ocr: self.ocr.as_ref(),
            }
            .read_all(self.store.as_ref(), run_id, &event)
            .await?;
            let summaries: Vec<Value> = readings.iter().map(DocumentReading::summary).collect();
            self.audit(
                run_id,
                "context.documents_read",
                json!({ "documents": summaries }),
            )
            .await?;
            context.insert("documents".into(), Value::Array(summaries));
        }
        if !truncated.is_empty() {
            self.audit(
                run_id,
                "context.truncated",
                json!({ "truncated": truncated }),
            )
            .await?;
        }
        let context = Value::Object(context);
        let bytes = budget::size(&context);
        self.store
            .put_slot(run_id, &Slot::Context, &context)
            .await?;
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            run_id,
            Stage::Context,
            t0,
            json!({
                "lookups": context.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()),
                "failed": failed,
                "cached": cached,
                "truncated": truncated,
                "bytes": bytes,
                "estimated_tokens": bytes.div_ceil(BYTES_PER_TOKEN),
            }),
        )
        .await?;
        Ok(summary(&context, false))
    }

    async fn prior_runs(
        &self,
        current: &RunId,
        event: &CanonicalEvent,
        limit: usize,
    ) -> Result<Value, StageError> {
        let Some(sender) = event.field_str("sender") else {
            return Ok(json!({ "count": 0, "recent": [] }));
        };
        let page = self
            .store
            .list_runs(&RunQuery {
                workflow: Some(event.workflow.clone()),
                sender: Some(sender.to_string()),
                limit: limit + 1,
                ..RunQuery::default()
            })
            .await?;
        let recent: Vec<Value> = page
            .items
            .iter()
            .filter(|r| &r.id != current)
            .take(limit)
            .map(|r| json!({ "run_id": r.id, "status": r.status, "label": r.summary.label, "at": r.created_at }))
            .collect();
        let open = page
            .items
            .iter()
            .filter(|r| r.status == RunStatus::AwaitingApproval)
            .count();
        Ok(json!({ "count": recent.len(), "open_approvals": open, "recent": recent }))
    }
}

fn value_as_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn summary(context: &Value, cached: bool) -> Value {
    let names: Vec<&String> = context
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    json!({ "lookups": names, "cached": cached })
}
