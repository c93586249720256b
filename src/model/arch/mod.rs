//! The architecture model: what each node, lane and edge of a diagram *is*.
//!
//! Built from a checked [`Diagram`] by [`Architecture::infer`]: every node gets a
//! [`Component`], every lane a [`LaneKind`], every edge an [`Interaction`], every fan-out
//! whose branches meet again its [`ForkJoin`], and fan-outs into a lane (an edge labelled
//! "Fan-Out") the edges they imply. Each assignment keeps the reason for it, which
//! `--explain` prints; the `[components]` table of a sim profile or gen domain file
//! overrides any of them ([`Overrides`]). Both `fz sim` and `fz gen` read this model; the
//! CQRS [`Roles`](crate::model::Roles) are derived from it.

mod component;
mod infer;
mod join;

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use component::{
    BusEngine, Channel, Component, GatewayConcern, Interaction, LaneKind, StoreEngine, StoreUse,
    UnknownComponent,
};
pub use join::{find_joins, ForkJoin};

use super::diagram::{Diagram, EdgeIx, NodeIx, Shape};
use super::roles::ViewKind;
use infer::{
    from_label, interaction_from_label, is_failure_outcome, lane_kind, node_text,
    view_kind_or_other, Text, RESPONSE_WORDS,
};

/// A value and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned<T> {
    pub value: T,
    pub reason: String,
}

/// An edge implied by a fan-out into a lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpliedEdge {
    pub from: NodeIx,
    pub to: NodeIx,
    pub reason: String,
}

/// One way out of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub edge: EdgeIx,
    pub to: NodeIx,
    /// The edge label, else the target's label.
    pub label: String,
    /// A rejection or failure ("No", "401", "Duplicate"): a small default share.
    pub failure: Option<String>,
}

/// Overrides by id: nodes (`n5 = "store:read:redis"`), lanes (`Gateway = "infrastructure"`)
/// and edges (`"n3->n5" = "read"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub nodes: BTreeMap<String, Component>,
    pub lanes: BTreeMap<String, LaneKind>,
    pub edges: BTreeMap<(String, String), Interaction>,
}

/// An override entry that names nothing in the diagram, or a value that is not in the
/// vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("`{key}` is neither a node id, a lane id nor an edge \"nA->nB\" of the diagram")]
    UnknownKey { key: String },
    #[error("`{key}`: {message}")]
    BadValue { key: String, message: String },
}

impl Overrides {
    /// Add one `key = "value"` entry, checking the key against the diagram.
    pub fn add(&mut self, d: &Diagram, key: &str, value: &str) -> Result<(), OverrideError> {
        let bad = |message: String| OverrideError::BadValue {
            key: key.to_string(),
            message,
        };
        if let Some((a, b)) = key.split_once("->") {
            let (a, b) = (a.trim(), b.trim());
            let exists = match (d.node_index(a), d.node_index(b)) {
                (Some(s), Some(t)) => d.successors(s).iter().any(|(_, x, _)| *x == t),
                _ => false,
            };
            if !exists {
                return Err(OverrideError::UnknownKey {
                    key: key.to_string(),
                });
            }
            let i: Interaction = value.parse().map_err(bad)?;
            self.edges.insert((a.to_string(), b.to_string()), i);
            return Ok(());
        }
        if d.node_index(key).is_some() {
            let c: Component = value
                .parse()
                .map_err(|e: UnknownComponent| bad(e.to_string()))?;
            self.nodes.insert(key.to_string(), c);
            return Ok(());
        }
        if d.lane_index(key).is_some() {
            let k: LaneKind = value.parse().map_err(bad)?;
            self.lanes.insert(key.to_string(), k);
            return Ok(());
        }
        Err(OverrideError::UnknownKey {
            key: key.to_string(),
        })
    }
}

/// Options of the inference.
#[derive(Debug, Clone, Copy)]
pub struct InferOptions {
    /// Infer the edges a fan-out into a lane implies (`fz sim --no-infer` turns it off).
    pub lane_fanout: bool,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions { lane_fanout: true }
    }
}

