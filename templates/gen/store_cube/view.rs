//! Projector {{ p.node }} "{{ p.label }}" and the analytics cube it builds,
//! {{ v.node }} "{{ v.label }}": counts and sums of `{{ v.aggregate }}`s by
//! {% for f in v.fields %}`{{ f.name }}`{% if !loop.last %}, {% endif %}{% endfor %}, maintained incrementally in SQLite.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    fold, open_sqlite_writer, sqlite_checkpoints, sqlite_save_checkpoints, PageRequest, SqliteReaders,
};
use crate::bus::{Delivered, ProjectionError, Projector};
use crate::domain::{{ v.aggregate_module }}::{ {{- v.aggregate }}State, EVENT_TYPES};
use crate::error::ApiError;

/// Projector name (checkpoints, metrics).
pub const PROJECTOR: &str = "{{ p.module }}";
/// View name in the query API.
pub const VIEW: &str = "{{ v.slug }}";
const FILE: &str = "{{ p.module }}.db";
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS members (id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    cell_id TEXT PRIMARY KEY,
{%- for f in v.fields %}
    \"{{ f.name }}\" TEXT NOT NULL,
{%- endfor %}
    count INTEGER NOT NULL
{%- for m in v.measures %},
    \"{{ m }}\" INTEGER NOT NULL
{%- endfor %}
);";
const COLUMNS: &str = "cell_id{% for f in v.fields %}, \"{{ f.name }}\"{% endfor %}, count{% for m in v.measures %}, \"{{ m }}\"{% endfor %}";

/// A cell of view {{ v.node }} "{{ v.label }}": one combination of dimension values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct {{ v.entry_type }} {
    /// Cell id: the dimension values joined with `|`.
    pub id: String,
{%- for f in v.fields %}
    /// Dimension `{{ f.name }}`.
    pub {{ f.name }}: String,
{%- endfor %}
    /// Number of `{{ v.aggregate }}`s in the cell.
    pub count: i64,
{%- for m in v.measures %}
    /// Sum of `{{ m }}`.
    pub {{ m }}: i64,
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

fn cell_of(s: &{{ v.aggregate }}State) -> {{ v.entry_type }} {
    let dims: [&str; {{ v.fields.len() }}] = [{% for f in v.fields %}s.{{ f.name }}.as_str(){% if !loop.last %}, {% endif %}{% endfor %}];
    {{ v.entry_type }} {
        id: dims.join("|"),
{%- for f in v.fields %}
        {{ f.name }}: s.{{ f.name }}.clone(),
{%- endfor %}
        count: 1,
{%- for m in v.measures %}
        {{ m }}: s.{{ m }},
{%- endfor %}
    }
}

#[allow(unused_variables)]
fn add(into: &mut {{ v.entry_type }}, c: &{{ v.entry_type }}, sign: i64) {
    into.count += sign * c.count;
{%- for m in v.measures %}
    into.{{ m }} = into.{{ m }}.saturating_add(sign.saturating_mul(c.{{ m }}));
{%- endfor %}
}

fn zero(c: &{{ v.entry_type }}) -> {{ v.entry_type }} {
    {{ v.entry_type }} {
        id: c.id.clone(),
{%- for f in v.fields %}
        {{ f.name }}: c.{{ f.name }}.clone(),
{%- endfor %}
        ..Default::default()
    }
}

/// Adds cell deltas into the cells table.
fn upsert_cells<'a>(
    tx: &Connection,
    deltas: impl Iterator<Item = &'a {{ v.entry_type }}>,
) -> rusqlite::Result<()> {
    // SQLite turns an integer sum that overflows into a REAL, which the reader
    // then cannot read as i64: sums saturate, as `add` does.
    let mut upd = tx.prepare_cached(
        "INSERT INTO cells (cell_id{% for f in v.fields %}, \"{{ f.name }}\"{% endfor %}, count{% for m in v.measures %}, \"{{ m }}\"{% endfor %})
         VALUES (?1{% for f in v.fields %}, ?{{ loop.index + 1 }}{% endfor %}, ?{{ v.fields.len() + 2 }}{% for m in v.measures %}, ?{{ loop.index + v.fields.len() + 2 }}{% endfor %})
         ON CONFLICT (cell_id) DO UPDATE SET count = count + excluded.count
         {%- for m in v.measures %},
         \"{{ m }}\" = CASE
             WHEN excluded.\"{{ m }}\" > 0 AND \"{{ m }}\" > 9223372036854775807 - excluded.\"{{ m }}\" THEN 9223372036854775807
             WHEN excluded.\"{{ m }}\" < 0 AND \"{{ m }}\" < (-9223372036854775807 - 1) - excluded.\"{{ m }}\" THEN -9223372036854775807 - 1
             ELSE \"{{ m }}\" + excluded.\"{{ m }}\" END
         {%- endfor %}",
    )?;
    for d in deltas {
        upd.execute(params![
            d.id,
{%- for f in v.fields %}
            d.{{ f.name }},
{%- endfor %}
            d.count,
{%- for m in v.measures %}
            d.{{ m }},
{%- endfor %}
        ])?;
    }
    Ok(())
}

