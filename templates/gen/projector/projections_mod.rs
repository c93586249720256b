//! Projectors and the views they build, one module each.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection};

use crate::bus::{Delivered, ProjectionError};
use crate::domain::Aggregate;

{%- for p in plan.projectors %}
pub mod {{ p.module }};
{%- endfor %}

/// How one aggregate changed over a batch of events.
pub struct Change<S> {
    pub id: String,
    /// Version and state before the batch (`None`: not seen before).
    pub old: Option<(u64, S)>,
    /// Version and state after the batch.
    pub new: (u64, S),
}

/// The states a projector has written, by aggregate id, so the next event of an
/// aggregate needs no read (and no JSON decoding) of the view's own rows. A batch takes
/// its entries out and puts them back only once its transaction has committed, so a
/// failed apply leaves nothing stale behind: those aggregates are read again. Bounded:
/// emptied when full.
pub struct KnownStates<S> {
    states: HashMap<String, (u64, S)>,
    limit: usize,
}

impl<S> KnownStates<S> {
    /// Remembers at most `limit` aggregates.
    pub fn new(limit: usize) -> Self {
        KnownStates {
            states: HashMap::new(),
            limit,
        }
    }

    /// Takes out the state of `id`, if known.
    pub fn take(&mut self, id: &str) -> Option<(u64, S)> {
        self.states.remove(id)
    }

    /// Keeps the states a committed batch produced.
    pub fn keep(&mut self, changes: Vec<Change<S>>) {
        for c in changes {
            if self.states.len() >= self.limit {
                self.states.clear();
            }
            self.states.insert(c.id, c.new);
        }
    }

    /// Forgets everything (the view was reset).
    pub fn clear(&mut self) {
        self.states.clear();
    }
}

/// How many aggregates' states a SQLite view keeps in memory.
pub const KNOWN_STATES: usize = 100_000;

/// Folds a batch of events into per-aggregate changes, loading each aggregate's
/// prior state once with `load`. Events of other aggregate types are ignored.
pub fn fold<S: Aggregate>(
    name: &'static str,
    events: &[Delivered],
    mut load: impl FnMut(&str) -> Result<Option<(u64, S)>, ProjectionError>,
) -> Result<Vec<Change<S>>, ProjectionError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut changes: Vec<Change<S>> = Vec::new();
    for d in events {
        let e = &d.event;
        if e.aggregate_type != S::TYPE {
            continue;
        }
        let Some(event) = S::decode(&e.event_type, &e.payload).map_err(|err| {
            ProjectionError::new(name, format!("event at position {}: {err}", e.position))
        })?
        else {
            continue;
        };
        let i = match index.get(&e.aggregate_id) {
            Some(i) => *i,
            None => {
                let old = load(&e.aggregate_id)?;
                let new = old.clone().unwrap_or_default();
                changes.push(Change {
                    id: e.aggregate_id.clone(),
                    old,
                    new,
                });
                index.insert(e.aggregate_id.clone(), changes.len() - 1);
                changes.len() - 1
            }
        };
        let c = &mut changes[i];
        if e.version <= c.new.0 {
            continue; // already applied
        }
        c.new.1.apply(&event);
        c.new.0 = e.version;
    }
    Ok(changes)
}

/// Opens a view's SQLite file (WAL; views are rebuildable, so synchronous=NORMAL).
pub fn open_sqlite(
    dir: &Path,
    file: &str,
    name: &'static str,
) -> Result<Connection, ProjectionError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ProjectionError::new(name, format!("{}: {e}", dir.display())))?;
    let conn = Connection::open(dir.join(file)).map_err(|e| ProjectionError::new(name, e))?;
    // One plan per statement: without it the bundled SQLite (STAT4) re-prepares a
    // cached statement whenever a bound value changes.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .and_then(|_| conn.busy_timeout(Duration::from_secs(10)))
        .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
        .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
        // As the event store: the hot pages cached.
        .and_then(|_| conn.pragma_update(None, "cache_size", -crate::store::SQLITE_CACHE_KIB))
        .and_then(|_| {
            conn.execute_batch("CREATE TABLE IF NOT EXISTS checkpoints (partition INTEGER PRIMARY KEY, position INTEGER NOT NULL);")
        })
        .map_err(|e| ProjectionError::new(name, e))?;
    Ok(conn)
}