/// The architecture model of one diagram.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Architecture {
    /// By node index.
    pub components: Vec<Assigned<Component>>,
    /// By lane index.
    pub lanes: Vec<Assigned<LaneKind>>,
    /// By edge index.
    pub edges: Vec<Assigned<Interaction>>,
    /// Edges a fan-out into a lane implies, in the order found.
    pub implied: Vec<ImpliedEdge>,
    pub joins: Vec<(NodeIx, NodeIx, usize)>,
    /// Routers that send each item to one of their targets (the edges name different topics
    /// or paths), with the reason; every other node with several edges copies.
    pub routers: Vec<(NodeIx, String)>,
}

fn is_fanout_label(label: &str) -> bool {
    let l = label.to_lowercase();
    ["fan-out", "fanout", "fan out", "broadcast"]
        .iter()
        .any(|k| l.contains(k))
}

impl Architecture {
    /// Infer the model; `overrides` win over inference.
    pub fn infer(d: &Diagram, overrides: &Overrides, opts: InferOptions) -> Architecture {
        let n = d.node_count();
        let lanes: Vec<Assigned<LaneKind>> = d
            .lanes
            .iter()
            .map(|l| match overrides.lanes.get(&l.id) {
                Some(k) => Assigned {
                    value: *k,
                    reason: "set in the [components] table".into(),
                },
                None => {
                    let (value, reason) =
                        lane_kind(&Text::new(&format!("{} {}", l.id, l.display())));
                    Assigned { value, reason }
                }
            })
            .collect();

        // 1. Labels and shapes.
        let mut comp: Vec<Option<(Component, String)>> = vec![None; n];
        let mut provisional_store = vec![false; n];
        for (ix, node) in d.nodes() {
            let t = node_text(d, ix);
            let lane = Text::new(d.lane_of(ix).display());
            let has_in = d.predecessors(ix).iter().any(|(_, p, _)| *p != ix);
            let has_out = d.successors(ix).iter().any(|(_, s, _)| *s != ix);
            if node.shape == Shape::Circle && (!has_in || !has_out) {
                comp[ix.index()] = Some(circle(&t, &lane, has_in, lanes[node.lane].value));
                continue;
            }
            if let Some((c, why)) = from_label(&t, &lane, node.shape) {
                if let Component::Store { .. } = c {
                    provisional_store[ix.index()] = !why.contains("used as");
                }
                comp[ix.index()] = Some((c, why));
            }
        }
        // 2. Position: the use of stores only a neighbour can tell, and steps of client lanes.
        for (ix, node) in d.nodes() {
            let i = ix.index();
            if provisional_store[i] {
                if let Some((Component::Store { engine, .. }, why)) = comp[i].clone() {
                    let feeder = d.predecessors(ix).into_iter().find_map(|(_, p, _)| {
                        comp[p.index()].as_ref().and_then(|(c, _)| {
                            matches!(
                                c,
                                Component::Projector
                                    | Component::Sync
                                    | Component::Consume
                                    | Component::Delivery
                                    | Component::EventRoute
                                    | Component::Bus(_)
                                    | Component::Store {
                                        usage: StoreUse::Read(_),
                                        ..
                                    }
                            )
                            .then(|| (d.node(p).id.clone(), *c))
                        })
                    });
                    let usage = match (&feeder, engine) {
                        (Some(_), Some(StoreEngine::MongoDb)) => StoreUse::Document,
                        (Some(_), e) => StoreUse::Read(match e {
                            Some(StoreEngine::Redis) => ViewKind::Cache,
                            Some(StoreEngine::Elasticsearch | StoreEngine::OpenSearch) => {
                                ViewKind::Search
                            }
                            _ => view_kind_or_other(&node_text(d, ix)),
                        }),
                        (None, Some(StoreEngine::MongoDb)) => StoreUse::Document,
                        (None, _) => StoreUse::Write,
                    };
                    let pos = match &feeder {
                        Some((id, c)) => format!("fed by {} {id}", c.name()),
                        None => "fed by no projector, consumer or bus".to_string(),
                    };
                    comp[i] = Some((
                        Component::Store { usage, engine },
                        format!("{why}; {pos}: a {} store", usage.as_str()),
                    ));
                }
            }
            if comp[i].is_none() {
                // Fed by a projector: a read model (the seed's "Order Summary Table" rule).
                let fed = d
                    .predecessors(ix)
                    .into_iter()
                    .find(|(_, p, _)| matches!(comp[p.index()], Some((c, _)) if c.is_projector()));
                if let Some((_, p, _)) = fed {
                    let kind = view_kind_or_other(&node_text(d, ix));
                    comp[i] = Some((
                        Component::Store {
                            usage: StoreUse::Read(kind),
                            engine: None,
                        },
                        format!("fed by projector {}: a read model", d.node(p).id),
                    ));
                } else if lanes[node.lane].value == LaneKind::Client {
                    comp[i] = Some((
                        Component::Client,
                        format!("a step in client lane {}", d.lane_of(ix).id),
                    ));
                } else if node.shape == Shape::Circle {
                    comp[i] = Some((Component::Step, "a circle inside a flow".into()));
                } else {
                    comp[i] = Some((Component::Step, "no rule matched: a processing step".into()));
                }
            }
        }
        let mut components: Vec<Assigned<Component>> = comp
            .into_iter()
            .map(|c| {
                let (value, reason) = c.unwrap_or((Component::Step, String::new()));
                Assigned { value, reason }
            })
            .collect();
        for (id, c) in &overrides.nodes {
            if let Some(ix) = d.node_index(id) {
                components[ix.index()] = Assigned {
                    value: *c,
                    reason: "set in the [components] table".into(),
                };
            }
        }

        // 3. Implied edges of fan-outs into a lane.
        let mut implied = Vec::new();
        if opts.lane_fanout {
            let mut has_in = vec![false; n];
            for (_, _, t, _) in d.edges() {
                has_in[t.index()] = true;
            }
            for (_, s, t, edge) in d.edges() {
                let Some(label) = edge.label.as_deref() else {
                    continue;
                };
                if !is_fanout_label(label) {
                    continue;
                }
                for m in d.lane_nodes(d.node(t).lane) {
                    if m == t || m == s || has_in[m.index()] {
                        continue;
                    }
                    if d.successors(s).iter().any(|(_, x, _)| *x == m)
                        || implied
                            .iter()
                            .any(|e: &ImpliedEdge| e.from == s && e.to == m)
                    {
                        continue;
                    }
                    implied.push(ImpliedEdge {
                        from: s,
                        to: m,
                        reason: format!(
                            "{} -> {} is labelled \"{label}\" into lane {}; {} has no incoming edge",
                            d.node(s).id,
                            d.node(t).id,
                            d.lane_of(t).id,
                            d.node(m).id
                        ),
                    });
                }
            }
        }

        // 4. Interactions.
        let edges = interactions(d, &components, overrides);

        let mut arch = Architecture {
            components,
            lanes,
            edges,
            implied,
            joins: Vec::new(),
            routers: Vec::new(),
        };
        // 5. Joins over the flow (reads and writes into read models end, never join).
        let flow = arch.flow_adjacency(d);
        let out: Vec<Vec<usize>> = flow
            .iter()
            .map(|v| v.iter().map(|x| x.index()).collect())
            .collect();
        let comps: Vec<Component> = arch.components.iter().map(|a| a.value).collect();
        arch.joins = find_joins(
            &out,
            |i| d.node(NodeIx::new(i)).shape != Shape::Diamond,
            |i| !comps[i].is_store(),
        )
        .into_iter()
        .map(|j| (NodeIx::new(j.fork), NodeIx::new(j.join), j.parts))
        .collect();
        // 6. Routers whose edges name different topics or paths route each item one way (a
        // fan-out that meets again is a scatter-gather instead).
        for (ix, _) in d.nodes() {
            if !matches!(
                arch.component(ix),
                Component::EventRoute | Component::Gateway(GatewayConcern::Route)
            ) || arch.joins.iter().any(|(f, _, _)| *f == ix)
            {
                continue;
            }
            let out: Vec<String> = d
                .successors(ix)
                .into_iter()
                .filter(|(e, _, _)| arch.carries_flow(d, *e))
                .filter_map(|(_, _, edge)| edge.label.as_deref().map(|l| l.trim().to_lowercase()))
                .collect();
            let n_out = d
                .successors(ix)
                .iter()
                .filter(|(e, _, _)| arch.carries_flow(d, *e))
                .count();
            let mut uniq = out.clone();
            uniq.sort();
            uniq.dedup();
            if n_out >= 2 && out.len() == n_out && uniq.len() == n_out {
                arch.routers.push((
                    ix,
                    format!(
                        "{} routes each item to one of its targets: its edges name different topics or paths ({})",
                        arch.component(ix).name(),
                        out.join(", ")
                    ),
                ));
            }
        }
        arch
    }

