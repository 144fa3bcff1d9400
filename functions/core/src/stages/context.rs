//! Gathers what the decision needs, within the workflow's byte budget.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use handoff_spec::{Catalog, LookupSpec};

use crate::domain::*;
use crate::ports::*;
use crate::stages::{audit, StageError};

pub struct ContextStage {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub clock: Arc<dyn Clock>,
}

impl ContextStage {
    /// Returns the lookup names that produced data. A retried stage reuses
    /// the stored context instead of looking things up again.
    pub async fn run(&self, input: &RunRef) -> Result<Value, StageError> {
        let t0 = Instant::now();
        if let Some(existing) = self.store.get_slot(&input.run_id, &Slot::Context).await? {
            return Ok(summary(&existing, true));
        }
        let workflow = super::workflow(&self.catalog, &input.workflow)?;
        let event = super::event_of(self.store.as_ref(), &input.run_id).await?;

        let mut context = Map::new();
        for lookup in &workflow.spec.context.lookups {
            let value = match lookup {
                LookupSpec::PriorRuns { limit, .. } => {
                    self.prior_runs(&input.run_id, &event, *limit).await?
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
            };
            context.insert(lookup.name().to_string(), value);
        }
        let truncated = enforce_budget(&mut context, workflow.spec.context.max_bytes);
        let context = Value::Object(context);
        self.store
            .put_slot(&input.run_id, &Slot::Context, &context)
            .await?;
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            &input.run_id,
            Stage::Context,
            t0,
            json!({ "lookups": context.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()), "truncated": truncated }),
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

/// Drops the largest lookups until the context fits; returns their names.
fn enforce_budget(context: &mut Map<String, Value>, max_bytes: usize) -> Vec<String> {
    let mut dropped = Vec::new();
    while serde_json::to_vec(context).map_or(0, |b| b.len()) > max_bytes {
        let largest = context
            .iter()
            .filter(|(_, v)| !v.get("truncated").is_some_and(|t| t == true))
            .max_by_key(|(_, v)| serde_json::to_vec(v).map_or(0, |b| b.len()))
            .map(|(k, _)| k.clone());
        let Some(name) = largest else { break };
        context.insert(name.clone(), json!({ "truncated": true }));
        dropped.push(name);
    }
    dropped
}

fn summary(context: &Value, cached: bool) -> Value {
    let names: Vec<&String> = context
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    json!({ "lookups": names, "cached": cached })
}
