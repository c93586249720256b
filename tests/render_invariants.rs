//! Invariants of the workflow drawing over the examples, the corpus (when `../shared/corpus`
//! is beside the clone) and generated diagrams: no two node boxes intersect, no label box
//! covers a node, every edge leaves and enters by the side its code names, every path is
//! orthogonal; the SVG is well-formed XML and the same bytes every time.

use std::path::{Path, PathBuf};

use fz::model::{self, Diagram, Handle};
use fz::render::geom::{Point, Rect};
use fz::render::{self, workflow, RenderOptions, View};
use proptest::prelude::*;

fn diagram_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("examples"), root.join("../shared/corpus")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "fz") {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    files
}

fn on_side(r: &Rect, h: Handle, p: Point) -> bool {
    let eps = 0.01;
    match h {
        Handle::Left => (p.x - r.x).abs() < eps && p.y >= r.y && p.y <= r.bottom(),
        Handle::Right => (p.x - r.right()).abs() < eps && p.y >= r.y && p.y <= r.bottom(),
        Handle::Top => (p.y - r.y).abs() < eps && p.x >= r.x && p.x <= r.right(),
        Handle::Bottom => (p.y - r.bottom()).abs() < eps && p.x >= r.x && p.x <= r.right(),
    }
}

/// Check every invariant; returns the first violation.
fn check_drawing(d: &Diagram) -> Result<(), String> {
    let opts = RenderOptions::default();
    let drawing = workflow::render(d, &opts);
    let nodes = &drawing.nodes;
    for (i, (a, ra)) in nodes.iter().enumerate() {
        for (b, rb) in &nodes[i + 1..] {
            if ra.intersects(rb) {
                return Err(format!("nodes {a} {ra:?} and {b} {rb:?} overlap"));
            }
        }
    }
    for l in &drawing.labels {
        for (id, r) in nodes {
            if l.intersects(r) {
                return Err(format!("label {l:?} covers node {id} {r:?}"));
            }
        }
    }
    let edges: Vec<_> = d.edges().collect();
    for (k, (ordinal, pts, sh, th)) in drawing.edges.iter().enumerate() {
        let (_, s, t, e) = edges[k];
        if *ordinal != e.ordinal {
            return Err(format!("edge {k} drawn out of order"));
        }
        if let Some(h) = e.source_handle {
            if h != *sh {
                return Err(format!(
                    "edge e{} leaves by {sh:?}, code says {h:?}",
                    ordinal + 1
                ));
            }
        }
        if let Some(h) = e.target_handle {
            if h != *th {
                return Err(format!(
                    "edge e{} enters by {th:?}, code says {h:?}",
                    ordinal + 1
                ));
            }
        }
        let (rs, rt) = (nodes[s.index()].1, nodes[t.index()].1);
        let (first, last) = (pts[0], pts[pts.len() - 1]);
        if !on_side(&rs, *sh, first) {
            return Err(format!(
                "edge e{} starts at {first:?}, not on {sh:?} of {rs:?}",
                ordinal + 1
            ));
        }
        if !on_side(&rt, *th, last) {
            return Err(format!(
                "edge e{} ends at {last:?}, not on {th:?} of {rt:?}",
                ordinal + 1
            ));
        }
        for w in pts.windows(2) {
            if (w[0].x - w[1].x).abs() > 1e-6 && (w[0].y - w[1].y).abs() > 1e-6 {
                return Err(format!("edge e{} is not orthogonal: {pts:?}", ordinal + 1));
            }
        }
    }
    for view in [View::Workflow, View::Sequence] {
        let o = RenderOptions {
            view,
            ..RenderOptions::default()
        };
        let svg = render::render_svg(d, &o);
        if let Err(e) = roxmltree::Document::parse(&svg) {
            return Err(format!("{view:?} SVG is not well-formed: {e}"));
        }
        if svg != render::render_svg(d, &o) {
            return Err(format!("{view:?} SVG differs between two runs"));
        }
        if svg.contains("<script") || svg.contains("href=") || svg.contains("@import") {
            return Err(format!("{view:?} SVG is not self-contained"));
        }
    }
    Ok(())
}

