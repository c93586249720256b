//! Whole-diagram warnings, run on the resolved model. (The text checks on node attributes run
//! in `build.rs` as each node is read, with [`invisible`] and [`too_long`] from here.)

use std::collections::BTreeMap;

use rustc_hash::FxHashSet as HashSet;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Span;

use super::lean::Lean;

/// Longest label FlowZap draws without trouble.
pub const MAX_LABEL_CHARS: usize = 50;

/// Run every whole-diagram check.
pub(crate) fn lint(d: &Lean<'_>, diags: &mut Vec<Diagnostic>) {
    numbering(d, diags);
    orphans(d, diags);
    no_return_edge(d, diags);
    lanes_without_label(d, diags);
    text(d, diags);
}

/// W105: node ids should be n1…nN with no gaps.
fn numbering(d: &Lean<'_>, diags: &mut Vec<Diagnostic>) {
    // Node ids are unique and `nK` has no leading zero, so the numbers are distinct: there is
    // a gap unless the largest is the count.
    let mut count = 0u64;
    let mut max = 0u64;
    let mut max_span = Span::default();
    for n in &d.nodes {
        match number(n.id) {
            Some(k) => {
                count += 1;
                if k > max {
                    max = k;
                    max_span = n.span;
                }
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
    if count == 0 || max == count {
        return;
    }
    let mut numbers: Vec<u64> = d.nodes.iter().filter_map(|n| number(n.id)).collect();
    numbers.sort_unstable();
    let mut missing: Vec<String> = Vec::new();
    let mut have = numbers.iter().peekable();
    for k in 1..=count {
        while have.next_if(|&&x| x < k).is_some() {}
        if have.peek() != Some(&&k) {
            missing.push(format!("n{k}"));
            if missing.len() == 5 {
                break;
            }
        }
    }
    diags.push(
        Diagnostic::new(
            Code::NodeNumbering,
            max_span,
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

/// `K` of an id `nK` (digits, no leading zero, within `u64`).
fn number(id: &str) -> Option<u64> {
    let k = id.strip_prefix('n')?;
    (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && !k.starts_with('0'))
        .then(|| k.parse::<u64>().ok())
        .flatten()
}

/// W106: a node in no edge.
fn orphans(d: &Lean<'_>, diags: &mut Vec<Diagnostic>) {
    for (n, touched) in d.nodes.iter().zip(&d.touched) {
        if !touched {
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
fn no_return_edge(d: &Lean<'_>, diags: &mut Vec<Diagnostic>) {
    let mut pairs: BTreeMap<(&str, &str), Span> = BTreeMap::new();
    let mut present: HashSet<(&str, &str)> = HashSet::default();
    for e in &d.edges {
        if !e.cross_lane {
            continue;
        }
        let key = (d.lane_id(e.s), d.lane_id(e.t));
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
fn lanes_without_label(d: &Lean<'_>, diags: &mut Vec<Diagnostic>) {
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

/// W107, W110, W114: checks on the text of labels (of lanes and loops: the nodes'
/// attributes, W108 (a node with no label) and the edges' labels are checked in `build.rs`
/// as each is read).
fn text(d: &Lean<'_>, diags: &mut Vec<Diagnostic>) {
    for lane in &d.lanes {
        if let Some(l) = lane.label {
            invisible(l, lane.span, diags);
        }
    }
    for l in &d.loops {
        invisible(l.condition, l.span, diags);
    }
}

/// W110: a label longer than [`MAX_LABEL_CHARS`] characters.
pub(crate) fn too_long(text: &str, span: Span, diags: &mut Vec<Diagnostic>) {
    if text.len() <= MAX_LABEL_CHARS {
        return; // no more characters than bytes
    }
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

/// W107: text holding an invisible character or an emoji.
pub(crate) fn invisible(text: &str, span: Span, diags: &mut Vec<Diagnostic>) {
    // Printable ASCII has nothing to report; the scan does not stop early, so it vectorises.
    if text
        .bytes()
        .fold(true, |ok, b| ok & (0x20..0x7f).contains(&b))
    {
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
