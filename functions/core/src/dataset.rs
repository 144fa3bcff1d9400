//! Datasets from production: the runs reviewers judged, as labelled
//! examples for `handoff eval` and for a spec author's own tests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use handoff_spec::{TaskKind, Workflow};

use crate::domain::{lay_over, AiResult, Feedback, RunId};
use crate::ports::{RunStore, Slot, StoreError};

/// How many verdicts one export reads, at most.
const MAX_VERDICTS: usize = 100_000;

/// One judged run. `label` and `fields` are what the reviewer settled on:
/// the final label, and each extract task's answer with the reviewer's
/// edits of it laid over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub run_id: RunId,
    pub at: DateTime<Utc>,
    pub text: String,
    pub label: String,
    pub predicted: String,
    pub confidence: f64,
    pub fields: BTreeMap<String, Value>,
    /// SHA-256 of the run's context as stored: which runs saw the same
    /// context, without copying customer records into the file.
    pub context_digest: String,
    pub reviewer: String,
}

/// The workflow's judged runs since `since`, oldest first, one per run (the
/// latest verdict); unconfirmed corrections are left out.
pub async fn export(
    store: &dyn RunStore,
    workflow: &Workflow,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Example>, StoreError> {
    let mut latest: BTreeMap<RunId, Feedback> = BTreeMap::new();
    for f in store
        .list_feedback(workflow.name(), MAX_VERDICTS)
        .await?
        .into_iter()
        .filter(Feedback::teaches)
        .filter(|f| since.is_none_or(|since| f.at >= since))
    {
        match latest.get(&f.run_id) {
            Some(kept) if kept.at >= f.at => {}
            _ => {
                latest.insert(f.run_id.clone(), f);
            }
        }
    }
    let mut out = Vec::with_capacity(latest.len());
    for (run_id, f) in latest {
        let ai: AiResult = store
            .get_slot(&run_id, &Slot::Ai)
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let context = store
            .get_slot(&run_id, &Slot::Context)
            .await?
            .unwrap_or(Value::Object(Default::default()));
        out.push(Example {
            fields: final_fields(workflow, &ai, f.edits.as_ref()),
            context_digest: hex::encode(Sha256::digest(context.to_string().as_bytes())),
            run_id,
            at: f.at,
            text: f.text,
            label: f.final_label,
            predicted: f.predicted_label,
            confidence: f.confidence,
            reviewer: f.reviewer,
        });
    }
    out.sort_by_key(|e| e.at);
    Ok(out)
}

fn final_fields(
    workflow: &Workflow,
    ai: &AiResult,
    edits: Option<&Value>,
) -> BTreeMap<String, Value> {
    workflow
        .spec
        .reason
        .tasks()
        .iter()
        .filter(|t| matches!(t.kind, TaskKind::Extract(_)))
        .filter_map(|t| {
            let corrected = edits.and_then(|e| e.get("fields")?.get(&t.name));
            let mut value = match (ai.outputs.get(&t.name), corrected) {
                (Some(found), _) => found.clone(),
                (None, Some(_)) => Value::Object(Default::default()),
                (None, None) => return None,
            };
            if let (Some(Value::Object(corrected)), Value::Object(fields)) = (corrected, &mut value)
            {
                lay_over(fields, corrected);
            }
            Some((t.name.clone(), value))
        })
        .collect()
}
