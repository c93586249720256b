//! The plan: a small IR of the project to generate (aggregates, commands, events,
//! projectors, views, endpoints, wiring), built from the model, the roles and the
//! domain. Templates only render it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::domain::{DomainFile, FieldType, ViewDef};
use super::naming::{self, comment_text, rust_str, Namer};
use super::packs::{self, Mapping, PackPlan, Unsupported};
use crate::model::arch::{Architecture, Component, InferOptions, Overrides, StoreEngine};
use crate::model::{Diagram, NodeIx, Role, Roles, ViewKind};

/// The whole project.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Crate name (snake_case).
    pub crate_name: String,
    /// File name of the diagram, made safe for comments.
    pub diagram: String,
    pub aggregates: Vec<AggregatePlan>,
    pub projectors: Vec<ProjectorPlan>,
    /// The template packs the project is made of (`templates/gen/<pack>/`), in wiring
    /// order, with the nodes each implements.
    pub packs: Vec<PackPlan>,
    /// `Cargo.toml` dependency lines: the union of the packs' crates.
    pub dependencies: Vec<String>,
    /// Cargo features of packs whose crates are optional (all on by default).
    pub features: Vec<FeaturePlan>,
    /// Node → role → file → symbol, for ARCHITECTURE.md.
    pub nodes: Vec<NodeMap>,
    /// `n4 "Persist to Write Store"`-style references per role, for doc comments.
    pub role_docs: BTreeMap<String, String>,
    /// The same, as fields for templates.
    pub docs: DocRefs,
    /// The diagram node id of each role (its first node; empty when none), for the
    /// `node` label of the generated service's per-node timings.
    pub ids: DocRefs,
    /// What was inferred (domain, defaults), for the user.
    pub inferred: Vec<String>,
    /// Where the domain came from.
    pub domain_source: String,
    /// The web UI's description of the domain (JSON, see [`super::ui`]).
    #[serde(skip)]
    pub ui_spec: String,
}

/// A cargo feature of the generated project and the optional crates it turns on.
#[derive(Debug, Clone, Serialize)]
pub struct FeaturePlan {
    pub name: String,
    /// `dep:async-nats`, ...
    pub crates: Vec<String>,
}

/// References to the nodes of each role (`n2 "Command Handler"`), for doc comments.
#[derive(Debug, Clone, Serialize)]
pub struct DocRefs {
    pub command_source: String,
    pub command_handler: String,
    pub validator: String,
    pub write_commit: String,
    pub event_publisher: String,
    pub event_router: String,
    pub ordering: String,
    pub delivery: String,
    pub query_api: String,
    pub read_response: String,
}

/// A field with everything templates need.
#[derive(Debug, Clone, Serialize)]
pub struct FieldPlan {
    pub name: String,
    pub is_int: bool,
    /// `String` or `i64`.
    pub rust_ty: &'static str,
    /// `TEXT` or `INTEGER`.
    pub sql_ty: &'static str,
    /// Reader in `error.rs`: `req_str` or `req_int`.
    pub parse: &'static str,
    /// Sample value as a JSON literal for tests and loadgen (`"sku-1"`, `1`).
    pub sample: String,
}

impl FieldPlan {
    fn new(name: &str, ty: FieldType) -> Self {
        let is_int = ty == FieldType::Int;
        FieldPlan {
            name: name.to_string(),
            is_int,
            rust_ty: if is_int { "i64" } else { "String" },
            sql_ty: if is_int { "INTEGER" } else { "TEXT" },
            parse: if is_int { "req_int" } else { "req_str" },
            sample: if is_int {
                "1".to_string()
            } else {
                rust_str(&format!("{}-1", name.replace('_', "-")))
            },
        }
    }
}