    pub fn component(&self, ix: NodeIx) -> Component {
        self.components[ix.index()].value
    }

    pub fn interaction(&self, e: EdgeIx) -> Interaction {
        self.edges[e.index()].value
    }

    /// True for edges along which work flows on: every edge but a read from a store and a
    /// write into a read model (which ends there).
    pub fn carries_flow(&self, d: &Diagram, e: EdgeIx) -> bool {
        let (s, _) = d.endpoints(e);
        match self.interaction(e) {
            Interaction::Read => !self.component(s).is_store() || self.read_is_forward(d, e),
            _ => true,
        }
    }

    /// A read edge out of a store that reads pass on along: the store is itself read on the
    /// way (a reader's edge goes into it), and this edge is the read's next step. Otherwise
    /// the edge's target reads the store and goes on from itself.
    pub fn read_is_forward(&self, d: &Diagram, e: EdgeIx) -> bool {
        let (s, t) = d.endpoints(e);
        self.interaction(e) == Interaction::Read
            && self.component(s).is_store()
            && !matches!(
                self.component(t),
                Component::ConsistencyCheck | Component::LagMonitor
            )
            && d.predecessors(s).iter().any(|(pe, p, _)| {
                self.interaction(*pe) == Interaction::Read && !self.component(*p).is_store()
            })
    }

