//! Slack and signed-webhook notifications as the approval Lambda sends them
//! (the channel notifier over the reqwest action sink), received by an HTTP
//! server on loopback: the Block Kit shape, one reviewer's link per message,
//! a signature that verifies, and e-mail still handed to its notifier.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use handoff_aws::http_sink::HttpActionSink;
use handoff_aws::outbound::OutboundPolicy;
use handoff_core::domain::{ApprovalId, RunId};
use handoff_core::memory::{ManualClock, RecordingNotifier, StaticSecrets};
use handoff_core::notify::ChannelNotifier;
use handoff_core::ports::{Notification, Notifier};
use handoff_core::spec::{Catalog, Workflow};
use handoff_core::trigger::hmac_hex;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const NOTIFY_SECRET: &str = "signing-key-1";

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// An HTTP/1.1 server that records each request and answers 200.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = got.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                reader.read_line(&mut line).await.unwrap();
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                let mut headers = BTreeMap::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).await.unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
                let len: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0; len];
                reader.read_exact(&mut body).await.unwrap();
                sink.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8(body).unwrap(),
                });
                let mut stream = reader.into_inner();
                stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await
                    .unwrap();
            });
        }
    });
    (url, got)
}

fn catalog(hook_url: &str) -> Catalog {
    let yaml = include_str!("../../../workflows/invoice-approval.yaml").replace(
        "  on_timeout: reject\n",
        &format!(
            "  on_timeout: reject\n  notify:\n    - email\n    - slack: {{ webhook_secret: invoice-approval/slack }}\n    - webhook: {{ url: \"{hook_url}\", secret: invoice-approval/notify }}\n"
        ),
    );
    let mut catalog = Catalog::default();
    catalog.insert(Workflow::from_yaml("invoice-approval.yaml", &yaml).unwrap());
    catalog
}

fn notification(reviewer: &str) -> Notification {
    let link = format!(
        "https://handoff.example.com/approvals/ab12?r={}&exp=1900000000&sig=sig-of-{reviewer}",
        urlencode(reviewer)
    );
    Notification {
        run_id: RunId("run-7".into()),
        approval_id: ApprovalId("ab12".into()),
        workflow: "invoice-approval".into(),
        reviewer: reviewer.into(),
        subject: "Approval needed: invoice-approval (invoice)".into(),
        text: format!(
            "a invoice-approval run needs your decision.\nSubject: <!channel> pay now\n{link}"
        ),
        link,
        shared_text: "a invoice-approval run needs your decision.\nSubject: <!channel> pay now"
            .into(),
        claim_link: format!(
            "https://handoff.example.com/approvals/{}/claim?r={reviewer}",
            "ab".repeat(16)
        ),
        reminder: false,
        private: false,
    }
}

/// The notifier as the approval Lambda builds it, with the webhook channel
/// at the receiver on `url`, the channels' `secrets`, and e-mail recorded.
/// The receiver is on loopback over plain http: the local runtime's opt-in.
fn notifier(url: &str, email: Arc<RecordingNotifier>, secrets: &[(&str, &str)]) -> ChannelNotifier {
    let policy = OutboundPolicy::default()
        .allowing_http()
        .allowing_private_host("127.0.0.1");
    ChannelNotifier {
        catalog: Arc::new(catalog(&format!("{url}/hooks/approvals"))),
        email,
        sink: Arc::new(HttpActionSink::new(policy, None).unwrap()),
        secrets: Arc::new(StaticSecrets::with(secrets)),
        clock: Arc::new(ManualClock::at("2026-01-15T09:30:00Z")),
    }
}

fn urlencode(s: &str) -> String {
    s.replace('@', "%40")
}

#[tokio::test]
async fn slack_and_webhook_reach_a_loopback_server_per_reviewer() {
    let (url, got) = receiver().await;
    let email = Arc::new(RecordingNotifier::default());
    let slack_url = format!("{url}/services/T0/B0/x");
    let secrets = [
        ("invoice-approval/slack", slack_url.as_str()),
        ("invoice-approval/notify", NOTIFY_SECRET),
    ];
    let notifier = notifier(&url, email.clone(), &secrets);
    let reviewers = ["controller@finance.example.com", "cfo@finance.example.com"];
    for r in reviewers {
        notifier.notify(&notification(r)).await.unwrap();
    }

    let got = got.lock().unwrap().clone();
    let slack: Vec<&Received> = got
        .iter()
        .filter(|r| r.path == "/services/T0/B0/x")
        .collect();
    let hooks: Vec<&Received> = got
        .iter()
        .filter(|r| r.path == "/hooks/approvals")
        .collect();
    assert_eq!(slack.len(), 2, "{got:?}");
    assert_eq!(hooks.len(), 2, "{got:?}");
    assert_eq!(email.sent.lock().unwrap().len(), 2, "e-mail still goes out");

    for (message, reviewer) in slack.iter().zip(reviewers) {
        let m: Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(message.headers["content-type"], "application/json");
        assert_eq!(m["blocks"][0]["type"], "section");
        let section = m["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(section.contains("&lt;!channel&gt;"), "{section}");
        let button = &m["blocks"][1]["elements"][0];
        assert_eq!(button["type"], "button");
        assert_eq!(button["url"], notification(reviewer).claim_link.as_str());
        assert!(
            !message.body.contains("sig-of-"),
            "a shared channel holds no signed link: {}",
            message.body
        );
    }

    for (hook, reviewer) in hooks.iter().zip(reviewers) {
        let ts = &hook.headers["x-handoff-timestamp"];
        assert_eq!(ts, "1768469400");
        let expected = format!(
            "v1={}",
            hmac_hex(NOTIFY_SECRET, format!("{ts}.{}", hook.body).as_bytes())
        );
        assert_eq!(hook.headers["x-handoff-signature"], expected);
        let event: Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(event["type"], "approval.requested");
        assert_eq!(event["reviewer"], reviewer);
        assert_eq!(event["link"], notification(reviewer).claim_link.as_str());
        assert!(!hook.body.contains("sig-of-"), "{}", hook.body);
        assert!(hook.headers["idempotency-key"].starts_with("run-7:notify:ab12:webhook:"));
    }
}

#[tokio::test]
async fn a_failed_channel_does_not_hide_a_delivered_one() {
    let (url, got) = receiver().await;
    let email = Arc::new(RecordingNotifier::default());
    // The Slack secret is missing: that channel fails, the others deliver.
    let secrets = [("invoice-approval/notify", NOTIFY_SECRET)];
    let notifier = notifier(&url, email.clone(), &secrets);
    notifier
        .notify(&notification("cfo@finance.example.com"))
        .await
        .unwrap();
    assert_eq!(got.lock().unwrap().len(), 1, "the webhook went out");
    assert_eq!(email.sent.lock().unwrap().len(), 1);
}
