//! The whole local stack wired from the template: the SQLite store, the
//! intake queue, the engine host and every stage, built on the same core
//! code the Lambdas run, with local adapters in place of AWS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use handoff_aws::http_fetch::HttpFetcher;
use handoff_aws::http_sink::HttpActionSink;
use handoff_aws::outbound::OutboundPolicy;
use handoff_core::model::{EmbeddedModel, Tiers};
use handoff_core::notify::ChannelNotifier;
use handoff_core::ports::{Clock, DocumentStore, Fetcher, NoMetrics, Notifier, SystemClock};
use handoff_core::roles::{role_of, Role};
use handoff_core::stages::{
    act::Act, approval::ApprovalTasks, callback::Callback, context::LoadContext, decide::Decide,
    finalize::Finalize, ingest::Ingest, read::ReadApi, reason::Reason, starter::Starter,
    train::Train,
};
use handoff_spec::{Catalog, Connector, HttpLookup, LookupSpec, NotifyChannel};
use handoff_states::StateMachine;
use tokio::sync::Notify;

use crate::adapters::{ConsoleNotifier, Delivery, FileSecrets, LocalActionSink};
use crate::documents::{FileDocuments, Tesseract};
use crate::runtime::{self, Host, HostExecutions, LocalIntake, TaskStages};
use crate::sqlite::SqliteStore;
use crate::store::{ExecutionLog, IntakeQueue, Outbox};
use crate::template::{local_function_arn, LocalValues, Template};

pub struct Options {
    pub data_dir: PathBuf,
    pub template: Template,
    pub catalog: Arc<Catalog>,
    pub delivery: Delivery,
    /// Do not print notifications (the store still records them).
    pub quiet: bool,
    /// Render and record every action, send none (`handoff up --dry-run`).
    pub dry_run: bool,
    /// The model tiers: embedded only unless `--llm` or `--models` adds some.
    pub tiers: Tiers,
}

impl Options {
    pub fn new(data_dir: &Path, template: Template) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            template,
            catalog: handoff_workflows::shared(),
            delivery: Delivery::Record,
            quiet: false,
            dry_run: false,
            tiers: Tiers::embedded_only(),
        }
    }
}

/// Workflow specs from a directory at run time instead of the built-in ones.
pub fn catalog_from_dir(dir: &Path) -> anyhow::Result<Catalog> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            files.push((name, std::fs::read_to_string(&path)?));
        }
    }
    if files.is_empty() {
        return Err(anyhow!("no workflow specs (*.yaml) in {}", dir.display()));
    }
    Catalog::from_files(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .map_err(|e| anyhow!("{e}"))
}

pub struct Stack {
    pub template: Template,
    pub catalog: Arc<Catalog>,
    pub public_url: String,
    pub store: Arc<SqliteStore>,
    pub outbox: Arc<dyn Outbox>,
    pub queue: Arc<dyn IntakeQueue>,
    pub executions: Arc<dyn ExecutionLog>,
    pub host: Arc<Host>,
    pub secrets: Arc<FileSecrets>,
    pub ingest: Ingest,
    pub callback: Callback,
    pub read_api: ReadApi,
    /// The one-time code of the login link `handoff up` prints.
    pub login: crate::access::LoginCode,
    pub starter: Arc<Starter>,
    pub clock: Arc<dyn Clock>,
    /// Sends the reminders specs ask for (`remind_before_seconds`).
    pub reminders: Arc<ApprovalTasks>,
    /// Retrains the classifiers on new corrections, every [`RETRAIN_EVERY`].
    pub train: Arc<Train>,
    wake: Arc<Notify>,
}

/// How often `handoff up` retrains on new corrections: the local stand-in
/// for the review function's training schedule.
pub const RETRAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

impl Stack {
    /// A fresh operator token under the data dir's token key.
    pub fn operator_token(&self) -> (String, handoff_core::tokens::Claims) {
        let key = self
            .secrets
            .values()
            .get(&self.read_api.token_secret)
            .expect("the token key is created with the data dir");
        crate::access::operator_token(key)
    }

