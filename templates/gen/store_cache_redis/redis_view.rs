//! The Redis read database of the cache views whose label names Redis, used when
//! `REDIS_URL` is set (the cache is in memory otherwise).
//!
//! Each view keeps four keys under `<REDIS_PREFIX or crate>:<view>:`: `cp` (a hash of
//! partition → checkpoint), `m` (a hash of aggregate id → `[version, state]`), `e` (a
//! hash of entry key → the entry as JSON) and `k` (a sorted set of the entry keys,
//! listed in key order). The projector writes all four in one MULTI/EXEC, watching
//! `cp`: an apply is atomic, and a re-delivered event (at or below the checkpoint of
//! its partition) changes nothing. The projector's thread uses one blocking
//! connection that reconnects with backoff for as long as Redis is down; queries use a
//! small pool of connections and answer 503 while Redis is unreachable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{Client, Connection, RedisResult};

use crate::bus::ProjectionError;
use crate::error::ApiError;

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a query's read may wait for Redis.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one apply of the projector may wait for Redis.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections of the queries, per view.
pub const READERS: usize = 8;
/// Longest wait between two reconnection attempts of the projector.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The keys of one view.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Hash: partition → checkpoint.
    pub cp: String,
    /// Hash: aggregate id → `[version, state]`.
    pub members: String,
    /// Hash: entry key → entry (JSON).
    pub entries: String,
    /// Sorted set (every score 0): the entry keys, in key order.
    pub order: String,
}

impl Keys {
    /// The keys of `view` under `prefix`.
    pub fn new(prefix: &str, view: &str) -> Keys {
        let base = format!("{prefix}:{view}");
        Keys {
            cp: format!("{base}:cp"),
            members: format!("{base}:m"),
            entries: format!("{base}:e"),
            order: format!("{base}:k"),
        }
    }

    /// Every key, for `DEL`.
    pub fn all(&self) -> [&str; 4] {
        [&self.cp, &self.members, &self.entries, &self.order]
    }
}

/// Opens a client for `url` and checks that Redis answers (a service started with
/// `REDIS_URL` set and Redis unreachable stops at once, saying so).
pub fn client(url: &str, node: &str) -> Result<Client, String> {
    let c = Client::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
    let mut conn = connect(&c, WRITE_TIMEOUT)
        .map_err(|e| format!("Redis read database ({node}) at REDIS_URL: {e}"))?;
    redis::cmd("PING")
        .query::<String>(&mut conn)
        .map_err(|e| format!("Redis read database ({node}) at REDIS_URL: {e}"))?;
    Ok(c)
}

fn connect(c: &Client, timeout: Duration) -> RedisResult<Connection> {
    let conn = c.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    Ok(conn)
}

/// Whether an error means Redis is (for now) unreachable or not ready, so the same
/// work should be tried again on a new connection.
pub fn is_transient(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || matches!(
            e.kind(),
            redis::ErrorKind::BusyLoadingError | redis::ErrorKind::TryAgain | redis::ErrorKind::MasterDown
        )
}

/// The projector's connection: [`Writer::run`] retries its work, reconnecting with
/// backoff, for as long as Redis is unreachable (the event bus would otherwise give
/// up after a few failed applies and stop the projector until a restart).
pub struct Writer {
    client: Client,
    conn: Option<Connection>,
    /// Set at shutdown: stop waiting for Redis (the view resumes from the checkpoints
    /// Redis holds on the next start).
    closing: Arc<AtomicBool>,
    projector: &'static str,
    node: &'static str,
}

impl Writer {
    pub fn new(client: Client, closing: Arc<AtomicBool>, projector: &'static str, node: &'static str) -> Writer {
        Writer {
            client,
            conn: None,
            closing,
            projector,
            node,
        }
    }

