//! The event store: an append-only log of domain events in SQLite (WAL,
//! synchronous=FULL) by default, or in PostgreSQL when `DATABASE_URL` is set.
//!
//! Appends go through one writer thread that drains its queue and commits each batch
//! in a single transaction (group commit); every caller is answered only after its
//! batch is durable. Optimistic concurrency: an append names the version it expects,
//! and a different current version is a conflict. The committed log is the outbox:
//! the event bus reads published events from here, never from a handler's memory.
//!
//! In SQLite the log is one table in position order with no index by stream: an index
//! keyed by stream would have each commit write a B-tree leaf page for every event, at
//! random (most of the writer's I/O; docs/benchmarks.md). Where each stream's events
//! are is a [`StreamIndex`] in memory instead, built by one scan of the log at open.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: &'static str,
    pub payload: String,
}

/// An event as committed to the store.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Global position in the log (1, 2, ...).
    pub position: u64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Version of the aggregate after this event (1, 2, ...).
    pub version: u64,
    pub event_type: String,
    pub payload: String,
    /// Commit time, microseconds since the Unix epoch.
    pub recorded_at_us: i64,
}

/// What an append returns once durable.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    pub version: u64,
    pub position: u64,
}

/// Event store failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("version conflict on {aggregate_id}: expected {expected}, found {actual}")]
    Conflict {
        aggregate_id: String,
        expected: u64,
        actual: u64,
    },
    #[error("event store database error: {0}")]
    Db(String),
    #[error("event store writer has stopped")]
    Stopped,
    /// The command id was recorded before (with the events it produced, at `position`).
    #[error("command {command_id} was already submitted (its events end at position {position})")]
    Duplicate { command_id: String, position: u64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// Runs PostgreSQL work: the synchronous client runs its own runtime, which may not
/// be driven from a thread of the service's tokio runtime, so there it runs on a
/// scoped helper thread.
pub fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() && !ON_POOL_THREAD.with(|p| p.get()) {
        std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|e| std::panic::resume_unwind(e))
    } else {
        f()
    }
}

thread_local! {
    static ON_POOL_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on tokio's blocking pool, where the PostgreSQL client may block directly.
pub async fn on_pool<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || {
        ON_POOL_THREAD.with(|p| p.set(true));
        f()
    })
    .await
}

/// A PostgreSQL client that can be dropped anywhere (closing it blocks, so inside
/// the tokio runtime that happens on a helper thread).
pub struct PgClient(Option<postgres::Client>);

impl std::ops::Deref for PgClient {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.0.as_ref().expect("client present until drop")
    }
}

impl std::ops::DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("client present until drop")
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::spawn(move || drop(c));
            }
        }
    }
}

/// Opens a PostgreSQL connection; with `schema`, creates it and works inside it.
pub fn pg_connect(url: &str, schema: Option<&str>) -> Result<PgClient, StoreError> {
    blocking(|| {
        let mut c = PgClient(Some(postgres::Client::connect(url, postgres::NoTls)?));
        if let Some(s) = schema {
            let ok = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(StoreError::Db(format!("invalid schema name {s:?}")));
            }
            c.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {s}; SET search_path TO {s}"
            ))?;
        }
        Ok(c)
    })
}

/// A connection to the store's database.
enum Db {
    Sqlite(Connection),
    Pg(Box<PgClient>),
}

struct AppendRequest {
    aggregate_type: &'static str,
    aggregate_id: String,
    expected_version: u64,
    events: Vec<NewEvent>,
    snapshot: Option<String>,
    /// A client-made command id, recorded in the same transaction as the events.
    command_id: Option<String>,
    reply: tokio::sync::oneshot::Sender<Result<Appended, StoreError>>,
}

/// Takes a free connection of a pool, starting at the next in turn; only when all
/// are taken, waits for that one; `None` if a lock is poisoned. (A request handler should not queue behind the
/// event bus's long read while another connection is idle.)
pub fn free_or_next<'a, C>(
    pool: &'a [Mutex<C>],
    next: &AtomicUsize,
) -> Option<std::sync::MutexGuard<'a, C>> {
    let n = pool.len();
    let start = next.fetch_add(1, Ordering::Relaxed);
    for k in 0..n {
        match pool[(start + k) % n].try_lock() {
            Ok(guard) => return Some(guard),
            Err(std::sync::TryLockError::WouldBlock) => continue,
            Err(std::sync::TryLockError::Poisoned(_)) => return None,
        }
    }
    pool[start % n].lock().ok()
}

/// Latest committed position, with a condition variable to wait for new commits.
#[derive(Default)]
pub struct Head {
    position: Mutex<u64>,
    changed: Condvar,
}

impl Head {
    /// The latest committed position.
    pub fn get(&self) -> u64 {
        self.position.lock().map(|p| *p).unwrap_or(0)
    }
    fn set(&self, position: u64) {
        if let Ok(mut p) = self.position.lock() {
            if position > *p {
                *p = position;
            }
        }
        self.changed.notify_all();
    }
    /// Waits until the head passes `after` or `timeout` elapses; returns the head.
    pub fn wait_past(&self, after: u64, timeout: Duration) -> u64 {
        let Ok(guard) = self.position.lock() else {
            return after;
        };
        match self
            .changed
            .wait_timeout_while(guard, timeout, |p| *p <= after)
        {
            Ok((p, _)) => *p,
            Err(_) => after,
        }
    }
}

