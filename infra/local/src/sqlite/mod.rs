//! Every port the local runtime persists through, on one SQLite database
//! file in WAL mode: the core's run store (`Runs`, `RunData`, `AuditLog`,
//! `Approvals`, `FeedbackLog`, `ModelCache`, `TokenLedger`) and the
//! runtime's own `ExecutionLog`, `IntakeQueue` and `Outbox`.
//!
//! Writes group-commit: one writer thread owns the write connection and
//! drains a queue of write jobs, running every job waiting (up to
//! `MAX_BATCH`) in one transaction, each job in its own SAVEPOINT so a
//! failed conditional write (a conflict, a missing row) undoes only itself.
//! Each caller hears back only after its batch has committed, so nobody is
//! told "done" before the write is durable. One commit per batch instead of
//! one per write, and one thread hand-off instead of a blocking-pool task
//! plus a mutex, is what lets many concurrent runs share the disk.
//!
//! Reads go to a few reader connections, which WAL lets run beside the
//! writer: a lookup by key runs in place when a reader is free, anything
//! longer on tokio's blocking pool. A checkpointer thread copies the WAL
//! back into the database file (PASSIVE, every 100 ms after new commits),
//! so the writer's batches do not wait on a checkpoint's fsyncs.
//! `synchronous=NORMAL` in WAL mode survives a killed process (a committed
//! transaction is in the WAL file, which the OS keeps); only a power cut or
//! OS crash can lose the last commits.

mod costs;
mod models;
mod query;
mod reviews;
mod runs;
mod runtime_tables;
mod schema;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use handoff_core::ports::StoreError;
use rusqlite::{Connection, OpenFlags};

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READERS: usize = 2;
/// The most jobs one transaction takes.
const MAX_BATCH: usize = 256;
/// How often the checkpointer looks for new commits to copy back.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// WAL pages past which the writer checkpoints itself (SQLite's default
/// is 1000): only if the checkpointer cannot keep up.
const WAL_BACKSTOP_PAGES: i64 = 16_000;

/// The local runtime's store. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// A job for the writer thread: runs on the write connection inside the
/// batch's transaction (or, given `None`, does not run at all) and says
/// whether its changes stand, with the reply to send once the batch ends.
type Job = Box<dyn FnOnce(Option<&Connection>) -> Done + Send>;

/// Takes the batch's outcome: `Err` (why) if it did not commit.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

struct Done {
    ok: bool,
    reply: Reply,
}

struct Inner {
    /// `None` only while dropping.
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    /// Commits so far, for the checkpointer.
    commits: Arc<AtomicU64>,
    /// The checkpointer thread (file databases) and how to stop it.
    checkpointer: Option<(JoinHandle<()>, Arc<AtomicBool>)>,
    /// Empty for an in-memory database, which only the writer's connection
    /// sees: reads then go through the writer thread too.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl Drop for Inner {
    /// Closes the queue and waits for the writer to finish what it took and
    /// close its connection.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        if let Some((thread, stop)) = self.checkpointer.take() {
            stop.store(true, Ordering::Relaxed);
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema to
    /// the current version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let mut writer = Connection::open(path).map_err(unavailable)?;
        configure(&writer)?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(unavailable)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{}: journal mode {mode}, not WAL",
                path.display()
            )));
        }
        schema::migrate(&mut writer)?;
        // The checkpointer copies the WAL back; the writer itself only
        // if the WAL grows far past what the checkpointer keeps it to.
        writer
            .pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)
            .map_err(unavailable)?;
        let checkpoints = Connection::open(path).map_err(unavailable)?;
        configure(&checkpoints)?;
        let readers = (0..READERS)
            .map(|_| {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI;
                let reader = Connection::open_with_flags(path, flags).map_err(unavailable)?;
                configure(&reader)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut store = Self::from_parts(writer, readers)?;
        let commits = store.inner.commits.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoints, commits, stopping))
            .map_err(|e| StoreError::Unavailable(format!("start sqlite checkpointer: {e}")))?;
        Arc::get_mut(&mut store.inner)
            .expect("a new store is not shared")
            .checkpointer = Some((thread, stop));
        Ok(store)
    }

    /// A private database that lives as long as the store: for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(unavailable)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        Self::from_parts(conn, Vec::new())
    }

    fn from_parts(writer: Connection, readers: Vec<Mutex<Connection>>) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = commits.clone();
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(writer, queue, &counted))
            .map_err(|e| StoreError::Unavailable(format!("start sqlite writer: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                jobs: Some(jobs),
                writer: Some(writer),
                commits,
                checkpointer: None,
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let (tx, rx) = mpsc::channel();
        self.submit(job(schema::version, move |result| {
            let _ = tx.send(result);
        }))?;
        rx.recv().map_err(|_| stopped())?
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.inner
            .jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())
    }

    /// Runs `f` on the writer connection in the writer thread's next batch,
    /// in a savepoint of its own (an `Err` undoes its changes); resolves
    /// once that batch has committed.
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(job(f, move |result| {
            let _ = tx.send(result);
        }))?;
        rx.await.map_err(|_| stopped())?
    }

    /// Runs `f` on a reader connection (through the writer for an
    /// in-memory database); it sees every transaction committed before the
    /// call.
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        if self.inner.readers.is_empty() {
            return self.write(f).await;
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            let n = inner.readers.len();
            // A free reader if there is one, else wait for ours.
            for i in 0..n {
                if let Ok(conn) = inner.readers[(start + i) % n].try_lock() {
                    return f(&conn);
                }
            }
            let conn = inner.readers[start % n].lock().map_err(poisoned)?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

impl SqliteStore {
    /// A lookup by key or a short bounded read, quick enough to run right
    /// here on the async thread when a reader connection is free, saving
    /// two thread hand-offs; otherwise (or for an in-memory database) as
    /// [`SqliteStore::read`].
    async fn lookup<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let readers = &self.inner.readers;
        if !readers.is_empty() {
            let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
            for i in 0..readers.len() {
                if let Ok(conn) = readers[(start + i) % readers.len()].try_lock() {
                    return f(&conn);
                }
            }
        }
        self.read(f).await
    }
}

