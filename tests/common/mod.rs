//! The real `handoff` binary on loopback, and a receiver standing in for
//! the systems actions go to.

#![allow(dead_code)]

pub mod history;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use handoff_local::client::Client;
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The seed specs copied to a fresh folder, with each `(from, to)` made in
/// support-triage.yaml (every `from` must be there).
pub fn specs_with_support_triage(tag: &str, replacements: &[(&str, String)]) -> Scratch {
    specs_with("support-triage.yaml", tag, replacements)
}

/// The seed specs copied to a fresh folder, with each `(from, to)` made in
/// the seed `file` (every `from` must be there).
pub fn specs_with(file: &str, tag: &str, replacements: &[(&str, String)]) -> Scratch {
    let specs = temp_dir(tag);
    for entry in std::fs::read_dir(repo_root().join("workflows")).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.file_name().unwrap() == file {
            for (from, to) in replacements {
                assert!(text.contains(from), "{file} has `{from}`");
                text = text.replace(from, to);
            }
        }
        std::fs::write(specs.join(path.file_name().unwrap()), text).unwrap();
    }
    specs
}

/// The seed specs with support-triage's approval timing out after `seconds`
/// with `on_timeout` (reject, approve or escalate).
pub fn specs_timing_out(tag: &str, seconds: u64, on_timeout: &str) -> Scratch {
    specs_with_support_triage(
        tag,
        &[
            (
                "timeout_seconds: 14400",
                format!("timeout_seconds: {seconds}"),
            ),
            ("on_timeout: escalate", format!("on_timeout: {on_timeout}")),
        ],
    )
}

/// `handoff token ARGS --data-dir DIR`: a bearer token.
pub fn handoff_token(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .arg("token")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The `handoff` binary run once with `args` from the repo root: its exit
/// code, standard output and standard error.
pub fn handoff<I, S>(args: I) -> (i32, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run handoff");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh directory under the system temp dir, removed with everything in
/// it when dropped, so repeated test runs do not fill the disk.
pub fn temp_dir(tag: &str) -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix(&format!("handoff-{tag}-"))
            .tempdir()
            .expect("create a scratch directory"),
    )
}

pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.path().as_os_str()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `handoff up`; killed when dropped.
pub struct Up {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub output: Arc<Mutex<Vec<String>>>,
    /// Removed after the process is killed, when `Up` is dropped.
    _scratch: Vec<Arc<Scratch>>,
}

pub struct UpOptions {
    pub port: u16,
    pub data_dir: PathBuf,
    pub actions_to: Option<String>,
    pub workflows: Option<PathBuf>,
    pub dry_run: bool,
    /// More arguments for `handoff up` (e.g. `--llm URL`).
    pub args: Vec<String>,
    /// Extra environment for the process (e.g. injected faults).
    pub env: Vec<(String, String)>,
    /// Scratch dirs these options name (data dir, specs): the `Up` keeps
    /// them alive.
    scratch: Vec<Arc<Scratch>>,
}

impl UpOptions {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            port: 0,
            data_dir: data_dir.to_path_buf(),
            actions_to: None,
            workflows: None,
            dry_run: false,
            args: Vec::new(),
            env: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Options on a new scratch data dir that lives as long as the `Up`.
    pub fn fresh(tag: &str) -> Self {
        let scratch = Arc::new(temp_dir(tag));
        Self {
            scratch: vec![scratch.clone()],
            ..Self::new(&scratch)
        }
    }

    /// Options on a new scratch data dir whose actions go to `receiver`.
    pub fn sending_to(tag: &str, receiver: &Receiver) -> Self {
        Self {
            actions_to: Some(receiver.url.clone()),
            ..Self::fresh(tag)
        }
    }

    /// `--workflows specs`, kept until the `Up` is dropped.
    pub fn workflows_in(&mut self, specs: Scratch) {
        self.workflows = Some(specs.to_path_buf());
        self.scratch.push(Arc::new(specs));
    }
}