/// Opens the connection a projector writes its view's SQLite file with: [`open_sqlite`],
/// with the WAL checkpoints on a thread of their own (`crate::store::checkpoint_beside`),
/// so no apply waits for one. `node` is the projector's diagram node, whose CPU that
/// thread's is. The thread ends with the connection.
pub fn open_sqlite_writer(
    dir: &Path,
    file: &str,
    name: &'static str,
    node: &'static str,
) -> Result<Connection, ProjectionError> {
    let mut conn = open_sqlite(dir, file, name)?;
    // Detached: it holds no state of the view, and a checkpoint cut short at exit is
    // finished by the next one (the WAL keeps every frame until then).
    let _checkpointer = crate::store::checkpoint_beside(
        &dir.join(file),
        &mut conn,
        &format!("{name}-checkpoints"),
        node,
        |_| {},
    )
    .map_err(|e| ProjectionError::new(name, e))?;
    Ok(conn)
}

/// Reads the checkpoints stored in a view's SQLite file.
pub fn sqlite_checkpoints(
    conn: &Connection,
    partitions: usize,
    name: &'static str,
) -> Result<Vec<u64>, ProjectionError> {
    let mut cps = vec![0u64; partitions];
    let mut stmt = conn
        .prepare("SELECT partition, position FROM checkpoints")
        .map_err(|e| ProjectionError::new(name, e))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(|e| ProjectionError::new(name, e))?;
    for row in rows {
        let (p, pos) = row.map_err(|e| ProjectionError::new(name, e))?;
        if let Some(cp) = cps.get_mut(p as usize) {
            *cp = pos as u64;
        }
    }
    Ok(cps)
}

/// Writes checkpoints inside the view's transaction.
pub fn sqlite_save_checkpoints(tx: &Connection, cps: &[u64]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO checkpoints (partition, position) VALUES (?1, ?2)
         ON CONFLICT (partition) DO UPDATE SET position = excluded.position",
    )?;
    for (p, pos) in cps.iter().enumerate() {
        stmt.execute(params![p as i64, *pos as i64])?;
    }
    Ok(())
}

/// Page bounds of a list query: `offset` (default 0) and `limit` (default 50, at most 1000).
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u64,
}

impl PageRequest {
    /// Reads `offset` and `limit` from query parameters, naming the one at fault.
    pub fn parse(q: &HashMap<String, String>) -> Result<Self, crate::error::ApiError> {
        let get = |k: &str, default: u64, max: u64| -> Result<u64, crate::error::ApiError> {
            match q.get(k) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
                    crate::error::ApiError::bad_field(
                        k,
                        format!("must be an integer from 0 to {max}"),
                    )
                }),
            }
        };
        Ok(PageRequest {
            offset: get("offset", 0, i64::MAX as u64)?,
            limit: get("limit", 50, 1000)?,
        })
    }
}

