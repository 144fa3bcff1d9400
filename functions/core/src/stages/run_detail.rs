//! A run with everything stored about it: the API's `GET /runs/{id}` and
//! the local console's timeline and `handoff show` read it the same way.

use serde_json::{json, Value};

use crate::domain::*;
use crate::ports::{RunStore, Slot, StoreError};

#[derive(Debug, Clone)]
pub struct RunDetail {
    pub run: Run,
    pub event: Option<CanonicalEvent>,
    pub context: Option<Value>,
    pub ai: Option<Value>,
    pub decision: Option<Value>,
    /// The records of the actions the decision named, in its order.
    pub actions: Vec<Value>,
    pub approvals: Vec<Approval>,
    pub audit: Vec<AuditEvent>,
}

impl RunDetail {
    /// The run `id` and what is stored about it; `None` for no such run.
    pub async fn load(store: &dyn RunStore, id: &RunId) -> Result<Option<RunDetail>, StoreError> {
        match store.get_run(id).await? {
            Some(run) => Ok(Some(Self::of(store, run).await?)),
            None => Ok(None),
        }
    }

    /// What is stored about a run already read.
    pub async fn of(store: &dyn RunStore, run: Run) -> Result<RunDetail, StoreError> {
        let id = run.id.clone();
        let event = store.get_event(&id).await?;
        let context = store.get_slot(&id, &Slot::Context).await?;
        let ai = store.get_slot(&id, &Slot::Ai).await?;
        let decision = store.get_slot(&id, &Slot::Decision).await?;
        let mut actions = Vec::new();
        let named = decision
            .as_ref()
            .and_then(|d| d.get("actions"))
            .and_then(Value::as_array);
        for name in named.into_iter().flatten().filter_map(Value::as_str) {
            if let Some(record) = store.get_slot(&id, &Slot::Action(name.to_string())).await? {
                actions.push(record);
            }
        }
        Ok(RunDetail {
            event,
            context,
            ai,
            decision,
            actions,
            approvals: store.approvals_of_run(&id).await?,
            audit: store.trail(&id).await?,
            run,
        })
    }

    /// The API's JSON: the event without its raw payload, approvals
    /// without their task tokens.
    pub fn to_json(&self) -> Value {
        json!({
            "run": self.run,
            "event": self.event.as_ref().map(|e| json!({
                "delivery_id": e.delivery_id,
                "received_at": e.received_at,
                "fields": e.fields,
            })),
            "context": self.context,
            "ai": self.ai,
            "decision": self.decision,
            "approvals": self.approvals.iter().map(approval_json).collect::<Vec<_>>(),
            "actions": self.actions,
            "audit": self.audit,
        })
    }
}

/// An approval as the read side shows it: everything but the task token.
fn approval_json(a: &Approval) -> Value {
    json!({
        "id": a.id,
        "workflow": a.workflow,
        "reviewers": a.reviewers,
        "required": a.required,
        "status": a.status,
        "escalation": a.escalation,
        "created_at": a.created_at,
        "expires_at": a.expires_at,
        "decided_at": a.decided_at,
        "votes": a.votes,
    })
}
