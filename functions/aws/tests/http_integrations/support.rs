use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use handoff_aws::outbound::OutboundPolicy;
use handoff_core::domain::*;
use handoff_core::ports::{AuditLog, Clock, Secret};
use handoff_core::testing::{seed, Harness};
use serde_json::{json, Value};

/// One request a server got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// What the server answers.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<u64>,
    pub delay: Duration,
    pub location: Option<String>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::json(status, json!({ "status": status }))
    }

    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            retry_after: None,
            delay: Duration::ZERO,
            location: None,
        }
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// An HTTP server on loopback that records every request and answers as
/// `script` says, given the request and how many came to its path before.
pub struct Server {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Server {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (log, script) = (log.clone(), script.clone());
            async move {
                let request = Seen {
                    // Percent-decoded as far as the tests need (e-mail addresses).
                    path: uri.path().replace("%40", "@"),
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let before = {
                    let mut log = log.lock().unwrap();
                    let n = log.iter().filter(|s| s.path == request.path).count();
                    log.push(request.clone());
                    n
                };
                let reply = script(&request, before);
                if !reply.delay.is_zero() {
                    tokio::time::sleep(reply.delay).await;
                }
                let mut out = HeaderMap::new();
                out.insert("content-type", HeaderValue::from_static("application/json"));
                if let Some(to) = &reply.location {
                    out.insert("location", HeaderValue::from_str(to).unwrap());
                }
                if let Some(secs) = reply.retry_after {
                    out.insert("retry-after", HeaderValue::from(secs));
                }
                (StatusCode::from_u16(reply.status).unwrap(), out, reply.body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url, seen }
    }

    pub fn hits(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

pub const WORKFLOW: &str = "integration";
pub const OUTBOUND_SECRET: &str = "outbound-signing-key";
pub const CRM_TOKEN: &str = "crm-api-token";

/// The spec's opt-in that lets the test servers on loopback be called.
pub const LOOPBACK_OPT_IN: &str = "outbound: { allow_private_hosts: [127.0.0.1] }";

/// What the local runtime gives the adapters: plain http allowed, private
/// addresses only for the hosts the specs name.
pub fn local_policy(h: &Harness) -> OutboundPolicy {
    OutboundPolicy::for_catalog(&h.catalog).allowing_http()
}

/// A workflow with the given `context` and `actions` sections (YAML), one
/// catch-all rule that performs `rule_actions`, and its secrets. The spec
/// allows the loopback servers unless `extra` has an `outbound` section.
pub fn harness(context: &str, actions: &str, rule_actions: &[&str], extra: &str) -> Harness {
    let extra = if extra.contains("outbound:") {
        extra.to_string()
    } else {
        format!("{extra}\n{LOOPBACK_OPT_IN}")
    };
    let sections = format!(
        r#"
{extra}
context:
{context}
rules:
  - {{ name: all, when: "true", route: desk, actions: {rule_actions:?} }}
actions:
{actions}
"#
    );
    let h = Harness::with_workflow(WORKFLOW, "{ text: $.text, sender: $.sender }", &sections);
    let mut secrets = h.secrets.values.lock().unwrap();
    secrets.insert("integration/outbound".into(), Secret::new(OUTBOUND_SECRET));
    secrets.insert("integration/crm".into(), Secret::new(CRM_TOKEN));
    drop(secrets);
    h
}

/// Stores a run of [`WORKFLOW`] from `sender`, as ingest would.
pub async fn seed_run(h: &Harness, id: &str, sender: &str) -> RunRef {
    let run = seed::running(id, WORKFLOW, Some(sender), h.clock.now());
    let fields = BTreeMap::from([
        ("text".to_string(), json!("please refund order 1234")),
        ("sender".to_string(), json!(sender)),
    ]);
    h.store_run(&run, fields, json!({})).await;
    RunRef {
        run_id: run.id,
        workflow: WORKFLOW.into(),
    }
}

/// The run's audit events of one kind, their detail.
pub async fn audit_of(h: &Harness, run: &RunRef, kind: &str) -> Vec<Value> {
    h.store
        .trail(&run.run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.detail)
        .collect()
}
