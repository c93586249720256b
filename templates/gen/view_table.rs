//! Projector {{ p.node }} "{{ p.label }}" and the table view it builds,
//! {{ v.node }} "{{ v.label }}": one row per `{{ v.aggregate }}`, in SQLite.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    fold, open_sqlite, sqlite_checkpoints, sqlite_save_checkpoints, PageRequest, SqliteReaders,
};
use crate::bus::{Delivered, ProjectionError, Projector};
use crate::domain::{{ v.aggregate_module }}::{ {{- v.aggregate }}State, EVENT_TYPES};
use crate::error::ApiError;

/// Projector name (checkpoints, metrics).
pub const PROJECTOR: &str = "{{ p.module }}";
/// View name in the query API.
pub const VIEW: &str = "{{ v.slug }}";
const FILE: &str = "{{ p.module }}.db";
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS view_rows (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL
{%- for f in v.fields %},
    \"{{ f.name }}\" {{ f.sql_ty }} NOT NULL
{%- endfor %}
);";
const COLUMNS: &str = "id, version{% for f in v.fields %}, \"{{ f.name }}\"{% endfor %}";

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

/// Projector {{ p.node }} "{{ p.label }}".
pub struct {{ p.projector_type }} {
    conn: Connection,
}

impl {{ p.projector_type }} {
    /// Opens the view's storage under `dir`.
    pub fn open(dir: &Path) -> Result<Self, ProjectionError> {
        let conn = open_sqlite(dir, FILE, PROJECTOR)?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| ProjectionError::new(PROJECTOR, e))?;
        Ok({{ p.projector_type }} { conn })
    }
}

fn err(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::new(PROJECTOR, e)
}

impl Projector for {{ p.projector_type }} {
    fn name(&self) -> &'static str {
        PROJECTOR
    }

    fn event_types(&self) -> &'static [&'static str] {
        EVENT_TYPES
    }

    fn checkpoints(&mut self, partitions: usize) -> Result<Vec<u64>, ProjectionError> {
        sqlite_checkpoints(&self.conn, partitions, PROJECTOR)
    }

    fn apply(
        &mut self,
        events: &[Delivered],
        checkpoints: &[u64],
    ) -> Result<bool, ProjectionError> {
        let tx = self.conn.transaction().map_err(err)?;
        let changes = {
            let mut get = tx
                .prepare_cached("SELECT version, state FROM view_rows WHERE id = ?1")
                .map_err(err)?;
            fold::<{{ v.aggregate }}State>(PROJECTOR, events, |id| {
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
            })?
        };
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO view_rows (id, version, state{% for f in v.fields %}, \"{{ f.name }}\"{% endfor %})
                     VALUES (?1, ?2, ?3{% for f in v.fields %}, ?{{ loop.index + 3 }}{% endfor %})
                     ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state
                     {%- for f in v.fields %}, \"{{ f.name }}\" = excluded.\"{{ f.name }}\"{% endfor %}",
                )
                .map_err(err)?;
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
        sqlite_save_checkpoints(&tx, checkpoints).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    fn reset(&mut self) -> Result<(), ProjectionError> {
        self.conn
            .execute_batch("DELETE FROM view_rows; DELETE FROM checkpoints;")
            .map_err(err)
    }
}

/// Read side of view {{ v.node }} "{{ v.label }}".
pub struct {{ v.type_name }} {
    readers: SqliteReaders,
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

impl {{ v.type_name }} {
    /// Opens read connections (after the projector has created the schema).
    pub fn open(dir: &Path) -> Result<Self, ProjectionError> {
        Ok({{ v.type_name }} {
            readers: SqliteReaders::open(dir, FILE, 4, PROJECTOR)?,
        })
    }

    /// A page of rows, ordered by id.
    pub fn list(&self, page: PageRequest) -> Result<{{ v.page_type }}, ApiError> {
        self.readers.with(|c| {
            let total: i64 = c.query_row("SELECT COUNT(*) FROM view_rows", [], |r| r.get(0))?;
            let sql = format!("SELECT {COLUMNS} FROM view_rows ORDER BY id LIMIT ?1 OFFSET ?2");
            let mut stmt = c.prepare_cached(&sql)?;
            let items = stmt
                .query_map(params![page.limit as i64, page.offset as i64], row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok({{ v.page_type }} {
                items,
                offset: page.offset,
                limit: page.limit,
                total: total as u64,
            })
        })
    }

    /// One row by id.
    pub fn get(&self, id: &str) -> Result<Option<{{ v.entry_type }}>, ApiError> {
        self.readers.with(|c| {
            let sql = format!("SELECT {COLUMNS} FROM view_rows WHERE id = ?1");
            c.prepare_cached(&sql)?.query_row(params![id], row).optional()
        })
    }
}
