//! Accuracy reviews: `REVIEW#<workflow>` / `AT#<timestamp>`, the review as
//! JSON. Timestamps are fixed-width, so the sort key orders by time and the
//! newest is the first of a descending query.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoff_core::ports::*;

use super::codec::*;
use super::{unavailable, DynamoStore};

fn review_pk(workflow: &str) -> String {
    format!("REVIEW#{workflow}")
}

#[async_trait]
impl ReviewLog for DynamoStore {
    async fn put_review(
        &self,
        workflow: &str,
        at: DateTime<Utc>,
        review: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.put(Item::from([
            (PK.into(), s(review_pk(workflow))),
            (SK.into(), s(format!("AT#{}", ts(at)))),
            ("review".into(), s(review.to_string())),
        ]))
        .await
    }

    async fn reviews(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :at)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(review_pk(workflow)))
            .expression_attribute_values(":at", s("AT#"))
            .scan_index_forward(false)
            .set_limit(Some(i32::try_from(limit).unwrap_or(i32::MAX)))
            .send()
            .await
            .map_err(unavailable)?;
        found
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| Reader(item).json("review"))
            .collect()
    }
}
