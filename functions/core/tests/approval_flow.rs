//! Approvals end to end through the in-memory ports: the request stage sends
//! signed links, the callback page shows and decides, the timeout stage
//! applies the spec's policy.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use serde_json::{json, Value};

use handoff_core::domain::*;
use handoff_core::http::{HttpRequest, HttpResponse};
use handoff_core::links;
use handoff_core::ports::*;
use handoff_core::spec::{Catalog, Workflow};
use handoff_core::stages::approval::{
    link_lifetime, ApprovalTask, ApprovalTasks, APPROVE_ON_TIMEOUT,
};
use handoff_core::stages::callback::Callback;
use handoff_core::stages::delivery::Redelivery;
use handoff_core::stages::finalize::FinalizeInput;
use handoff_core::testing::{
    ai_result, first_label, fixtures, link_request, Harness, LINK_SECRET, PUBLIC_URL,
    TEST_LINK_SECRET,
};

/// The harness, with what these tests do to an approval in one call.
struct Bed(Harness);

impl Deref for Bed {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.0
    }
}

impl Bed {
    fn new() -> Self {
        Self(Harness::new())
    }

    fn with_catalog(catalog: Catalog) -> Self {
        let mut harness = Harness::new();
        harness.catalog = Arc::new(catalog);
        Self(harness)
    }

    fn stage(&self) -> ApprovalTasks {
        self.0.approval()
    }

    /// A run that reached the approval step, with AI output and a decision.
    async fn run(&self, workflow: &str, sender: &str, subject: &str, text: &str) -> RunId {
        let id = RunId::new();
        let spec = self.catalog.get(workflow).unwrap();
        let label = first_label(spec);
        let run = Run {
            status: RunStatus::Running,
            stage: Stage::Decide,
            // As the reason stage leaves it: the primary label on the run.
            summary: RunSummary {
                label: Some(label.clone()),
                confidence: Some(0.62),
                ..RunSummary::default()
            },
            ..fixtures::run(&id.0, workflow, Some(sender), self.clock.now())
        };
        let fields = BTreeMap::from([
            ("sender".to_string(), json!(sender)),
            ("subject".to_string(), json!(subject)),
            ("text".to_string(), json!(text)),
        ]);
        self.store_run(&run, fields, json!({})).await;
        let mut ai = ai_result(spec, &label, 0.62, Some("Hello,\nwe are on it."));
        ai.needs_review = true;
        ai.review_reasons = vec!["low confidence".into()];
        self.store
            .put_slot(&id, &Slot::Ai, &serde_json::to_value(&ai).unwrap())
            .await
            .unwrap();
        let decision = Decision {
            rule: Some("test".into()),
            route: "queue-a".into(),
            priority: Priority::High,
            actions: spec
                .spec
                .actions
                .iter()
                .map(|a| a.name.clone())
                .take(1)
                .collect(),
            needs_approval: true,
            reason: "rule `test` requires approval".into(),
        };
        self.put_decision(&id, &decision).await;
        id
    }

    /// [`Self::run`] of a short message, its approval requested with `token`.
    async fn requested(&self, workflow: &str, sender: &str, token: &str) -> RunId {
        self.requested_about(workflow, sender, "s", "t", token)
            .await
    }

    /// A customer's support message, its approval requested with `token`.
    async fn support_requested(&self, token: &str) -> RunId {
        self.requested(SUPPORT, "ada@customer.example", token).await
    }

    /// A supplier's invoice, its approval requested with `token`.
    async fn supplier_invoice_requested(&self, token: &str) -> RunId {
        self.requested_about(
            INVOICE,
            "supplier@vendor.example",
            "Invoice 7",
            "Pay",
            token,
        )
        .await
    }

    /// [`Self::run`], its approval requested with `token`.
    async fn requested_about(
        &self,
        workflow: &str,
        sender: &str,
        subject: &str,
        text: &str,
        token: &str,
    ) -> RunId {
        let run = self.run(workflow, sender, subject, text).await;
        self.request(&run, workflow, false, token).await;
        run
    }

    async fn request(&self, run: &RunId, workflow: &str, escalation: bool, token: &str) -> Value {
        self.request_approval(run, workflow, escalation, token)
            .await
            .unwrap()
    }

    async fn timeout(&self, run: &RunId, workflow: &str) -> ApprovalOutcome {
        let out = self
            .stage()
            .run(&ApprovalTask::Timeout {
                run_id: run.clone(),
                workflow: workflow.into(),
            })
            .await
            .unwrap();
        serde_json::from_value(out).unwrap()
    }

    /// The run has ended: the finalize stage has been through it.
    async fn finish(&self, run: &RunId, workflow: &str) {
        self.finalize()
            .run(&FinalizeInput {
                run_id: run.clone(),
                workflow: workflow.into(),
                failure: None,
            })
            .await
            .unwrap();
    }

    fn sent(&self) -> Vec<Notification> {
        self.notifier.sent.lock().unwrap().clone()
    }

    fn link_for(&self, reviewer: &str) -> String {
        self.sent()
            .into_iter()
            .rev()
            .find(|n| n.reviewer == reviewer)
            .unwrap_or_else(|| panic!("no link sent to {reviewer}"))
            .link
    }

    /// `reviewer` posts the page's form (`verdict=…`) to their link.
    async fn vote(&self, reviewer: &str, form: &str) -> HttpResponse {
        let link = self.link_for(reviewer);
        self.callback()
            .handle(&link_request("POST", &link, form))
            .await
    }

