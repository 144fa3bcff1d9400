//! Reviewer notifications on every channel a spec lists, through the real
//! `handoff` binary to a receiver on loopback: one Slack message per reviewer
//! (a section and a button to the claim page, no signed link), one signed
//! webhook per reviewer whose signature verifies, the console/outbox e-mail
//! stand-in, and a Slack button that mails the reviewer the link they
//! decide with.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const SLACK_PATH: &str = "/services/T0/B0/reviewers";
const HOOK_PATH: &str = "/hooks/approval";
const REVIEWERS: [&str; 2] = ["lead@support.example.com", "billing@support.example.com"];

fn specs_with_channels() -> Scratch {
    let specs = temp_dir("specs-notify");
    for entry in std::fs::read_dir(repo_root().join("workflows")).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == "support-triage.yaml" {
            let anchor = "  escalation_timeout_seconds: 7200\n";
            assert!(text.contains(anchor));
            text = text.replace(
                anchor,
                &format!(
                    "{anchor}  notify:\n    - email\n    - slack: {{ webhook_secret: support-triage/slack }}\n    - webhook: {{ url: \"https://approvals.example.com{HOOK_PATH}\", secret: support-triage/notify }}\n"
                ),
            );
        }
        std::fs::write(specs.join(path.file_name().unwrap()), text).unwrap();
    }
    specs
}

fn reviewer_of(link: &str) -> String {
    let query = link.split_once('?').unwrap().1;
    let r = query.split('&').find_map(|p| p.strip_prefix("r=")).unwrap();
    urlencoding::decode(r).unwrap().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_channels_get_claim_links_and_only_the_inbox_gets_signed_links() {
    let receiver = Receiver::start().await;
    let dir = temp_dir("notify");
    // A Slack incoming-webhook URL is a credential: it lives in the secrets.
    std::fs::write(
        dir.join("secrets.json"),
        serde_json::json!({
            "support-triage/slack": format!("https://hooks.slack.example.com{SLACK_PATH}")
        })
        .to_string(),
    )
    .unwrap();
    let mut options = UpOptions::new(&dir);
    options.actions_to = Some(receiver.url.clone());
    options.workflows_in(specs_with_channels());
    let up = Up::start(&options);
    let client = up.client();
    let run_id = support_run_awaiting_approval(&client, "e2e-notify").await;

    let start = Instant::now();
    let (slack, hooks) = loop {
        let got = receiver.for_run(&run_id);
        let on = |path: &str| {
            got.iter()
                .filter(|r| r.path == path)
                .cloned()
                .collect::<Vec<_>>()
        };
        let (slack, hooks) = (on(SLACK_PATH), on(HOOK_PATH));
        if slack.len() >= 2 && hooks.len() >= 2 {
            break (slack, hooks);
        }
        assert!(start.elapsed() < WAIT, "notifications received: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(slack.len(), 2, "one Slack message per reviewer");
    assert_eq!(hooks.len(), 2, "one webhook per reviewer");

    // The e-mail stand-in (console and outbox) still carries each link.
    let outbox_links: BTreeMap<String, String> = client
        .approval_links(&run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (reviewer_of(&l), l))
        .collect();
    assert_eq!(outbox_links.len(), 2, "{outbox_links:?}");
    assert!(REVIEWERS.iter().all(|r| outbox_links.contains_key(*r)));

    // A channel is shared: its button is the claim page, never a signed link.
    let mut claim_links = BTreeMap::new();
    for message in &slack {
        let m: Value = message.json();
        assert_eq!(m["blocks"][0]["type"], "section", "{m}");
        assert_eq!(m["blocks"][0]["text"]["type"], "mrkdwn");
        let button = &m["blocks"][1]["elements"][0];
        assert_eq!(m["blocks"][1]["type"], "actions");
        assert_eq!(button["type"], "button");
        let link = button["url"].as_str().unwrap().to_string();
        assert!(link.contains("/claim?r="), "{link}");
        let reviewer = reviewer_of(&link);
        for own_link in outbox_links.values() {
            let sig = own_link.split("sig=").nth(1).unwrap();
            assert!(
                !message.body.contains(sig),
                "the channel got a signed link: {}",
                message.body
            );
        }
        claim_links.insert(reviewer, link);
    }
    assert_eq!(claim_links.len(), 2, "two different reviewers");

    let secret = up.secret("support-triage/notify");
    for hook in &hooks {
        assert!(
            hook.signature_valid(&secret),
            "the webhook signature verifies"
        );
        assert!(!hook.signature_valid("another-secret"));
        let event = hook.json();
        assert_eq!(event["type"], "approval.requested");
        assert_eq!(event["run_id"], run_id.as_str());
        let reviewer = event["reviewer"].as_str().unwrap();
        assert_eq!(event["link"], claim_links[reviewer].as_str());
        let sig = outbox_links[reviewer].split("sig=").nth(1).unwrap();
        assert!(!hook.body.contains(sig), "{}", hook.body);
    }

    // The reviewer follows the Slack button: their link arrives by e-mail
    // (the outbox locally), and they decide with it.
    let claim = &claim_links[REVIEWERS[0]];
    let builder = hyper::Request::builder().method("POST");
    let (status, body) = handoff_local::adapters::http_call(claim, builder, Vec::new())
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let mailed = client.approval_links(&run_id).await.unwrap();
    let mine: Vec<&String> = mailed
        .iter()
        .filter(|l| reviewer_of(l) == REVIEWERS[0])
        .collect();
    assert_eq!(
        mine.len(),
        2,
        "the first mail and the claimed one: {mailed:?}"
    );
    let (status, body) = handoff_local::client::decide(mine[0], "approve", "from Slack")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let status = client
        .wait_for(&run_id, WAIT, |s| s == "COMPLETED" || s == "FAILED")
        .await
        .unwrap();
    assert_eq!(status, "COMPLETED");
}
