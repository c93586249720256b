//! Template packs: one per component kind of the architecture model.
//!
//! Every node of a diagram has a [`Component`]; each component kind fz can generate maps to
//! one pack of templates under `templates/gen/<pack>/`, which writes the files implementing
//! it and names the crates it needs. The plan lists the packs a project uses (with the
//! nodes each implements) and [`super::templates::render`] renders exactly those. Shared
//! runtime code (config, errors, metrics, the app wiring, tests, loadgen) is the `runtime`
//! pack, written once. A component no pack implements is refused with the node and what to
//! change ([`Unsupported`]).

use serde::Serialize;

use crate::model::arch::{Architecture, LaneKind};
use crate::model::arch::{BusEngine, Channel, Component, GatewayConcern, StoreEngine, StoreUse};
use crate::model::{Diagram, NodeIx, ViewKind};

/// What one pack is.
#[derive(Debug, Clone, Copy)]
pub struct PackDef {
    /// Folder under `templates/gen/` and the name in the plan.
    pub name: &'static str,
    /// What it generates, for ARCHITECTURE.md.
    pub summary: &'static str,
    /// `Cargo.toml` dependency lines it needs.
    pub deps: &'static [&'static str],
    /// Always part of a project, whether or not a node asks for it (the CQRS runtime).
    pub core: bool,
    /// A cargo feature of the generated project (on by default) that makes `deps`
    /// optional: the code behind it is compiled only with the feature.
    pub feature: Option<&'static str>,
}

const SQLITE: &str = r#"rusqlite = { version = "=0.43.0", features = ["bundled", "hooks"] } # SQLite store and views; hooks: the WAL hook that hands checkpoints to their own thread (C trimmed in .cargo/config.toml)"#;
const POSTGRES: &str = r#"postgres = "=0.19.14" # the same on PostgreSQL when DATABASE_URL is set"#;

