use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::RunId;

/// Unguessable: 128 random bits, hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApprovalId(pub String);

impl ApprovalId {
    pub fn random() -> Self {
        Self(hex::encode(rand::random::<[u8; 16]>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The state machine's callback capability: whoever holds it can finish the
/// run's wait. It can be read from the state machine's input but has no
/// `Serialize` and no readable `Debug`, so an approval or a log line cannot
/// carry it out by accident; the stores write it through [`TaskToken::expose`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for TaskToken {
    fn from(token: String) -> Self {
        Self(token)
    }
}

impl From<&str> for TaskToken {
    fn from(token: &str) -> Self {
        Self(token.to_string())
    }
}

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

/// One reviewer's answer. `edits` holds changed draft text or fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub reviewer: String,
    pub verdict: Verdict,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub edits: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// A request for human approval. The task token never leaves the server:
/// serialising an approval leaves it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: ApprovalId,
    pub run_id: RunId,
    pub workflow: String,
    #[serde(skip)]
    pub task_token: TaskToken,
    pub reviewers: Vec<String>,
    pub required: usize,
    pub status: ApprovalStatus,
    pub escalation: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub votes: Vec<Vote>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
}

/// Where an n-of-m tally stands after a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Open,
    Approved,
    /// Enough reviewers rejected that `required` approvals can no longer come.
    Rejected,
}

impl Approval {
    pub fn vote_of(&self, reviewer: &str) -> Option<&Vote> {
        self.votes.iter().find(|v| v.reviewer == reviewer)
    }

    pub fn tally(&self) -> Tally {
        let approvals = self
            .votes
            .iter()
            .filter(|v| v.verdict == Verdict::Approve)
            .count();
        let rejections = self
            .votes
            .iter()
            .filter(|v| v.verdict == Verdict::Reject)
            .count();
        if approvals >= self.required {
            Tally::Approved
        } else if self.reviewers.len().saturating_sub(rejections) < self.required {
            Tally::Rejected
        } else {
            Tally::Open
        }
    }
}

impl Approval {
    /// The close the votes alone settle: enough approvals, or enough
    /// rejections (at least one a person's) that approval can no longer
    /// come. `None` while the people have not decided.
    pub fn people_decision(&self) -> Option<ApprovalStatus> {
        match self.tally() {
            Tally::Approved => Some(ApprovalStatus::Approved),
            // Understaffed (the sender was a reviewer): only a person's
            // rejection settles it; otherwise the timeout policy does.
            Tally::Rejected if self.count(Verdict::Reject) > 0 => Some(ApprovalStatus::Rejected),
            Tally::Rejected | Tally::Open => None,
        }
    }

    /// Closed, and by its reviewers' votes rather than a timeout policy.
    pub fn decided_by_people(&self) -> bool {
        matches!(
            self.status,
            ApprovalStatus::Approved | ApprovalStatus::Rejected
        ) && self.people_decision() == Some(self.status)
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.votes.iter().filter(|v| v.verdict == verdict).count()
    }

    /// What the people decided, as the waiting task receives it: the
    /// deciding side's reviewers, reasons and (latest) edits. `None` while
    /// the votes settle nothing.
    pub fn people_outcome(&self) -> Option<ApprovalOutcome> {
        let (decision, side) = match self.people_decision()? {
            ApprovalStatus::Approved => ("approved", Verdict::Approve),
            _ => ("rejected", Verdict::Reject),
        };
        let votes: Vec<&Vote> = self.votes.iter().filter(|v| v.verdict == side).collect();
        Some(ApprovalOutcome {
            decision: decision.to_string(),
            reviewers: votes.iter().map(|v| v.reviewer.clone()).collect(),
            reason: votes
                .iter()
                .filter(|v| !v.reason.is_empty())
                .map(|v| v.reason.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            edits: votes.iter().filter_map(|v| v.edits.clone()).next_back(),
            timeout_seconds: None,
        })
    }
}

/// What the state machine receives through SendTaskSuccess, and what the
/// approval-timeout task returns: `decision` is read by the `Approved` choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalOutcome {
    /// `approved`, `rejected`, or `escalate` (timeout only).
    pub decision: String,
    #[serde(default)]
    pub reviewers: Vec<String>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub edits: Option<serde_json::Value>,
    /// For `escalate`: how long the escalation reviewers get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_serialises_and_prints_without_its_task_token() {
        let at = Utc::now();
        let approval = Approval {
            id: ApprovalId("a1".into()),
            run_id: RunId("run-1".into()),
            workflow: "refunds".into(),
            task_token: TaskToken::new("AAAA-secret-callback-token"),
            reviewers: vec!["lead@example.com".into()],
            required: 1,
            status: ApprovalStatus::Pending,
            escalation: false,
            created_at: at,
            expires_at: at,
            votes: Vec::new(),
            decided_at: None,
        };
        let json = serde_json::to_string(&approval).unwrap();
        let debug = format!("{approval:?}");
        for shown in [&json, &debug] {
            assert!(!shown.contains("secret-callback"), "{shown}");
        }
        let back: Approval = serde_json::from_str(&json).unwrap();
        assert_eq!(back.task_token, TaskToken::default());
    }

    #[test]
    fn a_task_token_is_read_from_the_state_machine_input() {
        let token: TaskToken = serde_json::from_str("\"AAAA\"").unwrap();
        assert_eq!(token.expose(), "AAAA");
    }
}