    /// Successors along which tokens flow, implied edges included (in source order, then
    /// implied order).
    pub fn flow_adjacency(&self, d: &Diagram) -> Vec<Vec<NodeIx>> {
        let mut out = vec![Vec::new(); d.node_count()];
        for (e, s, t, _) in d.edges() {
            if self.carries_flow(d, e) {
                out[s.index()].push(t);
            }
        }
        for ie in &self.implied {
            out[ie.from.index()].push(ie.to);
        }
        out
    }

    /// True when the node sends each item down one of its edges (a diamond, or a router).
    pub fn chooses(&self, d: &Diagram, ix: NodeIx) -> bool {
        d.node(ix).shape == Shape::Diamond || self.routers.iter().any(|(r, _)| *r == ix)
    }

    /// The outcomes of a decision, in edge order.
    pub fn outcomes(&self, d: &Diagram, ix: NodeIx) -> Vec<Outcome> {
        d.successors(ix)
            .into_iter()
            .map(|(e, t, edge)| {
                let label = edge
                    .label
                    .clone()
                    .unwrap_or_else(|| d.node(t).display().to_string());
                let target = Text::new(&format!("{} {}", label, d.node(t).display()));
                let failure = is_failure_outcome(&target).map(|k| format!("\"{k}\""));
                Outcome {
                    edge: e,
                    to: t,
                    label,
                    failure,
                }
            })
            .collect()
    }

    /// The account `--explain` prints: every component, lane kind, interaction, implied edge
    /// and join, with its reason.
    pub fn explain(&self, d: &Diagram) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Lanes:");
        for (l, a) in d.lanes.iter().zip(&self.lanes) {
            let _ = writeln!(s, "  {:<14} {:<15} {}", l.id, a.value.as_str(), a.reason);
        }
        let _ = writeln!(s, "Components:");
        for (ix, node) in d.nodes() {
            let a = &self.components[ix.index()];
            let _ = writeln!(
                s,
                "  {:<6} {:<28} {}  [{}]",
                node.id,
                a.value.name(),
                a.reason,
                node.display()
            );
        }
        let _ = writeln!(s, "Interactions:");
        for (e, src, dst, _) in d.edges() {
            let a = &self.edges[e.index()];
            let _ = writeln!(
                s,
                "  {:<14} {:<10} {}",
                format!("{}->{}", d.node(src).id, d.node(dst).id),
                a.value.as_str(),
                a.reason
            );
        }
        if !self.implied.is_empty() {
            let _ = writeln!(s, "Implied edges:");
            for ie in &self.implied {
                let _ = writeln!(
                    s,
                    "  {:<14} {}",
                    format!("{}->{}", d.node(ie.from).id, d.node(ie.to).id),
                    ie.reason
                );
            }
        }
        if !self.routers.is_empty() {
            let _ = writeln!(s, "Routers:");
            for (r, why) in &self.routers {
                let _ = writeln!(s, "  {:<6} {why}", d.node(*r).id);
            }
        }
        let _ = writeln!(s, "Joins:");
        if self.joins.is_empty() {
            let _ = writeln!(s, "  (none: no fan-out meets again)");
        }
        for (f, j, parts) in &self.joins {
            let _ = writeln!(
                s,
                "  {} gathers the {parts} parts of the fan-out at {} (nearest node every branch reaches)",
                d.node(*j).id,
                d.node(*f).id
            );
        }
        s
    }
}

