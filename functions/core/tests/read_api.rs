//! The read side: listing and showing runs, the dashboard, and reviewer
//! feedback behind a signed token.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use handoff_core::domain::*;
use handoff_core::http::{HttpRequest, HttpResponse};
use handoff_core::links;
use handoff_core::memory::*;
use handoff_core::ports::*;
use handoff_core::spec::Catalog;
use handoff_core::stages::approval::{ApprovalStage, ApprovalTask};
use handoff_core::stages::read::ReadApi;
use handoff_core::testing::ai_result;

const LINK_SECRET: &str = "approval-links";
const KEY: &str = "link-key-1-of-at-least-thirty-two-bytes";
const SUPPORT: &str = "support-triage";
const INVOICE: &str = "invoice-approval";
const LEAD: &str = "lead@support.example.com";

struct Bed {
    catalog: Arc<Catalog>,
    store: Arc<MemoryStore>,
    secrets: Arc<StaticSecrets>,
    clock: Arc<ManualClock>,
    executions: Arc<MemoryExecutions>,
}

impl Bed {
    fn new() -> Self {
        Self {
            catalog: Arc::new(handoff_workflows::catalog().clone()),
            store: Arc::new(MemoryStore::new()),
            secrets: Arc::new(StaticSecrets::with(&[(LINK_SECRET, KEY)])),
            clock: Arc::new(ManualClock::at("2026-01-15T09:30:00Z")),
            executions: Arc::new(MemoryExecutions::default()),
        }
    }

    fn api(&self) -> ReadApi {
        ReadApi {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            link_secret: LINK_SECRET.into(),
            executions: self.executions.clone(),
        }
    }

    async fn run(&self, workflow: &str, status: RunStatus, label: &str) -> RunId {
        self.clock.advance(1);
        let now = self.clock.now();
        let id = RunId::new();
        let run = Run {
            id: id.clone(),
            workflow: workflow.into(),
            status,
            stage: Stage::Decide,
            delivery_id: format!("d-{id}"),
            sender: Some("ada@customer.example".into()),
            created_at: now,
            updated_at: now,
            summary: RunSummary {
                label: Some(label.into()),
                route: Some("queue-a".into()),
                ..RunSummary::default()
            },
        };
        let event = CanonicalEvent {
            workflow: workflow.into(),
            delivery_id: run.delivery_id.clone(),
            received_at: now,
            fields: BTreeMap::from([
                ("subject".to_string(), json!("Card lost")),
                ("text".to_string(), json!("I lost my card yesterday")),
            ]),
            payload: json!({}),
        };
        let dedupe = DedupeKey {
            workflow: workflow.into(),
            delivery_id: run.delivery_id.clone(),
            expires_at: now,
            body_hash: None,
            business_key: None,
        };
        self.store
            .create_run(&run, &event, &dedupe, &AuditEvent::received(&run, 0))
            .await
            .unwrap();
        let ai = ai_result(self.catalog.get(workflow).unwrap(), label, 0.9, None);
        self.store
            .put_slot(&id, &Slot::Ai, &serde_json::to_value(&ai).unwrap())
            .await
            .unwrap();
        id
    }

    fn token(&self, reviewer: &str, valid_for: i64) -> String {
        links::reviewer_token(
            &Secret::new(KEY),
            reviewer,
            self.clock.now().timestamp() + valid_for,
        )
    }
}

fn get(path: &str, query: &[(&str, &str)]) -> HttpRequest {
    let mut path_params = BTreeMap::new();
    if let Some(id) = path.strip_prefix("/runs/") {
        path_params.insert(
            "id".to_string(),
            id.trim_end_matches("/feedback")
                .trim_end_matches("/redrive")
                .to_string(),
        );
    }
    HttpRequest {
        method: "GET".into(),
        path: path.into(),
        path_params,
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..HttpRequest::default()
    }
}

fn feedback(run: &RunId, token: Option<&str>, body: Value) -> HttpRequest {
    let mut req = get(&format!("/runs/{run}/feedback"), &[]);
    req.method = "POST".into();
    req.headers
        .insert("content-type".into(), "application/json".into());
    if let Some(t) = token {
        req.headers
            .insert("authorization".into(), format!("Bearer {t}"));
    }
    req.body = serde_json::to_vec(&body).unwrap();
    req
}

