//! The statement shapes the tables share: each on a cached statement, with
//! SQLite's errors as [`StoreError::Unavailable`].

use handoff_core::ports::StoreError;
use rusqlite::{Connection, OptionalExtension, Params, Row};

use super::{unavailable, SqliteStore};

/// Runs a write; returns how many rows it changed.
pub(super) fn execute(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute(params))
        .map_err(unavailable)
}

/// Every row the query returns, in its order.
pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.query_map(params, row)?.collect())
        .map_err(unavailable)
}

impl SqliteStore {
    /// The one text column `sql` selects from the row `key` finds, looked
    /// up in place.
    pub(super) async fn lookup_text(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = key.to_string();
        self.lookup(move |conn| {
            conn.prepare_cached(sql)
                .and_then(|mut st| st.query_row([&key], |row| row.get(0)).optional())
                .map_err(unavailable)
        })
        .await
    }
}
