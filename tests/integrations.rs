//! The action side of the workflows through the real `handoff` binary:
//! dry-run sends nothing, and a failed action is redriven from `act`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use handoff_local::client::Client;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Drives `payload` through `workflow`, approving when asked, until the run
/// ends: its id and final status.
async fn drive_approving(
    client: &Client,
    workflow: &str,
    payload: &Value,
    delivery: &str,
) -> (String, String) {
    let driven = client
        .drive(workflow, payload, delivery, Some("approve"), WAIT)
        .await
        .unwrap();
    (driven.run_id, driven.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_nothing_for_any_workflow() {
    let receiver = Receiver::start().await;
    let mut options = UpOptions::sending_to("dry-run", &receiver);
    options.dry_run = true;
    let up = Up::start(&options);
    let client = up.client();
    for (workflow, payload) in handoff_local::client::samples() {
        let (run_id, status) =
            drive_approving(&client, &workflow, &payload, &format!("dry-{workflow}")).await;
        assert_eq!(status, "COMPLETED", "{workflow}");
        let run = client.run(&run_id).await.unwrap();
        let kinds = audit_kinds(&run);
        assert!(
            kinds.iter().any(|k| k == "action.dry_run"),
            "{workflow}: {kinds:?}"
        );
        assert!(
            !kinds.iter().any(|k| k == "action.performed"),
            "{workflow}: {kinds:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = receiver.got.lock().unwrap().len();
    assert_eq!(got, 0, "dry-run reached the receiver {got} times");
}

/// An invoice run whose action the receiver refused (400): its id and the
/// refused request's idempotency key.
async fn refused_run(client: &Client, receiver: &Receiver) -> (String, String) {
    *receiver.status.lock().unwrap() = 400;
    let (run_id, status) = drive_approving(
        client,
        "invoice-approval",
        &sample("invoice-approval"),
        "redrive-1",
    )
    .await;
    assert_eq!(status, "FAILED", "the receiver refused the action");
    let refused = receiver.for_run(&run_id);
    assert_eq!(refused.len(), 1, "a 400 is not retried: {refused:?}");
    let key = refused[0].headers["idempotency-key"].clone();
    (run_id, key)
}

/// The receiver saw the refused request and one more with the same key.
fn resent_once_with(receiver: &Receiver, run_id: &str, key: &str) {
    let received = receiver.for_run(run_id);
    let resent = received
        .iter()
        .filter(|r| r.headers["idempotency-key"] == key)
        .count();
    assert_eq!(resent, 2, "refused once, then delivered with the same key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_action_is_redriven_from_act_with_the_same_key() {
    let receiver = Receiver::start().await;
    let options = UpOptions::sending_to("redrive", &receiver);
    let mut up = Up::start(&options);
    let (run_id, key) = refused_run(&up.client(), &receiver).await;
    up.kill();

    *receiver.status.lock().unwrap() = 200;
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .arg("redrive")
        .arg(&run_id)
        .arg("--data-dir")
        .arg(&up.data_dir)
        .arg("--template")
        .arg(repo_root().join("template.yaml"))
        .arg("--actions-to")
        .arg(&receiver.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("COMPLETED"), "{stdout}");

    resent_once_with(&receiver, &run_id, &key);

    let up = Up::start(&options);
    let run = up.client().run(&run_id).await.unwrap();
    assert_eq!(run["run"]["status"], "COMPLETED");
    assert!(run["run"]["summary"]["error"].is_null(), "{run}");
    let kinds = audit_kinds(&run);
    assert!(kinds.iter().any(|k| k == "run.redriven"), "{kinds:?}");
    // The new execution resumed at Act: nothing before it ran twice.
    for once in ["context.finished", "reason.finished", "decide.finished"] {
        let times = kinds.iter().filter(|k| *k == once).count();
        assert_eq!(times, 1, "{once} ran {times} times: {kinds:?}");
    }

    // A completed run is not redriven again.
    drop(up);
    let again = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .args(["redrive", &run_id, "--data-dir"])
        .arg(&options.data_dir)
        .arg("--template")
        .arg(repo_root().join("template.yaml"))
        .output()
        .unwrap();
    assert!(!again.status.success());
    let why = String::from_utf8_lossy(&again.stderr);
    assert!(why.contains("only failed runs are redriven"), "{why}");
}

/// What a deployed stack offers: a reviewer's token (`handoff token`) and
/// `POST /runs/{id}/redrive` on the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_redrives_a_failed_run_for_a_reviewer() {
    let receiver = Receiver::start().await;
    let up = Up::start(&UpOptions::sending_to("api-redrive", &receiver));
    let client = up.client();
    let (run_id, key) = refused_run(&client, &receiver).await;
    *receiver.status.lock().unwrap() = 200;

    let redrive = |token: String| {
        let url = format!("{}/runs/{run_id}/redrive", up.url);
        async move {
            let builder = hyper::Request::builder()
                .method("POST")
                .header("authorization", format!("Bearer {token}"));
            handoff_local::adapters::http_call(&url, builder, Vec::new())
                .await
                .unwrap()
        }
    };
    let (status, _) = redrive("nobody.1.00".into()).await;
    assert_eq!(status, 401, "a made-up token is refused");

    let token = handoff_token(&up.data_dir, &["controller@finance.example.com"]);
    let (status, body) = redrive(token.clone()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["from"], "act", "{body}");

    let status = client
        .wait_for(&run_id, WAIT, |s| s == "COMPLETED" || s == "FAILED")
        .await
        .unwrap();
    assert_eq!(status, "COMPLETED");
    resent_once_with(&receiver, &run_id, &key);
    let (again, _) = redrive(token).await;
    assert_eq!(again, 409, "a completed run is not redriven");
}