    /// `reviewer` posts `verdict` to their link as JSON.
    async fn vote_json(&self, reviewer: &str, verdict: &str) -> HttpResponse {
        let link = self.link_for(reviewer);
        self.callback()
            .handle(&json_request(&link, json!({ "verdict": verdict })))
            .await
    }

    async fn approval(&self, run: &RunId) -> Approval {
        self.store.approvals_of_run(run).await.unwrap()[0].clone()
    }

    fn answers(&self) -> Vec<(String, Result<Value, String>)> {
        self.executions.answers.lock().unwrap().clone()
    }

    /// No answer went to the waiting task and the run's approval kept no vote.
    async fn assert_no_vote_counted(&self, run: &RunId) {
        assert!(self.answers().is_empty());
        assert!(self.approval(run).await.votes.is_empty());
    }

    /// The `i`th answer sent to a waiting task, as the outcome it carries.
    fn outcome(&self, i: usize) -> ApprovalOutcome {
        serde_json::from_value(self.answers()[i].1.clone().unwrap()).unwrap()
    }

    /// The waiting task `token` stopped waiting behind the callback's back.
    fn close_task(&self, token: &str) {
        self.executions
            .answers
            .lock()
            .unwrap()
            .push((token.into(), Err("States.Timeout".into())));
    }

    fn labels(&self, workflow: &str) -> Vec<String> {
        self.catalog
            .get(workflow)
            .unwrap()
            .spec
            .reason
            .primary_labels()
    }

    /// The run's first audit event of `kind`, if it has one.
    async fn first_audit(&self, run: &RunId, kind: &str) -> Option<AuditEvent> {
        let trail = self.store.trail(run).await.unwrap();
        trail.into_iter().find(|e| e.kind == kind)
    }

    async fn in_trail(&self, run: &RunId, kind: &str) -> bool {
        self.first_audit(run, kind).await.is_some()
    }

    /// The detail of the run's first audit event of `kind`.
    async fn audited(&self, run: &RunId, kind: &str) -> Value {
        self.first_audit(run, kind)
            .await
            .unwrap_or_else(|| panic!("no {kind} in the trail"))
            .detail
    }
}

fn json_request(link: &str, body: Value) -> HttpRequest {
    let mut req = link_request("POST", link, "");
    req.headers
        .insert("content-type".into(), "application/json".into());
    req.headers
        .insert("accept".into(), "application/json".into());
    req.body = serde_json::to_vec(&body).unwrap();
    req
}

/// The status the callback answers a browser's `method` of `link` with.
async fn status_of(callback: &Callback, method: &str, link: &str, form: &str) -> u16 {
    callback
        .handle(&link_request(method, link, form))
        .await
        .status
}

fn text(resp: &HttpResponse) -> String {
    String::from_utf8(resp.body.clone()).unwrap()
}