/// Wraps `f` as a job whose reply gets `f`'s result, or the batch's error
/// if the batch did not commit.
fn job<R, F, S>(f: F, send: S) -> Job
where
    R: Send + 'static,
    F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    S: FnOnce(Result<R, StoreError>) + Send + 'static,
{
    Box::new(move |conn| {
        let result = match conn {
            Some(conn) => f(conn),
            None => Err(StoreError::Unavailable("not run".into())),
        };
        Done {
            ok: result.is_ok(),
            reply: Box::new(move |batch| send(batch.map_err(StoreError::Unavailable).and(result))),
        }
    })
}

fn stopped() -> StoreError {
    StoreError::Unavailable("sqlite writer stopped".into())
}

/// The writer thread: one batch at a time until every sender is gone.
fn write_loop(conn: Connection, queue: mpsc::Receiver<Job>, commits: &AtomicU64) {
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queue.recv() {
        write_batch(&conn, first, &queue, &mut replies);
        commits.fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies committed WAL frames back into the database file (PASSIVE: it
/// never blocks the writer or readers), so the writer thread does not stall
/// its batches on a checkpoint's fsyncs. Durability does not depend on it:
/// a commit is durable once in the WAL.
fn checkpoint_loop(conn: Connection, commits: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut seen = 0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(CHECKPOINT_EVERY);
        let now = commits.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "sqlite checkpoint failed; the next one retries");
            }
        }
    }
}

/// One transaction: `first` and whatever else is queued by the time each
/// job ends, up to `MAX_BATCH`; then the replies, after the commit.
fn write_batch(
    conn: &Connection,
    first: Job,
    queue: &mpsc::Receiver<Job>,
    replies: &mut Vec<Reply>,
) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        (first(None).reply)(Err(e));
        return;
    }
    let mut next = Some(first);
    let mut outcome = Ok(());
    while let Some(job) = next.take() {
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            replies.push(job(None).reply);
            outcome = Err(e);
            break;
        }
        let done = run_job(conn, job);
        replies.push(done.reply);
        let ended = if done.ok {
            exec(conn, "RELEASE job")
        } else {
            exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
        };
        if let Err(e) = ended {
            outcome = Err(e);
            break;
        }
        // Some errors (disk full, I/O) make SQLite roll the whole
        // transaction back: what the batch did so far is gone.
        if conn.is_autocommit() {
            outcome = Err("sqlite rolled the batch back".to_string());
            break;
        }
        if replies.len() < MAX_BATCH {
            next = queue.try_recv().ok();
        }
    }
    if outcome.is_ok() {
        outcome = exec(conn, "COMMIT");
    }
    if outcome.is_err() && !conn.is_autocommit() {
        let _ = exec(conn, "ROLLBACK");
    }
    for reply in replies.drain(..) {
        reply(outcome.clone());
    }
}

/// Runs a job; a panic in it counts as a failure (its caller hears that
/// the writer stopped, and the other jobs carry on).
fn run_job(conn: &Connection, job: Job) -> Done {
    catch_unwind(AssertUnwindSafe(|| job(Some(conn)))).unwrap_or_else(|_| Done {
        ok: false,
        reply: Box::new(|_| {}),
    })
}

