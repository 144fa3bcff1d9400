//! Clients pointed at moto, and the resources the tests make there.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use chrono::{DateTime, Duration as Days, Utc};
use handoff_aws::dynamo::codec::{BY_SENDER, BY_STATUS, GSI1PK, GSI1SK, GSI2PK, GSI2SK, PK, SK};
use handoff_aws::dynamo::DynamoStore;
use handoff_core::domain::*;

/// The table's key attributes, its indexes (name, hash, range) and its TTL
/// attribute, as the adapter uses them; `table_schema` checks template.yaml
/// declares the same.
pub const KEYS: (&str, &str) = (PK, SK);
pub const INDEXES: [(&str, &str, &str); 2] =
    [(BY_STATUS, GSI1PK, GSI1SK), (BY_SENDER, GSI2PK, GSI2SK)];
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// moto accepts any 12-digit account in ARNs.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/handoff-test";

pub async fn sdk_config() -> SdkConfig {
    let endpoint = match std::env::var("MOTO_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!(
            "MOTO_ENDPOINT is not set. These tests need a moto server: run them as \
             `.venv/bin/python scripts/with-moto.py -- cargo test -p handoff-aws \
             --features moto-tests,dynamodb,sqs,sfn,secrets,http --test moto_adapters` \
             (scripts/test does)"
        ),
    };
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// A name no other test (or earlier run on the same server) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// A fresh table with the template's keys, indexes and TTL.
pub async fn table(config: &SdkConfig) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(config);
    let name = unique("handoff");
    let attribute = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |hash: &str, range: &str| {
        vec![
            KeySchemaElement::builder()
                .attribute_name(hash)
                .key_type(KeyType::Hash)
                .build()
                .expect("hash key"),
            KeySchemaElement::builder()
                .attribute_name(range)
                .key_type(KeyType::Range)
                .build()
                .expect("range key"),
        ]
    };
    let mut request = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(KEYS.0))
        .attribute_definitions(attribute(KEYS.1))
        .set_key_schema(Some(key(KEYS.0, KEYS.1)));
    for (index, hash, range) in INDEXES {
        request = request
            .attribute_definitions(attribute(hash))
            .attribute_definitions(attribute(range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .set_key_schema(Some(key(hash, range)))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("index"),
            );
    }
    request.send().await.expect("create table");
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("ttl"),
        )
        .send()
        .await
        .expect("enable ttl");
    DynamoStore::new(client, name)
}

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
