//! The model as the builder makes it: lanes, nodes, edges and loops that borrow their text from
//! the source, in flat vectors, with no allocation per node or edge.
//!
//! Every diagnostic is computed on this form (`build.rs` while reading, `lint.rs` after), so
//! `fz check`, which needs only the diagnostics, never builds the [`Diagram`]; the commands that
//! need the diagram turn it into one with [`Lean::into_diagram`]. On a 100 MB diagram this is
//! about a third of the memory of the diagram (no `String` per id, attribute, label; no
//! petgraph adjacency) and no allocator traffic per line.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use crate::syntax::Span;

use super::diagram::*;
use super::ids::NodeIds;

/// Index meaning "not resolved" in [`LEdge::s`] / [`LEdge::t`].
pub(crate) const UNRESOLVED: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct LLane<'a> {
    pub id: &'a str,
    /// The display label, trimmed; `None` when absent or empty.
    pub label: Option<&'a str>,
    /// Span of the lane header (`Id {`).
    pub span: Span,
    /// Index of the first lane with this id: lanes declared twice are one lane for
    /// `cross_lane`, which compares ids.
    pub canon: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct LNode<'a> {
    pub id: &'a str,
    pub lane: u32,
    pub shape: Shape,
    pub span: Span,
    /// The node's attributes are `attrs[first_attr..first_attr + attr_count]` (only when the
    /// builder keeps attributes).
    pub first_attr: u32,
    pub attr_count: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct LAttr<'a> {
    pub key: &'a str,
    pub value: Cow<'a, str>,
    pub span: Span,
}

/// What every diagnostic needs of an edge.
#[derive(Debug, Clone)]
pub(crate) struct LEdge {
    /// Source and target node indices ([`UNRESOLVED`] until both ends are known).
    pub s: u32,
    pub t: u32,
    pub cross_lane: bool,
    pub span: Span,
}

/// The rest of an edge, which only the diagram needs (kept with the attributes).
#[derive(Debug, Clone)]
pub(crate) struct LEdgeData<'a> {
    pub source_handle: Option<Handle>,
    pub target_handle: Option<Handle>,
    pub label: Option<Cow<'a, str>>,
    /// Span of the label's quoted text (meaningful when there is a label).
    pub label_span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct LLoop<'a> {
    pub condition: &'a str,
    pub nodes: Vec<u32>,
    pub lane: Option<u32>,
    pub span: Span,
}

/// The resolved model, borrowed from the source.
#[derive(Debug, Default)]
pub(crate) struct Lean<'a> {
    pub lanes: Vec<LLane<'a>>,
    pub nodes: Vec<LNode<'a>>,
    /// Attributes of all nodes, node after node (empty when not kept).
    pub attrs: Vec<LAttr<'a>>,
    /// Edges in source order; after the build, all resolved.
    pub edges: Vec<LEdge>,
    /// Per edge, when attributes are kept (else empty).
    pub edge_data: Vec<LEdgeData<'a>>,
    pub loops: Vec<LLoop<'a>>,
    /// Per node: it is an end of some edge.
    pub touched: Vec<bool>,
    pub node_by_id: NodeIds,
    pub lane_by_id: FxHashMap<&'a str, u32>,
}

impl<'a> Lean<'a> {
    /// The lane id of a node.
    pub fn lane_id(&self, node: u32) -> &'a str {
        self.lanes[self.nodes[node as usize].lane as usize].id
    }

    /// The owned [`Diagram`] (attributes, handles and edge labels included only if the builder
    /// kept them).
    pub fn into_diagram(self) -> Diagram {
        let mut d = Diagram {
            lanes: self
                .lanes
                .iter()
                .map(|l| Lane {
                    id: l.id.to_string(),
                    label: l.label.map(str::to_string),
                    span: l.span,
                })
                .collect(),
            ..Diagram::default()
        };
        d.graph.reserve_nodes(self.nodes.len());
        d.graph.reserve_edges(self.edges.len());
        for n in &self.nodes {
            let first = n.first_attr as usize;
            let attrs = self
                .attrs
                .get(first..first + n.attr_count as usize)
                .unwrap_or_default();
            d.graph.add_node(Node {
                id: n.id.to_string(),
                lane: n.lane as usize,
                shape: n.shape,
                attributes: attrs
                    .iter()
                    .map(|a| Attribute {
                        key: a.key.to_string(),
                        value: a.value.to_string(),
                        span: a.span,
                    })
                    .collect(),
                span: n.span,
            });
        }
        let mut data = self.edge_data.into_iter();
        for (ordinal, e) in self.edges.into_iter().enumerate() {
            let x = data.next().unwrap_or(LEdgeData {
                source_handle: None,
                target_handle: None,
                label: None,
                label_span: Span::default(),
            });
            let label_span = x.label.is_some().then_some(x.label_span);
            d.graph.add_edge(
                NodeIx::new(e.s as usize),
                NodeIx::new(e.t as usize),
                Edge {
                    ordinal,
                    source_handle: x.source_handle,
                    target_handle: x.target_handle,
                    label: x.label.map(Cow::into_owned),
                    label_span,
                    cross_lane: e.cross_lane,
                    span: e.span,
                },
            );
        }
        d.loops = self
            .loops
            .into_iter()
            .map(|l| Loop {
                condition: l.condition.to_string(),
                nodes: l.nodes.iter().map(|&n| NodeIx::new(n as usize)).collect(),
                lane: l.lane.map(|x| x as usize),
                span: l.span,
            })
            .collect();
        d.node_by_id = self.node_by_id;
        d.lane_by_id = self
            .lane_by_id
            .into_iter()
            .map(|(k, v)| (k.to_string(), v as usize))
            .collect();
        d
    }
}
