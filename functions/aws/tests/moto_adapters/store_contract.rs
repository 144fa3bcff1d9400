//! The run store contract (`handoff_core::testing::store_contract`) against
//! a fresh table on moto: DynamoDB keeps the semantics the memory reference
//! and SQLite keep.

use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;

use crate::support::{sdk_config, table};

async fn store(_: &str) -> ((), Arc<DynamoStore>) {
    ((), Arc::new(table(&sdk_config().await).await))
}

handoff_core::store_contract_tests!(store);
