//! `handoff up`, `run`, `runs`, `show`, `demo` and `secrets`: the local
//! stack served from the template, and the commands that look into it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use handoff_core::domain::{RunId, RunStatus};
use handoff_core::ports::Runs;
use handoff_local::adapters::Delivery;
use handoff_local::client::{self, Client};
use handoff_local::models::{self, LlmSource};
use handoff_local::pages::{self, run_view, RunView};
use handoff_local::sqlite::SqliteStore;
use handoff_local::stack::{catalog_from_dir, Options, Stack};
use handoff_local::template::Template;
use serde_json::{json, Value};

#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// Where the database, secrets and state live.
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
    /// The SAM template (default: template.yaml here or in a parent directory).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// Load workflow specs from this directory instead of the built-in ones.
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    /// Deliver actions to the URLs the workflows name.
    #[arg(long)]
    pub deliver: bool,
    /// Deliver actions to this base URL (keeping each action's path).
    #[arg(long, value_name = "URL")]
    pub actions_to: Option<String>,
    /// Render and record every action in the audit trail, send none
    /// (what `dry_run: true` in a spec does for one workflow).
    #[arg(long)]
    pub dry_run: bool,
}

impl StackArgs {
    fn options(&self, quiet: bool) -> anyhow::Result<Options> {
        let template = match &self.template {
            Some(path) => Template::load(path)?,
            None => Template::discover(&std::env::current_dir()?)?,
        };
        let mut options = Options::new(&self.data_dir, template);
        if let Some(dir) = &self.workflows {
            options.catalog = Arc::new(catalog_from_dir(dir)?);
        }
        options.delivery = match (&self.actions_to, self.deliver) {
            (Some(base), _) => Delivery::To(base.clone()),
            (None, true) => Delivery::AsWritten,
            (None, false) => Delivery::Record,
        };
        options.quiet = quiet;
        options.dry_run = self.dry_run;
        Ok(options)
    }
}

/// The LLM tiers next to the embedded one (`up` and `run`).
#[derive(Debug, Args, Clone)]
pub struct LlmArgs {
    /// An OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1) that
    /// serves every LLM tier the loaded workflows name (fast, strong, …).
    #[arg(long, value_name = "URL", conflicts_with = "models")]
    pub llm: Option<String>,
    /// The model `--llm` asks for.
    #[arg(long, value_name = "NAME", default_value = "default", requires = "llm")]
    pub llm_model: String,
    /// The environment variable holding `--llm`'s API key (none is sent without it).
    #[arg(long, value_name = "VAR", requires = "llm")]
    pub llm_key_env: Option<String>,
    /// A models configuration (YAML or JSON): tier name → provider, model,
    /// endpoint, api_key_env, … (see infra/local/README.md).
    #[arg(long, value_name = "FILE")]
    pub models: Option<PathBuf>,
}

impl LlmArgs {
    pub(super) fn source(&self) -> LlmSource {
        match (&self.llm, &self.models) {
            (Some(url), _) => LlmSource::Url {
                url: url.clone(),
                model: self.llm_model.clone(),
                key_env: self.llm_key_env.clone(),
            },
            (None, Some(path)) => LlmSource::File(path.clone()),
            (None, None) => LlmSource::None,
        }
    }

    fn given(&self) -> bool {
        self.llm.is_some() || self.models.is_some()
    }

