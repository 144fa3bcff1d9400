//! The read side: listing and showing runs, the dashboard, and reviewer
//! feedback behind a signed token.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use handoff_core::domain::*;
use handoff_core::http::{HttpRequest, HttpResponse};
use handoff_core::observe::redact::REDACTED;
use handoff_core::ports::*;
use handoff_core::stages::read::ReadApi;
use handoff_core::testing::{ai_result, fixtures, Harness, TEST_LINK_SECRET, TEST_TOKEN_SECRET};
use handoff_core::tokens::{self, Scope};
use handoff_spec::ApprovalSpec;

const SUPPORT: &str = "support-triage";
const INVOICE: &str = "invoice-approval";
const LEAD: &str = "lead@support.example.com";

/// The harness, with runs and tokens as the read side finds them.
trait ReadBed {
    fn api(&self) -> ReadApi;
    async fn run(&self, workflow: &str, status: RunStatus, label: &str) -> RunId;
    /// A token for `reviewer` with `scopes`, for ten minutes from `issued`.
    fn token_issued(&self, reviewer: &str, scopes: &[Scope], issued: DateTime<Utc>) -> String;
    fn token_with(&self, reviewer: &str, scopes: &[Scope]) -> String;
    /// The run went through an approval its workflow's reviewers were asked.
    async fn reviewed(&self, run: &RunId, workflow: &str);
    /// An approval of the run its workflow's reviewers were asked, now at
    /// `status`.
    async fn approval_at(&self, run: &RunId, workflow: &str, status: ApprovalStatus) -> Approval;
    fn expired_token(&self, reviewer: &str) -> String;
    /// A reviewer's token: read, feedback and redrive, their workflows only.
    fn token(&self, reviewer: &str) -> String;
    /// `req` as an operator sends it: a token for every workflow.
    fn operator(&self, req: HttpRequest) -> HttpRequest;
    /// A run that failed in `act`: context, AI output and a decision that
    /// needed no approval are stored.
    async fn failed_in_act(&self) -> RunId;
    /// A run that failed in `act` whose decision needs an approval.
    async fn failed_needing_approval(&self) -> RunId;
    /// A support run labelled with the workflow's first label.
    async fn support_run(&self, status: RunStatus) -> RunId;
    /// A completed support run labelled `label` that went through an
    /// approval.
    async fn reviewed_support_run(&self, label: &str) -> RunId;
    fn approval_spec(&self, workflow: &str) -> &ApprovalSpec;
    async fn support_feedback(&self) -> Vec<Feedback>;
    /// The run's detail as an operator reads it.
    async fn detail(&self, run: &RunId) -> HttpResponse;
    /// The lead reviewer asks for the run to be redriven.
    async fn redriven_by_lead(&self, run: &RunId) -> HttpResponse;
    /// [`Self::failed_needing_approval`] with its approval at `status`,
    /// redriven by the lead reviewer.
    async fn redriven_with_approval_at(&self, status: ApprovalStatus) -> (RunId, HttpResponse);
}

type Bed = Harness;

impl ReadBed for Harness {
    fn api(&self) -> ReadApi {
        self.read_api()
    }

    async fn run(&self, workflow: &str, status: RunStatus, label: &str) -> RunId {
        self.clock.advance(1);
        let id = RunId::new();
        let run = Run {
            status,
            stage: Stage::Decide,
            summary: RunSummary {
                label: Some(label.into()),
                route: Some("queue-a".into()),
                ..RunSummary::default()
            },
            ..fixtures::run(
                &id.0,
                workflow,
                Some("ada@customer.example"),
                self.clock.now(),
            )
        };
        let fields = BTreeMap::from([
            ("subject".to_string(), json!("Card lost")),
            ("text".to_string(), json!("I lost my card yesterday")),
        ]);
        self.store_run(&run, fields, json!({})).await;
        let ai = ai_result(self.catalog.get(workflow).unwrap(), label, 0.9, None);
        self.store
            .put_slot(&id, &Slot::Ai, &serde_json::to_value(&ai).unwrap())
            .await
            .unwrap();
        id
    }

    fn token_issued(&self, reviewer: &str, scopes: &[Scope], issued: DateTime<Utc>) -> String {
        tokens::issue(
            &Secret::new(TEST_TOKEN_SECRET),
            reviewer,
            scopes,
            issued,
            600,
        )
        .unwrap()
        .0
    }

