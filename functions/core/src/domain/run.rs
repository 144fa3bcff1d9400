use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Also the Step Functions execution name, so it fits the name rules
/// (≤ 80 characters of `[A-Za-z0-9_-]`) and starting a run twice is a no-op.
/// Time-ordered (UUIDv7): a store keyed by run id appends new runs at the
/// end of its indexes instead of touching a random page per insert.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub String);

impl RunId {
    pub fn new() -> Self {
        Self(format!("run-{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Stored and queued; no execution yet.
    Received,
    Running,
    AwaitingApproval,
    Completed,
    Rejected,
    Failed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Received,
        RunStatus::Running,
        RunStatus::AwaitingApproval,
        RunStatus::Completed,
        RunStatus::Rejected,
        RunStatus::Failed,
    ];

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Rejected | RunStatus::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Received => "RECEIVED",
            RunStatus::Running => "RUNNING",
            RunStatus::AwaitingApproval => "AWAITING_APPROVAL",
            RunStatus::Completed => "COMPLETED",
            RunStatus::Rejected => "REJECTED",
            RunStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Ingest,
    Start,
    Context,
    Reason,
    Decide,
    Approval,
    Act,
    Finalize,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Start => "start",
            Stage::Context => "context",
            Stage::Reason => "reason",
            Stage::Decide => "decide",
            Stage::Approval => "approval",
            Stage::Act => "act",
            Stage::Finalize => "finalize",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The run's own record: small, listed often, updated by conditional writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub workflow: String,
    pub status: RunStatus,
    pub stage: Stage,
    pub delivery_id: String,
    #[serde(default)]
    pub sender: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Filled in as the run goes: the AI label, the route, the outcome.
    #[serde(default)]
    pub summary: RunSummary,
}

impl Run {
    /// A run just received for a delivery, its sender read from the mapped
    /// `sender` field.
    pub fn received(
        id: RunId,
        workflow: &str,
        delivery_id: &str,
        fields: &BTreeMap<String, serde_json::Value>,
        at: DateTime<Utc>,
    ) -> Run {
        Run {
            id,
            workflow: workflow.to_string(),
            status: RunStatus::Received,
            stage: Stage::Ingest,
            delivery_id: delivery_id.to_string(),
            sender: fields
                .get("sender")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            created_at: at,
            updated_at: at,
            summary: RunSummary::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub route: Option<String>,
    #[serde(default)]
    pub reviewed: bool,
    #[serde(default)]
    pub error: Option<String>,
}

/// The summary fields a stage changes; the others stay as stored, so two
/// stages writing different fields never undo each other.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryUpdate {
    pub label: Option<String>,
    pub confidence: Option<f64>,
    pub route: Option<String>,
    pub reviewed: Option<bool>,
    /// `Some(None)` clears the error.
    pub error: Option<Option<String>>,
}

impl SummaryUpdate {
    /// Every field of `summary`, as an update.
    pub fn all(summary: &RunSummary) -> Self {
        Self {
            label: summary.label.clone(),
            confidence: summary.confidence,
            route: summary.route.clone(),
            reviewed: Some(summary.reviewed),
            error: Some(summary.error.clone()),
        }
    }

    /// The fields given, by their names in [`RunSummary`], as JSON (`null`
    /// clears the error): what a store writes.
    pub fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        let mut out = Vec::new();
        if let Some(label) = &self.label {
            out.push(("label", json!(label)));
        }
        if let Some(confidence) = self.confidence {
            out.push(("confidence", json!(confidence)));
        }
        if let Some(route) = &self.route {
            out.push(("route", json!(route)));
        }
        if let Some(reviewed) = self.reviewed {
            out.push(("reviewed", json!(reviewed)));
        }
        if let Some(error) = &self.error {
            out.push(("error", json!(error)));
        }
        out
    }

    pub fn apply(&self, summary: &mut RunSummary) {
        if let Some(label) = &self.label {
            summary.label = Some(label.clone());
        }
        if let Some(confidence) = self.confidence {
            summary.confidence = Some(confidence);
        }
        if let Some(route) = &self.route {
            summary.route = Some(route.clone());
        }
        if let Some(reviewed) = self.reviewed {
            summary.reviewed = reviewed;
        }
        if let Some(error) = &self.error {
            summary.error = error.clone();
        }
    }
}

/// The claim check every stage receives: ids only, data in the run store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub run_id: RunId,
    pub workflow: String,
}
