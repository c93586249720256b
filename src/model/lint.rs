//! Whole-diagram warnings, run on the resolved model (plus the AST for text-level checks).

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashSet as HashSet;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Span;

use super::diagram::*;

/// Longest label FlowZap draws without trouble.
pub const MAX_LABEL_CHARS: usize = 50;

/// Run every whole-diagram check.
pub fn lint(d: &Diagram, diags: &mut Vec<Diagnostic>) {
    numbering(d, diags);
    orphans(d, diags);
    no_return_edge(d, diags);
    lanes_without_label(d, diags);
    text(d, diags);
}

/// W105: node ids should be n1…nN with no gaps.
fn numbering(d: &Diagram, diags: &mut Vec<Diagnostic>) {
    let mut numbers = BTreeSet::new();
    for (_, n) in d.nodes() {
        match n.id.strip_prefix('n').and_then(|k| {
            (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && !k.starts_with('0'))
                .then(|| k.parse::<u64>().ok())
                .flatten()
        }) {
            Some(k) => {
                numbers.insert(k);
            }
            None => diags.push(
                Diagnostic::new(
                    Code::NodeNumbering,
                    n.span,
                    format!("node id `{}` is not of the form `nK`", n.id),
                )
                .with_help(
                    "FlowZap numbers nodes n1, n2, … across the diagram; `fz fix` renumbers them",
                ),
            ),
        }
    }
    let count = numbers.len() as u64;
    if count == 0 || numbers.last() == Some(&count) {
        return;
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !numbers.contains(k))
        .take(5)
        .map(|k| format!("n{k}"))
        .collect();
    let max = *numbers.last().unwrap_or(&0);
    let span = d
        .node_index(&format!("n{max}"))
        .map(|ix| d.node(ix).span)
        .unwrap_or_default();
    diags.push(
        Diagnostic::new(
            Code::NodeNumbering,
            span,
            format!(
                "node ids skip numbers: {count} nodes numbered up to n{max}, missing {}{}",
                missing.join(", "),
                if (max - count) as usize > missing.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        )
        .with_help(
            "number nodes n1…nN without gaps; `fz fix` renumbers them and updates every reference",
        ),
    );
}

/// W106: a node in no edge.
fn orphans(d: &Diagram, diags: &mut Vec<Diagnostic>) {
    for (ix, n) in d.nodes() {
        if d.graph.neighbors_undirected(ix).next().is_none() {
            diags.push(
                Diagnostic::new(
                    Code::OrphanNode,
                    n.span,
                    format!("node `{}` is in no edge", n.id),
                )
                .with_help(format!(
                    "connect it, e.g. `{}.handle(right) -> nK.handle(left)`, or remove it",
                    n.id
                )),
            );
        }
    }
}

/// W109: FlowZap's sequence-view rule: a request from lane A to lane B should have some edge
/// coming back from B to A. Reported once per lane pair, at its first edge.
fn no_return_edge(d: &Diagram, diags: &mut Vec<Diagnostic>) {
    let lane_id = |ix: NodeIx| d.lane_of(ix).id.as_str();
    let mut pairs: BTreeMap<(&str, &str), Span> = BTreeMap::new();
    let mut present: HashSet<(&str, &str)> = HashSet::default();
    for (_, s, t, e) in d.edges() {
        if !e.cross_lane {
            continue;
        }
        let key = (lane_id(s), lane_id(t));
        present.insert(key);
        pairs.entry(key).or_insert(e.span);
    }
    let mut found: Vec<_> = pairs
        .into_iter()
        .filter(|((a, b), _)| !present.contains(&(*b, *a)))
        .collect();
    found.sort_by_key(|(_, span)| *span);
    for ((a, b), span) in found {
        diags.push(
            Diagnostic::new(
                Code::NoReturnEdge,
                span,
                format!("lane `{a}` sends to lane `{b}`, but no edge comes back from `{b}` to `{a}`"),
            )
            .with_help(format!(
                "in the sequence view every request gets a response: add an edge from a node of `{b}` back to `{a}`"
            )),
        );
    }
}

/// W111: a lane without display label.
fn lanes_without_label(d: &Diagram, diags: &mut Vec<Diagnostic>) {
    for lane in &d.lanes {
        if lane.label.is_none() {
            diags.push(
                Diagnostic::new(
                    Code::LaneWithoutLabel,
                    lane.span,
                    format!("lane `{}` has no display label", lane.id),
                )
                .with_help(format!("write `{} {{ # {}`", lane.id, lane.id)),
            );
        }
    }
}

/// W107, W110, W114: checks on the text of labels.
fn text(d: &Diagram, diags: &mut Vec<Diagnostic>) {
    for lane in &d.lanes {
        if let Some(l) = &lane.label {
            invisible(l, lane.span, diags);
        }
    }
    for (_, n) in d.nodes() {
        for a in &n.attributes {
            invisible(&a.value, a.span, diags);
            if a.key == "label" {
                too_long(&a.value, a.span, diags);
            }
        }
        let described = n.shape == Shape::Taskbox && n.attr("description").is_some();
        if !(n.label().is_some() || described) {
            diags.push(
                Diagnostic::new(
                    Code::EmptyLabel,
                    n.span,
                    format!("node `{}` has no label", n.id),
                )
                .with_help(format!("add `label:\"…\"` to `{}`", n.id)),
            );
        }
    }
    for (_, _, _, e) in d.edges() {
        if let (Some(l), Some(span)) = (&e.label, e.label_span) {
            invisible(l, span, diags);
            too_long(l, span, diags);
        }
    }
    for l in &d.loops {
        invisible(&l.condition, l.span, diags);
    }
}

fn too_long(text: &str, span: Span, diags: &mut Vec<Diagnostic>) {
    let n = text.chars().count();
    if n > MAX_LABEL_CHARS {
        diags.push(
            Diagnostic::new(
                Code::LongLabel,
                span,
                format!("label is {n} characters long; FlowZap labels should be at most {MAX_LABEL_CHARS}"),
            )
            .with_help("shorten it; put detail in a taskbox `description:\"…\"`"),
        );
    }
}

/// True for characters that do not print as text: control characters, zero-width and bidi
/// controls, emoji and their joiners/selectors.
pub fn is_invisible_or_emoji(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || matches!(u,
            0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF
            | 0xFE00..=0xFE0F | 0xE0000..=0xE007F
            | 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF
            | 0x2300..=0x23FF)
}

fn invisible(text: &str, span: Span, diags: &mut Vec<Diagnostic>) {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return;
    }
    if let Some(c) = text.chars().find(|&c| is_invisible_or_emoji(c)) {
        diags.push(
            Diagnostic::new(
                Code::InvisibleCharacter,
                span,
                format!("text holds {} (U+{:04X})", describe(c), c as u32),
            )
            .with_help("FlowZap renders plain text: remove it (`fz fix` does)"),
        );
    }
}

fn describe(c: char) -> &'static str {
    if c.is_control() {
        "a control character"
    } else if matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF) {
        "an invisible formatting character"
    } else {
        "an emoji or pictograph"
    }
}
