//! Runs stored part-way through, as the stages before would have left them:
//! the same run, event and decision in every test bed.

use std::collections::BTreeMap;

use serde_json::Value;

use handoff_core::domain::*;
use handoff_core::ports::{RunData, Runs, Slot};

use super::Harness;

/// A run of `workflow` under way since `at`, of the delivery `id`.
pub fn running(
    id: &str,
    workflow: &str,
    sender: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> Run {
    Run {
        id: RunId(id.into()),
        workflow: workflow.into(),
        status: RunStatus::Running,
        stage: Stage::Start,
        delivery_id: id.into(),
        sender: sender.map(str::to_string),
        created_at: at,
        updated_at: at,
        summary: RunSummary::default(),
    }
}

/// A decision of `rule` to perform `actions`, routed to `desk`, with no
/// approval.
pub fn decision(rule: &str, actions: &[&str]) -> Decision {
    Decision {
        rule: Some(rule.into()),
        route: "desk".into(),
        priority: Priority::Normal,
        actions: actions.iter().map(|a| a.to_string()).collect(),
        needs_approval: false,
        reason: "test".into(),
    }
}

impl Harness {
    /// Stores `run` as ingest would have: its event of `fields` and
    /// `payload`, received when the run was, and a dedupe key that expires
    /// then.
    pub async fn store_run(&self, run: &Run, fields: BTreeMap<String, Value>, payload: Value) {
        self.store_run_with_documents(run, fields, payload, Vec::new())
            .await;
    }

    /// [`Self::store_run`] with documents on its event (their bytes are
    /// the caller's to store).
    pub async fn store_run_with_documents(
        &self,
        run: &Run,
        fields: BTreeMap<String, Value>,
        payload: Value,
        documents: Vec<DocumentRef>,
    ) {
        let event = CanonicalEvent {
            workflow: run.workflow.clone(),
            delivery_id: run.delivery_id.clone(),
            received_at: run.created_at,
            fields,
            payload,
            documents,
        };
        let dedupe = DedupeKey {
            workflow: run.workflow.clone(),
            delivery_id: run.delivery_id.clone(),
            expires_at: run.created_at,
            body_hash: None,
            business_key: None,
        };
        self.store
            .create_run(run, &event, &dedupe, &AuditEvent::received(run, 0))
            .await
            .unwrap();
    }

    /// Stores the decide stage's `decision` for `run`.
    pub async fn put_decision(&self, run: &RunId, decision: &Decision) {
        self.store
            .put_slot(
                run,
                &Slot::Decision,
                &serde_json::to_value(decision).unwrap(),
            )
            .await
            .unwrap();
    }
}
