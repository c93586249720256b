//! `fz diff`: a structural comparison of two diagrams: lanes, nodes, edges and loops added,
//! removed and changed.
//!
//! Lanes are matched by id. Nodes are matched by id and label first, then, where ids were
//! renumbered, by label (same lane and shape first, then anywhere), the k-th unmatched node of
//! a label in the old diagram with the k-th in the new; what is left is matched by id alone.
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
pub struct LoopChange {
    pub condition: String,
    /// Node ids: the old loop's translated to the new diagram's ids where matched.
    pub nodes: Change<Vec<String>>,
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
/// when it has neither (such nodes are matched by id only).
fn match_text(d: &Diagram, ix: NodeIx) -> Option<&str> {
    let n = d.node(ix);
    n.label().or_else(|| n.attr("description"))
}

/// Match nodes of `a` to nodes of `b`: `a` index → `b` index.
fn match_nodes(a: &Diagram, b: &Diagram) -> HashMap<NodeIx, NodeIx> {
    let mut fwd: HashMap<NodeIx, NodeIx> = HashMap::default();
    let mut taken: rustc_hash::FxHashSet<NodeIx> = Default::default();
    // 1. Same id and same label.
    for (ia, na) in a.nodes() {
        if let Some(ib) = b.node_index(&na.id) {
            if match_text(a, ia) == match_text(b, ib) {
                fwd.insert(ia, ib);
                taken.insert(ib);
            }
        }
    }
    // 2. and 3. Same label (with same lane and shape, then anywhere), k-th with k-th.
    for strict in [true, false] {
        let key = |d: &'_ Diagram,
                   ix: NodeIx|
         -> Option<(Option<String>, Option<&'static str>, String)> {
            let text = match_text(d, ix)?.to_string();
            Some(if strict {
                (
                    Some(d.lane_of(ix).id.clone()),
                    Some(d.node(ix).shape.as_str()),
                    text,
                )
            } else {
                (None, None, text)
            })
        };
        let mut pool: HashMap<_, Vec<NodeIx>> = HashMap::default();
        for (ib, _) in b.nodes() {
            if !taken.contains(&ib) {
                if let Some(k) = key(b, ib) {
                    pool.entry(k).or_default().push(ib);
                }
            }
        }
        for v in pool.values_mut() {
            v.reverse();
        }
        for (ia, _) in a.nodes() {
            if fwd.contains_key(&ia) {
                continue;
            }
            let Some(k) = key(a, ia) else { continue };
            if let Some(ib) = pool.get_mut(&k).and_then(Vec::pop) {
                fwd.insert(ia, ib);
                taken.insert(ib);
            }
        }
    }
    // 4. Same id.
    for (ia, na) in a.nodes() {
        if fwd.contains_key(&ia) {
            continue;
        }
        if let Some(ib) = b.node_index(&na.id) {
            if !taken.contains(&ib) {
                fwd.insert(ia, ib);
                taken.insert(ib);
            }
        }
    }
    // 5. Renumbered and changed: an unmatched node whose id is gone from the new diagram,
    // at the same place among its lane's nodes as an unmatched node whose id is new.
    fn places(d: &Diagram) -> Vec<(String, usize)> {
        let mut seen = vec![0usize; d.lanes.len()];
        d.nodes()
            .map(|(_, n)| {
                let k = seen.get(n.lane).copied().unwrap_or(0);
                if let Some(c) = seen.get_mut(n.lane) {
                    *c += 1;
                }
                (
                    d.lanes
                        .get(n.lane)
                        .map(|l| l.id.clone())
                        .unwrap_or_default(),
                    k,
                )
            })
            .collect()
    }
    let (pa, pb) = (places(a), places(b));
    let place = |p: &[(String, usize)], ix: NodeIx| p[ix.index()].clone();
    let mut free: HashMap<(String, usize), NodeIx> = HashMap::default();
    for (ib, nb) in b.nodes() {
        if !taken.contains(&ib) && a.node_index(&nb.id).is_none() {
            free.insert(place(&pb, ib), ib);
        }
    }
    if !free.is_empty() {
        for (ia, na) in a.nodes() {
            if fwd.contains_key(&ia) || b.node_index(&na.id).is_some() {
                continue;
            }
            if let Some(ib) = free.remove(&place(&pa, ia)) {
                fwd.insert(ia, ib);
                taken.insert(ib);
            }
        }
    }
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
    let mut taken = vec![false; b.loops.len()];
    let mut pending = Vec::new();
    // Exact matches first, then same condition.
    for la in &a.loops {
        let t = translated(la);
        match b
            .loops
            .iter()
            .enumerate()
            .find(|(i, lb)| !taken[*i] && lb.condition == la.condition && ids(b, lb) == t)
        {
            Some((i, _)) => taken[i] = true,
            None => pending.push((la, t)),
        }
    }
    for (la, t) in pending {
        match b
            .loops
            .iter()
            .enumerate()
            .find(|(i, lb)| !taken[*i] && lb.condition == la.condition)
        {
            Some((i, lb)) => {
                taken[i] = true;
                out.loops.changed.push(LoopChange {
                    condition: la.condition.clone(),
                    nodes: Change {
                        old: t,
                        new: ids(b, lb),
                    },
                });
            }
            None => out.loops.removed.push(LoopInfo {
                condition: la.condition.clone(),
                nodes: ids(a, la),
            }),
        }
    }
    for (i, lb) in b.loops.iter().enumerate() {
        if !taken[i] {
            out.loops.added.push(LoopInfo {
                condition: lb.condition.clone(),
                nodes: ids(b, lb),
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
                let _ = writeln!(
                    o,
                    "  ~ [{}]: nodes {} → {}",
                    l.condition,
                    l.nodes.old.join(" "),
                    l.nodes.new.join(" ")
                );
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
