//! Property tests of `fz fix` on generated diagrams full of the mistakes it repairs (ids not
//! `n1…nN`, missing and wrong lane prefixes, bare edge ends, `key="…"`, `[label:"…"]`, lanes
//! without labels, emoji): it never fails, leaves none of its warnings on a diagram without
//! errors, adds no error, is stable on its own output, and changes the model only as its
//! repairs say (ids renumbered, handles added where there were none, text cleaned).
//! Also: on arbitrary text, fmt, fix and diff never panic.

mod support;
use support::cases;

use proptest::prelude::*;

use fz::model;
use serde_json::Value;

use fz::diagnostic::Code;
use fz::tools::{self, diff, fix, fmt};

/// The export key `fix` should produce from `old`: ids renumbered in declaration order (when
/// it renumbered), text cleaned, a lane label left empty set to the lane id, and handles
/// that were missing taken from `new` (their values are tested on fixtures).
fn expected(old: &Value, new: &Value, renumbered: bool) -> Value {
    let mut v = old.clone();
    let clean = |x: &mut Value| {
        if let Value::String(s) = x {
            *s = fix::clean_text(s).into_owned();
        }
    };
    let ids: std::collections::HashMap<String, String> = old["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(k, n)| {
            let id = n["id"].as_str().unwrap_or("").to_string();
            let to = if renumbered {
                format!("n{}", k + 1)
            } else {
                id.clone()
            };
            (id, to)
        })
        .collect();
    let map = |x: &mut Value| {
        if let Some(to) = x.as_str().and_then(|s| ids.get(s)) {
            *x = Value::String(to.clone());
        }
    };
    for l in v["lanes"].as_array_mut().into_iter().flatten() {
        clean(&mut l["label"]);
        if l["label"] == "" {
            l["label"] = l["id"].clone();
        }
    }
    for n in v["nodes"].as_array_mut().into_iter().flatten() {
        map(&mut n["id"]);
        clean(&mut n["label"]);
        for p in n["properties"]
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            clean(p);
        }
    }
    let new_edges = new["edges"].as_array().cloned().unwrap_or_default();
    for (i, e) in v["edges"].as_array_mut().into_iter().flatten().enumerate() {
        map(&mut e["from"]);
        map(&mut e["to"]);
        clean(&mut e["label"]);
        for h in ["sourceHandle", "targetHandle"] {
            if e[h].is_null() {
                e[h] = new_edges
                    .get(i)
                    .map(|n| n[h].clone())
                    .unwrap_or(Value::Null);
            }
        }
    }
    for l in v["loops"].as_array_mut().into_iter().flatten() {
        clean(&mut l["condition"]);
        for n in l["nodes"].as_array_mut().into_iter().flatten() {
            map(n);
        }
    }
    v
}

const LANES: [&str; 4] = ["Front", "back_end", "Worker1", "user"];

/// Lane, id style, shape, attributes (key, `=`, value).
type NodeSpec = (usize, u8, &'static str, Vec<(&'static str, bool, String)>);
/// Lane it stands in (`None`: after the last lane), nodes (index, prefix kind).
type LoopSpec = (Option<usize>, Vec<(usize, u8)>);

#[derive(Debug, Clone)]
struct Spec {
    /// Per lane: label (None: no label), emoji in it.
    lanes: Vec<(Option<String>, bool)>,
    /// Per node: lane, id style, shape, attributes (key, `=`, value).
    nodes: Vec<NodeSpec>,
    edges: Vec<Edge>,
    loops: Vec<LoopSpec>,
}

#[derive(Debug, Clone)]
struct Edge {
    from: usize,
    to: usize,
    /// Lane it stands in; `None`: after the last lane.
    lane: Option<usize>,
    /// 0: no prefix, 1: the right lane, 2: another lane, 3: no such lane.
    source_prefix: u8,
    target_prefix: u8,
    source_handle: Option<&'static str>,
    target_handle: Option<&'static str>,
    label: Option<(bool, String)>,
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "B", " ", "订", "🚀", "✅", "\u{200b}", "?", "-"]),
        0..6,
    )
    .prop_map(|v| v.concat())
}

fn handle() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(vec!["left", "right", "top", "bottom"]))
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..=4, 1usize..=7).prop_flat_map(|(nl, nn)| {
        let lanes = prop::collection::vec((prop::option::of(text()), any::<bool>()), nl);
        let nodes = prop::collection::vec(
            (
                0..nl,
                0u8..4,
                prop::sample::select(vec!["circle", "rectangle", "diamond", "taskbox"]),
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["label", "owner", "description", "system"]),
                        any::<bool>(),
                        text(),
                    ),
                    0..3,
                ),
            ),
            nn,
        );
        let edge = (
            (0..nn, 0..nn, prop::option::weighted(0.85, 0..nl)),
            (0u8..4, 0u8..4, handle(), handle()),
            prop::option::of((any::<bool>(), text())),
        )
            .prop_map(|((from, to, lane), (sp, tp, sh, th), label)| Edge {
                from,
                to,
                lane,
                source_prefix: sp,
                target_prefix: tp,
                source_handle: sh,
                target_handle: th,
                label,
            });
        let edges = prop::collection::vec(edge, 0..9);
        let loops = prop::collection::vec(
            (
                prop::option::weighted(0.7, 0..nl),
                prop::collection::vec((0..nn, 0u8..4), 0..4),
            ),
            0..3,
        );
        (lanes, nodes, edges, loops).prop_map(|(lanes, nodes, edges, loops)| Spec {
            lanes,
            nodes,
            edges,
            loops,
        })
    })
}

