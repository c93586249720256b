//! Lowering: a [`Diagram`] with a [`Profile`] and its CQRS [`Roles`] becomes the [`Network`]
//! the engine runs. Everything the simulator infers is recorded for `--explain`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::model::arch::{Architecture, InferOptions, OverrideError, Overrides};
use crate::model::{Component, Diagram, Interaction, NodeIx, Role, Roles, Shape};

use super::dist::{Dist, KeyDist};
use super::network::{
    ClosedLoop, CqrsSpec, Hop, JoinSpec, LoopBack, Network, Routing, SimRole, Source, Station,
};
use super::profile::{Arrivals, Profile, ProfileError};

/// Arrivals per second at each source when nothing says otherwise.
pub const DEFAULT_RATE: f64 = 500.0;
/// Service time of rectangles and taskboxes when nothing says otherwise.
pub const DEFAULT_SERVICE: &str = "exp(1ms)";
/// Service time of stores (a read or a write of one item) when nothing says otherwise.
pub const DEFAULT_STORE_SERVICE: &str = "exp(0.5ms)";
/// Keys of source tokens when nothing says otherwise.
pub const DEFAULT_KEYS: u32 = 1000;

/// Why a diagram cannot be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LowerError {
    #[error("{0}")]
    Profile(#[from] ProfileError),
    #[error("{0}")]
    Diagram(String),
}

/// Options from the command line that shape the network.
#[derive(Debug, Clone, Default)]
pub struct LowerOptions {
    /// Infer lane fan-out from edge labels (`--no-infer` turns it off).
    pub no_infer: bool,
    /// `--rate`: arrivals per second at every message source.
    pub rate: Option<f64>,
    pub hop_limit: Option<u32>,
}

/// The network and the account of how it was built.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub network: Network,
    /// Roles, inferences and the routing table, for `--explain`.
    pub explain: String,
    /// One line per inferred lane fan-out.
    pub inferences: Vec<String>,
    pub roles: Roles,
    pub architecture: Architecture,
    /// Every default the run uses that the profile could set, one line each.
    pub assumptions: Vec<String>,
}

/// Default share of each outcome of a decision that names a failure ("No", "401").
pub const DEFAULT_FAILURE_SHARE: f64 = 0.05;

/// How a token travels an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HopKind {
    Flow,
    Write,
    Reply,
    /// A store's way on to the next step of a read that passed through it.
    ReadOnly,
    /// A read into a store (the read goes on only by the store's read-only hops).
    ReadInto,
}

fn list_ids(ids: &[String]) -> String {
    if ids.len() > 12 {
        format!("{}, … ({} nodes)", ids[..12].join(", "), ids.len())
    } else {
        ids.join(", ")
    }
}

fn node_list(d: &Diagram) -> String {
    let ids: Vec<&str> = d.nodes().map(|(_, n)| n.id.as_str()).collect();
    if ids.len() > 30 {
        format!("{}, … ({} nodes)", ids[..30].join(", "), ids.len())
    } else {
        ids.join(", ")
    }
}