/// An entry or exit circle.
fn circle(t: &Text, lane: &Text, has_in: bool, lane_kind: LaneKind) -> (Component, String) {
    let said = |k: &str| format!("label contains \"{k}\"");
    if has_in {
        let extra = ["acknowledged", "dto", "confirmed", "returned"];
        if let Some(k) = t.word(RESPONSE_WORDS).or_else(|| t.word(&extra)) {
            return (Component::Response, format!("exit circle; {}", said(k)));
        }
        return (Component::Exit, "exit circle (no outgoing edge)".into());
    }
    if let Some(k) = t.has(&["intent"]) {
        return (Component::UserIntent, format!("entry circle; {}", said(k)));
    }
    if let Some(k) = t.has(&["command"]) {
        return (Component::Command, format!("entry circle; {}", said(k)));
    }
    if lane_kind == LaneKind::Client {
        return (
            Component::Client,
            format!("entry circle in a client lane (\"{}\")", lane.lower),
        );
    }
    if let Some(k) = t.word(&[
        "client", "user", "users", "request", "requests", "browser", "session", "sessions",
        "customer", "query", "queries",
    ]) {
        return (Component::Client, format!("entry circle; {}", said(k)));
    }
    (Component::Entry, "entry circle (no incoming edge)".into())
}