fn with_query(link: &str, key: &str, value: &str) -> String {
    let (base, query) = link.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|kv| {
            if kv.starts_with(&format!("{key}=")) {
                format!("{key}={value}")
            } else {
                kv.to_string()
            }
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

const SUPPORT: &str = "support-triage";
const INVOICE: &str = "invoice-approval";
const LEADS: &str = "lead-qualification";
const LEAD: &str = "lead@support.example.com";
const BILLING: &str = "billing@support.example.com";
const HEAD: &str = "head-of-support@support.example.com";
const CONTROLLER: &str = "controller@finance.example.com";
const CFO: &str = "cfo@finance.example.com";
const AP_LEAD: &str = "ap-lead@finance.example.com";

#[tokio::test]
async fn request_sends_each_reviewer_only_their_own_link() {
    let bed = Bed::new();
    let run = bed
        .run(SUPPORT, "ada@customer.example", "Card lost", "Help")
        .await;
    let out = bed.request(&run, SUPPORT, false, "token-secret-1").await;
    assert_eq!(out["reviewers"], 2);

    let sent = bed.sent();
    assert_eq!(sent.len(), 2);
    for n in &sent {
        let own = format!("r={}", urlencoding::encode(&n.reviewer));
        assert!(n.link.starts_with(PUBLIC_URL), "{}", n.link);
        assert!(n.link.contains(&own), "{}", n.link);
        assert!(n.text.contains(&n.link));
        for other in sent.iter().filter(|o| o.reviewer != n.reviewer) {
            assert!(!n.text.contains(&other.link));
        }
        assert!(!n.text.contains("token-secret-1") && !n.link.contains("token-secret-1"));
    }
    let run_now = bed.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(run_now.status, RunStatus::AwaitingApproval);

    let approval = bed.approval(&run).await;
    assert_eq!(approval.required, 1);
    assert_eq!(
        approval.expires_at,
        bed.clock.now() + chrono::Duration::seconds(14400 - 60)
    );
    let requested = bed.audited(&run, "approval.requested").await;
    assert!(!requested.to_string().contains("token-secret-1"));
    assert_eq!(requested["reviewers"], json!([LEAD, BILLING]));
}

#[tokio::test]
async fn a_retried_request_creates_one_approval() {
    let bed = Bed::new();
    let run = bed.run(SUPPORT, "ada@customer.example", "s", "t").await;
    let first = bed.request(&run, SUPPORT, false, "tok").await;
    let second = bed.request(&run, SUPPORT, false, "tok").await;
    assert_eq!(first["approval_id"], second["approval_id"]);
    assert_eq!(bed.store.approvals_of_run(&run).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_request_retried_by_the_state_machine_keeps_the_approval_and_answers_the_new_token() {
    let bed = Bed::new();
    let run = bed.run(SUPPORT, "ada@customer.example", "s", "t").await;
    let first = bed.request(&run, SUPPORT, false, "tok-attempt-1").await;
    let link = bed.link_for(LEAD);
    // Each Step Functions attempt carries a fresh token.
    let second = bed.request(&run, SUPPORT, false, "tok-attempt-2").await;
    assert_eq!(first["approval_id"], second["approval_id"]);
    let approvals = bed.store.approvals_of_run(&run).await.unwrap();
    assert_eq!(approvals.len(), 1, "no orphaned pending approval");

    let resp = bed
        .callback()
        .handle(&link_request("POST", &link, "verdict=approve"))
        .await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    let answers = bed.answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, "tok-attempt-2", "the token that waits");
}

#[tokio::test]
async fn a_sender_who_reviews_gets_no_link() {
    let bed = Bed::new();
    let run = bed.run(INVOICE, CONTROLLER, "Invoice 7", "Pay me").await;
    let out = bed.request(&run, INVOICE, false, "tok").await;
    assert_eq!(out["reviewers"], 2);
    let approval = bed.approval(&run).await;
    assert_eq!(approval.reviewers, vec![CFO, AP_LEAD]);
    assert_eq!(approval.required, 2);
    assert!(bed.sent().iter().all(|n| n.reviewer != CONTROLLER));
}

#[tokio::test]
async fn too_few_reviewers_after_excluding_the_sender_waits_for_the_timeout() {
    let (file, yaml) = handoff_workflows::files()
        .iter()
        .find(|(f, _)| f.contains(INVOICE))
        .unwrap();
    let yaml = yaml.replace("required: 2", "required: 3");
    let mut catalog = handoff_workflows::catalog().clone();
    catalog.insert(Workflow::from_yaml(file, &yaml).unwrap());
    let bed = Bed::with_catalog(catalog);
    let run = bed
        .requested_about(INVOICE, CONTROLLER, "Invoice 7", "Pay me", "tok")
        .await;

    let approval = bed.approval(&run).await;
    assert_eq!(approval.required, 3, "the requirement is never lowered");
    let requested = bed.audited(&run, "approval.requested").await;
    assert!(requested["understaffed"]
        .as_str()
        .unwrap()
        .contains("time out"));
    assert_eq!(requested["sender_excluded"], true);

    let resp = bed.vote(CFO, "verdict=approve").await;
    assert_eq!(resp.status, 202, "{}", text(&resp));
    assert!(bed.answers().is_empty());
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Pending);
}

#[tokio::test]
async fn get_and_head_never_decide() {
    let bed = Bed::new();
    let run = bed
        .requested_about(SUPPORT, "ada@customer.example", "Card lost", "Help", "tok")
        .await;
    let link = bed.link_for(LEAD);
    let callback = bed.callback();

    for _ in 0..3 {
        let get = callback.handle(&link_request("GET", &link, "")).await;
        assert_eq!(get.status, 200);
        let page = text(&get);
        assert!(page.contains("Approve") && page.contains("Reject"));
        assert!(page.contains("method=\"post\""));
        assert!(page.contains("name=\"draft\""));
        assert!(page.contains("queue-a") && page.contains("62%"));
        assert!(!page.contains("<script"));
        assert_eq!(get.header("cache-control"), Some("no-store"));
        assert_eq!(get.header("referrer-policy"), Some("no-referrer"));

        let head = callback.handle(&link_request("HEAD", &link, "")).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(head.headers, get.headers);
    }
    // Even a GET carrying the form's fields decides nothing.
    let mut sneaky = link_request("GET", &link, "verdict=approve");
    sneaky.query.insert("verdict".into(), "approve".into());
    assert_eq!(callback.handle(&sneaky).await.status, 200);

    let approval = bed.approval(&run).await;
    assert_eq!(approval.status, ApprovalStatus::Pending);
    assert!(approval.votes.is_empty());
    assert!(bed.answers().is_empty());
    assert!(!bed.in_trail(&run, "approval.vote").await);
}

#[tokio::test]
async fn the_form_posts_back_to_the_signed_link() {
    let bed = Bed::new();
    bed.support_requested("tok").await;
    let link = bed.link_for(LEAD);
    let page = text(&bed.callback().handle(&link_request("GET", &link, "")).await);
    let query = link.split_once('?').unwrap().1;
    assert!(
        page.contains(&format!("action=\"?{}\"", query.replace('&', "&amp;"))),
        "{page}"
    );
}

#[tokio::test]
async fn approving_sends_the_outcome_and_records_the_vote() {
    let bed = Bed::new();
    let run = bed.support_requested("tok-approve").await;
    let resp = bed.vote(LEAD, "verdict=approve&reason=looks+right").await;
    assert_eq!(resp.status, 200, "{}", text(&resp));
    assert!(text(&resp).contains("approved"));

    let answers = bed.answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, "tok-approve");
    let outcome = bed.outcome(0);
    assert_eq!(outcome.decision, "approved");
    assert_eq!(outcome.reviewers, vec![LEAD]);
    assert_eq!(outcome.reason, "looks right");
    assert_eq!(outcome.edits, None);

    let approval = bed.approval(&run).await;
    assert_eq!(approval.status, ApprovalStatus::Approved);
    assert_eq!(approval.decided_at, Some(bed.clock.now()));
    assert!(bed.in_trail(&run, "approval.vote").await);
    assert!(bed.in_trail(&run, "approval.decided").await);
}

#[tokio::test]
async fn second_click_says_already_decided() {
    let bed = Bed::new();
    let run = bed.support_requested("tok").await;
    let callback = bed.callback();
    let link = bed.link_for(LEAD);
    assert_eq!(
        status_of(&callback, "POST", &link, "verdict=approve").await,
        200
    );

    let again = callback
        .handle(&link_request("POST", &link, "verdict=reject"))
        .await;
    assert_eq!(again.status, 409);
    let page = text(&again);
    assert!(page.contains("Already decided"));
    assert!(page.contains(LEAD), "names who decided: {page}");
    assert!(page.contains("2026-01-15 09:30 UTC"), "says when: {page}");

    let other = bed.vote_json(BILLING, "reject").await;
    assert_eq!(other.status, 409);
    let body = other.body_json().unwrap();
    assert_eq!(body["status"], "already_decided");
    assert!(body["message"].as_str().unwrap().contains(LEAD));
    assert_eq!(bed.answers().len(), 1, "one answer for the task token");
    assert_eq!(bed.approval(&run).await.votes.len(), 1);
}

#[tokio::test]
async fn expired_link_shows_expired_page() {
    let bed = Bed::new();
    let run = bed.support_requested("tok").await;
    let link = bed.link_for(LEAD);
    bed.clock.advance(link_lifetime(14400));
    let callback = bed.callback();

    let get = callback.handle(&link_request("GET", &link, "")).await;
    assert_eq!(get.status, 410);
    assert!(text(&get).contains("expired"));
    let post = callback
        .handle(&link_request("POST", &link, "verdict=approve"))
        .await;
    assert_eq!(post.status, 410);
    let json = callback
        .handle(&json_request(&link, json!({"verdict": "approve"})))
        .await;
    assert_eq!(json.status, 410);
    assert_eq!(json.body_json().unwrap()["status"], "expired");
    bed.assert_no_vote_counted(&run).await;
}

#[tokio::test]
async fn tampered_signature_is_403() {
    let bed = Bed::new();
    let run = bed.support_requested("tok").await;
    let link = bed.link_for(LEAD);
    let callback = bed.callback();

    let sig = link.rsplit_once("sig=").unwrap().1;
    let mut flipped = sig.to_string();
    let first = if flipped.starts_with('A') { "B" } else { "A" };
    flipped.replace_range(0..1, first);
    let forged = [
        with_query(&link, "sig", &flipped),
        with_query(&link, "r", &urlencoding::encode(BILLING)),
        with_query(&link, "exp", "99999999999"),
        with_query(&link, "sig", "not*base64"),
    ];
    for bad in &forged {
        for method in ["GET", "POST"] {
            let resp = callback
                .handle(&link_request(method, bad, "verdict=approve"))
                .await;
            assert_eq!(resp.status, 403, "{method} {bad}");
            assert!(!text(&resp).contains("queue-a"), "no run data leaks");
        }
    }
    let json = callback
        .handle(&json_request(&forged[0], json!({"verdict": "approve"})))
        .await;
    assert_eq!(json.body_json().unwrap()["status"], "bad_signature");

    let unsigned = link.split_once('?').unwrap().0.to_string();
    assert_eq!(status_of(&callback, "GET", &unsigned, "").await, 400);
    bed.assert_no_vote_counted(&run).await;
}

#[tokio::test]
async fn a_valid_link_for_someone_else_or_nothing_is_refused() {
    let bed = Bed::new();
    let run = bed.support_requested("tok").await;
    let approval = bed.approval(&run).await;
    let secret = Secret::new(TEST_LINK_SECRET);
    let exp = approval.expires_at.timestamp();
    let callback = bed.callback();

    let outsider = links::approval_link(PUBLIC_URL, &secret, &approval.id, "eve@x.example", exp);
    let resp = callback
        .handle(&link_request("POST", &outsider, "verdict=approve"))
        .await;
    assert_eq!(resp.status, 403);

    let nowhere = links::approval_link(PUBLIC_URL, &secret, &ApprovalId::random(), LEAD, exp);
    assert_eq!(status_of(&callback, "GET", &nowhere, "").await, 404);
    assert!(bed.answers().is_empty());
}

#[tokio::test]
async fn two_of_three_approvals_resume_the_run() {
    let bed = Bed::new();
    let run = bed.supplier_invoice_requested("tok-2of3").await;

    let first = bed.vote(CONTROLLER, "verdict=approve").await;
    assert_eq!(first.status, 202);
    assert!(text(&first).contains("waiting for 1 more"));
    assert!(bed.answers().is_empty());

    let second = bed.vote_json(CFO, "approve").await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body_json().unwrap()["status"], "approved");
    let answers = bed.answers();
    assert_eq!(answers.len(), 1);
    let outcome = bed.outcome(0);
    assert_eq!(outcome.decision, "approved");
    assert_eq!(outcome.reviewers, vec![CONTROLLER, CFO]);

    let third = bed.vote(AP_LEAD, "verdict=reject").await;
    assert_eq!(third.status, 409);
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Approved);
}

