//! Micro-benchmark behind the QPSG setting of the generated service's SQLite
//! connections (docs/benchmarks.md, "fz gen"). Copy it into a generated project as
//! `examples/reprep.rs` (it uses that project's pinned rusqlite with bundled SQLite) and run
//!
//!     cargo run --release --example reprep          # STAT4 default: re-prepares on rebind
//!     QPSG=1 cargo run --release --example reprep   # one plan per statement
use std::time::Instant;

use rusqlite::{params, Connection};

fn main() -> rusqlite::Result<()> {
    let path = std::env::temp_dir().join("reprep.db");
    let _ = std::fs::remove_file(&path);
    let c = Connection::open(&path)?;
    if std::env::var("QPSG").is_ok() {
        c.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    }
    c.execute_batch(
        "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, aggregate_type TEXT NOT NULL,
         aggregate_id TEXT NOT NULL, version INTEGER NOT NULL, payload TEXT,
         UNIQUE (aggregate_type, aggregate_id, version));",
    )?;
    let tx = c.unchecked_transaction()?;
    for i in 0..20_000 {
        for v in 1..4 {
            tx.execute(
                "INSERT INTO events (aggregate_type, aggregate_id, version, payload) VALUES ('Order', ?1, ?2, 'x')",
                params![format!("o{i}"), v],
            )?;
        }
    }
    tx.commit()?;
    let queries = [
        ("stream after version", "SELECT position, payload FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND version > ?3 ORDER BY version"),
        ("whole stream", "SELECT position, payload FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2 ORDER BY version"),
        ("log after position", "SELECT position, payload FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"),
    ];
    for (k, (name, sql)) in queries.iter().enumerate() {
        let start = Instant::now();
        for i in 0..50_000i64 {
            let mut s = c.prepare_cached(sql)?;
            let id = format!("o{}", i % 20_000);
            let rows = match k {
                0 => s.query_map(params!["Order", id, 0i64], |r| r.get::<_, i64>(0))?.count(),
                1 => s.query_map(params!["Order", id], |r| r.get::<_, i64>(0))?.count(),
                _ => s.query_map(params![i, 10i64], |r| r.get::<_, i64>(0))?.count(),
            };
            assert!(rows > 0);
        }
        println!("{name}: {:.2} µs/query", start.elapsed().as_secs_f64() * 1e6 / 50_000.0);
    }
    Ok(())
}
