//! Blind audits: a run that acts alone is sampled at the spec's audit rate,
//! its auditor gets a private link to a page without the AI's label or
//! confidence, and the label they give is a verdict the autonomy bound
//! counts. A forged, repeated or foreign link records nothing.

use std::collections::BTreeMap;

use crate::support::*;
use handoff_core::domain::*;
use handoff_core::http::HttpRequest;
use handoff_core::observe::review;
use handoff_core::ports::*;
use handoff_core::stages::approval::ApprovalTask;
use handoff_core::stages::decide::sampled_for_audit;
use serde_json::{json, Value};

const AUDITORS: [&str; 2] = ["lead@support.example.com", "billing@support.example.com"];

fn with_autonomy(audit_rate: f64) -> handoff_core::spec::Workflow {
    shipped_with(
        "support-triage",
        "    review_below: 0.35\n",
        &format!("    review_below: 0.35\n    autonomy: {{target_error: 0.05, min_samples: 1, audit_rate: {audit_rate}}}\n"),
    )
}

fn acting_alone(needs_approval: bool) -> Decision {
    Decision {
        rule: Some("card-trouble".into()),
        route: "cards-team".into(),
        priority: Priority::Urgent,
        actions: vec![],
        needs_approval,
        reason: "rule".into(),
    }
}

#[test]
fn only_runs_acting_alone_are_sampled_at_the_audit_rate() {
    let audited = with_autonomy(0.05);
    assert!(sampled_for_audit(&acting_alone(false), &audited, 0.01));
    assert!(!sampled_for_audit(&acting_alone(false), &audited, 0.05));
    assert!(
        !sampled_for_audit(&acting_alone(true), &audited, 0.0),
        "a person sees it anyway"
    );
    let plain = handoff_workflows::catalog().get("support-triage").unwrap();
    assert!(
        !sampled_for_audit(&acting_alone(false), plain, 0.0),
        "no autonomy, no audit"
    );
}

/// A support-triage run that acted alone with `label` at 0.93.
/// The support workflow's feedback: what reviewers and auditors taught it.
async fn feedback(h: &Harness) -> Vec<Feedback> {
    h.store.list_feedback("support-triage", 10).await.unwrap()
}

async fn acted_alone(h: &Harness, label: &str) -> RunId {
    let run = h
        .seed_run_with_text(
            "webhook-support-triage.json",
            "The chip on my card stopped working",
        )
        .await;
    let workflow = h.catalog.get("support-triage").unwrap();
    let ai = ai_result(workflow, label, 0.93, None);
    h.store
        .put_slot(&run.run_id, &Slot::Ai, &ai.to_value())
        .await
        .unwrap();
    run.run_id
}

#[tokio::test]
async fn the_auditor_labels_blind_and_the_label_counts_as_a_verdict() {
    let h = Harness::new();
    let run = acted_alone(&h, "card_problem").await;
    let out = h
        .approval()
        .run(&ApprovalTask::Audit {
            run_id: run.clone(),
            workflow: "support-triage".into(),
        })
        .await
        .unwrap();
    assert_eq!(out["audit"], "requested");

    let sent = h.notifier.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    assert!(n.private, "only to the auditor's own address");
    assert!(AUDITORS.contains(&n.reviewer.as_str()));
    assert!(n.link.contains(&format!("/audits/{run}?")), "{}", n.link);
    for hidden in ["card_problem", "93"] {
        assert!(
            !n.text.contains(hidden) && !n.subject.contains(hidden),
            "{}",
            n.text
        );
    }

    // The page shows the message and every label, none chosen, and
    // nothing of what the AI said.
    let page = h.callback().handle(&link_request("GET", &n.link, "")).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("The chip on my card stopped working"));
    for label in ["card_problem", "refund_request", "account_access"] {
        assert!(html.contains(&format!("value=\"{label}\"")), "{label}");
    }
    for hidden in [
        "checked",
        "onfidence",
        "93%",
        "0.93",
        "close to the examples",
        "embedded",
        "cards-team",
    ] {
        assert!(!html.contains(hidden), "the page shows `{hidden}`");
    }
    assert!(feedback(&h).await.is_empty());

    // A forged signature and an unknown label record nothing.
    let forged = n.link.replace("sig=", "sig=x");
    let refused = h
        .callback()
        .handle(&link_request("POST", &forged, "label=card_problem"))
        .await;
    assert_eq!(refused.status, 403);
    let refused = h
        .callback()
        .handle(&link_request("POST", &n.link, "label=lottery"))
        .await;
    assert_eq!(refused.status, 422);
    assert!(feedback(&h).await.is_empty());

    // The auditor disagrees with the AI.
    let answered = h
        .callback()
        .handle(&link_request("POST", &n.link, "label=account_access"))
        .await;
    assert_eq!(
        answered.status,
        200,
        "{}",
        String::from_utf8_lossy(&answered.body)
    );
    let feedback = feedback(&h).await;
    assert_eq!(feedback.len(), 1);
    assert_eq!(feedback[0].predicted_label, "card_problem");
    assert_eq!(feedback[0].final_label, "account_access");
    assert_eq!(feedback[0].reviewer, n.reviewer);
    assert!(feedback[0].teaches());
    let kinds: Vec<String> = h
        .store
        .trail(&run)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"audit.requested".into()) && kinds.contains(&"audit.verdict".into()));

    // Once only; and the page now says what they answered.
    let again = h
        .callback()
        .handle(&link_request("POST", &n.link, "label=card_problem"))
        .await;
    assert_eq!(again.status, 409);
    let page = h.callback().handle(&link_request("GET", &n.link, "")).await;
    assert!(String::from_utf8(page.body)
        .unwrap()
        .contains("You labelled it “account_access”"));

    // The verdict is evidence against the label's autonomy.
    let workflow = with_autonomy(0.05);
    let review = &review::run(h.store.as_ref(), &[&workflow], h.clock.now(), 7)
        .await
        .unwrap()[0];
    let card = &review.autonomy["card_problem"];
    assert_eq!((card.samples, card.errors), (1, 1));
}

#[tokio::test]
async fn an_audit_link_opens_no_approval_and_a_retry_sends_the_same_audit() {
    let h = Harness::new();
    let run = acted_alone(&h, "card_problem").await;
    let task = ApprovalTask::Audit {
        run_id: run.clone(),
        workflow: "support-triage".into(),
    };
    h.approval().run(&task).await.unwrap();
    h.approval().run(&task).await.unwrap();
    let sent = h.notifier.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].reviewer, sent[1].reviewer, "one auditor per run");
    assert_eq!(sent[0].link, sent[1].link);

    // The same signature on the approval route: not a capability there.
    let approval_link = sent[0].link.replace("/audits/", "/approvals/");
    let (path, query) = approval_link.split_once('?').unwrap();
    let id = path.rsplit('/').next().unwrap();
    let req = HttpRequest {
        method: "POST".into(),
        path: format!("/approvals/{id}"),
        path_params: BTreeMap::from([("id".to_string(), id.to_string())]),
        query: query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), urlencoding::decode(v).unwrap().into_owned())
            })
            .collect(),
        raw_query: query.into(),
        headers: BTreeMap::from([("accept".to_string(), "application/json".to_string())]),
        body: b"verdict=approve".to_vec(),
    };
    let refused = h.callback().handle(&req).await;
    assert_eq!(
        refused.status,
        403,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let body: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["status"], json!("bad_signature"));
}