#[tokio::test]
async fn rejection_that_makes_approval_impossible_rejects() {
    let bed = Bed::new();
    let run = bed.supplier_invoice_requested("tok-reject").await;

    let first = bed.vote(CONTROLLER, "verdict=reject&reason=no+PO").await;
    assert_eq!(first.status, 202, "two approvals are still possible");
    assert!(bed.answers().is_empty());

    let second = bed.vote(CFO, "verdict=reject&reason=duplicate").await;
    assert_eq!(second.status, 200);
    let outcome = bed.outcome(0);
    assert_eq!(outcome.decision, "rejected");
    assert_eq!(outcome.reviewers, vec![CONTROLLER, CFO]);
    assert_eq!(outcome.reason, "no PO; duplicate");
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Rejected);
}

#[tokio::test]
async fn edits_are_sent_only_when_changed() {
    let bed = Bed::new();
    let labels = bed.labels(SUPPORT);

    // The same draft (as a browser sends it, CRLF) and the same label.
    bed.support_requested("tok-same").await;
    let body = format!(
        "verdict=approve&draft={}&label={}",
        urlencoding::encode("Hello,\r\nwe are on it."),
        labels[0]
    );
    let resp = bed.vote(LEAD, &body).await;
    assert_eq!(resp.status, 200);
    let outcome = bed.outcome(0);
    assert_eq!(outcome.edits, None);

    // A rewritten draft and another label.
    let run = bed
        .requested(SUPPORT, "bob@customer.example", "tok-edit")
        .await;
    let body = format!(
        "verdict=approve&draft={}&label={}",
        urlencoding::encode("Hi Bob, refund sent."),
        labels[1]
    );
    bed.vote(LEAD, &body).await;
    let outcome = bed.outcome(1);
    assert_eq!(
        outcome.edits,
        Some(json!({"draft": "Hi Bob, refund sent.", "label": labels[1]}))
    );
    let vote = bed.approval(&run).await.votes[0].clone();
    assert_eq!(vote.edits, outcome.edits);

    // A label the workflow does not have is refused and nothing is recorded.
    let run = bed
        .requested(SUPPORT, "cy@customer.example", "tok-bad")
        .await;
    let resp = bed.vote(LEAD, "verdict=approve&label=made_up").await;
    assert_eq!(resp.status, 422);
    assert!(bed.approval(&run).await.votes.is_empty());
    let resp = bed.vote(LEAD, "verdict=maybe").await;
    assert_eq!(resp.status, 422);
}

