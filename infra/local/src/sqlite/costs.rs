//! The reason stage's cost control: billed answers kept by question until
//! they expire, and each workflow's tokens per day added in one UPSERT.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use handoff_core::ports::*;
use rusqlite::{params, OptionalExtension};

use super::{from_json, to_json, unavailable, SqliteStore};

#[async_trait]
impl ModelCache for SqliteStore {
    async fn get_cached(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CachedAnswer>, StoreError> {
        let key = key.to_string();
        self.lookup(move |conn| {
            let text: Option<String> = conn
                .prepare_cached("SELECT answer FROM model_cache WHERE key = ?1 AND expires_at > ?2")
                .and_then(|mut st| {
                    st.query_row(params![key, now.timestamp()], |row| row.get(0))
                        .optional()
                })
                .map_err(unavailable)?;
            text.map(|t| from_json("cached answer", &t)).transpose()
        })
        .await
    }

    /// Also deletes the entries that have expired (by the wall clock), so
    /// the table holds about a TTL's worth of answers.
    async fn put_cached(
        &self,
        key: &str,
        answer: &CachedAnswer,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = key.to_string();
        let answer = to_json(answer)?;
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM model_cache WHERE expires_at <= ?1")
                .and_then(|mut st| st.execute([Utc::now().timestamp()]))
                .map_err(unavailable)?;
            conn.prepare_cached(
                "INSERT INTO model_cache (key, answer, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE
                 SET answer = excluded.answer, expires_at = excluded.expires_at",
            )
            .and_then(|mut st| st.execute(params![key, answer, expires_at.timestamp()]))
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl TokenLedger for SqliteStore {
    async fn spend(&self, workflow: &str, day: NaiveDate, tokens: u64) -> Result<u64, StoreError> {
        let (workflow, day) = (workflow.to_string(), day.to_string());
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        self.write(move |conn| {
            let total: i64 = conn
                .prepare_cached(
                    "INSERT INTO token_ledger (workflow, day, tokens) VALUES (?1, ?2, ?3)
                     ON CONFLICT (workflow, day) DO UPDATE SET tokens = tokens + excluded.tokens
                     RETURNING tokens",
                )
                .and_then(|mut st| st.query_row(params![workflow, day, tokens], |row| row.get(0)))
                .map_err(unavailable)?;
            Ok(total.max(0) as u64)
        })
        .await
    }

    async fn spent(&self, workflow: &str, day: NaiveDate) -> Result<u64, StoreError> {
        let (workflow, day) = (workflow.to_string(), day.to_string());
        self.lookup(move |conn| {
            let total: Option<i64> = conn
                .prepare_cached("SELECT tokens FROM token_ledger WHERE workflow = ?1 AND day = ?2")
                .and_then(|mut st| {
                    st.query_row(params![workflow, day], |row| row.get(0))
                        .optional()
                })
                .map_err(unavailable)?;
            Ok(total.unwrap_or(0).max(0) as u64)
        })
        .await
    }
}
