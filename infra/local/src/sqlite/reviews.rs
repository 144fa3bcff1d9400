//! Accuracy reviews, a history per workflow.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoff_core::ports::*;
use rusqlite::params;

use super::{from_json, to_json, ts, unavailable, SqliteStore};

#[async_trait]
impl ReviewLog for SqliteStore {
    async fn put_review(
        &self,
        workflow: &str,
        at: DateTime<Utc>,
        review: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let (workflow, at, body) = (workflow.to_string(), ts(at), to_json(review)?);
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO reviews (workflow, at, body) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![workflow, at, body]))
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn reviews(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let workflow = workflow.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let bodies: Vec<String> = conn
                .prepare_cached(
                    "SELECT body FROM reviews WHERE workflow = ?1 ORDER BY at DESC LIMIT ?2",
                )
                .and_then(|mut st| {
                    st.query_map(params![workflow, limit], |row| row.get(0))?
                        .collect()
                })
                .map_err(unavailable)?;
            bodies.iter().map(|b| from_json("review", b)).collect()
        })
        .await
    }
}