    fn token_with(&self, reviewer: &str, scopes: &[Scope]) -> String {
        self.token_issued(reviewer, scopes, self.clock.now())
    }

    async fn reviewed(&self, run: &RunId, workflow: &str) {
        self.approval_at(run, workflow, ApprovalStatus::Approved)
            .await;
    }

    async fn approval_at(&self, run: &RunId, workflow: &str, status: ApprovalStatus) -> Approval {
        let reviewers = self.approval_spec(workflow).reviewers.clone();
        let now = self.clock.now();
        let approval = Approval {
            id: ApprovalId::random(),
            run_id: run.clone(),
            workflow: workflow.into(),
            task_token: "task-token".into(),
            reviewers,
            required: 1,
            status,
            escalation: false,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            votes: Vec::new(),
            decided_at: (status != ApprovalStatus::Pending).then_some(now),
        };
        self.store.put_approval(&approval).await.unwrap();
        approval
    }

    fn expired_token(&self, reviewer: &str) -> String {
        let issued = self.clock.now() - chrono::Duration::seconds(601);
        self.token_issued(reviewer, &[Scope::Read, Scope::Feedback], issued)
    }

    fn token(&self, reviewer: &str) -> String {
        self.token_with(reviewer, &[Scope::Read, Scope::Feedback, Scope::Redrive])
    }

    fn operator(&self, req: HttpRequest) -> HttpRequest {
        let token = self.token_with(
            "ops@support.example.com",
            &[Scope::Read, Scope::AllWorkflows],
        );
        bearer(req, &token)
    }

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
        let failed = SummaryUpdate {
            error: Some(Some("Handoff.ActionFailed: 400".into())),
            ..SummaryUpdate::default()
        };
        self.store.update_summary(&id, &failed).await.unwrap();
        id
    }

    async fn failed_needing_approval(&self) -> RunId {
        let run = self.failed_in_act().await;
        let mut decision: Decision = serde_json::from_value(
            self.store
                .get_slot(&run, &Slot::Decision)
                .await
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        decision.needs_approval = true;
        self.store
            .put_slot(
                &run,
                &Slot::Decision,
                &serde_json::to_value(&decision).unwrap(),
            )
            .await
            .unwrap();
        run
    }

    async fn support_run(&self, status: RunStatus) -> RunId {
        self.run(SUPPORT, status, &label_of(self, SUPPORT, 0)).await
    }

    async fn reviewed_support_run(&self, label: &str) -> RunId {
        let run = self.run(SUPPORT, RunStatus::Completed, label).await;
        self.reviewed(&run, SUPPORT).await;
        run
    }

    fn approval_spec(&self, workflow: &str) -> &ApprovalSpec {
        self.catalog
            .get(workflow)
            .unwrap()
            .spec
            .approval
            .as_ref()
            .unwrap()
    }

    async fn support_feedback(&self) -> Vec<Feedback> {
        self.store.list_feedback(SUPPORT, 10).await.unwrap()
    }

    async fn detail(&self, run: &RunId) -> HttpResponse {
        self.api()
            .handle(&self.operator(get(&format!("/runs/{run}"), &[])))
            .await
    }

    async fn redriven_by_lead(&self, run: &RunId) -> HttpResponse {
        let token = self.token(LEAD);
        self.api().handle(&redrive(run, Some(&token))).await
    }

    async fn redriven_with_approval_at(&self, status: ApprovalStatus) -> (RunId, HttpResponse) {
        let run = self.failed_needing_approval().await;
        self.approval_at(&run, SUPPORT, status).await;
        let resp = self.redriven_by_lead(&run).await;
        (run, resp)
    }
}

