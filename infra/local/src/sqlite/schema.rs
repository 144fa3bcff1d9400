//! The schema, as migrations numbered by `PRAGMA user_version`: a database
//! at version n has run the first n. Append; never edit a shipped one.

use handoff_core::ports::StoreError;
use rusqlite::{Connection, TransactionBehavior};

use super::unavailable;

/// Timestamps are RFC 3339 text of fixed width (see `ts`), so they order as
/// text; JSON blobs are TEXT.
const MIGRATIONS: &[&str] = &[
    // 1: the run store, executions, the intake queue and the outbox.
    r#"
    CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        workflow    TEXT NOT NULL,
        status      TEXT NOT NULL,
        stage       TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        sender      TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        summary     TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX runs_by_created ON runs (created_at, id);
    CREATE INDEX runs_by_status ON runs (status, created_at, id);
    CREATE INDEX runs_by_workflow ON runs (workflow, created_at, id);

    CREATE TABLE events (
        run_id TEXT PRIMARY KEY,
        event  TEXT NOT NULL
    ) WITHOUT ROWID;

    -- expires_at: Unix seconds; a row past it no longer counts.
    CREATE TABLE dedupe (
        workflow    TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (workflow, delivery_id)
    ) WITHOUT ROWID;

    CREATE TABLE slots (
        run_id TEXT NOT NULL,
        slot   TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (run_id, slot)
    ) WITHOUT ROWID;

    CREATE TABLE audit (
        seq    INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        at     TEXT NOT NULL,
        event  TEXT NOT NULL
    );
    CREATE INDEX audit_by_run ON audit (run_id, at, seq);

    -- body: the approval as put; status, decided_at and the votes table
    -- are what changes after.
    CREATE TABLE approvals (
        id         TEXT PRIMARY KEY,
        run_id     TEXT NOT NULL,
        status     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        decided_at TEXT,
        body       TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX approvals_by_run ON approvals (run_id, created_at);
    CREATE INDEX approvals_by_status ON approvals (status, created_at, id);

    CREATE TABLE votes (
        seq         INTEGER PRIMARY KEY,
        approval_id TEXT NOT NULL,
        reviewer    TEXT NOT NULL,
        vote        TEXT NOT NULL,
        UNIQUE (approval_id, reviewer)
    );

    CREATE TABLE feedback (
        seq      INTEGER PRIMARY KEY,
        workflow TEXT NOT NULL,
        at       TEXT NOT NULL,
        body     TEXT NOT NULL
    );
    CREATE INDEX feedback_by_workflow ON feedback (workflow, at, seq);

    CREATE TABLE executions (
        name       TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        status     TEXT NOT NULL,
        next_wake  TEXT,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX executions_by_status ON executions (status, name);

    CREATE TABLE task_tokens (
        token     TEXT PRIMARY KEY,
        execution TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX task_tokens_by_execution ON task_tokens (execution);

    -- visible_at: Unix milliseconds. AUTOINCREMENT so a message id (and so
    -- a receipt) is never reused after a delete.
    CREATE TABLE queue (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        body          TEXT NOT NULL,
        sent_at       TEXT NOT NULL,
        visible_at    INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        receipt       TEXT,
        dead          INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_ready ON queue (dead, seq);
    CREATE INDEX queue_by_receipt ON queue (receipt);

    CREATE TABLE outbox (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        TEXT NOT NULL,
        kind      TEXT NOT NULL,
        run_id    TEXT NOT NULL,
        target    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        body      TEXT NOT NULL,
        link      TEXT,
        delivered INTEGER NOT NULL
    );
    "#,
    // 2: history events stored one row each, appended as they happen,
    // instead of inside `executions.state`, which every transition rewrites.
    r#"
    CREATE TABLE history (
        seq       INTEGER PRIMARY KEY,
        execution TEXT NOT NULL,
        id        INTEGER NOT NULL,
        event     TEXT NOT NULL,
        UNIQUE (execution, id)
    );
    "#,
    // 3: a receipt carries its message's sequence number, so deletes find
    // the row by primary key and no index has to follow every receipt.
    r#"
    DROP INDEX queue_by_receipt;
    "#,
    // 4: billed model answers kept by question, and the tokens each
    // workflow's LLM calls spent per UTC day.
    r#"
    -- expires_at: Unix seconds; a row past it is never read, and the next
    -- put deletes it.
    CREATE TABLE model_cache (
        key        TEXT PRIMARY KEY,
        answer     TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX model_cache_by_expiry ON model_cache (expires_at);

    -- day: YYYY-MM-DD (UTC).
    CREATE TABLE token_ledger (
        workflow TEXT NOT NULL,
        day      TEXT NOT NULL,
        tokens   INTEGER NOT NULL,
        PRIMARY KEY (workflow, day)
    ) WITHOUT ROWID;
    "#,
    // 5: an approval its reviewers decided owes the waiting task that
    // decision until delivered; the redelivery sweep reads this index.
    r#"
    ALTER TABLE approvals ADD COLUMN owes_delivery INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX approvals_undelivered ON approvals (owes_delivery, decided_at, id);
    "#,
    // 6: one correction per run and reviewer, replaced in place (of older
    // repeats the newest stays); reviewer tokens revoked before expiry.
    r#"
    ALTER TABLE feedback ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE feedback ADD COLUMN reviewer TEXT NOT NULL DEFAULT '';
    UPDATE feedback SET run_id = json_extract(body, '$.run_id'),
                        reviewer = json_extract(body, '$.reviewer');
    DELETE FROM feedback WHERE seq NOT IN
        (SELECT MAX(seq) FROM feedback GROUP BY run_id, reviewer);
    CREATE UNIQUE INDEX feedback_by_run_reviewer ON feedback (run_id, reviewer);

    CREATE TABLE revoked_tokens (
        id    TEXT PRIMARY KEY,
        until TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 7: the task token in a column of its own; an approval's JSON body no
    // longer carries it.
    r#"
    ALTER TABLE approvals ADD COLUMN task_token TEXT NOT NULL DEFAULT '';
    UPDATE approvals SET task_token = coalesce(json_extract(body, '$.task_token'), ''),
                         body = json_remove(body, '$.task_token');
    "#,
    // 8: trained classifiers, versioned; the trainer keeps the newest two.
    r#"
    CREATE TABLE models (
        workflow TEXT NOT NULL,
        task     TEXT NOT NULL,
        version  INTEGER NOT NULL,
        meta     TEXT NOT NULL,
        body     BLOB NOT NULL,
        PRIMARY KEY (workflow, task, version)
    );
    "#,
    // 9: accuracy reviews as a history per workflow, instead of one slot
    // of a pseudo-run overwritten each week.
    r#"
    CREATE TABLE reviews (
        workflow TEXT NOT NULL,
        at       TEXT NOT NULL,
        body     TEXT NOT NULL,
        PRIMARY KEY (workflow, at)
    ) WITHOUT ROWID;
    "#,
];

pub(super) fn version(conn: &Connection) -> Result<u32, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(unavailable)
}

/// Runs the migrations the database has not run, each in its own
/// transaction together with the version bump.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current = version(conn)? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Unavailable(format!(
            "database schema version {current} is newer than this binary's {}",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        // Another process may have migrated while we waited for the lock.
        if version(&tx)? as usize > i {
            continue;
        }
        tx.execute_batch(sql).map_err(unavailable)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_corrections_of_a_version_5_database_keep_the_newest() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let row = |at: &str, run: &str, reviewer: &str, label: &str| {
            let body =
                format!(r#"{{"run_id":"{run}","reviewer":"{reviewer}","final_label":"{label}"}}"#);
            conn.execute(
                "INSERT INTO feedback (workflow, at, body) VALUES ('w', ?1, ?2)",
                rusqlite::params![at, body],
            )
            .unwrap();
        };
        row("1", "run-1", "ana", "first");
        row("2", "run-1", "ana", "second");
        row("3", "run-1", "bo", "other reviewer");
        migrate(&mut conn).unwrap();
        let bodies: Vec<String> = conn
            .prepare("SELECT body FROM feedback ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        assert!(bodies[0].contains("second") && bodies[1].contains("other reviewer"));
    }

    #[test]
    fn a_version_6_approval_keeps_its_task_token_out_of_the_body() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        conn.execute(
            "INSERT INTO approvals (id, run_id, status, created_at, body)
             VALUES ('a1', 'run-1', 'pending', '1', '{\"id\":\"a1\",\"task_token\":\"tok-1\"}')",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let (token, body): (String, String) = conn
            .query_row("SELECT task_token, body FROM approvals", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(token, "tok-1");
        assert!(!body.contains("tok-1"), "{body}");
    }
}
