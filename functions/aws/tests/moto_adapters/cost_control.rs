//! The answer cache and the token ledger on a real table: the item shapes
//! DESIGN §3 gives them, and that a spend is one server-side ADD. What they
//! return is the store contract (`store_contract.rs`).

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, NaiveDate, Utc};
use handoff_aws::dynamo::codec::{budget_pk, cache_pk, ledger_expires_at, META};
use handoff_aws::dynamo::DynamoStore;
use handoff_core::ports::*;
use handoff_core::testing::fixtures::answer;

use crate::support::*;

/// The cache item: `CACHE#<key>` / `META`, its TTL in epoch seconds. What
/// the cache returns when is the store contract (`store_contract.rs`).
#[tokio::test]
async fn a_cached_answer_is_one_item_with_its_expiry_as_ttl() {
    let config = sdk_config().await;
    let store = table(&config).await;
    let later = Utc::now() + Duration::hours(2);
    store
        .put_cached("key-1", &answer("billing"), later)
        .await
        .unwrap();
    let item = item(&store, cache_pk("key-1"), META)
        .await
        .expect("cache item");
    assert_eq!(
        item.get(TTL_ATTRIBUTE),
        Some(&AttributeValue::N(later.timestamp().to_string()))
    );
}

/// Each DynamoDB request as sent: its operation (`X-Amz-Target`) and body.
#[derive(Debug, Default, Clone)]
struct Sent(Arc<Mutex<Vec<(String, String)>>>);

impl Intercept for Sent {
    fn name(&self) -> &'static str {
        "Sent"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request.headers().get("x-amz-target").unwrap_or_default();
        let body = request.body().bytes().unwrap_or_default();
        self.0.lock().unwrap().push((
            operation.to_string(),
            String::from_utf8_lossy(body).into_owned(),
        ));
        Ok(())
    }
}

/// Concurrent spends summing exactly is in the store contract; what makes
/// it hold on DynamoDB is that each spend is one UpdateItem that ADDs on the
/// server, never a read and a write, and the totals it returns add up.
#[tokio::test]
async fn a_spend_is_one_add_on_the_server_and_the_totals_sum() {
    let config = sdk_config().await;
    let table = table(&config).await.table;
    let sent = Sent::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(sent.clone())
            .build(),
    );
    let store = DynamoStore::new(client, &table);
    let day = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    assert_eq!(store.spent("refunds", day).await.unwrap(), 0);
    sent.0.lock().unwrap().clear();
    let mut totals = Vec::new();
    for tokens in [120, 80, 45] {
        totals.push(store.spend("refunds", day, tokens).await.unwrap());
    }
    assert_eq!(totals, [120, 200, 245]);
    let requests = sent.0.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for (operation, body) in &requests {
        assert_eq!(operation, "DynamoDB_20120810.UpdateItem");
        assert!(body.contains("ADD tokens :n"), "{body}");
        assert!(!body.contains("ConditionExpression"), "{body}");
    }
    assert_eq!(store.spent("refunds", day).await.unwrap(), 245);
    assert_eq!(store.spent("leads", day).await.unwrap(), 0);
    let next = day.succ_opt().unwrap();
    assert_eq!(store.spent("refunds", next).await.unwrap(), 0);

    // The item: `BUDGET#<workflow>` / `<day>`, with a TTL days after it.
    let item = item(&store, budget_pk("refunds"), "2026-01-15")
        .await
        .expect("ledger item");
    assert_eq!(
        item.get(TTL_ATTRIBUTE),
        Some(&AttributeValue::N(ledger_expires_at(day).to_string()))
    );
}
