//! `fz diff`: a structural comparison of two diagrams: lanes, nodes, edges and loops added,
//! removed and changed.
//!
//! Lanes are matched by id. Nodes are matched by id and label first; then by label (same
//! lane and shape first, then anywhere; among nodes sharing a label, the one at the same
//! place first, then the k-th with the k-th); then, when ids were reissued (an old id is gone
//! and a new one appears, or a node matched by label changed id), by place: lane, index among
//! the lane's nodes, shape; what is left is matched by id, in the same lane, then anywhere.
//! Edges are matched through their matched end nodes (the k-th edge between a pair with the
//! k-th, preferring one with the same label and handles). Layout and comments are not
//! compared: two diagrams that `fz fmt` makes equal have no differences.

use std::collections::BTreeMap;
use std::fmt::Write;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::model::{Diagram, EdgeIx, Handle, NodeIx};

/// An old and a new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

fn change<T: PartialEq>(old: T, new: T) -> Option<Change<T>> {
    (old != new).then_some(Change { old, new })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changes<T, C> {
    pub added: Vec<T>,
    pub removed: Vec<T>,
    pub changed: Vec<C>,
}

impl<T, C> Default for Changes<T, C> {
    fn default() -> Self {
        Changes {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        }
    }
}

impl<T, C> Changes<T, C> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneInfo {
    pub id: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneChange {
    pub id: String,
    pub label: Change<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub id: String,
    pub lane: String,
    pub shape: &'static str,
    pub label: Option<String>,
    /// The other attributes, by key.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeChange {
    /// The node's id in the new diagram.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renumbered: Option<Change<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<Change<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<Change<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Change<Option<String>>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeInfo {
    /// 1-based position in source order (`e1`, `e2`, … in the JSON export).
    pub position: usize,
    pub from: String,
    pub to: String,
    pub source_handle: Option<&'static str>,
    pub target_handle: Option<&'static str>,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeChange {
    /// Ends, by their ids in the new diagram.
    pub from: String,
    pub to: String,
    pub position: Change<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Change<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_handle: Option<Change<Option<&'static str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_handle: Option<Change<Option<&'static str>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoopInfo {
    pub condition: String,
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoopChange {
    /// The condition in the new diagram.
    pub condition: String,
    /// The old condition, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_condition: Option<String>,
    /// Node ids (the old loop's translated to the new diagram's ids where matched), when
    /// they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Change<Vec<String>>>,
}

/// Everything that differs between two diagrams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagramDiff {
    pub equal: bool,
    pub lanes: Changes<LaneInfo, LaneChange>,
    /// The order of the lanes both diagrams have, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane_order: Option<Change<Vec<String>>>,
    pub nodes: Changes<NodeInfo, NodeChange>,
    pub edges: Changes<EdgeInfo, EdgeChange>,
    /// True when edges both diagrams have come in another relative order (the sequence view
    /// draws messages in edge order).
    pub edge_order_changed: bool,
    pub loops: Changes<LoopInfo, LoopChange>,
}

fn handle(h: Option<Handle>) -> Option<&'static str> {
    h.map(Handle::as_str)
}

fn node_info(d: &Diagram, ix: NodeIx) -> NodeInfo {
    let n = d.node(ix);
    NodeInfo {
        id: n.id.clone(),
        lane: d.lane_of(ix).id.clone(),
        shape: n.shape.as_str(),
        label: n.label().map(str::to_string),
        attributes: n
            .attributes
            .iter()
            .filter(|a| a.key != "label")
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect(),
    }
}

fn edge_info(d: &Diagram, ix: EdgeIx) -> EdgeInfo {
    let (s, t) = d.endpoints(ix);
    let e = d.edge(ix);
    EdgeInfo {
        position: e.ordinal + 1,
        from: d.node(s).id.clone(),
        to: d.node(t).id.clone(),
        source_handle: handle(e.source_handle),
        target_handle: handle(e.target_handle),
        label: e.label.clone(),
    }
}

/// The text that names a node for matching: its label, or a taskbox's description; `None`
/// when it has neither or it is empty (such nodes are matched by id and place only).
fn match_text(d: &Diagram, ix: NodeIx) -> Option<&str> {
    let n = d.node(ix);
    n.label()
        .or_else(|| n.attr("description"))
        .filter(|t| !t.is_empty())
}

/// Where a node stands: its lane, its index among the lane's nodes, its shape.
type Place = (String, usize, &'static str);

fn places(d: &Diagram) -> Vec<Place> {
    let mut seen = vec![0usize; d.lanes.len()];
    d.nodes()
        .map(|(_, n)| {
            let k = seen.get(n.lane).copied().unwrap_or(0);
            if let Some(c) = seen.get_mut(n.lane) {
                *c += 1;
            }
            let lane = d.lanes.get(n.lane).map(|l| l.id.clone());
            (lane.unwrap_or_default(), k, n.shape.as_str())
        })
        .collect()
}

/// Match nodes of `a` to nodes of `b`: `a` index → `b` index.
fn match_nodes(a: &Diagram, b: &Diagram) -> HashMap<NodeIx, NodeIx> {
    let mut fwd: HashMap<NodeIx, NodeIx> = HashMap::default();
    let mut taken: rustc_hash::FxHashSet<NodeIx> = Default::default();
    let (pa, pb) = (places(a), places(b));
    // Ids were handed out anew when an old id is gone and a new one appears: then an id
    // alone says little, and places count.
    let reissued = a.nodes().any(|(_, n)| b.node_index(&n.id).is_none())
        && b.nodes().any(|(_, n)| a.node_index(&n.id).is_none());
    // 1. Same id and same label (and, when ids were reissued, same place).
    for (ia, na) in a.nodes() {
        if let Some(ib) = b.node_index(&na.id) {
            let text = match_text(a, ia);
            if text.is_some()
                && text == match_text(b, ib)
                && (!reissued || pa[ia.index()] == pb[ib.index()])
            {
                fwd.insert(ia, ib);
                taken.insert(ib);
            }
        }
    }
    // 2. and 3. Same label, with the same lane and shape, then anywhere. Among nodes sharing
    // a label, one at the same place first, then the k-th with the k-th.
    for strict in [true, false] {
        type Key = (Option<String>, Option<&'static str>, String);
        let key = |d: &Diagram, ix: NodeIx| -> Option<Key> {
            let text = match_text(d, ix)?.to_string();
            Some(if strict {
                let shape = d.node(ix).shape.as_str();
                (Some(d.lane_of(ix).id.clone()), Some(shape), text)
            } else {
                (None, None, text)
            })
        };
        let mut pool: HashMap<Key, Vec<NodeIx>> = HashMap::default();
        for (ib, _) in b.nodes() {
            if !taken.contains(&ib) {
                if let Some(k) = key(b, ib) {
                    pool.entry(k).or_default().push(ib);
                }
            }
        }
        let wanting: Vec<(NodeIx, Key)> = a
            .nodes()
            .filter(|(ia, _)| !fwd.contains_key(ia))
            .filter_map(|(ia, _)| key(a, ia).map(|k| (ia, k)))
            .collect();
        for same_place in [true, false] {
            for (ia, k) in &wanting {
                if fwd.contains_key(ia) {
                    continue;
                }
                let Some(candidates) = pool.get_mut(k) else {
                    continue;
                };
                let found = if same_place {
                    candidates
                        .iter()
                        .position(|ib| pb[ib.index()] == pa[ia.index()])
                } else {
                    (!candidates.is_empty()).then_some(0)
                };
                if let Some(i) = found {
                    let ib = candidates.remove(i);
                    fwd.insert(*ia, ib);
                    taken.insert(ib);
                }
            }
        }
    }
    // Match by id (in the same lane only, or anywhere).
    let same_id = |fwd: &mut HashMap<NodeIx, NodeIx>,
                   taken: &mut rustc_hash::FxHashSet<NodeIx>,
                   same_lane: bool| {
        for (ia, na) in a.nodes() {
            if fwd.contains_key(&ia) {
                continue;
            }
            if let Some(ib) = b.node_index(&na.id) {
                if !taken.contains(&ib) && (!same_lane || a.lane_of(ia).id == b.lane_of(ib).id) {
                    fwd.insert(ia, ib);
                    taken.insert(ib);
                }
            }
        }
    };
    // 4. When ids were reissued, or a node matched by label changed id, an unmatched node is
    // matched to the unmatched node at the same place (lane, index among the lane's nodes,
    // shape).
    let renumbered = reissued || fwd.iter().any(|(&ia, &ib)| a.node(ia).id != b.node(ib).id);
    if renumbered {
        let mut free: HashMap<Place, NodeIx> = HashMap::default();
        for (ib, _) in b.nodes() {
            if !taken.contains(&ib) {
                free.insert(pb[ib.index()].clone(), ib);
            }
        }
        for (ia, _) in a.nodes() {
            if fwd.contains_key(&ia) {
                continue;
            }
            if let Some(ib) = free.remove(&pa[ia.index()]) {
                fwd.insert(ia, ib);
                taken.insert(ib);
            }
        }
    }
    // 5. Same id, in the same lane.
    same_id(&mut fwd, &mut taken, true);
    // 6. Same id, moved to another lane.
    same_id(&mut fwd, &mut taken, false);
    fwd
}

/// Compare two diagrams.
pub fn diff(a: &Diagram, b: &Diagram) -> DiagramDiff {
    let mut out = DiagramDiff {
        equal: false,
        lanes: Changes::default(),
        lane_order: None,
        nodes: Changes::default(),
        edges: Changes::default(),
        edge_order_changed: false,
        loops: Changes::default(),
    };
    lanes(a, b, &mut out);
    let nodes = match_nodes(a, b);
    node_changes(a, b, &nodes, &mut out);
    edges(a, b, &nodes, &mut out);
    loops(a, b, &nodes, &mut out);
    out.equal = out.lanes.is_empty()
        && out.lane_order.is_none()
        && out.nodes.is_empty()
        && out.edges.is_empty()
        && !out.edge_order_changed
        && out.loops.is_empty();
    out
}

fn lanes(a: &Diagram, b: &Diagram, out: &mut DiagramDiff) {
    let info = |l: &crate::model::Lane| LaneInfo {
        id: l.id.clone(),
        label: l.label.clone(),
    };
    for la in &a.lanes {
        match b.lane_index(&la.id).map(|ix| &b.lanes[ix]) {
            Some(lb) => {
                if let Some(label) = change(la.label.clone(), lb.label.clone()) {
                    out.lanes.changed.push(LaneChange {
                        id: la.id.clone(),
                        label,
                    });
                }
            }
            None => out.lanes.removed.push(info(la)),
        }
    }
    for lb in &b.lanes {
        if a.lane_index(&lb.id).is_none() {
            out.lanes.added.push(info(lb));
        }
    }
    let common = |x: &Diagram, y: &Diagram| -> Vec<String> {
        x.lanes
            .iter()
            .filter(|l| y.lane_index(&l.id).is_some())
            .map(|l| l.id.clone())
            .collect()
    };
    out.lane_order = change(common(a, b), common(b, a));
}

fn node_changes(a: &Diagram, b: &Diagram, nodes: &HashMap<NodeIx, NodeIx>, out: &mut DiagramDiff) {
    let mut matched_b = rustc_hash::FxHashSet::default();
    for (ia, _) in a.nodes() {
        let Some(&ib) = nodes.get(&ia) else {
            out.nodes.removed.push(node_info(a, ia));
            continue;
        };
        matched_b.insert(ib);
        let (x, y) = (node_info(a, ia), node_info(b, ib));
        let mut attributes = Vec::new();
        for (k, v) in &x.attributes {
            let new = y.attributes.get(k);
            if new != Some(v) {
                attributes.push(AttributeChange {
                    key: k.clone(),
                    old: Some(v.clone()),
                    new: new.cloned(),
                });
            }
        }
        for (k, v) in &y.attributes {
            if !x.attributes.contains_key(k) {
                attributes.push(AttributeChange {
                    key: k.clone(),
                    old: None,
                    new: Some(v.clone()),
                });
            }
        }
        let c = NodeChange {
            id: y.id.clone(),
            renumbered: change(x.id, y.id),
            lane: change(x.lane, y.lane),
            shape: change(x.shape, y.shape),
            label: change(x.label, y.label),
            attributes,
        };
        if c.renumbered.is_some()
            || c.lane.is_some()
            || c.shape.is_some()
            || c.label.is_some()
            || !c.attributes.is_empty()
        {
            out.nodes.changed.push(c);
        }
    }
    for (ib, _) in b.nodes() {
        if !matched_b.contains(&ib) {
            out.nodes.added.push(node_info(b, ib));
        }
    }
}

fn edges(a: &Diagram, b: &Diagram, nodes: &HashMap<NodeIx, NodeIx>, out: &mut DiagramDiff) {
    let mut pool: HashMap<(NodeIx, NodeIx), Vec<EdgeIx>> = HashMap::default();
    for (eb, s, t, _) in b.edges() {
        pool.entry((s, t)).or_default().push(eb);
    }
    let mut matched: Vec<(EdgeIx, EdgeIx)> = Vec::new();
    let mut taken = rustc_hash::FxHashSet::default();
    for (ea, s, t, e) in a.edges() {
        let ends = nodes.get(&s).zip(nodes.get(&t)).map(|(&s, &t)| (s, t));
        let candidates = ends.and_then(|k| pool.get(&k));
        let Some(candidates) = candidates else {
            out.edges.removed.push(edge_info(a, ea));
            continue;
        };
        let free = || candidates.iter().filter(|c| !taken.contains(*c));
        let same = |c: &&EdgeIx, handles: bool| {
            let f = b.edge(**c);
            f.label == e.label
                && (!handles
                    || (f.source_handle == e.source_handle && f.target_handle == e.target_handle))
        };
        let pick = free()
            .find(|c| same(c, true))
            .or_else(|| free().find(|c| same(c, false)))
            .or_else(|| free().next())
            .copied();
        match pick {
            Some(eb) => {
                taken.insert(eb);
                matched.push((ea, eb));
            }
            None => out.edges.removed.push(edge_info(a, ea)),
        }
    }
    for (eb, _, _, _) in b.edges() {
        if !taken.contains(&eb) {
            out.edges.added.push(edge_info(b, eb));
        }
    }
    let mut last = None;
    for &(ea, eb) in &matched {
        let (x, y) = (edge_info(a, ea), edge_info(b, eb));
        if last.is_some_and(|l| l > y.position) {
            out.edge_order_changed = true;
        }
        last = Some(y.position);
        let c = EdgeChange {
            from: y.from.clone(),
            to: y.to.clone(),
            position: Change {
                old: x.position,
                new: y.position,
            },
            label: change(x.label, y.label),
            source_handle: change(x.source_handle, y.source_handle),
            target_handle: change(x.target_handle, y.target_handle),
        };
        if c.label.is_some() || c.source_handle.is_some() || c.target_handle.is_some() {
            out.edges.changed.push(c);
        }
    }
}

fn loops(a: &Diagram, b: &Diagram, nodes: &HashMap<NodeIx, NodeIx>, out: &mut DiagramDiff) {
    let ids = |d: &Diagram, l: &crate::model::Loop| -> Vec<String> {
        l.nodes.iter().map(|&n| d.node(n).id.clone()).collect()
    };
    // The old loop's nodes named by their new ids where matched.
    let translated = |l: &crate::model::Loop| -> Vec<String> {
        l.nodes
            .iter()
            .map(|n| match nodes.get(n) {
                Some(&m) => b.node(m).id.clone(),
                None => a.node(*n).id.clone(),
            })
            .collect()
    };
    let new_ids: Vec<Vec<String>> = b.loops.iter().map(|l| ids(b, l)).collect();
    let mut taken = vec![false; b.loops.len()];
    let mut pending: Vec<(&crate::model::Loop, Vec<String>)> =
        a.loops.iter().map(|la| (la, translated(la))).collect();
    // Same condition and nodes; then same condition; then same nodes.
    for pass in 0..3 {
        let key = |condition: &str, nodes: &[String]| -> (String, Vec<String>) {
            match pass {
                0 => (condition.to_string(), nodes.to_vec()),
                1 => (condition.to_string(), Vec::new()),
                _ => (String::new(), nodes.to_vec()),
            }
        };
        let mut free: HashMap<(String, Vec<String>), std::collections::VecDeque<usize>> =
            HashMap::default();
        for (i, lb) in b.loops.iter().enumerate() {
            if !taken[i] && (pass < 2 || !new_ids[i].is_empty()) {
                free.entry(key(&lb.condition, &new_ids[i]))
                    .or_default()
                    .push_back(i);
            }
        }
        pending.retain(|(la, t)| {
            let Some(i) = free
                .get_mut(&key(&la.condition, t))
                .and_then(|q| q.pop_front())
            else {
                return true;
            };
            taken[i] = true;
            if pass > 0 {
                let lb = &b.loops[i];
                out.loops.changed.push(LoopChange {
                    condition: lb.condition.clone(),
                    old_condition: (lb.condition != la.condition).then(|| la.condition.clone()),
                    nodes: change(t.clone(), new_ids[i].clone()),
                });
            }
            false
        });
    }
    for (la, _) in pending {
        out.loops.removed.push(LoopInfo {
            condition: la.condition.clone(),
            nodes: ids(a, la),
        });
    }
    for (i, lb) in b.loops.iter().enumerate() {
        if !taken[i] {
            out.loops.added.push(LoopInfo {
                condition: lb.condition.clone(),
                nodes: new_ids[i].clone(),
            });
        }
    }
}

fn q(s: &Option<String>) -> String {
    match s {
        Some(s) => format!("{s:?}"),
        None => "(none)".to_string(),
    }
}

fn h(s: &Option<&'static str>) -> &'static str {
    s.unwrap_or("(none)")
}

fn edge_text(e: &EdgeInfo) -> String {
    let mut s = String::new();
    let end = |s: &mut String, id: &str, h: Option<&str>| {
        s.push_str(id);
        if let Some(h) = h {
            let _ = write!(s, ".handle({h})");
        }
    };
    end(&mut s, &e.from, e.source_handle);
    s.push_str(" -> ");
    end(&mut s, &e.to, e.target_handle);
    if let Some(l) = &e.label {
        let _ = write!(s, " [label={l:?}]");
    }
    let _ = write!(s, " (edge {})", e.position);
    s
}

fn node_text(n: &NodeInfo) -> String {
    let mut s = format!("{} in {}: {}", n.id, n.lane, n.shape);
    if let Some(l) = &n.label {
        let _ = write!(s, " {l:?}");
    }
    for (k, v) in &n.attributes {
        let _ = write!(s, " {k}:{v:?}");
    }
    s
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

impl DiagramDiff {
    /// The diff for people: one line a difference, grouped by lanes, nodes, edges, loops.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        if self.equal {
            o.push_str("no structural differences\n");
            return o;
        }
        if !self.lanes.is_empty() || self.lane_order.is_some() {
            o.push_str("lanes:\n");
            for l in &self.lanes.added {
                let _ = writeln!(o, "  + {} {}", l.id, q(&l.label));
            }
            for l in &self.lanes.removed {
                let _ = writeln!(o, "  - {} {}", l.id, q(&l.label));
            }
            for l in &self.lanes.changed {
                let _ = writeln!(
                    o,
                    "  ~ {}: label {} → {}",
                    l.id,
                    q(&l.label.old),
                    q(&l.label.new)
                );
            }
            if let Some(c) = &self.lane_order {
                let _ = writeln!(o, "  ~ order: {} → {}", c.old.join(", "), c.new.join(", "));
            }
        }
        if !self.nodes.is_empty() {
            o.push_str("nodes:\n");
            for n in &self.nodes.added {
                let _ = writeln!(o, "  + {}", node_text(n));
            }
            for n in &self.nodes.removed {
                let _ = writeln!(o, "  - {}", node_text(n));
            }
            for n in &self.nodes.changed {
                let mut parts = Vec::new();
                if let Some(c) = &n.renumbered {
                    parts.push(format!("id {} → {}", c.old, c.new));
                }
                if let Some(c) = &n.lane {
                    parts.push(format!("lane {} → {}", c.old, c.new));
                }
                if let Some(c) = &n.shape {
                    parts.push(format!("shape {} → {}", c.old, c.new));
                }
                if let Some(c) = &n.label {
                    parts.push(format!("label {} → {}", q(&c.old), q(&c.new)));
                }
                for a in &n.attributes {
                    parts.push(format!("{} {} → {}", a.key, q(&a.old), q(&a.new)));
                }
                let _ = writeln!(o, "  ~ {}: {}", n.id, parts.join("; "));
            }
        }
        if !self.edges.is_empty() || self.edge_order_changed {
            o.push_str("edges:\n");
            for e in &self.edges.added {
                let _ = writeln!(o, "  + {}", edge_text(e));
            }
            for e in &self.edges.removed {
                let _ = writeln!(o, "  - {}", edge_text(e));
            }
            for e in &self.edges.changed {
                let mut parts = Vec::new();
                if let Some(c) = &e.label {
                    parts.push(format!("label {} → {}", q(&c.old), q(&c.new)));
                }
                if let Some(c) = &e.source_handle {
                    parts.push(format!("source handle {} → {}", h(&c.old), h(&c.new)));
                }
                if let Some(c) = &e.target_handle {
                    parts.push(format!("target handle {} → {}", h(&c.old), h(&c.new)));
                }
                let _ = writeln!(
                    o,
                    "  ~ {} -> {} (edge {}): {}",
                    e.from,
                    e.to,
                    e.position.new,
                    parts.join("; ")
                );
            }
            if self.edge_order_changed {
                o.push_str("  ~ order: edges come in another order (the sequence view changes)\n");
            }
        }
        if !self.loops.is_empty() {
            o.push_str("loops:\n");
            for l in &self.loops.added {
                let _ = writeln!(o, "  + [{}] {}", l.condition, l.nodes.join(" "));
            }
            for l in &self.loops.removed {
                let _ = writeln!(o, "  - [{}] {}", l.condition, l.nodes.join(" "));
            }
            for l in &self.loops.changed {
                let mut parts = Vec::new();
                if let Some(c) = &l.old_condition {
                    parts.push(format!("condition {c:?} → {:?}", l.condition));
                }
                if let Some(c) = &l.nodes {
                    parts.push(format!("nodes {} → {}", c.old.join(" "), c.new.join(" ")));
                }
                let _ = writeln!(o, "  ~ [{}]: {}", l.condition, parts.join("; "));
            }
        }
        let mut summary = Vec::new();
        for (what, c) in [
            (
                "lane",
                (
                    self.lanes.added.len(),
                    self.lanes.removed.len(),
                    self.lanes.changed.len(),
                ),
            ),
            (
                "node",
                (
                    self.nodes.added.len(),
                    self.nodes.removed.len(),
                    self.nodes.changed.len(),
                ),
            ),
            (
                "edge",
                (
                    self.edges.added.len(),
                    self.edges.removed.len(),
                    self.edges.changed.len(),
                ),
            ),
            (
                "loop",
                (
                    self.loops.added.len(),
                    self.loops.removed.len(),
                    self.loops.changed.len(),
                ),
            ),
        ] {
            for (n, verb) in [(c.0, "added"), (c.1, "removed"), (c.2, "changed")] {
                if n > 0 {
                    summary.push(format!("{} {verb}", count(n, what)));
                }
            }
        }
        if self.lane_order.is_some() {
            summary.push("lane order changed".into());
        }
        if self.edge_order_changed {
            summary.push("edge order changed".into());
        }
        let _ = writeln!(o, "{}", summary.join(", "));
        o
    }

    /// The diff for tools: pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
}