fn body(resp: &HttpResponse) -> Value {
    resp.body_json()
        .unwrap_or_else(|| panic!("not JSON: {}", String::from_utf8_lossy(&resp.body)))
}

fn label_of(bed: &Bed, workflow: &str, i: usize) -> String {
    bed.catalog
        .get(workflow)
        .unwrap()
        .spec
        .reason
        .primary_labels()[i]
        .clone()
}

#[tokio::test]
async fn list_runs_filters_and_pages() {
    let bed = Bed::new();
    let l = label_of(&bed, SUPPORT, 0);
    for _ in 0..3 {
        bed.run(SUPPORT, RunStatus::Completed, &l).await;
    }
    let waiting = bed.run(SUPPORT, RunStatus::AwaitingApproval, &l).await;
    bed.run(INVOICE, RunStatus::Failed, &label_of(&bed, INVOICE, 0))
        .await;
    let api = bed.api();

    let all = body(&api.handle(&get("/runs", &[])).await);
    assert_eq!(all["runs"].as_array().unwrap().len(), 5);
    assert_eq!(all["next"], Value::Null);

    let resp = api
        .handle(&get("/runs", &[("status", "awaiting_approval")]))
        .await;
    assert_eq!(resp.status, 200);
    let runs = body(&resp)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], json!(waiting));

    let invoices = body(&api.handle(&get("/runs", &[("workflow", INVOICE)])).await);
    assert_eq!(invoices["runs"].as_array().unwrap().len(), 1);

    let first = body(&api.handle(&get("/runs", &[("limit", "2")])).await);
    assert_eq!(first["runs"].as_array().unwrap().len(), 2);
    let cursor = first["next"].as_str().unwrap().to_string();
    let second = body(
        &api.handle(&get("/runs", &[("limit", "2"), ("cursor", &cursor)]))
            .await,
    );
    assert_ne!(first["runs"][0]["id"], second["runs"][0]["id"]);
}

/// Query, expected status, expected error code.
type Case = (&'static [(&'static str, &'static str)], u16, &'static str);

#[tokio::test]
async fn list_runs_rejects_bad_input_with_its_own_code() {
    let bed = Bed::new();
    let api = bed.api();
    let cases: [Case; 5] = [
        (&[("status", "SLEEPING")], 400, "bad_status"),
        (&[("limit", "0")], 400, "bad_limit"),
        (&[("limit", "101")], 400, "bad_limit"),
        (&[("limit", "ten")], 400, "bad_limit"),
        (&[("workflow", "nope")], 400, "unknown_workflow"),
    ];
    for (query, status, code) in cases {
        let resp = api.handle(&get("/runs", query)).await;
        assert_eq!(resp.status, status, "{query:?}");
        assert_eq!(body(&resp)["error"], code, "{query:?}");
    }
    let mut post = get("/runs", &[]);
    post.method = "DELETE".into();
    assert_eq!(api.handle(&post).await.status, 405);
}

