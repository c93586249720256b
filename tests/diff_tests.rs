//! `fz diff`: snapshots of text and JSON diffs over the tools fixtures, matching of
//! renumbered nodes, equality after formatting, and the command line's exit codes.

mod support;
use support::run;

use std::path::{Path, PathBuf};

use fz::model;
use fz::tools::{diff, fix, fmt};

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tools")
        .join(name)
}

fn load(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap()
}

fn diff_of(a: &str, b: &str) -> diff::DiagramDiff {
    let (a, b) = (model::check(a), model::check(b));
    assert!(!a.has_errors() && !b.has_errors());
    diff::diff(&a.diagram, &b.diagram)
}

#[test]
fn edits_are_listed_in_text_and_json() {
    let d = diff_of(&load("diff-old.fz"), &load("diff-new.fz"));
    assert!(!d.equal);
    insta::assert_snapshot!("diff_old_new_text", d.to_text());
    insta::assert_snapshot!("diff_old_new_json", d.to_json());
}

#[test]
fn renumbered_nodes_are_matched_by_label_and_position() {
    let d = diff_of(&load("diff-old.fz"), &load("diff-renumbered.fz"));
    assert!(d.nodes.added.is_empty() && d.nodes.removed.is_empty());
    assert!(d.edges.is_empty() && d.loops.is_empty() && !d.edge_order_changed);
    assert_eq!(d.nodes.changed.len(), 7);
    let relabelled: Vec<_> = d
        .nodes
        .changed
        .iter()
        .filter(|c| c.label.is_some())
        .collect();
    assert_eq!(relabelled.len(), 1);
    assert_eq!(relabelled[0].id, "n17");
    insta::assert_snapshot!("diff_old_renumbered_text", d.to_text());
}

#[test]
fn swapped_ids_are_a_renumbering_not_two_relabels() {
    let a = "A { # A\nn1: circle label:\"x\"\nn2: rectangle label:\"y\"\nn1.handle(right) -> n2.handle(left)\n}\n";
    let b = "A { # A\nn2: circle label:\"x\"\nn1: rectangle label:\"y\"\nn2.handle(right) -> n1.handle(left)\n}\n";
    let d = diff_of(a, b);
    assert!(d.edges.is_empty());
    assert!(d
        .nodes
        .changed
        .iter()
        .all(|c| c.renumbered.is_some() && c.label.is_none()));
}

#[test]
fn a_diagram_equals_its_formatted_and_its_fixed_spelling() {
    for entry in std::fs::read_dir(path("")).unwrap() {
        let p = entry.unwrap().path();
        let src = std::fs::read_to_string(&p).unwrap();
        if model::check(&src).has_errors() {
            continue;
        }
        let d = diff_of(&src, &src);
        assert!(d.equal, "{}", p.display());
        assert_eq!(d.to_text(), "no structural differences\n");
        let formatted = fmt::format_source(&src).unwrap();
        assert!(diff_of(&src, &formatted).equal, "{}", p.display());
    }
    // W101/W102/W103 repairs change spelling only.
    for name in ["fix-w101.fz", "fix-w102.fz", "fix-w103.fz"] {
        let src = load(name);
        let fixed = fix::fix(&src).unwrap().source;
        assert!(diff_of(&src, &fixed).equal, "{name}");
    }
}

#[test]
fn edge_order_and_duplicate_edges() {
    let a = "A { # A\nn1: circle label:\"x\"\nn2: circle label:\"y\"\nn1.handle(right) -> n2.handle(left) [label=\"1\"]\nn1.handle(right) -> n2.handle(left) [label=\"2\"]\n}\n";
    let b = "A { # A\nn1: circle label:\"x\"\nn2: circle label:\"y\"\nn1.handle(right) -> n2.handle(left) [label=\"2\"]\nn1.handle(right) -> n2.handle(left) [label=\"1\"]\n}\n";
    let d = diff_of(a, b);
    assert!(d.edges.is_empty(), "{:?}", d.edges);
    assert!(d.edge_order_changed && !d.equal);
}

// ---- the command line ----

#[test]
fn cli_exit_codes() {
    let (old, new) = (path("diff-old.fz"), path("diff-new.fz"));
    let (code, out, _) = run(&["diff".as_ref(), old.as_os_str(), old.as_os_str()]);
    assert_eq!((code, out.as_str()), (0, "no structural differences\n"));
    let (code, out, _) = run(&["diff".as_ref(), old.as_os_str(), new.as_os_str()]);
    assert_eq!(code, 1);
    assert!(out.contains("+ Ship"), "{out}");
    let (code, out, _) = run(&[
        "diff".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        old.as_os_str(),
        new.as_os_str(),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["equal"], false);
    let bad = path("syntax-error.fz");
    let (code, _, err) = run(&["diff".as_ref(), old.as_os_str(), bad.as_os_str()]);
    assert_eq!(code, 2);
    assert!(err.contains("has errors"), "{err}");
    let missing = path("missing.fz");
    assert_eq!(
        run(&["diff".as_ref(), old.as_os_str(), missing.as_os_str()]).0,
        2
    );
}

#[test]
fn what_fix_changes_in_each_fixture() {
    let mut names: Vec<String> = std::fs::read_dir(path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".fz"))
        .collect();
    names.sort();
    for name in names {
        let src = load(&name);
        if model::check(&src).has_errors() {
            continue;
        }
        let fixed = fix::fix(&src).unwrap().source;
        let d = diff_of(&src, &fixed);
        assert!(
            d.nodes.added.is_empty() && d.nodes.removed.is_empty(),
            "{name}"
        );
        assert!(
            d.edges.added.is_empty() && d.edges.removed.is_empty(),
            "{name}"
        );
        insta::assert_snapshot!(
            format!("diff_fix_{}", name.trim_end_matches(".fz")),
            d.to_text()
        );
    }
}