    /// Runs `f` on the connection until it succeeds. A transient failure (connection
    /// refused or dropped, timeout, Redis loading) drops the connection and tries again
    /// after a backoff (100 ms doubling to [`MAX_BACKOFF`]), reported when it starts,
    /// every 30 s and when Redis answers again; any other error is returned.
    pub fn run<T>(&mut self, mut f: impl FnMut(&mut Connection) -> RedisResult<T>) -> Result<T, ProjectionError> {
        let mut backoff = Duration::from_millis(100);
        let mut down_since: Option<Instant> = None;
        let mut reported = Instant::now();
        loop {
            let r = match self.conn.as_mut() {
                Some(c) => f(c),
                None => match connect(&self.client, WRITE_TIMEOUT) {
                    Ok(c) => f(self.conn.insert(c)),
                    Err(e) => Err(e),
                },
            };
            match r {
                Ok(v) => {
                    if let Some(t) = down_since {
                        eprintln!(
                            "projector {}: Redis read database ({}) answers again after {:.1} s; applying the events held back",
                            self.projector,
                            self.node,
                            t.elapsed().as_secs_f64()
                        );
                    }
                    return Ok(v);
                }
                Err(e) if is_transient(&e) => {
                    self.conn = None;
                    if self.closing.load(Ordering::SeqCst) {
                        return Err(ProjectionError::new(
                            self.projector,
                            format!("Redis read database ({}) unavailable at shutdown: {e}", self.node),
                        ));
                    }
                    match down_since {
                        None => {
                            eprintln!(
                                "projector {}: Redis read database ({}) unavailable: {e}; retrying with backoff (events are applied when it answers)",
                                self.projector, self.node
                            );
                            down_since = Some(Instant::now());
                            reported = Instant::now();
                        }
                        Some(t) if reported.elapsed() >= Duration::from_secs(30) => {
                            eprintln!(
                                "projector {}: Redis read database ({}) still unavailable after {:.0} s: {e}",
                                self.projector,
                                self.node,
                                t.elapsed().as_secs_f64()
                            );
                            reported = Instant::now();
                        }
                        Some(_) => {}
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    // The connection may be mid-transaction: start on a new one.
                    self.conn = None;
                    return Err(ProjectionError::new(
                        self.projector,
                        format!("Redis read database ({}): {e}", self.node),
                    ));
                }
            }
        }
    }
}

/// The queries' connections, opened on first use and again after a failure.
pub struct Readers {
    client: Client,
    conns: Vec<Mutex<Option<Connection>>>,
    next: AtomicUsize,
    node: &'static str,
}

impl Readers {
    /// A pool of `n` connections (opened lazily).
    pub fn new(client: Client, n: usize, node: &'static str) -> Readers {
        Readers {
            client,
            conns: (0..n.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            node,
        }
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> ApiError {
        ApiError::unavailable(format!("Redis read database ({}) unavailable: {e}", self.node))
    }

    /// Runs `f` on one of the connections; any Redis failure is a 503 (and the
    /// connection is opened anew by the next query).
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Result<T, ApiError> {
        let mut slot = crate::store::free_or_next(&self.conns, &self.next)
            .ok_or_else(|| self.unavailable("reader lock poisoned"))?;
        let conn = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(connect(&self.client, READ_TIMEOUT).map_err(|e| self.unavailable(e))?),
        };
        f(conn).map_err(|e| {
            *slot = None;
            self.unavailable(e)
        })
    }

    /// A JSON value Redis holds, decoded (a value that does not decode is a 503 too:
    /// the view must be rebuilt, `cargo run -- rebuild <view>`).
    pub fn decode<T: serde::de::DeserializeOwned>(&self, json: &str) -> Result<T, ApiError> {
        serde_json::from_str(json).map_err(|e| self.unavailable(format!("undecodable entry: {e}")))
    }
}

/// The checkpoints held in `key` (0 for a partition it does not name).
pub fn parse_checkpoints(stored: HashMap<String, u64>, partitions: usize) -> Vec<u64> {
    let mut cps = vec![0u64; partitions];
    for (p, pos) in stored {
        if let Some(cp) = p.parse::<usize>().ok().and_then(|p| cps.get_mut(p)) {
            *cp = pos;
        }
    }
    cps
}
