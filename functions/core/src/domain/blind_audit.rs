use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::RunId;

/// A run that acted alone, sent to one reviewer who labels it without
/// seeing the AI's answer: the evidence earned autonomy keeps standing on.
/// The run itself never waits for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlindAudit {
    pub run_id: RunId,
    pub workflow: String,
    pub auditor: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub verdict: Option<AuditVerdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditVerdict {
    pub label: String,
    pub at: DateTime<Utc>,
}
