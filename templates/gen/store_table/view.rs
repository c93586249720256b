//! Projector {{ p.node }} "{{ p.label }}" and the table view it builds,
//! {{ v.node }} "{{ v.label }}": one row per `{{ v.aggregate }}`, in SQLite (or in
//! PostgreSQL when `DATABASE_URL` is set).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    fold, open_sqlite_writer, pg_checkpoints, pg_save_checkpoints, sqlite_checkpoints,
    sqlite_save_checkpoints, PageRequest, PgReaders, SqliteReaders,
};
use crate::bus::{Delivered, ProjectionError, Projector};
use crate::domain::{{ v.aggregate_module }}::{ {{- v.aggregate }}State, EVENT_TYPES};
use crate::error::ApiError;
use crate::store::blocking;

/// Projector name (checkpoints, metrics).
pub const PROJECTOR: &str = "{{ p.module }}";
/// View name in the query API.
pub const VIEW: &str = "{{ v.slug }}";
const FILE: &str = "{{ p.module }}.db";
/// Table of the rows (SQLite keeps each view in its own file; PostgreSQL in one schema).
const ROWS: &str = "{{ p.module }}_rows";
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS {{ p.module }}_rows (
    id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    state TEXT NOT NULL
{%- for f in v.fields %},
    \"{{ f.name }}\" {% if f.is_int %}BIGINT{% else %}TEXT{% endif %} NOT NULL
{%- endfor %}
);";
const PG_CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS {{ p.module }}_checkpoints (
    part BIGINT PRIMARY KEY,
    position BIGINT NOT NULL
);";
/// Row count, kept with the rows (`COUNT(*)` would scan the table on every page).
const META: &str = "CREATE TABLE IF NOT EXISTS {{ p.module }}_meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL);";
const COUNT_ADD: &str = "INSERT INTO {{ p.module }}_meta (k, v) VALUES ('rows', $1)
     ON CONFLICT (k) DO UPDATE SET v = {{ p.module }}_meta.v + excluded.v";
const COUNT_GET: &str = "SELECT v FROM {{ p.module }}_meta WHERE k = 'rows'";
const COLUMNS: &str = "id, version{% for f in v.fields %}, \"{{ f.name }}\"{% endfor %}";
const UPSERT: &str = "INSERT INTO {{ p.module }}_rows (id, version, state{% for f in v.fields %}, \"{{ f.name }}\"{% endfor %})
     VALUES ($1, $2, $3{% for f in v.fields %}, ${{ loop.index + 3 }}{% endfor %})
     ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state
     {%- for f in v.fields %}, \"{{ f.name }}\" = excluded.\"{{ f.name }}\"{% endfor %}";

const PG_LOAD: &str = "SELECT id, version, state FROM {{ p.module }}_rows WHERE id = ANY($1)";
const PG_UPSERT_MANY: &str = "INSERT INTO {{ p.module }}_rows (id, version, state{% for f in v.fields %}, \"{{ f.name }}\"{% endfor %})
     SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[]{% for f in v.fields %}, ${{ loop.index + 3 }}::{% if f.is_int %}bigint{% else %}text{% endif %}[]{% endfor %})
     ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state
     {%- for f in v.fields %}, \"{{ f.name }}\" = excluded.\"{{ f.name }}\"{% endfor %}";

/// A row of view {{ v.node }} "{{ v.label }}".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct {{ v.entry_type }} {
    /// Id of the `{{ v.aggregate }}`.
    pub id: String,
    /// Version of the `{{ v.aggregate }}` this row reflects.
    pub version: u64,
{%- for f in v.fields %}
    pub {{ f.name }}: {{ f.rust_ty }},
{%- endfor %}
}

/// A page of view {{ v.node }} "{{ v.label }}".
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct {{ v.page_type }} {
    pub items: Vec<{{ v.entry_type }}>,
    pub offset: u64,
    pub limit: u64,
    pub total: u64,
}

enum Storage {
    Sqlite(Connection),
    Pg(Box<crate::store::PgClient>),
}

/// Projector {{ p.node }} "{{ p.label }}".
pub struct {{ p.projector_type }} {
    db: Storage,
    /// States written to the SQLite rows (the PostgreSQL path loads a batch's rows in one query).
    known: super::KnownStates<{{ v.aggregate }}State>,
}

fn err(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::new(PROJECTOR, e)
}

impl {{ p.projector_type }} {
    /// Opens the view's storage: SQLite under `dir`, or PostgreSQL when `pg` is set.
    pub fn open(dir: &Path, pg: Option<(&str, Option<&str>)>) -> Result<Self, ProjectionError> {
        let db = match pg {
            Some((url, schema)) => {
                let mut c = crate::store::pg_connect(url, schema).map_err(err)?;
                blocking(|| c.batch_execute(&format!("{SCHEMA}\n{PG_CHECKPOINTS}\n{META}")))
                    .map_err(err)?;
                Storage::Pg(Box::new(c))
            }
            None => {
                let conn = open_sqlite_writer(dir, FILE, PROJECTOR, "{{ p.node }}")?;
                conn.execute_batch(&format!("{SCHEMA}\n{META}"))
                    .map_err(err)?;
                Storage::Sqlite(conn)
            }
        };
        Ok({{ p.projector_type }} {
            db,
            known: super::KnownStates::new(super::KNOWN_STATES),
        })
    }
}

