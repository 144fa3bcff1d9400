//! The core's run store ports. Status changes are conditional UPDATEs
//! (`WHERE ... AND status = ...`); the row count tells success, and only a
//! failed one reads again to tell a conflict from a missing row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoff_core::domain::*;
use handoff_core::ports::*;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{from_json, parse_ts, to_json, ts, unavailable, SqliteStore};

const RUN_COLUMNS: &str =
    "id, workflow, status, stage, delivery_id, sender, created_at, updated_at, summary";

fn page_limit(limit: usize) -> usize {
    if limit == 0 {
        50
    } else {
        limit
    }
}

/// Keyset cursor: the sort key (`created_at`, `id`) of a page's last item.
fn encode_cursor(at: &str, id: &str) -> String {
    format!("{at}|{id}")
}

fn decode_cursor(cursor: &str) -> Result<(String, String), StoreError> {
    cursor
        .split_once('|')
        .map(|(at, id)| (at.to_string(), id.to_string()))
        .ok_or_else(|| StoreError::Conflict(format!("bad cursor {cursor:?}")))
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: row.get(0)?,
        workflow: row.get(1)?,
        status: row.get(2)?,
        stage: row.get(3)?,
        delivery_id: row.get(4)?,
        sender: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        summary: row.get(8)?,
    })
}

/// A run row as text, decoded outside rusqlite's row closure so decoding
/// errors keep their own message.
struct RawRun {
    id: String,
    workflow: String,
    status: String,
    stage: String,
    delivery_id: String,
    sender: Option<String>,
    created_at: String,
    updated_at: String,
    summary: String,
}

impl RawRun {
    fn decode(self) -> Result<Run, StoreError> {
        Ok(Run {
            status: RunStatus::parse(&self.status)
                .ok_or_else(|| super::corrupt("run status", &self.status))?,
            stage: from_json(
                "run stage",
                &serde_json::Value::String(self.stage).to_string(),
            )?,
            id: RunId(self.id),
            workflow: self.workflow,
            delivery_id: self.delivery_id,
            sender: self.sender,
            created_at: parse_ts(&self.created_at)?,
            updated_at: parse_ts(&self.updated_at)?,
            summary: from_json("run summary", &self.summary)?,
        })
    }
}

fn load_run(conn: &Connection, id: &str) -> Result<Option<Run>, StoreError> {
    conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
        .and_then(|mut st| st.query_row([id], run_from_row).optional())
        .map_err(unavailable)?
        .map(RawRun::decode)
        .transpose()
}

fn approval_status_str(status: ApprovalStatus) -> &'static str {
    match status {
        ApprovalStatus::Pending => "pending",
        ApprovalStatus::Approved => "approved",
        ApprovalStatus::Rejected => "rejected",
        ApprovalStatus::Expired => "expired",
    }
}

fn parse_approval_status(text: &str) -> Result<ApprovalStatus, StoreError> {
    from_json(
        "approval status",
        &serde_json::Value::String(text.into()).to_string(),
    )
}

const APPROVAL_COLUMNS: &str = "id, status, decided_at, body, task_token";

struct RawApproval {
    id: String,
    status: String,
    decided_at: Option<String>,
    body: String,
    task_token: String,
}

fn approval_from_row(row: &Row<'_>) -> rusqlite::Result<RawApproval> {
    Ok(RawApproval {
        id: row.get(0)?,
        status: row.get(1)?,
        decided_at: row.get(2)?,
        body: row.get(3)?,
        task_token: row.get(4)?,
    })
}

