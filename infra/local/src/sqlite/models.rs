//! Trained models, versioned: the newest and the one before it are kept, so
//! a reader that has just seen the older one can still load it.

use async_trait::async_trait;
use handoff_core::ports::*;
use rusqlite::{params, OptionalExtension};

use super::{from_json, to_json, unavailable, SqliteStore};

#[async_trait]
impl ModelArtifacts for SqliteStore {
    async fn put_model(&self, meta: &ModelMeta, body: &[u8]) -> Result<(), StoreError> {
        let (workflow, task, version) = (meta.workflow.clone(), meta.task.clone(), meta.version);
        let json = to_json(meta)?;
        let body = body.to_vec();
        self.write(move |conn| {
            let newest: Option<i64> = conn
                .prepare_cached("SELECT MAX(version) FROM models WHERE workflow = ?1 AND task = ?2")
                .and_then(|mut st| st.query_row(params![workflow, task], |row| row.get(0)))
                .map_err(unavailable)?;
            let version = i64::try_from(version)
                .map_err(|_| StoreError::Conflict(format!("model version {version} too large")))?;
            if let Some(newest) = newest.filter(|&n| n >= version) {
                return Err(StoreError::Conflict(format!(
                    "model version {version} is not newer than {newest}"
                )));
            }
            conn.prepare_cached(
                "INSERT INTO models (workflow, task, version, meta, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| st.execute(params![workflow, task, version, json, body]))
            .map_err(unavailable)?;
            if let Some(previous) = newest {
                conn.prepare_cached(
                    "DELETE FROM models WHERE workflow = ?1 AND task = ?2 AND version < ?3",
                )
                .and_then(|mut st| st.execute(params![workflow, task, previous]))
                .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn latest_model(
        &self,
        workflow: &str,
        task: &str,
    ) -> Result<Option<ModelMeta>, StoreError> {
        let (workflow, task) = (workflow.to_string(), task.to_string());
        self.lookup(move |conn| {
            let text: Option<String> = conn
                .prepare_cached(
                    "SELECT meta FROM models WHERE workflow = ?1 AND task = ?2
                     ORDER BY version DESC LIMIT 1",
                )
                .and_then(|mut st| {
                    st.query_row(params![workflow, task], |row| row.get(0))
                        .optional()
                })
                .map_err(unavailable)?;
            text.map(|t| from_json("model meta", &t)).transpose()
        })
        .await
    }

    async fn model_body(&self, meta: &ModelMeta) -> Result<Option<Vec<u8>>, StoreError> {
        let (workflow, task) = (meta.workflow.clone(), meta.task.clone());
        let version = i64::try_from(meta.version).unwrap_or(i64::MAX);
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT body FROM models WHERE workflow = ?1 AND task = ?2 AND version = ?3",
            )
            .and_then(|mut st| {
                st.query_row(params![workflow, task, version], |row| row.get(0))
                    .optional()
            })
            .map_err(unavailable)
        })
        .await
    }
}
