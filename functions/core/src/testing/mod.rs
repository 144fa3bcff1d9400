//! For tests of this crate and of the function crates: a run store, queue
//! and engine in memory, every stage built on them, and the events/ samples
//! loaded as requests. Enabled by the `testing` feature.

pub mod approval_request;
pub mod fixtures;
pub mod read_back;
pub mod seed;
pub mod staged;
pub mod store_contract;
pub mod workflow;

use std::collections::BTreeMap;
use std::sync::Arc;

use handoff_core::domain::*;
use handoff_core::http::HttpRequest;
use handoff_core::memory::*;
use handoff_core::model::Tiers;
use handoff_core::pages::console::Console;
use handoff_core::ports::{RunData, Slot, StoreThenQueue};
use handoff_core::stages::{
    act::Act, context::LoadContext, decide::Decide, finalize::Finalize, ingest::Ingest,
    reason::Reason, starter::Starter,
};
use handoff_core::stages::{approval::ApprovalTasks, callback::Callback, read::ReadApi};
use handoff_spec::Catalog;

/// The secret the samples in events/ are signed with (events/README.md).
pub const TEST_SECRET: &str = "handoff-test-secret";
/// The harness's approval-link key (a signing key: 32 bytes or more).
pub const TEST_LINK_SECRET: &str = "handoff-test-link-key-of-32-bytes+";
/// The harness's reviewer-token key, apart from the link key.
pub const TEST_TOKEN_SECRET: &str = "handoff-test-token-key-of-32-bytes";
/// The reviewer-token secret's name in the harness and the template.
pub const TOKEN_SECRET: &str = "reviewer-tokens";
/// The run id the stage samples in events/ refer to.
pub const SAMPLE_RUN_ID: &str = "run-0f8fad5bd9cb469fa16570867728950e";
/// The time the samples were signed at.
pub const SIGNED_AT: &str = "2026-01-15T09:30:00Z";

pub struct Harness {
    pub catalog: Arc<Catalog>,
    pub store: Arc<MemoryStore>,
    pub queue: Arc<MemoryQueue>,
    pub executions: Arc<MemoryExecutions>,
    pub sink: Arc<RecordingSink>,
    pub secrets: Arc<StaticSecrets>,
    pub clock: Arc<ManualClock>,
    /// The model tiers; embedded only unless a test adds LLM tiers.
    pub tiers: Tiers,
    pub notifier: Arc<RecordingNotifier>,
    /// HTTP context lookups; none by default (the seed workflows make none).
    pub fetcher: Arc<dyn handoff_core::ports::Fetcher>,
    /// `Act::dry_run`, the process-wide override.
    pub dry_run: bool,
    pub metrics: Arc<RecordingMetrics>,
    pub documents: Arc<MemoryDocuments>,
    /// Reads scans; none by default, so a scan goes to a reviewer.
    pub ocr: Arc<dyn handoff_core::ports::Ocr>,
}

