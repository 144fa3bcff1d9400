//! Run under a moto server with the `moto-tests` feature, as the test
//! command does: `python scripts/with-moto.py -- cargo test -p
//! handoff-system-tests --features moto-tests --test moto_whole_path`.
//!
//! The deployed state machine definition (infra/statemachine/workflow.asl.json)
//! run by moto's interpreter, its Lambda tasks answered by moto's stub
//! functions with scripted results, and the approval wait resumed through
//! the `StepFunctions` adapter.
//!
//! What this proves: the ASL parses and executes outside the SAM linter; its
//! paths (`ResultSelector`, `ResultPath`, the `NeedsApproval` and `Approved`
//! choices, `TimeoutSecondsPath`) read the fields the stages return; the
//! task token reaches the approval function's payload; an `ApprovalOutcome`
//! sent by the adapter resumes the run to Act and Finalize; and answering the
//! token again is `TaskClosed`. What it does not prove: the stubs return
//! what this test scripts, not what the Rust functions compute, so the stage
//! outputs' shapes are pinned by the stages' own tests, not here.

use aws_sdk_sfn::types::HistoryEventType;
use handoff_aws::sfn::StepFunctions;
use handoff_core::domain::{ApprovalOutcome, RunId, TaskToken};
use handoff_core::ports::{ExecutionError, Executions};
use serde_json::json;

use handoff_aws::dynamo::testing::{moto_config as sdk_config, unique};
use handoff_aws::sfn::testing::{execution_arn, finished, history, state_machine, within_5s};

/// moto routes by the credential scope of the Authorization header and does
/// not check the signature.
fn auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

fn endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT (checked by sdk_config)")
}

async fn post(http: &reqwest::Client, url: String, service: &str, body: String) -> String {
    let response = http
        .post(url)
        .header("authorization", auth(service))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("moto answers");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{service}: {status} {text}");
    text
}

async fn lambda_role(http: &reqwest::Client) -> String {
    let name = unique("stages");
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }]
    });
    let form = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={}",
        urlencoding::encode(&policy.to_string())
    );
    let response = http
        .post(format!("{}/", endpoint()))
        .header("authorization", auth("iam"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("moto answers");
    assert!(
        response.status().is_success(),
        "create role: {}",
        response.status()
    );
    format!("arn:aws:iam::123456789012:role/{name}")
}

/// A stub function (moto without Docker never runs the code).
async fn stub_function(http: &reqwest::Client, role: &str, stage: &str) -> String {
    // An empty zip archive: 22-byte end-of-central-directory record.
    let mut empty_zip = vec![0x50, 0x4b, 0x05, 0x06];
    empty_zip.resize(22, 0);
    use base64::Engine as _;
    let body = json!({
        "FunctionName": unique(stage),
        "Runtime": "provided.al2023",
        "Role": role,
        "Handler": "bootstrap",
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(empty_zip) },
    });
    let created: serde_json::Value = serde_json::from_str(
        &post(
            http,
            format!("{}/2015-03-31/functions", endpoint()),
            "lambda",
            body.to_string(),
        )
        .await,
    )
    .expect("json");
    created["FunctionArn"].as_str().expect("arn").to_string()
}

/// The stub functions' next answers, one per invocation in order.
async fn stub_answers<S: ToString>(http: &reqwest::Client, results: impl IntoIterator<Item = S>) {
    let results: Vec<String> = results.into_iter().map(|r| r.to_string()).collect();
    let body = json!({ "results": results, "region": "us-east-1" });
    let url = format!("{}/moto-api/static/lambda-simple/response", endpoint());
    post(http, url, "lambda", body.to_string()).await;
}

/// The ASL with every `${<Stage>FunctionArn}` substitution resolved.
async fn definition(http: &reqwest::Client) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/statemachine/workflow.asl.json"
    );
    let mut text = std::fs::read_to_string(path).expect("workflow.asl.json");
    let role = lambda_role(http).await;
    while let Some(start) = text.find("${") {
        let end = start + text[start..].find('}').expect("closing brace");
        let name = text[start + 2..end].to_string();
        let stage = name
            .strip_suffix("FunctionArn")
            .unwrap_or_else(|| panic!("unexpected substitution ${{{name}}}"))
            .to_lowercase();
        let arn = stub_function(http, &role, &stage).await;
        text = text.replace(&format!("${{{name}}}"), &arn);
    }
    text
}

