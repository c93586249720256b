//! Mermaid export: `flowchart LR`, one subgraph per lane, labels escaped.

use std::fmt::Write;

use crate::model::{Diagram, Shape};

/// Escape text for a Mermaid quoted label: quotes and markup-significant characters become
/// HTML entities, which Mermaid decodes; CJK and other Unicode pass through.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' => out.push_str("<br/>"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Mermaid ids must be plain: keep ASCII alphanumerics and `_`, and prefix to avoid keywords
/// (`end`, `graph`, …).
fn id(prefix: &str, raw: &str) -> String {
    let mut s = String::from(prefix);
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            s.push(c);
        } else {
            let _ = write!(s, "_{:x}_", c as u32);
        }
    }
    s
}

pub fn to_string(d: &Diagram) -> String {
    let mut s = String::from("flowchart LR\n");
    for (li, lane) in d.lanes.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph {}[\"{}\"]",
            id(&format!("lane{li}_"), &lane.id),
            escape(lane.display())
        );
        for ix in d.lane_nodes(li) {
            let n = d.node(ix);
            let text = escape(&super::dot::node_text(n));
            let (open, close) = match n.shape {
                Shape::Circle => ("((", "))"),
                Shape::Rectangle => ("(", ")"),
                Shape::Diamond => ("{", "}"),
                Shape::Taskbox => ("[", "]"),
            };
            let _ = writeln!(s, "    {}{open}\"{text}\"{close}", id("n_", &n.id));
        }
        s.push_str("  end\n");
    }
    for (_, a, b, e) in d.edges() {
        let (a, b) = (id("n_", &d.node(a).id), id("n_", &d.node(b).id));
        match &e.label {
            Some(l) if !l.is_empty() => {
                let _ = writeln!(s, "  {a} -->|\"{}\"| {b}", escape(l));
            }
            _ => {
                let _ = writeln!(s, "  {a} --> {b}");
            }
        }
    }
    s
}
