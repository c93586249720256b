//! The workspace plan: which services a multi-service diagram draws, what the gateway
//! does (its concerns, routes by path prefix, the aggregation fan-out), and where every
//! node ends up. Built from the diagram and its architecture model; templates only
//! render it.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::gen::naming::{self, comment_text, rust_str};
use crate::model::arch::{Architecture, Component, GatewayConcern, LaneKind, StoreUse};
use crate::model::{Diagram, NodeIx};

/// Port of the gateway; services take the next ones.
pub const GATEWAY_PORT: u16 = 8080;

/// The whole workspace.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspacePlan {
    /// File name of the diagram, made safe for comments.
    pub diagram: String,
    /// Name of the system (from the output folder): JWT audience and issuer, Redis prefix.
    pub system: String,
    pub authenticate: bool,
    pub rate_limit: bool,
    pub discovery: bool,
    pub gateway_port: u16,
    pub services: Vec<ServicePlan>,
    pub aggregate: Option<AggregatePlan>,
    /// Whether any service keeps a SQLite store (the dependency is added only then).
    pub sqlite: bool,
    /// Whether any service owns a database (then the `eventing` crate is generated:
    /// stores with migrations, outboxes, the bus, consumers with checkpoints).
    pub eventing: bool,
    /// The bus node the diagram draws, if any.
    pub bus: Option<BusPlan>,
    /// Every node: its component, crate, file and symbol (ARCHITECTURE.md).
    pub nodes: Vec<NodeMap>,
    /// What fz inferred or substituted, for the user.
    pub notes: Vec<String>,
}

/// One backend service: a crate under `services/`.
#[derive(Debug, Clone, Serialize)]
pub struct ServicePlan {
    /// The node (or lane) it comes from.
    pub node: String,
    /// Its label, safe for comments.
    pub label: String,
    /// Its label as a Rust string literal (quotes included).
    pub name_lit: String,
    /// snake_case key: registry, metrics, aggregated responses (`user_service`).
    pub key: String,
    /// The crate's library name (= key).
    pub module: String,
    /// kebab-case crate name (`user-service`).
    pub crate_name: String,
    /// Path prefix the gateway routes to it (`/users`).
    pub prefix: String,
    pub port: u16,
    /// `memory` (the diagram draws no store for it) or `sql` (its own database: SQLite
    /// by default, PostgreSQL with `DATABASE_URL`).
    pub store: String,
    /// Its database, when the diagram draws stores in its lane.
    pub db: Option<DbPlan>,
    /// Events it writes to its outbox with every change of its records.
    pub publishes: Vec<EventPlan>,
    /// Events of other services it consumes.
    pub consumes: Vec<SubscriptionPlan>,
    /// Its replicated read models.
    pub views: Vec<ViewPlan>,
    /// Why the prefix is what it is.
    pub prefix_reason: String,
}

/// A service's own database.
#[derive(Debug, Clone, Serialize)]
pub struct DbPlan {
    /// The store node that names the database (its engine), else the first store.
    pub node: String,
    pub label: String,
    /// The engine the label names (`PostgreSQL`, `MongoDB`), or `-`.
    pub drawn: String,
    /// What is used for it, said plainly (README, ARCHITECTURE.md, notes).
    pub used: String,
    /// The store of record (its documents are served under the prefix), if any.
    pub records: Option<String>,
    /// `table` or `document`: how the store of record is drawn.
    pub records_kind: String,
}

/// An event a service publishes through its outbox.
#[derive(Debug, Clone, Serialize)]
pub struct EventPlan {
    /// The publish node.
    pub node: String,
    /// `OrderCreated`.
    pub name: String,
}

/// A consumer of another service's event.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionPlan {
    /// The consume node.
    pub node: String,
    /// The event (`OrderCreated`) and the service publishing it.
    pub event: String,
    pub source: String,
    /// The publish node and the bus nodes in between.
    pub publisher: String,
    pub via: Vec<String>,
    /// `records` (the service's own store of record, whose outbox then publishes) or
    /// `view` (a replicated read model).
    pub target: String,
    /// The view it keeps (when `target` is `view`).
    pub view: String,
    /// Durable consumer name (NATS JetStream) and checkpoint key.
    pub durable: String,
}

