use serde::{Deserialize, Serialize};

pub use handoff_spec::Priority;

/// What the rules decided for a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The first rule that matched; `None` when none did.
    pub rule: Option<String>,
    pub route: String,
    pub priority: Priority,
    pub actions: Vec<String>,
    pub needs_approval: bool,
    /// Why approval is or is not needed, for the audit and the reviewer.
    pub reason: String,
}