#[tokio::test]
async fn a_relabel_and_an_edited_draft_become_feedback_when_the_run_ends() {
    let bed = Bed::new();
    let labels = bed.labels(SUPPORT);
    let (predicted, corrected) = (labels[0].clone(), labels[1].clone());
    let run = bed
        .requested(SUPPORT, "bob@customer.example", "tok-feedback")
        .await;
    let body = format!(
        "verdict=approve&draft={}&label={corrected}",
        urlencoding::encode("Hi Bob, card blocked.")
    );
    let resp = bed.vote(LEAD, &body).await;
    assert_eq!(resp.status, 200, "{}", text(&resp));

    bed.finish(&run, SUPPORT).await;

    let feedback = bed.store.list_feedback(SUPPORT, 10).await.unwrap();
    assert_eq!(feedback.len(), 1, "{feedback:?}");
    let example = &feedback[0];
    assert_eq!(example.run_id, run);
    assert_eq!(example.predicted_label, predicted);
    assert_eq!(example.final_label, corrected);
    assert_eq!(example.reviewer, LEAD);
    assert_eq!(
        example.edits,
        Some(json!({"draft": "Hi Bob, card blocked.", "label": corrected}))
    );
}

#[tokio::test]
async fn a_rejection_does_not_confirm_the_ai_label_and_an_approval_does() {
    let bed = Bed::new();
    let mut runs = Vec::new();
    for (i, verdict) in ["reject", "approve"].into_iter().enumerate() {
        let run = bed
            .requested(SUPPORT, "bob@customer.example", &format!("tok-verdict-{i}"))
            .await;
        // Every reviewer gives the verdict, so the approval closes with it.
        for reviewer in bed.approval(&run).await.reviewers {
            if bed.approval(&run).await.decided_at.is_some() {
                break;
            }
            let resp = bed
                .vote(&reviewer, &format!("verdict={verdict}&reason=no"))
                .await;
            assert!(matches!(resp.status, 200 | 202), "{}", text(&resp));
        }
        bed.finish(&run, SUPPORT).await;
        runs.push(run);
    }
    let feedback = bed.store.list_feedback(SUPPORT, 10).await.unwrap();
    let confirmed: Vec<&RunId> = feedback.iter().map(|f| &f.run_id).collect();
    assert_eq!(
        confirmed,
        vec![&runs[1]],
        "only the approved run confirms its label"
    );
}

#[tokio::test]
async fn closed_task_shows_closed_page_not_500() {
    let bed = Bed::new();
    let run = bed.support_requested("tok-closed").await;
    // The execution stopped waiting (timed out, or ended) behind our back.
    bed.close_task("tok-closed");

    let resp = bed.vote(LEAD, "verdict=approve").await;
    assert_eq!(resp.status, 410);
    assert!(text(&resp).contains("closed"));

    let json = bed.vote_json(BILLING, "approve").await;
    assert!(json.status < 500, "{}", json.status);
    assert!(bed.in_trail(&run, "approval.task_closed").await);
}

#[tokio::test]
async fn html_escapes_attacker_text() {
    let bed = Bed::new();
    bed.requested_about(
        SUPPORT,
        "mallory@evil.example",
        "<script>alert('subject')</script>",
        "\"><img src=x onerror=alert(1)></textarea><script>alert(2)</script>",
        "tok",
    )
    .await;
    let page = text(
        &bed.callback()
            .handle(&link_request("GET", &bed.link_for(LEAD), ""))
            .await,
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("&lt;script&gt;alert"));
    // Every textarea the page opens (the draft, structured fields) closes
    // once: the attacker's `</textarea>` is text.
    assert_eq!(
        page.matches("</textarea>").count(),
        page.matches("<textarea").count()
    );
    assert!(page.contains("&lt;/textarea&gt;"), "{page}");
}