#[tokio::test]
async fn run_detail_shows_everything_but_task_tokens() {
    let bed = Bed::new();
    let run = bed
        .run(SUPPORT, RunStatus::Running, &label_of(&bed, SUPPORT, 0))
        .await;
    let stage = ApprovalStage {
        catalog: bed.catalog.clone(),
        store: bed.store.clone(),
        notifier: Arc::new(RecordingNotifier::default()),
        secrets: bed.secrets.clone(),
        clock: bed.clock.clone(),
        link_secret: LINK_SECRET.into(),
        public_url: "https://h.example".into(),
    };
    stage
        .handle(&ApprovalTask::Request {
            run_id: run.clone(),
            workflow: SUPPORT.into(),
            escalation: false,
            task_token: "SECRET-TASK-TOKEN".into(),
        })
        .await
        .unwrap();

    let resp = bed.api().handle(&get(&format!("/runs/{run}"), &[])).await;
    assert_eq!(resp.status, 200);
    let raw = String::from_utf8(resp.body.clone()).unwrap();
    assert!(!raw.contains("SECRET-TASK-TOKEN"));
    let detail = body(&resp);
    assert_eq!(detail["run"]["status"], "AWAITING_APPROVAL");
    assert_eq!(detail["event"]["fields"]["subject"], "Card lost");
    assert_eq!(
        detail["ai"]["issue_type"]["label"],
        label_of(&bed, SUPPORT, 0)
    );
    assert_eq!(
        detail["approvals"][0]["reviewers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "approval.requested"));

    let missing = bed.api().handle(&get("/runs/run-nope", &[])).await;
    assert_eq!(missing.status, 404);
    assert_eq!(body(&missing)["error"], "run_not_found");
}

#[tokio::test]
async fn feedback_requires_reviewer_token() {
    let bed = Bed::new();
    let predicted = label_of(&bed, SUPPORT, 0);
    let corrected = label_of(&bed, SUPPORT, 1);
    let run = bed.run(SUPPORT, RunStatus::Completed, &predicted).await;
    let api = bed.api();
    let good = json!({ "label": corrected });

    let none = api.handle(&feedback(&run, None, good.clone())).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));

    let forged = bed
        .token(LEAD, 600)
        .replace(LEAD, "billing@support.example.com");
    let cases = [
        (forged, 401),
        (bed.token(LEAD, -1), 401),
        ("garbage".to_string(), 401),
        (bed.token("eve@evil.example", 600), 403),
    ];
    for (token, status) in cases {
        let resp = api
            .handle(&feedback(&run, Some(&token), good.clone()))
            .await;
        assert_eq!(resp.status, status, "{token}");
    }
    assert!(bed
        .store
        .list_feedback(SUPPORT, 10)
        .await
        .unwrap()
        .is_empty());

    let token = bed.token(LEAD, 600);
    let bad_label = api
        .handle(&feedback(&run, Some(&token), json!({ "label": "made_up" })))
        .await;
    assert_eq!(bad_label.status, 422);
    assert_eq!(body(&bad_label)["error"], "unknown_label");
    let malformed = api
        .handle(&feedback(&run, Some(&token), json!({ "lable": corrected })))
        .await;
    assert_eq!(malformed.status, 400);
    let unknown = api
        .handle(&feedback(
            &RunId("run-nope".into()),
            Some(&token),
            good.clone(),
        ))
        .await;
    assert_eq!(unknown.status, 404);
    assert!(bed
        .store
        .list_feedback(SUPPORT, 10)
        .await
        .unwrap()
        .is_empty());

    let ok = api
        .handle(&feedback(
            &run,
            Some(&token),
            json!({ "label": corrected, "edits": {"draft": "better"} }),
        ))
        .await;
    assert_eq!(ok.status, 201);
    let stored = bed.store.list_feedback(SUPPORT, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].reviewer, LEAD);
    assert_eq!(stored[0].predicted_label, predicted);
    assert_eq!(stored[0].final_label, corrected);
    assert_eq!(stored[0].text, "Card lost\nI lost my card yesterday");
    assert_eq!(stored[0].edits, Some(json!({"draft": "better"})));
}

#[tokio::test]
async fn dashboard_counts_runs_and_escapes_labels() {
    let bed = Bed::new();
    let l = label_of(&bed, SUPPORT, 0);
    bed.run(SUPPORT, RunStatus::Completed, &l).await;
    bed.run(SUPPORT, RunStatus::Completed, &l).await;
    bed.run(INVOICE, RunStatus::Failed, "<b>bold</b>").await;

    let resp = bed.api().handle(&get("/", &[])).await;
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let page = String::from_utf8(resp.body).unwrap();
    assert!(page.contains("<th>COMPLETED</th><td>2</td>"), "{page}");
    assert!(page.contains("<th>FAILED</th><td>1</td>"));
    assert!(page.contains(&format!("<th>{SUPPORT}</th><td>2</td>")));
    assert!(page.contains("&lt;b&gt;bold"));
    assert!(!page.contains("<b>bold"));
    assert!(page.contains("0</strong> pending approval"));
}

fn redrive(run: &RunId, token: Option<&str>) -> HttpRequest {
    let mut req = get(&format!("/runs/{run}/redrive"), &[]);
    req.method = "POST".into();
    if let Some(t) = token {
        req.headers
            .insert("authorization".into(), format!("Bearer {t}"));
    }
    req
}

