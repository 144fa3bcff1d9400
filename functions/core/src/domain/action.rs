use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The record of one action of one run. Its key is the idempotency key, so a
/// re-run of the `act` stage skips what already succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub name: String,
    pub kind: String,
    pub idempotency_key: String,
    pub succeeded: bool,
    pub attempts: u32,
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub response_excerpt: Option<String>,
    pub at: DateTime<Utc>,
    /// Rendered and recorded only: the workflow (or the process) runs in
    /// dry-run mode. Never counts as done, so a real run performs it.
    #[serde(default)]
    pub dry_run: bool,
}