/// A loaded aggregate stream: its latest snapshot, if any, and the events after it.
#[derive(Debug, Default)]
pub struct Stream {
    pub snapshot: Option<(u64, String)>,
    pub events: Vec<StoredEvent>,
}

/// Where each stream's events are in the SQLite log: their positions in version order
/// (version `k` is at `positions[k - 1]`, so a stream's version is its length). Built by
/// one scan of the log at open and extended by the writer after each commit, before the
/// commit's callers are answered; the writer is its only writer, so its conflict checks
/// read it without a query. In memory: 8 bytes an event and about 100 a stream.
#[derive(Default)]
pub struct StreamIndex {
    streams: RwLock<HashMap<String, HashMap<String, Vec<u64>>>>,
}

impl StreamIndex {
    /// Indexes the log: every event's position, stream by stream.
    fn scan(conn: &Connection) -> Result<Self, StoreError> {
        let mut streams: HashMap<String, HashMap<String, Vec<u64>>> = HashMap::new();
        let mut stmt =
            conn.prepare("SELECT position, aggregate_type, aggregate_id, version FROM events ORDER BY position")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let position = r.get::<_, i64>(0)? as u64;
            let (t, id): (String, String) = (r.get(1)?, r.get(2)?);
            let version = r.get::<_, i64>(3)? as u64;
            let positions = streams.entry(t).or_default().entry(id).or_default();
            if version != positions.len() as u64 + 1 {
                return Err(StoreError::Db(format!(
                    "the log is not a sequence of versions: event {position} of {} {} has version {version} after {}",
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    positions.len()
                )));
            }
            positions.push(position);
        }
        Ok(StreamIndex {
            streams: RwLock::new(streams),
        })
    }

    /// The streams, read. A panic elsewhere cannot leave them half written (a commit's
    /// positions are pushed whole), so a poisoned lock is read as it stands: taken for
    /// "no such stream", it would let the writer append a version twice.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, HashMap<String, Vec<u64>>>> {
        self.streams.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The stream's current version (0: no such stream).
    pub fn version(&self, aggregate_type: &str, aggregate_id: &str) -> u64 {
        self.read()
            .get(aggregate_type)
            .and_then(|s| s.get(aggregate_id))
            .map_or(0, |p| p.len() as u64)
    }

    /// Positions of the stream's events after `version`, in version order.
    fn after(&self, aggregate_type: &str, aggregate_id: &str, version: u64) -> Vec<u64> {
        self.read()
            .get(aggregate_type)
            .and_then(|s| s.get(aggregate_id))
            .and_then(|p| p.get(version as usize..))
            .map_or_else(Vec::new, <[u64]>::to_vec)
    }

    /// Adds one commit's appends: (type, id, positions of its new events).
    fn extend(&self, appended: Vec<(&str, &str, Vec<u64>)>) {
        if appended.is_empty() {
            return;
        }
        // Skipped on a poisoned lock, a commit would be missing from the index (see read).
        let mut streams = self.streams.write().unwrap_or_else(|e| e.into_inner());
        for (t, id, positions) in appended {
            let by_id = match streams.get_mut(t) {
                Some(m) => m,
                None => streams.entry(t.to_string()).or_default(),
            };
            match by_id.get_mut(id) {
                Some(p) => p.extend(positions),
                None => {
                    by_id.insert(id.to_string(), positions);
                }
            }
        }
    }
}

/// Handle to the event store, shared by the command handlers and the event bus.
pub struct EventStore {
    writer: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The SQLite store's WAL checkpoints ([`checkpoint_beside`]).
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Vec<Mutex<Db>>,
    next_reader: AtomicUsize,
    head: Arc<Head>,
    pg: bool,
    /// Where each stream is in the SQLite log (empty in PostgreSQL, which indexes it).
    index: Arc<StreamIndex>,
    /// Where the writer records its group commits (set once by [`EventStore::time_with`]).
    metrics: Arc<std::sync::OnceLock<Arc<crate::metrics::Metrics>>>,
}

/// The page cache of every SQLite connection the service opens, in KiB (`PRAGMA
/// cache_size` takes it negated): 32 MB rather than SQLite's 2 MB keeps the index pages
/// that commits touch in memory, so the writer reads an eighth of what it read from the
/// file (docs/benchmarks.md).
pub const SQLITE_CACHE_KIB: i64 = 32_768;

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // The bundled SQLite has STAT4, which re-prepares a cached statement whenever
    // a bound value changes (about 2.5x the cost of every query); the query
    // planner stability guarantee keeps one plan per statement.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -SQLITE_CACHE_KIB)?;
    Ok(conn)
}

/// WAL frames after which a checkpointer copies the log back into its database file:
/// SQLite's own automatic checkpoint uses the same 1,000. (10,000 wrote a fifth less but
/// made each checkpoint longer: command p99 50 -> 75 ms at 12,000/s while it ran in the
/// commit.)
const CHECKPOINT_FRAMES: i32 = 1_000;

/// How many times [`CHECKPOINT_FRAMES`] the log may reach before the commit that finds it
/// so long checkpoints it itself (what the checkpoints beside it left: a short copy).
const CHECKPOINT_INLINE: i32 = 4;

