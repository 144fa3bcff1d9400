//! The local runtime's own tables: executions with their open task tokens,
//! the intake queue (SQS semantics) and the outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoff_core::domain::{AuditEvent, CanonicalEvent, DedupeKey, Run};
use handoff_core::ports::{Created, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::runs::NewRun;
use super::{parse_ts, snapshot, ts, unavailable, SqliteStore};
use crate::store::{
    ExecutionLog, IntakeQueue, Outbox, OutboxEntry, ReceivedMessage, StoredExecution,
};

const EXECUTION_COLUMNS: &str = "name, state, status, next_wake, updated_at";

struct RawExecution {
    name: String,
    state: String,
    status: String,
    next_wake: Option<String>,
    updated_at: String,
}

fn execution_from_row(row: &Row<'_>) -> rusqlite::Result<RawExecution> {
    Ok(RawExecution {
        name: row.get(0)?,
        state: row.get(1)?,
        status: row.get(2)?,
        next_wake: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

impl RawExecution {
    /// With the execution's history events, read on the same connection.
    fn decode(self, conn: &Connection) -> Result<StoredExecution, StoreError> {
        let history = conn
            .prepare_cached("SELECT id, event FROM history WHERE execution = ?1 ORDER BY id")
            .and_then(|mut st| {
                st.query_map([&self.name], |row| {
                    Ok((row.get::<_, i64>(0)? as u64, row.get(1)?))
                })?
                .collect::<rusqlite::Result<_>>()
            })
            .map_err(unavailable)?;
        Ok(StoredExecution {
            state: self.state,
            history,
            next_wake: self.next_wake.as_deref().map(parse_ts).transpose()?,
            updated_at: parse_ts(&self.updated_at)?,
            name: self.name,
            status: self.status,
        })
    }
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

    /// Appends the history events the row carries.
    fn append_history(&self, conn: &Connection) -> Result<(), StoreError> {
        if self.history.is_empty() {
            return Ok(());
        }
        let mut insert = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO history (execution, id, event) VALUES (?1, ?2, ?3)",
            )
            .map_err(unavailable)?;
        for (id, event) in &self.history {
            insert
                .execute(params![self.name, *id as i64, event])
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[async_trait]
impl ExecutionLog for SqliteStore {
    async fn create_execution(&self, execution: &StoredExecution) -> Result<bool, StoreError> {
        let row = ExecutionRow::new(execution)?;
        self.write(move |conn| {
            let added = conn
                .prepare_cached(&format!(
                    "INSERT OR IGNORE INTO executions ({EXECUTION_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5)"
                ))
                .and_then(|mut st| {
                    st.execute(params![
                        row.name,
                        row.state,
                        row.status,
                        row.next_wake,
                        row.updated_at
                    ])
                })
                .map_err(unavailable)?;
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
            conn.prepare_cached(&format!(
                "INSERT INTO executions ({EXECUTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET state = excluded.state,
                     status = excluded.status, next_wake = excluded.next_wake,
                     updated_at = excluded.updated_at"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    row.name,
                    row.state,
                    row.status,
                    row.next_wake,
                    row.updated_at
                ])
            })
            .map_err(unavailable)?;
            row.append_history(conn)?;
            conn.prepare_cached("DELETE FROM task_tokens WHERE execution = ?1")
                .and_then(|mut st| st.execute([&row.name]))
                .map_err(unavailable)?;
            if !tokens.is_empty() {
                let mut insert = conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO task_tokens (token, execution) VALUES (?1, ?2)",
                    )
                    .map_err(unavailable)?;
                for token in &tokens {
                    insert
                        .execute(params![token, row.name])
                        .map_err(unavailable)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn load_execution(&self, name: &str) -> Result<Option<StoredExecution>, StoreError> {
        let name = name.to_string();
        self.lookup(move |conn| {
            snapshot(conn, |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions WHERE name = ?1"
                ))
                .and_then(|mut st| st.query_row([&name], execution_from_row).optional())
                .map_err(unavailable)?
                .map(|raw| raw.decode(conn))
                .transpose()
            })
        })
        .await
    }

    async fn execution_status(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.lookup(move |conn| {
            conn.prepare_cached("SELECT status FROM executions WHERE name = ?1")
                .and_then(|mut st| st.query_row([&name], |row| row.get(0)).optional())
                .map_err(unavailable)
        })
        .await
    }

    /// In name order.
    async fn running_executions(&self) -> Result<Vec<StoredExecution>, StoreError> {
        self.read(|conn| {
            snapshot(conn, |conn| {
                let raw: Vec<RawExecution> = conn
                    .prepare_cached(&format!(
                        "SELECT {EXECUTION_COLUMNS} FROM executions
                         WHERE status = 'RUNNING' ORDER BY name"
                    ))
                    .and_then(|mut st| {
                        st.query_map([], execution_from_row)?
                            .collect::<rusqlite::Result<_>>()
                    })
                    .map_err(unavailable)?;
                raw.into_iter().map(|r| r.decode(conn)).collect()
            })
        })
        .await
    }

    async fn execution_for_token(&self, token: &str) -> Result<Option<String>, StoreError> {
        let token = token.to_string();
        self.lookup(move |conn| {
            conn.prepare_cached("SELECT execution FROM task_tokens WHERE token = ?1")
                .and_then(|mut st| st.query_row([&token], |row| row.get(0)).optional())
                .map_err(unavailable)
        })
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
        let batch: Vec<(i64, String, i64)> = conn
            .prepare_cached(
                "SELECT seq, body, receive_count FROM queue
                 WHERE dead = 0 AND seq > ?3 AND visible_at <= ?1 ORDER BY seq LIMIT ?2",
            )
            .and_then(|mut st| {
                st.query_map(params![now_ms, want as i64, after], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()
            })
            .map_err(unavailable)?;
        if batch.is_empty() {
            break;
        }
        for (seq, body, count) in batch {
            after = seq;
            if max_receive_count > 0 && count >= i64::from(max_receive_count) {
                conn.prepare_cached("UPDATE queue SET dead = 1 WHERE seq = ?1")
                    .and_then(|mut st| st.execute([seq]))
                    .map_err(unavailable)?;
                continue;
            }
            let count = count + 1;
            let handle = receipt(seq, count);
            conn.prepare_cached(
                "UPDATE queue SET receive_count = ?2, visible_at = ?3, receipt = ?4
                 WHERE seq = ?1",
            )
            .and_then(|mut st| st.execute(params![seq, count, hidden_until, handle]))
            .map_err(unavailable)?;
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
            conn.prepare_cached("DELETE FROM queue WHERE seq = ?1 AND receipt = ?2")
                .and_then(|mut st| st.execute(params![seq, receipt]))
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Oldest first.
    async fn dead_letters(&self) -> Result<Vec<ReceivedMessage>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT seq, body, receive_count, receipt FROM queue WHERE dead = 1 ORDER BY seq",
            )
            .and_then(|mut st| {
                st.query_map([], |row| {
                    Ok(received(row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()
            })
            .map_err(unavailable)
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
            let rows: Vec<(String, OutboxEntry)> = conn
                .prepare_cached(
                    "SELECT id, at, kind, run_id, target, subject, body, link, delivered
                     FROM outbox ORDER BY id DESC LIMIT ?1",
                )
                .and_then(|mut st| {
                    st.query_map([limit as i64], |row| {
                        Ok((
                            row.get(1)?,
                            OutboxEntry {
                                id: row.get(0)?,
                                at: DateTime::<Utc>::MIN_UTC,
                                kind: row.get(2)?,
                                run_id: row.get(3)?,
                                target: row.get(4)?,
                                subject: row.get(5)?,
                                body: row.get(6)?,
                                link: row.get(7)?,
                                delivered: row.get(8)?,
                            },
                        ))
                    })?
                    .collect::<rusqlite::Result<_>>()
                })
                .map_err(unavailable)?;
            rows.into_iter()
                .map(|(at, mut entry)| {
                    entry.at = parse_ts(&at)?;
                    Ok(entry)
                })
                .collect()
        })
        .await
    }
}