#[tokio::test]
async fn a_run_needing_approval_waits_and_resumes_to_finalize() {
    let config = sdk_config().await;
    let http = reqwest::Client::new();
    let definition: serde_json::Value =
        serde_json::from_str(&definition(&http).await).expect("resolved ASL is JSON");
    let machine = state_machine(&config, &definition).await;

    // The stubs answer invocations in order from one queue: context,
    // reason, decide, the approval request (its result is ignored while
    // the task waits for its token), act, finalize.
    let results = [
        json!({ "slot": "context" }),
        json!({ "label": "billing", "confidence": 0.62 }),
        json!({ "route": "finance", "needs_approval": true, "approval_timeout_seconds": 3600 }),
        json!({ "requested": true }),
        json!({ "performed": ["notify"] }),
        json!({ "status": "COMPLETED" }),
    ];
    stub_answers(&http, &results).await;

    let engine = StepFunctions::new(aws_sdk_sfn::Client::new(&config), &machine);
    let run = RunId::new();
    engine
        .start(
            run.as_str(),
            &json!({ "run_id": run, "workflow": "invoice-approval" }),
        )
        .await
        .unwrap();
    let execution = execution_arn(&machine, run.as_str());

    let token = TaskToken::new(approval_token(&config, &execution).await);
    let outcome = ApprovalOutcome {
        decision: "approved".into(),
        reviewers: vec!["ana@example.com".into()],
        reason: "looks right".into(),
        edits: None,
        timeout_seconds: None,
    };
    engine
        .send_task_success(&token, &serde_json::to_value(&outcome).unwrap())
        .await
        .unwrap();
    assert_eq!(finished(&config, &execution).await, "SUCCEEDED");

    let entered = states_entered(&config, &execution).await;
    assert_eq!(
        entered,
        [
            "Resume",
            "LoadContext",
            "Reason",
            "Decide",
            "NeedsApproval",
            "RequestApproval",
            "Approved",
            "Act",
            "Finalize"
        ]
    );
    let output: serde_json::Value = serde_json::from_str(
        &aws_sdk_sfn::Client::new(&config)
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap()
            .output
            .expect("output"),
    )
    .unwrap();
    assert_eq!(output["run_id"], json!(run));
    assert_eq!(output["approval"]["decision"], "approved");
    assert_eq!(output["finalize"]["result"], results[5]);

    let again = engine.send_task_success(&token, &json!({})).await;
    assert!(
        matches!(again, Err(ExecutionError::TaskClosed(_))),
        "{again:?}"
    );

    // A redrive of a run that failed in Act: a new execution that resumes
    // there (in this test, so the stubs' one answer queue stays in order).
    let performed = json!({ "performed": ["notify"] });
    stub_answers(&http, [&performed, &results[5]]).await;
    let name = format!("{run}-redrive-1");
    engine
        .start(
            &name,
            &json!({ "run_id": run, "workflow": "invoice-approval", "resume_at": "Act" }),
        )
        .await
        .unwrap();
    let redriven = execution_arn(&machine, &name);
    assert_eq!(finished(&config, &redriven).await, "SUCCEEDED");
    assert_eq!(
        states_entered(&config, &redriven).await,
        ["Resume", "Act", "Finalize"]
    );

    // A redrive of a run that failed before its reviewers decided: the
    // approval request again, its timeout read from the redrive's input.
    stub_answers(&http, &results[3..]).await;
    let name = format!("{run}-redrive-2");
    engine
        .start(
            &name,
            &json!({
                "run_id": run,
                "workflow": "invoice-approval",
                "resume_at": "RequestApproval",
                "decide": { "result": results[2] },
            }),
        )
        .await
        .unwrap();
    let redriven = execution_arn(&machine, &name);
    let token = TaskToken::new(approval_token(&config, &redriven).await);
    engine
        .send_task_success(&token, &serde_json::to_value(&outcome).unwrap())
        .await
        .unwrap();
    assert_eq!(finished(&config, &redriven).await, "SUCCEEDED");
    assert_eq!(
        states_entered(&config, &redriven).await,
        ["Resume", "RequestApproval", "Approved", "Act", "Finalize"]
    );
}

/// The token in the approval request's payload, from the execution history.
async fn approval_token(config: &aws_config::SdkConfig, execution: &str) -> String {
    within_5s("approval request", async || {
        history(config, execution).await.iter().find_map(|event| {
            assert!(
                event.r#type() != &HistoryEventType::ExecutionFailed,
                "execution failed before the approval: {event:?}"
            );
            let details = event.task_scheduled_event_details()?;
            let parameters: serde_json::Value =
                serde_json::from_str(details.parameters()).expect("parameters");
            parameters["Payload"]["task_token"]
                .as_str()
                .map(str::to_string)
        })
    })
    .await
}

async fn states_entered(config: &aws_config::SdkConfig, execution: &str) -> Vec<String> {
    history(config, execution)
        .await
        .iter()
        .filter_map(|e| e.state_entered_event_details())
        .map(|d| d.name().to_string())
        .collect()
}