/// A change an event makes to its aggregate's state.
#[derive(Debug, Clone, Serialize)]
pub struct OpPlan {
    /// `set`, `copy`, `add`, `append` or `count`.
    pub kind: &'static str,
    /// State field changed.
    pub target: String,
    /// `set`: the value as a Rust string literal; `append`: the event field.
    pub value: String,
    /// `add`: the event fields multiplied.
    pub factors: Vec<String>,
    /// `copy`: whether the field is an int (copied, not cloned).
    pub is_int: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventPlan {
    pub name: String,
    /// Rust string literal of the stored type name.
    pub name_lit: String,
    pub fields: Vec<FieldPlan>,
    pub ops: Vec<OpPlan>,
}

/// A state guard of a command: `field` must be one of `values` (Rust literals).
#[derive(Debug, Clone, Serialize)]
pub struct WhenPlan {
    pub field: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommandPlan {
    pub name: String,
    /// URL segment and function name: `place_order`.
    pub slug: String,
    /// Fields besides the aggregate id.
    pub fields: Vec<FieldPlan>,
    pub emits: String,
    /// Fields passed from the command to the event.
    pub event_fields: Vec<FieldPlan>,
    pub creates: bool,
    pub when: Vec<WhenPlan>,
    pub positive: Vec<String>,
    pub non_negative: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AggregatePlan {
    /// `Order`
    pub name: String,
    /// `order` (module `src/domain/order.rs`)
    pub module: String,
    /// Rust string literal of the stored aggregate type.
    pub name_lit: String,
    /// Id field of commands: `order_id`.
    pub id_field: String,
    pub state: Vec<FieldPlan>,
    pub events: Vec<EventPlan>,
    pub commands: Vec<CommandPlan>,
}

/// A projector and the view it builds, one module.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectorPlan {
    pub node: String,
    pub label: String,
    /// Module and projector name: `order_summary`.
    pub module: String,
    /// `OrderSummaryProjector`
    pub projector_type: String,
    pub view: ViewPlan,
}

#[derive(Debug, Clone, Serialize)]
pub struct ViewPlan {
    pub node: String,
    pub label: String,
    /// `table`, `cache`, `cube` or `search`.
    pub kind: &'static str,
    /// URL segment: `order_summary_table`.
    pub slug: String,
    /// Read-side type: `OrderSummaryTable`.
    pub type_name: String,
    /// Entry type (`…Row`, `…Entry`, `…Cell`, `…Doc`) and page type (`…Page`).
    pub entry_type: String,
    pub page_type: String,
    /// Aggregate module and name the view is built from.
    pub aggregate_module: String,
    pub aggregate: String,
    /// Table: row fields. Cube: dimensions. Search: text fields. Cache: empty.
    pub fields: Vec<FieldPlan>,
    /// Cache: key field (`None`: the aggregate id).
    pub key: Option<String>,
    /// Cache and cube: int fields summed.
    pub measures: Vec<String>,
    /// A cache view whose label names Redis: in Redis when `REDIS_URL` is set
    /// (`store_cache_redis`).
    pub redis: bool,
}

/// One row of ARCHITECTURE.md.
#[derive(Debug, Clone, Serialize)]
pub struct NodeMap {
    pub node: String,
    pub label: String,
    /// Component kind of the architecture model (`store:table`).
    pub component: String,
    /// Template pack implementing it (`-`: needs no code of its own).
    pub pack: String,
    pub role: String,
    pub file: String,
    pub symbol: String,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("this diagram has no CQRS design fz gen can generate; it lacks {}", .0.join("; "))]
    NotCqrs(Vec<String>),
    #[error("fz gen cannot generate {} node(s) of this diagram:{}", .0.len(), .0.iter().map(|u| format!("\n  {u}")).collect::<String>())]
    Unsupported(Vec<Unsupported>),
    #[error(transparent)]
    Domain(#[from] super::domain::DomainError),
}

impl Plan {
    /// Whether the project uses a template pack.
    pub fn uses(&self, pack: &str) -> bool {
        self.packs.iter().any(|p| p.name == pack)
    }
}

/// The projector a projector-role node feeds when it is not one itself: a consumer in
/// front of it (`Sync Consumer -> Sync Read Model`), which the bus's delivery implements.
fn fed_projector<'a>(
    d: &Diagram,
    ix: NodeIx,
    projectors: &'a [ProjectorPlan],
) -> Option<&'a ProjectorPlan> {
    let own = comment_text(&d.node(ix).id);
    if projectors.iter().any(|p| p.node == own) {
        return None;
    }
    d.successors(ix).into_iter().find_map(|(_, s, _)| {
        let next = comment_text(&d.node(s).id);
        projectors.iter().find(|p| p.node == next)
    })
}

fn node_ref(d: &Diagram, ix: NodeIx) -> String {
    let n = d.node(ix);
    format!("{} \"{}\"", comment_text(&n.id), comment_text(n.display()))
}

fn kind_str(k: ViewKind) -> &'static str {
    match k {
        ViewKind::Table | ViewKind::Other => "table",
        ViewKind::Cache => "cache",
        ViewKind::Cube => "cube",
        ViewKind::Search => "search",
    }
}

/// Builds the plan with the architecture model inferred without overrides. `domain` is
/// `None` to infer one from the labels.
pub fn build(
    d: &Diagram,
    roles: &Roles,
    domain: Option<&DomainFile>,
    diagram_name: &str,
    domain_source: &str,
) -> Result<Plan, PlanError> {
    let arch = Architecture::infer(d, &Overrides::default(), InferOptions::default());
    build_arch(d, &arch, roles, domain, diagram_name, domain_source)
}

