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
    /// `memory` (the diagram draws no store for it) or `sqlite`.
    pub store: String,
    /// Why the prefix is what it is.
    pub prefix_reason: String,
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
    #[error("{diagram}: {node} \"{label}\" is a store of service {service}; database-per-service workspaces (outbox, bus, replicated read models) are not generated yet, only gateway systems whose services the diagram draws without stores")]
    StoresNotYet {
        diagram: String,
        node: String,
        label: String,
        service: String,
    },
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
    // Stores of services: not generated yet.
    for c in &cands {
        if let Some(s) = d.lane_nodes(c.lane).find(|&n| {
            owning.contains(&c.lane)
                && matches!(
                    arch.component(n),
                    Component::Store {
                        usage: StoreUse::Write | StoreUse::Document | StoreUse::Event,
                        ..
                    }
                )
        }) {
            return Err(WorkspaceError::StoresNotYet {
                diagram,
                node: d.node(s).id.clone(),
                label: comment_text(d.node(s).display()),
                service: comment_text(&c.label),
            });
        }
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
            prefix_reason: reason,
        });
    }

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
    let mut nodes = Vec::new();
    for (ix, n) in d.nodes() {
        let c = arch.component(ix);
        let label = comment_text(n.display());
        let svc = node_service.get(&ix).map(|&i| &services[i]).or_else(|| {
            cands
                .iter()
                .position(|c| c.node.is_none() && c.lane == n.lane)
                .map(|i| &services[i])
        });
        let (krate, file, symbol) = match (c, svc) {
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
    let sqlite = services.iter().any(|s| s.store == "sqlite");
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