fn bearer(mut req: HttpRequest, token: &str) -> HttpRequest {
    req.headers
        .insert("authorization".into(), format!("Bearer {token}"));
    req
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

/// The support workflow's first two labels: a card problem, which acts
/// alone, and a refund, which needs an approval.
fn card_and_refund(bed: &Bed) -> (String, String) {
    (label_of(bed, SUPPORT, 0), label_of(bed, SUPPORT, 1))
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

    let all = body(&api.handle(&bed.operator(get("/runs", &[]))).await);
    assert_eq!(all["runs"].as_array().unwrap().len(), 5);
    assert_eq!(all["next"], Value::Null);

    let resp = api
        .handle(&bed.operator(get("/runs", &[("status", "awaiting_approval")])))
        .await;
    assert_eq!(resp.status, 200);
    let runs = body(&resp)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], json!(waiting));

    let invoices = body(
        &api.handle(&bed.operator(get("/runs", &[("workflow", INVOICE)])))
            .await,
    );
    assert_eq!(invoices["runs"].as_array().unwrap().len(), 1);

    let first = body(
        &api.handle(&bed.operator(get("/runs", &[("limit", "2")])))
            .await,
    );
    assert_eq!(first["runs"].as_array().unwrap().len(), 2);
    let cursor = first["next"].as_str().unwrap().to_string();
    let second = body(
        &api.handle(&bed.operator(get("/runs", &[("limit", "2"), ("cursor", &cursor)])))
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
        let resp = api.handle(&bed.operator(get("/runs", query))).await;
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
    let run = bed.support_run(RunStatus::Running).await;
    bed.request_approval(&run, SUPPORT, false, "SECRET-TASK-TOKEN")
        .await
        .unwrap();

    let resp = bed.detail(&run).await;
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

    let missing = bed
        .api()
        .handle(&bed.operator(get("/runs/run-nope", &[])))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(body(&missing)["error"], "run_not_found");
}