/// A pool of read connections to a view's SQLite file.
pub struct SqliteReaders {
    conns: Vec<std::sync::Mutex<Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

impl SqliteReaders {
    /// Opens `n` read-only connections.
    pub fn open(
        dir: &Path,
        file: &str,
        n: usize,
        name: &'static str,
    ) -> Result<Self, ProjectionError> {
        let mut conns = Vec::new();
        for _ in 0..n.max(1) {
            let c = open_sqlite(dir, file, name)?;
            c.pragma_update(None, "query_only", "ON")
                .map_err(|e| ProjectionError::new(name, e))?;
            conns.push(std::sync::Mutex::new(c));
        }
        Ok(SqliteReaders {
            conns,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Runs `f` on one of the connections.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, crate::error::ApiError> {
        let conn = crate::store::free_or_next(&self.conns, &self.next)
            .ok_or_else(|| crate::error::ApiError::unavailable("view reader lock poisoned"))?;
        f(&conn).map_err(|e| crate::error::ApiError::unavailable(format!("view read failed: {e}")))
    }
}

/// A PostgreSQL read connection with its prepared statements (a query by text
/// would cost a second round trip to prepare it every time).
pub struct PgConn {
    client: crate::store::PgClient,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConn {
    /// The prepared statement for `sql`, prepared on first use.
    pub fn prepared(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Runs a prepared query.
    pub fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let s = self.prepared(sql)?;
        self.client.query(&s, params)
    }

    /// Runs a prepared query expecting at most one row.
    pub fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<postgres::Row>, postgres::Error> {
        let s = self.prepared(sql)?;
        self.client.query_opt(&s, params)
    }
}

/// A pool of PostgreSQL connections for a view's reads.
pub struct PgReaders {
    conns: Vec<std::sync::Mutex<PgConn>>,
    next: std::sync::atomic::AtomicUsize,
}

impl PgReaders {
    /// Opens `n` connections.
    pub fn open(
        url: &str,
        schema: Option<&str>,
        n: usize,
        name: &'static str,
    ) -> Result<Self, ProjectionError> {
        let mut conns = Vec::new();
        for _ in 0..n.max(1) {
            let client = crate::store::pg_connect(url, schema).map_err(|e| ProjectionError::new(name, e))?;
            conns.push(std::sync::Mutex::new(PgConn {
                client,
                statements: HashMap::new(),
            }));
        }
        Ok(PgReaders {
            conns,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Runs `f` on one of the connections.
    pub fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut PgConn) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, crate::error::ApiError> {
        let mut conn = crate::store::free_or_next(&self.conns, &self.next)
            .ok_or_else(|| crate::error::ApiError::unavailable("view reader lock poisoned"))?;
        let c: &mut PgConn = &mut conn;
        crate::store::blocking(move || f(c))
            .map_err(|e| crate::error::ApiError::unavailable(format!("view read failed: {e}")))
    }
}

/// Reads the checkpoints of a view stored in PostgreSQL (table `<projector>_checkpoints`).
pub fn pg_checkpoints(
    c: &mut postgres::Client,
    projector: &'static str,
    partitions: usize,
) -> Result<Vec<u64>, ProjectionError> {
    let mut cps = vec![0u64; partitions];
    let rows = crate::store::blocking(|| {
        c.query(
            &format!("SELECT part, position FROM {projector}_checkpoints"),
            &[],
        )
    })
    .map_err(|e| ProjectionError::new(projector, e))?;
    for r in rows {
        let p: i64 = r.try_get(0).map_err(|e| ProjectionError::new(projector, e))?;
        let pos: i64 = r.try_get(1).map_err(|e| ProjectionError::new(projector, e))?;
        if let Some(cp) = cps.get_mut(p as usize) {
            *cp = pos as u64;
        }
    }
    Ok(cps)
}

/// Writes checkpoints inside the view's PostgreSQL transaction.
pub fn pg_save_checkpoints(
    tx: &mut postgres::Transaction<'_>,
    projector: &'static str,
    cps: &[u64],
) -> Result<(), postgres::Error> {
    let stmt = tx.prepare(&format!(
        "INSERT INTO {projector}_checkpoints (part, position) VALUES ($1, $2)
         ON CONFLICT (part) DO UPDATE SET position = excluded.position"
    ))?;
    for (p, pos) in cps.iter().enumerate() {
        tx.execute(&stmt, &[&(p as i64), &(*pos as i64)])?;
    }
    Ok(())
}
