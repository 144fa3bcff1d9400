//! Clients pointed at moto, and the resources the tests make there.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration as Days, Utc};
use handoff_aws::dynamo::codec::{PK, SK};
use handoff_aws::dynamo::DynamoStore;
use handoff_core::domain::*;
use handoff_core::ports::{Created, Runs};

pub use handoff_aws::sfn::testing::{execution_arn, executions, finished, state_machine};

pub use handoff_aws::dynamo::testing::{
    moto_config as sdk_config, table, unique, INDEXES, KEYS, TTL_ATTRIBUTE,
};

/// An S3 client for moto: path-style addressing, as a bucket name is no
/// host name on 127.0.0.1.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// A fresh bucket, by name.
pub async fn bucket(client: &aws_sdk_s3::Client) -> String {
    let name = unique("handoff");
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    name
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
        documents: Vec::new(),
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
