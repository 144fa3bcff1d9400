//! Clients pointed at moto, and the resources the tests make there.

use std::time::Duration;

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration as Days, Utc};
use handoff_aws::dynamo::codec::{PK, SK};
use handoff_aws::dynamo::DynamoStore;
use handoff_core::domain::*;
use handoff_core::ports::{Created, Runs};

pub use handoff_aws::dynamo::testing::{
    moto_config as sdk_config, table, unique, INDEXES, KEYS, TTL_ATTRIBUTE,
};

/// moto accepts any 12-digit account in ARNs.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/handoff-test";

pub async fn queue(config: &SdkConfig, visibility_timeout: u32) -> String {
    aws_sdk_sqs::Client::new(config)
        .create_queue()
        .queue_name(unique("intake"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            visibility_timeout.to_string(),
        )
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

pub async fn state_machine(config: &SdkConfig, definition: &serde_json::Value) -> String {
    aws_sdk_sfn::Client::new(config)
        .create_state_machine()
        .name(unique("workflow"))
        .definition(definition.to_string())
        .role_arn(ROLE_ARN)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn
}

/// Names of the state machine's executions (any status).
pub async fn executions(config: &SdkConfig, state_machine: &str) -> Vec<String> {
    aws_sdk_sfn::Client::new(config)
        .list_executions()
        .state_machine_arn(state_machine)
        .send()
        .await
        .expect("list executions")
        .executions
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// Polls until the execution leaves RUNNING; returns its final status.
pub async fn finished(config: &SdkConfig, execution_arn: &str) -> String {
    let client = aws_sdk_sfn::Client::new(config);
    for _ in 0..100 {
        let status = client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .expect("describe execution")
            .status;
        if status != aws_sdk_sfn::types::ExecutionStatus::Running {
            return status.as_str().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {execution_arn} still running after 5 s");
}

pub fn at(minutes: i64) -> DateTime<Utc> {
    "2026-01-15T09:00:00Z"
        .parse::<DateTime<Utc>>()
        .expect("time")
        + Days::minutes(minutes)
}

pub fn run(workflow: &str, delivery: &str, sender: Option<&str>, created: DateTime<Utc>) -> Run {
    Run {
        id: RunId::new(),
        workflow: workflow.into(),
        status: RunStatus::Received,
        stage: Stage::Ingest,
        delivery_id: delivery.into(),
        sender: sender.map(str::to_string),
        created_at: created,
        updated_at: created,
        summary: RunSummary::default(),
    }
}

pub fn event(run: &Run) -> CanonicalEvent {
    CanonicalEvent {
        workflow: run.workflow.clone(),
        delivery_id: run.delivery_id.clone(),
        received_at: run.created_at,
        fields: [("text".to_string(), serde_json::json!("printer on fire"))].into(),
        payload: serde_json::json!({ "id": run.delivery_id }),
    }
}

/// Kept three days from now, as for a sender retrying that long.
pub fn dedupe(run: &Run) -> DedupeKey {
    DedupeKey {
        workflow: run.workflow.clone(),
        delivery_id: run.delivery_id.clone(),
        expires_at: Utc::now() + Days::days(3),
        body_hash: None,
        business_key: None,
    }
}

/// `create_run` of `r` under `key`, with its event and first audit entry.
pub async fn store_run(store: &DynamoStore, r: &Run, key: &DedupeKey) -> Created {
    store
        .create_run(r, &event(r), key, &AuditEvent::received(r, 0))
        .await
        .expect("create run")
}

/// The item stored under `pk` / `sk` in the store's table, read as is.
pub async fn item(
    store: &DynamoStore,
    pk: impl Into<String>,
    sk: impl Into<String>,
) -> Option<HashMap<String, AttributeValue>> {
    store
        .client
        .get_item()
        .table_name(&store.table)
        .key(PK, AttributeValue::S(pk.into()))
        .key(SK, AttributeValue::S(sk.into()))
        .send()
        .await
        .expect("get item")
        .item
}
