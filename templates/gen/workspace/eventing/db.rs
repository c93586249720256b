//! A service's own database: SQLite (a file under `DATA_DIR`, shared by the instances of
//! the service on this machine) or PostgreSQL (`DATABASE_URL`, one schema per service),
//! its migrations, its records, its transactional outbox, its replicated read models and
//! the checkpoints and processed-event ids of its consumers.
//!
//! Every change of a record writes its outbox rows in the same transaction
//! ([`Db::write`]); a consumer applies an event, records its id and advances its
//! checkpoint in one transaction ([`Db::apply`]), so a redelivered event is skipped.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{now_ms, Spec, Subscription, Target};

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgresql: {0}")]
    Pg(#[from] postgres::Error),
    #[error("{0}")]
    Other(String),
}

/// An event as it leaves an outbox: on the bus, and from `GET /outbox`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `{source}:{seq}`: unique, the dedupe key of consumers and the NATS message id.
    pub id: String,
    /// Position in the source's outbox.
    pub seq: i64,
    pub source: String,
    pub event: String,
    /// The record it is about.
    pub aggregate: String,
    /// `upsert` or `delete`.
    pub op: String,
    /// The record after the change (`null` for a delete).
    pub data: Value,
    pub created_ms: i64,
}

/// A value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I(i64),
    T(String),
    N,
}

impl Val {
    pub fn int(&self) -> i64 {
        match self {
            Val::I(i) => *i,
            Val::T(t) => t.parse().unwrap_or(0),
            Val::N => 0,
        }
    }
    pub fn text(&self) -> String {
        match self {
            Val::I(i) => i.to_string(),
            Val::T(t) => t.clone(),
            Val::N => String::new(),
        }
    }
}

enum Conn {
    Lite(rusqlite::Connection),
    Pg(postgres::Client),
}

enum Kind {
    Lite(PathBuf),
    Pg { url: String, schema: String },
}

/// One open transaction, on either engine. SQL is written for PostgreSQL (`$1`,
/// `::text::jsonb`); for SQLite the casts are dropped and `$n` becomes `?n`.
pub struct Tx<'a> {
    inner: TxInner<'a>,
}

enum TxInner<'a> {
    Lite(rusqlite::Transaction<'a>),
    Pg(postgres::Transaction<'a>),
}

fn lite_sql(sql: &str) -> String {
    sql.replace("::text::jsonb", "")
        .replace("::text", "")
        .replace('$', "?")
}

impl Tx<'_> {
    pub fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        match &mut self.inner {
            TxInner::Lite(t) => {
                let n = t.execute(
                    &lite_sql(sql),
                    rusqlite::params_from_iter(args.iter().map(lite)),
                )?;
                Ok(n as u64)
            }
            TxInner::Pg(t) => {
                let p = pg_params(args);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                Ok(t.execute(sql, &refs)?)
            }
        }
    }

    pub fn query(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
        match &mut self.inner {
            TxInner::Lite(t) => {
                let mut st = t.prepare(&lite_sql(sql))?;
                let cols = st.column_count();
                let rows =
                    st.query_map(rusqlite::params_from_iter(args.iter().map(lite)), |r| {
                        let mut out = Vec::with_capacity(cols);
                        for i in 0..cols {
                            out.push(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Integer(v) => Val::I(v),
                                rusqlite::types::ValueRef::Real(v) => Val::I(v as i64),
                                rusqlite::types::ValueRef::Text(t) => {
                                    Val::T(String::from_utf8_lossy(t).into_owned())
                                }
                                rusqlite::types::ValueRef::Blob(b) => {
                                    Val::T(String::from_utf8_lossy(b).into_owned())
                                }
                                rusqlite::types::ValueRef::Null => Val::N,
                            });
                        }
                        Ok(out)
                    })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            }
            TxInner::Pg(t) => {
                let p = pg_params(args);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                let rows = t.query(sql, &refs)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let mut row = Vec::with_capacity(r.len());
                    for i in 0..r.len() {
                        let v = if let Ok(v) = r.try_get::<_, Option<i64>>(i) {
                            v.map(Val::I).unwrap_or(Val::N)
                        } else if let Ok(v) = r.try_get::<_, Option<i32>>(i) {
                            v.map(|x| Val::I(x.into())).unwrap_or(Val::N)
                        } else {
                            r.try_get::<_, Option<String>>(i)?
                                .map(Val::T)
                                .unwrap_or(Val::N)
                        };
                        row.push(v);
                    }
                    out.push(row);
                }
                Ok(out)
            }
        }
    }

    fn is_pg(&self) -> bool {
        matches!(self.inner, TxInner::Pg(_))
    }

    /// Serializes writers of the outbox until the commit, so sequence numbers become
    /// visible in order (a reader of `seq > N` never skips a row committed later).
    /// SQLite's write lock (`BEGIN IMMEDIATE`) already does.
    fn lock_outbox(&mut self) -> Result<(), DbError> {
        if self.is_pg() {
            self.query(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.outbox'))::text",
                &[],
            )?;
        }
        Ok(())
    }
}

