//! JSON export in the shape of FlowZap's own graph export, plus spans.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{Diagram, Shape};
use crate::syntax::{LineCol, LineIndex};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    pub lanes: Vec<JsonLane>,
    pub nodes: Vec<JsonNode>,
    pub edges: Vec<JsonEdge>,
    pub loops: Vec<JsonLoop>,
    pub stats: Stats,
}

#[derive(Debug, Serialize)]
pub struct JsonLane {
    pub id: String,
    pub label: String,
    pub span: LineCol,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonNode {
    pub id: String,
    pub lane_id: String,
    pub label: String,
    pub shape: Shape,
    /// start, end, step, decision or task.
    pub kind: &'static str,
    pub properties: Map<String, Value>,
    pub span: LineCol,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonEdge {
    pub id: String,
    pub from: String,
    pub to: String,
    pub from_lane: String,
    pub to_lane: String,
    pub label: Option<String>,
    pub source_handle: Option<&'static str>,
    pub target_handle: Option<&'static str>,
    pub span: LineCol,
}

#[derive(Debug, Serialize)]
pub struct JsonLoop {
    pub condition: String,
    pub nodes: Vec<String>,
    pub span: LineCol,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub lane_count: usize,
    pub node_count: usize,
    pub edge_count: usize,
    pub cross_lane_edges: usize,
}

/// The kind FlowZap's graph export gives a node.
pub fn kind(d: &Diagram, ix: crate::model::NodeIx) -> &'static str {
    match d.node(ix).shape {
        Shape::Circle => {
            if d.predecessors(ix).is_empty() {
                "start"
            } else {
                "end"
            }
        }
        Shape::Rectangle => "step",
        Shape::Diamond => "decision",
        Shape::Taskbox => "task",
    }
}

/// Build the export structure.
pub fn graph(d: &Diagram, source: &str, index: &LineIndex) -> Graph {
    let at = |span: crate::syntax::Span| index.line_col(source, span.start as usize);
    let lanes = d
        .lanes
        .iter()
        .map(|l| JsonLane {
            id: l.id.clone(),
            label: l.display().to_string(),
            span: at(l.span),
        })
        .collect();
    let nodes = d
        .nodes()
        .map(|(ix, n)| JsonNode {
            id: n.id.clone(),
            lane_id: d.lanes[n.lane].id.clone(),
            label: n.label().unwrap_or("").to_string(),
            shape: n.shape,
            kind: kind(d, ix),
            properties: n
                .attributes
                .iter()
                .filter(|a| a.key != "label")
                .map(|a| (a.key.clone(), Value::String(a.value.clone())))
                .collect(),
            span: at(n.span),
        })
        .collect();
    let mut cross = 0;
    let edges = d
        .edges()
        .map(|(_, s, t, e)| {
            cross += usize::from(e.cross_lane);
            JsonEdge {
                id: format!("e{}", e.ordinal + 1),
                from: d.node(s).id.clone(),
                to: d.node(t).id.clone(),
                from_lane: d.lane_of(s).id.clone(),
                to_lane: d.lane_of(t).id.clone(),
                label: e.label.clone(),
                source_handle: e.source_handle.map(|h| h.as_str()),
                target_handle: e.target_handle.map(|h| h.as_str()),
                span: at(e.span),
            }
        })
        .collect();
    let loops = d
        .loops
        .iter()
        .map(|l| JsonLoop {
            condition: l.condition.clone(),
            nodes: l.nodes.iter().map(|&n| d.node(n).id.clone()).collect(),
            span: at(l.span),
        })
        .collect();
    Graph {
        stats: Stats {
            lane_count: d.lanes.len(),
            node_count: d.node_count(),
            edge_count: d.edge_count(),
            cross_lane_edges: cross,
        },
        lanes,
        nodes,
        edges,
        loops,
    }
}

/// Pretty JSON text, ending in a newline.
pub fn to_string(d: &Diagram, source: &str, index: &LineIndex) -> String {
    let mut s = serde_json::to_string_pretty(&graph(d, source, index))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
