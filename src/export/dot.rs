//! Graphviz DOT export: lanes as clusters, shapes mapped, edge labels kept.

use std::fmt::Write;

use crate::model::{Diagram, Shape};

/// Quote a string for DOT (`"…"` with `"` and `\` escaped, newlines as `\n`).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn shape_attrs(shape: Shape) -> &'static str {
    match shape {
        Shape::Circle => "shape=circle",
        Shape::Rectangle => "shape=box, style=\"rounded\"",
        Shape::Diamond => "shape=diamond",
        Shape::Taskbox => "shape=note",
    }
}

/// The text a node shows: its label, and for taskboxes the owner/description/system lines.
pub(crate) fn node_text(n: &crate::model::Node) -> String {
    let mut lines: Vec<&str> = Vec::new();
    if let Some(l) = n.label() {
        lines.push(l);
    }
    if n.shape == Shape::Taskbox {
        for k in ["owner", "description", "system"] {
            if let Some(v) = n.attr(k) {
                lines.push(v);
            }
        }
    }
    if lines.is_empty() {
        lines.push(&n.id);
    }
    lines.join("\n")
}

pub fn to_string(d: &Diagram) -> String {
    let mut s = String::new();
    s.push_str("digraph flowzap {\n  rankdir=LR;\n  compound=true;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (li, lane) in d.lanes.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph {} {{",
            quote(&format!("cluster_{li}_{}", lane.id))
        );
        let _ = writeln!(s, "    label={};", quote(lane.display()));
        s.push_str("    style=\"rounded\";\n    color=\"#999999\";\n");
        for ix in d.lane_nodes(li) {
            let n = d.node(ix);
            let _ = writeln!(
                s,
                "    {} [label={}, {}];",
                quote(&n.id),
                quote(&node_text(n)),
                shape_attrs(n.shape)
            );
        }
        s.push_str("  }\n");
    }
    for (_, a, b, e) in d.edges() {
        let _ = write!(s, "  {} -> {}", quote(&d.node(a).id), quote(&d.node(b).id));
        if let Some(l) = &e.label {
            let _ = write!(s, " [label={}]", quote(l));
        }
        s.push_str(";\n");
    }
    s.push_str("}\n");
    s
}