#[tokio::test]
async fn feedback_requires_reviewer_token() {
    let bed = Bed::new();
    let (predicted, corrected) = card_and_refund(&bed);
    let run = bed.reviewed_support_run(&predicted).await;
    let api = bed.api();
    let good = json!({ "label": corrected });

    let none = api.handle(&feedback(&run, None, good.clone())).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));

    // The claims of one reviewer's token under another's name.
    let own = bed.token(LEAD);
    let other = bed.token("billing@support.example.com");
    let (claims, sig) = (
        other.split('.').nth(1).unwrap(),
        own.rsplit('.').next().unwrap(),
    );
    let forged = format!("hrt1.{claims}.{sig}");
    let cases = [
        (forged, 401),
        (bed.expired_token(LEAD), 401),
        (bed.token_with(LEAD, &[Scope::Read]), 403),
        ("garbage".to_string(), 401),
        (bed.token("eve@evil.example"), 404),
    ];
    for (token, status) in cases {
        let resp = api
            .handle(&feedback(&run, Some(&token), good.clone()))
            .await;
        assert_eq!(resp.status, status, "{token}");
    }
    assert!(bed.support_feedback().await.is_empty());

    let token = bed.token(LEAD);
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
    assert!(bed.support_feedback().await.is_empty());

    let ok = api
        .handle(&feedback(
            &run,
            Some(&token),
            json!({ "label": corrected, "edits": {"draft": "better"} }),
        ))
        .await;
    assert_eq!(ok.status, 201);
    let stored = bed.support_feedback().await;
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
    let first = bed.run(SUPPORT, RunStatus::Completed, &l).await;
    bed.run(SUPPORT, RunStatus::Completed, &l).await;
    bed.run(INVOICE, RunStatus::Failed, "<b>bold</b>").await;

    let resp = bed.api().handle(&bed.operator(get("/", &[]))).await;
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let page = String::from_utf8(resp.body).unwrap();
    // Each count links to the runs it counts.
    let count = |workflow: &str, status: &str, n: usize| {
        format!(r#"href="/?workflow={workflow}&amp;status={status}">{n}</a>"#)
    };
    assert!(page.contains(&count(SUPPORT, "COMPLETED", 2)), "{page}");
    assert!(page.contains(&count(INVOICE, "FAILED", 1)), "{page}");
    assert!(page.contains("&lt;b&gt;bold"));
    assert!(!page.contains("<b>bold"));
    assert!(page.contains(r#"<div class="big">0</div>pending approvals"#));
    assert!(page.contains("Outcomes (last 24 hours)"));
    assert!(page.contains(r#"aria-label="runs per minute""#));
    // A deployment links a run to its JSON.
    assert!(page.contains(&format!(r#"href="/runs/{first}""#)));
}

#[tokio::test]
async fn dashboard_lists_the_runs_the_filter_names() {
    let bed = Bed::new();
    let support = bed.support_run(RunStatus::Completed).await;
    let invoice = bed.run(INVOICE, RunStatus::Failed, "x").await;
    let api = bed.api();

    let filtered = api
        .handle(&bed.operator(get("/", &[("workflow", INVOICE), ("status", "FAILED")])))
        .await;
    assert_eq!(filtered.status, 200);
    let page = String::from_utf8(filtered.body).unwrap();
    assert!(page.contains(&format!(">{invoice}</a>")), "{page}");
    assert!(!page.contains(&format!(">{support}</a>")), "{page}");
    assert!(page.contains(&format!("Outcomes ({INVOICE}, last 24 hours)")));

    for (name, value, code) in [
        ("status", "LOST", "bad_status"),
        ("workflow", "no-such-workflow", "unknown_workflow"),
    ] {
        let mut asked = bed.operator(get("/", &[(name, value)]));
        asked
            .headers
            .insert("accept".into(), "application/json".into());
        let refused = api.handle(&asked).await;
        assert_eq!(refused.status, 400, "{name}={value}");
        assert_eq!(body(&refused)["error"], code);
        // A browser gets the reason as a page.
        let page = api.handle(&bed.operator(get("/", &[(name, value)]))).await;
        assert_eq!(page.status, 400);
        let page = String::from_utf8(page.body).unwrap();
        assert!(page.contains(value), "{page}");
        assert!(page.contains("<h1>Not shown</h1>"), "{page}");
    }
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

#[tokio::test]
async fn a_run_that_failed_in_act_is_redriven_from_act_by_a_reviewer() {
    let bed = Bed::new();
    let run = bed.failed_in_act().await;
    let api = bed.api();

    let refused = api.handle(&redrive(&run, None)).await;
    assert_eq!(refused.status, 401);
    let outsider = bed.token("mallory@example.com");
    let refused = api.handle(&redrive(&run, Some(&outsider))).await;
    assert_eq!(refused.status, 404, "another workflow's run is not shown");
    assert!(bed.executions.started.lock().unwrap().is_empty());

    let token = bed.token(LEAD);
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
    let resp = bed.redriven_by_lead(&run).await;
    assert_eq!(resp.status, 202, "{}", String::from_utf8_lossy(&resp.body));
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["from"], "context", "no context stored yet");
    let started = bed.executions.started.lock().unwrap().clone();
    assert_eq!(started[0].1, json!({"run_id": run, "workflow": SUPPORT}));
}

#[tokio::test]
async fn a_run_that_failed_before_its_reviewers_decided_is_redriven_from_the_approval_request() {
    let bed = Bed::new();
    let (run, resp) = bed.redriven_with_approval_at(ApprovalStatus::Pending).await;
    assert_eq!(resp.status, 202, "{}", String::from_utf8_lossy(&resp.body));
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["from"], "approval");
    let started = bed.executions.started.lock().unwrap().clone();
    let (_, input) = &started[0];
    assert_eq!(input["resume_at"], "RequestApproval", "{input}");
    let timeout = bed.approval_spec(SUPPORT).timeout_seconds;
    assert_eq!(
        input["decide"]["result"]["approval_timeout_seconds"],
        json!(timeout),
        "the approval request's TimeoutSecondsPath reads it: {input}"
    );
    let stored = bed.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.stage),
        (RunStatus::Running, Stage::Approval)
    );
}

#[tokio::test]
async fn a_run_its_reviewers_rejected_is_not_redriven() {
    let bed = Bed::new();
    let (run, resp) = bed
        .redriven_with_approval_at(ApprovalStatus::Rejected)
        .await;
    assert_eq!(resp.status, 409);
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["error"], "rejected_by_reviewers", "{body}");
    let stored = bed.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Failed, "nothing changed");
    assert!(bed.executions.started.lock().unwrap().is_empty());
}

fn browser(req: HttpRequest) -> HttpRequest {
    let mut req = req;
    req.headers.insert("accept".into(), "text/html".into());
    req
}

fn json_client(req: HttpRequest) -> HttpRequest {
    let mut req = req;
    req.headers
        .insert("accept".into(), "application/json".into());
    req
}

#[tokio::test]
async fn nothing_is_read_without_a_token_that_allows_reading() {
    let bed = Bed::new();
    let run = bed.support_run(RunStatus::Completed).await;
    let api = bed.api();
    for path in ["/runs".to_string(), format!("/runs/{run}"), "/".to_string()] {
        let resp = api.handle(&json_client(get(&path, &[]))).await;
        assert_eq!(resp.status, 401, "{path}");
        assert_eq!(resp.header("www-authenticate"), Some("Bearer"), "{path}");
        assert!(!String::from_utf8_lossy(&resp.body).contains("Card lost"));

        let feedback_only = bed.token_with(LEAD, &[Scope::Feedback]);
        let resp = api
            .handle(&bearer(json_client(get(&path, &[])), &feedback_only))
            .await;
        assert_eq!(resp.status, 403, "{path}");
        assert_eq!(body(&resp)["error"], "missing_scope");

        let expired = bed.expired_token(LEAD);
        assert_eq!(
            api.handle(&bearer(json_client(get(&path, &[])), &expired))
                .await
                .status,
            401
        );
    }
    // A browser without a session is sent to sign in, and shown nothing.
    let resp = api.handle(&browser(get("/", &[]))).await;
    assert_eq!(resp.status, 303);
    assert_eq!(resp.header("location"), Some("/login"));
    assert!(resp.body.is_empty());
}

#[tokio::test]
async fn a_token_signed_with_the_link_key_reads_nothing() {
    let bed = Bed::new();
    let (forged, _) = tokens::issue(
        &Secret::new(TEST_LINK_SECRET),
        LEAD,
        &[Scope::Read, Scope::AllWorkflows],
        bed.clock.now(),
        600,
    )
    .unwrap();
    let resp = bed.api().handle(&bearer(get("/runs", &[]), &forged)).await;
    assert_eq!(resp.status, 401);
}

#[tokio::test]
async fn a_reviewer_reads_only_the_workflows_they_review() {
    let bed = Bed::new();
    let own = bed.support_run(RunStatus::Completed).await;
    let other = bed
        .run(INVOICE, RunStatus::Failed, &label_of(&bed, INVOICE, 0))
        .await;
    let api = bed.api();
    let token = bed.token(LEAD);
    let reviews_invoices = bed
        .approval_spec(INVOICE)
        .reviewers
        .iter()
        .any(|r| r == LEAD);
    assert!(
        !reviews_invoices,
        "the test needs a reviewer of one workflow"
    );

    let listed = body(&api.handle(&bearer(get("/runs", &[]), &token)).await);
    let ids: Vec<&Value> = listed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, vec![&json!(own)]);

    let refused = api
        .handle(&bearer(get("/runs", &[("workflow", INVOICE)]), &token))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(body(&refused)["error"], "not_a_reviewer");

    let hidden = api
        .handle(&bearer(get(&format!("/runs/{other}"), &[]), &token))
        .await;
    assert_eq!(hidden.status, 404, "another workflow's run is not shown");
    assert_eq!(body(&hidden)["error"], "run_not_found");
    let shown = api
        .handle(&bearer(get(&format!("/runs/{own}"), &[]), &token))
        .await;
    assert_eq!(shown.status, 200);

    let page = api.handle(&bearer(get("/", &[]), &token)).await;
    assert_eq!(page.status, 200);
    let page = String::from_utf8(page.body).unwrap();
    assert!(page.contains(SUPPORT));
    assert!(!page.contains(INVOICE), "{page}");
}

#[tokio::test]
async fn sensitive_fields_are_masked_on_the_way_out() {
    let bed = Bed::new();
    let run = bed.support_run(RunStatus::Completed).await;
    let slots = [
        (
            Slot::Ai,
            json!({ "details": { "email": "ada@private.example", "order_id": "A-1" } }),
        ),
        (
            Slot::Context,
            json!({ "customer": { "email": "ada@private.example" } }),
        ),
        (
            Slot::Decision,
            json!({ "inputs": { "email": "ada@private.example" } }),
        ),
    ];
    for (slot, value) in &slots {
        bed.store.put_slot(&run, slot, value).await.unwrap();
    }

    let resp = bed.detail(&run).await;
    assert_eq!(resp.status, 200);
    assert!(!String::from_utf8_lossy(&resp.body).contains("ada@private.example"));
    let detail = body(&resp);
    assert_eq!(detail["ai"]["details"]["email"], REDACTED);
    assert_eq!(detail["ai"]["details"]["order_id"], "A-1");
    assert_eq!(detail["context"]["customer"]["email"], REDACTED);
    assert_eq!(detail["decision"]["inputs"]["email"], REDACTED);
}

fn login(token: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        path: "/login".into(),
        headers: BTreeMap::from([(
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        )]),
        body: format!("token={}", urlencoding::encode(token)).into_bytes(),
        ..HttpRequest::default()
    }
}