/// Interactions of every edge, by edge index.
fn interactions(
    d: &Diagram,
    comps: &[Assigned<Component>],
    overrides: &Overrides,
) -> Vec<Assigned<Interaction>> {
    let n = d.node_count();
    let c = |ix: NodeIx| comps[ix.index()].value;
    let mut v: Vec<Assigned<Interaction>> = Vec::with_capacity(d.edge_count());
    // Reachability from each lane, for replies (small diagrams only; big ones use labels).
    let small = n <= 5_000;
    let mut reach_from_lane: Vec<Vec<bool>> = Vec::new();
    if small {
        for lane in 0..d.lanes.len() {
            let mut seen = vec![false; n];
            let mut stack: Vec<NodeIx> = d.lane_nodes(lane).collect();
            while let Some(x) = stack.pop() {
                for (_, y, _) in d.successors(x) {
                    if !seen[y.index()] {
                        seen[y.index()] = true;
                        stack.push(y);
                    }
                }
            }
            reach_from_lane.push(seen);
        }
    }
    for (_, s, t, edge) in d.edges() {
        let label = edge.label.as_deref().unwrap_or("");
        let lt = Text::new(label);
        let (cs, ct) = (c(s), c(t));
        if let Some(i) = overrides
            .edges
            .get(&(d.node(s).id.clone(), d.node(t).id.clone()))
        {
            v.push(Assigned {
                value: *i,
                reason: "set in the [components] table".into(),
            });
            continue;
        }
        let from_label = interaction_from_label(&lt);
        let pick = |value: Interaction, reason: String| Assigned { value, reason };
        let a = if ct.is_store() && !cs.is_store() {
            match from_label {
                Some((Interaction::Read, k)) => pick(
                    Interaction::Read,
                    format!(
                        "into store {}; label says \"{k}\": the store is read on the way",
                        d.node(t).id
                    ),
                ),
                Some((Interaction::Replicate, k)) => pick(
                    Interaction::Replicate,
                    format!("into store {}; label says \"{k}\"", d.node(t).id),
                ),
                _ if cs == Component::Sync => pick(
                    Interaction::Replicate,
                    format!("from sync {} into store {}", d.node(s).id, d.node(t).id),
                ),
                _ if cs.is_reader()
                    && ct.view_kind().is_some()
                    && !cs.is_projector()
                    && matches!(cs, Component::QueryApi | Component::QueryHandler) =>
                {
                    pick(
                        Interaction::Read,
                        format!(
                            "from {} into read model {}: a query reads it on the way",
                            cs.name(),
                            d.node(t).id
                        ),
                    )
                }
                _ => pick(
                    Interaction::Write,
                    format!("into store {} ({})", d.node(t).id, ct.name()),
                ),
            }
        } else if cs.is_store()
            && !ct.is_store()
            && ((ct.is_reader() || matches!(from_label, Some((Interaction::Read, _))))
                && cs.view_kind().is_some()
                || matches!(ct, Component::ConsistencyCheck | Component::LagMonitor))
        {
            let why = match from_label {
                Some((Interaction::Read, k)) => format!("label says \"{k}\""),
                _ => format!("{} reads stores", ct.name()),
            };
            pick(
                Interaction::Read,
                format!(
                    "from store {} to {}: {why}; not message flow",
                    d.node(s).id,
                    d.node(t).id
                ),
            )
        } else if matches!(cs, Component::Notification(_))
            || matches!(ct, Component::Notification(_))
        {
            pick(
                Interaction::Message,
                format!(
                    "a push ({})",
                    if matches!(cs, Component::Notification(_)) {
                        cs.name()
                    } else {
                        ct.name()
                    }
                ),
            )
        } else if is_async(cs) || is_async(ct) {
            let which = if is_async(cs) { cs } else { ct };
            pick(
                Interaction::Message,
                format!("{} is asynchronous messaging", which.name()),
            )
        } else if edge.cross_lane {
            let back = small && reach_from_lane[d.node(t).lane][s.index()];
            match from_label {
                Some((Interaction::Message, k)) => {
                    pick(Interaction::Message, format!("label says \"{k}\""))
                }
                Some((Interaction::Reply, k)) => pick(
                    Interaction::Reply,
                    format!("label says \"{k}\"; back into lane {}", d.lane_of(t).id),
                ),
                _ if back => pick(
                    Interaction::Reply,
                    format!(
                        "back into lane {}, whose flow reached {}",
                        d.lane_of(t).id,
                        d.node(s).id
                    ),
                ),
                _ => pick(Interaction::Message, "one-way into another lane".into()),
            }
        } else {
            match from_label {
                Some((Interaction::Message, k)) => {
                    pick(Interaction::Message, format!("label says \"{k}\""))
                }
                _ => pick(
                    Interaction::Flow,
                    format!("a step inside lane {}", d.lane_of(s).id),
                ),
            }
        };
        v.push(a);
    }
    // Calls: a cross-lane edge whose target's flow replies into the source lane.
    if small {
        let replies: Vec<(usize, NodeIx)> = d
            .edges()
            .filter(|(e, _, _, _)| v[e.index()].value == Interaction::Reply)
            .map(|(_, s, t, _)| (d.node(t).lane, s))
            .collect();
        for (e, s, t, edge) in d.edges() {
            if !edge.cross_lane || v[e.index()].value != Interaction::Message {
                continue;
            }
            if v[e.index()].reason.starts_with("one-way") {
                let caller = d.node(s).lane;
                if let Some((_, r)) = replies
                    .iter()
                    .find(|(l, r)| *l == caller && reaches(d, t, *r))
                {
                    v[e.index()] = Assigned {
                        value: Interaction::Call,
                        reason: format!(
                            "into lane {}, whose flow replies to lane {} from {}",
                            d.lane_of(t).id,
                            d.lanes[caller].id,
                            d.node(*r).id
                        ),
                    };
                }
            }
        }
    }
    v
}

fn is_async(c: Component) -> bool {
    matches!(
        c,
        Component::Bus(_)
            | Component::Publish
            | Component::Consume
            | Component::EventRoute
            | Component::Ordering
            | Component::Delivery
            | Component::DeadLetter
            | Component::Projector
            | Component::Sync
    )
}

fn reaches(d: &Diagram, from: NodeIx, to: NodeIx) -> bool {
    let mut seen = vec![false; d.node_count()];
    let mut stack = vec![from];
    while let Some(x) = stack.pop() {
        if x == to {
            return true;
        }
        if std::mem::replace(&mut seen[x.index()], true) {
            continue;
        }
        stack.extend(d.successors(x).into_iter().map(|(_, y, _)| y));
    }
    false
}