/// A replicated read model kept by a consumer.
#[derive(Debug, Clone, Serialize)]
pub struct ViewPlan {
    /// The store node it stands for, or `-` (the consumer writes no drawn store).
    pub node: String,
    pub label: String,
    /// snake_case: its table and its path (`{prefix}/views/{name}`).
    pub name: String,
    pub source: String,
    pub event: String,
}

/// The bus the diagram draws.
#[derive(Debug, Clone, Serialize)]
pub struct BusPlan {
    pub node: String,
    pub label: String,
    /// The engine its label names (`Kafka`), or `-`.
    pub drawn: String,
}

/// The aggregation endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct AggregatePlan {
    /// The join node.
    pub node: String,
    pub label: String,
    /// The fork node.
    pub fork: String,
    pub path: String,
    pub parts: Vec<PartPlan>,
}

/// One call of the fan-out.
#[derive(Debug, Clone, Serialize)]
pub struct PartPlan {
    pub service: String,
    /// Path on the service; `{name}` comes from the aggregate request's query.
    pub path: String,
}

/// Where a node is implemented.
#[derive(Debug, Clone, Serialize)]
pub struct NodeMap {
    pub node: String,
    pub label: String,
    pub component: String,
    pub crate_name: String,
    pub file: String,
    pub symbol: String,
}

/// Why a multi-service diagram cannot be generated; the message names what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{diagram}: no backend service found: draw each service as a node labelled like \"User Service\" that a gateway node routes to, or as a lane that owns a store")]
    NoService { diagram: String },
    #[error("{diagram}: more than {max} services; the dev runner gives each a port after {GATEWAY_PORT}")]
    TooMany { diagram: String, max: usize },
}

/// Whether the diagram is a system of several services rather than one service: it
/// draws gateway concerns beyond authentication (routing, rate limiting, discovery,
/// load balancing, aggregation), or two or more lanes that each own a store.
pub fn applies(d: &Diagram, arch: &Architecture) -> bool {
    let gateway = d.nodes().any(|(ix, _)| {
        matches!(
            arch.component(ix),
            Component::Gateway(
                GatewayConcern::Route
                    | GatewayConcern::RateLimit
                    | GatewayConcern::Discovery
                    | GatewayConcern::LoadBalance
                    | GatewayConcern::Aggregate
            )
        )
    });
    gateway || store_lanes(d, arch, true).len() >= 2
}

/// Lanes that own a store (with `of_record`: a system-of-record store: write, event or
/// document) and hold no gateway node. Read models alone (a CQRS read side) do not make
/// a lane a service of its own.
fn store_lanes(d: &Diagram, arch: &Architecture, of_record: bool) -> Vec<usize> {
    (0..d.lanes.len())
        .filter(|&l| {
            let nodes: Vec<NodeIx> = d.lane_nodes(l).collect();
            let owns = |n: NodeIx| {
                let c = arch.component(n);
                if of_record {
                    c.is_write_store()
                } else {
                    c.is_store()
                }
            };
            arch.lanes[l].value != LaneKind::Infrastructure
                && nodes.iter().any(|&n| owns(n))
                && !nodes
                    .iter()
                    .any(|&n| matches!(arch.component(n), Component::Gateway(_)))
        })
        .collect()
}

fn is_gateway(c: Component) -> bool {
    matches!(c, Component::Gateway(_))
}

/// `/users/{id}` from an edge label like `GET /users/{id}`; only lowercase-able ASCII
/// segments of `[a-z0-9-_]` and `{ident}` placeholders are kept.
fn label_path(label: &str) -> Option<(String, Vec<String>)> {
    let tok = label.split_whitespace().find(|t| t.starts_with('/'))?;
    let tok = tok.split(['?', '#']).next().unwrap_or("");
    let mut segs = Vec::new();
    for seg in tok.split('/').filter(|s| !s.is_empty()) {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if naming::is_snake_ident(name) || name.chars().all(|c| c.is_ascii_lowercase()) {
                segs.push(format!("{{{name}}}"));
                continue;
            }
            return None;
        }
        let s = seg.to_ascii_lowercase();
        if s.is_empty()
            || s.len() > 40
            || !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return None;
        }
        segs.push(s);
    }
    let first = segs.first()?.clone();
    if first.starts_with('{') {
        return None;
    }
    Some((format!("/{first}"), segs))
}

