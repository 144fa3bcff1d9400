//! SQS intake: the run message and its attributes, and a redelivered message
//! starting one execution.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use handoff_aws::dynamo::DynamoStore;
use handoff_aws::sfn::StepFunctions;
use handoff_aws::sqs::SqsQueue;
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_core::stages::starter::Starter;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_enqueued_run_arrives_with_its_attributes() {
    let config = sdk_config().await;
    let url = queue(&config, 30).await;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&config), &url);
    let message = RunMessage {
        run_id: RunId::new(),
        workflow: "support-triage".into(),
    };
    queue.enqueue(&message).await.unwrap();

    let received = receive(&config, &url).await;
    let body: RunMessage = serde_json::from_str(received.body().unwrap()).unwrap();
    assert_eq!(body, message);
    let attributes: HashMap<&str, (&str, Option<&str>)> = received
        .message_attributes()
        .expect("message attributes")
        .iter()
        .map(|(k, v)| (k.as_str(), (v.data_type(), v.string_value())))
        .collect();
    assert_eq!(
        attributes,
        HashMap::from([
            ("workflow", ("String", Some("support-triage"))),
            ("run_id", ("String", Some(message.run_id.as_str()))),
        ])
    );
}

#[tokio::test]
async fn a_redelivered_run_message_starts_one_execution() {
    let config = sdk_config().await;
    let (store, machine, r) = received_run(&config).await;
    let starter = starter(&store, engine(&config, &machine));

    // Visibility timeout 0: the message not deleted comes straight back,
    // as after a starter that crashed or timed out.
    let url = queue(&config, 0).await;
    SqsQueue::new(aws_sdk_sqs::Client::new(&config), &url)
        .enqueue(&RunMessage::of(&r))
        .await
        .unwrap();
    let first = receive(&config, &url).await;
    let second = receive(&config, &url).await;
    assert_eq!(
        first.message_id(),
        second.message_id(),
        "one message, delivered twice"
    );

    let mut outcomes = Vec::new();
    for delivery in [&first, &second] {
        let message: RunMessage = serde_json::from_str(delivery.body().unwrap()).unwrap();
        outcomes.push(starter.start(&message).await.unwrap());
    }
    assert_eq!(outcomes, [Started::New, Started::AlreadyStarted]);
    assert_started_once(&config, &machine, &store, &r).await;
}

#[tokio::test]
async fn a_start_repeated_after_a_crash_before_the_status_write_is_one_execution() {
    let config = sdk_config().await;
    let (store, machine, r) = received_run(&config).await;
    let engine = engine(&config, &machine);
    // The first starter started the execution and died before moving the
    // run to RUNNING; the redelivery finds the run still RECEIVED.
    let input = json!({ "run_id": r.id, "workflow": r.workflow });
    engine.start(r.id.as_str(), &input).await.unwrap();
    let arn = format!(
        "{}:{}",
        machine.replace(":stateMachine:", ":execution:"),
        r.id
    );
    finished(&config, &arn).await;

    let starter = starter(&store, engine);
    assert_eq!(
        starter.start(&RunMessage::of(&r)).await.unwrap(),
        Started::AlreadyStarted
    );
    assert_started_once(&config, &machine, &store, &r).await;
}

/// A run stored as received, and a state machine that ends at once.
async fn received_run(config: &SdkConfig) -> (Arc<DynamoStore>, String, Run) {
    let store = Arc::new(table(config).await);
    let machine = state_machine(
        config,
        &json!({ "StartAt": "Done", "States": { "Done": { "Type": "Pass", "End": true } } }),
    )
    .await;
    let r = run("support-triage", &unique("delivery"), None, at(0));
    store_run(&store, &r, &dedupe(&r)).await;
    (store, machine, r)
}

fn engine(config: &SdkConfig, machine: &str) -> Arc<StepFunctions> {
    Arc::new(StepFunctions::new(
        aws_sdk_sfn::Client::new(config),
        machine,
    ))
}

fn starter(store: &Arc<DynamoStore>, executions: Arc<StepFunctions>) -> Starter {
    Starter {
        store: store.clone(),
        executions,
        clock: Arc::new(SystemClock),
        metrics: Arc::new(handoff_core::ports::NoMetrics),
    }
}

/// The run was started as one execution, and is RUNNING.
async fn assert_started_once(config: &SdkConfig, machine: &str, store: &DynamoStore, r: &Run) {
    assert_eq!(executions(config, machine).await, [r.id.to_string()]);
    assert_eq!(
        store.get_run(&r.id).await.unwrap().unwrap().status,
        RunStatus::Running
    );
}

async fn receive(config: &SdkConfig, url: &str) -> aws_sdk_sqs::types::Message {
    let out = aws_sdk_sqs::Client::new(config)
        .receive_message()
        .queue_url(url)
        .message_attribute_names("All")
        .wait_time_seconds(2)
        .send()
        .await
        .expect("receive");
    out.messages
        .unwrap_or_default()
        .into_iter()
        .next()
        .expect("a message within 2 s")
}