/// Builds the plan from the architecture model and the CQRS roles derived from it.
pub fn build_arch(
    d: &Diagram,
    arch: &Architecture,
    roles: &Roles,
    domain: Option<&DomainFile>,
    diagram_name: &str,
    domain_source: &str,
) -> Result<Plan, PlanError> {
    // Every node's component must have a pack, or need no code of its own.
    let mut unsupported = Vec::new();
    let mut engine_notes = Vec::new();
    let context = packs::Context::of(d, arch);
    for (ix, n) in d.nodes() {
        let c = arch.component(ix);
        if let Some(note) = context.note(d, arch, ix) {
            engine_notes.push(format!("{} {note}", comment_text(&n.id)));
        }
        if let Mapping::Unsupported(help) = context.mapping(d, arch, ix) {
            unsupported.push(Unsupported {
                node: comment_text(&n.id),
                label: comment_text(n.display()),
                component: c.name(),
                help: help.to_string(),
            });
        }
        if let Some(note) = packs::engine_note(c) {
            engine_notes.push(format!("{} {note}", comment_text(&n.id)));
        }
    }
    if !unsupported.is_empty() {
        return Err(PlanError::Unsupported(unsupported));
    }
    let missing = roles.missing_for_cqrs();
    if !missing.is_empty() {
        return Err(PlanError::NotCqrs(
            missing.iter().map(|s| s.to_string()).collect(),
        ));
    }
    let mut inferred = engine_notes;
    // Pair views with projectors.
    let views = roles.views();
    let mut pairs: Vec<(Option<NodeIx>, NodeIx, ViewKind)> = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for (v, kind) in &views {
        let p = d
            .predecessors(*v)
            .into_iter()
            .map(|(_, p, _)| p)
            .find(|p| roles.role(*p) == Some(Role::Projector) && !used.contains(p));
        if let Some(p) = p {
            used.insert(p);
        }
        pairs.push((p, *v, *kind));
    }
    let labels: Vec<String> = pairs
        .iter()
        .flat_map(|(p, v, _)| {
            p.iter()
                .chain(std::iter::once(v))
                .map(|ix| d.node(*ix).display().to_string())
        })
        .collect();
    let owned;
    // A domain file with no aggregates, commands or events (only `service`, `[views]`,
    // `[roles]`, `[components]`): the domain is inferred, the rest of the file kept.
    let domain = match domain {
        Some(dom) if !dom.overrides_only() => dom,
        given => {
            let (mut dom, notes) = super::domain::infer(&labels);
            for n in notes {
                inferred.push(format!("inferred {n}"));
            }
            if let Some(g) = given {
                dom.service = g.service.clone().or(dom.service);
                dom.views = g.views.clone();
                dom.roles = g.roles.clone();
                dom.components = g.components.clone();
            }
            owned = dom;
            &owned
        }
    };
    domain.validate()?;
    let crate_name = domain.service.clone().unwrap_or_else(|| {
        let stem = naming::words(diagram_name.trim_end_matches(".fz"))
            .map(|w| naming::snake(&w))
            .unwrap_or_else(|| "generated".into());
        let name = format!("{stem}_service");
        if naming::is_snake_ident(&name) && name.len() <= 64 {
            name
        } else {
            "generated_service".into()
        }
    });

    // Aggregates.
    let mut aggregates = Vec::new();
    for a in &domain.aggregates {
        let module =
            naming::snake(&naming::words(&a.name).unwrap_or_else(|| vec!["aggregate".into()]));
        let state: Vec<FieldPlan> = a.state.iter().map(|(n, t)| FieldPlan::new(n, *t)).collect();
        let events = domain
            .events
            .iter()
            .filter(|e| e.aggregate == a.name)
            .map(|e| {
                let mut ops = Vec::new();
                for (t, v) in &e.set {
                    ops.push(OpPlan {
                        kind: "set",
                        target: t.clone(),
                        value: rust_str(v),
                        factors: vec![],
                        is_int: false,
                    });
                }
                for f in &e.copy {
                    let is_int = e.fields.get(f) == Some(&FieldType::Int);
                    ops.push(OpPlan {
                        kind: "copy",
                        target: f.clone(),
                        value: String::new(),
                        factors: vec![],
                        is_int,
                    });
                }
                for (t, fs) in &e.add {
                    ops.push(OpPlan {
                        kind: "add",
                        target: t.clone(),
                        value: String::new(),
                        factors: fs.clone(),
                        is_int: true,
                    });
                }
                for (t, f) in &e.append {
                    ops.push(OpPlan {
                        kind: "append",
                        target: t.clone(),
                        value: f.clone(),
                        factors: vec![],
                        is_int: false,
                    });
                }
                for t in &e.count {
                    ops.push(OpPlan {
                        kind: "count",
                        target: t.clone(),
                        value: String::new(),
                        factors: vec![],
                        is_int: false,
                    });
                }
                EventPlan {
                    name: e.name.clone(),
                    name_lit: rust_str(&e.name),
                    fields: e
                        .fields
                        .iter()
                        .map(|(n, t)| FieldPlan::new(n, *t))
                        .collect(),
                    ops,
                }
            })
            .collect();
        let mut commands: Vec<CommandPlan> = domain
            .commands
            .iter()
            .filter(|c| c.aggregate == a.name)
            .map(|c| {
                let slug = naming::snake(
                    &naming::words(&c.name).unwrap_or_else(|| vec!["command".into()]),
                );
                CommandPlan {
                    name: c.name.clone(),
                    slug,
                    fields: c
                        .fields
                        .iter()
                        .map(|(n, t)| FieldPlan::new(n, *t))
                        .collect(),
                    emits: c.emits.clone(),
                    event_fields: domain
                        .event(&c.emits)
                        .map(|e| {
                            e.fields
                                .iter()
                                .map(|(n, t)| FieldPlan::new(n, *t))
                                .collect()
                        })
                        .unwrap_or_default(),
                    creates: c.creates,
                    when: c
                        .when
                        .iter()
                        .map(|(f, vs)| WhenPlan {
                            field: f.clone(),
                            values: vs.iter().map(|v| rust_str(v)).collect(),
                        })
                        .collect(),
                    positive: c.positive.clone(),
                    non_negative: c.non_negative.clone(),
                }
            })
            .collect();
        // Creating commands first: tests and loadgen run commands in this order.
        commands.sort_by_key(|c| !c.creates);
        aggregates.push(AggregatePlan {
            name: a.name.clone(),
            module,
            name_lit: rust_str(&a.name),
            id_field: a.id.clone(),
            state,
            events,
            commands,
        });
    }

    // Projectors and views.
    let mut namer = Namer::default();
    for a in &aggregates {
        namer.reserve(&a.module);
        namer.reserve(&a.name);
        for c in &a.commands {
            namer.reserve(&c.slug);
            namer.reserve(&c.name);
        }
        for e in &a.events {
            namer.reserve(&e.name);
        }
    }
    let mut projectors = Vec::new();
    for (p, v, kind) in &pairs {
        let vnode = d.node(*v);
        let pname = match p {
            Some(p) => {
                let n = d.node(*p);
                namer.take(
                    n.display(),
                    &n.id,
                    &["projector", "projection"],
                    &["Projector"],
                )
            }
            None => {
                inferred.push(format!(
                    "view {} is fed by no projector; generated one for it",
                    vnode.id
                ));
                namer.take(
                    &format!("{} projector", vnode.display()),
                    &format!("{}_projector", vnode.id),
                    &["projector"],
                    &["Projector"],
                )
            }
        };
        if let Some(p) = p {
            if pname.from_id {
                inferred.push(format!(
                    "projector {}: label gives no usable name; named after the node id",
                    d.node(*p).id
                ));
            }
        }
        let suffixes: &[&str] = match kind {
            ViewKind::Table | ViewKind::Other => &["Row", "Page"],
            ViewKind::Cache => &["Entry", "Page"],
            ViewKind::Cube => &["Cell", "Page"],
            ViewKind::Search => &["Doc", "Page"],
        };
        let vname = namer.take(vnode.display(), &vnode.id, &[], suffixes);
        if vname.from_id {
            inferred.push(format!(
                "view {}: label gives no usable name; named after the node id",
                vnode.id
            ));
        }
        if *kind == ViewKind::Other {
            inferred.push(format!(
                "view {}: kind not recognised from its label; generated as a table",
                vnode.id
            ));
        }
        let def = domain.views.get(&vnode.id).cloned().unwrap_or_default();
        let agg = match &def.aggregate {
            Some(a) => aggregates.iter().find(|x| &x.name == a),
            None => {
                let text = format!(
                    "{} {}",
                    vnode.display(),
                    p.map(|p| d.node(p).display()).unwrap_or("")
                )
                .to_lowercase();
                aggregates.iter().find(|x| {
                    naming::words(&x.name)
                        .is_some_and(|w| w.iter().all(|w| text.contains(w.as_str())))
                })
            }
        }
        .or(aggregates.first())
        .ok_or_else(|| super::domain::DomainError("no aggregates".into()))?;
        let mut view = view_plan(
            vnode.id.as_str(),
            vnode.display(),
            *kind,
            &vname,
            agg,
            &def,
            &mut inferred,
            domain,
        )?;
        view.redis = *kind == ViewKind::Cache
            && matches!(
                arch.component(*v),
                Component::Store {
                    engine: Some(StoreEngine::Redis),
                    ..
                }
            );
        if view.redis {
            let label = vnode.display().to_lowercase();
            if let Some(other) = ["elasticsearch", "elastic", "opensearch"]
                .iter()
                .find(|e| label.contains(*e))
            {
                inferred.push(format!(
                    "{} also names {other}: no Elasticsearch/OpenSearch server is generated for a cache view; it is the Redis read database (REDIS_URL) or the embedded cache",
                    comment_text(&vnode.id)
                ));
            }
        }
        projectors.push(ProjectorPlan {
            node: p
                .map(|p| comment_text(&d.node(p).id))
                .unwrap_or_else(|| "-".into()),
            label: p
                .map(|p| comment_text(d.node(p).display()))
                .unwrap_or_else(|| "(none)".into()),
            module: pname.snake.clone(),
            projector_type: format!("{}Projector", pname.pascal),
            view,
        });
    }
    // A projector node reached from a consistency check ("Consistency Check" ->
    // "Versions Match?" -> "Rebuild Read Model"): the check's repair path.
    let checks: Vec<NodeIx> = d
        .nodes()
        .filter(|(ix, _)| matches!(arch.component(*ix), Component::ConsistencyCheck))
        .map(|(ix, _)| ix)
        .collect();
    let repairs = |ix: NodeIx| -> bool {
        d.predecessors(ix).into_iter().any(|(_, p, _)| {
            checks.contains(&p)
                || (matches!(arch.component(p), Component::Decision)
                    && d.predecessors(p)
                        .into_iter()
                        .any(|(_, q, _)| checks.contains(&q)))
        })
    };
    for ix in roles.nodes_with(Role::Projector) {
        if !used.contains(&ix) && repairs(ix) {
            inferred.push(format!(
                "{} rebuilds a drifted view for consistency check {}: the view is reset and replayed from the event store (the code of `cargo run -- rebuild <view>`)",
                d.node(ix).id,
                checks
                    .iter()
                    .map(|c| d.node(*c).id.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        if let Some(p) = fed_projector(d, ix, &projectors) {
            inferred.push(format!(
                "{} consumes for projector {}: the bus's checkpointed delivery",
                d.node(ix).id,
                p.node
            ));
        } else if !used.contains(&ix) {
            inferred.push(format!(
                "projector {} feeds no view; nothing generated for it",
                d.node(ix).id
            ));
        }
    }

    // Node map and role references.
    let mut role_docs: BTreeMap<String, String> = BTreeMap::new();
    for a in &roles.assigned {
        let e = role_docs.entry(a.role.as_str().to_string()).or_default();
        if !e.is_empty() {
            e.push_str(", ");
        }
        e.push_str(&node_ref(d, a.node));
    }
    let first_agg = aggregates
        .first()
        .map(|a| a.module.clone())
        .unwrap_or_default();
    let mut nodes = Vec::new();
    let mut pack_nodes: BTreeMap<&str, Vec<String>> =
        packs::PACKS.iter().map(|p| (p.name, Vec::new())).collect();
    for (ix, n) in d.nodes() {
        let role = roles.role(ix);
        let component = arch.component(ix);
        let mapping = context.mapping(d, arch, ix);
        let (file, symbol) = match (mapping.clone(), role) {
            (
                Mapping::Pack(
                    p @ ("web_ui" | "authorize" | "idempotency" | "notification_websocket"),
                ),
                _,
            ) => packs::pack_node(p, component, d.node(ix).display()),
            (_, role) => match role {
                Some(Role::CommandSource) => (
                    "src/commands.rs".to_string(),
                    "HTTP handlers (place_order, ...), POST /commands/{name}".to_string(),
                ),
                Some(Role::CommandHandler) => (
                    "src/commands.rs".to_string(),
                    format!("execute_{first_agg} (one execute_* per aggregate)"),
                ),
                Some(Role::Validator) => (
                    "src/domain/rules.rs".to_string(),
                    "rules::* (called by each command's decide)".to_string(),
                ),
                Some(Role::WriteCommit) => (
                    "src/store.rs".to_string(),
                    "EventStore::append (group commit writer)".to_string(),
                ),
                Some(Role::EventPublisher) => (
                    "src/store.rs".to_string(),
                    "Head (commit notification; the log is the outbox)".to_string(),
                ),
                Some(Role::EventRouter) => ("src/bus.rs".to_string(), "route".to_string()),
                Some(Role::Ordering) => (
                    "src/bus.rs".to_string(),
                    "partition_of (in-order partitions)".to_string(),
                ),
                Some(Role::Delivery) => ("src/bus.rs".to_string(), "deliver".to_string()),
                Some(Role::Projector) if !used.contains(&ix) && repairs(ix) => (
                    "src/consistency.rs".to_string(),
                    "repair (Bus::rebuild: reset the view, replay it from the store)".to_string(),
                ),
                Some(Role::Projector) => {
                    match projectors.iter().find(|p| p.node == comment_text(&n.id)) {
                    Some(p) => (
                        format!("src/projections/{}.rs", p.module),
                        p.projector_type.clone(),
                    ),
                    // A consumer in front of a projector (`Sync Consumer -> Sync Read
                    // Model`): the bus's delivery into that projector.
                    None => match fed_projector(d, ix, &projectors) {
                        Some(p) => (
                            "src/bus.rs".to_string(),
                            format!(
                                "deliver (checkpointed, at-least-once delivery into {}, applied once)",
                                p.projector_type
                            ),
                        ),
                        None => ("-".to_string(), "(feeds no view)".to_string()),
                    },
                }
                }
                Some(Role::View(_)) => match projectors
                    .iter()
                    .find(|p| p.view.node == comment_text(&n.id))
                {
                    Some(p) => (
                        format!("src/projections/{}.rs", p.module),
                        p.view.type_name.clone(),
                    ),
                    None => ("-".to_string(), "-".to_string()),
                },
                Some(Role::QueryApi) => (
                    "src/query.rs".to_string(),
                    "GET /views/... handlers".to_string(),
                ),
                Some(Role::ReadResponse) => (
                    "src/query.rs".to_string(),
                    "timed (JSON responses)".to_string(),
                ),
                None => match mapping {
                    Mapping::Pack(pack) => pack_default(pack),
                    Mapping::Implicit(text) | Mapping::Unsupported(text) => {
                        ("-".to_string(), format!("(no code of its own: {text})"))
                    }
                },
            },
        };
        let pack = match (mapping, role) {
            _ if file == "-" => "-",
            _ if file == "src/consistency.rs" => "consistency_check",
            _ if file == "src/bus.rs" => "bus",
            (Mapping::Pack(p), _) => p,
            (_, Some(Role::ReadResponse | Role::QueryApi)) => "query_api",
            (_, Some(Role::CommandSource | Role::CommandHandler)) => "command",
            (_, Some(Role::Projector)) => "projector",
            _ => "runtime",
        };
        if let Some(list) = pack_nodes.get_mut(pack) {
            list.push(node_ref(d, ix));
        }
        // A cache view naming Redis is in Redis when REDIS_URL is set.
        let redis_view = projectors
            .iter()
            .find(|p| p.view.redis && p.view.node == comment_text(&n.id));
        let (file, symbol) = if let Some(p) = redis_view {
            if let Some(list) = pack_nodes.get_mut("store_cache_redis") {
                list.push(node_ref(d, ix));
            }
            (
                format!("{file}, src/redis_view.rs"),
                format!("{symbol}; with REDIS_URL: {}::list/get read Redis, {} writes it in one MULTI/EXEC per batch", p.view.type_name, p.projector_type),
            )
        } else {
            (file, symbol)
        };
        // A drawn bus is NATS JetStream when NATS_URL is set.
        let (file, symbol) = if matches!(component, Component::Bus(_)) {
            if let Some(list) = pack_nodes.get_mut("bus_nats") {
                list.push(node_ref(d, ix));
            }
            (
                format!("{file}, src/nats.rs"),
                format!("{symbol}; with NATS_URL: nats::publish (JetStream stream, a subject per partition) and nats::consume (durable pull consumers)"),
            )
        } else {
            (file, symbol)
        };
        nodes.push(NodeMap {
            node: comment_text(&n.id),
            label: comment_text(n.display()),
            component: component.name(),
            pack: pack.to_string(),
            role: role
                .map(|r| r.as_str().to_string())
                .unwrap_or_else(|| "-".into()),
            file,
            symbol,
        });
    }
    let doc = |role: &str, default: &str| {
        role_docs
            .get(role)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let docs = DocRefs {
        command_source: doc("command_source", "the command endpoints"),
        command_handler: doc("command_handler", "the command handler"),
        validator: doc("validator", "the domain rules"),
        write_commit: doc("write_commit", "the event store append"),
        event_publisher: doc("event_publisher", "the publication after commit"),
        event_router: doc("event_router", "the event router"),
        ordering: doc("ordering", "the partitions"),
        delivery: doc("delivery", "the delivery to projectors"),
        query_api: doc("query_api", "the query API"),
        read_response: doc("read_response", "the read response"),
    };
    let mut role_ids: BTreeMap<String, String> = BTreeMap::new();
    for a in &roles.assigned {
        role_ids
            .entry(a.role.as_str().to_string())
            .or_insert_with(|| comment_text(&d.node(a.node).id));
    }
    let id = |role: &str| role_ids.get(role).cloned().unwrap_or_default();
    // A design without a router or partitions of its own (the read/write separation's
    // `Publish Change Event -> Sync Consumer -> Sync Read Model`) still runs the bus: its
    // log reads are timed at the publication after commit, its delivery at the consumer in
    // front of the projector, so `fz calibrate` sees every step between commit and view.
    let consumer = roles
        .assigned
        .iter()
        .filter(|a| a.role == Role::Projector)
        .map(|a| a.node)
        .filter(|ix| fed_projector(d, *ix, &projectors).is_some())
        .map(|ix| comment_text(&d.node(ix).id))
        .next()
        .unwrap_or_default();
    let or = |first: String, then: &str| {
        if first.is_empty() {
            then.to_string()
        } else {
            first
        }
    };
    let ids = DocRefs {
        command_source: id("command_source"),
        command_handler: id("command_handler"),
        validator: id("validator"),
        write_commit: id("write_commit"),
        event_publisher: id("event_publisher"),
        event_router: or(id("event_router"), &id("event_publisher")),
        ordering: or(id("ordering"), &consumer),
        delivery: or(id("delivery"), &consumer),
        query_api: id("query_api"),
        read_response: id("read_response"),
    };
    // The packs: the runtime's core and every pack a node asks for.
    let mut used: Vec<PackPlan> = Vec::new();
    let mut dependencies: Vec<String> = Vec::new();
    let mut features: Vec<FeaturePlan> = Vec::new();
    for def in packs::PACKS {
        let nodes = pack_nodes.remove(def.name).unwrap_or_default();
        let view_pack = projectors.iter().any(|p| {
            format!("store_{}", p.view.kind) == def.name
                || (p.view.redis && def.name == "store_cache_redis")
        });
        if !(def.core || view_pack || !nodes.is_empty()) {
            continue;
        }
        for dep in def.deps {
            // A later pack may ask for more of a crate (axum with `ws`): its line
            // replaces the earlier one.
            let key = packs::crate_key(dep);
            match dependencies.iter_mut().find(|d| packs::crate_key(d) == key) {
                Some(d) => *d = dep.to_string(),
                None => dependencies.push(dep.to_string()),
            }
        }
        if let Some(f) = def.feature {
            features.push(FeaturePlan {
                name: f.to_string(),
                crates: def
                    .deps
                    .iter()
                    .filter_map(|d| d.split_whitespace().next())
                    .map(|c| format!("dep:{c}"))
                    .collect(),
            });
        }
        used.push(PackPlan {
            name: def.name.to_string(),
            summary: def.summary.to_string(),
            nodes,
        });
    }
    let ui_spec = super::ui::spec(&crate_name, domain, &aggregates, &projectors);
    Ok(Plan {
        ui_spec,
        packs: used,
        dependencies,
        features,
        docs,
        ids,
        crate_name,
        diagram: comment_text(diagram_name),
        aggregates,
        projectors,
        nodes,
        role_docs,
        inferred,
        domain_source: comment_text(domain_source),
    })
}

/// File and symbol of a node a pack implements that has no CQRS role of its own.
fn pack_default(pack: &str) -> (String, String) {
    let (f, s) = match pack {
        "command" => ("src/commands.rs", "HTTP handlers, POST /commands/{name}"),
        "aggregate" => ("src/domain/mod.rs", "decide (per aggregate module)"),
        "store_event" => ("src/store.rs", "EventStore"),
        "bus" => ("src/bus.rs", "Bus"),
        "projector" => ("src/projections/mod.rs", "projectors (wired in src/app.rs)"),
        "query_api" => ("src/query.rs", "GET /views/... handlers"),
        "consistency_check" => (
            "src/consistency.rs",
            "check (POST /admin/consistency-check and every CONSISTENCY_CHECK_SECS), repair",
        ),
        "lag_monitor" => (
            "src/lag.rs",
            "lag (GET /lag), render (replication_lag_seconds in /metrics)",
        ),
        _ => ("src/projections/mod.rs", "views"),
    };
    (f.to_string(), s.to_string())
}

#[allow(clippy::too_many_arguments)]
fn view_plan(
    node: &str,
    label: &str,
    kind: ViewKind,
    name: &naming::Name,
    agg: &AggregatePlan,
    def: &ViewDef,
    inferred: &mut Vec<String>,
    domain: &DomainFile,
) -> Result<ViewPlan, PlanError> {
    let _ = domain;
    let bad =
        |m: String| PlanError::Domain(super::domain::DomainError(format!("view {node}: {m}")));
    let field = |f: &str| -> Result<FieldPlan, PlanError> {
        agg.state
            .iter()
            .find(|s| s.name == f)
            .cloned()
            .ok_or_else(|| bad(format!("{f:?} is not a state field of {}", agg.name)))
    };
    let ints: Vec<String> = agg
        .state
        .iter()
        .filter(|f| f.is_int)
        .map(|f| f.name.clone())
        .collect();
    let strings: Vec<String> = agg
        .state
        .iter()
        .filter(|f| !f.is_int)
        .map(|f| f.name.clone())
        .collect();
    let kind_s = kind_str(kind);
    let mut note = |what: &str, list: &[String]| {
        inferred.push(format!(
            "view {node} ({kind_s}): {what} {}",
            list.join(", ")
        ));
    };
    let (fields, key, measures) = match kind_s {
        "table" => {
            let names = if def.fields.is_empty() {
                let all: Vec<String> = agg.state.iter().map(|f| f.name.clone()).collect();
                note("keeps every state field:", &all);
                all
            } else {
                def.fields.clone()
            };
            (
                names
                    .iter()
                    .map(|f| field(f))
                    .collect::<Result<Vec<_>, _>>()?,
                None,
                vec![],
            )
        }
        "cache" => {
            if def.key.is_none() {
                note("keyed by the aggregate id", &[]);
            }
            if let Some(k) = &def.key {
                let f = field(k)?;
                if f.is_int {
                    return Err(bad(format!("key {k} must be a string field")));
                }
            }
            let m = if def.measures.is_empty() {
                note("sums", &ints);
                ints.clone()
            } else {
                def.measures.clone()
            };
            for f in &m {
                if !field(f)?.is_int {
                    return Err(bad(format!("measure {f} must be an int field")));
                }
            }
            (vec![], def.key.clone(), m)
        }
        "cube" => {
            let dims = if def.dimensions.is_empty() {
                let d = if strings.contains(&"status".to_string()) {
                    vec!["status".to_string()]
                } else {
                    strings.iter().take(1).cloned().collect()
                };
                note("dimensions", &d);
                d
            } else {
                def.dimensions.clone()
            };
            if dims.is_empty() {
                return Err(bad("a cube needs at least one string dimension".into()));
            }
            let m = if def.measures.is_empty() {
                note("measures", &ints);
                ints.clone()
            } else {
                def.measures.clone()
            };
            let dims = dims
                .iter()
                .map(|f| field(f))
                .collect::<Result<Vec<_>, _>>()?;
            if dims.iter().any(|f| f.is_int) {
                return Err(bad("cube dimensions must be string fields".into()));
            }
            for f in &m {
                if !field(f)?.is_int {
                    return Err(bad(format!("measure {f} must be an int field")));
                }
            }
            (dims, None, m)
        }
        _ => {
            let t = if def.text.is_empty() {
                note("indexes the text of", &strings);
                strings.clone()
            } else {
                def.text.clone()
            };
            let t = t.iter().map(|f| field(f)).collect::<Result<Vec<_>, _>>()?;
            if t.is_empty() || t.iter().any(|f| f.is_int) {
                return Err(bad("a search view needs string text fields".into()));
            }
            (t, None, vec![])
        }
    };
    let (entry, page) = match kind_s {
        "table" => ("Row", "Page"),
        "cache" => ("Entry", "Page"),
        "cube" => ("Cell", "Page"),
        _ => ("Doc", "Page"),
    };
    Ok(ViewPlan {
        node: comment_text(node),
        label: comment_text(label),
        kind: kind_s,
        slug: name.snake.clone(),
        type_name: name.pascal.clone(),
        entry_type: format!("{}{entry}", name.pascal),
        page_type: format!("{}{page}", name.pascal),
        aggregate_module: agg.module.clone(),
        aggregate: agg.name.clone(),
        fields,
        key,
        measures,
        redis: false,
    })
}