fn kebab(s: &str) -> String {
    s.replace('_', "-")
}

/// The system's name from the output folder (`shop`), `[a-z0-9-]`, else `system`.
pub fn system_name(out_dir_name: &str) -> String {
    let s: String = out_dir_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.len() > 40 {
        "system".to_string()
    } else {
        s
    }
}

const RESERVED_PREFIXES: [&str; 4] = ["/health", "/metrics", "/_registry", "/aggregate"];
const RESERVED_CRATES: [&str; 4] = ["contracts", "gateway", "dev", "support"];

struct Candidate {
    /// The node that stands for the service (an endpoint), if any.
    node: Option<NodeIx>,
    lane: usize,
    label: String,
}

/// An event name from a label: `OrderCreated` from `OrderCreated`, `Publish OrderCreated`
/// or `order created`; a leading verb of publishing is dropped.
fn event_name(label: &str) -> Option<String> {
    let mut w = naming::words(label)?;
    if w.len() > 1 && ["publish", "emit", "send", "raise", "produce"].contains(&w[0].as_str()) {
        w.remove(0);
    }
    if w.iter()
        .any(|x| ["topic", "event", "bus", "stream", "queue"].contains(&x.as_str()))
    {
        return None;
    }
    let n = naming::pascal(&w);
    (naming::is_pascal_ident(&n) && n.len() <= 48).then_some(n)
}

fn snake_name(label: &str) -> Option<String> {
    let w = naming::words(label)?;
    let s = naming::snake(&w);
    (naming::is_snake_ident(&s) && s.len() <= 48).then_some(s)
}

fn pretty_store(e: crate::model::arch::StoreEngine) -> &'static str {
    use crate::model::arch::StoreEngine as E;
    match e {
        E::PostgreSql => "PostgreSQL",
        E::MySql => "MySQL",
        E::Sqlite => "SQLite",
        E::MongoDb => "MongoDB",
        E::Redis => "Redis",
        E::Elasticsearch => "Elasticsearch",
        E::OpenSearch => "OpenSearch",
        E::Cassandra => "Cassandra",
        E::DynamoDb => "DynamoDB",
        E::S3 => "S3",
    }
}

fn pretty_bus(e: crate::model::arch::BusEngine) -> &'static str {
    use crate::model::arch::BusEngine as E;
    match e {
        E::Kafka => "Kafka",
        E::Nats => "NATS",
        E::RabbitMq => "RabbitMQ",
        E::Pulsar => "Pulsar",
        E::Kinesis => "Kinesis",
        E::Sqs => "SQS",
        E::Redis => "Redis",
    }
}

/// Whether events pass through `c` between services (a bus, a router, an offset commit).
fn on_the_bus(c: Component) -> bool {
    matches!(
        c,
        Component::Bus(_)
            | Component::EventRoute
            | Component::Ordering
            | Component::Delivery
            | Component::Consume
            | Component::Publish
    )
}