fn lite(v: &Val) -> rusqlite::types::Value {
    match v {
        Val::I(i) => rusqlite::types::Value::Integer(*i),
        Val::T(t) => rusqlite::types::Value::Text(t.clone()),
        Val::N => rusqlite::types::Value::Null,
    }
}

fn pg_params(args: &[Val]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    args.iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                Val::I(i) => Box::new(*i),
                Val::T(t) => Box::new(t.clone()),
                Val::N => Box::new(Option::<String>::None),
            }
        })
        .collect()
}

/// The tables every service has, per engine.
const CORE_LITE: &str = "
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, doc TEXT NOT NULL CHECK (json_valid(doc)), updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, aggregate TEXT NOT NULL, op TEXT NOT NULL, payload TEXT NOT NULL, created_ms INTEGER NOT NULL, published_ms INTEGER);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_ms IS NULL;
CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL, event_ms INTEGER NOT NULL, applied_ms INTEGER NOT NULL);
";
const CORE_PG: &str = "
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, doc JSONB NOT NULL, updated_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq BIGSERIAL PRIMARY KEY, event TEXT NOT NULL, aggregate TEXT NOT NULL, op TEXT NOT NULL, payload JSONB NOT NULL, created_ms BIGINT NOT NULL, published_ms BIGINT);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_ms IS NULL;
CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY, applied_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (consumer TEXT PRIMARY KEY, seq BIGINT NOT NULL, event_ms BIGINT NOT NULL, applied_ms BIGINT NOT NULL);
";

/// The migrations of a service: the core tables, then one table per read model. Each
/// is applied once (recorded in `schema_migrations`).
pub fn migrations(spec: &Spec, pg: bool) -> Vec<(String, String)> {
    let mut m = vec![(
        "0001_core".to_string(),
        if pg { CORE_PG } else { CORE_LITE }.to_string(),
    )];
    for v in spec.views {
        let doc = if pg {
            "JSONB NOT NULL"
        } else {
            "TEXT NOT NULL CHECK (json_valid(doc))"
        };
        m.push((
            format!("0002_view_{v}"),
            format!("CREATE TABLE IF NOT EXISTS view_{v} (id TEXT PRIMARY KEY, doc {doc}, src_seq BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"),
        ));
    }
    m
}

/// The most connections kept open.
const POOL: usize = 8;

/// A service's database.
pub struct Db {
    kind: Kind,
    pool: Mutex<Vec<Conn>>,
    spec: &'static Spec,
}

/// What a record write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
    Deleted,
    /// POST of an id that exists.
    Conflict,
    /// DELETE of an id that does not.
    Missing,
}

