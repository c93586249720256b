//! Property test of `fz fmt` on generated diagrams: random lanes (every header and label
//! form), nodes whose strings hold quotes, backslashes, `->`, `]`, CJK and emoji, random
//! indentation and blank lines, LF or CRLF, comments, edges with and without lane prefixes,
//! handles and labels, loops in lanes and after the last lane. For each:
//! `check(fmt(x))` has the same model as `check(x)`, and `fmt(fmt(x)) == fmt(x)`.

mod support;
use support::cases;

use proptest::prelude::*;

use fz::model;
use fz::syntax;
use fz::tools::{self, diff, fmt};

const LANE_IDS: [&str; 6] = ["finance_app", "Worker1", "n8nTrigger", "user", "Lane", "B"];

/// A string body as written in the source: plain characters and escapes.
fn string_body() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => prop::sample::select(vec![
            "a", "Z", " ", "->", "]", "[", ":", "=", "#", "{", "}", "/", "?", "订单", "処理", "🚀",
            "|", "(", ")", ">", "<", "$", "%", "&", "+", "!", "^", "*", ".", ",", "'",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec!["\\\"", "\\\\", "\\n", "\\t"]).prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

/// Free text for comments and lane labels (no line ends).
fn free_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "x", " ", "}", "{", "#", "//", "订", "->", "\"", "\\", "\t",
        ]),
        0..6,
    )
    .prop_map(|v| v.concat())
}

fn loop_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["retry", " ", "3", "[", "订", "<", "\""]),
        0..5,
    )
    .prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
struct Spec {
    lanes: Vec<LaneSpec>,
    /// Node k: (lane, shape, attributes (key, colon, body)).
    nodes: Vec<NodeSpec>,
    /// (source, target, lane it stands in (None: after the last lane), prefix source,
    /// prefix target, source handle, target handle, label (colon, body)).
    edges: Vec<EdgeSpec>,
    loops: Vec<LoopSpec>,
    comments: Vec<(usize, String)>,
    ids: Vec<u32>,
    indent: Vec<&'static str>,
    crlf: bool,
    blank_every: usize,
}

/// (lane, shape, attributes (key, colon, body)).
type NodeSpec = (usize, &'static str, Vec<(&'static str, bool, String)>);
/// (lane it stands in (None: after the last lane), condition, (node, lane prefix)).
type LoopSpec = (Option<usize>, String, Vec<(usize, bool)>);

#[derive(Debug, Clone)]
struct LaneSpec {
    /// 0: none, 1: `{ # L`, 2: `{# L`, 3: own line.
    label_form: u8,
    label: String,
}

type EdgeSpec = (
    usize,
    usize,
    Option<usize>,
    bool,
    bool,
    Option<&'static str>,
    Option<&'static str>,
    Option<(bool, String)>,
);

fn handle() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::weighted(
        0.8,
        prop::sample::select(vec!["left", "right", "top", "bottom"]),
    )
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..=4, 1usize..=8).prop_flat_map(|(nl, nn)| {
        let lanes = prop::collection::vec(
            (0u8..4, free_text()).prop_map(|(label_form, label)| LaneSpec { label_form, label }),
            nl,
        );
        let attr = (
            prop::sample::select(vec!["label", "owner", "description", "system"]),
            any::<bool>(),
            string_body(),
        );
        let nodes = prop::collection::vec(
            (
                0..nl,
                prop::sample::select(vec!["circle", "rectangle", "diamond", "taskbox"]),
                prop::collection::vec(attr, 0..3),
            ),
            nn,
        );
        let edge = (
            0..nn,
            0..nn,
            prop::option::weighted(0.85, 0..nl),
            any::<bool>(),
            any::<bool>(),
            handle(),
            handle(),
            prop::option::of((any::<bool>(), string_body())),
        );
        let edges = prop::collection::vec(edge, 0..10);
        let loops = prop::collection::vec(
            (
                prop::option::weighted(0.7, 0..nl),
                loop_text(),
                prop::collection::vec((0..nn, any::<bool>()), 0..4),
            ),
            0..3,
        );
        let comments = prop::collection::vec((0usize..40, free_text()), 0..4);
        let ids = Just((1..=nn as u32).collect::<Vec<_>>()).prop_shuffle();
        let indent = prop::collection::vec(prop::sample::select(vec!["", "  ", "\t", "    "]), 64);
        (
            lanes,
            nodes,
            edges,
            loops,
            comments,
            ids,
            indent,
            any::<bool>(),
            1usize..8,
        )
            .prop_map(
                |(lanes, nodes, edges, loops, comments, ids, indent, crlf, blank_every)| Spec {
                    lanes,
                    nodes,
                    edges,
                    loops,
                    comments,
                    ids,
                    indent,
                    crlf,
                    blank_every,
                },
            )
    })
}

