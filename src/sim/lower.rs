//! Lowering: a [`Diagram`] with a [`Profile`] and its CQRS [`Roles`] becomes the [`Network`]
//! the engine runs. Everything the simulator infers is recorded for `--explain`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::model::{Diagram, NodeIx, Role, Roles, Shape};

use super::dist::{Dist, KeyDist};
use super::network::{CqrsSpec, Hop, LoopBack, Network, Routing, SimRole, Source, Station};
use super::profile::{Profile, ProfileError};

/// Arrivals per second at each source when nothing says otherwise.
pub const DEFAULT_RATE: f64 = 500.0;
/// Service time of rectangles and taskboxes when nothing says otherwise.
pub const DEFAULT_SERVICE: &str = "exp(1ms)";
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
}

fn is_fanout_label(label: &str) -> bool {
    let l = label.to_lowercase();
    ["fan-out", "fanout", "fan out", "broadcast"]
        .iter()
        .any(|k| l.contains(k))
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
    let roles = Roles::detect(d, &profile.role_overrides());
    let cqrs = roles.is_cqrs();
    let role = |ix: NodeIx| roles.role(ix);

    // Message edges: every edge but reads (view -> query API) under the CQRS lens.
    let mut out: Vec<Vec<(NodeIx, Option<usize>)>> = vec![Vec::new(); n];
    let mut has_in = vec![false; n];
    let mut read_edges = Vec::new();
    for (e, s, t, _) in d.edges() {
        if cqrs && role(s).is_some_and(Role::is_view) && role(t) == Some(Role::QueryApi) {
            read_edges.push((s, t));
            continue;
        }
        out[s.index()].push((t, Some(e.index())));
        has_in[t.index()] = true;
    }
    let orig_has_in: Vec<bool> = (0..n)
        .map(|i| {
            d.graph
                .neighbors_directed(NodeIx::new(i), petgraph::Direction::Incoming)
                .next()
                .is_some()
        })
        .collect();

    // Lane fan-out inference.
    let mut inferences = Vec::new();
    if !opts.no_infer {
        for (_, s, t, edge) in d.edges() {
            let Some(label) = edge.label.as_deref() else {
                continue;
            };
            if !is_fanout_label(label) {
                continue;
            }
            let lane = d.node(t).lane;
            let mut added = Vec::new();
            for m in d.lane_nodes(lane) {
                if m == t || m == s || orig_has_in[m.index()] {
                    continue;
                }
                if out[s.index()].iter().any(|(x, _)| *x == m) {
                    continue;
                }
                out[s.index()].push((m, None));
                has_in[m.index()] = true;
                added.push(d.node(m).id.clone());
            }
            if !added.is_empty() {
                inferences.push(format!(
                    "{} -> {} is labelled \"{label}\" into lane {}: also delivers to {} (nodes of that lane with no incoming edge)",
                    d.node(s).id,
                    d.node(t).id,
                    d.lane_of(t).id,
                    added.join(", ")
                ));
            }
        }
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

    let mut stations = Vec::with_capacity(n);
    for (ix, node) in d.nodes() {
        let np = node_prof[ix.index()];
        let mut service = match node.shape {
            Shape::Circle | Shape::Diamond => Dist::ZERO,
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
        let succ = &out[ix.index()];
        let hops: Vec<Hop> = succ
            .iter()
            .map(|(t, _)| Hop::new(t.index() as u32))
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
        } else if node.shape == Shape::Diamond {
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
            let share = if unset > 0 {
                ((1.0 - given) / unset as f64).max(0.0)
            } else {
                0.0
            };
            let mut cum = Vec::with_capacity(hops.len());
            let mut acc = 0.0;
            for p in &probs {
                acc += p.unwrap_or(share);
                cum.push(acc);
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
        if node.shape == Shape::Circle
            && !has_in[ix.index()]
            && !(cqrs && role(ix) == Some(Role::QueryApi))
        {
            source_nodes.insert(ix);
        }
    }
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
            (Some(r), _, _) => rate_dist(r),
            (None, Some(ia), _) => ia,
            (None, None, Some(r)) => rate_dist(r),
            (None, None, None) => rate_dist(profile.defaults.rate.unwrap_or(DEFAULT_RATE)),
        };
        if interarrival.is_zero() {
            continue; // rate 0: no arrivals
        }
        let key = sp
            .and_then(|s| s.key.clone())
            .unwrap_or(KeyDist::Uniform(DEFAULT_KEYS));
        sources.push(Source {
            station: ix.index() as u32,
            interarrival,
            key,
            reads: None,
        });
    }
    if sources.is_empty() {
        return Err(LowerError::Diagram(
            "nothing to simulate: the diagram has no entry circle (a circle with no incoming edge) and the profile names no [source.ID] with a rate above 0".into(),
        ));
    }

    // CQRS lens.
    let mut cqrs_spec = None;
    if cqrs {
        let mut spec = CqrsSpec::default();
        for (k, (v, _)) in roles.views().iter().enumerate() {
            stations[v.index()].role = SimRole::View(k as u16);
            spec.views.push((v.index() as u32, d.node(*v).id.clone()));
        }
        for c in roles.nodes_with(Role::WriteCommit) {
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
                    interarrival: rate_dist(r.rate),
                    key: KeyDist::Unique,
                    reads: Some(views),
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

    let mut network = Network::new(stations, sources);
    network.hop_limit = opts
        .hop_limit
        .or(profile.run.hop_limit)
        .unwrap_or(network.hop_limit);
    network.cqrs = cqrs_spec;
    check_cycles(d, &network)?;

    let explain = explain(d, &roles, &network, &inferences, &read_edges, cqrs);
    Ok(Lowered {
        network,
        explain,
        inferences,
        roles,
    })
}

fn rate_dist(rate: f64) -> Dist {
    if rate <= 0.0 {
        Dist::ZERO
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
    roles: &Roles,
    net: &Network,
    inferences: &[String],
    reads: &[(NodeIx, NodeIx)],
    cqrs: bool,
) -> String {
    let mut s = String::new();
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
        "CQRS lens: {}",
        if cqrs {
            "on".to_string()
        } else {
            format!("off (lacks {})", roles.missing_for_cqrs().join("; "))
        }
    );
    let _ = writeln!(s, "Inferences:");
    if inferences.is_empty() && reads.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for i in inferences {
        let _ = writeln!(s, "  lane fan-out: {i}");
    }
    for (v, q) in reads {
        let _ = writeln!(
            s,
            "  read edge: {} -> {} is a read (view into query API), not message flow",
            d.node(*v).id,
            d.node(*q).id
        );
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
        let route = match &st.routing {
            Routing::Sink => "sink (records end-to-end latency)".to_string(),
            Routing::All(h) if h.len() == 1 => format!("-> {}{}", name(h[0].to), delay(&h[0])),
            Routing::All(h) => format!(
                "copy to each of {}",
                h.iter()
                    .map(|h| format!("{}{}", name(h.to), delay(h)))
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
            SimRole::Plain => {}
        }
        let cap = st
            .capacity
            .map(|c| format!(" queue {c}"))
            .unwrap_or_default();
        let svc = if st.service.is_zero() {
            "0".to_string()
        } else {
            st.service.to_string()
        };
        let _ = writeln!(
            s,
            "  {:<6} servers {} service {}{cap}: {route}{extra}",
            st.id, st.servers, svc
        );
    }
    let _ = writeln!(s, "Hop limit: {} per token", net.hop_limit);
    s
}