#[test]
fn examples_and_corpus_keep_the_invariants() {
    let files = diagram_files();
    assert!(!files.is_empty(), "no examples found");
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let checked = model::check(&text);
        if checked.has_errors() {
            continue;
        }
        if let Err(e) = check_drawing(&checked.diagram) {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn adversarial_labels_are_escaped() {
    let src = "A { # Lane\nn1: rectangle label:\"x\"\nn2: diamond label:\"y\"\nn1.handle(right) -> n2.handle(left) [label=\"z\"]\nloop [c] n1 n2\n}\n";
    let mut checked = model::check(src);
    assert!(!checked.has_errors());
    let nasty = "<script>alert('x')</script> & \"q\" ]]> \u{1}\u{7}\u{b} end";
    for node in checked.diagram.graph.node_weights_mut() {
        for a in &mut node.attributes {
            a.value = nasty.to_string();
        }
    }
    for e in checked.diagram.graph.edge_weights_mut() {
        e.label = Some(nasty.to_string());
    }
    checked.diagram.lanes[0].label = Some(nasty.to_string());
    checked.diagram.loops[0].condition = nasty.to_string();
    let mut opts = RenderOptions::default();
    opts.node_style.insert(
        "n1".into(),
        render::NodeStyle {
            fill: Some("red\" onload=\"alert(1)".into()),
            stroke: Some("#123456".into()),
            badge: Some(nasty.into()),
        },
    );
    for view in [View::Workflow, View::Sequence] {
        opts.view = view;
        let svg = render::render_svg(&checked.diagram, &opts);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("onload"));
        assert!(svg.contains("]]&gt;"));
        // The text survives, minus the control characters.
        let texts: String = doc
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        assert!(texts.contains("<script>alert('x')</script>"), "{texts}");
    }
    check_drawing(&checked.diagram).unwrap();
}

#[test]
fn node_styles_colour_and_badge() {
    let src = "A { # Lane\nn1: rectangle label:\"Hot\"\nn2: rectangle label:\"Cold\"\nn1.handle(right) -> n2.handle(left)\n}\n";
    let checked = model::check(src);
    let mut opts = RenderOptions::default();
    opts.node_style.insert(
        "n1".into(),
        render::NodeStyle {
            fill: Some("#ff0000".into()),
            stroke: None,
            badge: Some("97%".into()),
        },
    );
    let svg = render::render_svg(&checked.diagram, &opts);
    assert!(svg.contains("fill=\"#ff0000\""));
    assert!(svg.contains(">97%<"));
    assert!(svg.contains("class=\"badge\""));
}

#[test]
fn png_has_pixels_and_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/cqrs-materialized-views.fz")).unwrap();
    let checked = model::check(&text);
    let png = render::render_png(&checked.diagram, &RenderOptions::default()).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000);
    // Same bytes each time.
    assert_eq!(
        png,
        render::render_png(&checked.diagram, &RenderOptions::default()).unwrap()
    );
}

#[test]
fn empty_and_edge_only_diagrams_render() {
    for src in [
        "",
        "A {\n}\n",
        "A { # x\nn1: circle label:\"s\"\nn1.handle(right) -> n1.handle(left)\n}\n",
    ] {
        let checked = model::check(src);
        for view in [View::Workflow, View::Sequence] {
            let svg = render::render_svg(
                &checked.diagram,
                &RenderOptions {
                    view,
                    ..RenderOptions::default()
                },
            );
            roxmltree::Document::parse(&svg).expect("well-formed");
        }
    }
}

const SHAPES: [&str; 4] = ["circle", "rectangle", "diamond", "taskbox"];
const HANDLES: [&str; 4] = ["left", "right", "top", "bottom"];

fn label() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "Order",
            "A",
            "very-long-word-without-any-space-at-all",
            "事件总线",
            "<",
            "&",
            "'",
            ">",
            "]]>",
            "x",
            "Validate Against Aggregate",
            "é",
            "/",
            "  ",
        ]),
        1..6,
    )
    .prop_map(|v| v.join(" "))
}

#[derive(Debug, Clone)]
struct Gen {
    lanes: usize,
    nodes: Vec<(usize, usize, String)>,
    edges: Vec<(usize, usize, usize, usize, Option<String>)>,
    looped: Vec<usize>,
}

