use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{RunId, Stage};

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
}
