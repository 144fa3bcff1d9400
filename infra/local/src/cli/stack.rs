//! What the commands that serve or open a data dir share: the stack and
//! LLM options, the runtime, and the guard against two stacks on one data dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::adapters::Delivery;
use crate::client::Client;
use crate::models::{self, LlmSource};
use crate::sqlite::SqliteStore;
use crate::stack::{catalog_from_dir, Options, Stack};
use crate::template::Template;
use anyhow::{anyhow, bail, Context};
use clap::Args;
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
    pub(super) fn options(&self, quiet: bool) -> anyhow::Result<Options> {
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

    pub(super) fn given(&self) -> bool {
        self.llm.is_some() || self.models.is_some()
    }

    /// Puts the configured tiers into `options`; returns the start-up lines
    /// that say which tiers run and which are skipped.
    pub(super) fn configure(&self, options: &mut Options) -> anyhow::Result<Vec<String>> {
        let configured = models::configure(&self.source(), &options.catalog)?;
        options.tiers = configured.tiers;
        Ok(configured.banner)
    }
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub(super) fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HANDOFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A client of the `handoff up` at `url` that serves `data_dir`, signing
/// webhooks with that data dir's secrets.
pub(super) fn served_client(
    data_dir: &Path,
    url: &str,
    catalog: Arc<handoff_spec::Catalog>,
) -> anyhow::Result<Client> {
    let secrets = serde_json::from_str(
        &std::fs::read_to_string(data_dir.join("secrets.json"))
            .context("reading the data dir's secrets.json")?,
    )?;
    Ok(Client {
        base: url.trim_end_matches('/').to_string(),
        catalog,
        secrets,
    })
}

/// A client of the stack this process serves at `url`.
pub(super) fn own_client(stack: &Stack, url: String) -> Client {
    Client {
        base: url,
        catalog: stack.catalog.clone(),
        secrets: stack.secrets.values().clone(),
    }
}

/// The URL and pid of a live `handoff up` serving `data_dir`, if any.
pub(super) fn live_stack(data_dir: &Path) -> Option<(String, u64)> {
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

/// Binds, builds the stack on the bound address, resumes and serves.
pub(super) async fn serve(
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
    let router = crate::gateway::router(stack.clone())?;
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

/// The workflow specs in `dir`, or the built-in ones.
pub(super) fn catalog_or_builtin(dir: Option<&Path>) -> anyhow::Result<Arc<handoff_spec::Catalog>> {
    Ok(match dir {
        Some(dir) => Arc::new(catalog_from_dir(dir)?),
        None => handoff_workflows::shared(),
    })
}

/// The instant `--since AGE` (`30d`, `12h`, `2w`, …) names, back from now.
pub(super) fn since_age(
    age: Option<&str>,
) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(text) = age else {
        return Ok(None);
    };
    let age = handoff_core::observe::stats::parse_since(text)
        .ok_or_else(|| anyhow!("--since {text}: expected e.g. 30d, 12h, 2w"))?;
    Ok(Some(chrono::Utc::now() - age))
}

pub(super) fn open_store(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    let path = data_dir.join("handoff.db");
    if !path.exists() {
        bail!(
            "no runs yet: {} does not exist (start `handoff up`)",
            path.display()
        );
    }
    SqliteStore::open(&path).map_err(|e| anyhow!("{e}"))
}
