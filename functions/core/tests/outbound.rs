//! What the act stage lets out: values from the webhook stay inside their
//! URL segment and Slack text, and e-mail reaches an address from the
//! webhook only with a reviewer's approval or the spec's allow-list.

use crate::support::*;
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_core::stages::StageError;
use handoff_spec::Workflow;
use serde_json::json;

const WORKFLOW: &str = "outbound";

/// A workflow with the reply, ticket and card actions and `extra` top-level
/// YAML.
fn harness(extra: &str) -> Harness {
    let rules = "rules:\n  - { name: checked, when: \"false\", route: desk, approval: true, actions: [reply, ticket, card] }";
    let h = Harness::with_workflow(
        WORKFLOW,
        "{ text: $.text, sender: $.sender, ticket: $.ticket }",
        &format!("{extra}\n{rules}\nactions:\n{REPLY}{TICKET}{CARD}"),
    );
    h.secrets
        .values
        .lock()
        .unwrap()
        .insert("outbound/slack".into(), Secret::new(SLACK_URL));
    h
}

const REPLY: &str =
    "  - { name: reply, type: email, to: \"{{ event.sender }}\", subject: Hi, body: Thanks }\n";
const TICKET: &str = "  - { name: ticket, type: http, method: PUT, url: \"https://desk.example.com/api/tickets/{{ event.ticket }}.json\", headers: { X-Ticket: \"{{ event.ticket }}\" }, body: '{}' }\n";
const CARD: &str = "  - { name: card, type: slack, webhook_secret: outbound/slack, text: \"*New ticket* <https://desk.example.com|open> {{ event.text }}\" }\n";
/// The Slack incoming-webhook URL: a credential, so it lives in a secret.
const SLACK_URL: &str = "https://hooks.slack.example.com/services/T/B/x";

/// A run whose event has these fields, decided to perform `actions`.
async fn decided(h: &Harness, id: &str, fields: serde_json::Value, actions: &[&str]) -> RunRef {
    let now = Clock::now(h.clock.as_ref());
    let run = seed::running(id, WORKFLOW, None, now);
    h.store_run(&run, serde_json::from_value(fields).unwrap(), json!({}))
        .await;
    h.put_decision(&run.id, &seed::decision("checked", actions))
        .await;
    RunRef {
        run_id: run.id,
        workflow: WORKFLOW.into(),
    }
}

/// Acts on a run whose event has these fields, decided to perform `action`:
/// what was sent, or why acting failed.
async fn act_on(
    h: &Harness,
    id: &str,
    fields: serde_json::Value,
    action: &str,
) -> Result<Vec<ActionRequest>, StageError> {
    let run = decided(h, id, fields, &[action]).await;
    h.act().run(&run).await?;
    Ok(performed(h))
}

fn performed(h: &Harness) -> Vec<ActionRequest> {
    h.sink.performed.lock().unwrap().clone()
}

async fn approve(h: &Harness, run: &RunRef) {
    let now = Clock::now(h.clock.as_ref());
    h.store
        .put_approval(&Approval {
            id: ApprovalId("ap-1".into()),
            run_id: run.run_id.clone(),
            workflow: WORKFLOW.into(),
            task_token: "token".into(),
            reviewers: vec!["a@example.com".into()],
            required: 1,
            status: ApprovalStatus::Approved,
            escalation: false,
            created_at: now,
            expires_at: now,
            votes: vec![Vote {
                reviewer: "a@example.com".into(),
                verdict: Verdict::Approve,
                reason: String::new(),
                edits: None,
                at: now,
            }],
            decided_at: Some(now),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_ticket_id_from_the_webhook_stays_in_its_path_segment() {
    let h = harness("");
    let ticket = json!({ "text": "t", "ticket": "../admin?x=1" });
    let sent = act_on(&h, "run-path", ticket, "ticket").await.unwrap();
    assert_eq!(
        sent[0].target,
        "https://desk.example.com/api/tickets/..%2Fadmin%3Fx%3D1.json"
    );
    assert_eq!(sent[0].headers["x-ticket"], "../admin?x=1");
}

#[tokio::test]
async fn a_url_or_header_value_the_event_lacks_fails_the_action_instead_of_rendering_empty() {
    let h = harness("");
    let err = act_on(&h, "run-missing", json!({ "text": "t" }), "ticket")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("actions.ticket."), "{err}");
    assert!(err.to_string().contains("undefined"), "{err}");
    assert!(performed(&h).is_empty());
}

#[tokio::test]
async fn slack_action_text_from_the_webhook_cannot_mention_the_channel() {
    let h = harness("");
    let text = json!({ "text": "<!channel> refund & <https://evil.example|bank>", "ticket": "1" });
    let sent = act_on(&h, "run-slack", text, "card").await.unwrap();
    assert_eq!(sent[0].target, SLACK_URL, "posted to the secret's URL");
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(
        body["text"],
        "*New ticket* <https://desk.example.com|open> &lt;!channel&gt; refund &amp; &lt;https://evil.example|bank&gt;"
    );
}

#[tokio::test]
async fn without_approval_an_email_from_the_webhook_goes_to_allow_listed_addresses_only() {
    let h = harness("outbound: { allowed_recipients: [customers.example] }");
    let refused = json!({ "text": "t", "sender": "victim@elsewhere.example" });
    let err = act_on(&h, "run-mail-refused", refused, "reply")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("allowed_recipients"), "{err}");
    assert!(performed(&h).is_empty());

    let listed = json!({ "text": "t", "sender": "ana@eu.customers.example" });
    let sent = act_on(&h, "run-mail-listed", listed, "reply")
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, "ana@eu.customers.example");
}

#[tokio::test]
async fn an_email_to_any_address_is_sent_once_a_reviewer_approved_the_run() {
    let h = harness("");
    let sender = json!({ "text": "t", "sender": "someone@anywhere.example" });
    let run = decided(&h, "run-mail-approved", sender, &["reply"]).await;
    let err = h.act().run(&run).await.unwrap_err();
    assert!(err.to_string().contains("no reviewer approved"), "{err}");
    approve(&h, &run).await;
    h.act().run(&run).await.unwrap();
    assert_eq!(performed(&h)[0].target, "someone@anywhere.example");
}

#[test]
fn a_slack_webhook_url_in_the_spec_is_refused_with_where_it_goes() {
    let yaml = format!(
        "name: x\nversion: 1\ntrigger: {{ signature: {{ scheme: github, secret: x/webhook }}, fields: {{ text: $.text }} }}\n\
         reason: [{{ name: intent, kind: classify, labels: [{{ name: a, description: A, examples: [a] }}, {{ name: b, description: B, examples: [b] }}] }}]\n\
         rules: [{{ name: all, when: \"true\", route: desk, actions: [card] }}]\n\
         actions:\n  - {{ name: card, type: slack, url: \"{SLACK_URL}\", text: hi }}\n"
    );
    let err = Workflow::from_yaml("workflows/x.yaml", &yaml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("webhook_secret"), "{err}");
    assert!(err.contains("credential"), "{err}");
}
