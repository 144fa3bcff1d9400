//! A moto server's clients and a table shaped as template.yaml declares it,
//! for the adapter tests here and the tests of tools that read a
//! deployment's table (`handoff backtest --table`). Only with the
//! `moto-tests` feature.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::codec::{BY_SENDER, BY_STATUS, GSI1PK, GSI1SK, GSI2PK, GSI2SK, PK, SK};
use super::DynamoStore;

/// The table's key attributes, its indexes (name, hash, range) and its TTL
/// attribute, as the adapter uses them; `table_schema` checks template.yaml
/// declares the same.
pub const KEYS: (&str, &str) = (PK, SK);
pub const INDEXES: [(&str, &str, &str); 2] =
    [(BY_STATUS, GSI1PK, GSI1SK), (BY_SENDER, GSI2PK, GSI2SK)];
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Clients for the moto server `scripts/with-moto.py` started; panics,
/// saying how to start one, when there is none.
pub async fn moto_config() -> SdkConfig {
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

/// A fresh table with the template's keys, indexes and TTL, and its name.
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