/// Every pack, in wiring order.
pub const PACKS: &[PackDef] = &[
    PackDef {
        name: "runtime",
        summary: "config, errors, metrics, the app wiring, main, tests and loadgen (shared, written once)",
        deps: &[
            r#"axum = { version = "=0.8.9", default-features = false, features = ["http1", "json", "query", "tokio"] } # the HTTP API (no tracing, no forms)"#,
            r#"tokio = { version = "=1.54.1", features = ["rt-multi-thread", "macros", "sync", "time", "signal", "net", "io-util"] } # runtime, timers, Ctrl-C; loadgen's HTTP client (io-util)"#,
            r#"serde = { version = "=1.0.229", features = ["derive"] } # JSON bodies, events, states"#,
            r#"serde_json = "=1.0.154" # JSON bodies, events, states"#,
            r#"thiserror = "=2.0.21" # error types"#,
            r#"utoipa = "=5.5.0" # /openapi.json from the handlers' annotations"#,
            r#"libc = "=0.2.191" # lower the event bus threads' priority; per-thread CPU for /metrics"#,
            r#"mimalloc = "=0.1.52" # the global allocator (src/main.rs): glibc's malloc and free cost a tenth of the service's CPU"#,
        ],
        core: true,
        feature: None,
    },
    PackDef {
        name: "command",
        summary: "POST /commands/{name}: parse (400 naming the field), execute against the aggregate, answer after commit",
        deps: &[],
        core: true,
        feature: None,
    },
    PackDef {
        name: "aggregate",
        summary: "domain aggregates (state, events, decide), the domain rules (yours) and the aggregate cache",
        deps: &[],
        core: true,
        feature: None,
    },
    PackDef {
        name: "store_event",
        summary: "the event store: group-commit appends with expected versions, snapshots; SQLite, or PostgreSQL with DATABASE_URL",
        deps: &[SQLITE, POSTGRES],
        core: true,
        feature: None,
    },
    PackDef {
        name: "bus",
        summary: "the event bus on the store's log: route by type, partition by aggregate, deliver in order with checkpoints",
        deps: &[],
        core: true,
        feature: None,
    },
    PackDef {
        name: "bus_nats",
        summary: "with NATS_URL, the bus on NATS JetStream: the store's log is the outbox (published after commit, position kept durably), one subject per partition, a durable pull consumer per projector and partition with explicit acks and redelivery, applied once by checkpoint",
        deps: &[
            r#"async-nats = { version = "=0.51.0", default-features = false, features = ["jetstream", "nuid"], optional = true }"#,
            r#"futures-util = { version = "=0.3.34", default-features = false, optional = true }"#,
        ],
        core: false,
        feature: Some("nats"),
    },
    PackDef {
        name: "projector",
        summary: "the projector registry: one module per projector and the view it builds",
        deps: &[],
        core: true,
        feature: None,
    },
    PackDef {
        name: "store_table",
        summary: "table views: rows per aggregate (SQLite, or PostgreSQL with DATABASE_URL)",
        deps: &[SQLITE, POSTGRES],
        core: false,
        feature: None,
    },
    PackDef {
        name: "store_cache",
        summary: "cache views: in memory, rebuilt from the store on start",
        deps: &[],
        core: false,
        feature: None,
    },
    PackDef {
        name: "store_cache_redis",
        summary: "with REDIS_URL, the cache views whose label names Redis live in Redis: rows, members and per-partition checkpoints written in one MULTI/EXEC (an idempotent consumer: events at or below the checkpoint Redis holds are not applied again), durable across restarts (caught up from those checkpoints, not rebuilt), reconnecting with backoff while Redis is down (queries answer 503 meanwhile)",
        deps: &[r#"redis = { version = "=0.32.7", default-features = false, optional = true } # the cache views in Redis when REDIS_URL is set"#],
        core: false,
        feature: Some("redis"),
    },
    PackDef {
        name: "store_cube",
        summary: "cube views: counts and sums by dimensions (SQLite)",
        deps: &[SQLITE],
        core: false,
        feature: None,
    },
    PackDef {
        name: "store_search",
        summary: "search views: a tantivy index committed with its checkpoints",
        deps: &[r#"tantivy = { version = "=0.27.0", default-features = false, features = ["mmap"] } # search views (an on-disk index, nothing else)"#],
        core: false,
        feature: None,
    },
    PackDef {
        name: "lag_monitor",
        summary: "replication lag by stream: GET /lag (against LAG_SLO_MS) and the replication_lag_seconds histogram and current lag in /metrics",
        deps: &[],
        core: false,
        feature: None,
    },
    PackDef {
        name: "consistency_check",
        summary: "the consistency check: per view, counts and a checksum of (aggregate, version) against what the store implies, every CONSISTENCY_CHECK_SECS and on POST /admin/consistency-check; a view that drifted is rebuilt from the store",
        deps: &[],
        core: false,
        feature: None,
    },
    PackDef {
        name: "authorize",
        summary: "bearer-token check of the command endpoints: HS256 JWT with the secret of JWT_SECRET, 401 with WWW-Authenticate (dev mode without a secret, said at start)",
        deps: &[r#"jsonwebtoken = "=9.3.1""#],
        core: false,
        feature: None,
    },
    PackDef {
        name: "idempotency",
        summary: "POST /commands with a client-made command id: ids recorded in the event store's transaction, 202 Accepted after commit, 409 for a duplicate (also after a restart)",
        deps: &[],
        core: false,
        feature: None,
    },
    PackDef {
        name: "notification_websocket",
        summary: "GET /ws: subscribe to aggregate ids; a confirmation (or rejection) of each command once the read model has applied its events, with the read model's entry",
        deps: &[
            r#"axum = { version = "=0.8.9", default-features = false, features = ["http1", "json", "query", "tokio", "ws"] } # the HTTP API and the WebSocket (GET /ws)"#,
        ],
        core: false,
        feature: None,
    },
    PackDef {
        name: "web_ui",
        summary: "the web UI at / (HTML, CSS, JS compiled in): one task form per command, optimistic update, reconciled on the WebSocket's confirmation or rejection, a live list of the read model",
        deps: &[],
        core: false,
        feature: None,
    },
    PackDef {
        name: "query_api",
        summary: "GET /views/...: paged lists, lookups and search, served from the views only",
        deps: &[],
        core: true,
        feature: None,
    },
];

/// The definition of a pack by name.
pub fn def(name: &str) -> Option<&'static PackDef> {
    PACKS.iter().find(|p| p.name == name)
}

/// A pack a project uses.
#[derive(Debug, Clone, Serialize)]
pub struct PackPlan {
    pub name: String,
    pub summary: String,
    /// `n13 "Order Summary Table"`: the nodes it implements (empty: part of the runtime).
    pub nodes: Vec<String>,
}

/// What a component becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Implemented by this pack.
    Pack(&'static str),
    /// Needs no code of its own (a client step, an outcome, a decision the HTTP API
    /// already is); the text says what stands for it.
    Implicit(&'static str),
    /// No pack implements it: the help says what to change.
    Unsupported(&'static str),
}

/// The pack of a component kind.
pub fn mapping(c: Component) -> Mapping {
    use Component as C;
    match c {
        C::Command | C::CommandHandler | C::Endpoint | C::UserIntent => Mapping::Pack("command"),
        C::Validator | C::Aggregate => Mapping::Pack("aggregate"),
        C::Store {
            usage: StoreUse::Write | StoreUse::Event,
            ..
        } => Mapping::Pack("store_event"),
        C::Store {
            usage: StoreUse::Read(k),
            ..
        } => Mapping::Pack(match k {
            ViewKind::Table | ViewKind::Other => "store_table",
            ViewKind::Cache => "store_cache",
            ViewKind::Cube => "store_cube",
            ViewKind::Search => "store_search",
        }),
        C::Store {
            usage: StoreUse::Document,
            ..
        } => Mapping::Unsupported(
            "fz gen has no document-store pack (a CQRS design keeps its system of record in the event store, `store:event`)",
        ),
        C::Bus(_)
        | C::Publish
        | C::Consume
        | C::EventRoute
        | C::Ordering
        | C::Delivery => Mapping::Pack("bus"),
        C::Projector | C::Sync => Mapping::Pack("projector"),
        C::QueryApi | C::QueryHandler | C::Dto => Mapping::Pack("query_api"),
        C::Response => Mapping::Implicit("the HTTP response of the endpoint it follows"),
        C::Client => Mapping::Implicit("a client of the HTTP API (loadgen and the tests play it)"),
        C::Entry => Mapping::Implicit("an entry point: a request to the HTTP API"),
        C::Exit => Mapping::Implicit("an outcome: the end of a request"),
        C::Decision => Mapping::Implicit("a branch taken by the handler of the step before it"),
        C::Step | C::Handler => Mapping::Implicit("a step inside the handler of the request that reaches it"),
        C::Gateway(GatewayConcern::Authorize | GatewayConcern::Authenticate) => {
            Mapping::Pack("authorize")
        }
        C::Gateway(_) => Mapping::Unsupported(
            "fz gen has no gateway pack for a single service (routing, rate limits, discovery and aggregation are generated for a system of services: a Cargo workspace)",
        ),
        C::Idempotency => Mapping::Pack("idempotency"),
        C::DeadLetter => Mapping::Unsupported(
            "fz gen has no dead-letter pack (projectors retry a failed batch instead)",
        ),
        C::LagMonitor => Mapping::Pack("lag_monitor"),
        C::ConsistencyCheck => Mapping::Pack("consistency_check"),
        C::Notification(Channel::WebSocket) => Mapping::Pack("notification_websocket"),
        C::Notification(_) => Mapping::Unsupported(
            "fz gen has no notification pack for this channel yet (WebSocket is generated: `notification:websocket`)",
        ),
    }
}

/// A note when a label names an engine the generated code does not use.
pub fn engine_note(c: Component) -> Option<String> {
    match c {
        Component::Store {
            engine: Some(e), ..
        } => match (c, e) {
            (_, StoreEngine::Sqlite) => None,
            (
                Component::Store {
                    usage: StoreUse::Write | StoreUse::Event | StoreUse::Read(ViewKind::Table),
                    ..
                },
                StoreEngine::PostgreSql,
            ) => None,
            (
                Component::Store {
                    usage: StoreUse::Read(ViewKind::Search),
                    ..
                },
                StoreEngine::Elasticsearch | StoreEngine::OpenSearch,
            ) => Some(format!(
                "names {}: generated as an embedded tantivy index",
                e.as_str()
            )),
            (
                Component::Store {
                    usage: StoreUse::Write | StoreUse::Event | StoreUse::Read(ViewKind::Table),
                    ..
                },
                _,
            ) => Some(format!(
                "names {}: generated on SQLite (PostgreSQL with DATABASE_URL)",
                e.as_str()
            )),
            (
                Component::Store {
                    usage: StoreUse::Read(ViewKind::Cache),
                    ..
                },
                StoreEngine::Redis,
            ) => Some(
                "names redis: generated as a cache view in Redis when REDIS_URL is set (cargo feature `redis`), in memory otherwise".to_string(),
            ),
            _ => Some(format!(
                "names {}: generated as an embedded store (no {} adapter)",
                e.as_str(),
                e.as_str()
            )),
        },
        Component::Bus(Some(e)) => match e {
            BusEngine::Nats => None,
            BusEngine::Kafka | BusEngine::RabbitMq | BusEngine::Pulsar | BusEngine::Kinesis
            | BusEngine::Sqs | BusEngine::Redis => Some(format!(
                "names {}: generated as NATS JetStream when NATS_URL is set (durable consumers, acks, redelivery, per-aggregate order), the event store's log otherwise; no {} adapter",
                e.as_str(),
                e.as_str()
            )),
        },
        _ => None,
    }
}

/// A node no pack implements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub node: String,
    pub label: String,
    pub component: String,
    pub help: String,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} \"{}\" is {}: {}; remove it from the diagram, or set `{} = \"step\"` in the domain file's [components] table to generate the design without it",
            self.node, self.label, self.component, self.help, self.node
        )
    }
}

