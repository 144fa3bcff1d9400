//! The embedded adapters of the ports the run store does not cover: secrets
//! from a per-data-dir file, reviewer notifications to the console and the
//! outbox, and actions delivered over HTTP or recorded in the outbox.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use handoff_aws::http_sink::HttpActionSink;
use handoff_core::ports::{
    ActionDelivery, ActionError, ActionRequest, ActionSink, Clock, Notification, Notifier,
    NotifyError, Secret, SecretError, Secrets,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rand::RngCore;

use crate::store::{Outbox, OutboxEntry};

/// Secrets kept in `<data dir>/secrets.json` (name → value), created on
/// first start with a random value for every name the workflows use.
pub struct FileSecrets {
    pub path: PathBuf,
    values: BTreeMap<String, String>,
}

impl FileSecrets {
    /// Loads the file, adding a random value for each of `names` it lacks
    /// and a placeholder `https://hooks.slack.example.com/…` URL for each of
    /// `url_names` (Slack incoming webhooks).
    pub fn ensure(path: &Path, names: &[String], url_names: &[String]) -> anyhow::Result<Self> {
        let mut values: BTreeMap<String, String> = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not a JSON object of strings", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut changed = false;
        for name in names {
            if !values.contains_key(name) {
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                values.insert(name.clone(), hex::encode(bytes));
                changed = true;
            }
        }
        for name in url_names {
            if !values.contains_key(name) {
                let path = name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "/");
                values.insert(
                    name.clone(),
                    format!("https://hooks.slack.example.com/services/local/{path}"),
                );
                changed = true;
            }
        }
        if changed {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_string_pretty(&values)?)?;
            restrict(&tmp);
            std::fs::rename(&tmp, path)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            values,
        })
    }

    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_: &Path) {}

#[async_trait]
impl Secrets for FileSecrets {
    async fn get(&self, name: &str) -> Result<Secret, SecretError> {
        self.values
            .get(name)
            .map(|v| Secret::new(v.clone()))
            .ok_or_else(|| SecretError::NotFound(name.to_string()))
    }
}

/// Reviewer notifications: printed, and listed on the outbox page.
pub struct ConsoleNotifier {
    pub outbox: Arc<dyn Outbox>,
    pub clock: Arc<dyn Clock>,
    pub quiet: bool,
}

#[async_trait]
impl Notifier for ConsoleNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if !self.quiet {
            println!(
                "approval needed  {}  {}  → {}\n  {}",
                n.workflow, n.run_id, n.reviewer, n.link
            );
        }
        self.outbox
            .record(&OutboxEntry {
                id: 0,
                at: self.clock.now(),
                kind: "notification".into(),
                run_id: n.run_id.to_string(),
                target: n.reviewer.clone(),
                subject: n.subject.clone(),
                body: n.text.clone(),
                link: Some(n.link.clone()),
                delivered: false,
            })
            .await
            .map_err(|e| NotifyError(e.to_string()))?;
        Ok(())
    }
}

/// Where actions go.
#[derive(Debug, Clone, Default)]
pub enum Delivery {
    /// Recorded in the outbox only.
    #[default]
    Record,
    /// Sent to the URL the workflow names.
    AsWritten,
    /// Sent to this base URL, keeping the action URL's path and query.
    To(String),
}

pub struct LocalActionSink {
    pub outbox: Arc<dyn Outbox>,
    pub clock: Arc<dyn Clock>,
    pub delivery: Delivery,
    /// The Lambda's sink: the same retries, backoff and `Retry-After`.
    pub transport: HttpActionSink,
}

#[async_trait]
impl ActionSink for LocalActionSink {
    async fn perform(
        &self,
        request: &ActionRequest,
        deadline: Option<std::time::Instant>,
    ) -> Result<ActionDelivery, ActionError> {
        let url = match (&self.delivery, request.kind.as_str()) {
            (_, "email") | (Delivery::Record, _) => None,
            (Delivery::AsWritten, _) => Some(request.target.clone()),
            (Delivery::To(base), _) => Some(rebase(&request.target, base)),
        };
        let Some(url) = url else {
            self.record(request, &request.target, false).await?;
            return Ok(ActionDelivery {
                status_code: None,
                attempts: 0,
                response_excerpt: Some("recorded in the local outbox".into()),
            });
        };
        let routed = ActionRequest {
            target: url.clone(),
            ..request.clone()
        };
        let result = self.transport.perform(&routed, deadline).await;
        self.record(request, &url, result.is_ok()).await?;
        result
    }
}

impl LocalActionSink {
    async fn record(
        &self,
        request: &ActionRequest,
        target: &str,
        delivered: bool,
    ) -> Result<(), ActionError> {
        self.outbox
            .record(&OutboxEntry {
                id: 0,
                at: self.clock.now(),
                kind: "action".into(),
                run_id: request.run_id.clone(),
                target: target.to_string(),
                subject: format!("{} ({} {})", request.action, request.kind, request.method),
                body: request.body.clone(),
                link: None,
                delivered,
            })
            .await
            .map_err(|e| ActionError::Exhausted {
                reason: format!("outbox: {e}"),
                attempts: 0,
            })?;
        Ok(())
    }
}

/// `https://erp.example.com/hooks/pay?x=1` on `http://127.0.0.1:9000` →
/// `http://127.0.0.1:9000/hooks/pay?x=1`.
pub fn rebase(url: &str, base: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// A minimal HTTP/1.1 client for loopback and plain-HTTP receivers.
pub async fn http_call(
    url: &str,
    builder: hyper::http::request::Builder,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "{url}: only http:// targets are delivered locally (use --actions-to)"
        ));
    }
    let host = uri.host().ok_or("URL without host")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_else(|| host.clone());
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/".into());
    let call = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect {authority}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = builder
            .uri(path)
            .header(hyper::header::HOST, authority.as_str())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, bytes.to_vec()))
    };
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .map_err(|_| format!("{url}: timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebase_keeps_path_and_query() {
        assert_eq!(
            rebase(
                "https://erp.example.com/hooks/pay?x=1",
                "http://127.0.0.1:9000/"
            ),
            "http://127.0.0.1:9000/hooks/pay?x=1"
        );
        assert_eq!(
            rebase("https://hooks.example.com", "http://127.0.0.1:9"),
            "http://127.0.0.1:9/"
        );
    }

    #[test]
    fn secrets_file_is_created_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("handoff-secrets-{}", std::process::id()));
        let path = dir.join("secrets.json");
        let names = vec!["a/webhook".to_string(), "approval-links".to_string()];
        let urls = vec!["a/slack-cards".to_string()];
        let first = FileSecrets::ensure(&path, &names, &urls).unwrap();
        let again = FileSecrets::ensure(&path, &names, &urls).unwrap();
        assert_eq!(first.values(), again.values());
        assert_eq!(first.values().len(), 3);
        assert_eq!(
            first.values()["a/slack-cards"],
            "https://hooks.slack.example.com/services/local/a/slack-cards"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