/// The approval-link secret's name in the harness, and the links' base URL.
pub const LINK_SECRET: &str = "approval-links";
pub const PUBLIC_URL: &str = "https://handoff.example.com";

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        let secret_names = [
            "support-triage/webhook",
            "support-triage/outbound",
            "lead-qualification/webhook",
            "invoice-approval/webhook",
            "invoice-approval/outbound",
            "customer-onboarding/webhook",
            "customer-onboarding/outbound",
            "revops-call-followup/webhook",
        ];
        let mut pairs: Vec<(&str, &str)> = secret_names.iter().map(|n| (*n, TEST_SECRET)).collect();
        pairs.push((LINK_SECRET, TEST_LINK_SECRET));
        pairs.push((TOKEN_SECRET, TEST_TOKEN_SECRET));
        let catalog = handoff_workflows::catalog().clone();
        // Slack actions' incoming-webhook URLs, which live in secrets.
        let slack: Vec<(String, String)> = catalog
            .names()
            .filter_map(|n| catalog.get(n))
            .flat_map(|w| &w.spec.actions)
            .filter_map(|a| match &a.connector {
                handoff_spec::Connector::Slack { webhook_secret, .. } => Some((
                    webhook_secret.clone(),
                    format!("https://hooks.slack.example.com/services/test/{}", a.name),
                )),
                _ => None,
            })
            .collect();
        pairs.extend(slack.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Self {
            catalog: Arc::new(catalog),
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::default()),
            executions: Arc::new(MemoryExecutions::default()),
            sink: Arc::new(RecordingSink::default()),
            secrets: Arc::new(StaticSecrets::with(&pairs)),
            clock: Arc::new(ManualClock::at(SIGNED_AT)),
            tiers: Tiers::embedded_only(),
            notifier: Arc::new(RecordingNotifier::default()),
            fetcher: Arc::new(handoff_core::ports::NoFetcher),
            dry_run: false,
            metrics: Arc::new(RecordingMetrics::default()),
            documents: Arc::new(MemoryDocuments::default()),
            ocr: Arc::new(handoff_core::ports::NoOcr),
        }
    }

    pub fn ingest(&self) -> Ingest {
        Ingest {
            catalog: self.catalog.clone(),
            intake: Arc::new(StoreThenQueue {
                store: self.store.clone(),
                queue: self.queue.clone(),
            }),
            store: self.store.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            documents: self.documents.clone(),
            fetcher: self.fetcher.clone(),
        }
    }

    pub fn starter(&self) -> Starter {
        Starter {
            store: self.store.clone(),
            executions: self.executions.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
        }
    }

    pub fn context(&self) -> LoadContext {
        LoadContext {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            fetcher: self.fetcher.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            documents: self.documents.clone(),
            ocr: self.ocr.clone(),
        }
    }

    pub fn reason(&self) -> Reason {
        Reason {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            documents: self.documents.clone(),
            tiers: self.tiers.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
        }
    }

    pub fn decide(&self) -> Decide {
        Decide {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
        }
    }

    pub fn act(&self) -> Act {
        Act {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            sink: self.sink.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            dry_run: self.dry_run,
        }
    }

    pub fn approval(&self) -> ApprovalTasks {
        ApprovalTasks {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            notifier: self.notifier.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            link_secret: LINK_SECRET.into(),
            public_url: PUBLIC_URL.into(),
        }
    }

    pub fn callback(&self) -> Callback {
        Callback {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            executions: self.executions.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            link_secret: LINK_SECRET.into(),
            email: self.notifier.clone(),
            documents: self.documents.clone(),
            public_url: PUBLIC_URL.into(),
        }
    }

    pub fn read_api(&self) -> ReadApi {
        ReadApi {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            secrets: self.secrets.clone(),
            clock: self.clock.clone(),
            token_secret: TOKEN_SECRET.into(),
            executions: self.executions.clone(),
            console: Console::DEPLOYED,
        }
    }

    /// A reviewer token for `reviewer` with `scopes`, valid for an hour
    /// from the harness clock.
    pub fn token_for(&self, reviewer: &str, scopes: &[handoff_core::tokens::Scope]) -> String {
        let key = handoff_core::ports::Secret::new(TEST_TOKEN_SECRET);
        let now = handoff_core::ports::Clock::now(self.clock.as_ref());
        handoff_core::tokens::issue(&key, reviewer, scopes, now, 3600)
            .expect("a valid token")
            .0
    }

    pub fn finalize(&self) -> Finalize {
        Finalize {
            store: self.store.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// Ingests a sample webhook and starts its run; returns the run ref.
    pub async fn accept(&self, sample: &str) -> RunRef {
        let response = self.ingest().handle(&sample_request(sample)).await;
        assert_eq!(
            response.status,
            202,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        let message = self
            .queue
            .messages
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("enqueued");
        self.starter().start(&message).await.expect("started");
        RunRef {
            run_id: message.run_id,
            workflow: message.workflow,
        }
    }

    /// The AI step's stored result of a run that has been through it.
    pub async fn stored_ai(&self, run: &RunId) -> AiResult {
        let slot = self
            .store
            .get_slot(run, &Slot::Ai)
            .await
            .unwrap()
            .expect("the AI step has run");
        serde_json::from_value(slot).expect("a stored AI result")
    }
}

impl Harness {
    /// Stores the run the stage samples refer to, with the event of a
    /// webhook sample, as ingest would have (status `RUNNING`).
    pub async fn seed_sample_run(&self, webhook_sample: &str) -> RunRef {
        self.seed_run_with(webhook_sample, None).await
    }

    /// [`Self::seed_sample_run`] with the canonical `text` replaced.
    pub async fn seed_run_with_text(&self, webhook_sample: &str, text: &str) -> RunRef {
        self.seed_run_with(webhook_sample, Some(text)).await
    }

    /// Another run of the sample's event (`text` replaced if given), under
    /// its own run id and delivery id: the `n`th delivery after the sample's.
    pub async fn seed_next_run(&self, webhook_sample: &str, n: u32, text: Option<&str>) -> RunRef {
        let id = RunId(format!("run-{n:032x}"));
        self.seed_run_as(webhook_sample, text, id, &format!("sample-{n}"))
            .await
    }

    async fn seed_run_with(&self, webhook_sample: &str, text: Option<&str>) -> RunRef {
        self.seed_run_as(webhook_sample, text, RunId(SAMPLE_RUN_ID.into()), "sample")
            .await
    }

    async fn seed_run_as(
        &self,
        webhook_sample: &str,
        text: Option<&str>,
        id: RunId,
        delivery_id: &str,
    ) -> RunRef {
        let req = sample_request(webhook_sample);
        let name = req.path_params["workflow"].clone();
        let workflow = self.catalog.get(&name).expect("sample names a workflow");
        let payload = handoff_core::trigger::parse_body(
            &workflow.spec.trigger,
            req.header("content-type"),
            &req.body,
        )
        .unwrap()
        .payload;
        let mut fields =
            handoff_core::trigger::map_fields(&workflow.spec.trigger, &payload).unwrap();
        if let Some(text) = text {
            fields.insert("text".into(), serde_json::json!(text));
        }
        let now = handoff_core::ports::Clock::now(self.clock.as_ref());
        let run = Run {
            status: RunStatus::Running,
            stage: Stage::Start,
            ..Run::received(id.clone(), &name, delivery_id, &fields, now)
        };
        self.store_run(&run, fields, payload).await;
        RunRef {
            run_id: id,
            workflow: name,
        }
    }
}

/// A JSON sample from events/, parsed as the type its function receives.
pub fn sample<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&repo_file(&format!("events/{name}")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

pub fn repo_file(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An API Gateway v2 sample from events/ as a plain request.
pub fn sample_request(name: &str) -> HttpRequest {
    let event: serde_json::Value =
        serde_json::from_str(&repo_file(&format!("events/{name}"))).unwrap();
    let strings = |v: &serde_json::Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.to_ascii_lowercase(),
                            v.as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut path_params = BTreeMap::new();
    if let Some(p) = event["pathParameters"].as_object() {
        for (k, v) in p {
            path_params.insert(k.clone(), v.as_str().unwrap().to_string());
        }
    }
    HttpRequest {
        method: event["requestContext"]["http"]["method"]
            .as_str()
            .unwrap()
            .to_string(),
        path: event["rawPath"].as_str().unwrap().to_string(),
        path_params,
        query: strings(&event["queryStringParameters"]),
        raw_query: event["rawQueryString"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        headers: strings(&event["headers"]),
        body: event["body"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    }
}

/// A reviewed-looking AI result for `workflow`: its primary classify task
/// answered with `label`, its first draft task with `draft`.
pub fn ai_result(
    workflow: &handoff_spec::Workflow,
    label: &str,
    confidence: f64,
    draft: Option<&str>,
) -> handoff_core::domain::AiResult {
    let reason = &workflow.spec.reason;
    let mut ai = handoff_core::domain::AiResult::default();
    if let Some((task, _)) = reason.primary() {
        ai.outputs.insert(
            task.name.clone(),
            serde_json::json!({
                "label": label, "confidence": confidence,
                "rationale": "close to the examples", "tier": "embedded",
            }),
        );
    }
    if let (Some(task), Some(text)) = (reason.first_draft(), draft) {
        ai.outputs.insert(
            task.name.clone(),
            serde_json::json!({ "text": text, "tier": "template" }),
        );
    }
    ai
}

/// The primary classify task's first label.
pub fn first_label(workflow: &handoff_spec::Workflow) -> String {
    workflow.spec.reason.primary_labels().remove(0)
}

/// Gives a shipped workflow a per-run token budget in the harness's catalog.
pub fn set_run_budget(h: &mut Harness, workflow: &str, tokens: u64) {
    set_budget(h, workflow, |b| b.run_tokens = Some(tokens));
}

/// Gives a shipped workflow a daily token budget in the harness's catalog.
pub fn set_daily_budget(h: &mut Harness, workflow: &str, tokens: u64) {
    set_budget(h, workflow, |b| b.daily_tokens = Some(tokens));
}

/// Sets how long a shipped workflow reuses billed answers (0: never).
pub fn set_cache_ttl(h: &mut Harness, workflow: &str, seconds: u64) {
    set_budget(h, workflow, |b| b.cache_ttl_seconds = seconds);
}

/// Reloads the shipped workflow's file with its `budget:` changed (and the
/// other budget settings kept), so the spec loader reads them as written.
fn set_budget(h: &mut Harness, workflow: &str, change: impl FnOnce(&mut handoff_spec::BudgetSpec)) {
    let mut budget = h
        .catalog
        .get(workflow)
        .expect("a shipped workflow")
        .spec
        .budget
        .clone();
    change(&mut budget);
    let (file, text) = handoff_workflows::files()
        .iter()
        .find(|(file, _)| file.ends_with(&format!("{workflow}.yaml")))
        .expect("a shipped workflow");
    // JSON is YAML's flow style.
    let budget = serde_json::to_string(&budget).expect("a budget serialises");
    let text = format!("{text}\nbudget: {budget}\n");
    let spec = handoff_spec::Workflow::from_yaml(file, &text).expect("the budget loads");
    let mut catalog = (*h.catalog).clone();
    catalog.insert(spec);
    h.catalog = Arc::new(catalog);
}

/// A shipped workflow's spec with `from` replaced by `to` in its file (once;
/// `from` must be there), loaded as the spec loader reads it.
pub fn shipped_with(workflow: &str, from: &str, to: &str) -> handoff_spec::Workflow {
    let (file, text) = handoff_workflows::files()
        .iter()
        .find(|(file, _)| file.ends_with(&format!("{workflow}.yaml")))
        .expect("a shipped workflow");
    assert!(text.contains(from), "{file} has `{from}`");
    handoff_spec::Workflow::from_yaml(file, &text.replacen(from, to, 1)).expect("the spec loads")
}

/// The request a browser sends for a signed link (`…/approvals/{id}?…` or
/// `…/audits/{run}?…`), a form body with POST.
pub fn link_request(method: &str, link: &str, body: &str) -> HttpRequest {
    let (route, rest) = ["approvals", "audits"]
        .iter()
        .find_map(|route| {
            link.split_once(&format!("/{route}/"))
                .map(|(_, rest)| (*route, rest))
        })
        .expect("an approval or audit link");
    let (id, raw_query) = rest.split_once('?').unwrap_or((rest, ""));
    let query = raw_query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), urlencoding::decode(v).unwrap().into_owned())
        })
        .collect();
    let mut headers = std::collections::BTreeMap::new();
    if method == "POST" {
        headers.insert(
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        );
    }
    HttpRequest {
        method: method.into(),
        path: format!("/{route}/{id}"),
        path_params: std::collections::BTreeMap::from([("id".to_string(), id.to_string())]),
        query,
        raw_query: raw_query.into(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// A log writer for tests: what a formatter wrote, as text or as the JSON
/// object of each line.
#[derive(Clone, Default)]
pub struct LogLines(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogLines {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("log lines are UTF-8")
    }

    pub fn json(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
            .collect()
    }
}