/// Lower a diagram (already checked free of errors) with its profile.
pub fn lower(d: &Diagram, profile: &Profile, opts: &LowerOptions) -> Result<Lowered, LowerError> {
    let n = d.node_count();
    let find = |id: &str, span: &super::profile::Span, what: &str| -> Result<NodeIx, LowerError> {
        d.node_index(id).ok_or_else(|| {
            LowerError::Profile(profile.error_at(
                span,
                format!(
                    "{what}: no node `{id}` in the diagram; its nodes are {}",
                    node_list(d)
                ),
            ))
        })
    };
    for (id, _, span) in &profile.roles {
        find(id, span, "[roles]")?;
    }
    let mut overrides = Overrides::default();
    for (id, role) in profile.role_overrides() {
        overrides.nodes.insert(id, role.component());
    }
    for (key, value, span) in &profile.components {
        overrides.add(d, key, value).map_err(|e| {
            LowerError::Profile(profile.error_at(
                span,
                match e {
                    OverrideError::UnknownKey { .. } => {
                        format!("[components] {e}; its nodes are {}", node_list(d))
                    }
                    other => format!("[components] {other}"),
                },
            ))
        })?;
    }
    let arch = Architecture::infer(
        d,
        &overrides,
        InferOptions {
            lane_fanout: !opts.no_infer,
        },
    );
    let roles = Roles::from_architecture(d, &arch);
    let role = |ix: NodeIx| roles.role(ix);

    // Hops by interaction: flow, writes, replies, forward reads; reads a station makes of a
    // store it then returns from are not hops but `reads`.
    let mut out: Vec<Vec<(NodeIx, HopKind)>> = vec![Vec::new(); n];
    let mut has_in = vec![false; n];
    let mut read_edges = Vec::new();
    for (e, s, t, _) in d.edges() {
        let kind = match arch.interaction(e) {
            Interaction::Read if arch.component(s).is_store() => {
                if arch.read_is_forward(d, e) {
                    HopKind::ReadOnly
                } else {
                    read_edges.push((s, t));
                    continue;
                }
            }
            Interaction::Write | Interaction::Replicate => HopKind::Write,
            Interaction::Read => HopKind::ReadInto,
            Interaction::Reply => HopKind::Reply,
            _ => HopKind::Flow,
        };
        out[s.index()].push((t, kind));
        has_in[t.index()] = true;
    }
    let mut inferences = Vec::new();
    for ie in &arch.implied {
        out[ie.from.index()].push((ie.to, HopKind::Flow));
        has_in[ie.to.index()] = true;
        inferences.push(ie.reason.clone());
    }
    let mut reads_of = vec![Vec::new(); n];
    for (store, reader) in &read_edges {
        reads_of[reader.index()].push(store.index() as u32);
    }

    // Per-node profile entries.
    let mut node_prof = vec![None; n];
    for np in &profile.nodes {
        let ix = find(&np.node, &np.span, &format!("[node.{}]", np.node))?;
        node_prof[ix.index()] = Some(np);
    }
    let default_service = match &profile.defaults.service {
        Some(s) => s.clone(),
        None => Dist::parse(DEFAULT_SERVICE).map_err(|e| LowerError::Diagram(e.0))?,
    };

    let mut assumptions: Vec<String> = Vec::new();
    let mut stations = Vec::with_capacity(n);
    let mut default_service_at = Vec::new();
    let mut default_store_at = Vec::new();
    let store_service = Dist::parse(DEFAULT_STORE_SERVICE).map_err(|e| LowerError::Diagram(e.0))?;
    for (ix, node) in d.nodes() {
        let np = node_prof[ix.index()];
        if matches!(node.shape, Shape::Rectangle | Shape::Taskbox)
            && np.and_then(|p| p.service.as_ref()).is_none()
        {
            if arch.component(ix).is_store() && profile.defaults.service.is_none() {
                default_store_at.push(node.id.clone());
            } else {
                default_service_at.push(node.id.clone());
            }
        }
        let is_store = arch.component(ix).is_store();
        let mut service = match node.shape {
            Shape::Circle | Shape::Diamond => Dist::ZERO,
            Shape::Rectangle | Shape::Taskbox if is_store && profile.defaults.service.is_none() => {
                store_service.clone()
            }
            Shape::Rectangle | Shape::Taskbox => default_service.clone(),
        };
        if let Some(s) = np.and_then(|p| p.service.clone()) {
            service = s;
        }
        let mut st = Station::new(node.id.clone(), service);
        st.label = node.display().to_string();
        st.servers = np
            .and_then(|p| p.servers)
            .or(profile.defaults.servers)
            .unwrap_or(1);
        st.capacity = np.and_then(|p| p.queue).or(profile.defaults.queue);
        st.batch = np.and_then(|p| {
            p.batch.map(|max| crate::sim::network::Batch {
                max,
                per_item: p.per_item.clone().unwrap_or(Dist::ZERO),
                per_key: p.per_key.clone().unwrap_or(Dist::ZERO),
                interval: p.interval.clone().unwrap_or(Dist::ZERO),
            })
        });
        st.on_host = np.and_then(|p| p.host).unwrap_or(true);
        st.weight = 1.25f64.powi(-np.and_then(|p| p.nice).unwrap_or(0));
        st.read_service = np.and_then(|p| p.read.clone());
        st.wakeup = np.and_then(|p| p.wakeup.clone()).filter(|w| !w.is_zero());
        st.lane = node.lane as u32;
        st.reads = reads_of[ix.index()].clone();
        let succ = &out[ix.index()];
        let hops: Vec<Hop> = succ
            .iter()
            .map(|(t, k)| Hop {
                write: *k == HopKind::Write,
                read_only: *k == HopKind::ReadOnly,
                reply: *k == HopKind::Reply,
                read: *k == HopKind::ReadInto,
                ..Hop::new(t.index() as u32)
            })
            .collect();
        let branch = np.and_then(|p| p.branch.as_ref());
        st.routing = if hops.is_empty() {
            if let (Some(_), Some(p)) = (branch, np) {
                return Err(profile
                    .error_at(
                        &p.span,
                        format!(
                            "[node.{}] branch: {} has no outgoing edge",
                            node.id, node.id
                        ),
                    )
                    .into());
            }
            Routing::Sink
        } else if arch.chooses(d, ix) {
            let mut probs: Vec<Option<f64>> = vec![None; hops.len()];
            if let Some(b) = branch {
                for (to, p, span) in b {
                    let targets: Vec<&str> =
                        succ.iter().map(|(t, _)| d.node(*t).id.as_str()).collect();
                    let Some(k) = targets.iter().position(|t| t == to) else {
                        return Err(profile
                            .error_at(span, format!("[node.{}] branch: `{to}` is not a target of {}; its targets are {}", node.id, node.id, targets.join(", ")))
                            .into());
                    };
                    // Several edges to the same target share its probability.
                    let same: Vec<usize> = (0..hops.len())
                        .filter(|&i| targets[i] == targets[k])
                        .collect();
                    for i in &same {
                        probs[*i] = Some(p / same.len() as f64);
                    }
                }
            }
            let given: f64 = probs.iter().flatten().sum();
            let unset = probs.iter().filter(|p| p.is_none()).count();
            // Unset outcomes that name a failure ("No", "401", "Duplicate") get a small share
            // each, the others split the rest.
            let outcomes = arch.outcomes(d, ix);
            let failure = |i: usize| -> Option<String> {
                let t = succ[i].0;
                outcomes
                    .iter()
                    .find(|o| o.to == t)
                    .and_then(|o| o.failure.clone())
            };
            let unset_fail: Vec<usize> = (0..hops.len())
                .filter(|&i| probs[i].is_none() && failure(i).is_some())
                .collect();
            let rest = (1.0 - given).max(0.0);
            let fail_share = if unset_fail.len() < unset {
                (DEFAULT_FAILURE_SHARE * rest).min(rest * 0.5 / unset_fail.len().max(1) as f64)
            } else {
                rest / unset.max(1) as f64
            };
            let others = unset - unset_fail.len();
            let share = if others > 0 {
                ((rest - fail_share * unset_fail.len() as f64) / others as f64).max(0.0)
            } else {
                0.0
            };
            let mut cum = Vec::with_capacity(hops.len());
            let mut acc = 0.0;
            let mut assumed = Vec::new();
            for (i, p) in probs.iter().enumerate() {
                let v = match p {
                    Some(v) => *v,
                    None if unset_fail.contains(&i) => fail_share,
                    None => share,
                };
                if p.is_none() {
                    let why = match failure(i) {
                        Some(k) if unset_fail.len() < unset => format!(" (a failure outcome: {k})"),
                        _ => String::new(),
                    };
                    assumed.push(format!("{} p={v:.3}{why}", d.node(succ[i].0).id));
                }
                acc += v;
                cum.push(acc);
            }
            if !assumed.is_empty() {
                assumptions.push(format!(
                    "{} {} \"{}\": no [node.{}] branch for {}; assumed {}",
                    if node.shape == Shape::Diamond {
                        "decision"
                    } else {
                        "router"
                    },
                    node.id,
                    node.display(),
                    node.id,
                    if branch.is_some() {
                        "some outcomes"
                    } else {
                        "any outcome"
                    },
                    assumed.join(", ")
                ));
            }
            Routing::Choose { cum, hops }
        } else {
            if let (Some(_), Some(p)) = (branch, np) {
                return Err(profile
                    .error_at(&p.span, format!("[node.{}] branch: only diamonds choose a branch; {} is a {} and sends a copy down every edge", node.id, node.id, node.shape.as_str()))
                    .into());
            }
            Routing::All(hops)
        };
        stations.push(st);
    }

    // Edge delays.
    for ep in &profile.edges {
        let s = find(
            &ep.from,
            &ep.span,
            &format!("[edge.\"{}->{}\"]", ep.from, ep.to),
        )?;
        let t = find(
            &ep.to,
            &ep.span,
            &format!("[edge.\"{}->{}\"]", ep.from, ep.to),
        )?;
        let st = &mut stations[s.index()];
        let hops = match &mut st.routing {
            Routing::All(h) | Routing::Choose { hops: h, .. } => h,
            Routing::Sink => {
                return Err(profile
                    .error_at(
                        &ep.span,
                        format!(
                            "[edge.\"{}->{}\"]: {} has no outgoing edge",
                            ep.from, ep.to, ep.from
                        ),
                    )
                    .into())
            }
        };
        let mut hit = false;
        for h in hops.iter_mut().filter(|h| h.to == t.index() as u32) {
            h.delay = ep.delay.clone();
            hit = true;
        }
        if !hit {
            let targets: Vec<String> = hops
                .iter()
                .map(|h| format!("\"{}->{}\"", ep.from, d.node(NodeIx::new(h.to as usize)).id))
                .collect();
            return Err(profile
                .error_at(
                    &ep.span,
                    format!(
                        "[edge.\"{}->{}\"]: no such edge; edges from {} are {}",
                        ep.from,
                        ep.to,
                        ep.from,
                        targets.join(", ")
                    ),
                )
                .into());
        }
    }

    // Loops.
    for lp in &profile.loops {
        let Some(l) = d.loops.get(lp.index - 1) else {
            return Err(profile
                .error_at(
                    &lp.span,
                    format!(
                        "[loop.{}]: the diagram declares {} loop{}",
                        lp.index,
                        d.loops.len(),
                        if d.loops.len() == 1 { "" } else { "s" }
                    ),
                )
                .into());
        };
        if let (Some(first), Some(last)) = (l.nodes.first(), l.nodes.last()) {
            if lp.repeat > 0.0 && lp.max > 0 {
                stations[last.index()].loop_back = Some(LoopBack {
                    to: first.index() as u32,
                    p: lp.repeat,
                    max: lp.max,
                });
            }
        }
    }

    // Sources.
    let mut sources = Vec::new();
    let mut source_nodes = BTreeSet::new();
    for sp in &profile.sources {
        let ix = find(&sp.node, &sp.span, &format!("[source.{}]", sp.node))?;
        source_nodes.insert(ix);
    }
    for (ix, node) in d.nodes() {
        if node.shape == Shape::Circle && !has_in[ix.index()] && role(ix) != Some(Role::QueryApi) {
            source_nodes.insert(ix);
        }
    }
    let arrivals = profile.run.arrivals.unwrap_or(Arrivals::Poisson);
    let unrated = source_nodes
        .iter()
        .filter(|ix| {
            !profile.sources.iter().any(|s| {
                d.node_index(&s.node) == Some(**ix)
                    && (s.rate.is_some() || s.interarrival.is_some() || s.users.is_some())
            })
        })
        .count();
    for ix in &source_nodes {
        let sp = profile
            .sources
            .iter()
            .find(|s| d.node_index(&s.node) == Some(*ix));
        let interarrival = match (
            opts.rate,
            sp.and_then(|s| s.interarrival.clone()),
            sp.and_then(|s| s.rate),
        ) {
            (Some(r), _, _) => rate_dist(r, arrivals),
            (None, Some(ia), _) => ia,
            (None, None, Some(r)) => rate_dist(r, arrivals),
            (None, None, None) => match profile.defaults.rate {
                Some(r) => rate_dist(r, arrivals),
                // The default load is shared by the entry points that have no rate of their
                // own, so that two entries meeting at one store do not double it.
                None => rate_dist(DEFAULT_RATE / unrated.max(1) as f64, arrivals),
            },
        };
        let closed = sp.and_then(|s| s.users).map(|users| ClosedLoop {
            users,
            think: sp.and_then(|s| s.think.clone()).unwrap_or(Dist::ZERO),
        });
        if closed.is_none() && interarrival.is_zero() {
            continue; // rate 0: no arrivals
        }
        match (&closed, sp) {
            (Some(c), _) => {
                if sp.and_then(|s| s.think.as_ref()).is_none() {
                    assumptions.push(format!(
                        "source {}: {} users with no think time (set [source.{}] think)",
                        d.node(*ix).id,
                        c.users,
                        d.node(*ix).id
                    ));
                }
            }
            (None, Some(s)) if s.rate.is_some() || s.interarrival.is_some() || opts.rate.is_some() => {}
            (None, _) if opts.rate.is_some() => {}
            (None, _) => assumptions.push(format!(
                "source {} \"{}\": {} arrivals at {:.0}/s (the default {DEFAULT_RATE}/s shared by the entry points without a rate; set [source.{}] rate, or users and think for a closed loop)",
                d.node(*ix).id,
                d.node(*ix).display(),
                if arrivals == Arrivals::Paced { "paced" } else { "Poisson" },
                1e9 / interarrival.mean_ns(),
                d.node(*ix).id
            )),
        }
        let key = sp
            .and_then(|s| s.key.clone())
            .unwrap_or(KeyDist::Uniform(DEFAULT_KEYS));
        sources.push(Source {
            station: ix.index() as u32,
            interarrival,
            key,
            reads: None,
            closed,
            lane_outcomes: false,
        });
    }
    if !default_service_at.is_empty() {
        assumptions.push(format!(
            "service time {} at {} (the default; set [node.ID] service or [defaults] service)",
            default_service,
            list_ids(&default_service_at)
        ));
    }
    if !default_store_at.is_empty() {
        assumptions.push(format!(
            "service time {} at stores {} (the stores' default; set [node.ID] service or [defaults] service)",
            store_service,
            list_ids(&default_store_at)
        ));
    }
    let one_server: Vec<String> = d
        .nodes()
        .filter(|(ix, n)| {
            matches!(n.shape, Shape::Rectangle | Shape::Taskbox)
                && node_prof[ix.index()].and_then(|p| p.servers).is_none()
                && profile.defaults.servers.is_none()
        })
        .map(|(_, n)| n.id.clone())
        .collect();
    if !one_server.is_empty() {
        assumptions.push(format!(
            "1 server at {} (the default; set [node.ID] servers or [defaults] servers)",
            list_ids(&one_server)
        ));
    }

    // Fork-join.
    for (f, j, _) in &arch.joins {
        stations[f.index()].fork_join = Some(j.index() as u32);
        let timeout = node_prof[j.index()].and_then(|p| p.join_timeout.clone());
        stations[j.index()].join = Some(JoinSpec { timeout });
    }
    for np in &profile.nodes {
        if np.join_timeout.is_some() {
            let ix = find(&np.node, &np.span, &format!("[node.{}]", np.node))?;
            if stations[ix.index()].join.is_none() {
                return Err(profile
                    .error_at(
                        &np.span,
                        format!(
                            "[node.{}] join_timeout: {} gathers no fan-out (joins: {})",
                            np.node,
                            np.node,
                            if arch.joins.is_empty() {
                                "none".to_string()
                            } else {
                                arch.joins
                                    .iter()
                                    .map(|(_, j, _)| d.node(*j).id.clone())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    )
                    .into());
            }
        }
    }
    if sources.is_empty() {
        return Err(LowerError::Diagram(
            "nothing to simulate: the diagram has no entry circle (a circle with no incoming edge) and the profile names no [source.ID] with a rate above 0".into(),
        ));
    }

    // CQRS lens: a commit (a write store, else the publish step) and read models after it.
    let mut commits = roles.nodes_with(Role::WriteCommit);
    if commits.is_empty() {
        commits = roles.nodes_with(Role::EventPublisher);
    }
    // A write store that another commit's events reach through messaging is a replica of
    // that commit (database per service): its lag is measured, it commits nothing new.
    let mut views: Vec<NodeIx> = roles.views().iter().map(|(v, _)| *v).collect();
    let replicas = replicas_of(d, &arch, &commits);
    let mut replica_notes = Vec::new();
    commits.retain(|c| {
        if replicas.contains(c) {
            views.push(*c);
            replica_notes.push(d.node(*c).id.clone());
            false
        } else {
            true
        }
    });
    views.sort();
    if !replica_notes.is_empty() {
        assumptions.push(format!(
            "{} reached from another commit through messaging: replicated, so lag is measured there (set [components] to change)",
            replica_notes.join(", ")
        ));
    }
    let cqrs = !commits.is_empty() && !views.is_empty();
    let mut cqrs_spec = None;
    if cqrs {
        let lens = if !roles.nodes_with(Role::Projector).is_empty()
            || !roles.nodes_with(Role::QueryApi).is_empty()
        {
            "CQRS"
        } else {
            "replication"
        };
        let mut spec = CqrsSpec {
            lens: lens.into(),
            ..CqrsSpec::default()
        };
        for (ix, _) in d.nodes() {
            if matches!(arch.component(ix), Component::Notification(_)) {
                stations[ix.index()].role = SimRole::Notify;
                spec.notify.push(ix.index() as u32);
            }
        }
        for (k, v) in views.iter().enumerate() {
            stations[v.index()].role = SimRole::View(k as u16);
            spec.views.push((v.index() as u32, d.node(*v).id.clone()));
        }
        for c in commits {
            stations[c.index()].role = SimRole::Commit;
            spec.commits.push(c.index() as u32);
        }
        for q in roles.nodes_with(Role::QueryApi) {
            stations[q.index()].role = SimRole::QueryApi;
            spec.query_apis.push(q.index() as u32);
        }
        for o in roles.nodes_with(Role::Ordering) {
            spec.ordering.push(d.node(o).id.clone());
            // Downstream of an ordering step, each station serves a key one token at a time.
            let mut seen = vec![false; n];
            let mut stack: Vec<NodeIx> = out[o.index()].iter().map(|(t, _)| *t).collect();
            while let Some(x) = stack.pop() {
                if std::mem::replace(&mut seen[x.index()], true) {
                    continue;
                }
                if stations[x.index()].servers > 1 {
                    stations[x.index()].keyed = true;
                }
                stack.extend(out[x.index()].iter().map(|(t, _)| *t));
            }
        }
        if let Some(r) = &profile.reads {
            if r.rate > 0.0 {
                let Some(&qa) = spec.query_apis.first() else {
                    return Err(profile.error_at(&r.span, "[reads]: the diagram has no query API node to read from (label one \"Query API\" or set it in [roles])").into());
                };
                let qix = NodeIx::new(qa as usize);
                let views: Vec<u16> = match &r.views {
                    Some(list) => {
                        let mut v = Vec::new();
                        for (id, span) in list {
                            let ix = find(id, span, "[reads] views")?;
                            let k = spec
                                .views
                                .iter()
                                .position(|(s, _)| *s == ix.index() as u32)
                                .ok_or_else(|| {
                                    let names: Vec<&str> =
                                        spec.views.iter().map(|(_, s)| s.as_str()).collect();
                                    LowerError::Profile(profile.error_at(
                                        span,
                                        format!(
                                            "[reads] views: `{id}` is not a view; the views are {}",
                                            names.join(", ")
                                        ),
                                    ))
                                })?;
                            v.push(k as u16);
                        }
                        v
                    }
                    None => {
                        let feeding: Vec<u16> = spec
                            .views
                            .iter()
                            .enumerate()
                            .filter(|(_, (s, _))| {
                                read_edges
                                    .iter()
                                    .any(|(v, q)| v.index() as u32 == *s && *q == qix)
                            })
                            .map(|(k, _)| k as u16)
                            .collect();
                        if feeding.is_empty() {
                            (0..spec.views.len() as u16).collect()
                        } else {
                            feeding
                        }
                    }
                };
                sources.push(Source {
                    station: qa,
                    interarrival: rate_dist(r.rate, arrivals),
                    key: KeyDist::Unique,
                    reads: Some(views),
                    closed: None,
                    lane_outcomes: false,
                });
            }
        }
        cqrs_spec = Some(spec);
    } else if let Some(r) = &profile.reads {
        if r.rate > 0.0 {
            let missing = roles.missing_for_cqrs().join("; ");
            return Err(profile
                .error_at(
                    &r.span,
                    format!(
                        "[reads]: the CQRS lens does not apply to this diagram; it lacks {missing}"
                    ),
                )
                .into());
        }
    }

    // A source's requests are answered in its own lane when the lane has a sink (besides the
    // source) or a reply enters it.
    for src in &mut sources {
        let lane = stations[src.station as usize].lane;
        let sink_here = stations
            .iter()
            .enumerate()
            .any(|(i, st)| i as u32 != src.station && st.lane == lane && st.is_sink());
        let reply_here = stations.iter().any(|st| match &st.routing {
            Routing::All(h) | Routing::Choose { hops: h, .. } => h
                .iter()
                .any(|h| h.reply && stations[h.to as usize].lane == lane),
            Routing::Sink => false,
        });
        src.lane_outcomes = sink_here || reply_here;
    }
    let mut network = Network::new(stations, sources);
    network.host_cores = profile.host.cores;
    if let (Some(span), None) = (&profile.host.client_span, profile.host.cores) {
        return Err(LowerError::Profile(profile.error_at(
            span,
            "[host] client and client_wakeup need cores: the clients' CPU is a share of the host's cores (give [host] cores = N)",
        )));
    }
    network.host_client = profile.host.client.clone();
    network.host_client_wakeup = profile.host.client_wakeup.clone();
    network.transport = profile.host.transport.clone().filter(|d| d.mean_ns() > 0.0);
    network.host_client_threads = profile.host.client_threads;
    network.hop_limit = opts
        .hop_limit
        .or(profile.run.hop_limit)
        .unwrap_or(network.hop_limit);
    network.cqrs = cqrs_spec;
    check_cycles(d, &network)?;

    // Stations no source reaches: say so, they are idle in this run.
    let mut reached = vec![false; network.stations.len()];
    let mut stack: Vec<u32> = network.sources.iter().map(|s| s.station).collect();
    while let Some(x) = stack.pop() {
        if std::mem::replace(&mut reached[x as usize], true) {
            continue;
        }
        let st = &network.stations[x as usize];
        stack.extend(st.reads.iter().copied());
        if let Some(lb) = &st.loop_back {
            stack.push(lb.to);
        }
        match &st.routing {
            Routing::All(h) | Routing::Choose { hops: h, .. } => {
                stack.extend(h.iter().map(|h| h.to))
            }
            Routing::Sink => {}
        }
    }
    let idle: Vec<String> = network
        .stations
        .iter()
        .zip(&reached)
        .filter(|(st, r)| !**r && !st.service.is_zero())
        .map(|(st, _)| st.id.clone())
        .collect();
    if !idle.is_empty() {
        assumptions.push(format!(
            "no traffic reaches {} (nothing in the diagram sends work there; give one a [source.ID] rate to load it)",
            list_ids(&idle)
        ));
    }
    let explain = explain(d, &arch, &roles, &network, &read_edges, cqrs, &assumptions);
    Ok(Lowered {
        network,
        explain,
        inferences,
        roles,
        architecture: arch,
        assumptions,
    })
}

/// Write stores reached from one of `commits` along the flow after an asynchronous message.
fn replicas_of(d: &Diagram, arch: &Architecture, commits: &[NodeIx]) -> Vec<NodeIx> {
    let n = d.node_count();
    // seen[i][async passed]
    let mut seen = vec![[false; 2]; n];
    let mut stack: Vec<(NodeIx, bool)> = commits.iter().map(|c| (*c, false)).collect();
    let mut out = Vec::new();
    while let Some((x, passed)) = stack.pop() {
        if std::mem::replace(&mut seen[x.index()][passed as usize], true) {
            continue;
        }
        if passed && arch.component(x).is_write_store() && !out.contains(&x) {
            out.push(x);
        }
        for (e, y, _) in d.successors(x) {
            if !arch.carries_flow(d, e) {
                continue;
            }
            let p = passed || arch.interaction(e) == Interaction::Message;
            stack.push((y, p));
        }
    }
    out.sort();
    out
}

/// The gaps between arrivals at `rate` per second: exponential (Poisson arrivals), or
/// every gap the same where the load is paced.
fn rate_dist(rate: f64, arrivals: Arrivals) -> Dist {
    if rate <= 0.0 {
        Dist::ZERO
    } else if arrivals == Arrivals::Paced {
        Dist::Const((1e9 / rate).round().max(1.0) as u64)
    } else {
        Dist::Exp { mean: 1e9 / rate }
    }
}

/// Reject cycles that never let tokens out (or multiply them): the routing matrix restricted to
/// the cycle's nodes must have spectral radius below 1.
fn check_cycles(d: &Diagram, net: &Network) -> Result<(), LowerError> {
    let n = net.stations.len();
    // Edges of the lowered network, weighted by expected copies.
    let mut w: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (i, st) in net.stations.iter().enumerate() {
        match &st.routing {
            Routing::Sink => {}
            Routing::All(h) => w[i].extend(h.iter().map(|h| (h.to as usize, 1.0))),
            Routing::Choose { cum, hops } => {
                let mut prev = 0.0;
                for (c, h) in cum.iter().zip(hops) {
                    w[i].push((h.to as usize, c - prev));
                    prev = *c;
                }
            }
        }
    }
    let mut g = petgraph::graph::DiGraph::<(), ()>::new();
    let ix: Vec<_> = (0..n).map(|_| g.add_node(())).collect();
    for (i, out) in w.iter().enumerate() {
        for (t, p) in out {
            if *p > 0.0 {
                g.add_edge(ix[i], ix[*t], ());
            }
        }
    }
    let mut sccs = petgraph::algo::kosaraju_scc(&g);
    for c in &mut sccs {
        c.sort();
    }
    sccs.sort();
    // Component and position of every node, for O(1) membership tests.
    let mut comp_of = vec![0usize; n];
    let mut idx_in = vec![0usize; n];
    for (cid, comp) in sccs.iter().enumerate() {
        for (k, x) in comp.iter().enumerate() {
            comp_of[x.index()] = cid;
            idx_in[x.index()] = k;
        }
    }
    for (cid, comp) in sccs.iter().enumerate() {
        let members: Vec<usize> = comp.iter().map(|x| x.index()).collect();
        let cyclic = members.len() > 1
            || w[members[0]]
                .iter()
                .any(|(t, p)| *t == members[0] && *p > 0.0);
        if !cyclic {
            continue;
        }
        let pos = |x: usize| (comp_of[x] == cid).then(|| idx_in[x]);
        // Power iteration on the restricted matrix.
        let mut v = vec![1.0f64; members.len()];
        let mut growth = 0.0;
        for _ in 0..200 {
            let mut nv = vec![0.0; members.len()];
            for (a, &m) in members.iter().enumerate() {
                for (t, p) in &w[m] {
                    if let Some(b) = pos(*t) {
                        nv[b] += v[a] * p;
                    }
                }
            }
            let norm: f64 = nv.iter().sum();
            let old: f64 = v.iter().sum();
            growth = if old > 0.0 { norm / old } else { 0.0 };
            if norm == 0.0 {
                break;
            }
            v = nv.iter().map(|x| x / norm * members.len() as f64).collect();
        }
        if growth >= 1.0 - 1e-9 {
            let names: Vec<&str> = members
                .iter()
                .map(|&m| d.node(NodeIx::new(m)).id.as_str())
                .collect();
            let copies_out = members.iter().any(|&m| {
                matches!(net.stations[m].routing, Routing::All(ref h) if h.len() > 1 && h.iter().any(|h| pos(h.to as usize).is_none()))
            });
            let why = if growth > 1.0 + 1e-9 || copies_out {
                "multiplies tokens (a node in it sends a copy down every edge, and one comes back every time)"
            } else {
                "never lets a token out (no diamond in it offers a way out)"
            };
            return Err(LowerError::Diagram(format!(
                "the cycle {} -> {} {why}; add a diamond with an exit, or give its branch probabilities a way out in the profile",
                names.join(" -> "),
                names[0]
            )));
        }
    }
    Ok(())
}

fn explain(
    d: &Diagram,
    arch: &Architecture,
    roles: &Roles,
    net: &Network,
    reads: &[(NodeIx, NodeIx)],
    cqrs: bool,
    assumptions: &[String],
) -> String {
    let mut s = String::new();
    s.push_str(&arch.explain(d));
    let _ = writeln!(s, "Roles:");
    if roles.assigned.is_empty() {
        let _ = writeln!(s, "  (none detected)");
    }
    for a in &roles.assigned {
        let _ = writeln!(
            s,
            "  {:<6} {:<16} {}",
            d.node(a.node).id,
            a.role.as_str(),
            a.reason
        );
    }
    let _ = writeln!(
        s,
        "Lens: {}",
        match &net.cqrs {
            Some(c) if cqrs => format!("{} (commit, then lag per read model)", c.lens),
            _ => format!(
                "none (lacks a commit and a read model after it; CQRS needs {})",
                roles.missing_for_cqrs().join("; ")
            ),
        }
    );
    let _ = writeln!(s, "Inferences:");
    if arch.implied.is_empty() && reads.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for i in &arch.implied {
        let _ = writeln!(s, "  lane fan-out: {}", i.reason);
    }
    for (v, q) in reads {
        let _ = writeln!(
            s,
            "  read edge: {} -> {} is a read: {} reads store {} before it serves, not message flow",
            d.node(*v).id,
            d.node(*q).id,
            d.node(*q).id,
            d.node(*v).id
        );
    }
    let _ = writeln!(s, "Assumptions (defaults the profile can set):");
    if assumptions.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for a in assumptions {
        let _ = writeln!(s, "  {a}");
    }
    let _ = writeln!(s, "Sources:");
    for src in &net.sources {
        let st = &net.stations[src.station as usize];
        let what = match &src.reads {
            Some(v) => {
                let names: Vec<&str> = v
                    .iter()
                    .filter_map(|k| {
                        net.cqrs
                            .as_ref()
                            .and_then(|c| c.views.get(*k as usize))
                            .map(|x| x.1.as_str())
                    })
                    .collect();
                format!("reads of {}", names.join(", "))
            }
            None => format!("keys {}", src.key),
        };
        let _ = writeln!(
            s,
            "  {:<6} interarrival {} ({:.1}/s), {what}",
            st.id,
            src.interarrival,
            1e9 / src.interarrival.mean_ns()
        );
    }
    let _ = writeln!(s, "Routing table:");
    for st in &net.stations {
        let name = |t: u32| net.stations[t as usize].id.clone();
        let delay = |h: &Hop| {
            if h.delay.is_zero() {
                String::new()
            } else {
                format!(" after {}", h.delay)
            }
        };
        let hop_kind = |h: &Hop| {
            if h.write {
                " (write)"
            } else if h.read {
                " (read)"
            } else if h.read_only {
                " (reads only)"
            } else if h.reply {
                " (reply)"
            } else {
                ""
            }
        };
        let route = match &st.routing {
            Routing::Sink => "sink (records end-to-end latency)".to_string(),
            Routing::All(h) if h.len() == 1 => {
                format!("-> {}{}{}", name(h[0].to), delay(&h[0]), hop_kind(&h[0]))
            }
            Routing::All(h) => format!(
                "copy to each of {}",
                h.iter()
                    .map(|h| format!("{}{}{}", name(h.to), delay(h), hop_kind(h)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Routing::Choose { cum, hops } => {
                let mut prev = 0.0;
                let parts: Vec<String> = cum
                    .iter()
                    .zip(hops)
                    .map(|(c, h)| {
                        let p = c - prev;
                        prev = *c;
                        format!("{} p={p:.3}{}", name(h.to), delay(h))
                    })
                    .collect();
                let rest = 1.0 - cum.last().copied().unwrap_or(0.0);
                let leave = if rest > 1e-9 {
                    format!(", leaves p={rest:.3}")
                } else {
                    String::new()
                };
                format!("one of {}{leave}", parts.join(", "))
            }
        };
        let mut extra = String::new();
        if let Some(lb) = &st.loop_back {
            let _ = write!(
                extra,
                "; loop back to {} p={} max {}",
                name(lb.to),
                lb.p,
                lb.max
            );
        }
        if st.keyed {
            extra.push_str("; one token per key in service (after an ordering step)");
        }
        match st.role {
            SimRole::Commit => extra.push_str("; commit"),
            SimRole::View(_) => extra.push_str("; view"),
            SimRole::QueryApi => extra.push_str("; query API"),
            SimRole::Notify => extra.push_str("; confirmation push"),
            SimRole::Plain => {}
        }
        if let Some(j) = st.fork_join {
            let _ = write!(extra, "; fork joined at {}", name(j));
        }
        if let Some(j) = &st.join {
            extra.push_str("; join: waits for every part of its fork");
            if let Some(t) = &j.timeout {
                let _ = write!(extra, " (timeout {t})");
            }
        }
        if !st.reads.is_empty() {
            let _ = write!(
                extra,
                "; reads {} first",
                st.reads
                    .iter()
                    .map(|r| name(*r))
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
        let cap = st
            .capacity
            .map(|c| format!(" queue {c}"))
            .unwrap_or_default();
        let mut svc = if st.service.is_zero() {
            "0".to_string()
        } else {
            st.service.to_string()
        };
        if let Some(b) = &st.batch {
            let _ = write!(
                svc,
                " per batch of up to {} + {} per item",
                b.max, b.per_item
            );
            if !b.per_key.is_zero() {
                let _ = write!(svc, " + {} per distinct key", b.per_key);
            }
            if !b.interval.is_zero() {
                let _ = write!(svc, ", resting {} after each batch", b.interval);
            }
        }
        let _ = writeln!(
            s,
            "  {:<6} servers {} service {}{cap}: {route}{extra}",
            st.id, st.servers, svc
        );
    }
    let _ = writeln!(s, "Hop limit: {} per token", net.hop_limit);
    s
}
