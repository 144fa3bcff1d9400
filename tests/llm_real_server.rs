//! `handoff up --llm` against a real OpenAI-compatible server: llama.cpp's
//! `llama-server` with SmolLM2-135M-Instruct, both built or fetched once by
//! `scripts/llama-server install` into a cache outside the clone. The model
//! is tiny and its labels mean nothing, so the test pins the path, not the
//! answers: every call is audited, every answer is validated (answered,
//! repaired once, or invalid and replaced by the task's fallback), and every
//! task's result has its kind's shape.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use handoff_local::client::{get_json, is_final};
use handoff_spec::{TaskKind, EMBEDDED_TIER};

/// Loading the model takes a second or two; a busy machine, more.
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);
/// A few seconds a call on a quiet machine; on a busy one each of the up
/// to six calls (three tasks, each repaired once) may run into the 30 s
/// call timeout of `--llm`, and the run still ends.
const RUN_WITHIN: Duration = Duration::from_secs(200);

/// A running `llama-server`; killed when dropped, so a failing test leaves
/// no server behind.
struct LlamaServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _logs: Scratch,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LlamaServer {
    fn start(server: &Path, model: &Path) -> LlamaServer {
        let port = free_port();
        let logs = temp_dir("llama-server");
        let log = logs.join("llama-server.log");
        let child = Command::new(server)
            .arg("-m")
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-t", "1", "-c", "4096", "-n", "256", "--no-webui"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(File::create(&log).unwrap()))
            .stderr(Stdio::from(
                File::create(log.with_extension("err")).unwrap(),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        LlamaServer {
            child,
            port,
            log,
            _logs: logs,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    fn output_tail(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let all = read(self.log.clone()) + &read(self.log.with_extension("err"));
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Polls `GET /health` until it answers 200 (503 while the model loads).
    async fn wait_healthy(&mut self) {
        let start = Instant::now();
        let health = format!("http://127.0.0.1:{}/health", self.port);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("llama-server exited ({status}):\n{}", self.output_tail());
            }
            if let Ok((200, _)) = get_json(&health).await {
                return;
            }
            assert!(
                start.elapsed() < HEALTHY_WITHIN,
                "llama-server not healthy after {HEALTHY_WITHIN:?}:\n{}",
                self.output_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `scripts/llama-server install`: builds or fetches what is missing (only
/// the first time) and prints the paths. A failure fails the test: it is
/// never skipped.
fn install() -> (PathBuf, PathBuf) {
    let script = repo_root().join("scripts/llama-server");
    let out = Command::new(&script)
        .arg("install")
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`scripts/llama-server install` failed ({}): {stdout}",
        out.status
    );
    let path = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no {key}<path> in: {stdout}"))
    };
    let (server, model) = (path("LLAMA_SERVER="), path("LLAMA_MODEL="));
    assert!(server.is_file(), "{}", server.display());
    assert!(model.is_file(), "{}", model.display());
    (server, model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_openai_compatible_server_drives_support_triage_end_to_end() {
    let t0 = Instant::now();
    let (server_bin, model) = install();
    let mut server = LlamaServer::start(&server_bin, &model);
    server.wait_healthy().await;
    let healthy_after = t0.elapsed();

    let mut options = UpOptions::fresh("llm-real");
    options.args = vec!["--llm".into(), server.url()];
    let up = Up::start(&options);
    let client = up.client();

    let run_id = client
        .send("support-triage", &sample("support-triage"), "llm-real-1")
        .await
        .unwrap();
    let status = client
        .wait_for(&run_id, RUN_WITHIN, |s| {
            matches!(s, "AWAITING_APPROVAL" | "COMPLETED" | "REJECTED" | "FAILED")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\nllama-server:\n{}", server.output_tail()));
    let reasoned_after = t0.elapsed();
    let asked_approval = status == "AWAITING_APPROVAL";
    if asked_approval {
        let answered = client
            .decide_when_notified(&run_id, "approve", RUN_WITHIN)
            .await
            .unwrap();
        assert!(answered >= 1, "the reviewer link was answered");
    }
    let status = client
        .wait_for(&run_id, RUN_WITHIN, is_final)
        .await
        .unwrap();
    let run = client.run(&run_id).await.unwrap();
    assert_eq!(status, "COMPLETED", "{:#}", run["run"]);

    // Every answer was validated: valid, repaired after the schema errors
    // were quoted back, or invalid (twice, or cut off at the token limit).
    // A call the busy machine did not finish within the timeout takes the
    // same way out as an invalid one; at least one answer came back.
    let calls = audit(&run, "llm.call");
    assert!(!calls.is_empty(), "{:#}", run["audit"]);
    for call in &calls {
        assert!(
            matches!(
                call["outcome"].as_str(),
                Some("answered" | "repaired" | "invalid" | "timeout")
            ),
            "{call:#}"
        );
        assert_eq!(call["model"].as_str().map(str::is_empty), Some(false));
    }
    assert!(
        calls.iter().any(|c| c["outcome"] != "timeout"),
        "the server answered nothing in time:\n{}",
        server.output_tail()
    );
    // The summary and the reply ask an LLM tier first, so both called it.
    for (task, tier) in [("summary", "fast"), ("reply", "strong")] {
        assert!(
            calls.iter().any(|c| c["task"] == task && c["tier"] == tier),
            "no {tier} call for {task}: {calls:#?}"
        );
    }

    // Each task took the path its calls decided, and its result has the shape.
    let workflow = handoff_workflows::catalog().get("support-triage").unwrap();
    let finished = audit(&run, "reason.finished");
    let records = finished[0]["tasks"].as_array().unwrap();
    let ai = &run["ai"];
    for task in workflow.spec.reason.tasks() {
        let record = records
            .iter()
            .find(|r| r["task"] == task.name.as_str())
            .unwrap();
        let result = &ai[task.name.as_str()];
        let what = format!("task {}: {record:#}\nai: {result:#}", task.name);
        let llm_valid = record["calls"].as_array().unwrap().iter().find(|c| {
            c["tier"] != EMBEDDED_TIER
                && matches!(c["outcome"].as_str(), Some("answered" | "repaired"))
        });
        match &task.kind {
            TaskKind::Classify(c) => {
                let label = result["label"].as_str().unwrap();
                assert!(c.labels.iter().any(|l| l.name == label), "{what}");
                let confidence = result["confidence"].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&confidence), "{what}");
            }
            TaskKind::Extract(_) => assert!(result.is_object(), "{what}"),
            TaskKind::Summarize(_) | TaskKind::Draft(_) => {
                let text = result["text"].as_str().unwrap();
                assert!(!text.trim().is_empty(), "{what}");
                match llm_valid {
                    // The LLM is asked first: a valid answer is the result.
                    Some(call) => assert_eq!(result["tier"], call["tier"], "{what}"),
                    // No valid answer: the next tier in the cascade (the
                    // extractive summary), else `on_failure` (the template).
                    None if task.models.iter().any(|m| m == EMBEDDED_TIER) => {
                        assert_eq!(result["tier"], EMBEDDED_TIER, "{what}");
                        assert_eq!(result["extractive"], true, "{what}");
                    }
                    None => {
                        assert_eq!(record["status"], "fallback", "{what}");
                        assert_eq!(result["tier"], "template", "{what}");
                    }
                }
            }
        }
    }
    let timings: Vec<String> = records
        .iter()
        .flat_map(|r| {
            let task = r["task"].as_str().unwrap_or("?").to_string();
            r["calls"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["tier"] != EMBEDDED_TIER)
                .map(move |c| {
                    format!(
                        "{task}/{}: {} in {} ms",
                        c["tier"].as_str().unwrap_or("?"),
                        c["outcome"].as_str().unwrap_or("?"),
                        c["usage"]["latency_ms"]
                    )
                })
        })
        .collect();
    println!(
        "llama-server healthy after {:.1}s, run reasoned after {:.1}s (approval asked: \
         {asked_approval}), done after {:.1}s; LLM calls: {timings:#?}",
        healthy_after.as_secs_f64(),
        reasoned_after.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
    );
    drop(up);
    drop(server);
}