impl RawApproval {
    /// The approval as put, with its current status, decision time and
    /// votes (in the order they were cast).
    fn decode(self, conn: &Connection) -> Result<Approval, StoreError> {
        let mut approval: Approval = from_json("approval", &self.body)?;
        approval.task_token = TaskToken::new(self.task_token);
        approval.status = parse_approval_status(&self.status)?;
        approval.decided_at = self.decided_at.as_deref().map(parse_ts).transpose()?;
        let votes: Vec<String> = conn
            .prepare_cached("SELECT vote FROM votes WHERE approval_id = ?1 ORDER BY seq")
            .and_then(|mut st| {
                st.query_map([&self.id], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(unavailable)?;
        approval.votes = votes
            .iter()
            .map(|v| from_json("vote", v))
            .collect::<Result<_, _>>()?;
        Ok(approval)
    }
}

fn load_approval(conn: &Connection, id: &str) -> Result<Option<Approval>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1"
        ))
        .and_then(|mut st| st.query_row([id], approval_from_row).optional())
        .map_err(unavailable)?;
    raw.map(|r| r.decode(conn)).transpose()
}

#[async_trait]
impl Runs for SqliteStore {
    async fn create_run(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Created, StoreError> {
        let new = NewRun::new(run, event, dedupe, received)?;
        self.write(move |conn| new.insert(conn)).await
    }

    /// One conditional upsert: it takes the record only if the record is
    /// free, or past its expiry (a delivery id may look like a key's
    /// record); whoever holds it then is the answer.
    async fn claim_business_key(
        &self,
        workflow: &str,
        key: &str,
        run: &RunId,
    ) -> Result<RunId, StoreError> {
        let claim = DedupeClaim::business_key(key);
        let (workflow, run) = (workflow.to_string(), run.0.clone());
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO dedupe (workflow, delivery_id, run_id, expires_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workflow, delivery_id) DO UPDATE
                 SET run_id = excluded.run_id, expires_at = excluded.expires_at
                 WHERE dedupe.expires_at < ?5",
            )
            .and_then(|mut st| {
                st.execute(params![
                    workflow,
                    claim.key,
                    run,
                    i64::MAX,
                    Utc::now().timestamp()
                ])
            })
            .map_err(unavailable)?;
            let holder: String = conn
                .prepare_cached(
                    "SELECT run_id FROM dedupe WHERE workflow = ?1 AND delivery_id = ?2",
                )
                .and_then(|mut st| st.query_row(params![workflow, claim.key], |row| row.get(0)))
                .map_err(unavailable)?;
            Ok(RunId(holder))
        })
        .await
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let id = id.0.clone();
        self.lookup(move |conn| load_run(conn, &id)).await
    }

    async fn get_event(&self, id: &RunId) -> Result<Option<CanonicalEvent>, StoreError> {
        let id = id.0.clone();
        self.lookup(move |conn| {
            let text: Option<String> = conn
                .prepare_cached("SELECT event FROM events WHERE run_id = ?1")
                .and_then(|mut st| st.query_row([&id], |row| row.get(0)).optional())
                .map_err(unavailable)?;
            text.map(|t| from_json("event", &t)).transpose()
        })
        .await
    }

    async fn transition(
        &self,
        id: &RunId,
        from: &[RunStatus],
        to: RunStatus,
        stage: Stage,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = id.0.clone();
        let from: Vec<&'static str> = from.iter().map(|s| s.as_str()).collect();
        self.write(move |conn| {
            let placeholders: Vec<String> =
                (0..from.len()).map(|i| format!("?{}", i + 5)).collect();
            let sql = format!(
                "UPDATE runs SET status = ?2, stage = ?3, updated_at = ?4
                 WHERE id = ?1 AND status IN ({})",
                placeholders.join(", ")
            );
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(4 + from.len());
            let (at, to, stage) = (ts(at), to.as_str(), stage.as_str());
            values.push(&id);
            values.push(&to);
            values.push(&stage);
            values.push(&at);
            for status in &from {
                values.push(status);
            }
            let changed = conn
                .prepare_cached(&sql)
                .and_then(|mut st| st.execute(values.as_slice()))
                .map_err(unavailable)?;
            if changed == 1 {
                return Ok(());
            }
            match load_run(conn, &id)? {
                Some(run) => Err(StoreError::Conflict(format!(
                    "{id} is {}, not {from:?}",
                    run.status
                ))),
                None => Err(StoreError::NotFound(id)),
            }
        })
        .await
    }

    /// `json_set` on the stored summary: the given fields only, in one
    /// statement.
    async fn update_summary(&self, id: &RunId, update: &SummaryUpdate) -> Result<(), StoreError> {
        let id = id.0.clone();
        let fields = update.fields();
        let mut sql = String::from("UPDATE runs SET summary = json_set(summary");
        for (i, (name, _)) in fields.iter().enumerate() {
            sql.push_str(&format!(", '$.{name}', json(?{})", i + 2));
        }
        sql.push_str(") WHERE id = ?1");
        let values: Vec<String> = fields.iter().map(|(_, v)| v.to_string()).collect();
        self.write(move |conn| {
            let params: Vec<&dyn rusqlite::ToSql> = std::iter::once(&id as &dyn rusqlite::ToSql)
                .chain(values.iter().map(|v| v as &dyn rusqlite::ToSql))
                .collect();
            let changed = conn
                .prepare_cached(&sql)
                .and_then(|mut st| st.execute(params.as_slice()))
                .map_err(unavailable)?;
            if changed == 0 {
                return Err(StoreError::NotFound(id));
            }
            Ok(())
        })
        .await
    }

    /// Newest first (`created_at`, then id, both descending), keyset paged.
    async fn list_runs(&self, query: &RunQuery) -> Result<Page<Run>, StoreError> {
        let (query, query_limit) = (query.clone(), query.limit);
        let read = move |conn: &Connection| {
            let limit = page_limit(query.limit);
            let mut clauses: Vec<String> = Vec::new();
            let mut values: Vec<String> = Vec::new();
            let mut bind = |clause: &str, value: String, values: &mut Vec<String>| {
                values.push(value);
                clauses.push(clause.replace('?', &format!("?{}", values.len())));
            };
            if let Some(w) = &query.workflow {
                bind("workflow = ?", w.clone(), &mut values);
            }
            if let Some(s) = query.status {
                bind("status = ?", s.as_str().to_string(), &mut values);
            }
            if let Some(s) = &query.sender {
                bind("sender = ?", s.clone(), &mut values);
            }
            if let Some(cursor) = &query.cursor {
                let (at, id) = decode_cursor(cursor)?;
                values.push(at);
                values.push(id);
                let (a, i) = (values.len() - 1, values.len());
                clauses.push(format!("(created_at, id) < (?{a}, ?{i})"));
            }
            let filter = if clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", clauses.join(" AND "))
            };
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs {filter}
                 ORDER BY created_at DESC, id DESC LIMIT {}",
                limit + 1
            );
            let raw: Vec<RawRun> = conn
                .prepare_cached(&sql)
                .and_then(|mut st| {
                    st.query_map(rusqlite::params_from_iter(values.iter()), run_from_row)?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(unavailable)?;
            let more = raw.len() > limit;
            let mut items = raw
                .into_iter()
                .map(RawRun::decode)
                .collect::<Result<Vec<_>, _>>()?;
            items.truncate(limit);
            let next = match (more, items.last()) {
                (true, Some(last)) => Some(encode_cursor(&ts(last.created_at), last.id.as_str())),
                _ => None,
            };
            Ok(Page { items, next })
        };
        // A page of the default size or less is read in place.
        if page_limit(query_limit) <= page_limit(0) {
            self.lookup(read).await
        } else {
            self.read(read).await
        }
    }
}