#[tokio::test]
async fn signing_in_keeps_the_token_as_a_session_that_reads_but_cannot_change() {
    let bed = Bed::new();
    let run = bed.support_run(RunStatus::Completed).await;
    let api = bed.api();

    let form = api.handle(&get("/login", &[])).await;
    assert_eq!(form.status, 200);
    assert!(String::from_utf8_lossy(&form.body).contains("name=\"token\""));
    let refused = api.handle(&login("garbage")).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("set-cookie"), None);

    let token = bed.token(LEAD);
    let signed_in = api.handle(&login(&token)).await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.header("location"), Some("/"));
    let cookie = signed_in.header("set-cookie").unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let with_session = |mut req: HttpRequest| {
        req.headers.insert("cookie".into(), session.clone());
        req
    };
    let page = api.handle(&with_session(browser(get("/", &[])))).await;
    assert_eq!(page.status, 200);
    let detail = api
        .handle(&with_session(get(&format!("/runs/{run}"), &[])))
        .await;
    assert_eq!(detail.status, 200);

    // A cross-site form can make the browser send the cookie; it changes nothing.
    let corrected = json!({ "label": label_of(&bed, SUPPORT, 1) });
    let post = api
        .handle(&with_session(feedback(&run, None, corrected)))
        .await;
    assert_eq!(post.status, 401);
    assert!(bed.support_feedback().await.is_empty());

    let out = api
        .handle(&HttpRequest {
            method: "POST".into(),
            path: "/logout".into(),
            ..HttpRequest::default()
        })
        .await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
}