impl Up {
    pub fn start(o: &UpOptions) -> Up {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"));
        cmd.arg("up")
            .arg("--port")
            .arg(o.port.to_string())
            .arg("--data-dir")
            .arg(&o.data_dir)
            .arg("--template")
            .arg(repo_root().join("template.yaml"));
        if let Some(to) = &o.actions_to {
            cmd.arg("--actions-to").arg(to);
        }
        if let Some(dir) = &o.workflows {
            cmd.arg("--workflows").arg(dir);
        }
        if o.dry_run {
            cmd.arg("--dry-run");
        }
        cmd.args(&o.args);
        cmd.envs(o.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn handoff");
        let stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = output.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("handoff is up: ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(rest.trim_end_matches('/').to_string());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("handoff up printed its URL");
        Up {
            child,
            url,
            data_dir: o.data_dir.clone(),
            output,
            _scratch: o.scratch.clone(),
        }
    }

    pub fn client(&self) -> Client {
        let secrets: BTreeMap<String, String> = serde_json::from_str(
            &std::fs::read_to_string(self.data_dir.join("secrets.json")).unwrap(),
        )
        .unwrap();
        Client {
            base: self.url.clone(),
            catalog: handoff_workflows::shared(),
            secrets,
        }
    }

    pub fn secret(&self, name: &str) -> String {
        self.client().secrets[name].clone()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Received {
    /// Checks `x-handoff-signature: v1=HMAC(secret, "{timestamp}.{body}")`.
    pub fn signature_valid(&self, secret: &str) -> bool {
        let (Some(ts), Some(sig)) = (
            self.headers.get("x-handoff-timestamp"),
            self.headers.get("x-handoff-signature"),
        ) else {
            return false;
        };
        let expected = format!(
            "v1={}",
            handoff_core::trigger::hmac_hex(secret, format!("{ts}.{}", self.body).as_bytes())
        );
        &expected == sig
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// An HTTP receiver on loopback that records every request and answers
/// `status` (200 unless a test changes it), after `delay`, and not while
/// `hold` is set (to keep a stage mid-flight however busy the machine is).
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub delay: Arc<Mutex<Duration>>,
    pub hold: Arc<std::sync::atomic::AtomicBool>,
    pub status: Arc<Mutex<u16>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let delay: Arc<Mutex<Duration>> = Arc::default();
        let hold: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let status = Arc::new(Mutex::new(200u16));
        let (g, d, h, s) = (got.clone(), delay.clone(), hold.clone(), status.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (g, d, h, s) = (g.clone(), d.clone(), h.clone(), s.clone());
            async move {
                while h.load(std::sync::atomic::Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let wait = *d.lock().unwrap();
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                g.lock().unwrap().push(Received {
                    path: uri.path().to_string(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let code = axum::http::StatusCode::from_u16(*s.lock().unwrap()).unwrap();
                (code, "{\"ok\":true}")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url,
            got,
            delay,
            hold,
            status,
        }
    }

    pub fn for_run(&self, idempotency_prefix: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                r.headers
                    .get("idempotency-key")
                    .is_some_and(|k| k.starts_with(idempotency_prefix))
            })
            .cloned()
            .collect()
    }
}

/// The events/ sample payload of `workflow`.
pub fn sample(workflow: &str) -> Value {
    handoff_local::client::samples()
        .into_iter()
        .find(|(w, _)| w == workflow)
        .map(|(_, p)| p)
        .unwrap()
}

/// Every run the read API lists.
pub async fn all_runs(client: &Client) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/runs?limit=100&cursor={}", urlencoding::encode(c)),
            None => "/runs?limit=100".to_string(),
        };
        let (status, body) = client.get_json(&path).await.unwrap();
        assert_eq!(status, 200, "{body}");
        out.extend(body["runs"].as_array().cloned().unwrap_or_default());
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return out,
        }
    }
}

/// The string `field` of each item of the JSON array `items`, in order.
pub fn strs<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// The kinds of a run document's audit entries, in order.
pub fn audit_kinds(run: &Value) -> Vec<String> {
    strs(&run["audit"], "kind")
        .into_iter()
        .map(String::from)
        .collect()
}

/// The details of a run document's audit entries of one kind.
pub fn audit(run: &Value, kind: &str) -> Vec<Value> {
    events(run, kind)
        .into_iter()
        .map(|e| e["detail"].clone())
        .collect()
}

/// A run document's audit entries of one kind.
pub fn events<'a>(run: &'a Value, kind: &str) -> Vec<&'a Value> {
    run["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Sends the support-triage sample as delivery `delivery` and waits until
/// its run asks for approval; returns the run id.
pub async fn support_run_awaiting_approval(client: &Client, delivery: &str) -> String {
    let run_id = client
        .send("support-triage", &sample("support-triage"), delivery)
        .await
        .unwrap();
    let status = client
        .wait_for(&run_id, Duration::from_secs(90), |s| {
            !matches!(s, "" | "RECEIVED" | "RUNNING")
        })
        .await
        .unwrap();
    assert_eq!(status, "AWAITING_APPROVAL", "{run_id}");
    run_id
}

/// A running `handoff up` whose actions go to `receiver`, and a
/// support-triage run on it waiting for approval.
pub struct WaitingRun {
    pub up: Up,
    pub receiver: Receiver,
    pub client: Client,
    pub run_id: String,
}

impl WaitingRun {
    /// On the seed specs, or on `specs` if given; `tag` names the data dir
    /// and the delivery.
    pub async fn start(tag: &str, specs: Option<Scratch>) -> WaitingRun {
        let receiver = Receiver::start().await;
        let mut options = UpOptions::sending_to(tag, &receiver);
        if let Some(specs) = specs {
            options.workflows_in(specs);
        }
        let up = Up::start(&options);
        let client = up.client();
        let run_id = support_run_awaiting_approval(&client, &format!("e2e-{tag}")).await;
        WaitingRun {
            up,
            receiver,
            client,
            run_id,
        }
    }
}
