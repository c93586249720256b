//! Property tests of the parser.
//!
//! - The byte-scanner fast path must agree with the pest grammar exactly (same tree, same
//!   spans, same diagnostics) on any input, well formed or not.
//! - No input panics, and the model is always built.

use proptest::prelude::*;

use fz::syntax::{parse, parse_with_grammar_only};

/// Tokens that matter to the grammar, so random lines hit its corners.
const TOKENS: &[&str] = &[
    "n1",
    "n22",
    "Lane",
    "lane_2",
    "a-b",
    ".",
    "handle",
    "(",
    ")",
    "right",
    "left",
    "top",
    "bottom",
    "middle",
    "->",
    "-",
    ">",
    " ",
    "  ",
    "\t",
    ":",
    "=",
    "\"",
    "label",
    "owner",
    "[",
    "]",
    "\\",
    "\\\"",
    "x",
    "订单",
    "🚀",
    "circle",
    "rectangle",
    "taskbox",
    "#",
    "{",
    "}",
    "loop",
    "//",
    "\r",
    "é",
];

fn token_line() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..16).prop_map(|t| t.concat())
}

fn ident() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["n1", "n2", "n10", "A", "Lane1", "x_y", "a-b"]).prop_map(String::from)
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a", " ", "->", ":", "[", "]", "订", "\\\"", "\\\\", "\\n", "=", "#", "}",
        ]),
        0..6,
    )
    .prop_map(|t| t.concat())
}

fn ws() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", " ", "  ", "\t"]).prop_map(String::from)
}

fn endpoint() -> impl Strategy<Value = String> {
    (
        prop::option::of(ident()),
        ident(),
        prop::option::of((ws(), ident(), ws())),
    )
        .prop_map(|(lane, node, handle)| {
            let mut s = String::new();
            if let Some(l) = lane {
                s.push_str(&l);
                s.push('.');
            }
            s.push_str(&node);
            if let Some((a, dir, b)) = handle {
                s.push_str(&format!(".handle{a}({dir}{b})"));
            }
            s
        })
}

fn node_line() -> impl Strategy<Value = String> {
    (
        ws(),
        ident(),
        ws(),
        ident(),
        prop::collection::vec((ws(), ident(), prop::bool::ANY, text()), 0..4),
        ws(),
    )
        .prop_map(|(w0, id, w1, shape, attrs, w2)| {
            let mut s = format!("{w0}{id}{w1}:{w1}{shape}");
            for (w, k, colon, v) in attrs {
                s.push_str(&format!(" {w}{k}{}\"{v}\"", if colon { ':' } else { '=' }));
            }
            s.push_str(&w2);
            s
        })
}

fn edge_line() -> impl Strategy<Value = String> {
    (
        ws(),
        endpoint(),
        ws(),
        endpoint(),
        prop::option::of((ws(), prop::bool::ANY, text())),
        ws(),
    )
        .prop_map(|(w0, a, w1, b, label, w2)| {
            let mut s = format!("{w0}{a}{w1}->{w1}{b}");
            if let Some((w, eq, t)) = label {
                s.push_str(&format!(
                    "{w}[{w}label{w}{}{w}\"{t}\"{w}]",
                    if eq { '=' } else { ':' }
                ));
            }
            s.push_str(&w2);
            s
        })
}

/// A line: well formed, or well formed with a random cut or insertion, or random tokens.
fn line() -> impl Strategy<Value = String> {
    let good = prop_oneof![node_line(), edge_line()];
    prop_oneof![
        3 => good.clone(),
        2 => (good.clone(), any::<prop::sample::Index>()).prop_map(|(l, i)| {
            let cut = i.index(l.len() + 1);
            let cut = (0..=cut).rev().find(|&c| l.is_char_boundary(c)).unwrap_or(0);
            l[..cut].to_string()
        }),
        2 => (good, any::<prop::sample::Index>(), prop::sample::select(TOKENS)).prop_map(|(l, i, t)| {
            let at = i.index(l.len() + 1);
            let at = (0..=at).rev().find(|&c| l.is_char_boundary(c)).unwrap_or(0);
            format!("{}{t}{}", &l[..at], &l[at..])
        }),
        1 => token_line(),
    ]
}

fn source() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..12).prop_map(|lines| {
        let mut s = String::from("Lane { # L\n");
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
        s.push_str("}\n");
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_agrees_with_grammar(src in source()) {
        let fast = parse(&src);
        let pest = parse_with_grammar_only(&src);
        prop_assert_eq!(fast, pest);
    }

    #[test]
    fn any_input_is_checked_without_panic(src in source()) {
        let c = fz::model::check(&src);
        prop_assert!(c.diagram.node_count() <= src.lines().count());
    }

    #[test]
    fn arbitrary_text_is_checked_without_panic(src in "\\PC{0,200}") {
        let _ = fz::model::check(&src);
    }

    /// `fz check` takes the diagnostics without building the diagram: the very same list.
    #[test]
    fn diagnostics_alone_are_those_of_check(src in source()) {
        prop_assert_eq!(fz::model::diagnostics(&src), fz::model::check(&src).diagnostics);
    }

    /// The diagram built from a parsed tree is the one built while parsing.
    #[test]
    fn lowering_a_tree_builds_the_same_diagram(src in source()) {
        let parsed = parse(&src);
        let mut diags = Vec::new();
        let lowered = fz::model::lower(&parsed.file, &mut diags);
        let checked = fz::model::check(&src);
        prop_assert_eq!(format!("{:?}", lowered.graph), format!("{:?}", checked.diagram.graph));
        prop_assert_eq!(lowered.lanes, checked.diagram.lanes);
        prop_assert_eq!(lowered.loops, checked.diagram.loops);
    }
}