impl Bed {
    /// A run that failed in `act`: context, AI output and a decision that
    /// needed no approval are stored.
    async fn failed_in_act(&self) -> RunId {
        let id = self.run(SUPPORT, RunStatus::Failed, "card_problem").await;
        let decision = Decision {
            rule: Some("auto".into()),
            route: "queue-a".into(),
            priority: Priority::Normal,
            actions: vec!["reply_to_customer".into()],
            needs_approval: false,
            reason: "rule `auto`".into(),
        };
        for (slot, value) in [
            (Slot::Context, json!({})),
            (Slot::Decision, serde_json::to_value(&decision).unwrap()),
        ] {
            self.store.put_slot(&id, &slot, &value).await.unwrap();
        }
        let summary = RunSummary {
            error: Some("Handoff.ActionFailed: 400".into()),
            ..RunSummary::default()
        };
        self.store.set_summary(&id, &summary).await.unwrap();
        id
    }
}

#[tokio::test]
async fn a_run_that_failed_in_act_is_redriven_from_act_by_a_reviewer() {
    let bed = Bed::new();
    let run = bed.failed_in_act().await;
    let api = bed.api();

    let refused = api.handle(&redrive(&run, None)).await;
    assert_eq!(refused.status, 401);
    let outsider = bed.token("mallory@example.com", 600);
    let refused = api.handle(&redrive(&run, Some(&outsider))).await;
    assert_eq!(refused.status, 403);
    assert!(bed.executions.started.lock().unwrap().is_empty());

    let token = bed.token(LEAD, 600);
    let resp = api.handle(&redrive(&run, Some(&token))).await;
    assert_eq!(resp.status, 202, "{}", String::from_utf8_lossy(&resp.body));
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["from"], "act");
    let started = bed.executions.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    let (name, input) = &started[0];
    assert_eq!(body["execution"], json!(name));
    assert!(name.starts_with(&format!("{run}-redrive-")), "{name}");
    assert_eq!(
        input,
        &json!({"run_id": run, "workflow": SUPPORT, "resume_at": "Act"})
    );
    let stored = bed.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Running);
    assert_eq!(stored.summary.error, None);
    let trail = bed.store.trail(&run).await.unwrap();
    let entry = trail.iter().find(|e| e.kind == "run.redriven").unwrap();
    assert_eq!(entry.detail["previous_error"], "Handoff.ActionFailed: 400");

    // Running again: not failed, so nothing more starts.
    let again = api.handle(&redrive(&run, Some(&token))).await;
    assert_eq!(again.status, 409);
    assert_eq!(bed.executions.started.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_run_that_failed_before_its_decision_starts_from_the_top() {
    let bed = Bed::new();
    let run = bed.run(SUPPORT, RunStatus::Failed, "card_problem").await;
    let token = bed.token(LEAD, 600);
    let resp = bed.api().handle(&redrive(&run, Some(&token))).await;
    assert_eq!(resp.status, 202, "{}", String::from_utf8_lossy(&resp.body));
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["from"], "context", "no context stored yet");
    let started = bed.executions.started.lock().unwrap().clone();
    assert_eq!(started[0].1, json!({"run_id": run, "workflow": SUPPORT}));
}

#[tokio::test]
async fn a_run_waiting_on_its_approval_is_not_redriven() {
    let bed = Bed::new();
    let run = bed.failed_in_act().await;
    let mut decision: Decision = serde_json::from_value(
        bed.store
            .get_slot(&run, &Slot::Decision)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    decision.needs_approval = true;
    bed.store
        .put_slot(
            &run,
            &Slot::Decision,
            &serde_json::to_value(&decision).unwrap(),
        )
        .await
        .unwrap();
    let token = bed.token(LEAD, 600);
    let resp = bed.api().handle(&redrive(&run, Some(&token))).await;
    assert_eq!(resp.status, 409);
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["error"], "failed_before_approval", "{body}");
    let stored = bed.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Failed, "nothing changed");
    assert!(bed.executions.started.lock().unwrap().is_empty());
}