fn changes_sqlite(
    tx: &rusqlite::Transaction<'_>,
    events: &[Delivered],
    known: &mut super::KnownStates<{{ v.aggregate }}State>,
) -> Result<Vec<super::Change<{{ v.aggregate }}State>>, ProjectionError> {
    let mut get = tx
        .prepare_cached(&format!("SELECT version, state FROM {ROWS} WHERE id = $1"))
        .map_err(err)?;
    fold::<{{ v.aggregate }}State>(PROJECTOR, events, |id| {
        if let Some(state) = known.take(id) {
            return Ok(Some(state));
        }
        let row = get
            .query_row(params![id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()
            .map_err(err)?;
        match row {
            None => Ok(None),
            Some((v, s)) => Ok(Some((v as u64, serde_json::from_str(&s).map_err(err)?))),
        }
    })
}

impl Projector for {{ p.projector_type }} {
    fn name(&self) -> &'static str {
        PROJECTOR
    }

    fn event_types(&self) -> &'static [&'static str] {
        EVENT_TYPES
    }

    fn checkpoints(&mut self, partitions: usize) -> Result<Vec<u64>, ProjectionError> {
        match &mut self.db {
            Storage::Sqlite(conn) => sqlite_checkpoints(conn, partitions, PROJECTOR),
            Storage::Pg(c) => pg_checkpoints(c, PROJECTOR, partitions),
        }
    }

    fn apply(
        &mut self,
        events: &[Delivered],
        checkpoints: &[u64],
    ) -> Result<bool, ProjectionError> {
        match &mut self.db {
            Storage::Sqlite(conn) => {
                let tx = conn.transaction().map_err(err)?;
                let changes = changes_sqlite(&tx, events, &mut self.known)?;
                {
                    let mut put = tx.prepare_cached(UPSERT).map_err(err)?;
                    for c in &changes {
                        let (version, s) = &c.new;
                        let state = serde_json::to_string(s).map_err(err)?;
                        put.execute(params![
                            c.id,
                            *version as i64,
                            state,
{%- for f in v.fields %}
                            s.{{ f.name }},
{%- endfor %}
                        ])
                        .map_err(err)?;
                    }
                }
                let added = changes.iter().filter(|c| c.old.is_none()).count() as i64;
                if added > 0 {
                    tx.execute(COUNT_ADD, params![added]).map_err(err)?;
                }
                sqlite_save_checkpoints(&tx, checkpoints).map_err(err)?;
                tx.commit().map_err(err)?;
                self.known.keep(changes);
            }
            Storage::Pg(c) => blocking(|| -> Result<(), ProjectionError> {
                let mut tx = c.transaction().map_err(err)?;
                // Two round trips a batch: one loads every row it touches, one
                // writes them all.
                let mut ids: Vec<&str> = events.iter().map(|d| d.event.aggregate_id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                let mut known: HashMap<String, (u64, {{ v.aggregate }}State)> = HashMap::new();
                for r in tx.query(PG_LOAD, &[&ids]).map_err(err)? {
                    let id: String = r.try_get(0).map_err(err)?;
                    let v: i64 = r.try_get(1).map_err(err)?;
                    let s: String = r.try_get(2).map_err(err)?;
                    known.insert(id, (v as u64, serde_json::from_str(&s).map_err(err)?));
                }
                let changes = fold::<{{ v.aggregate }}State>(PROJECTOR, events, |id| Ok(known.remove(id)))?;
                if !changes.is_empty() {
                    let mut col_id: Vec<&str> = Vec::with_capacity(changes.len());
                    let mut col_version: Vec<i64> = Vec::with_capacity(changes.len());
                    let mut col_state: Vec<String> = Vec::with_capacity(changes.len());
{%- for f in v.fields %}
                    let mut col_{{ loop.index }}: Vec<&{{ f.rust_ty }}> = Vec::with_capacity(changes.len());
{%- endfor %}
                    for c in &changes {
                        let (version, s) = &c.new;
                        col_id.push(&c.id);
                        col_version.push(*version as i64);
                        col_state.push(serde_json::to_string(s).map_err(err)?);
{%- for f in v.fields %}
                        col_{{ loop.index }}.push(&s.{{ f.name }});
{%- endfor %}
                    }
                    tx.execute(
                        PG_UPSERT_MANY,
                        &[&col_id, &col_version, &col_state{% for f in v.fields %}, &col_{{ loop.index }}{% endfor %}],
                    )
                    .map_err(err)?;
                }
                let added = changes.iter().filter(|c| c.old.is_none()).count() as i64;
                if added > 0 {
                    tx.execute(COUNT_ADD, &[&added]).map_err(err)?;
                }
                pg_save_checkpoints(&mut tx, PROJECTOR, checkpoints).map_err(err)?;
                tx.commit().map_err(err)
            })?,
        }
        Ok(true)
    }

    fn reset(&mut self) -> Result<(), ProjectionError> {
        self.known.clear();
        match &mut self.db {
            Storage::Sqlite(conn) => conn
                .execute_batch(&format!(
                    "DELETE FROM {ROWS}; DELETE FROM checkpoints; DELETE FROM {PROJECTOR}_meta;"
                ))
                .map_err(err),
            Storage::Pg(c) => blocking(|| {
                c.batch_execute(&format!(
                    "DELETE FROM {ROWS}; DELETE FROM {PROJECTOR}_checkpoints; DELETE FROM {PROJECTOR}_meta;"
                ))
            })
            .map_err(err),
        }
    }

    fn versions(&mut self) -> Result<Option<Vec<(String, u64)>>, ProjectionError> {
        let sql = format!("SELECT id, version FROM {ROWS}");
        let rows = match &mut self.db {
            Storage::Sqlite(conn) => {
                let mut stmt = conn.prepare(&sql).map_err(err)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))
                    .map_err(err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                rows
            }
            Storage::Pg(c) => blocking(|| c.query(&sql, &[]))
                .map_err(err)?
                .iter()
                .map(|r| Ok((r.try_get::<_, String>(0).map_err(err)?, r.try_get::<_, i64>(1).map_err(err)? as u64)))
                .collect::<Result<Vec<_>, ProjectionError>>()?,
        };
        Ok(Some(rows))
    }
}