impl Db {
    /// The database named by `url` (`postgres://…`), or the SQLite file
    /// `{data_dir}/{service}.db`; migrated.
    pub fn open(spec: &'static Spec, url: Option<&str>, data_dir: &str) -> Result<Db, DbError> {
        let kind = match url {
            Some(u) => Kind::Pg {
                url: u.to_string(),
                schema: spec.service.to_string(),
            },
            None => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|e| DbError::Other(format!("DATA_DIR {data_dir}: {e}")))?;
                Kind::Lite(PathBuf::from(data_dir).join(format!("{}.db", spec.service)))
            }
        };
        let db = Db {
            kind,
            pool: Mutex::new(Vec::new()),
            spec,
        };
        db.migrate()?;
        Ok(db)
    }

    /// `sqlite` or `postgresql`.
    pub fn engine(&self) -> &'static str {
        match self.kind {
            Kind::Lite(_) => "sqlite",
            Kind::Pg { .. } => "postgresql",
        }
    }

    fn connect(&self) -> Result<Conn, DbError> {
        match &self.kind {
            Kind::Lite(path) => {
                let c = rusqlite::Connection::open(path)?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c.pragma_update(None, "journal_mode", "WAL")?;
                c.pragma_update(None, "synchronous", "NORMAL")?;
                Ok(Conn::Lite(c))
            }
            Kind::Pg { url, schema } => {
                let mut c = postgres::Client::connect(url, postgres::NoTls)?;
                c.batch_execute(&format!("SET search_path TO {schema}"))?;
                Ok(Conn::Pg(c))
            }
        }
    }

    /// Runs `f` in one transaction (blocking: call from `spawn_blocking`). A connection
    /// that failed is dropped, not reused.
    pub fn tx<R>(&self, f: impl FnOnce(&mut Tx) -> Result<R, DbError>) -> Result<R, DbError> {
        let conn = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut conn = match conn {
            Some(c) => c,
            None => self.connect()?,
        };
        let r = match &mut conn {
            Conn::Lite(c) => {
                let t = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut tx = Tx {
                    inner: TxInner::Lite(t),
                };
                let r = f(&mut tx);
                match (r, tx.inner) {
                    (Ok(v), TxInner::Lite(t)) => t.commit().map(|_| v).map_err(DbError::from),
                    (Err(e), _) => Err(e),
                    (Ok(_), TxInner::Pg(_)) => Err(DbError::Other("engine mix-up".into())),
                }
            }
            Conn::Pg(c) => {
                let t = c.transaction()?;
                let mut tx = Tx {
                    inner: TxInner::Pg(t),
                };
                let r = f(&mut tx);
                match (r, tx.inner) {
                    (Ok(v), TxInner::Pg(t)) => t.commit().map(|_| v).map_err(DbError::from),
                    (Err(e), _) => Err(e),
                    (Ok(_), TxInner::Lite(_)) => Err(DbError::Other("engine mix-up".into())),
                }
            }
        };
        let broken = match (&r, &conn) {
            (Err(DbError::Pg(_)), Conn::Pg(c)) => c.is_closed(),
            _ => false,
        };
        if !broken {
            if let Ok(mut p) = self.pool.lock() {
                if p.len() < POOL {
                    p.push(conn);
                }
            }
        }
        r
    }

    /// Applies the migrations not applied yet (one instance at a time).
    pub fn migrate(&self) -> Result<(), DbError> {
        let pg = matches!(self.kind, Kind::Pg { .. });
        let schema = self.spec.service;
        let list = migrations(self.spec, pg);
        self.tx(|tx| {
            if pg {
                tx.query(
                    "SELECT pg_advisory_xact_lock(hashtext($1))::text",
                    &[Val::T(format!("migrate.{schema}"))],
                )?;
                tx.exec(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"), &[])?;
            }
            tx.exec(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
                &[],
            )?;
            for (name, sql) in &list {
                let done = tx.query(
                    "SELECT name FROM schema_migrations WHERE name = $1",
                    &[Val::T(name.clone())],
                )?;
                if !done.is_empty() {
                    continue;
                }
                for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    tx.exec(stmt, &[])?;
                }
                tx.exec(
                    "INSERT INTO schema_migrations (name, applied_ms) VALUES ($1, $2)",
                    &[Val::T(name.clone()), Val::I(now_ms())],
                )?;
            }
            Ok(())
        })
    }

    /// Writes the record `id` (`None` deletes it; `create` refuses an existing id) and,
    /// in the same transaction, one outbox row per event the service publishes.
    pub fn write(&self, id: &str, doc: Option<&Value>, create: bool) -> Result<Written, DbError> {
        self.tx(|tx| write_in(tx, self.spec, id, doc, create))
    }

    pub fn get(&self, id: &str) -> Result<Option<Value>, DbError> {
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT doc::text FROM records WHERE id = $1",
                &[Val::T(id.to_string())],
            )?;
            Ok(rows
                .first()
                .and_then(|r| serde_json::from_str(&r[0].text()).ok()))
        })
    }

    pub fn list(&self, limit: i64, offset: i64) -> Result<Vec<Value>, DbError> {
        self.docs("records", limit, offset)
    }

    fn docs(&self, table: &str, limit: i64, offset: i64) -> Result<Vec<Value>, DbError> {
        self.tx(|tx| {
            let rows = tx.query(
                &format!("SELECT doc::text FROM {table} ORDER BY id LIMIT $1 OFFSET $2"),
                &[Val::I(limit), Val::I(offset)],
            )?;
            Ok(rows
                .iter()
                .filter_map(|r| serde_json::from_str(&r[0].text()).ok())
                .collect())
        })
    }

    /// Rows of a read model; `None` if the service keeps no such view.
    pub fn view_list(
        &self,
        view: &str,
        limit: i64,
        offset: i64,
    ) -> Option<Result<Vec<Value>, DbError>> {
        let v = self.spec.views.iter().find(|v| **v == view)?;
        Some(self.docs(&format!("view_{v}"), limit, offset))
    }

    pub fn view_get(&self, view: &str, id: &str) -> Option<Result<Option<Value>, DbError>> {
        let v = self.spec.views.iter().find(|v| **v == view)?;
        Some(self.tx(|tx| {
            let rows = tx.query(
                &format!("SELECT doc::text FROM view_{v} WHERE id = $1"),
                &[Val::T(id.to_string())],
            )?;
            Ok(rows
                .first()
                .and_then(|r| serde_json::from_str(&r[0].text()).ok()))
        }))
    }

    /// Outbox rows after `after`, oldest first, and the newest sequence number.
    pub fn outbox(&self, after: i64, limit: i64) -> Result<(i64, Vec<Event>), DbError> {
        let source = self.spec.service;
        self.tx(|tx| {
            let head = tx.query("SELECT COALESCE(MAX(seq), 0) FROM outbox", &[])?;
            let head = head.first().map(|r| r[0].int()).unwrap_or(0);
            let rows = tx.query(
                "SELECT seq, event, aggregate, op, payload::text, created_ms FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[Val::I(after), Val::I(limit)],
            )?;
            Ok((head, rows.iter().map(|r| event_of(source, r)).collect()))
        })
    }

    /// Rows the relay has not published yet, oldest first.
    pub fn unpublished(&self, limit: i64) -> Result<Vec<Event>, DbError> {
        let source = self.spec.service;
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT seq, event, aggregate, op, payload::text, created_ms FROM outbox WHERE published_ms IS NULL ORDER BY seq LIMIT $1",
                &[Val::I(limit)],
            )?;
            Ok(rows.iter().map(|r| event_of(source, r)).collect())
        })
    }

    pub fn mark_published(&self, seqs: &[i64]) -> Result<(), DbError> {
        let now = now_ms();
        self.tx(|tx| {
            for s in seqs {
                tx.exec(
                    "UPDATE outbox SET published_ms = $1 WHERE seq = $2 AND published_ms IS NULL",
                    &[Val::I(now), Val::I(*s)],
                )?;
            }
            Ok(())
        })
    }

    /// How many outbox rows wait for the relay.
    pub fn pending(&self) -> Result<i64, DbError> {
        self.tx(|tx| {
            let r = tx.query(
                "SELECT COUNT(*) FROM outbox WHERE published_ms IS NULL",
                &[],
            )?;
            Ok(r.first().map(|r| r[0].int()).unwrap_or(0))
        })
    }

    /// The checkpoint of a consumer: the last position it applied.
    pub fn checkpoint(&self, consumer: &str) -> Result<i64, DbError> {
        self.tx(|tx| {
            let r = tx.query(
                "SELECT seq FROM checkpoints WHERE consumer = $1",
                &[Val::T(consumer.to_string())],
            )?;
            Ok(r.first().map(|r| r[0].int()).unwrap_or(0))
        })
    }

    /// Applies `ev` for `sub` (skipped if its id was applied before), records its id and
    /// moves the checkpoint to `position`, all in one transaction. `None` only moves the
    /// checkpoint (an event of another type in the source's outbox). Returns whether the
    /// event was new.
    pub fn apply(
        &self,
        sub: &Subscription,
        ev: Option<&Event>,
        position: i64,
        event_ms: i64,
    ) -> Result<bool, DbError> {
        let spec = self.spec;
        self.tx(|tx| {
            let mut fresh = false;
            if let Some(ev) = ev {
                if sub.target == Target::Records {
                    tx.lock_outbox()?;
                }
                fresh = tx.exec(
                    "INSERT INTO processed (event_id, applied_ms) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
                    &[Val::T(ev.id.clone()), Val::I(now_ms())],
                )? == 1;
                if fresh {
                    let doc = (ev.op != "delete").then_some(&ev.data);
                    match sub.target {
                        Target::Records => {
                            write_in(tx, spec, &ev.aggregate, doc, false)?;
                        }
                        Target::View => {
                            let table = format!("view_{}", sub.view);
                            match doc {
                                Some(d) => tx.exec(
                                    &format!("INSERT INTO {table} (id, doc, src_seq, updated_ms) VALUES ($1, $2::text::jsonb, $3, $4) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, src_seq = excluded.src_seq, updated_ms = excluded.updated_ms WHERE {table}.src_seq < excluded.src_seq"),
                                    &[Val::T(ev.aggregate.clone()), Val::T(d.to_string()), Val::I(ev.seq), Val::I(now_ms())],
                                )?,
                                None => tx.exec(
                                    &format!("DELETE FROM {table} WHERE id = $1 AND src_seq < $2"),
                                    &[Val::T(ev.aggregate.clone()), Val::I(ev.seq)],
                                )?,
                            };
                        }
                    }
                }
            }
            tx.exec(
                "INSERT INTO checkpoints (consumer, seq, event_ms, applied_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq, event_ms = excluded.event_ms, applied_ms = excluded.applied_ms WHERE checkpoints.seq < excluded.seq",
                &[Val::T(sub.durable.to_string()), Val::I(position), Val::I(event_ms), Val::I(now_ms())],
            )?;
            Ok(fresh)
        })
    }
}

