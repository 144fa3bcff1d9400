//! Builders for the domain values tests store and compare: one run, event,
//! dedupe key, approval, vote and cached answer, the same in every test bed.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use handoff_core::domain::*;
use handoff_core::ports::{CachedAnswer, Created, ModelUsage, RunStore, StoreError};

/// A fixed instant `secs` seconds after the fixtures' epoch.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + secs, 0).unwrap()
}

/// A run just received, of delivery `d-<id>`.
pub fn run(id: &str, workflow: &str, sender: Option<&str>, at: DateTime<Utc>) -> Run {
    Run {
        id: RunId(id.to_string()),
        workflow: workflow.to_string(),
        status: RunStatus::Received,
        stage: Stage::Ingest,
        delivery_id: format!("d-{id}"),
        sender: sender.map(str::to_string),
        created_at: at,
        updated_at: at,
        summary: RunSummary::default(),
    }
}

/// The event a run of `workflow` was started by for `delivery`.
pub fn event(workflow: &str, delivery: &str) -> CanonicalEvent {
    CanonicalEvent {
        workflow: workflow.to_string(),
        delivery_id: delivery.to_string(),
        received_at: t(0),
        fields: [("text".to_string(), json!("refund please"))].into(),
        payload: json!({"id": delivery, "nested": {"n": 1}}),
        documents: Vec::new(),
    }
}

pub fn dedupe(workflow: &str, delivery: &str, expires_at: DateTime<Utc>) -> DedupeKey {
    DedupeKey {
        workflow: workflow.to_string(),
        delivery_id: delivery.to_string(),
        expires_at,
        body_hash: None,
        business_key: None,
    }
}

/// A dedupe key kept for three days.
pub fn fresh(workflow: &str, delivery: &str) -> DedupeKey {
    dedupe(workflow, delivery, Utc::now() + Duration::days(3))
}

/// `create_run` of `r` for the delivery `delivery` of its workflow, kept
/// under `key`.
pub async fn create<S: RunStore + ?Sized>(
    store: &S,
    r: &Run,
    delivery: &str,
    key: &DedupeKey,
) -> Result<Created, StoreError> {
    store
        .create_run(
            r,
            &event(&r.workflow, delivery),
            key,
            &AuditEvent::received(r, 0),
        )
        .await
}

/// Stores `r` as a new run of its own delivery.
pub async fn put_run<S: RunStore + ?Sized>(store: &S, r: &Run) {
    let key = fresh(&r.workflow, &r.delivery_id);
    let created = create(store, r, &r.delivery_id, &key).await.unwrap();
    assert_eq!(created, Created::New);
}

/// A pending approval of `run` that needs both ana and bo.
pub fn approval(id: &str, run: &str, created: DateTime<Utc>) -> Approval {
    Approval {
        id: ApprovalId(id.to_string()),
        run_id: RunId(run.to_string()),
        workflow: "refunds".into(),
        task_token: format!("token-{id}").into(),
        reviewers: vec!["ana".into(), "bo".into()],
        required: 2,
        status: ApprovalStatus::Pending,
        escalation: false,
        created_at: created,
        expires_at: created + Duration::hours(24),
        votes: Vec::new(),
        decided_at: None,
    }
}

pub fn vote(reviewer: &str, verdict: Verdict) -> Vote {
    Vote {
        reviewer: reviewer.to_string(),
        verdict,
        reason: "looks right".into(),
        edits: Some(json!({"draft": "ok"})),
        at: t(100),
    }
}

/// An LLM answer as the cache keeps it.
pub fn answer(label: &str) -> CachedAnswer {
    CachedAnswer {
        value: json!({ "label": label, "confidence": 0.9, "rationale": "as before" }),
        model: "gpt-test-1".into(),
        usage: ModelUsage {
            input_tokens: 100,
            output_tokens: 20,
            latency_ms: 300,
        },
    }
}

/// A dedupe key of the invoices workflow that also claims a body hash and,
/// if given, a business key.
pub fn claiming(delivery: &str, body: &str, business: Option<&str>) -> DedupeKey {
    DedupeKey {
        body_hash: Some(format!("sha256:{body}")),
        business_key: business.map(|k| format!("sha256:{k}")),
        ..fresh("invoices", delivery)
    }
}