/// Stores, outboxes, events and consumers of the services that own stores: fills each
/// service's `db`, `publishes`, `consumes` and `views`; returns the bus drawn.
fn eventing(
    d: &Diagram,
    arch: &Architecture,
    cands: &[Candidate],
    owning: &[usize],
    service_of_lane: &HashMap<usize, usize>,
    services: &mut [ServicePlan],
    notes: &mut Vec<String>,
) -> Option<BusPlan> {
    use crate::model::arch::StoreEngine;
    // Databases and what each one publishes.
    for (i, c) in cands.iter().enumerate() {
        if !owning.contains(&c.lane) || c.node.is_some_and(|n| d.node(n).lane != c.lane) {
            continue;
        }
        let stores: Vec<NodeIx> = d
            .lane_nodes(c.lane)
            .filter(|&n| arch.component(n).is_store())
            .collect();
        let Some(&first) = stores.first() else {
            continue;
        };
        let records = stores
            .iter()
            .copied()
            .find(|&n| arch.component(n).is_write_store());
        let engine_of = |n: NodeIx| match arch.component(n) {
            Component::Store { engine, .. } => engine,
            _ => None,
        };
        let named = records
            .filter(|&n| engine_of(n).is_some())
            .or_else(|| stores.iter().copied().find(|&n| engine_of(n).is_some()));
        let node = named.or(records).unwrap_or(first);
        let engine = engine_of(node);
        let s = &mut services[i];
        let (drawn, used) = match engine {
            Some(StoreEngine::PostgreSql) => (
                "PostgreSQL".to_string(),
                "PostgreSQL when DATABASE_URL is set (SQLite otherwise)".to_string(),
            ),
            Some(StoreEngine::Sqlite) | None => (
                engine.map(|_| "SQLite").unwrap_or("-").to_string(),
                "SQLite (PostgreSQL when DATABASE_URL is set)".to_string(),
            ),
            Some(e) => {
                let name = pretty_store(e).to_string();
                notes.push(format!(
                    "{} \"{}\" names {name}, which these machines cannot run: {} keeps it as a JSON document store on PostgreSQL jsonb (DATABASE_URL), SQLite JSON otherwise",
                    d.node(node).id,
                    comment_text(d.node(node).display()),
                    s.key
                ));
                (
                    name.clone(),
                    format!("JSON documents on PostgreSQL jsonb when DATABASE_URL is set, SQLite JSON otherwise (the closest tested store to {name})"),
                )
            }
        };
        let records_kind = match records.map(|n| arch.component(n)) {
            Some(Component::Store {
                usage: StoreUse::Document,
                ..
            }) => "document",
            _ => "table",
        };
        s.store = "sql".to_string();
        s.db = Some(DbPlan {
            node: d.node(node).id.clone(),
            label: comment_text(d.node(node).display()),
            drawn,
            used,
            records: records.map(|n| d.node(n).id.clone()),
            records_kind: records_kind.to_string(),
        });
        // Publish nodes of the lane: the events its outbox carries.
        for p in d
            .lane_nodes(c.lane)
            .filter(|&n| arch.component(n) == Component::Publish)
        {
            let pn = d.node(p);
            let from_edge = d
                .successors(p)
                .into_iter()
                .filter_map(|(_, _, e)| e.label.as_deref())
                .find(|l| !l.contains(' ') && event_name(l).is_some())
                .and_then(event_name);
            let name = from_edge
                .or_else(|| event_name(pn.display()))
                .unwrap_or_else(|| {
                    let base = naming::pascal(
                        &s.key
                            .trim_end_matches("_service")
                            .split('_')
                            .map(str::to_string)
                            .collect::<Vec<_>>(),
                    );
                    format!("{base}Changed")
                });
            if s.publishes.iter().any(|e| e.name == name) {
                continue;
            }
            if records.is_none() {
                notes.push(format!(
                    "{} publishes {name}, but {} draws no store of record: nothing writes its outbox",
                    pn.id, s.key
                ));
            }
            s.publishes.push(EventPlan {
                node: pn.id.clone(),
                name,
            });
        }
    }
    // Consumers: back from each consume node over the bus to a publish node.
    let publisher_of: HashMap<NodeIx, (usize, String)> = d
        .nodes()
        .filter(|(ix, _)| arch.component(*ix) == Component::Publish)
        .filter_map(|(ix, n)| {
            let i = *service_of_lane.get(&n.lane)?;
            let e = services[i].publishes.iter().find(|e| e.node == n.id)?;
            Some((ix, (i, e.name.clone())))
        })
        .collect();
    for (ix, n) in d.nodes() {
        if arch.component(ix) != Component::Consume {
            continue;
        }
        let Some(&i) = service_of_lane.get(&n.lane) else {
            continue;
        };
        if services[i].db.is_none() {
            continue;
        }
        // Breadth first, backwards, through bus nodes outside the consumer's lane.
        let mut seen = vec![ix];
        let mut queue = vec![(ix, Vec::<String>::new())];
        let mut found: Vec<(NodeIx, Vec<String>)> = Vec::new();
        while let Some((at, via)) = queue.pop() {
            for (_, p, _) in d.predecessors(at) {
                if seen.contains(&p) {
                    continue;
                }
                seen.push(p);
                if publisher_of.contains_key(&p) {
                    found.push((p, via.clone()));
                } else if d.node(p).lane != n.lane
                    && (arch.lanes[d.node(p).lane].value == LaneKind::Infrastructure
                        || on_the_bus(arch.component(p)))
                    && !service_of_lane.contains_key(&d.node(p).lane)
                {
                    let mut v = vec![d.node(p).id.clone()];
                    v.extend(via.iter().cloned());
                    queue.insert(0, (p, v));
                }
            }
        }
        if found.is_empty() {
            notes.push(format!(
                "{} \"{}\" is fed by no event a service publishes: no consumer is generated for it",
                n.id,
                comment_text(n.display())
            ));
            continue;
        }
        // Forward inside the lane: the store it writes.
        let mut target: Option<NodeIx> = None;
        let mut seen = vec![ix];
        let mut queue = vec![ix];
        while let Some(at) = queue.pop() {
            for (_, t, _) in d.successors(at) {
                if seen.contains(&t) || d.node(t).lane != n.lane {
                    continue;
                }
                seen.push(t);
                if arch.component(t).is_store() {
                    target = target.or(Some(t));
                } else if arch.component(t) != Component::Publish {
                    queue.insert(0, t);
                }
            }
        }
        for (p, via) in found {
            let (src, event) = publisher_of[&p].clone();
            if src == i {
                continue;
            }
            let source = services[src].key.clone();
            let s = &mut services[i];
            let records = s.db.as_ref().and_then(|db| db.records.clone());
            let to_records = target
                .map(|t| Some(d.node(t).id.clone()) == records)
                .unwrap_or(false);
            let ev_snake = naming::snake(&naming::words(&event).unwrap_or_default());
            let (view_node, view_label, mut view) = match target {
                Some(t) if !to_records => (
                    d.node(t).id.clone(),
                    comment_text(d.node(t).display()),
                    snake_name(d.node(t).display()).unwrap_or_else(|| ev_snake.clone()),
                ),
                _ => (
                    "-".to_string(),
                    format!("{event} of {source}"),
                    ev_snake.clone(),
                ),
            };
            if to_records {
                view = String::new();
            } else if s
                .views
                .iter()
                .any(|v| v.name == view && (v.source != source || v.event != event))
            {
                view = format!("{view}_{ev_snake}");
            }
            if !to_records && !s.views.iter().any(|v| v.name == view) {
                s.views.push(ViewPlan {
                    node: view_node,
                    label: view_label,
                    name: view.clone(),
                    source: source.clone(),
                    event: event.clone(),
                });
            }
            let durable = format!("{}-{}", s.key, ev_snake).replace('_', "-");
            if s.consumes.iter().any(|c| c.durable == durable) {
                continue;
            }
            s.consumes.push(SubscriptionPlan {
                node: n.id.clone(),
                event,
                source,
                publisher: d.node(p).id.clone(),
                via,
                target: if to_records { "records" } else { "view" }.to_string(),
                view,
                durable,
            });
        }
    }
    // The bus.
    let bus = d
        .nodes()
        .find(|(ix, _)| matches!(arch.component(*ix), Component::Bus(_)))
        .map(|(ix, n)| {
            let drawn = match arch.component(ix) {
                Component::Bus(Some(e)) => pretty_bus(e).to_string(),
                _ => "-".to_string(),
            };
            BusPlan {
                node: n.id.clone(),
                label: comment_text(n.display()),
                drawn,
            }
        });
    if services.iter().any(|s| !s.consumes.is_empty()) {
        let named = bus
            .as_ref()
            .filter(|b| b.drawn != "-" && b.drawn != "NATS")
            .map(|b| format!("{} \"{}\" names {}: ", b.node, b.label, b.drawn))
            .unwrap_or_default();
        notes.push(format!(
            "{named}events travel on NATS JetStream when NATS_URL is set; otherwise consumers pull them from the producing service's outbox over HTTP (GET /outbox?after=N), the embedded default"
        ));
    }
    bus
}