fn event_of(source: &str, r: &[Val]) -> Event {
    let seq = r[0].int();
    Event {
        id: format!("{source}:{seq}"),
        seq,
        source: source.to_string(),
        event: r[1].text(),
        aggregate: r[2].text(),
        op: r[3].text(),
        data: serde_json::from_str(&r[4].text()).unwrap_or(Value::Null),
        created_ms: r[5].int(),
    }
}

fn write_in(
    tx: &mut Tx,
    spec: &Spec,
    id: &str,
    doc: Option<&Value>,
    create: bool,
) -> Result<Written, DbError> {
    tx.lock_outbox()?;
    let now = now_ms();
    let written = match doc {
        Some(d) => {
            let exists = !tx
                .query(
                    "SELECT id FROM records WHERE id = $1",
                    &[Val::T(id.to_string())],
                )?
                .is_empty();
            if exists && create {
                return Ok(Written::Conflict);
            }
            tx.exec(
                "INSERT INTO records (id, doc, updated_ms) VALUES ($1, $2::text::jsonb, $3) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_ms = excluded.updated_ms",
                &[Val::T(id.to_string()), Val::T(d.to_string()), Val::I(now)],
            )?;
            if exists {
                Written::Replaced
            } else {
                Written::Created
            }
        }
        None => {
            if tx.exec(
                "DELETE FROM records WHERE id = $1",
                &[Val::T(id.to_string())],
            )? == 0
            {
                return Ok(Written::Missing);
            }
            Written::Deleted
        }
    };
    let (op, payload) = match doc {
        Some(d) => ("upsert", d.to_string()),
        None => ("delete", "null".to_string()),
    };
    for event in spec.publishes {
        tx.exec(
            "INSERT INTO outbox (event, aggregate, op, payload, created_ms) VALUES ($1, $2, $3, $4::text::jsonb, $5)",
            &[
                Val::T(event.to_string()),
                Val::T(id.to_string()),
                Val::T(op.to_string()),
                Val::T(payload.clone()),
                Val::I(now),
            ],
        )?;
    }
    Ok(written)
}