#[async_trait]
impl RunData for SqliteStore {
    async fn put_slot(
        &self,
        id: &RunId,
        slot: &Slot,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let id = id.0.clone();
        let key = slot.key();
        let value = to_json(value)?;
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO slots (run_id, slot, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id, slot) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut st| st.execute(params![id, key, value]))
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn get_slot(
        &self,
        id: &RunId,
        slot: &Slot,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let id = id.0.clone();
        let key = slot.key();
        self.lookup(move |conn| {
            let text: Option<String> = conn
                .prepare_cached("SELECT value FROM slots WHERE run_id = ?1 AND slot = ?2")
                .and_then(|mut st| st.query_row(params![id, key], |row| row.get(0)).optional())
                .map_err(unavailable)?;
            text.map(|t| from_json("slot", &t)).transpose()
        })
        .await
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let id = event.run_id.0.clone();
        let at = ts(event.at);
        let body = to_json(event)?;
        self.write(move |conn| insert_audit(conn, &id, &at, &body))
            .await
    }

    /// Oldest first; events at the same instant in the order appended.
    async fn trail(&self, id: &RunId) -> Result<Vec<AuditEvent>, StoreError> {
        let id = id.0.clone();
        // A run's own entries: a few dozen, read in place.
        self.lookup(move |conn| {
            let rows: Vec<String> = conn
                .prepare_cached("SELECT event FROM audit WHERE run_id = ?1 ORDER BY at, seq")
                .and_then(|mut st| {
                    st.query_map([&id], |row| row.get(0))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(unavailable)?;
            rows.iter().map(|r| from_json("audit event", r)).collect()
        })
        .await
    }
}

#[async_trait]
impl Approvals for SqliteStore {
    /// Replaces the approval, votes included.
    async fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        let approval = approval.clone();
        let mut body = approval.clone();
        body.votes.clear();
        let body = to_json(&body)?;
        let votes = approval
            .votes
            .iter()
            .map(|v| Ok((v.reviewer.clone(), to_json(v)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO approvals
                     (id, run_id, status, created_at, decided_at, body, task_token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    approval.id.as_str(),
                    approval.run_id.as_str(),
                    approval_status_str(approval.status),
                    ts(approval.created_at),
                    approval.decided_at.map(ts),
                    body,
                    approval.task_token.expose(),
                ])
            })
            .map_err(unavailable)?;
            conn.prepare_cached("DELETE FROM votes WHERE approval_id = ?1")
                .and_then(|mut st| st.execute([approval.id.as_str()]))
                .map_err(unavailable)?;
            {
                let mut insert = conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO votes (approval_id, reviewer, vote) VALUES (?1, ?2, ?3)",
                    )
                    .map_err(unavailable)?;
                for (reviewer, vote) in &votes {
                    insert
                        .execute(params![approval.id.as_str(), reviewer, vote])
                        .map_err(unavailable)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        let id = id.0.clone();
        self.lookup(move |conn| load_approval(conn, &id)).await
    }

    async fn record_vote(&self, id: &ApprovalId, vote: &Vote) -> Result<Approval, StoreError> {
        let id = id.0.clone();
        let reviewer = vote.reviewer.clone();
        let body = to_json(vote)?;
        self.write(move |conn| {
            // Conditional insert: only onto a pending approval, and the
            // (approval, reviewer) key refuses a second vote.
            let added = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO votes (approval_id, reviewer, vote)
                     SELECT id, ?2, ?3 FROM approvals WHERE id = ?1 AND status = 'pending'",
                )
                .and_then(|mut st| st.execute(params![id, reviewer, body]))
                .map_err(unavailable)?;
            let approval = load_approval(conn, &id)?;
            let approval = match (added, approval) {
                (_, None) => return Err(StoreError::NotFound(id)),
                (1, Some(a)) => a,
                (_, Some(a)) if a.status != ApprovalStatus::Pending => {
                    return Err(StoreError::Conflict(format!("approval is {:?}", a.status)))
                }
                (_, Some(_)) => {
                    return Err(StoreError::Conflict(format!("{reviewer} already voted")))
                }
            };
            Ok(approval)
        })
        .await
    }

    async fn close_approval(
        &self,
        id: &ApprovalId,
        to: ApprovalStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = id.0.clone();
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE approvals SET status = ?2, decided_at = ?3, owes_delivery = ?4
                     WHERE id = ?1 AND status = 'pending'",
                )
                .and_then(|mut st| {
                    let owes = matches!(to, ApprovalStatus::Approved | ApprovalStatus::Rejected);
                    st.execute(params![id, approval_status_str(to), ts(at), owes])
                })
                .map_err(unavailable)?;
            if changed == 1 {
                return Ok(());
            }
            let status: Option<String> = conn
                .prepare_cached("SELECT status FROM approvals WHERE id = ?1")
                .and_then(|mut st| st.query_row([&id], |row| row.get(0)).optional())
                .map_err(unavailable)?;
            match status {
                Some(s) => Err(StoreError::Conflict(format!("approval is {s}"))),
                None => Err(StoreError::NotFound(id)),
            }
        })
        .await
    }

    /// Newest first.
    async fn approvals_of_run(&self, run: &RunId) -> Result<Vec<Approval>, StoreError> {
        let run = run.0.clone();
        // A run's own approvals: a handful, read in place.
        self.lookup(move |conn| {
            let raw: Vec<RawApproval> = conn
                .prepare_cached(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE run_id = ?1
                     ORDER BY created_at DESC, id"
                ))
                .and_then(|mut st| {
                    st.query_map([&run], approval_from_row)?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(unavailable)?;
            raw.into_iter().map(|r| r.decode(conn)).collect()
        })
        .await
    }

    /// Oldest first (`created_at`, then id), keyset paged.
    async fn pending_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        self.approvals_page(ApprovalList::Pending, limit, cursor)
            .await
    }

    /// Oldest decision first, keyset paged.
    async fn undelivered_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        self.approvals_page(ApprovalList::Undelivered, limit, cursor)
            .await
    }

    async fn mark_delivered(&self, id: &ApprovalId) -> Result<bool, StoreError> {
        let id = id.0.clone();
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE approvals SET owes_delivery = 0 WHERE id = ?1 AND owes_delivery = 1",
            )
            .and_then(|mut st| st.execute([id]))
            .map(|changed| changed == 1)
            .map_err(unavailable)
        })
        .await
    }
}