fn exec(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(|_| ())
        .map_err(|e| format!("sqlite: {e}"))
}

/// Runs `f`'s reads as one snapshot: no commit lands between them. A
/// savepoint, so it nests in the writer's batch transaction too (an
/// in-memory database reads through the writer).
fn snapshot<R>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    exec(conn, "SAVEPOINT snapshot").map_err(StoreError::Unavailable)?;
    let result = f(conn);
    exec(conn, "RELEASE snapshot").map_err(StoreError::Unavailable)?;
    result
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(unavailable)?;
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(unavailable)?;
    // Each job's SAVEPOINT keeps a journal of the pages it changes; on the
    // default temp store that journal spills to a temporary file past
    // 64 KiB, and every batch paid for those writes.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(unavailable)?;
    // Plans that never depend on bound values: otherwise SQLite re-parses a
    // cached statement whenever a parameter it peeked at while planning
    // changes, which for our queries was every call.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(unavailable)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn unavailable(err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {err}"))
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("sqlite connection poisoned by a panic".into())
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored {what} unreadable: {err}"))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unavailable(format!("serialise: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// Fixed width (nanoseconds, `Z`), so text order is time order.
fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_ts(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("timestamp", e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, Utc};
    use handoff_core::domain::*;
    use handoff_core::ports::*;
    use serde_json::json;

    use super::SqliteStore;

    fn run(id: &str, delivery: &str) -> (Run, CanonicalEvent, DedupeKey) {
        let now = Utc::now();
        let run = Run {
            id: RunId(id.to_string()),
            workflow: "w".into(),
            status: RunStatus::Received,
            stage: Stage::Ingest,
            delivery_id: delivery.into(),
            sender: None,
            created_at: now,
            updated_at: now,
            summary: RunSummary::default(),
        };
        let event = CanonicalEvent {
            workflow: "w".into(),
            delivery_id: delivery.into(),
            received_at: now,
            fields: Default::default(),
            payload: json!({}),
            documents: Vec::new(),
        };
        let dedupe = DedupeKey {
            workflow: "w".into(),
            delivery_id: delivery.into(),
            expires_at: now + Duration::days(1),
            body_hash: None,
            business_key: None,
        };
        (run, event, dedupe)
    }

    /// Many writes at once share batches; a failed one undoes only its own
    /// changes, and every caller gets its own answer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_in_a_batch_undoes_only_itself() {
        let dir = std::env::temp_dir().join(format!("handoff-gc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(SqliteStore::open(dir.join("t.db")).unwrap());
        // 64 creates of one run id, each under its own delivery id: one wins.
        let creates: Vec<_> = (0..64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let (r, e, d) = run("same", &format!("d{i}"));
                    store
                        .create_run(&r, &e, &d, &AuditEvent::received(&r, 0))
                        .await
                })
            })
            .collect();
        let mut new = 0;
        for c in creates {
            match c.await.unwrap() {
                Ok(Created::New) => new += 1,
                Err(StoreError::Conflict(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(new, 1);
        // The losers' dedupe rows were rolled back: their deliveries are new.
        let mut winner = Vec::new();
        for i in 0..64 {
            let (r, e, d) = run(&format!("r{i}"), &format!("d{i}"));
            if store
                .create_run(&r, &e, &d, &AuditEvent::received(&r, 0))
                .await
                .unwrap()
                != Created::New
            {
                winner.push(i);
            }
        }
        assert_eq!(winner.len(), 1, "only the winner's delivery was seen");
        let exists = |i: usize| i.is_multiple_of(2) && !winner.contains(&i);
        // Transitions that succeed beside ones that find nothing.
        let steps: Vec<_> = (0..64)
            .map(|i: usize| {
                let store = store.clone();
                tokio::spawn(async move {
                    let id = RunId(format!(
                        "{}{i}",
                        if i.is_multiple_of(2) { "r" } else { "x" }
                    ));
                    let (from, to) = ([RunStatus::Received], RunStatus::Running);
                    store
                        .transition(&id, &from, to, Stage::Ingest, Utc::now())
                        .await
                })
            })
            .collect();
        for (i, s) in steps.into_iter().enumerate() {
            match (exists(i), s.await.unwrap()) {
                (true, Ok(())) | (false, Err(StoreError::NotFound(_))) => {}
                (_, other) => panic!("{i}: unexpected {other:?}"),
            }
        }
        for i in (0..64).filter(|&i| exists(i)) {
            let got = store.get_run(&RunId(format!("r{i}"))).await.unwrap();
            assert_eq!(got.unwrap().status, RunStatus::Running);
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