fn render(s: &Spec) -> String {
    let nl = s.lanes.len();
    let id = |k: usize| match s.nodes[k].1 {
        0 => format!("n{}", k + 1),
        1 => format!("n{}", 100 + k),
        2 => format!("s{k}"),
        _ => format!("Task_{k}"),
    };
    let reference = |k: usize, prefix: u8| {
        let lane = s.nodes[k].0;
        match prefix {
            1 => format!("{}.{}", LANES[lane], id(k)),
            2 if nl > 1 => format!("{}.{}", LANES[(lane + 1) % nl], id(k)),
            3 => format!("Nowhere.{}", id(k)),
            _ => id(k),
        }
    };
    let end = |k: usize, prefix: u8, h: Option<&str>| match h {
        Some(h) => format!("{}.handle({h})", reference(k, prefix)),
        None => reference(k, prefix),
    };
    let edge = |e: &Edge| {
        let mut t = format!(
            "{} -> {}",
            end(e.from, e.source_prefix, e.source_handle),
            end(e.to, e.target_prefix, e.target_handle)
        );
        if let Some((colon, l)) = &e.label {
            t.push_str(&format!(
                " [label{}\"{l}\"]",
                if *colon { ":" } else { "=" }
            ));
        }
        t
    };
    let lp = |refs: &[(usize, u8)]| {
        let mut t = "loop [again]".to_string();
        for &(k, p) in refs {
            t.push(' ');
            t.push_str(&reference(k, p));
        }
        t
    };
    let mut out = String::new();
    for (li, (label, emoji)) in s.lanes.iter().enumerate() {
        match label {
            Some(l) => out.push_str(&format!(
                "{} {{ # {l}{}\n",
                LANES[li],
                if *emoji { " 🎉" } else { "" }
            )),
            None => out.push_str(&format!("{} {{\n", LANES[li])),
        }
        for (k, (lane, _, shape, attrs)) in s.nodes.iter().enumerate() {
            if *lane == li {
                out.push_str(&format!("  {}: {shape}", id(k)));
                for (key, eq, v) in attrs {
                    out.push_str(&format!(" {key}{}\"{v}\"", if *eq { "=" } else { ":" }));
                }
                out.push('\n');
            }
        }
        out.push_str("  // a comment\n");
        for e in s.edges.iter().filter(|e| e.lane == Some(li)) {
            out.push_str(&format!("  {}\n", edge(e)));
        }
        for l in s.loops.iter().filter(|l| l.0 == Some(li)) {
            out.push_str(&format!("  {}\n", lp(&l.1)));
        }
        out.push_str("}\n\n");
    }
    for e in s.edges.iter().filter(|e| e.lane.is_none()) {
        out.push_str(&format!("{}\n", edge(e)));
    }
    for l in s.loops.iter().filter(|l| l.0.is_none()) {
        out.push_str(&format!("{}\n", lp(&l.1)));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn fix_repairs_what_it_says_and_nothing_else(s in spec()) {
        let src = render(&s);
        let before = model::check(&src);
        let fixed = fix::fix(&src).map_err(|e| TestCaseError::fail(format!("{e}\n{src}")))?;
        prop_assert_eq!(fixed.checked.error_count(), before.error_count());
        if !before.has_errors() {
            let left = fix::unrepaired(&fixed.checked.diagnostics);
            prop_assert!(left.is_empty(), "left {:?}\n{}\n---\n{}", left, src, fixed.source);
        }
        let again = fix::fix(&fixed.source).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&again.source, &fixed.source, "not stable");
        prop_assert!(again.repairs.is_empty());
        // The model changes only as the repairs say.
        let renumbered = fixed.repairs.iter().any(|r| r.code == Code::NodeNumbering);
        let want = expected(&tools::model_key_of(&src), &tools::model_key_of(&fixed.source), renumbered);
        prop_assert_eq!(want, tools::model_key_of(&fixed.source), "\n{}\n---\n{}", src, fixed.source);
        // `fz diff` sees the repairs as changes of the same nodes and edges.
        let d = diff::diff(&before.diagram, &fixed.checked.diagram);
        prop_assert!(d.nodes.added.is_empty() && d.nodes.removed.is_empty(), "{:?}\n{}", d.nodes, src);
        prop_assert!(d.edges.added.is_empty() && d.edges.removed.is_empty(), "{:?}\n{}", d.edges, src);
        prop_assert!(d.lanes.added.is_empty() && d.lanes.removed.is_empty() && !d.edge_order_changed);
        // Fixing keeps the comments.
        prop_assert_eq!(src.matches("// a comment").count(), fixed.source.matches("// a comment").count());
    }

    #[test]
    fn fmt_fix_and_diff_never_panic_on_arbitrary_text(
        lines in prop::collection::vec(
            prop::collection::vec(
                prop::sample::select(vec![
                    "n1", "n2", "Lane", "A", " ", "{", "}", "#", ":", "=", "\"", "\\", "->", ".",
                    "handle(", "right", ")", "[", "]", "label", "loop", "//", "circle", "订", "🚀",
                    "\t", "\r", "x",
                ]),
                0..12,
            ).prop_map(|v| v.concat()),
            0..12,
        )
    ) {
        let src = lines.join("\n");
        if let Ok(out) = fmt::format_source(&src) {
            let again = fmt::format_source(&out);
            prop_assert_eq!(again.as_deref(), Ok(out.as_str()));
        } else if let Err(fmt::FmtError::Unsafe(why)) = fmt::format_source(&src) {
            prop_assert!(false, "fmt unsafe ({}) on:\n{}", why, src);
        }
        let fixed = fix::fix(&src);
        prop_assert!(fixed.is_ok(), "{:?}\n{}", fixed.err(), src);
        let a = model::check(&src);
        let b = model::check(&fixed.map(|f| f.source).unwrap_or_default());
        let _ = diff::diff(&a.diagram, &b.diagram).to_text();
    }
}