#[tokio::test]
async fn timeout_policies_reject_escalate_approve() {
    let bed = Bed::new();

    // reject: invoice-approval
    let run = bed.requested(INVOICE, "s@vendor.example", "tok-i").await;
    let outcome = bed.timeout(&run, INVOICE).await;
    assert_eq!(outcome.decision, "rejected");
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Expired);

    // approve: lead-qualification
    let run = bed.requested(LEADS, "s@prospect.example", "tok-l").await;
    let outcome = bed.timeout(&run, LEADS).await;
    assert_eq!(outcome.decision, "approved");
    assert_eq!(outcome.reviewers, vec![APPROVE_ON_TIMEOUT]);
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Approved);

    // escalate once, then reject: support-triage
    let run = bed.support_requested("tok-s").await;
    let first_link = bed.link_for(LEAD);
    bed.clock.advance(14400);
    let outcome = bed.timeout(&run, SUPPORT).await;
    assert_eq!(outcome.decision, "escalate");
    assert_eq!(outcome.timeout_seconds, Some(7200));
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Expired);
    let timed_out = bed.audited(&run, "approval.timed_out").await;
    assert_eq!(timed_out["policy"], "escalate");

    // The run keeps waiting while the escalation reviewer decides.
    let out = bed.request(&run, SUPPORT, true, "tok-s2").await;
    assert_eq!(out["reviewers"], 1);
    let escalated = bed.approval(&run).await;
    assert!(escalated.escalation);
    assert_eq!(escalated.reviewers, vec![HEAD]);
    assert_eq!(escalated.required, 1);
    assert_eq!(
        escalated.expires_at,
        bed.clock.now() + chrono::Duration::seconds(7200 - 60)
    );
    assert_eq!(
        bed.store.get_run(&run).await.unwrap().unwrap().status,
        RunStatus::AwaitingApproval
    );
    // The first reviewers' links no longer decide anything.
    let late = bed
        .callback()
        .handle(&link_request("POST", &first_link, "verdict=approve"))
        .await;
    assert_eq!(late.status, 410);

    let outcome = bed.timeout(&run, SUPPORT).await;
    assert_eq!(
        outcome.decision, "rejected",
        "an escalation does not escalate"
    );
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Expired);
    assert!(bed.answers().is_empty());
}

#[tokio::test]
async fn escalation_reviewer_can_approve() {
    let bed = Bed::new();
    let run = bed.support_requested("tok-1").await;
    bed.clock.advance(14400);
    bed.timeout(&run, SUPPORT).await;
    bed.request(&run, SUPPORT, true, "tok-2").await;
    let resp = bed.vote(HEAD, "verdict=approve").await;
    assert_eq!(resp.status, 200);
    assert_eq!(bed.answers()[0].0, "tok-2");
}

#[tokio::test]
async fn task_input_reads_the_state_machine_payload() {
    let task: ApprovalTask = serde_json::from_value(json!({
        "kind": "request", "run_id": "run-1", "workflow": SUPPORT,
        "escalation": false, "task_token": "t"
    }))
    .unwrap();
    assert!(matches!(
        task,
        ApprovalTask::Request {
            escalation: false,
            ..
        }
    ));
    let task: ApprovalTask = serde_json::from_value(json!({
        "kind": "timeout", "run_id": "run-1", "workflow": SUPPORT
    }))
    .unwrap();
    assert!(matches!(task, ApprovalTask::Timeout { .. }));
}

#[test]
fn links_expire_before_the_state_machine_times_out() {
    assert_eq!(link_lifetime(14400), 14400 - 60);
    assert_eq!(link_lifetime(300), 270);
    assert!(link_lifetime(5) <= 5);
}

#[tokio::test]
async fn unanswered_reviewers_are_reminded_once_before_expiry() {
    let yaml = include_str!("../../../workflows/invoice-approval.yaml").replace(
        "  on_timeout: reject\n",
        "  on_timeout: reject\n  remind_before_seconds: 3600\n",
    );
    let mut catalog = handoff_workflows::catalog().clone();
    catalog.insert(Workflow::from_yaml("invoice-approval.yaml", &yaml).unwrap());
    let bed = Bed::with_catalog(catalog);
    let run = bed
        .requested(INVOICE, "s@vendor.example", "tok-remind")
        .await;
    let voted = bed.vote(CONTROLLER, "verdict=approve").await;
    assert_eq!(voted.status, 202);
    let links_before: Vec<String> = [CFO, AP_LEAD].iter().map(|r| bed.link_for(r)).collect();
    let sent_before = bed.sent().len();

    assert_eq!(bed.stage().remind_due().await.unwrap(), 0, "not due yet");
    let approval = bed.approval(&run).await;
    let until_due = (approval.expires_at - bed.clock.now()).num_seconds() - 3600;
    bed.clock.advance(until_due - 1);
    assert_eq!(
        bed.stage().remind_due().await.unwrap(),
        0,
        "one second early"
    );
    bed.clock.advance(1);
    assert_eq!(bed.stage().remind_due().await.unwrap(), 1);

    let reminders: Vec<Notification> = bed.sent()[sent_before..].to_vec();
    let to: Vec<&str> = reminders.iter().map(|n| n.reviewer.as_str()).collect();
    assert_eq!(to, [CFO, AP_LEAD], "only those who have not answered");
    for (n, link) in reminders.iter().zip(&links_before) {
        assert!(n.subject.starts_with("Reminder: "), "{}", n.subject);
        assert_eq!(&n.link, link, "the same link, still valid");
    }
    assert_eq!(
        bed.stage().remind_due().await.unwrap(),
        0,
        "once per approval"
    );
    let reminded = bed.audited(&run, "approval.reminded").await;
    assert_eq!(reminded["reminded"], json!([CFO, AP_LEAD]));

    bed.clock.advance(3600);
    assert_eq!(
        bed.stage().remind_due().await.unwrap(),
        0,
        "not after expiry"
    );
}

