//! The local runtime's own tables: executions with their open task tokens,
//! the intake queue (SQS semantics) and the outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoff_core::domain::{AuditEvent, CanonicalEvent, DedupeKey, Run};
use handoff_core::ports::{Created, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

use super::query::{execute, query_all};
use super::runs::NewRun;
use super::{parse_ts, snapshot, ts, unavailable, SqliteStore};
use crate::store::{
    ExecutionLog, IntakeQueue, Outbox, OutboxEntry, ReceivedMessage, StoredExecution,
};

const EXECUTION_COLUMNS: &str = "name, state, status, next_wake, updated_at";

/// An execution row as text, in `EXECUTION_COLUMNS` order: name, state,
/// status, next wake, updated at.
type RawExecution = (String, String, String, Option<String>, String);

/// The execution with its history events, read on the same connection.
fn decode_execution(
    conn: &Connection,
    (name, state, status, next_wake, updated_at): RawExecution,
) -> Result<StoredExecution, StoreError> {
    let history = query_all(
        conn,
        "SELECT id, event FROM history WHERE execution = ?1 ORDER BY id",
        [&name],
        |row| Ok((row.get::<_, i64>(0)? as u64, row.get(1)?)),
    )?;
    Ok(StoredExecution {
        name,
        state,
        history,
        status,
        next_wake: next_wake.as_deref().map(parse_ts).transpose()?,
        updated_at: parse_ts(&updated_at)?,
    })
}

/// An execution's columns, serialised before leaving the async side.
struct ExecutionRow {
    name: String,
    state: String,
    history: Vec<(u64, String)>,
    status: String,
    next_wake: Option<String>,
    updated_at: String,
}

impl ExecutionRow {
    fn new(e: &StoredExecution) -> Result<Self, StoreError> {
        Ok(Self {
            name: e.name.clone(),
            state: e.state.clone(),
            history: e.history.clone(),
            status: e.status.clone(),
            next_wake: e.next_wake.map(ts),
            updated_at: ts(e.updated_at),
        })
    }

    /// Runs `sql`, an insert into `executions` of `EXECUTION_COLUMNS`, with
    /// this row's values; returns how many rows it changed.
    fn insert(&self, conn: &Connection, sql: &str) -> Result<usize, StoreError> {
        let (name, state, status) = (&self.name, &self.state, &self.status);
        execute(
            conn,
            sql,
            params![name, state, status, self.next_wake, self.updated_at],
        )
    }

    /// Appends the history events the row carries.
    fn append_history(&self, conn: &Connection) -> Result<(), StoreError> {
        for (id, event) in &self.history {
            execute(
                conn,
                "INSERT OR REPLACE INTO history (execution, id, event) VALUES (?1, ?2, ?3)",
                params![self.name, *id as i64, event],
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl ExecutionLog for SqliteStore {
    async fn create_execution(&self, execution: &StoredExecution) -> Result<bool, StoreError> {
        let row = ExecutionRow::new(execution)?;
        self.write(move |conn| {
            let added = row.insert(
                conn,
                &format!(
                    "INSERT OR IGNORE INTO executions ({EXECUTION_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5)"
                ),
            )?;
            if added == 1 {
                row.append_history(conn)?;
            }
            Ok(added == 1)
        })
        .await
    }

    /// Upserts the execution and makes `open_tokens` its whole token set, in
    /// one transaction.
    async fn save_execution(
        &self,
        execution: &StoredExecution,
        open_tokens: &[String],
    ) -> Result<(), StoreError> {
        let row = ExecutionRow::new(execution)?;
        let tokens = open_tokens.to_vec();
        self.write(move |conn| {
            row.insert(
                conn,
                &format!(
                    "INSERT INTO executions ({EXECUTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (name) DO UPDATE SET state = excluded.state,
                         status = excluded.status, next_wake = excluded.next_wake,
                         updated_at = excluded.updated_at"
                ),
            )?;
            row.append_history(conn)?;
            execute(
                conn,
                "DELETE FROM task_tokens WHERE execution = ?1",
                [&row.name],
            )?;
            for token in &tokens {
                execute(
                    conn,
                    "INSERT OR REPLACE INTO task_tokens (token, execution) VALUES (?1, ?2)",
                    params![token, row.name],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn load_execution(&self, name: &str) -> Result<Option<StoredExecution>, StoreError> {
        let name = name.to_string();
        self.lookup(move |conn| {
            snapshot(conn, |conn| {
                let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE name = ?1");
                let raw = conn
                    .prepare_cached(&sql)
                    .and_then(|mut st| {
                        st.query_row([&name], |row| RawExecution::try_from(row))
                            .optional()
                    })
                    .map_err(unavailable)?;
                raw.map(|raw| decode_execution(conn, raw)).transpose()
            })
        })
        .await
    }

    async fn execution_status(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.lookup_text("SELECT status FROM executions WHERE name = ?1", name)
            .await
    }

    /// In name order.
    async fn running_executions(&self) -> Result<Vec<StoredExecution>, StoreError> {
        self.read(|conn| {
            snapshot(conn, |conn| {
                let sql = format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions
                     WHERE status = 'RUNNING' ORDER BY name"
                );
                let raw = query_all(conn, &sql, [], |row| RawExecution::try_from(row))?;
                raw.into_iter().map(|r| decode_execution(conn, r)).collect()
            })
        })
        .await
    }

    async fn execution_for_token(&self, token: &str) -> Result<Option<String>, StoreError> {
        self.lookup_text("SELECT execution FROM task_tokens WHERE token = ?1", token)
            .await
    }
}

fn message_id(seq: i64) -> String {
    format!("msg-{seq:012}")
}

/// Unique per receive: the receive count rises with each one, and sequence
/// numbers are never reused, so a stale receipt deletes nothing.
fn receipt(seq: i64, receive_count: i64) -> String {
    format!("{}.{receive_count}", message_id(seq))
}

/// The message sequence number a [`receipt`] carries, so a delete finds its
/// row by primary key.
fn receipt_seq(receipt: &str) -> Option<i64> {
    receipt
        .strip_prefix("msg-")?
        .split_once('.')?
        .0
        .parse()
        .ok()
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn received(
    seq: i64,
    body: String,
    receive_count: i64,
    receipt: Option<String>,
) -> ReceivedMessage {
    ReceivedMessage {
        id: message_id(seq),
        receipt: receipt.unwrap_or_default(),
        body,
        receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
    }
}

/// One receive, all or nothing (one write job): the oldest visible messages,
/// each either handed out (count + 1, hidden until the visibility timeout
/// ends) or, having been received `max_receive_count` times already, moved
/// to the dead-letter queue. `max_receive_count` 0: no dead-lettering.
fn receive_batch(
    conn: &Connection,
    max: usize,
    visibility_seconds: u64,
    max_receive_count: u32,
    now: DateTime<Utc>,
) -> Result<Vec<ReceivedMessage>, StoreError> {
    let now_ms = millis(now);
    let hidden_until =
        now_ms.saturating_add(i64::try_from(visibility_seconds).unwrap_or(i64::MAX / 2000) * 1000);
    let mut out = Vec::with_capacity(max.min(64));
    // Past every message looked at, so a zero visibility timeout cannot
    // hand the same message out twice in one receive.
    let mut after = 0i64;
    loop {
        let want = max - out.len();
        if want == 0 {
            break;
        }
        let batch = query_all(
            conn,
            "SELECT seq, body, receive_count FROM queue
             WHERE dead = 0 AND seq > ?3 AND visible_at <= ?1 ORDER BY seq LIMIT ?2",
            params![now_ms, want as i64, after],
            |row| <(i64, String, i64)>::try_from(row),
        )?;
        if batch.is_empty() {
            break;
        }
        for (seq, body, count) in batch {
            after = seq;
            if max_receive_count > 0 && count >= i64::from(max_receive_count) {
                execute(conn, "UPDATE queue SET dead = 1 WHERE seq = ?1", [seq])?;
                continue;
            }
            let count = count + 1;
            let handle = receipt(seq, count);
            execute(
                conn,
                "UPDATE queue SET receive_count = ?2, visible_at = ?3, receipt = ?4
                 WHERE seq = ?1",
                params![seq, count, hidden_until, handle],
            )?;
            out.push(received(seq, body, count, Some(handle)));
        }
    }
    Ok(out)
}

/// Queues `body`; returns the message id.
fn insert_message(conn: &Connection, body: &str, now: DateTime<Utc>) -> Result<String, StoreError> {
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO queue (body, sent_at, visible_at) VALUES (?1, ?2, ?3)
             RETURNING seq",
        )
        .and_then(|mut st| st.query_row(params![body, ts(now), millis(now)], |row| row.get(0)))
        .map_err(unavailable)?;
    Ok(message_id(seq))
}

impl SqliteStore {
    /// `create_run` and, for a new run, `send(message)`, in one
    /// transaction: intake's two writes in one round trip, and never a
    /// stored run without its message.
    pub async fn create_run_queued(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        let new = NewRun::new(run, event, dedupe, received)?;
        let message = message.to_string();
        self.write(move |conn| {
            let created = new.insert(conn)?;
            if created == Created::New {
                insert_message(conn, &message, now)?;
            }
            Ok(created)
        })
        .await
    }
}

#[async_trait]
impl IntakeQueue for SqliteStore {
    async fn send(&self, body: &str, now: DateTime<Utc>) -> Result<String, StoreError> {
        let body = body.to_string();
        self.write(move |conn| insert_message(conn, &body, now))
            .await
    }

    async fn receive(
        &self,
        max: usize,
        visibility_seconds: u64,
        max_receive_count: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReceivedMessage>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.write(move |conn| receive_batch(conn, max, visibility_seconds, max_receive_count, now))
            .await
    }

    /// Deletes the message this receipt was handed out with, if that receive
    /// is still the latest; an unknown or stale receipt deletes nothing.
    async fn delete(&self, receipt: &str) -> Result<(), StoreError> {
        // A receipt that names no message deletes nothing, as a stale one.
        let Some(seq) = receipt_seq(receipt) else {
            return Ok(());
        };
        let receipt = receipt.to_string();
        self.write(move |conn| {
            let sql = "DELETE FROM queue WHERE seq = ?1 AND receipt = ?2";
            execute(conn, sql, params![seq, receipt]).map(drop)
        })
        .await
    }

    /// Oldest first.
    async fn dead_letters(&self) -> Result<Vec<ReceivedMessage>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                "SELECT seq, body, receive_count, receipt FROM queue WHERE dead = 1 ORDER BY seq",
                [],
                |row| Ok(received(row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
        })
        .await
    }

    async fn depth(&self) -> Result<usize, StoreError> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached("SELECT count(*) FROM queue WHERE dead = 0")
                .and_then(|mut st| st.query_row([], |row| row.get(0)))
                .map_err(unavailable)?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }
}

/// An outbox row as read, in column order; `at` still text.
type RawOutboxEntry = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
);

#[async_trait]
impl Outbox for SqliteStore {
    /// Stores the entry under a new id (the entry's own `id` is ignored).
    async fn record(&self, entry: &OutboxEntry) -> Result<i64, StoreError> {
        let e = entry.clone();
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO outbox (at, kind, run_id, target, subject, body, link, delivered)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![
                        ts(e.at),
                        e.kind,
                        e.run_id,
                        e.target,
                        e.subject,
                        e.body,
                        e.link,
                        e.delivered
                    ],
                    |row| row.get(0),
                )
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn entries(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.read(move |conn| {
            let rows = query_all(
                conn,
                "SELECT id, at, kind, run_id, target, subject, body, link, delivered
                 FROM outbox ORDER BY id DESC LIMIT ?1",
                [limit as i64],
                |row| RawOutboxEntry::try_from(row),
            )?;
            rows.into_iter()
                .map(
                    |(id, at, kind, run_id, target, subject, body, link, delivered)| {
                        let at = parse_ts(&at)?;
                        Ok(OutboxEntry {
                            id,
                            at,
                            kind,
                            run_id,
                            target,
                            subject,
                            body,
                            link,
                            delivered,
                        })
                    },
                )
                .collect()
        })
        .await
    }
}
