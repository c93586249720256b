//! The resolved diagram: lanes, nodes and edges in a petgraph graph.
//!
//! This is the only thing the backends (`export`, `render`, `sim`, `gen`) read. It knows
//! nothing of them.

use rustc_hash::FxHashMap;

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::syntax::Span;

/// Index of a lane in [`Diagram::lanes`].
pub type LaneIx = usize;
/// Index of a node in the graph.
pub type NodeIx = NodeIndex<u32>;
/// Index of an edge in the graph.
pub type EdgeIx = EdgeIndex<u32>;

/// The four shapes FlowZap draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Circle,
    Rectangle,
    Diamond,
    Taskbox,
}

impl Shape {
    pub const ALL: [Shape; 4] = [
        Shape::Circle,
        Shape::Rectangle,
        Shape::Diamond,
        Shape::Taskbox,
    ];

    pub fn parse(s: &str) -> Option<Shape> {
        match s {
            "circle" => Some(Shape::Circle),
            "rectangle" => Some(Shape::Rectangle),
            "diamond" => Some(Shape::Diamond),
            "taskbox" => Some(Shape::Taskbox),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Rectangle => "rectangle",
            Shape::Diamond => "diamond",
            Shape::Taskbox => "taskbox",
        }
    }
}

/// The side of a node an edge leaves or enters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Handle {
    Left,
    Right,
    Top,
    Bottom,
}

impl Handle {
    pub const ALL: [Handle; 4] = [Handle::Left, Handle::Right, Handle::Top, Handle::Bottom];

    pub fn parse(s: &str) -> Option<Handle> {
        match s {
            "left" => Some(Handle::Left),
            "right" => Some(Handle::Right),
            "top" => Some(Handle::Top),
            "bottom" => Some(Handle::Bottom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Handle::Left => "left",
            Handle::Right => "right",
            Handle::Top => "top",
            Handle::Bottom => "bottom",
        }
    }
}

/// A swimlane.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub id: String,
    /// The display label after `#`, trimmed; `None` when the lane has none.
    pub label: Option<String>,
    /// Span of the lane header (`Id {`).
    pub span: Span,
}

impl Lane {
    /// The label to show: the display label, or the id when there is none.
    pub fn display(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.id)
    }
}

/// One `key:"value"` attribute of a node, in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub key: String,
    pub value: String,
    pub span: Span,
}

/// A node (`nK: shape key:"value" …`).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub lane: LaneIx,
    pub shape: Shape,
    /// All attributes in source order (`label`, `owner`, `description`, `system`, and unknown keys).
    pub attributes: Vec<Attribute>,
    pub span: Span,
}

impl Node {
    /// The value of an attribute, if present.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.as_str())
    }

    /// The `label` attribute, if any.
    pub fn label(&self) -> Option<&str> {
        self.attr("label")
    }

    /// Text that names the node for people: the label, else the taskbox description, else the id.
    pub fn display(&self) -> &str {
        self.label()
            .or_else(|| self.attr("description"))
            .unwrap_or(&self.id)
    }
}

/// A directed edge between two nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Position of the edge in source order (0-based); exporters name it `e{ordinal+1}`.
    pub ordinal: usize,
    pub source_handle: Option<Handle>,
    pub target_handle: Option<Handle>,
    pub label: Option<String>,
    /// Span of the label's quoted text, when there is a label.
    pub label_span: Option<Span>,
    /// True when the two ends are in different lanes.
    pub cross_lane: bool,
    pub span: Span,
}

/// A `loop [condition] a b c` fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    pub condition: String,
    /// The nodes named by the loop, in source order (undeclared ones are left out).
    pub nodes: Vec<NodeIx>,
    /// The lane the loop stands in, or `None` at top level.
    pub lane: Option<LaneIx>,
    pub span: Span,
}

/// A resolved diagram.
///
/// Nodes and edges live in a petgraph [`DiGraph`]; node indices follow declaration order and
/// edge indices follow source order, so iteration order is deterministic.
#[derive(Debug, Clone, Default)]
pub struct Diagram {
    pub lanes: Vec<Lane>,
    pub graph: DiGraph<Node, Edge, u32>,
    pub loops: Vec<Loop>,
    pub(crate) node_by_id: super::ids::NodeIds,
    pub(crate) lane_by_id: FxHashMap<String, LaneIx>,
}

impl Diagram {
    /// Node index of a node id.
    pub fn node_index(&self, id: &str) -> Option<NodeIx> {
        self.node_by_id.get(id)
    }

    /// Lane index of a lane id.
    pub fn lane_index(&self, id: &str) -> Option<LaneIx> {
        self.lane_by_id.get(id).copied()
    }

    pub fn node(&self, ix: NodeIx) -> &Node {
        &self.graph[ix]
    }

    pub fn edge(&self, ix: EdgeIx) -> &Edge {
        &self.graph[ix]
    }

    /// Source and target of an edge.
    pub fn endpoints(&self, ix: EdgeIx) -> (NodeIx, NodeIx) {
        self.graph
            .edge_endpoints(ix)
            .expect("edge index comes from this diagram")
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// All nodes in declaration order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeIx, &Node)> + '_ {
        self.graph
            .node_indices()
            .map(move |ix| (ix, &self.graph[ix]))
    }

    /// All edges in source order, with their endpoints.
    pub fn edges(&self) -> impl Iterator<Item = (EdgeIx, NodeIx, NodeIx, &Edge)> + '_ {
        self.graph
            .edge_references()
            .map(|e| (e.id(), e.source(), e.target(), e.weight()))
    }

    /// Outgoing edges of a node, in source order: `(edge, target, data)`.
    pub fn successors(&self, ix: NodeIx) -> Vec<(EdgeIx, NodeIx, &Edge)> {
        let mut v: Vec<_> = self
            .graph
            .edges_directed(ix, Direction::Outgoing)
            .map(|e| (e.id(), e.target(), e.weight()))
            .collect();
        v.sort_by_key(|(e, _, _)| *e);
        v
    }

    /// Incoming edges of a node, in source order: `(edge, source, data)`.
    pub fn predecessors(&self, ix: NodeIx) -> Vec<(EdgeIx, NodeIx, &Edge)> {
        let mut v: Vec<_> = self
            .graph
            .edges_directed(ix, Direction::Incoming)
            .map(|e| (e.id(), e.source(), e.weight()))
            .collect();
        v.sort_by_key(|(e, _, _)| *e);
        v
    }

    /// Nodes of a lane, in declaration order.
    pub fn lane_nodes(&self, lane: LaneIx) -> impl Iterator<Item = NodeIx> + '_ {
        self.nodes()
            .filter(move |(_, n)| n.lane == lane)
            .map(|(ix, _)| ix)
    }

    /// The lane holding a node.
    pub fn lane_of(&self, ix: NodeIx) -> &Lane {
        &self.lanes[self.graph[ix].lane]
    }
}