/// Moves a SQLite file's WAL checkpoints off its writer's commit path. SQLite's automatic
/// checkpoint runs inside the commit that crosses [`CHECKPOINT_FRAMES`], so every caller
/// of that commit waited for it, and what queued behind it. The writer's WAL hook (which
/// replaces the automatic checkpoint) only signals; a thread named `thread` with its own
/// connection runs a PASSIVE checkpoint, which blocks neither the writer nor a reader, and
/// then calls `done` with its time. A log that still reaches [`CHECKPOINT_INLINE`] times
/// the threshold is checkpointed by its commit, so it stays bounded. The thread's CPU is
/// `node`'s (`fz calibrate` charges it to that node's batches). It ends once the writer's
/// connection, and with it the hook, is gone. Used by the event store and every SQLite view.
pub fn checkpoint_beside(
    path: &Path,
    writer: &mut Connection,
    thread: &str,
    node: &'static str,
    done: impl Fn(Duration) + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, String> {
    let (kick, kicked) = mpsc::sync_channel::<()>(1);
    writer
        .wal_hook(Some(
            move |wal: &mut rusqlite::hooks::Wal, frames: std::ffi::c_int| {
                if frames >= CHECKPOINT_FRAMES * CHECKPOINT_INLINE {
                    // Under a steady stream of commits a checkpoint beside them rarely
                    // catches up: each finds new frames behind it, and the log only starts
                    // over once one has copied every frame (it grew to 49 MB in 10 s at
                    // 12,000 commands/s). So this commit finishes the job, as SQLite's
                    // own checkpoint would, copying only what the last one left, and the
                    // next commit starts the log from the beginning. A failure leaves the
                    // frames in the log for the next checkpoint; the commit stands.
                    let _ = wal.checkpoint();
                } else if frames >= CHECKPOINT_FRAMES {
                    // Full: a checkpoint is already due, and it takes these frames too.
                    let _ = kick.try_send(());
                }
                Ok(())
            },
        ))
        .map_err(|e| format!("cannot set the WAL hook of {}: {e}", path.display()))?;
    let conn = Connection::open(path)
        .and_then(|c| c.busy_timeout(Duration::from_secs(10)).map(|_| c))
        .map_err(|e| format!("cannot open {} for checkpoints: {e}", path.display()))?;
    let shown = path.display().to_string();
    std::thread::Builder::new()
        .name(thread.into())
        .spawn(move || {
            crate::metrics::thread_serves(node);
            while kicked.recv().is_ok() {
                let start = std::time::Instant::now();
                let checkpointed = retry_busy(|| {
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
                });
                if let Err(e) = checkpointed {
                    // The frames stay in the WAL, where readers see them, and the next
                    // commit past the threshold asks again.
                    eprintln!("{shown}: checkpoint failed: {e}");
                }
                done(start.elapsed());
            }
        })
        .map_err(|e| format!("cannot start the checkpointer of {}: {e}", path.display()))
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position BIGSERIAL PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    recorded_at_us BIGINT NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, version)
);
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);
CREATE TABLE IF NOT EXISTS processed_commands (
    command_id TEXT PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    recorded_at_us BIGINT NOT NULL
);
";

// `position` is the rowid: without AUTOINCREMENT, SQLite picks the largest + 1, which
// only differs from AUTOINCREMENT once the last row is deleted, and events never
// are; AUTOINCREMENT would update `sqlite_sequence` on every insert. No index by stream
// (the [`StreamIndex`] is in memory), so a commit writes the table's last pages only. A
// store made before 5 December 2026 keeps its UNIQUE (type, id, version) index (SQLite
// cannot drop a constraint's index): it stays correct, and its commits write that index.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    recorded_at_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);
CREATE TABLE IF NOT EXISTS processed_commands (
    command_id TEXT PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    recorded_at_us INTEGER NOT NULL
);
";