/// The two approval lists, each read in its own index's order.
#[derive(Clone, Copy)]
enum ApprovalList {
    /// By `created_at`.
    Pending,
    /// By `decided_at`.
    Undelivered,
}

impl SqliteStore {
    async fn approvals_page(
        &self,
        list: ApprovalList,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        let (filter, order) = match list {
            ApprovalList::Pending => ("status = 'pending'", "created_at"),
            ApprovalList::Undelivered => ("owes_delivery = 1", "decided_at"),
        };
        self.read(move |conn| {
            let limit = page_limit(limit);
            let (after_at, after_id) = match cursor.as_deref() {
                Some(c) => decode_cursor(c)?,
                None => (String::new(), String::new()),
            };
            let raw: Vec<RawApproval> = conn
                .prepare_cached(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals
                     WHERE {filter} AND ({order}, id) > (?1, ?2)
                     ORDER BY {order}, id LIMIT ?3"
                ))
                .and_then(|mut st| {
                    st.query_map(
                        params![after_at, after_id, (limit + 1) as i64],
                        approval_from_row,
                    )?
                    .collect::<rusqlite::Result<_>>()
                })
                .map_err(unavailable)?;
            let more = raw.len() > limit;
            let items = raw
                .into_iter()
                .take(limit)
                .map(|r| r.decode(conn))
                .collect::<Result<Vec<_>, _>>()?;
            let key = |a: &Approval| match list {
                ApprovalList::Pending => Some(a.created_at),
                ApprovalList::Undelivered => a.decided_at,
            };
            let next = match (more, items.last()) {
                (true, Some(last)) => key(last).map(|at| encode_cursor(&ts(at), last.id.as_str())),
                _ => None,
            };
            Ok(Page { items, next })
        })
        .await
    }
}