    /// Puts the configured tiers into `options`; returns the start-up lines
    /// that say which tiers run and which are skipped.
    fn configure(&self, options: &mut Options) -> anyhow::Result<Vec<String>> {
        let configured = models::configure(&self.source(), &options.catalog)?;
        options.tiers = configured.tiers;
        Ok(configured.banner)
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Once up, play the events/ samples of every workflow through the stack.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow the event is for (default: the event's own).
    #[arg(long)]
    pub workflow: Option<String>,
    /// An API Gateway webhook event (as in events/) or a bare JSON payload.
    pub event: PathBuf,
    /// Approve when the run asks for approval.
    #[arg(long, conflicts_with = "reject")]
    pub approve: bool,
    /// Reject when the run asks for approval.
    #[arg(long)]
    pub reject: bool,
    /// Print a machine-readable summary instead of the timeline.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub workflow: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The failed run.
    pub run_id: String,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub run_id: String,
    #[arg(long)]
    pub json: bool,
    /// Print each LLM call's prompt and answer (sensitive values redacted).
    #[arg(long)]
    pub traces: bool,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The running stack (default: the one `handoff up` recorded in the data dir).
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
    /// Leave approvals waiting instead of approving them.
    #[arg(long)]
    pub no_approve: bool,
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HANDOFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The URL and pid of a live `handoff up` serving `data_dir`, if any.
fn live_stack(data_dir: &Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(data_dir.join("up.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let pid = v["pid"].as_u64().unwrap_or(0);
    let alive = pid != 0
        && pid != u64::from(std::process::id())
        && Path::new(&format!("/proc/{pid}")).exists();
    alive.then(|| (v["url"].as_str().unwrap_or_default().to_string(), pid))
}

/// Two processes resuming the same executions would run their tasks twice.
fn refuse_if_served(data_dir: &Path) -> anyhow::Result<()> {
    if let Some((url, pid)) = live_stack(data_dir) {
        bail!(
            "handoff (pid {pid}) already serves {} at {url}; use `handoff demo`, stop it, or pass another --data-dir",
            data_dir.display(),
        );
    }
    Ok(())
}

/// `handoff run` against the `handoff up` already serving the data dir.
async fn run_remote(
    url: &str,
    args: &RunArgs,
    workflow: &str,
    payload: &Value,
    verdict: Option<&str>,
) -> anyhow::Result<i32> {
    let secrets = serde_json::from_str(
        &std::fs::read_to_string(args.stack.data_dir.join("secrets.json"))
            .context("reading the data dir's secrets.json")?,
    )?;
    let catalog = match &args.stack.workflows {
        Some(dir) => Arc::new(catalog_from_dir(dir)?),
        None => handoff_workflows::shared(),
    };
    let client = Client {
        base: url.trim_end_matches('/').to_string(),
        catalog,
        secrets,
    };
    let started = Instant::now();
    let (status, body) = client
        .webhook(workflow, payload, Some(&format!("cli-{}", uuid_like())))
        .await?;
    if status >= 300 {
        bail!("the webhook was refused: {status} {body}");
    }
    let run_id = body["run_id"].as_str().unwrap_or_default().to_string();
    let mut status = client
        .wait_for(&run_id, Duration::from_secs(60), |s| {
            s == "AWAITING_APPROVAL" || is_final(s)
        })
        .await?;
    if let (true, Some(v)) = (status == "AWAITING_APPROVAL", verdict) {
        client
            .decide_when_notified(&run_id, v, Duration::from_secs(10))
            .await?;
        status = client
            .wait_for(&run_id, Duration::from_secs(60), is_final)
            .await?;
    }
    let run = client.run(&run_id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        println!("run {run_id}  workflow {workflow}  status {status}  (served by {url})");
        println!(
            "{:<12} {:<10} {:<28} {:>10}",
            "at", "stage", "event", "duration"
        );
        for e in run["audit"].as_array().into_iter().flatten() {
            let at = e["at"].as_str().unwrap_or_default();
            println!(
                "{:<12} {:<10} {:<28} {:>10}",
                at.get(11..23).unwrap_or(at),
                e["stage"].as_str().unwrap_or_default(),
                e["kind"].as_str().unwrap_or_default(),
                e["detail"]["duration_ms"]
                    .as_f64()
                    .map(|d| format!("{d:.1} ms"))
                    .unwrap_or_default()
            );
        }
        println!(
            "\n{status} in {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(if status == "FAILED" { 1 } else { 0 })
}

/// Binds, builds the stack on the bound address, resumes and serves.
async fn serve(
    options: Options,
    port: u16,
) -> anyhow::Result<(Arc<Stack>, SocketAddr, tokio::task::JoinHandle<()>, usize)> {
    refuse_if_served(&options.data_dir)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port} (is another `handoff up` running?)"))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let data_dir = options.data_dir.clone();
    let stack = Stack::build(options, &url)?;
    let router = handoff_local::gateway::router(stack.clone())?;
    let resumed = stack.run_background().await?;
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server stopped: {e}");
        }
    });
    std::fs::write(
        data_dir.join("up.json"),
        serde_json::to_string_pretty(&json!({ "url": url, "pid": std::process::id() }))?,
    )?;
    Ok((stack, addr, server, resumed))
}

pub fn up(args: UpArgs) -> anyhow::Result<i32> {
    init_logs();
    let mut options = args.stack.options(false)?;
    let models = args.llm.configure(&mut options)?;
    let data_dir = args.stack.data_dir.clone();
    runtime()?.block_on(async move {
        let (stack, addr, server, resumed) = serve(options, args.port).await?;
        let url = format!("http://{addr}");
        let t = &stack.template;
        println!("handoff is up: {url}/");
        if let Some(link) = stack.login.link(&url) {
            println!("  login       {link}");
            println!("              (one sign-in; `handoff token --operator` mints more)");
        }
        println!("  dashboard   {url}/");
        println!("  outbox      {url}/outbox");
        for r in &t.routes {
            let note = if r.method == "GET" && r.path == "/" {
                " (the local dashboard serves this page)"
            } else {
                ""
            };
            println!("  {:<6} {url}{}  → {}{note}", r.method, r.path, r.function);
        }
        println!(
            "  state machine {} ({}), queue: visibility {} s, dead-letter after {} receives",
            t.state_machine.logical_id,
            t.state_machine.definition_uri,
            t.queue.visibility_timeout_seconds,
            t.queue.max_receive_count
        );
        println!(
            "  data in {}, secrets in {} (`handoff secrets` prints them)",
            data_dir.display(),
            stack.secrets.path.display()
        );
        for line in &models {
            println!("  {line}");
        }
        if resumed > 0 {
            println!("  resumed {resumed} running execution(s)");
        }
        println!("Open the login link above — Ctrl-C stops.");
        let _ = std::io::stdout().flush();
        if args.demo {
            let client = Client {
                base: url.clone(),
                catalog: stack.catalog.clone(),
                secrets: stack.secrets.values().clone(),
            };
            let stack = stack.clone();
            tokio::spawn(async move {
                if let Err(e) = play_demo(&client, true).await {
                    eprintln!("demo failed: {e:#}");
                } else {
                    println!("\nDemo done: open {}/ to see the runs.", stack.public_url);
                }
                let _ = std::io::stdout().flush();
            });
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = server => {}
        }
        Ok(0)
    })
}

/// Plays the samples, approves what waits (unless told not to) and prints
/// where each run ended.
async fn play_demo(client: &Client, approve: bool) -> anyhow::Result<()> {
    let stamp = chrono::Utc::now().timestamp_millis();
    let mut runs = Vec::new();
    for (i, (workflow, payload)) in client::samples().into_iter().enumerate() {
        let delivery = format!("demo-{stamp}-{i}");
        let (status, body) = client.webhook(&workflow, &payload, Some(&delivery)).await?;
        if status >= 300 {
            bail!("webhook for {workflow}: {status} {body}");
        }
        let run_id = body["run_id"].as_str().unwrap_or_default().to_string();
        println!("webhook  {workflow:<20} → {status} run {run_id}");
        runs.push((workflow, run_id));
    }
    for (workflow, run_id) in &runs {
        let status = client
            .wait_for(run_id, Duration::from_secs(30), |s| {
                s == "AWAITING_APPROVAL" || is_final(s)
            })
            .await?;
        let status = if status == "AWAITING_APPROVAL" && approve {
            let n = client
                .decide_when_notified(run_id, "approve", Duration::from_secs(10))
                .await?;
            println!("approved {workflow:<20}   run {run_id} ({n} reviewer link(s) POSTed)");
            client
                .wait_for(run_id, Duration::from_secs(30), is_final)
                .await?
        } else {
            status
        };
        println!(
            "finished {workflow:<20}   run {run_id}: {status}  {}/timeline/{run_id}",
            client.base
        );
    }
    Ok(())
}

fn is_final(s: &str) -> bool {
    matches!(s, "COMPLETED" | "REJECTED" | "FAILED")
}

pub fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let url = match args.url {
        Some(u) => u,
        None => {
            let path = args.data_dir.join("up.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "{} not found: start `handoff up` first or pass --url",
                    path.display()
                )
            })?;
            let v: Value = serde_json::from_str(&text)?;
            v["url"].as_str().unwrap_or_default().to_string()
        }
    };
    let secrets: std::collections::BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(args.data_dir.join("secrets.json"))
            .context("reading the data dir's secrets.json")?,
    )?;
    let client = Client {
        base: url.trim_end_matches('/').to_string(),
        catalog: handoff_workflows::shared(),
        secrets,
    };
    runtime()?.block_on(play_demo(&client, !args.no_approve))?;
    println!("Open {}/", client.base);
    Ok(0)
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    init_logs();
    let text = std::fs::read_to_string(&args.event)
        .with_context(|| format!("reading {}", args.event.display()))?;
    let event: Value = serde_json::from_str(&text).context("the event is not JSON")?;
    let (sample_workflow, payload) = match client::sample_payload(&event) {
        Some((w, p)) => (Some(w), p),
        None => (None, event),
    };
    let workflow = args
        .workflow
        .clone()
        .or(sample_workflow)
        .ok_or_else(|| anyhow!("--workflow is required for a bare payload"))?;
    let mut options = args.stack.options(true)?;
    let verdict = match (args.approve, args.reject) {
        (true, _) => Some("approve"),
        (_, true) => Some("reject"),
        _ => None,
    };
    if let Some((url, _)) = live_stack(&args.stack.data_dir) {
        if args.llm.given() {
            eprintln!(
                "note: --llm / --models do not apply: the `handoff up` at {url} runs this event \
                 with the models it was started with"
            );
        }
        return runtime()?.block_on(run_remote(&url, &args, &workflow, &payload, verdict));
    }
    // On stderr, so that `--json` keeps stdout to the summary.
    for line in args.llm.configure(&mut options)? {
        eprintln!("{line}");
    }
    runtime()?.block_on(async move {
        let (stack, addr, _server, _) = serve(options, 0).await?;
        let client = Client {
            base: format!("http://{addr}"),
            catalog: stack.catalog.clone(),
            secrets: stack.secrets.values().clone(),
        };
        let started = Instant::now();
        let delivery = format!("cli-{}", uuid_like());
        let (status, body) = client.webhook(&workflow, &payload, Some(&delivery)).await?;
        if status >= 300 {
            bail!("the webhook was refused: {status} {body}");
        }
        let run_id = body["run_id"].as_str().unwrap_or_default().to_string();
        let mut status = client
            .wait_for(&run_id, Duration::from_secs(60), |s| {
                s == "AWAITING_APPROVAL" || is_final(s)
            })
            .await?;
        if status == "AWAITING_APPROVAL" {
            if let Some(v) = verdict {
                client
                    .decide_when_notified(&run_id, v, Duration::from_secs(10))
                    .await?;
                status = client
                    .wait_for(&run_id, Duration::from_secs(60), is_final)
                    .await?;
            }
        }
        // Let the execution record its end before reading the timeline.
        wait_execution_end(&stack, &run_id, Duration::from_secs(5)).await;
        let view = run_view(&stack, &run_id)
            .await
            .map_err(|e| anyhow!(e))?
            .ok_or_else(|| anyhow!("run {run_id} vanished"))?;
        let links = if status == "AWAITING_APPROVAL" {
            client.approval_links(&run_id).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        if args.json {
            let mut summary = summary_json(&view);
            summary["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
            summary["approval_links"] = json!(links);
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print_view(&view);
            if !links.is_empty() {
                println!(
                    "\nWaiting for approval. `handoff up --data-dir {}` serves these links:",
                    args.stack.data_dir.display()
                );
                for l in &links {
                    println!("  {l}");
                }
            }
            println!(
                "\n{status} in {:.0} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        Ok(if status == "FAILED" { 1 } else { 0 })
    })
}

pub fn redrive(args: RedriveArgs) -> anyhow::Result<i32> {
    init_logs();
    let options = args.stack.options(true)?;
    runtime()?.block_on(async move {
        let (stack, _, _server, _) = serve(options, 0).await?;
        let run_id = RunId(args.run_id.clone());
        let redriven = handoff_local::redrive::redrive(&stack, &run_id).await?;
        println!(
            "started execution {} from {}",
            redriven.execution,
            redriven.from.as_str()
        );
        let started = Instant::now();
        let status = loop {
            let status = stack
                .store
                .get_run(&run_id)
                .await?
                .map_or(RunStatus::Failed, |r| r.status);
            if status.is_final()
                || status == RunStatus::AwaitingApproval
                || started.elapsed() > Duration::from_secs(60)
            {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        println!("{run_id}: {}", status.as_str());
        Ok(if status == RunStatus::Failed { 1 } else { 0 })
    })
}

async fn wait_execution_end(stack: &Stack, run_id: &str, timeout: Duration) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        match stack.executions.execution_status(run_id).await {
            Ok(Some(status)) if status != "RUNNING" => return,
            Ok(None) => return,
            _ => {}
        }
        let run = stack.store.get_run(&RunId(run_id.to_string())).await;
        if matches!(run, Ok(Some(r)) if r.status == RunStatus::AwaitingApproval) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn uuid_like() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn summary_json(view: &RunView) -> Value {
    json!({
        "run_id": view.run.id,
        "workflow": view.run.workflow,
        "status": view.run.status.as_str(),
        "execution": view.execution_status,
        "stages": view.rows.iter().map(|r| json!({
            "at": r.at, "stage": r.stage, "event": r.what, "duration_ms": r.duration_ms,
        })).collect::<Vec<_>>(),
        "ai": view.ai,
        "decision": view.decision,
        "approvals": view.approvals.iter().map(|a| json!({
            "id": a.id.to_string(), "status": format!("{:?}", a.status),
            "votes": a.votes.iter().map(|v| json!({"reviewer": v.reviewer, "verdict": format!("{:?}", v.verdict)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "actions": view.actions,
    })
}

fn llm_calls(view: &RunView) -> impl Iterator<Item = &pages::TimelineRow> {
    view.rows.iter().filter(|r| r.what == "llm.call")
}

/// One line per call; with `traces`, the prompt and the answer after it.
fn print_llm_call(d: &Value, traces: bool) {
    let s = |key: &str| d[key].as_str().unwrap_or("").to_string();
    println!(
        "LLM {} via {} ({}): {}",
        s("task"),
        s("tier"),
        s("model"),
        s("outcome")
    );
    if traces {
        println!("  system: {}", s("system"));
        for turn in d["turns"].as_array().into_iter().flatten() {
            println!(
                "  {}: {}",
                turn["role"].as_str().unwrap_or(""),
                turn["text"].as_str().unwrap_or("")
            );
        }
        println!("  answer: {}", d["answer"]);
    }
}

fn print_view(view: &RunView) {
    let r = &view.run;
    println!(
        "run {}  workflow {}  status {}",
        r.id,
        r.workflow,
        r.status.as_str()
    );
    println!(
        "{:<12} {:<10} {:<28} {:>10}",
        "at", "stage", "event", "duration"
    );
    for row in &view.rows {
        println!(
            "{:<12} {:<10} {:<28} {:>10}",
            row.at.format("%H:%M:%S%.3f"),
            row.stage,
            row.what,
            row.duration_ms
                .map(|d| format!("{d:.1} ms"))
                .unwrap_or_default()
        );
    }
    if let Some(Value::Object(ai)) = &view.ai {
        // One line per task: `ai.<task>` and the tier that answered.
        for (task, out) in ai
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "needs_review" | "review_reasons"))
        {
            let tier = out["tier"].as_str().unwrap_or("-");
            let what = if let Some(label) = out["label"].as_str() {
                format!("{label} ({})", out["confidence"])
            } else if let Some(text) = out["text"].as_str() {
                let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let cut: String = line.chars().take(60).collect();
                if cut.len() < line.len() {
                    format!("{cut}…")
                } else {
                    cut
                }
            } else {
                out.to_string()
            };
            println!("AI {task}: {what}  [{tier}]");
        }
    }
    if let Some(d) = &view.decision {
        println!(
            "decision: route {} priority {} approval {}",
            d["route"], d["priority"], d["needs_approval"]
        );
    }
    for a in &view.approvals {
        println!(
            "approval {} {:?} ({} vote(s))",
            a.id,
            a.status,
            a.votes.len()
        );
    }
    for a in &view.actions {
        println!(
            "action {}: {}",
            a["name"].as_str().unwrap_or("?"),
            if a["succeeded"] == true {
                "ok"
            } else if a["dry_run"] == true {
                "dry run, not sent"
            } else {
                "failed"
            }
        );
    }
}

fn open_store(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    let path = data_dir.join("handoff.db");
    if !path.exists() {
        bail!(
            "no runs yet: {} does not exist (start `handoff up`)",
            path.display()
        );
    }
    SqliteStore::open(&path).map_err(|e| anyhow!("{e}"))
}

pub fn runs(args: RunsArgs) -> anyhow::Result<i32> {
    let store = open_store(&args.data_dir)?;
    let status = match &args.status {
        Some(s) => Some(RunStatus::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
            let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
            anyhow!("unknown status {s}; one of {}", known.join(", "))
        })?),
        None => None,
    };
    let runs = runtime()?
        .block_on(handoff_local::store::all_runs(
            &store,
            status,
            args.limit.max(1),
        ))
        .map_err(|e| anyhow!(e))?;
    println!(
        "{:<38} {:<20} {:<18} {:<9} {:<18} created",
        "run", "workflow", "status", "stage", "label"
    );
    for r in runs
        .iter()
        .filter(|r| args.workflow.as_ref().is_none_or(|w| &r.workflow == w))
    {
        println!(
            "{:<38} {:<20} {:<18} {:<9} {:<18} {}",
            r.id,
            r.workflow,
            r.status.as_str(),
            r.stage.as_str(),
            r.summary.label.clone().unwrap_or_default(),
            r.created_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(0)
}

pub fn show(args: ShowArgs) -> anyhow::Result<i32> {
    open_store(&args.stack.data_dir)?;
    let options = args.stack.options(true)?;
    let stack = Stack::build(options, "http://127.0.0.1")?;
    let view = runtime()?
        .block_on(run_view(&stack, &args.run_id))
        .map_err(|e| anyhow!(e))?;
    let Some(view) = view else {
        eprintln!("no run {}", args.run_id);
        return Ok(1);
    };
    if args.json {
        let mut json = summary_json(&view);
        json["llm_calls"] = llm_calls(&view).map(|row| row.detail.clone()).collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_view(&view);
        for row in llm_calls(&view) {
            print_llm_call(&row.detail, args.traces);
        }
        if !args.traces && llm_calls(&view).next().is_some() {
            println!("(--traces prints each call's prompt and answer)");
        }
    }
    Ok(0)
}

pub fn secrets(args: SecretsArgs) -> anyhow::Result<i32> {
    let path = args.data_dir.join("secrets.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} not found: `handoff up` creates it", path.display()))?;
    println!("# {}", path.display());
    println!("{text}");
    Ok(0)
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds of load per intake target.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Runs for the end-to-end measurement.
    #[arg(long, default_value_t = 8000)]
    pub runs: usize,
    #[arg(long)]
    pub template: Option<PathBuf>,
}

pub fn bench(args: BenchArgs) -> anyhow::Result<i32> {
    init_logs();
    let template = match &args.template {
        Some(path) => Template::load(path)?,
        None => Template::discover(&std::env::current_dir()?)?,
    };
    if cfg!(debug_assertions) {
        println!("note: a debug build; `cargo run --profile local -p handoff-local -- bench` measures what users get");
    }
    runtime()?.block_on(handoff_local::bench::run(
        handoff_local::bench::BenchOptions {
            seconds: args.seconds,
            connections: args.connections,
            runs: args.runs,
            template,
        },
    ))?;
    Ok(0)
}