impl EventStore {
    /// Opens (creating if needed) `events.db` in `data_dir`, or the PostgreSQL
    /// database at `database_url`, and starts the writer thread, which groups up to
    /// `max_batch` appends into one commit and rests `commit_rest` after each.
    pub fn open(
        data_dir: &Path,
        max_batch: usize,
        commit_rest: Duration,
        database_url: Option<&str>,
        pg_schema: Option<&str>,
    ) -> Result<Arc<Self>, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", data_dir.display())))?;
        let mut readers = Vec::new();
        let metrics: Arc<std::sync::OnceLock<Arc<crate::metrics::Metrics>>> = Arc::default();
        let mut checkpointer = None;
        let mut index = StreamIndex::default();
        let (conn, head_pos) = match database_url {
            Some(url) => {
                let mut c = pg_connect(url, pg_schema)?;
                let head: i64 = blocking(|| -> Result<i64, StoreError> {
                    c.batch_execute(PG_SCHEMA)?;
                    Ok(
                        c.query_one("SELECT COALESCE(MAX(position), 0)::BIGINT FROM events", &[])?
                            .get(0),
                    )
                })?;
                for _ in 0..4 {
                    readers.push(Mutex::new(Db::Pg(Box::new(pg_connect(url, pg_schema)?))));
                }
                (Db::Pg(Box::new(c)), head as u64)
            }
            None => {
                let path = data_dir.join("events.db");
                let mut conn = open(&path)?;
                conn.execute_batch(SCHEMA)?;
                let timed = metrics.clone();
                let node = crate::app::NODES.write_commit;
                checkpointer = Some(
                    checkpoint_beside(&path, &mut conn, "event-store-checkpointer", node, move |d| {
                        if let Some(m) = timed.get() {
                            m.timings.checkpoint.time.record(d.as_nanos() as u64);
                        }
                    })
                    .map_err(StoreError::Db)?,
                );
                let head: i64 =
                    conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| {
                        r.get(0)
                    })?;
                index = StreamIndex::scan(&conn)?;
                for _ in 0..4 {
                    let r = open(&path)?;
                    r.pragma_update(None, "query_only", "ON")?;
                    readers.push(Mutex::new(Db::Sqlite(r)));
                }
                (Db::Sqlite(conn), head as u64)
            }
        };
        let head = Arc::new(Head::default());
        head.set(head_pos);
        let (tx, rx) = mpsc::channel();
        let writer_head = head.clone();
        let writer_metrics = metrics.clone();
        let index = Arc::new(index);
        let writer_index = index.clone();
        let thread = std::thread::Builder::new()
            .name("event-store-writer".into())
            .spawn(move || {
                writer_loop(
                    conn,
                    rx,
                    writer_head,
                    writer_index,
                    max_batch,
                    commit_rest,
                    writer_metrics,
                )
            })
            .map_err(|e| StoreError::Db(format!("cannot start writer thread: {e}")))?;
        Ok(Arc::new(EventStore {
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            checkpointer: Mutex::new(checkpointer),
            readers,
            next_reader: AtomicUsize::new(0),
            head,
            pg: database_url.is_some(),
            index,
            metrics,
        }))
    }

    /// Records the writer's group commits (time per batch, appends per batch) in `metrics`.
    pub fn time_with(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// Whether the store is in PostgreSQL.
    pub fn is_pg(&self) -> bool {
        self.pg
    }

    /// The committed head, for waiting on new events.
    pub fn head(&self) -> Arc<Head> {
        self.head.clone()
    }

    /// Appends `events` to a stream if its version is still `expected_version`;
    /// answers once the batch holding the append is committed.
    pub async fn append(
        &self,
        aggregate_type: &'static str,
        aggregate_id: String,
        expected_version: u64,
        events: Vec<NewEvent>,
        snapshot: Option<String>,
    ) -> Result<Appended, StoreError> {
        self.append_command(aggregate_type, aggregate_id, expected_version, events, snapshot, None)
            .await
    }

    /// [`EventStore::append`] recording `command_id` in the same transaction: a
    /// command id recorded before (also before a restart) is [`StoreError::Duplicate`]
    /// and appends nothing.
    pub async fn append_command(
        &self,
        aggregate_type: &'static str,
        aggregate_id: String,
        expected_version: u64,
        events: Vec<NewEvent>,
        snapshot: Option<String>,
        command_id: Option<String>,
    ) -> Result<Appended, StoreError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let req = AppendRequest {
            aggregate_type,
            aggregate_id,
            expected_version,
            events,
            snapshot,
            command_id,
            reply,
        };
        {
            let guard = self.writer.lock().map_err(|_| StoreError::Stopped)?;
            let tx = guard.as_ref().ok_or(StoreError::Stopped)?;
            tx.send(req).map_err(|_| StoreError::Stopped)?;
        }
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError>
    where
        T: Send,
    {
        let mut conn = crate::store::free_or_next(&self.readers, &self.next_reader)
            .ok_or_else(|| StoreError::Db("reader lock poisoned".into()))?;
        match &mut *conn {
            Db::Sqlite(_) => f(&mut conn),
            Db::Pg(_) => {
                let db: &mut Db = &mut conn;
                blocking(move || f(db))
            }
        }
    }

    /// Loads a stream: its latest snapshot and the events after it.
    pub fn load(&self, aggregate_type: &str, aggregate_id: &str) -> Result<Stream, StoreError> {
        self.with_reader(|db| match db {
            Db::Sqlite(conn) => retry_busy(|| {
                let snapshot = conn
                    .prepare_cached(
                        "SELECT version, state FROM snapshots WHERE aggregate_type = ?1 AND aggregate_id = ?2",
                    )?
                    .query_row(params![aggregate_type, aggregate_id], |r| {
                        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
                    })
                    .optional()?;
                let from = snapshot.as_ref().map(|s| s.0).unwrap_or(0);
                // Every indexed position is committed: the writer indexes after its commit.
                let mut stmt = conn.prepare_cached(
                    "SELECT position, aggregate_type, aggregate_id, version, event_type, payload, recorded_at_us
                     FROM events WHERE position = ?1",
                )?;
                let events = self
                    .index
                    .after(aggregate_type, aggregate_id, from)
                    .into_iter()
                    .map(|p| stmt.query_row(params![p as i64], row_to_event))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Stream { snapshot, events })
            })
            .map_err(|e| StoreError::Db(format!("loading {aggregate_type} {aggregate_id}: {e}"))),
            Db::Pg(c) => {
                let snapshot = c
                    .query_opt(
                        "SELECT version, state FROM snapshots WHERE aggregate_type = $1 AND aggregate_id = $2",
                        &[&aggregate_type, &aggregate_id],
                    )?
                    .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)));
                let from = snapshot.as_ref().map(|s| s.0).unwrap_or(0) as i64;
                let events = c
                    .query(
                        "SELECT position, aggregate_type, aggregate_id, version, event_type, payload, recorded_at_us
                         FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND version > $3 ORDER BY version",
                        &[&aggregate_type, &aggregate_id, &from],
                    )?
                    .iter()
                    .map(pg_row_to_event)
                    .collect();
                Ok(Stream { snapshot, events })
            }
        })
    }

    /// The position of the last event of a recorded command, `None` if the id is new.
    pub fn command_position(&self, command_id: &str) -> Result<Option<u64>, StoreError> {
        self.with_reader(|db| match db {
            Db::Sqlite(conn) => retry_busy(|| {
                conn.prepare_cached("SELECT position FROM processed_commands WHERE command_id = ?1")?
                    .query_row(params![command_id], |r| r.get::<_, i64>(0))
                    .optional()
            })
            .map(|p| p.map(|p| p as u64))
            .map_err(|e| StoreError::Db(format!("looking up command {command_id}: {e}"))),
            Db::Pg(c) => Ok(c
                .query_opt(
                    "SELECT position FROM processed_commands WHERE command_id = $1",
                    &[&command_id],
                )?
                .map(|r| r.get::<_, i64>(0) as u64)),
        })
    }

    /// Reads up to `limit` committed events after `position`, in log order.
    pub fn read_after(&self, position: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.with_reader(|db| match db {
            Db::Sqlite(conn) => retry_busy(|| {
                let mut stmt = conn.prepare_cached(
                    "SELECT position, aggregate_type, aggregate_id, version, event_type, payload, recorded_at_us
                     FROM events WHERE position > ?1 ORDER BY position LIMIT ?2",
                )?;
                let events = stmt
                    .query_map(params![position as i64, limit as i64], row_to_event)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(events)
            })
            .map_err(|e| StoreError::Db(format!("reading events after {position}: {e}"))),
            Db::Pg(c) => Ok(c
                .query(
                    "SELECT position, aggregate_type, aggregate_id, version, event_type, payload, recorded_at_us
                     FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                    &[&(position as i64), &(limit as i64)],
                )?
                .iter()
                .map(pg_row_to_event)
                .collect()),
        })
    }

    /// Stops the writer after it has committed everything queued.
    pub fn close(&self) {
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        for thread in [&self.writer_thread, &self.checkpointer] {
            if let Ok(mut t) = thread.lock() {
                if let Some(t) = t.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// Runs a read again when SQLite answers "database is locked": in WAL mode a reader
/// can meet that briefly while the writer's checkpoint resets the log, and the
/// busy timeout does not cover every such case.
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e)
                if tries < 20
                    && matches!(
                        e.sqlite_error_code(),
                        Some(
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        )
                    ) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_micros(200 << tries.min(5)));
            }
            other => return other,
        }
    }
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        position: r.get::<_, i64>(0)? as u64,
        aggregate_type: r.get(1)?,
        aggregate_id: r.get(2)?,
        version: r.get::<_, i64>(3)? as u64,
        event_type: r.get(4)?,
        payload: r.get(5)?,
        recorded_at_us: r.get(6)?,
    })
}

