//! Runtime configuration, read from the environment.

use std::path::PathBuf;

/// Where and how the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder holding the event store and the persistent views.
    pub data_dir: PathBuf,
    /// HTTP port (`PORT`, default 8080).
    pub port: u16,
    /// Number of event bus partitions (`PARTITIONS`, default 4).
    pub partitions: usize,
    /// A snapshot is written every this many events of an aggregate (`SNAPSHOT_EVERY`, default 100).
    pub snapshot_every: u64,
    /// Largest number of appends grouped into one commit (`MAX_BATCH`, default 512).
    pub max_batch: usize,
    /// Least time between the end of one group commit and the start of the next
    /// (`COMMIT_REST_US`, default 1000 µs; 0: commit as soon as the writer is free).
    /// Below saturation it gathers the commands of that time into one transaction and
    /// one fsync instead of a commit per wake-up; it adds at most that to a command's latency.
    pub commit_rest: std::time::Duration,
    /// Aggregates kept in memory by the command side (`AGGREGATE_CACHE`, default
    /// 100000; 0 loads every aggregate from the store on every command).
    pub aggregate_cache: usize,
    /// `DATABASE_URL=postgres://…` puts the event store and the table views in PostgreSQL.
    pub database_url: Option<String>,
    /// PostgreSQL schema to work in (`PG_SCHEMA`; tests use one each).
    pub pg_schema: Option<String>,
    /// `NATS_URL=nats://host:4222` carries the event bus over NATS JetStream (in a
    /// project whose diagram draws a bus); unset, the bus runs in process.
    pub nats_url: Option<String>,
    /// JetStream stream of the events (`NATS_STREAM`, default `<crate>_events`;
    /// tests use one each).
    pub nats_stream: Option<String>,
    /// Seconds between two runs of the consistency check (`CONSISTENCY_CHECK_SECS`,
    /// default 60; 0: only on `POST /admin/consistency-check`), where the diagram has one.
    pub consistency_check_secs: u64,
    /// `REDIS_URL=redis://host:6379` keeps the cache views whose label names Redis in
    /// Redis; unset, they are in memory.
    pub redis_url: Option<String>,
    /// Prefix of the views' Redis keys (`REDIS_PREFIX`, default the crate name; tests
    /// use one each).
    pub redis_prefix: Option<String>,
}

/// A configuration variable that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    name: &'static str,
    message: String,
}

fn var<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map_err(|e: T::Err| ConfigError {
            name,
            message: e.to_string(),
        }),
        Err(_) => Ok(default),
    }
}

impl Config {
    /// Reads `DATA_DIR`, `PORT`, `PARTITIONS`, `SNAPSHOT_EVERY`, `MAX_BATCH`,
    /// `COMMIT_REST_US`, `AGGREGATE_CACHE`, `DATABASE_URL`, `PG_SCHEMA`, `NATS_URL`, `NATS_STREAM`,
    /// `CONSISTENCY_CHECK_SECS`, `REDIS_URL` and `REDIS_PREFIX`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let partitions: usize = var("PARTITIONS", 4)?;
        let snapshot_every: u64 = var("SNAPSHOT_EVERY", 100)?;
        let max_batch: usize = var("MAX_BATCH", 512)?;
        Ok(Config {
            data_dir: PathBuf::from(var("DATA_DIR", "./data".to_string())?),
            port: var("PORT", 8080)?,
            partitions: partitions.max(1),
            snapshot_every: snapshot_every.max(1),
            max_batch: max_batch.max(1),
            commit_rest: std::time::Duration::from_micros(var("COMMIT_REST_US", 1_000u64)?),
            aggregate_cache: var("AGGREGATE_CACHE", 100_000)?,
            database_url: database_url()?,
            pg_schema: std::env::var("PG_SCHEMA").ok().filter(|s| !s.is_empty()),
            nats_url: url_var("NATS_URL", &["nats://"])?,
            nats_stream: std::env::var("NATS_STREAM").ok().filter(|s| !s.is_empty()),
            consistency_check_secs: var("CONSISTENCY_CHECK_SECS", 60)?,
            redis_url: url_var("REDIS_URL", &["redis://", "rediss://"])?,
            redis_prefix: std::env::var("REDIS_PREFIX").ok().filter(|s| !s.is_empty()),
        })
    }

    /// The PostgreSQL URL and schema, when the service runs on PostgreSQL.
    pub fn pg(&self) -> Option<(&str, Option<&str>)> {
        self.database_url
            .as_deref()
            .map(|u| (u, self.pg_schema.as_deref()))
    }

    /// Defaults with a given data folder (used by tests).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            port: 0,
            partitions: 4,
            snapshot_every: 100,
            max_batch: 512,
            commit_rest: std::time::Duration::from_micros(1_000),
            aggregate_cache: 100_000,
            database_url: database_url().ok().flatten(),
            pg_schema: None,
            nats_url: url_var("NATS_URL", &["nats://"]).ok().flatten(),
            nats_stream: None,
            consistency_check_secs: 0,
            redis_url: url_var("REDIS_URL", &["redis://", "rediss://"]).ok().flatten(),
            redis_prefix: None,
        }
    }
}

/// `DATABASE_URL`, when it names a PostgreSQL database.
fn database_url() -> Result<Option<String>, ConfigError> {
    match std::env::var("DATABASE_URL") {
        Ok(u) if u.is_empty() => Ok(None),
        Ok(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => Ok(Some(u)),
        Ok(_) => Err(ConfigError {
            name: "DATABASE_URL",
            message: "must start with postgres:// (unset it to use SQLite under DATA_DIR)".into(),
        }),
        Err(_) => Ok(None),
    }
}

/// An optional URL variable that must start with one of `schemes`.
fn url_var(name: &'static str, schemes: &[&str]) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(u) if u.trim().is_empty() => Ok(None),
        Ok(u) if schemes.iter().any(|s| u.trim().starts_with(s)) => Ok(Some(u.trim().to_string())),
        Ok(_) => Err(ConfigError {
            name,
            message: format!("must start with {} (unset it to run embedded)", schemes.join(" or ")),
        }),
        Err(_) => Ok(None),
    }
}