enum Readers {
    Sqlite(SqliteReaders),
    Pg(PgReaders),
}

/// Read side of view {{ v.node }} "{{ v.label }}".
pub struct {{ v.type_name }} {
    readers: Readers,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<{{ v.entry_type }}> {
    Ok({{ v.entry_type }} {
        id: r.get(0)?,
        version: r.get::<_, i64>(1)? as u64,
{%- for f in v.fields %}
        {{ f.name }}: r.get({{ loop.index + 1 }})?,
{%- endfor %}
    })
}

fn pg_row(r: &postgres::Row) -> Result<{{ v.entry_type }}, postgres::Error> {
    Ok({{ v.entry_type }} {
        id: r.try_get(0)?,
        version: r.try_get::<_, i64>(1)? as u64,
{%- for f in v.fields %}
        {{ f.name }}: r.try_get({{ loop.index + 1 }})?,
{%- endfor %}
    })
}

impl {{ v.type_name }} {
    /// Opens read connections (after the projector has created the schema).
    pub fn open(dir: &Path, pg: Option<(&str, Option<&str>)>) -> Result<Self, ProjectionError> {
        let readers = match pg {
            Some((url, schema)) => Readers::Pg(PgReaders::open(url, schema, 4, PROJECTOR)?),
            None => Readers::Sqlite(SqliteReaders::open(dir, FILE, 4, PROJECTOR)?),
        };
        Ok({{ v.type_name }} { readers })
    }

    /// A page of rows, ordered by id.
    pub fn list(&self, page: PageRequest) -> Result<{{ v.page_type }}, ApiError> {
        let sql = format!("SELECT {COLUMNS} FROM {ROWS} ORDER BY id LIMIT $1 OFFSET $2");
        let (limit, offset) = (page.limit as i64, page.offset as i64);
        let (items, total) = match &self.readers {
            Readers::Sqlite(r) => r.with(|c| {
                let total: i64 = c
                    .query_row(COUNT_GET, [], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0);
                let mut stmt = c.prepare_cached(&sql)?;
                let items = stmt
                    .query_map(params![limit, offset], row)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((items, total))
            })?,
            Readers::Pg(r) => r.with(|c| {
                let total: i64 = match c.query_opt(COUNT_GET, &[])? {
                    Some(r) => r.try_get(0)?,
                    None => 0,
                };
                let items = c
                    .query(&sql, &[&limit, &offset])?
                    .iter()
                    .map(pg_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((items, total))
            })?,
        };
        Ok({{ v.page_type }} {
            items,
            offset: page.offset,
            limit: page.limit,
            total: total as u64,
        })
    }

    /// One row by id.
    pub fn get(&self, id: &str) -> Result<Option<{{ v.entry_type }}>, ApiError> {
        let sql = format!("SELECT {COLUMNS} FROM {ROWS} WHERE id = $1");
        match &self.readers {
            Readers::Sqlite(r) => r.with(|c| c.prepare_cached(&sql)?.query_row(params![id], row).optional()),
            Readers::Pg(r) => r.with(|c| c.query_opt(&sql, &[&id])?.as_ref().map(pg_row).transpose()),
        }
    }
}
