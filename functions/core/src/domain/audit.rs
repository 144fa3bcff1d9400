use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Run, RunId, Stage};

/// One line of a run's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub run_id: RunId,
    pub at: DateTime<Utc>,
    pub stage: Stage,
    /// A short, stable name: `run.received`, `ai.classified`, `approval.decided`, …
    pub kind: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(
        run_id: &RunId,
        at: DateTime<Utc>,
        stage: Stage,
        kind: &str,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            run_id: run_id.clone(),
            at,
            stage,
            kind: kind.to_string(),
            detail,
        }
    }

    /// A run's first entry, `run.received`, which intake stores together
    /// with the run itself.
    pub fn received(run: &Run, bytes: usize) -> Self {
        Self::new(
            &run.id,
            run.created_at,
            Stage::Ingest,
            "run.received",
            serde_json::json!({ "delivery_id": run.delivery_id, "bytes": bytes }),
        )
    }
}