#[async_trait]
impl RevokedTokens for SqliteStore {
    async fn revoke_token(&self, id: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        let id = id.to_string();
        let until = ts(until);
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO revoked_tokens (id, until) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET until = excluded.until",
            )
            .and_then(|mut st| st.execute(params![id, until]))
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn token_revoked(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.read(move |conn| {
            conn.prepare_cached("SELECT 1 FROM revoked_tokens WHERE id = ?1")
                .and_then(|mut st| st.exists(params![id]))
                .map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl FeedbackLog for SqliteStore {
    async fn put_feedback(&self, feedback: &Feedback) -> Result<(), StoreError> {
        let workflow = feedback.workflow.clone();
        let at = ts(feedback.at);
        let body = to_json(feedback)?;
        let run_id = feedback.run_id.0.clone();
        let reviewer = feedback.reviewer.clone();
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO feedback (workflow, at, body, run_id, reviewer)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (run_id, reviewer) DO UPDATE
                 SET workflow = excluded.workflow, at = excluded.at, body = excluded.body",
            )
            .and_then(|mut st| st.execute(params![workflow, at, body, run_id, reviewer]))
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Newest first.
    async fn list_feedback(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<Feedback>, StoreError> {
        let workflow = workflow.to_string();
        self.read(move |conn| {
            let rows: Vec<String> = conn
                .prepare_cached(
                    "SELECT body FROM feedback WHERE workflow = ?1
                     ORDER BY at DESC, seq DESC LIMIT ?2",
                )
                .and_then(|mut st| {
                    st.query_map(params![workflow, limit as i64], |row| row.get(0))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(unavailable)?;
            rows.iter().map(|r| from_json("feedback", r)).collect()
        })
        .await
    }
}

/// A new run's rows, serialised before leaving the async side.
pub(super) struct NewRun {
    run: Run,
    event: String,
    received_at: String,
    received: String,
    summary: String,
    dedupe: DedupeKey,
}

impl NewRun {
    pub(super) fn new(
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            run: run.clone(),
            event: to_json(event)?,
            received_at: ts(received.at),
            received: to_json(received)?,
            summary: to_json(&run.summary)?,
            dedupe: dedupe.clone(),
        })
    }

    /// The run, its event, its dedupe record and its first audit entry;
    /// or the run the delivery started before.
    pub(super) fn insert(&self, conn: &Connection) -> Result<Created, StoreError> {
        let (run, dedupe) = (&self.run, &self.dedupe);
        let claims = dedupe.claims();
        // A dedupe row past its expiry may linger; it no longer counts.
        for claim in &claims {
            let seen: Option<String> = conn
                .prepare_cached(
                    "SELECT run_id FROM dedupe
                     WHERE workflow = ?1 AND delivery_id = ?2 AND expires_at >= ?3",
                )
                .and_then(|mut st| {
                    st.query_row(
                        params![dedupe.workflow, claim.key, Utc::now().timestamp()],
                        |row| row.get(0),
                    )
                    .optional()
                })
                .map_err(unavailable)?;
            if let Some(existing) = seen {
                return Ok(Created::Duplicate(RunId(existing)));
            }
        }
        for claim in &claims {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO dedupe (workflow, delivery_id, run_id, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    dedupe.workflow,
                    claim.key,
                    run.id.as_str(),
                    claim.expires_at.map_or(i64::MAX, |at| at.timestamp())
                ])
            })
            .map_err(unavailable)?;
        }
        let inserted = conn
            .prepare_cached(&format!(
                "INSERT OR IGNORE INTO runs ({RUN_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    run.id.as_str(),
                    run.workflow,
                    run.status.as_str(),
                    run.stage.as_str(),
                    run.delivery_id,
                    run.sender,
                    ts(run.created_at),
                    ts(run.updated_at),
                    self.summary,
                ])
            })
            .map_err(unavailable)?;
        if inserted == 0 {
            // The error rolls the job's savepoint, dedupe row too, back.
            return Err(StoreError::Conflict(format!("run {} exists", run.id)));
        }
        conn.prepare_cached("INSERT OR REPLACE INTO events (run_id, event) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![run.id.as_str(), self.event]))
            .map_err(unavailable)?;
        insert_audit(conn, run.id.as_str(), &self.received_at, &self.received)?;
        Ok(Created::New)
    }
}

fn insert_audit(conn: &Connection, run_id: &str, at: &str, event: &str) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (run_id, at, event) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![run_id, at, event]))
        .map_err(unavailable)?;
    Ok(())
}