    /// Opens (or creates) the data directory and wires every stage.
    pub fn build(options: Options, public_url: &str) -> anyhow::Result<Arc<Self>> {
        let Options {
            data_dir,
            template,
            catalog,
            delivery,
            quiet,
            dry_run,
            tiers,
        } = options;
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let store = Arc::new(
            SqliteStore::open(data_dir.join("handoff.db"))
                .map_err(|e| anyhow!("opening the local database: {e}"))?,
        );
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let local = LocalValues {
            public_url: public_url.to_string(),
            ..Default::default()
        };
        let env = |binary: &str| {
            template
                .function_by_binary(binary)
                .map(|f| template.environment(&f.logical_id, &local))
                .unwrap_or_default()
        };
        let approval_env = env("approval");
        let link_secret = approval_env
            .get("HANDOFF_LINK_SECRET")
            .cloned()
            .unwrap_or_else(|| "approval-links".into());
        let callback_link_secret = env("callback")
            .get("HANDOFF_LINK_SECRET")
            .cloned()
            .unwrap_or_else(|| link_secret.clone());

        let token_secret = env("api")
            .get("HANDOFF_TOKEN_SECRET")
            .cloned()
            .unwrap_or_else(|| "reviewer-tokens".into());
        // Slack incoming-webhook URLs: a placeholder URL until the user puts
        // a real one in secrets.json (actions are only recorded by default).
        let mut url_names: Vec<String> = Vec::new();
        let mut names = vec![
            link_secret.clone(),
            callback_link_secret.clone(),
            token_secret.clone(),
        ];
        for name in catalog.names() {
            let wf = catalog.get(name).expect("listed");
            names.push(wf.spec.trigger.signature.secret.clone());
            for action in &wf.spec.actions {
                match &action.connector {
                    Connector::Webhook { secret, .. } => names.push(secret.clone()),
                    Connector::Slack { webhook_secret, .. } => {
                        url_names.push(webhook_secret.clone())
                    }
                    _ => {}
                }
            }
            for channel in wf.spec.approval.iter().flat_map(|a| &a.notify) {
                match channel {
                    NotifyChannel::Slack { webhook_secret } => {
                        url_names.push(webhook_secret.clone())
                    }
                    other => names.extend(other.secret().map(str::to_string)),
                }
            }
            let document_links = wf.spec.trigger.documents.as_ref();
            if let Some(auth) = document_links.and_then(|d| d.urls.as_ref()?.auth.as_ref()) {
                names.push(auth.secret.clone());
            }
            for lookup in &wf.spec.context.lookups {
                if let LookupSpec::Http(HttpLookup {
                    auth: Some(auth), ..
                }) = lookup
                {
                    names.push(auth.secret.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        let secrets = Arc::new(FileSecrets::ensure(
            &data_dir.join("secrets.json"),
            &names,
            &url_names,
        )?);

        // Locally plain http is allowed (receivers listen on loopback) and
        // the `--actions-to` receiver is a named exception; every other
        // outbound rule holds as in AWS, specs' `allow_private_hosts` included.
        let mut outbound = OutboundPolicy::for_catalog(&catalog).allowing_http();
        if let Delivery::To(base) = &delivery {
            if let Some(host) = base
                .parse::<hyper::Uri>()
                .ok()
                .and_then(|u| u.host().map(str::to_string))
            {
                outbound = outbound.allowing_private_host(&host);
            }
        }
        let outbox: Arc<dyn Outbox> = store.clone();
        let queue: Arc<dyn IntakeQueue> = store.clone();
        let log: Arc<dyn ExecutionLog> = store.clone();
        let sink = Arc::new(LocalActionSink {
            outbox: outbox.clone(),
            clock: clock.clone(),
            delivery,
            transport: HttpActionSink::new(outbound.clone(), None)
                .map_err(|e| anyhow!("building the HTTP client: {e}"))?,
        });
        // E-mail is the console and the outbox; Slack and webhook
        // notifications go out (or are recorded) like actions.
        let email: Arc<dyn Notifier> = Arc::new(ConsoleNotifier {
            outbox: outbox.clone(),
            clock: clock.clone(),
            quiet,
        });
        let notifier = Arc::new(ChannelNotifier {
            catalog: catalog.clone(),
            email: email.clone(),
            sink: sink.clone(),
            secrets: secrets.clone(),
            clock: clock.clone(),
        });

        // DefinitionSubstitutions → local function ARNs → in-process stages.
        let mut substitutions = HashMap::new();
        let mut functions = HashMap::new();
        for name in template.state_machine.substitutions.keys() {
            let function = template
                .substituted_function(name)
                .ok_or_else(|| anyhow!("substitution {name} names no function of the template"))?;
            let Some(Role::Task(kind)) = role_of(&function.binary) else {
                bail!(
                    "substitution {name}: function {} (binary {}) is not a state machine stage",
                    function.logical_id,
                    function.binary
                );
            };
            let arn = local_function_arn(&function.logical_id);
            substitutions.insert(name.clone(), arn.clone());
            functions.insert(arn, kind);
            functions.insert(function.logical_id.clone(), kind);
        }
        let definition =
            handoff_states::definition::substitute(&template.definition_text()?, &substitutions);
        let machine = StateMachine::from_json(&definition)
            .map_err(|e| anyhow!("{}: {e}", template.state_machine.definition_uri))?;

        let approval_stage = || ApprovalTasks {
            catalog: catalog.clone(),
            store: store.clone(),
            notifier: notifier.clone(),
            secrets: secrets.clone(),
            clock: clock.clone(),
            link_secret: link_secret.clone(),
            public_url: public_url.trim_end_matches('/').to_string(),
        };
        let reminders = Arc::new(approval_stage());
        let fetcher: Arc<dyn Fetcher> = Arc::new(
            HttpFetcher::new(outbound.clone())
                .map_err(|e| anyhow!("building the HTTP client: {e}"))?,
        );
        let documents: Arc<dyn DocumentStore> = Arc::new(FileDocuments {
            root: data_dir.join("documents"),
        });
        let stages = TaskStages {
            context: LoadContext {
                catalog: catalog.clone(),
                store: store.clone(),
                fetcher: fetcher.clone(),
                secrets: secrets.clone(),
                clock: clock.clone(),
                documents: documents.clone(),
                ocr: Arc::new(Tesseract::default()),
            },
            reason: Reason {
                catalog: catalog.clone(),
                store: store.clone(),
                documents: documents.clone(),
                tiers,
                clock: clock.clone(),
                metrics: Arc::new(NoMetrics),
            },
            decide: Decide {
                catalog: catalog.clone(),
                store: store.clone(),
                clock: clock.clone(),
                metrics: Arc::new(NoMetrics),
            },
            approval: approval_stage(),
            act: Act {
                catalog: catalog.clone(),
                store: store.clone(),
                sink,
                secrets: secrets.clone(),
                clock: clock.clone(),
                dry_run,
            },
            finalize: Finalize {
                store: store.clone(),
                clock: clock.clone(),
                metrics: Arc::new(NoMetrics),
            },
            functions,
        };
        let host = Host::new(
            machine,
            &template.state_machine.logical_id,
            stages,
            log.clone(),
            clock.clone(),
        );
        let executions =
            runtime::faults::executions_from_env(Arc::new(HostExecutions(host.clone())));
        let wake = Arc::new(Notify::new());
        Ok(Arc::new(Stack {
            ingest: Ingest {
                catalog: catalog.clone(),
                intake: Arc::new(LocalIntake {
                    store: store.clone(),
                    clock: clock.clone(),
                    wake: wake.clone(),
                }),
                store: store.clone(),
                secrets: secrets.clone(),
                clock: clock.clone(),
                metrics: Arc::new(NoMetrics),
                documents: documents.clone(),
                fetcher: fetcher.clone(),
            },
            callback: Callback {
                catalog: catalog.clone(),
                store: store.clone(),
                executions: executions.clone(),
                secrets: secrets.clone(),
                clock: clock.clone(),
                metrics: Arc::new(NoMetrics),
                link_secret: callback_link_secret,
                email,
                documents: documents.clone(),
                public_url: public_url.trim_end_matches('/').to_string(),
            },
            read_api: ReadApi {
                catalog: catalog.clone(),
                store: store.clone(),
                secrets: secrets.clone(),
                clock: clock.clone(),
                token_secret: token_secret.clone(),
                executions: executions.clone(),
                console: crate::pages::CONSOLE,
            },
            login: crate::access::LoginCode::default(),
            starter: Arc::new(Starter {
                store: store.clone(),
                executions,
                clock: clock.clone(),
                metrics: Arc::new(NoMetrics),
            }),
            train: Arc::new(Train {
                catalog: catalog.clone(),
                store: store.clone(),
                model: Arc::new(EmbeddedModel::new()),
                clock: clock.clone(),
            }),
            template,
            catalog,
            public_url: public_url.to_string(),
            store,
            outbox,
            queue,
            executions: log,
            host,
            secrets,
            clock,
            reminders,
            wake,
        }))
    }

    /// Resumes what a previous process left running and starts the intake
    /// loop. Returns how many executions were resumed.
    pub async fn run_background(self: &Arc<Self>) -> anyhow::Result<usize> {
        let resumed = self
            .host
            .resume()
            .await
            .map_err(|e| anyhow!("resuming executions: {e}"))?;
        tokio::spawn(runtime::intake_loop(
            self.queue.clone(),
            self.starter.clone(),
            self.template.queue,
            self.wake.clone(),
            self.clock.clone(),
        ));
        let reminding = self.catalog.names().any(|name| {
            self.catalog
                .get(name)
                .and_then(|w| w.spec.approval.as_ref())
                .is_some_and(|a| a.remind_before_seconds.is_some())
        });
        if reminding {
            tokio::spawn(reminder_loop(self.reminders.clone()));
        }
        tokio::spawn(redelivery_loop(self.clone()));
        tokio::spawn(stalled_intake_loop(self.clone()));
        tokio::spawn(training_loop(self.train.clone()));
        Ok(resumed)
    }
}

/// The local stand-in for the callback function's schedule: delivers
/// reviewers' decisions their execution has not taken yet (the sweep's own
/// back-off decides when each is due).
async fn redelivery_loop(stack: Arc<Stack>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        if let Err(e) = stack.callback.redeliver_due().await {
            tracing::warn!(error = %e, "decisions not redelivered");
        }
    }
}

/// The local stand-in for the ingest function's schedule: queues again the
/// runs stored but never started.
async fn stalled_intake_loop(stack: Arc<Stack>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = stack.ingest.requeue_stalled().await {
            tracing::warn!(error = %e, "stalled runs not queued again");
        }
    }
}

/// The local stand-in for the review function's training schedule: the
/// first pass trains what the data dir has no model for yet, later ones
/// only what has new corrections.
async fn training_loop(train: Arc<Train>) {
    let mut tick = tokio::time::interval(RETRAIN_EVERY);
    loop {
        tick.tick().await;
        match train.run().await {
            Ok(trained) => {
                for t in trained.iter().filter(|t| t.new) {
                    tracing::info!(
                        workflow = %t.workflow,
                        task = %t.task,
                        version = t.version,
                        corrections = t.corrections,
                        "classifier retrained"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "classifiers not retrained"),
        }
    }
}

/// The local stand-in for a schedule: looks for due reminders every second.
/// What was sent is in the audit trail, so a restart sends nothing twice.
async fn reminder_loop(stage: Arc<ApprovalTasks>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Err(e) = stage.remind_due().await {
            tracing::warn!(error = %e, "reminders not sent");
        }
    }
}
