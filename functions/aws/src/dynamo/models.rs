//! Trained models: `MODEL#<workflow>#<task>` / `LATEST` names the newest
//! version (its meta as JSON); `MODEL#…` / `V#<version>#<part>` hold each
//! version's body, gzipped and cut into parts under the item size limit.
//! The parts are written before the pointer moves, so a reader never finds
//! a pointer without its body; a replaced version's parts get the table's
//! TTL an hour out, time enough for a reader that has just seen it.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use handoff_core::ports::*;

use super::codec::*;
use super::{unavailable, DynamoStore};

const LATEST: &str = "LATEST";
const REPLACED_MODEL_TTL_SECONDS: i64 = 3600;

fn model_pk(workflow: &str, task: &str) -> String {
    format!("MODEL#{workflow}#{task}")
}

/// Zero-padded, so parts sort by version, then part.
fn version_prefix(version: u64) -> String {
    format!("V#{version:020}#")
}

#[async_trait]
impl ModelArtifacts for DynamoStore {
    async fn put_model(&self, meta: &ModelMeta, body: &[u8]) -> Result<(), StoreError> {
        let pk = model_pk(&meta.workflow, &meta.task);
        let packed = gzip(body);
        let parts: Vec<&[u8]> = packed.chunks(EVENT_PART_BYTES).collect();
        for (i, part) in parts.iter().enumerate() {
            self.put(Item::from([
                (PK.into(), s(pk.clone())),
                (
                    SK.into(),
                    s(format!("{}{i:03}", version_prefix(meta.version))),
                ),
                ("body_gz".into(), AttributeValue::B(Blob::new(*part))),
                ("parts".into(), n(parts.len())),
            ]))
            .await?;
        }
        let pointer = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Item::from([
                (PK.into(), s(pk.clone())),
                (SK.into(), s(LATEST)),
                ("version".into(), n(meta.version)),
                (
                    "meta".into(),
                    s(serde_json::to_string(meta).expect("model meta serialises")),
                ),
            ])))
            .condition_expression("attribute_not_exists(#pk) OR #version < :version")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(meta.version))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let previous = match pointer {
            Ok(out) => out
                .attributes
                .map(|old| Reader(&old).number("version"))
                .transpose()?,
            Err(err) => {
                // Ours lost: its parts are garbage now.
                self.expire_version(&pk, meta.version).await?;
                return Err(match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(_)) => {
                        StoreError::Conflict(format!(
                            "model version {} is not newer than the stored one",
                            meta.version
                        ))
                    }
                    _ => unavailable(err),
                });
            }
        };
        if let Some(previous) = previous {
            self.expire_version(&pk, u64::try_from(previous).unwrap_or(0))
                .await?;
        }
        Ok(())
    }

    async fn latest_model(
        &self,
        workflow: &str,
        task: &str,
    ) -> Result<Option<ModelMeta>, StoreError> {
        self.get(model_pk(workflow, task), LATEST)
            .await?
            .map(|item| Reader(&item).json("meta"))
            .transpose()
    }

    async fn model_body(&self, meta: &ModelMeta) -> Result<Option<Vec<u8>>, StoreError> {
        let items = self
            .query_prefix(
                model_pk(&meta.workflow, &meta.task),
                &version_prefix(meta.version),
                true,
                None,
            )
            .await?;
        let Some(first) = items.first() else {
            return Ok(None);
        };
        let parts = Reader(first).number("parts")? as usize;
        if items.len() != parts {
            return Err(StoreError::Unavailable(format!(
                "model {} of {}: {} of {parts} parts",
                meta.version,
                meta.task,
                items.len()
            )));
        }
        gunzip_parts(&items, "body_gz").map(Some)
    }
}

impl DynamoStore {
    /// Gives a version's parts the TTL: DynamoDB deletes them in its own time.
    async fn expire_version(&self, pk: &str, version: u64) -> Result<(), StoreError> {
        let at = chrono::Utc::now().timestamp() + REPLACED_MODEL_TTL_SECONDS;
        for item in self
            .query_prefix(pk.to_string(), &version_prefix(version), true, None)
            .await?
        {
            self.client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(pk))
                .key(SK, s(Reader(&item).str(SK)?))
                .update_expression("SET expires_at = :at")
                .expression_attribute_values(":at", n(at))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}