/// Builds the plan of a multi-service diagram.
pub fn build(
    d: &Diagram,
    arch: &Architecture,
    diagram_name: &str,
    system: &str,
) -> Result<WorkspacePlan, WorkspaceError> {
    let diagram = comment_text(diagram_name);
    let mut notes = Vec::new();
    // 1. Services: lanes that own a store, then endpoint nodes elsewhere.
    let mut cands: Vec<Candidate> = Vec::new();
    let owning = store_lanes(d, arch, false);
    for &l in &owning {
        let node = d
            .lane_nodes(l)
            .find(|&n| arch.component(n) == Component::Endpoint);
        cands.push(Candidate {
            node,
            lane: l,
            label: d.lanes[l].display().to_string(),
        });
    }
    for (ix, n) in d.nodes() {
        if owning.contains(&n.lane) || arch.component(ix) != Component::Endpoint {
            continue;
        }
        if arch.lanes[n.lane].value == LaneKind::Client {
            continue;
        }
        cands.push(Candidate {
            node: Some(ix),
            lane: n.lane,
            label: n.display().to_string(),
        });
    }
    if cands.is_empty() {
        return Err(WorkspaceError::NoService { diagram });
    }
    let max = 90;
    if cands.len() > max {
        return Err(WorkspaceError::TooMany { diagram, max });
    }
    // 2. Names, prefixes, ports.
    let mut taken_keys: BTreeSet<String> = BTreeSet::new();
    let mut taken_prefixes: BTreeSet<String> = BTreeSet::new();
    let mut services = Vec::new();
    // The edges from gateway nodes into each service's node: its routes.
    let mut route_labels: HashMap<usize, Vec<String>> = HashMap::new();
    for (i, c) in cands.iter().enumerate() {
        let into: Vec<NodeIx> = match c.node {
            Some(n) => vec![n],
            None => d.lane_nodes(c.lane).collect(),
        };
        for (_, s, t, e) in d.edges() {
            if into.contains(&t) && is_gateway(arch.component(s)) {
                if let Some(l) = &e.label {
                    route_labels.entry(i).or_default().push(l.clone());
                }
            }
        }
    }
    for (i, c) in cands.iter().enumerate() {
        let id = match c.node {
            Some(n) => d.node(n).id.clone(),
            None => d.lanes[c.lane].id.clone(),
        };
        let mut key = naming::words(&c.label)
            .map(|w| naming::snake(&w))
            .filter(|k| naming::is_snake_ident(k) && !RESERVED_CRATES.contains(&k.as_str()))
            .unwrap_or_else(|| naming::snake(&naming::id_words(&id)));
        if !key.ends_with("service") {
            key.push_str("_service");
        }
        if !naming::is_snake_ident(&key) || taken_keys.contains(&key) {
            let fallback = format!("{}_service", naming::snake(&naming::id_words(&id)));
            notes.push(format!(
                "{id} \"{}\": named {fallback} (its label gives no unique name)",
                comment_text(&c.label)
            ));
            key = fallback;
        }
        taken_keys.insert(key.clone());
        let from_label = route_labels.get(&i).and_then(|ls| {
            ls.iter()
                .find_map(|l| label_path(l).map(|p| (l.clone(), p)))
        });
        let base = key.strip_suffix("_service").unwrap_or(&key).to_string();
        let (mut prefix, mut reason) = match &from_label {
            Some((l, (p, _))) => (
                p.clone(),
                format!("from the route label \"{}\"", comment_text(l)),
            ),
            None => (
                format!("/{}", kebab(if base.is_empty() { &key } else { &base })),
                "from the service name (no route label with a path)".to_string(),
            ),
        };
        if taken_prefixes.contains(&prefix) || RESERVED_PREFIXES.contains(&prefix.as_str()) {
            let p = format!("/{}", kebab(&key));
            notes.push(format!(
                "{id}: prefix {prefix} is taken; {key} is routed at {p}"
            ));
            reason = format!("{prefix} was taken");
            prefix = p;
        }
        taken_prefixes.insert(prefix.clone());
        services.push(ServicePlan {
            node: id,
            label: comment_text(&c.label),
            name_lit: rust_str(&c.label),
            module: key.clone(),
            crate_name: kebab(&key),
            key,
            prefix,
            port: GATEWAY_PORT + 1 + i as u16,
            store: "memory".to_string(),
            db: None,
            publishes: Vec::new(),
            consumes: Vec::new(),
            views: Vec::new(),
            prefix_reason: reason,
        });
    }
    let service_of_lane: HashMap<usize, usize> = cands
        .iter()
        .enumerate()
        .filter(|(_, c)| c.node.is_none() || owning.contains(&c.lane))
        .map(|(i, c)| (c.lane, i))
        .collect();
    let bus = eventing(
        d,
        arch,
        &cands,
        &owning,
        &service_of_lane,
        &mut services,
        &mut notes,
    );

    // 3. Gateway concerns.
    let has = |g: GatewayConcern| {
        d.nodes()
            .any(|(ix, _)| arch.component(ix) == Component::Gateway(g))
    };
    let authenticate = has(GatewayConcern::Authenticate);
    let rate_limit = has(GatewayConcern::RateLimit);
    let discovery = has(GatewayConcern::Discovery) || has(GatewayConcern::LoadBalance);
    if has(GatewayConcern::Authorize) {
        notes.push(
            "authorization (scopes, roles) is not generated: the gateway authenticates tokens; add checks in gateway/src/auth.rs".into(),
        );
    }
    for (ix, n) in d.nodes() {
        let l = n.display().to_lowercase();
        if matches!(
            arch.component(ix),
            Component::Gateway(GatewayConcern::Discovery)
        ) {
            for product in ["consul", "eureka", "etcd", "zookeeper"] {
                if l.contains(product) {
                    notes.push(format!(
                        "{} names {product}: the registry is the gateway's own (in memory, or Redis when REDIS_URL is set); {product} is not used",
                        n.id
                    ));
                }
            }
        }
    }

    // 4. The aggregation fan-out: a fork whose join is an aggregate node.
    let node_service: HashMap<NodeIx, usize> = cands
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.node.map(|n| (n, i)))
        .collect();
    let mut aggregate = None;
    for (fork, join, _) in &arch.joins {
        if arch.component(*join) != Component::Gateway(GatewayConcern::Aggregate) {
            continue;
        }
        let mut parts = Vec::new();
        for (_, t, e) in d.successors(*fork) {
            let Some(&i) = node_service.get(&t) else {
                continue;
            };
            let s = &services[i];
            let path = e
                .label
                .as_deref()
                .and_then(label_path)
                .filter(|(p, segs)| {
                    *p == s.prefix
                        && (segs.len() == 1 || (segs.len() == 2 && segs[1].starts_with('{')))
                })
                .map(|(_, segs)| format!("/{}", segs.join("/")))
                .unwrap_or_else(|| s.prefix.clone());
            if !parts.iter().any(|p: &PartPlan| p.service == s.key) {
                parts.push(PartPlan {
                    service: s.key.clone(),
                    path,
                });
            }
        }
        if parts.len() < 2 {
            continue;
        }
        let jn = d.node(*join);
        let path = naming::words(jn.display())
            .map(|w| format!("/{}", w.join("-")))
            .filter(|p| {
                p.len() <= 48
                    && !taken_prefixes.contains(p)
                    && !RESERVED_PREFIXES[..3].contains(&p.as_str())
            })
            .unwrap_or_else(|| "/aggregate".to_string());
        aggregate = Some(AggregatePlan {
            node: jn.id.clone(),
            label: comment_text(jn.display()),
            fork: d.node(*fork).id.clone(),
            path,
            parts,
        });
        break;
    }

    // 5. Where every node is.
    let plan_eventing = services.iter().any(|s| s.db.is_some());
    let mut nodes = Vec::new();
    for (ix, n) in d.nodes() {
        let c = arch.component(ix);
        let label = comment_text(n.display());
        let svc = node_service
            .get(&ix)
            .or_else(|| service_of_lane.get(&n.lane))
            .map(|&i| &services[i]);
        let ev =
            |f: &str, sym: String| Some(("eventing".to_string(), format!("eventing/src/{f}"), sym));
        let in_db_service = svc.filter(|s| s.db.is_some());
        let eventing_node = match (c, in_db_service) {
            (Component::Endpoint, _) => None,
            (Component::Store { .. }, Some(s)) => {
                let records = s.db.as_ref().and_then(|db| db.records.as_deref());
                if records == Some(n.id.as_str()) {
                    ev(
                        "db.rs",
                        format!("Db::write, table records of {} (migrations)", s.key),
                    )
                } else if let Some(v) = s.views.iter().find(|v| v.node == n.id) {
                    ev("db.rs", format!("Db::apply, table view_{}", v.name))
                } else {
                    ev(
                        "db.rs",
                        format!("Db::open, the database of {} (migrations)", s.key),
                    )
                }
            }
            (Component::Publish, Some(s)) => {
                s.publishes.iter().find(|e| e.node == n.id).and_then(|e| {
                    ev(
                        "db.rs",
                        format!(
                            "Db::write (the {} outbox row, same transaction), bus.rs relay",
                            e.name
                        ),
                    )
                })
            }
            (Component::Consume, Some(s)) => s
                .consumes
                .iter()
                .find(|x| x.node == n.id)
                .and_then(|x| ev("bus.rs", format!("consume (durable {})", x.durable))),
            (_, Some(s)) if !s.consumes.is_empty() => ev(
                "db.rs",
                "Db::apply (the consumer's transaction)".to_string(),
            ),
            (Component::Bus(_), None) if plan_eventing => ev(
                "bus.rs",
                "BusConfig, start (NATS JetStream, or the outbox pull)".to_string(),
            ),
            (Component::EventRoute | Component::Delivery | Component::Ordering, None)
                if plan_eventing =>
            {
                ev(
                    "bus.rs",
                    "subject, stream_name (the filter subject of each consumer)".to_string(),
                )
            }
            (Component::Consume, None) if plan_eventing => ev(
                "db.rs",
                "Db::apply (table checkpoints, in the consumer's transaction), then the ack"
                    .to_string(),
            ),
            _ => None,
        };
        let (krate, file, symbol) = match (c, svc) {
            _ if eventing_node.is_some() => eventing_node.clone().unwrap_or_default(),
            (_, Some(s)) => (
                s.crate_name.clone(),
                format!("services/{}/src/lib.rs", s.crate_name),
                "app".to_string(),
            ),
            (Component::Gateway(g), None) => {
                let (f, sym) = match g {
                    GatewayConcern::Authenticate => ("auth.rs", "layer, Verifier"),
                    GatewayConcern::Authorize => ("auth.rs", "layer (authentication only)"),
                    GatewayConcern::RateLimit => ("ratelimit.rs", "layer, Limits"),
                    GatewayConcern::Discovery => ("discovery.rs", "Registry"),
                    GatewayConcern::LoadBalance => ("discovery.rs", "Registry::live"),
                    GatewayConcern::Route => ("proxy.rs", "forward, send"),
                    GatewayConcern::Aggregate => ("aggregate.rs", "handler"),
                };
                (
                    "gateway".to_string(),
                    format!("gateway/src/{f}"),
                    sym.to_string(),
                )
            }
            (Component::Response, None) => {
                let l = n.display().to_lowercase();
                let (f, sym) = if l.contains("401") || l.contains("unauthori") {
                    ("auth.rs", "AuthError")
                } else if l.contains("429") || l.contains("too many") {
                    ("ratelimit.rs", "Refused")
                } else {
                    ("proxy.rs", "relay")
                };
                (
                    "gateway".to_string(),
                    format!("gateway/src/{f}"),
                    sym.to_string(),
                )
            }
            (Component::Client | Component::Entry, None) => (
                "-".to_string(),
                "-".to_string(),
                "the caller (dev prints a curl command)".to_string(),
            ),
            _ => (
                "-".to_string(),
                "-".to_string(),
                "not generated".to_string(),
            ),
        };
        nodes.push(NodeMap {
            node: n.id.clone(),
            label,
            component: c.name(),
            crate_name: krate,
            file,
            symbol,
        });
    }
    let eventing = services.iter().any(|s| s.db.is_some());
    let sqlite = eventing;
    Ok(WorkspacePlan {
        diagram,
        system: system.to_string(),
        authenticate,
        rate_limit,
        discovery,
        gateway_port: GATEWAY_PORT,
        services,
        aggregate,
        sqlite,
        eventing,
        bus,
        nodes,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_route_labels() {
        assert_eq!(
            label_path("GET /users/{id}"),
            Some(("/users".into(), vec!["users".into(), "{id}".into()]))
        );
        assert_eq!(
            label_path("GET /Orders?x=1").map(|p| p.0),
            Some("/orders".into())
        );
        assert_eq!(label_path("Orders"), None);
        assert_eq!(label_path("GET /{id}"), None);
        assert_eq!(label_path("GET /a\"b"), None);
        assert_eq!(label_path("GET /../etc"), None);
    }

    #[test]
    fn system_names_are_safe() {
        assert_eq!(system_name("shop"), "shop");
        assert_eq!(system_name("My Shop!"), "my-shop");
        assert_eq!(system_name("../"), "system");
        assert_eq!(system_name("9lives"), "system");
    }
}