fn pg_row_to_event(r: &postgres::Row) -> StoredEvent {
    StoredEvent {
        position: r.get::<_, i64>(0) as u64,
        aggregate_type: r.get(1),
        aggregate_id: r.get(2),
        version: r.get::<_, i64>(3) as u64,
        event_type: r.get(4),
        payload: r.get(5),
        recorded_at_us: r.get(6),
    }
}

type StreamKey = (&'static str, String);

fn writer_loop(
    mut conn: Db,
    rx: mpsc::Receiver<AppendRequest>,
    head: Arc<Head>,
    index: Arc<StreamIndex>,
    max_batch: usize,
    commit_rest: Duration,
    metrics: Arc<std::sync::OnceLock<Arc<crate::metrics::Metrics>>>,
) {
    // PostgreSQL: known current versions, so most conflict checks need no query (SQLite's
    // are all in the stream index).
    let mut versions: HashMap<StreamKey, u64> = HashMap::new();
    let mut last_end = std::time::Instant::now();
    let mut serving = false;
    while let Ok(first) = rx.recv() {
        if !serving {
            if let Some(m) = metrics.get() {
                crate::metrics::thread_serves(m.timings.commit_batch.node);
                serving = true;
            }
        }
        let mut batch = vec![first];
        // The group: what is queued now and, until `commit_rest` has passed since the
        // last commit ended, what arrives meanwhile. Below saturation a commit per
        // wake-up would spend a transaction, a WAL write and an fsync (and wake the
        // router) on a few commands; a request that finds the writer idle longer than
        // that is committed at once.
        let due = last_end + commit_rest;
        loop {
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let now = std::time::Instant::now();
            if batch.len() >= max_batch || now >= due {
                break;
            }
            std::thread::sleep(due - now);
        }
        if versions.len() > 1_000_000 {
            versions.clear();
        }
        let start = std::time::Instant::now();
        let cpu_start = crate::metrics::thread_cpu_ns();
        let committed = match &mut conn {
            Db::Sqlite(c) => commit_batch(c, &batch, &index),
            Db::Pg(c) => commit_batch_pg(c, &batch, &mut versions),
        };
        if let Some(m) = metrics.get() {
            // The group commit: one transaction with its fsync, and how many appends it held.
            let ns = start.elapsed().as_nanos() as u64;
            m.timings.commit_batch.time.record(ns);
            m.timings.commit_size.record(batch.len() as u64);
            m.timings
                .commit_fit
                .record_with_cpu(batch.len() as u64, ns, cpu_start);
        }
        last_end = std::time::Instant::now();
        match committed {
            Ok((results, last)) => {
                head.set(last);
                for (req, res) in batch.into_iter().zip(results) {
                    let _ = req.reply.send(res);
                }
            }
            Err(e) => {
                versions.clear();
                for req in batch {
                    let _ = req.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

type BatchResult = (Vec<Result<Appended, StoreError>>, u64);

fn commit_batch(
    conn: &mut Connection,
    batch: &[AppendRequest],
    index: &StreamIndex,
) -> Result<BatchResult, StoreError> {
    // IMMEDIATE: take the write lock up front (waiting under the busy timeout)
    // rather than upgrading a read transaction, which SQLite may refuse outright.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    // Versions of the streams this batch appended to (the index has them once committed).
    let mut touched: HashMap<(&str, &str), u64> = HashMap::new();
    let mut appended: Vec<(&str, &str, Vec<u64>)> = Vec::new();
    let mut last = 0u64;
    let recorded_at = now_us();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (aggregate_type, aggregate_id, version, event_type, payload, recorded_at_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut snap = tx.prepare_cached(
            "INSERT INTO snapshots (aggregate_type, aggregate_id, version, state) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = excluded.version, state = excluded.state",
        )?;
        // Command ids of this batch, so a duplicate within it is caught too.
        let mut ids: HashMap<&str, u64> = HashMap::new();
        for req in batch {
            if let Some(cid) = req.command_id.as_deref() {
                let seen = match ids.get(cid) {
                    Some(p) => Some(*p),
                    None => tx
                        .prepare_cached("SELECT position FROM processed_commands WHERE command_id = ?1")?
                        .query_row(params![cid], |r| r.get::<_, i64>(0))
                        .optional()?
                        .map(|p| p as u64),
                };
                if let Some(position) = seen {
                    results.push(Err(StoreError::Duplicate {
                        command_id: cid.to_string(),
                        position,
                    }));
                    continue;
                }
            }
            let key = (req.aggregate_type, req.aggregate_id.as_str());
            let current = match touched.get(&key) {
                Some(v) => *v,
                None => index.version(req.aggregate_type, &req.aggregate_id),
            };
            if current != req.expected_version {
                results.push(Err(StoreError::Conflict {
                    aggregate_id: req.aggregate_id.clone(),
                    expected: req.expected_version,
                    actual: current,
                }));
                continue;
            }
            let mut version = current;
            let mut positions = Vec::with_capacity(req.events.len());
            for e in &req.events {
                version += 1;
                insert.execute(params![
                    req.aggregate_type,
                    req.aggregate_id,
                    version as i64,
                    e.event_type,
                    e.payload,
                    recorded_at
                ])?;
                last = tx.last_insert_rowid() as u64;
                positions.push(last);
            }
            if let Some(state) = &req.snapshot {
                snap.execute(params![
                    req.aggregate_type,
                    req.aggregate_id,
                    version as i64,
                    state
                ])?;
            }
            if let Some(cid) = req.command_id.as_deref() {
                tx.prepare_cached(
                    "INSERT INTO processed_commands (command_id, aggregate_type, aggregate_id, position, recorded_at_us)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![cid, req.aggregate_type, req.aggregate_id, last as i64, recorded_at])?;
                ids.insert(cid, last);
            }
            touched.insert(key, version);
            appended.push((req.aggregate_type, req.aggregate_id.as_str(), positions));
            results.push(Ok(Appended {
                version,
                position: last,
            }));
        }
    }
    tx.commit()?;
    index.extend(appended);
    Ok((results, last))
}

fn commit_batch_pg(
    conn: &mut PgClient,
    batch: &[AppendRequest],
    versions: &mut HashMap<StreamKey, u64>,
) -> Result<BatchResult, StoreError> {
    let mut tx = conn.transaction()?;
    // Current versions of the streams not in the cache: one query for the batch.
    let mut miss_types: Vec<&str> = Vec::new();
    let mut miss_ids: Vec<&str> = Vec::new();
    for req in batch {
        let key: StreamKey = (req.aggregate_type, req.aggregate_id.clone());
        if !versions.contains_key(&key) {
            miss_types.push(req.aggregate_type);
            miss_ids.push(&req.aggregate_id);
        }
    }
    let mut touched: HashMap<StreamKey, u64> = HashMap::new();
    if !miss_ids.is_empty() {
        let rows = tx.query(
            "SELECT e.aggregate_type, e.aggregate_id, MAX(e.version)::BIGINT FROM events e
             JOIN UNNEST($1::text[], $2::text[]) AS k(t, i) ON e.aggregate_type = k.t AND e.aggregate_id = k.i
             GROUP BY e.aggregate_type, e.aggregate_id",
            &[&miss_types, &miss_ids],
        )?;
        let mut found: HashMap<(String, String), u64> = HashMap::new();
        for r in rows {
            let v: i64 = r.try_get(2)?;
            found.insert((r.try_get(0)?, r.try_get(1)?), v as u64);
        }
        for req in batch {
            let key: StreamKey = (req.aggregate_type, req.aggregate_id.clone());
            if !versions.contains_key(&key) {
                let v = found
                    .get(&(req.aggregate_type.to_string(), req.aggregate_id.clone()))
                    .copied()
                    .unwrap_or(0);
                touched.entry(key).or_insert(v);
            }
        }
    }
    // Command ids recorded before, one query for the batch.
    let cids: Vec<&str> = batch.iter().filter_map(|r| r.command_id.as_deref()).collect();
    let mut known_ids: HashMap<String, u64> = HashMap::new();
    if !cids.is_empty() {
        for r in tx.query(
            "SELECT command_id, position FROM processed_commands WHERE command_id = ANY($1)",
            &[&cids],
        )? {
            known_ids.insert(r.try_get(0)?, r.try_get::<_, i64>(1)? as u64);
        }
    }
    let mut new_ids: std::collections::HashSet<&str> = std::collections::HashSet::new();
    // Decide every request, then insert all accepted events in one statement.
    let recorded_at = now_us();
    let mut results: Vec<Result<Appended, StoreError>> = Vec::with_capacity(batch.len());
    let (mut types, mut ids, mut vers, mut etypes, mut payloads) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut snapshots = Vec::new();
    for req in batch {
        if let Some(cid) = req.command_id.as_deref() {
            if let Some(position) = known_ids.get(cid) {
                results.push(Err(StoreError::Duplicate {
                    command_id: cid.to_string(),
                    position: *position,
                }));
                continue;
            }
            if !new_ids.insert(cid) {
                // Its position is known once the batch is inserted.
                results.push(Err(StoreError::Duplicate {
                    command_id: cid.to_string(),
                    position: 0,
                }));
                continue;
            }
        }
        let key: StreamKey = (req.aggregate_type, req.aggregate_id.clone());
        let current = touched
            .get(&key)
            .or_else(|| versions.get(&key))
            .copied()
            .unwrap_or(0);
        if current != req.expected_version {
            results.push(Err(StoreError::Conflict {
                aggregate_id: req.aggregate_id.clone(),
                expected: req.expected_version,
                actual: current,
            }));
            continue;
        }
        let mut version = current;
        for e in &req.events {
            version += 1;
            types.push(req.aggregate_type);
            ids.push(req.aggregate_id.as_str());
            vers.push(version as i64);
            etypes.push(e.event_type);
            payloads.push(e.payload.as_str());
        }
        if let Some(state) = &req.snapshot {
            snapshots.push((
                req.aggregate_type,
                req.aggregate_id.as_str(),
                version as i64,
                state,
            ));
        }
        touched.insert(key, version);
        results.push(Ok(Appended {
            version,
            position: 0,
        }));
    }
    let mut positions: HashMap<(String, i64), u64> = HashMap::new();
    let mut last = 0u64;
    if !ids.is_empty() {
        let rows = tx.query(
            "INSERT INTO events (aggregate_type, aggregate_id, version, event_type, payload, recorded_at_us)
             SELECT t, i, v, et, p, $6 FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])
                 AS x(t, i, v, et, p)
             RETURNING position, aggregate_type, aggregate_id, version",
            &[&types, &ids, &vers, &etypes, &payloads, &recorded_at],
        )?;
        for r in rows {
            let pos = r.try_get::<_, i64>(0)? as u64;
            let t: String = r.try_get(1)?;
            let i: String = r.try_get(2)?;
            positions.insert((format!("{t}\0{i}"), r.try_get(3)?), pos);
            last = last.max(pos);
        }
    }
    for (t, i, v, state) in snapshots {
        tx.execute(
            "INSERT INTO snapshots (aggregate_type, aggregate_id, version, state) VALUES ($1, $2, $3, $4)
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = excluded.version, state = excluded.state",
            &[&t, &i, &v, state],
        )?;
    }
    for (req, res) in batch.iter().zip(results.iter_mut()) {
        if let Ok(a) = res {
            let key = (
                format!("{}\0{}", req.aggregate_type, req.aggregate_id),
                a.version as i64,
            );
            a.position = positions.get(&key).copied().unwrap_or(last);
        }
    }
    let (mut c_ids, mut c_types, mut c_aggs, mut c_pos) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (req, res) in batch.iter().zip(results.iter()) {
        if let (Some(cid), Ok(a)) = (req.command_id.as_deref(), res) {
            c_ids.push(cid);
            c_types.push(req.aggregate_type);
            c_aggs.push(req.aggregate_id.as_str());
            c_pos.push(a.position as i64);
        }
    }
    if !c_ids.is_empty() {
        tx.execute(
            "INSERT INTO processed_commands (command_id, aggregate_type, aggregate_id, position, recorded_at_us)
             SELECT c, t, i, p, $5 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) AS x(c, t, i, p)",
            &[&c_ids, &c_types, &c_aggs, &c_pos, &recorded_at],
        )?;
    }
    tx.commit()?;
    versions.extend(touched);
    Ok((results, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_connections_keep_one_plan_per_statement() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open(&dir.path().join("events.db")).expect("open");
        let qpsg = conn
            .db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)
            .expect("db_config");
        assert!(qpsg, "without QPSG every rebind re-prepares the statement");
    }

    #[tokio::test]
    async fn the_checkpointer_keeps_the_log_short_off_the_commit_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        // One append a commit, each event three overflow pages: 1,500 commits put about
        // 8,000 frames in the WAL, twice the bound at which a commit checkpoints itself.
        let store = EventStore::open(dir.path(), 1, Duration::ZERO, None, None).expect("open");
        let payload = "x".repeat(12_000);
        for i in 0..1_500 {
            let event = NewEvent {
                event_type: "Filled",
                payload: payload.clone(),
            };
            store
                .append("Pad", format!("pad-{i}"), 0, vec![event], None)
                .await
                .expect("append");
        }
        store.close();
        let size = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        // The WAL hook turns SQLite's automatic checkpoint off: without the checkpointer
        // thread the events would all still be in the WAL and `events.db` its schema alone.
        assert!(
            size("events.db") > 10_000_000,
            "events.db is {} bytes: the log was never checkpointed",
            size("events.db")
        );
        // 1,000 frames signal the checkpointer; at 4,000 a commit finishes the copy and
        // the log starts over, so it never holds much more than 4,000 frames of 4 KiB.
        assert!(
            size("events.db-wal") < 20_000_000,
            "the WAL grew to {} bytes: checkpoints did not keep up",
            size("events.db-wal")
        );
    }

    fn event(t: &'static str) -> Vec<NewEvent> {
        vec![NewEvent {
            event_type: t,
            payload: "{}".into(),
        }]
    }

    #[tokio::test]
    async fn the_stream_index_is_rebuilt_from_the_log_when_the_store_opens() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EventStore::open(dir.path(), 64, Duration::ZERO, None, None).expect("open");
        let two = [event("Opened"), event("Renamed")].concat();
        store.append("T", "a".into(), 0, two, None).await.expect("a 1-2");
        store.append("T", "b".into(), 0, event("Opened"), None).await.expect("b 1");
        store.append("T", "a".into(), 2, event("Closed"), None).await.expect("a 3");
        store.close();
        drop(store);

        let store = EventStore::open(dir.path(), 64, Duration::ZERO, None, None).expect("reopen");
        let a = store.load("T", "a").expect("load a");
        let seen: Vec<_> = a.events.iter().map(|e| (e.version, e.event_type.as_str())).collect();
        assert_eq!(seen, [(1, "Opened"), (2, "Renamed"), (3, "Closed")]);
        assert_eq!(store.load("T", "b").expect("load b").events.len(), 1);
        assert!(store.load("T", "c").expect("load c").events.is_empty());
        // The writer knows every stream after the restart: a create of `a` conflicts.
        match store.append("T", "a".into(), 0, event("Opened"), None).await {
            Err(StoreError::Conflict { actual: 3, .. }) => {}
            other => panic!("a create of an existing stream after a restart: {other:?}"),
        }
        let next = store.append("T", "a".into(), 3, event("Reopened"), None).await;
        assert_eq!(next.expect("a 4").version, 4);
        store.close();
    }

    #[tokio::test]
    async fn two_appends_expecting_one_version_in_one_commit_are_one_append_and_one_conflict() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A 50 ms rest after the open: both appends are queued before the first commit.
        let store = EventStore::open(dir.path(), 64, Duration::from_millis(50), None, None)
            .expect("open");
        let (x, y) = tokio::join!(
            store.append("T", "a".into(), 0, event("Opened"), None),
            store.append("T", "a".into(), 0, event("Opened"), None)
        );
        let conflicts = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict { actual: 1, .. })))
            .count();
        assert!(x.is_ok() != y.is_ok() && conflicts == 1, "{x:?} {y:?}");
        assert_eq!(store.load("T", "a").expect("load").events.len(), 1);
        store.close();
    }

    #[test]
    fn the_log_has_no_index_by_stream_and_a_gap_in_a_stream_is_refused_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EventStore::open(dir.path(), 64, Duration::ZERO, None, None).expect("open");
        store.close();
        drop(store);
        let conn = Connection::open(dir.path().join("events.db")).expect("open the file");
        // An index by stream would make each commit write a leaf page per event.
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'",
                [],
                |r| r.get(0),
            )
            .expect("indexes");
        assert_eq!(indexes, 0, "the events table has an index");
        for v in [1, 3] {
            conn.execute(
                "INSERT INTO events (aggregate_type, aggregate_id, version, event_type, payload, recorded_at_us)
                 VALUES ('T', 'a', ?1, 'E', '{}', 0)",
                params![v],
            )
            .expect("insert");
        }
        drop(conn);
        let err = EventStore::open(dir.path(), 64, Duration::ZERO, None, None)
            .err()
            .expect("a gap in a stream is refused");
        let text = err.to_string();
        assert!(
            text.contains("event 2 of T a has version 3 after 1"),
            "names the event: {text}"
        );
    }

    #[test]
    fn a_pool_hands_out_an_idle_connection_before_waiting() {
        let pool = [Mutex::new(0), Mutex::new(1), Mutex::new(2)];
        let next = AtomicUsize::new(0);
        let held = pool[1].lock().expect("lock");
        next.store(1, Ordering::Relaxed);
        let got = free_or_next(&pool, &next).expect("a connection");
        assert_eq!(*got, 2, "skips the busy connection");
        drop(held);
    }
}