const BILLING: &str = "billing@support.example.com";

async fn correct(bed: &Bed, run: &RunId, reviewer: &str, label: &str) -> HttpResponse {
    let token = bed.token(reviewer);
    bed.api()
        .handle(&feedback(run, Some(&token), json!({ "label": label })))
        .await
}

#[tokio::test]
async fn only_a_reviewer_of_the_runs_approval_corrects_it() {
    let bed = Bed::new();
    let (card, refund) = card_and_refund(&bed);
    let unreviewed = bed.run(SUPPORT, RunStatus::Completed, &card).await;
    let resp = correct(&bed, &unreviewed, LEAD, &refund).await;
    assert_eq!(resp.status, 403, "a run that acted alone has no reviewer");
    assert_eq!(body(&resp)["error"], "not_this_runs_reviewer");
    let operator = bed.token_with(
        "ops@support.example.com",
        &[Scope::Read, Scope::Feedback, Scope::AllWorkflows],
    );
    let resp = bed
        .api()
        .handle(&feedback(
            &unreviewed,
            Some(&operator),
            json!({ "label": refund }),
        ))
        .await;
    assert_eq!(resp.status, 403, "reading every workflow is not reviewing");
    assert!(bed.support_feedback().await.is_empty());
}

#[tokio::test]
async fn a_reviewers_second_correction_of_a_run_replaces_the_first() {
    let bed = Bed::new();
    let card = label_of(&bed, SUPPORT, 0);
    let run = bed.reviewed_support_run(&card).await;
    for label in [label_of(&bed, SUPPORT, 1), label_of(&bed, SUPPORT, 2)] {
        assert_eq!(correct(&bed, &run, LEAD, &label).await.status, 201);
    }
    let stored = bed.support_feedback().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].final_label, label_of(&bed, SUPPORT, 2));
}

#[tokio::test]
async fn corrections_are_rate_limited_per_reviewer() {
    let bed = Bed::new();
    let (card, refund) = card_and_refund(&bed);
    let limit = handoff_core::stages::correction::MAX_CORRECTIONS_PER_HOUR;
    for _ in 0..limit {
        let run = bed.reviewed_support_run(&card).await;
        assert_eq!(correct(&bed, &run, LEAD, &refund).await.status, 201);
    }
    let run = bed.reviewed_support_run(&card).await;
    let refused = correct(&bed, &run, LEAD, &refund).await;
    assert_eq!(refused.status, 429);
    assert_eq!(body(&refused)["error"], "too_many_corrections");
    let wait: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    // Another reviewer is not held back, and the hour passes.
    assert_eq!(correct(&bed, &run, BILLING, &refund).await.status, 201);
    bed.clock.advance(3600);
    assert_eq!(correct(&bed, &run, LEAD, &refund).await.status, 201);
}