/// The crate a `Cargo.toml` dependency line is about (`axum` of `axum = "=0.8.9"`).
pub fn crate_key(line: &str) -> &str {
    line.split('=').next().unwrap_or(line).trim()
}

/// What the rest of a diagram changes about a node's pack: in a design with a WebSocket
/// notification, the client lanes are the generated web UI (`web_ui`) and a push or SSE
/// subscription is the WebSocket's; with an idempotency check, the step that marks a
/// command processed is the idempotency pack's record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    websocket: bool,
    web_ui: bool,
    idempotency: bool,
}

impl Context {
    /// The context of a diagram.
    pub fn of(d: &Diagram, arch: &Architecture) -> Context {
        let mut c = Context::default();
        for (ix, n) in d.nodes() {
            match arch.component(ix) {
                Component::Notification(Channel::WebSocket) => c.websocket = true,
                Component::Idempotency => c.idempotency = true,
                Component::Client | Component::UserIntent if in_client_lane(arch, n.lane) => {
                    c.web_ui = true
                }
                _ => {}
            }
        }
        c.web_ui &= c.websocket;
        c
    }

    /// The pack of one node, in this context.
    pub fn mapping(&self, d: &Diagram, arch: &Architecture, ix: NodeIx) -> Mapping {
        let c = arch.component(ix);
        let n = d.node(ix);
        if self.web_ui
            && in_client_lane(arch, n.lane)
            && !matches!(c, Component::Entry | Component::Exit)
        {
            return Mapping::Pack("web_ui");
        }
        if self.websocket && matches!(c, Component::Notification(Channel::Push | Channel::Sse)) {
            return Mapping::Pack("notification_websocket");
        }
        let label = n.display().to_lowercase();
        if self.idempotency
            && ((c == Component::Command && label.contains("processed"))
                || (c == Component::Endpoint && label.contains("/commands")))
        {
            return Mapping::Pack("idempotency");
        }
        mapping(c)
    }

