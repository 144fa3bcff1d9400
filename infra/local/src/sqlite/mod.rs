//! Every port the local runtime persists through, on one SQLite database
//! file in WAL mode: the core's run store (`Runs`, `RunData`, `AuditLog`,
//! `Approvals`, `FeedbackLog`) and the runtime's own `ExecutionLog`,
//! `IntakeQueue` and `Outbox`.
//!
//! One writer connection behind a mutex takes every write, each call one
//! short transaction; reads go to a few reader connections, which WAL lets
//! run beside the writer. SQLite calls block, so they run on tokio's blocking
//! pool. `synchronous=NORMAL` in WAL mode survives a killed process (what the
//! local runtime promises); only a power cut can lose the last commits.

mod local;
mod runs;
mod schema;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use handoff_core::ports::StoreError;
use rusqlite::{Connection, OpenFlags};

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READERS: usize = 2;

/// The local runtime's store. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    /// Empty for an in-memory database, which only its own connection sees.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
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
        Ok(Self::from_parts(writer, readers))
    }

    /// A private database that lives as long as the store: for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(unavailable)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(Self::from_parts(conn, Vec::new()))
    }

    fn from_parts(writer: Connection, readers: Vec<Mutex<Connection>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        }
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let conn = self.inner.writer.lock().map_err(poisoned)?;
        schema::version(&conn)
    }

    /// Runs `f` on the writer connection, off the async runtime.
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(poisoned)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Runs `f` on a reader connection (the writer's for an in-memory
    /// database); it sees every transaction committed before the call.
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            if inner.readers.is_empty() {
                let conn = inner.writer.lock().map_err(poisoned)?;
                return f(&conn);
            }
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

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(unavailable)?;
    conn.pragma_update(None, "foreign_keys", "OFF")
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