const SALES_LEAD: &str = "sales-lead@sales.example.com";
const VP_SALES: &str = "vp-sales@sales.example.com";

/// Both lead reviewers reject; the second rejection settles the approval but
/// its delivery to the waiting task fails (all attempts).
async fn leads_rejected_while_delivery_fails(bed: &Bed) -> RunId {
    let run = bed.requested(LEADS, "s@prospect.example", "tok-lead").await;
    let first = bed.vote(SALES_LEAD, "verdict=reject").await;
    assert_eq!(first.status, 202, "{}", text(&first));
    *bed.executions.unavailable.lock().unwrap() = 3;
    let second = bed.vote_json(VP_SALES, "reject").await;
    assert_eq!(second.status, 503);
    let body = second.body_json().unwrap();
    assert_eq!(body["status"], "saved_not_delivered");
    assert!(
        !body["message"]
            .as_str()
            .unwrap()
            .contains("nothing was decided"),
        "{body}"
    );
    assert!(bed.answers().is_empty());
    run
}

#[tokio::test]
async fn a_timeout_after_the_reviewers_rejected_returns_their_rejection_not_the_policy() {
    let bed = Bed::new();
    let run = leads_rejected_while_delivery_fails(&bed).await;
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Rejected);

    // lead-qualification's policy is approve-on-timeout.
    let outcome = bed.timeout(&run, LEADS).await;
    assert_eq!(outcome.decision, "rejected");
    assert_eq!(outcome.reviewers, vec![SALES_LEAD, VP_SALES]);
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Rejected);
    let timed_out = bed.audited(&run, "approval.timed_out").await;
    assert_eq!(timed_out["decided_by"], "reviewers");
    // The timeout's answer was the delivery: the sweep owes nothing.
    bed.clock.advance(3600);
    let sweep = bed.callback().redeliver_due().await.unwrap();
    assert_eq!(sweep, Redelivery::default());
}

#[tokio::test]
async fn a_vote_saved_while_the_close_failed_says_so_and_the_next_click_closes_it() {
    let bed = Bed::new();
    let run = bed.support_requested("tok").await;
    *bed.store.failing_closes.lock().unwrap() = 1;
    let link = bed.link_for(LEAD);
    let first = bed
        .callback()
        .handle(&json_request(&link, json!({"verdict": "approve"})))
        .await;
    assert_eq!(first.status, 503);
    assert_eq!(first.body_json().unwrap()["status"], "saved_not_delivered");
    let approval = bed.approval(&run).await;
    assert_eq!(approval.status, ApprovalStatus::Pending);
    assert_eq!(approval.votes.len(), 1);

    let again = bed
        .callback()
        .handle(&link_request("POST", &link, "verdict=approve"))
        .await;
    assert_eq!(again.status, 200, "{}", text(&again));
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Approved);
    let answers = bed.answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].1.as_ref().unwrap()["decision"], "approved");
}

#[tokio::test]
async fn a_timeout_closes_a_tally_its_votes_settled_with_the_peoples_decision() {
    let bed = Bed::new();
    let run = bed.requested(LEADS, "s@prospect.example", "tok-lead").await;
    bed.vote(SALES_LEAD, "verdict=reject").await;
    *bed.store.failing_closes.lock().unwrap() = 1;
    let settling = bed.vote(VP_SALES, "verdict=reject").await;
    assert_eq!(settling.status, 503);
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Pending);

    let outcome = bed.timeout(&run, LEADS).await;
    assert_eq!(outcome.decision, "rejected");
    assert_eq!(bed.approval(&run).await.status, ApprovalStatus::Rejected);
}

#[tokio::test]
async fn an_undelivered_decision_is_redelivered_by_the_sweep_with_back_off() {
    let bed = Bed::new();
    let run = leads_rejected_while_delivery_fails(&bed).await;
    let callback = bed.callback();

    // Fresh decisions are left to the reviewer's own retry for a while.
    let sweep = callback.redeliver_due().await.unwrap();
    assert_eq!((sweep.delivered, sweep.owed), (0, 1));

    bed.clock.advance(31);
    *bed.executions.unavailable.lock().unwrap() = 3;
    let sweep = callback.redeliver_due().await.unwrap();
    assert_eq!((sweep.delivered, sweep.owed), (0, 1));
    assert!(bed.in_trail(&run, "approval.redelivery_failed").await);

    // The next attempt waits twice as long after a failure.
    bed.clock.advance(31);
    assert_eq!(callback.redeliver_due().await.unwrap().delivered, 0);
    bed.clock.advance(30);
    let sweep = callback.redeliver_due().await.unwrap();
    assert_eq!((sweep.delivered, sweep.owed), (1, 0));
    let answers = bed.answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, "tok-lead");
    let outcome = bed.outcome(0);
    assert_eq!(outcome.decision, "rejected");
    assert_eq!(outcome.reviewers, vec![SALES_LEAD, VP_SALES]);

    let docs = bed.metrics.documents();
    let last = docs.last().unwrap();
    assert_eq!(last["ApprovalRedeliveries"], 1.0);
    assert_eq!(last["ApprovalsUndelivered"], 0.0);
    assert!(docs.iter().any(|d| d["ApprovalsUndelivered"] == 1.0));

    bed.clock.advance(3600);
    assert_eq!(
        callback.redeliver_due().await.unwrap(),
        Redelivery::default()
    );
}