/// Write a spec as a `.fz` source.
fn render(s: &Spec, order_seed: u64) -> String {
    let id = |k: usize| format!("n{}", s.ids[k]);
    let lane_of = |k: usize| s.nodes[k].0;
    let node_ref = |k: usize, prefix: bool| {
        if prefix {
            format!("{}.{}", LANE_IDS[lane_of(k)], id(k))
        } else {
            id(k)
        }
    };
    let end = |k: usize, prefix: bool, h: Option<&str>| {
        let mut t = node_ref(k, prefix);
        if let Some(h) = h {
            t.push_str(&format!(".handle({h})"));
        }
        t
    };
    let edge_line = |e: &EdgeSpec| {
        let (a, b, _, pa, pb, ha, hb, label) = e;
        let mut t = format!(
            "{}{}->{}{}",
            end(*a, *pa, *ha),
            // `n1->` would read as the id `n1-`: a bare end needs a space before `->`.
            if order_seed % 2 == 0 || ha.is_none() {
                " "
            } else {
                ""
            },
            if order_seed % 3 == 0 { "" } else { " " },
            end(*b, *pb, *hb)
        );
        if let Some((colon, body)) = label {
            t.push_str(&format!(
                " [label{}\"{body}\"]",
                if *colon { ":" } else { "=" }
            ));
        }
        t
    };
    let loop_line = |(_, cond, refs): &LoopSpec| {
        let mut t = format!("loop [{cond}]");
        for (k, p) in refs {
            t.push(' ');
            t.push_str(&node_ref(*k, *p));
        }
        t
    };
    let mut lines: Vec<String> = Vec::new();
    let mut comment_at = 0usize;
    for (li, lane) in s.lanes.iter().enumerate() {
        let lid = LANE_IDS[li];
        match lane.label_form {
            0 => lines.push(format!("{lid} {{")),
            1 => lines.push(format!("{lid} {{ # {}", lane.label)),
            2 => lines.push(format!("{lid} {{# {}", lane.label)),
            _ => {
                lines.push(format!("{lid} {{"));
                lines.push(format!("# {}", lane.label));
            }
        }
        let mut body: Vec<String> = Vec::new();
        for (k, (l, shape, attrs)) in s.nodes.iter().enumerate() {
            if *l != li {
                continue;
            }
            let mut t = format!("{}: {shape}", id(k));
            for (key, colon, v) in attrs {
                t.push_str(&format!(" {key}{}\"{v}\"", if *colon { ":" } else { "=" }));
            }
            body.push(t);
        }
        for e in s.edges.iter().filter(|e| e.2 == Some(li)) {
            body.push(edge_line(e));
        }
        for l in s.loops.iter().filter(|l| l.0 == Some(li)) {
            body.push(loop_line(l));
        }
        // A deterministic shuffle: nodes may come after the edges that use them.
        if order_seed % 5 != 0 && body.len() > 1 {
            let r = (order_seed as usize) % body.len();
            body.rotate_left(r);
        }
        for b in body {
            comment_at += 1;
            for (at, c) in &s.comments {
                if *at == comment_at {
                    lines.push(format!("//{c}"));
                }
            }
            lines.push(b);
            if comment_at % s.blank_every == 0 {
                lines.push(String::new());
            }
        }
        lines.push("}".into());
        lines.push(String::new());
    }
    for e in s.edges.iter().filter(|e| e.2.is_none()) {
        lines.push(edge_line(e));
    }
    for l in s.loops.iter().filter(|l| l.0.is_none()) {
        lines.push(loop_line(l));
    }
    let nl = if s.crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if !l.is_empty() && !l.starts_with('#') {
            out.push_str(s.indent[i % s.indent.len()]);
        }
        out.push_str(l);
        out.push_str(nl);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn fmt_keeps_the_model_and_is_idempotent(s in spec(), seed in 0u64..30) {
        let src = render(&s, seed);
        let parsed = syntax::parse(&src);
        prop_assert!(
            parsed.diagnostics.iter().all(|d| !d.is_error()),
            "generator wrote a syntax error: {:?}\n{}", parsed.diagnostics, src
        );
        let once = fmt::format_unchecked(&src).expect("formats");
        prop_assert_eq!(tools::model_key_of(&src), tools::model_key_of(&once), "model changed:\n{}\n---\n{}", src, once);
        let twice = fmt::format_unchecked(&once).expect("formats again");
        prop_assert_eq!(&twice, &once, "not idempotent");
        let (a, b) = (model::check(&src), model::check(&once));
        prop_assert!(diff::diff(&a.diagram, &b.diagram).equal);
        prop_assert_eq!(a.diagnostics.len(), b.diagnostics.len());
    }
}
