//! What the services that own a database share: their store ([`db`]), the bus that
//! carries their outbox events ([`bus`]), and their HTTP surface ([`http`]): records,
//! replicated read models, `/outbox`, `/metrics` with the replication lag.
//!
//! A service describes itself in a [`Spec`] (generated in its `lib.rs`); [`serve`] runs it.

pub mod bus;
pub mod db;
pub mod http;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use db::{Db, DbError, Event};

/// Where a consumer writes what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The service's own records (whose outbox then publishes the service's events).
    Records,
    /// A replicated read model (`view_{name}`).
    View,
}

/// A consumer of another service's event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// The diagram's consume node.
    pub node: &'static str,
    /// Durable consumer name (NATS JetStream) and checkpoint key.
    pub durable: &'static str,
    pub source: &'static str,
    pub event: &'static str,
    pub target: Target,
    /// The read model (when `target` is [`Target::View`]).
    pub view: &'static str,
}

/// A service that owns a database.
#[derive(Debug)]
pub struct Spec {
    /// The system (NATS subjects: `{system}.{service}.{Event}`).
    pub system: &'static str,
    pub service: &'static str,
    pub prefix: &'static str,
    /// Whether it has a store of record served under `prefix`.
    pub records: bool,
    /// Events written to the outbox with every change of a record.
    pub publishes: &'static [&'static str],
    pub subscriptions: &'static [Subscription],
    /// Read models (tables `view_{name}`, paths `{prefix}/views/{name}`).
    pub views: &'static [&'static str],
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Counters of one consumer, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Events the source has that this consumer has not applied.
    pub lag_events: AtomicI64,
    /// When the newest applied event was written at its source.
    pub last_event_ms: AtomicI64,
    pub applied: AtomicI64,
    pub duplicates: AtomicI64,
    pub errors: AtomicI64,
}

/// The running service: its spec, database, bus and counters.
pub struct State {
    pub spec: &'static Spec,
    pub db: Db,
    pub instance: String,
    pub bus: bus::BusConfig,
    pub consumers: Vec<ConsumerStats>,
    pub relay_errors: AtomicI64,
    pub published: AtomicI64,
}

pub type Shared = Arc<State>;

/// What a service reads from its environment.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `{SERVICE}_DATABASE_URL`, else `DATABASE_URL` (`postgres://…`); SQLite otherwise.
    pub database_url: Option<String>,
    /// `DATA_DIR` (`data`): where the SQLite file is.
    pub data_dir: String,
    pub bus: bus::BusConfig,
}

impl Config {
    /// From the environment; errors name the variable.
    pub fn from_env(spec: &Spec) -> Result<Config, String> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let own = format!("{}_DATABASE_URL", spec.service.to_uppercase());
        let (name, url) = match var(&own) {
            Some(u) => (own, Some(u)),
            None => ("DATABASE_URL".to_string(), var("DATABASE_URL")),
        };
        if let Some(u) = &url {
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                return Err(format!(
                    "{name} must start with postgres:// (unset it to use SQLite under DATA_DIR)"
                ));
            }
        }
        Ok(Config {
            database_url: url,
            data_dir: var("DATA_DIR").unwrap_or_else(|| "data".to_string()),
            bus: bus::BusConfig::from_env(spec),
        })
    }
}

impl State {
    /// Opens (and migrates) the database; blocking.
    pub fn open(spec: &'static Spec, cfg: &Config, instance: String) -> Result<Shared, DbError> {
        let db = Db::open(spec, cfg.database_url.as_deref(), &cfg.data_dir)?;
        Ok(Arc::new(State {
            spec,
            db,
            instance,
            bus: cfg.bus.clone(),
            consumers: spec
                .subscriptions
                .iter()
                .map(|_| ConsumerStats::default())
                .collect(),
            relay_errors: AtomicI64::new(0),
            published: AtomicI64::new(0),
        }))
    }

    pub(crate) fn stats(&self, i: usize) -> &ConsumerStats {
        &self.consumers[i]
    }
}

/// Runs `f` on the blocking pool (the database calls block).
pub async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, DbError> + Send + 'static,
) -> Result<R, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Other(format!("database task: {e}")))?
}

/// Serves the service on `listener` (registering as `advertise`) with its relay and
/// consumers until `shutdown` resolves.
pub async fn serve(
    spec: &'static Spec,
    cfg: Config,
    listener: tokio::net::TcpListener,
    advertise: String,
    registry: contracts::RegistryConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let instance = contracts::instance_id(spec.service);
    let st = {
        let cfg = cfg.clone();
        let instance = instance.clone();
        tokio::task::spawn_blocking(move || State::open(spec, &cfg, instance))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{}: opening its database: {e}", spec.service))?
    };
    eprintln!(
        "{}: database {}, bus {}",
        spec.service,
        st.db.engine(),
        st.bus.kind()
    );
    let mut tasks = bus::start(st.clone(), registry.url.clone()).await;
    if let Some(url) = registry.url.clone() {
        tasks.push(tokio::spawn(contracts::heartbeat(
            url,
            registry.token.clone(),
            contracts::Registration {
                service: spec.service.to_string(),
                instance_id: instance,
                url: advertise,
                ttl_ms: registry.ttl.as_millis() as u64,
            },
        )));
    }
    let r = axum::serve(listener, http::app(st))
        .with_graceful_shutdown(shutdown)
        .await;
    for t in tasks {
        t.abort();
    }
    r.map_err(|e| e.to_string())
}

/// Reads `HOST`, `PORT` (`default_port`), `ADVERTISE_URL`, `REGISTRY_URL`,
/// `REGISTRY_TOKEN`, `REGISTRY_TTL_MS` (5000) and the [`Config`] variables, and serves
/// until Ctrl-C.
pub async fn run_from_env(spec: &'static Spec, default_port: u16) -> Result<(), String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let host = var("HOST").unwrap_or_else(|| "127.0.0.1".to_string());
    let port: u16 = match var("PORT") {
        Some(p) => p
            .parse()
            .map_err(|_| format!("PORT={p:?} is not a port number"))?,
        None => default_port,
    };
    let ttl: u64 = match var("REGISTRY_TTL_MS") {
        Some(t) => t
            .parse()
            .map_err(|_| format!("REGISTRY_TTL_MS={t:?} is not a number"))?,
        None => 5000,
    };
    let cfg = Config::from_env(spec)?;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let advertise = var("ADVERTISE_URL").unwrap_or_else(|| format!("http://{bound}"));
    eprintln!("{} on http://{bound}{}", spec.service, spec.prefix);
    serve(
        spec,
        cfg,
        listener,
        advertise,
        contracts::RegistryConfig {
            url: var("REGISTRY_URL"),
            token: var("REGISTRY_TOKEN"),
            ttl: Duration::from_millis(ttl),
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await
}

pub(crate) fn bump(a: &AtomicI64) {
    a.fetch_add(1, Ordering::Relaxed);
}