#[tokio::test]
async fn the_sweep_settles_a_decision_whose_task_stopped_waiting() {
    let bed = Bed::new();
    let run = leads_rejected_while_delivery_fails(&bed).await;
    bed.close_task("tok-lead");
    bed.clock.advance(31);
    let sweep = bed.callback().redeliver_due().await.unwrap();
    assert_eq!((sweep.closed, sweep.owed), (1, 0));
    assert!(bed.in_trail(&run, "approval.task_closed").await);
    bed.clock.advance(3600);
    assert_eq!(
        bed.callback().redeliver_due().await.unwrap(),
        Redelivery::default()
    );
}

#[tokio::test]
async fn a_link_secret_shorter_than_32_bytes_signs_nothing() {
    let bed = Bed::new();
    bed.secrets
        .values
        .lock()
        .unwrap()
        .insert(LINK_SECRET.into(), Secret::new("short-key"));
    let run = bed.run(SUPPORT, "ada@customer.example", "s", "t").await;
    let err = bed
        .request_approval(&run, SUPPORT, false, "tok")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too short"), "{err}");
    assert!(
        !err.to_string().contains("short-key"),
        "never the value: {err}"
    );
    assert!(bed.sent().is_empty(), "no link went out");
}

/// A GET or POST of a shared channel's claim link.
fn claim_request(method: &str, claim_link: &str) -> HttpRequest {
    let rest = claim_link.split_once("/approvals/").unwrap().1;
    let (path, raw_query) = rest.split_once('?').unwrap();
    let id = path.strip_suffix("/claim").unwrap();
    let reviewer = raw_query.strip_prefix("r=").unwrap();
    HttpRequest {
        method: method.into(),
        path: format!("/approvals/{id}/claim"),
        path_params: BTreeMap::from([("id".to_string(), id.to_string())]),
        query: BTreeMap::from([(
            "r".to_string(),
            urlencoding::decode(reviewer).unwrap().into_owned(),
        )]),
        raw_query: raw_query.to_string(),
        ..HttpRequest::default()
    }
}

#[tokio::test]
async fn a_shared_channel_gets_no_signed_link_and_its_button_mails_the_reviewer_theirs() {
    let bed = Bed::new();
    bed.requested_about(
        SUPPORT,
        "bob@customer.example",
        "Refund\nhttps://evil.example/approvals/x?sig=fake",
        "t",
        "tok-claim",
    )
    .await;
    let first = bed.sent()[0].clone();
    assert!(first.text.ends_with(&first.link), "the inbox gets the link");
    let sig = first.link.split("sig=").nth(1).unwrap();
    assert!(!first.shared_text.contains(sig), "{}", first.shared_text);
    assert!(!first.claim_link.contains(sig), "{}", first.claim_link);
    // The sender's subject can neither start a line nor pass for a link.
    assert!(!first.text.contains("\nhttps://evil"), "{}", first.text);
    assert!(
        first.text.contains("Refund https[:]//evil.example"),
        "{}",
        first.text
    );

    let sent = || bed.sent().len();
    let before = sent();
    let callback = bed.callback();
    let page = callback
        .handle(&claim_request("GET", &first.claim_link))
        .await;
    assert_eq!(page.status, 200);
    assert!(!text(&page).contains(sig), "the page shows no link");
    assert_eq!(sent(), before, "opening the page sends nothing");

    let done = callback
        .handle(&claim_request("POST", &first.claim_link))
        .await;
    assert_eq!(done.status, 200, "{}", text(&done));
    let mails = bed.sent()[before..].to_vec();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].reviewer, first.reviewer, "only to that reviewer");
    let link = mails[0].link.clone();
    let shown = callback.handle(&link_request("GET", &link, "")).await;
    assert_eq!(shown.status, 200, "the mailed link works: {}", text(&shown));

    let again = callback
        .handle(&claim_request("POST", &first.claim_link))
        .await;
    assert_eq!(again.status, 429, "one mail per few minutes");
    assert_eq!(sent(), before + 1);
    bed.clock.advance(301);
    let later = callback
        .handle(&claim_request("POST", &first.claim_link))
        .await;
    assert_eq!(later.status, 200);

    let stranger = first
        .claim_link
        .replace("r=", "r=mallory%40evil.example&x=");
    let refused = callback
        .handle(&claim_request("POST", &stranger.replace("&x=", "")))
        .await;
    assert_eq!(refused.status, 404, "only the approval's reviewers");

    let decided = callback
        .handle(&link_request("POST", &link, "verdict=approve&reason=ok"))
        .await;
    assert_eq!(decided.status, 200, "{}", text(&decided));
    let closed = callback
        .handle(&claim_request("POST", &first.claim_link))
        .await;
    assert_eq!(closed.status, 409);
}