    /// What the user should be told about a node this context maps differently.
    pub fn note(&self, d: &Diagram, arch: &Architecture, ix: NodeIx) -> Option<String> {
        let c = arch.component(ix);
        match (self.mapping(d, arch, ix), c) {
            (Mapping::Pack("notification_websocket"), Component::Notification(ch))
                if ch != Channel::WebSocket =>
            {
                Some(format!(
                    "is notification:{}: generated as the subscription of the WebSocket (GET /ws)",
                    ch.as_str()
                ))
            }
            _ => None,
        }
    }
}

fn in_client_lane(arch: &Architecture, lane: usize) -> bool {
    arch.lanes.get(lane).map(|l| l.value) == Some(LaneKind::Client)
}

/// File and symbol of a node implemented by one of the task-based UI packs.
pub fn pack_node(pack: &str, c: Component, label: &str) -> (String, String) {
    let l = label.to_lowercase();
    let (f, s) = match pack {
        "authorize" => (
            "src/auth.rs",
            "authorize (bearer token layer on the command routes)",
        ),
        "idempotency" if c == Component::Idempotency => (
            "src/commands.rs",
            "execute_* (a known command id is a 409 before any rule runs; the append checks again)",
        ),
        "idempotency" if c == Component::Endpoint => (
            "src/submit.rs",
            "submit (POST /commands: command_id required, 202 Accepted after commit)",
        ),
        "idempotency" => (
            "src/store.rs",
            "processed_commands (written in the append's transaction)",
        ),
        "notification_websocket" if matches!(c, Component::Notification(Channel::WebSocket)) => (
            "src/notify.rs",
            "Notifier::run (confirmation once the read model applied the command)",
        ),
        "notification_websocket" => ("src/notify.rs", "ws (GET /ws: subscribe to aggregate ids)"),
        _ if l.contains("optimistic") => (
            "static/app.js",
            "optimistic (applied at once, kept until confirmed)",
        ),
        _ if l.contains("already") || l.contains("duplicate") => {
            ("static/app.js", "settle (409: \"already submitted\")")
        }
        _ if l.contains("confirm") || l.contains("updated") => (
            "static/app.js",
            "settle (confirmed: the read model's entry replaces the optimistic one)",
        ),
        _ if l.contains("form") => ("static/app.js", "forms (one per command of the domain)"),
        _ if l.contains("command") || l.contains("dto") => (
            "static/app.js",
            "submit (the command DTO with a client-made command id)",
        ),
        _ => ("static/index.html", "the page at /"),
    };
    (f.to_string(), s.to_string())
}
