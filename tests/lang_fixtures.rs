//! Every language variant seen in published FlowZap diagrams, in the project's own fixtures:
//! each checks with no errors, has the expected counts and warnings, and exports to JSON, DOT
//! and Mermaid (DOT rendered by Graphviz when `dot` is installed).

use std::path::Path;
use std::process::Command;

use fz::export::{self, Format};
use fz::model;
use fz::syntax::LineIndex;

/// file, lanes, nodes, edges, loops, cross-lane edges, warning codes in order.
type Expected = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    &'static [&'static str],
);

const EXPECTED: &[Expected] = &[
    ("all-handles.fz", 1, 2, 16, 0, 0, &[]),
    ("attribute-forms.fz", 1, 5, 5, 0, 0, &["W101", "W102"]),
    ("crlf.fz", 2, 3, 3, 0, 2, &[]),
    ("fan-out-ten.fz", 1, 11, 11, 0, 0, &[]),
    ("indentation-and-blank-lines.fz", 2, 4, 4, 0, 2, &[]),
    ("labels-with-punctuation.fz", 1, 5, 4, 0, 0, &[]),
    ("lane-header-forms.fz", 4, 5, 7, 0, 6, &["W111"]),
    ("loops-everywhere.fz", 3, 5, 6, 4, 3, &["W109"]),
    ("out-of-order-ids.fz", 2, 5, 5, 0, 2, &[]),
    (
        "prefixes-and-placement.fz",
        3,
        5,
        5,
        0,
        3,
        &["W104", "W109"],
    ),
    ("taskbox-only.fz", 1, 1, 0, 0, 0, &["W106"]),
];

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lang")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_is_covered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lang");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".fz"))
        .collect();
    files.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    assert_eq!(files, listed);
}

#[test]
fn fixtures_check_clean_with_expected_counts() {
    for &(name, lanes, nodes, edges, loops, cross, warnings) in EXPECTED {
        let src = fixture(name);
        let c = model::check(&src);
        let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, warnings, "{name}: diagnostics {:#?}", c.diagnostics);
        let d = &c.diagram;
        let got = (
            d.lanes.len(),
            d.node_count(),
            d.edge_count(),
            d.loops.len(),
            d.edges().filter(|e| e.3.cross_lane).count(),
        );
        assert_eq!(got, (lanes, nodes, edges, loops, cross), "{name}");
    }
}

#[test]
fn fixtures_export_to_every_format_with_the_same_counts() {
    for &(name, lanes, nodes, edges, _, cross, _) in EXPECTED {
        let src = fixture(name);
        let c = model::check(&src);
        let index = LineIndex::new(&src);
        let json: serde_json::Value =
            serde_json::from_str(&export::export(Format::Json, &c.diagram, &src, &index)).unwrap();
        let stats = &json["stats"];
        assert_eq!(stats["laneCount"], lanes, "{name}");
        assert_eq!(stats["nodeCount"], nodes, "{name}");
        assert_eq!(stats["edgeCount"], edges, "{name}");
        assert_eq!(stats["crossLaneEdges"], cross, "{name}");
        assert_eq!(json["nodes"].as_array().unwrap().len(), nodes);
        assert_eq!(json["edges"].as_array().unwrap().len(), edges);

        let dot = export::export(Format::Dot, &c.diagram, &src, &index);
        assert_eq!(dot.matches("subgraph \"cluster_").count(), lanes, "{name}");
        let dot_edges = dot
            .lines()
            .filter(|l| l.starts_with("  \"") && l.contains("\" -> \""))
            .count();
        assert_eq!(dot_edges, edges, "{name}");

        let mermaid = export::export(Format::Mermaid, &c.diagram, &src, &index);
        assert!(mermaid.starts_with("flowchart LR\n"));
        assert_eq!(mermaid.matches("  subgraph ").count(), lanes, "{name}");
        assert_eq!(
            mermaid.matches(" --> ").count() + mermaid.matches(" -->|").count(),
            edges,
            "{name}"
        );
    }
}

#[test]
fn crlf_and_cjk_columns_point_at_the_right_character() {
    let src = "L { # L\r\nn1: rectangle label:\"订单\" bogus:\"x\"\r\n}\r\n";
    let c = model::check(src);
    let json = fz::diagnostic::to_json("t.fz", src, &LineIndex::new(src), &c.diagnostics);
    let w = json.iter().find(|d| d.code == "W108").unwrap();
    // `bogus` starts after `n1: rectangle label:"订单" `, 25 characters: column 26.
    assert_eq!((w.line, w.column, w.end_line, w.end_column), (2, 26, 2, 31));
}

#[test]
fn exports_of_the_seed_are_stable() {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cqrs-materialized-views.fz"),
    )
    .unwrap();
    let c = model::check(&src);
    let index = LineIndex::new(&src);
    insta::assert_snapshot!(
        "seed_json",
        export::export(Format::Json, &c.diagram, &src, &index)
    );
    insta::assert_snapshot!(
        "seed_dot",
        export::export(Format::Dot, &c.diagram, &src, &index)
    );
    insta::assert_snapshot!(
        "seed_mermaid",
        export::export(Format::Mermaid, &c.diagram, &src, &index)
    );
}

#[test]
fn mermaid_and_dot_escape_adversarial_labels() {
    let src = fixture("labels-with-punctuation.fz");
    let c = model::check(&src);
    let index = LineIndex::new(&src);
    insta::assert_snapshot!(
        "punctuation_mermaid",
        export::export(Format::Mermaid, &c.diagram, &src, &index)
    );
    insta::assert_snapshot!(
        "punctuation_dot",
        export::export(Format::Dot, &c.diagram, &src, &index)
    );
}

/// Graphviz must accept every DOT export (CI installs graphviz; skipped where `dot` is absent).
#[test]
fn graphviz_renders_every_dot_export() {
    if Command::new("dot").arg("-V").output().is_err() {
        eprintln!("skipping: graphviz `dot` not installed");
        return;
    }
    let mut sources: Vec<(String, String)> = EXPECTED
        .iter()
        .map(|e| (e.0.to_string(), fixture(e.0)))
        .collect();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")).unwrap()
    {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "fz") {
            sources.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    for (name, src) in sources {
        let c = model::check(&src);
        let dot = export::export(Format::Dot, &c.diagram, &src, &LineIndex::new(&src));
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("g.dot");
        std::fs::write(&input, dot).unwrap();
        let out = Command::new("dot")
            .arg("-Tsvg")
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("<svg"),
            "{name}"
        );
    }
}