#[tokio::test]
async fn a_correction_that_would_skip_an_approval_waits_for_a_second_reviewer() {
    let bed = Bed::new();
    let (card, refund) = card_and_refund(&bed);
    // Refunds need approval; card problems act alone.
    let run = bed.reviewed_support_run(&refund).await;
    let mut ai = bed.store.get_slot(&run, &Slot::Ai).await.unwrap().unwrap();
    ai["details"] = json!({});
    bed.store.put_slot(&run, &Slot::Ai, &ai).await.unwrap();

    let first = correct(&bed, &run, LEAD, &card).await;
    assert_eq!(first.status, 201);
    assert_eq!(body(&first)["status"], "awaiting_second_reviewer");
    let stored = bed.support_feedback().await;
    assert!(
        !stored[0].teaches(),
        "one reviewer cannot switch the approval off"
    );

    let second = correct(&bed, &run, BILLING, &card).await;
    assert_eq!(body(&second)["status"], "recorded");
    let stored = bed.support_feedback().await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(Feedback::teaches), "{stored:?}");

    // Towards more approval, one reviewer is enough.
    let other = bed.run(SUPPORT, RunStatus::Completed, &card).await;
    bed.reviewed(&other, SUPPORT).await;
    bed.store
        .put_slot(&other, &Slot::Ai, &{
            let mut ai = bed
                .store
                .get_slot(&other, &Slot::Ai)
                .await
                .unwrap()
                .unwrap();
            ai["details"] = json!({});
            ai
        })
        .await
        .unwrap();
    let toward = correct(&bed, &other, LEAD, &refund).await;
    assert_eq!(body(&toward)["status"], "recorded");
}

fn post_json(path: &str, token: &str, body: Value) -> HttpRequest {
    let mut req = bearer(get(path, &[]), token);
    req.method = "POST".into();
    req.headers
        .insert("content-type".into(), "application/json".into());
    req.body = serde_json::to_vec(&body).unwrap();
    req
}

async fn revoke(api: &ReadApi, token: &str, body: Value) -> HttpResponse {
    api.handle(&post_json("/tokens/revoke", token, body)).await
}

/// The status of a `GET /runs` with `token`.
async fn runs_status(api: &ReadApi, token: &str) -> u16 {
    api.handle(&bearer(get("/runs", &[]), token)).await.status
}

#[tokio::test]
async fn a_revoked_token_reads_nothing_and_only_operators_revoke_others() {
    let bed = Bed::new();
    let api = bed.api();
    let own = bed.token(LEAD);
    let other = bed.token(BILLING);
    assert_eq!(runs_status(&api, &own).await, 200);

    // A reviewer may not withdraw someone else's token…
    let other_id = tokens::verify(&Secret::new(TEST_TOKEN_SECRET), &other, bed.clock.now())
        .unwrap()
        .jti;
    let refused = revoke(&api, &own, json!({ "id": other_id })).await;
    assert_eq!(refused.status, 403);
    assert_eq!(runs_status(&api, &other).await, 200);

    // …but withdraws their own, which then opens nothing.
    let done = revoke(&api, &own, json!({})).await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    let after = api
        .handle(&json_client(bearer(get("/runs", &[]), &own)))
        .await;
    assert_eq!(after.status, 401);
    assert_eq!(body(&after)["message"], "the reviewer token was revoked");
    assert!(api
        .authorize(&bearer(get("/runs", &[]), &own))
        .await
        .is_err());

    // An operator withdraws any token by its id.
    let operator = bed.token_with(
        "ops@support.example.com",
        &[Scope::Read, Scope::AllWorkflows],
    );
    let done = revoke(&api, &operator, json!({ "id": other_id })).await;
    assert_eq!(done.status, 200);
    assert_eq!(runs_status(&api, &other).await, 401);
}

#[tokio::test]
async fn signing_out_revokes_the_session_token() {
    let bed = Bed::new();
    let api = bed.api();
    let token = bed.token(LEAD);
    let session = format!("{}={token}", tokens::SESSION_COOKIE);
    let mut out = HttpRequest {
        method: "POST".into(),
        path: "/logout".into(),
        ..HttpRequest::default()
    };
    out.headers.insert("cookie".into(), session);
    assert_eq!(api.handle(&out).await.status, 303);
    let after = api.handle(&bearer(get("/runs", &[]), &token)).await;
    assert_eq!(
        after.status, 401,
        "the cookie's token no longer works anywhere"
    );
}