fn gen() -> impl Strategy<Value = Gen> {
    (1usize..5, 1usize..14).prop_flat_map(|(lanes, n)| {
        (
            Just(lanes),
            prop::collection::vec((0..lanes, 0usize..4, label()), n..=n),
            prop::collection::vec(
                (0..n, 0..n, 0usize..4, 0usize..4, prop::option::of(label())),
                0..(2 * n),
            ),
            prop::collection::vec(0..n, 0..4),
        )
            .prop_map(|(lanes, nodes, edges, looped)| Gen {
                lanes,
                nodes,
                edges,
                looped,
            })
    })
}

fn source(g: &Gen) -> String {
    let mut s = String::new();
    for l in 0..g.lanes {
        s.push_str(&format!("L{l} {{ # Lane {l}\n"));
        for (i, (lane, shape, lab)) in g.nodes.iter().enumerate() {
            if *lane != l {
                continue;
            }
            if SHAPES[*shape] == "taskbox" {
                s.push_str(&format!(
                    "n{}: taskbox owner:\"{lab}\" description:\"{lab}\" system:\"CI\"\n",
                    i + 1
                ));
            } else {
                s.push_str(&format!("n{}: {} label:\"{lab}\"\n", i + 1, SHAPES[*shape]));
            }
        }
        for (a, b, ha, hb, lab) in &g.edges {
            if g.nodes[*a].0 != l {
                continue;
            }
            let target = if g.nodes[*b].0 == l {
                format!("n{}", b + 1)
            } else {
                format!("L{}.n{}", g.nodes[*b].0, b + 1)
            };
            s.push_str(&format!(
                "n{}.handle({}) -> {target}.handle({})",
                a + 1,
                HANDLES[*ha],
                HANDLES[*hb]
            ));
            if let Some(lab) = lab {
                s.push_str(&format!(" [label=\"{lab}\"]"));
            }
            s.push('\n');
        }
        s.push_str("}\n");
    }
    if !g.looped.is_empty() {
        let ids: Vec<String> = g
            .looped
            .iter()
            .map(|&i| format!("L{}.n{}", g.nodes[i].0, i + 1))
            .collect();
        s.push_str(&format!("loop [again] {}\n", ids.join(" ")));
    }
    s
}

/// Every `.fz` under `tests/` (fixtures, UI cases with errors): the model of a broken file is
/// partial, and drawing it must still not panic and must still give well-formed SVG.
#[test]
fn broken_and_partial_models_render() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "fz") {
                    out.push(p);
                }
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        &mut files,
    );
    files.sort();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let checked = model::check(&text);
        for view in [View::Workflow, View::Sequence] {
            let svg = render::render_svg(
                &checked.diagram,
                &RenderOptions {
                    view,
                    ..RenderOptions::default()
                },
            );
            assert!(
                roxmltree::Document::parse(&svg).is_ok(),
                "{}: {view:?} SVG is not well-formed",
                f.display()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary text built from the language's pieces: whatever model comes out is drawn
    /// without panicking.
    #[test]
    fn arbitrary_sources_render(pieces in prop::collection::vec(prop::sample::select(vec![
        "A { # a\n", "B {\n", "}\n", "n1: circle label:\"x\"\n", "n2: diamond label:\"<&>\"\n",
        "n3: taskbox owner:\"o\"\n", "n1.handle(right) -> n2.handle(left)\n",
        "n2.handle(bottom) -> B.n3.handle(top) [label=\"]]>\"]\n", "n3 -> n1\n", "n1 -> n1\n",
        "loop [x] n1 n2 n3\n", "loop [] n9\n", "n2.handle(top) -> n2.handle(top)\n", "\"", "{", "->",
    ]), 0..40)) {
        let src: String = pieces.concat();
        let checked = model::check(&src);
        for view in [View::Workflow, View::Sequence] {
            let svg = render::render_svg(&checked.diagram, &RenderOptions { view, ..RenderOptions::default() });
            prop_assert!(roxmltree::Document::parse(&svg).is_ok());
        }
    }

    #[test]
    fn generated_diagrams_keep_the_invariants(g in gen()) {
        let src = source(&g);
        let checked = model::check(&src);
        if let Err(e) = check_drawing(&checked.diagram) {
            return Err(TestCaseError::fail(format!("{e}\n{src}")));
        }
    }
}