/// Projector {{ p.node }} "{{ p.label }}".
pub struct {{ p.projector_type }} {
    conn: Connection,
    known: super::KnownStates<{{ v.aggregate }}State>,
}

impl {{ p.projector_type }} {
    /// Opens the view's storage under `dir`.
    pub fn open(dir: &Path) -> Result<Self, ProjectionError> {
        let conn = open_sqlite_writer(dir, FILE, PROJECTOR, "{{ p.node }}")?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok({{ p.projector_type }} {
            conn,
            known: super::KnownStates::new(super::KNOWN_STATES),
        })
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
                .prepare_cached("SELECT version, state FROM members WHERE id = ?1")
                .map_err(err)?;
            let known = &mut self.known;
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
            })?
        };
        let mut deltas: HashMap<String, {{ v.entry_type }}> = HashMap::new();
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO members (id, version, state) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state",
                )
                .map_err(err)?;
            for c in &changes {
                if let Some((_, old)) = &c.old {
                    let cell = cell_of(old);
                    let d = deltas.entry(cell.id.clone()).or_insert_with(|| zero(&cell));
                    add(d, &cell, -1);
                }
                let cell = cell_of(&c.new.1);
                let d = deltas.entry(cell.id.clone()).or_insert_with(|| zero(&cell));
                add(d, &cell, 1);
                let state = serde_json::to_string(&c.new.1).map_err(err)?;
                put.execute(params![c.id, c.new.0 as i64, state])
                    .map_err(err)?;
            }
            upsert_cells(&tx, deltas.values()).map_err(err)?;
        }
        tx.execute("DELETE FROM cells WHERE count <= 0", [])
            .map_err(err)?;
        sqlite_save_checkpoints(&tx, checkpoints).map_err(err)?;
        tx.commit().map_err(err)?;
        self.known.keep(changes);
        Ok(true)
    }

    fn reset(&mut self) -> Result<(), ProjectionError> {
        self.known.clear();
        self.conn
            .execute_batch("DELETE FROM members; DELETE FROM cells; DELETE FROM checkpoints;")
            .map_err(err)
    }
}

/// Read side of view {{ v.node }} "{{ v.label }}".
pub struct {{ v.type_name }} {
    readers: SqliteReaders,
}

fn cell(r: &rusqlite::Row<'_>) -> rusqlite::Result<{{ v.entry_type }}> {
    Ok({{ v.entry_type }} {
        id: r.get(0)?,
{%- for f in v.fields %}
        {{ f.name }}: r.get({{ loop.index }})?,
{%- endfor %}
        count: r.get({{ v.fields.len() + 1 }})?,
{%- for m in v.measures %}
        {{ m }}: r.get({{ loop.index + v.fields.len() + 1 }})?,
{%- endfor %}
    })
}

impl {{ v.type_name }} {
    /// Opens read connections (after the projector has created the schema).
    pub fn open(dir: &Path) -> Result<Self, ProjectionError> {
        Ok({{ v.type_name }} {
            readers: SqliteReaders::open(dir, FILE, 2, PROJECTOR)?,
        })
    }

    /// A page of cells, ordered by cell id.
    pub fn list(&self, page: PageRequest) -> Result<{{ v.page_type }}, ApiError> {
        self.readers.with(|c| {
            let total: i64 = c.query_row("SELECT COUNT(*) FROM cells", [], |r| r.get(0))?;
            let sql = format!("SELECT {COLUMNS} FROM cells ORDER BY cell_id LIMIT ?1 OFFSET ?2");
            let mut stmt = c.prepare_cached(&sql)?;
            let items = stmt
                .query_map(params![page.limit as i64, page.offset as i64], cell)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok({{ v.page_type }} {
                items,
                offset: page.offset,
                limit: page.limit,
                total: total as u64,
            })
        })
    }

    /// One cell by id (dimension values joined with `|`).
    pub fn get(&self, id: &str) -> Result<Option<{{ v.entry_type }}>, ApiError> {
        self.readers.with(|c| {
            let sql = format!("SELECT {COLUMNS} FROM cells WHERE cell_id = ?1");
            c.prepare_cached(&sql)?.query_row(params![id], cell).optional()
        })
    }
}
{%- if !v.measures.is_empty() %}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_rather_than_turn_into_reals() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projector = {{ p.projector_type }}::open(dir.path()).expect("open");
        let big = {{ v.entry_type }} {
            id: "cell".into(),
            count: 1,
{%- for m in v.measures %}
            {{ m }}: i64::MAX,
{%- endfor %}
            ..Default::default()
        };
        for _ in 0..3 {
            upsert_cells(&projector.conn, std::iter::once(&big)).expect("upsert");
        }
        let view = {{ v.type_name }}::open(dir.path()).expect("view");
        let page = view.list(PageRequest { offset: 0, limit: 10 }).expect("list");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].count, 3);
{%- for m in v.measures %}
        assert_eq!(page.items[0].{{ m }}, i64::MAX);
{%- endfor %}
    }
}
{%- endif %}
