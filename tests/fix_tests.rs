//! `fz fix`: every repair removes its warning and keeps the model otherwise; snapshots of
//! the repaired fixtures and the repair lists; idempotence; the command line.

mod support;
use support::run;

use std::path::{Path, PathBuf};

use serde_json::Value;

use fz::diagnostic::Code;
use fz::model;
use fz::syntax::LineIndex;
use fz::tools::{self, diff, fix};

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tools")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn all_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "fz"))
        .collect();
    v.sort();
    v
}

fn codes(src: &str) -> Vec<Code> {
    model::check(src)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

/// The repaired text and the repair list, as the snapshot shows them.
fn report(src: &str, fixed: &fix::Fixed) -> String {
    let index = LineIndex::new(src);
    let mut s = String::new();
    for r in &fixed.repairs {
        let at = index.line_col(src, r.span.start as usize);
        s.push_str(&format!(
            "{}:{} {} {}\n",
            at.line,
            at.column,
            r.code.as_str(),
            r.message
        ));
    }
    for n in &fixed.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    let remaining: Vec<&str> = fixed
        .checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    s.push_str(&format!("remaining: {remaining:?}\n----\n"));
    s.push_str(&fixed.source);
    s
}

/// Fix `name`, check that `code` was there before and is gone after, and snapshot it.
fn repairs(name: &str, code: Code) -> (String, fix::Fixed) {
    let src = fixture(name);
    assert!(codes(&src).contains(&code), "{name}: no {code:?} to repair");
    let fixed = fix::fix(&src).expect("fix");
    assert!(
        !codes(&fixed.source).contains(&code),
        "{name}: {code:?} remains:\n{}",
        fixed.source
    );
    assert!(fixed.repairs.iter().any(|r| r.code == code));
    assert!(!fixed.checked.has_errors());
    insta::assert_snapshot!(
        format!("fix_{}", name.trim_end_matches(".fz")),
        report(&src, &fixed)
    );
    // Fixing again changes nothing.
    let again = fix::fix(&fixed.source).unwrap();
    assert!(
        again.repairs.is_empty(),
        "{name}: second fix repaired {:?}",
        again.repairs
    );
    assert_eq!(again.source, fixed.source);
    (src, fixed)
}

#[test]
fn w101_attribute_equals_keeps_the_model() {
    let (src, fixed) = repairs("fix-w101.fz", Code::AttributeEquals);
    assert_eq!(
        tools::model_key_of(&src),
        tools::model_key_of(&fixed.source)
    );
}

#[test]
fn w102_edge_label_colon_keeps_the_model() {
    let (src, fixed) = repairs("fix-w102.fz", Code::EdgeLabelColon);
    assert_eq!(
        tools::model_key_of(&src),
        tools::model_key_of(&fixed.source)
    );
}

#[test]
fn w103_missing_prefix_keeps_the_model() {
    let (src, fixed) = repairs("fix-w103.fz", Code::MissingLanePrefix);
    assert_eq!(
        tools::model_key_of(&src),
        tools::model_key_of(&fixed.source)
    );
}

#[test]
fn w104_wrong_prefix_keeps_the_model() {
    let (src, fixed) = repairs("fix-w104.fz", Code::WrongLanePrefix);
    assert_eq!(
        tools::model_key_of(&src),
        tools::model_key_of(&fixed.source)
    );
}

#[test]
fn w111_lane_label_keeps_the_model() {
    // The JSON export shows a lane's display label, which is its id when it has none.
    let (src, fixed) = repairs("fix-w111.fz", Code::LaneWithoutLabel);
    assert_eq!(
        tools::model_key_of(&src),
        tools::model_key_of(&fixed.source)
    );
}

#[test]
fn w105_renumbers_and_changes_nothing_else() {
    let (src, fixed) = repairs("fix-w105.fz", Code::NodeNumbering);
    let (a, b) = (model::check(&src), model::check(&fixed.source));
    let ids: Vec<&str> = b.diagram.nodes().map(|(_, n)| n.id.as_str()).collect();
    assert_eq!(ids, ["n1", "n2", "n3", "n4"]);
    let d = diff::diff(&a.diagram, &b.diagram);
    assert!(d.nodes.added.is_empty() && d.nodes.removed.is_empty());
    assert!(d.edges.is_empty() && d.loops.is_empty() && d.lanes.is_empty());
    assert!(!d.edge_order_changed);
    for c in &d.nodes.changed {
        assert!(c.renumbered.is_some() && c.label.is_none() && c.shape.is_none());
        assert!(c.lane.is_none() && c.attributes.is_empty());
    }
    // The comment survives.
    assert!(fixed.source.starts_with("// ids by hand\n"));
}

#[test]
fn w112_adds_handles_by_position_and_changes_nothing_else() {
    let (src, fixed) = repairs("fix-w112.fz", Code::MissingHandle);
    let (a, b) = (model::check(&src), model::check(&fixed.source));
    let d = diff::diff(&a.diagram, &b.diagram);
    assert!(d.nodes.is_empty() && d.lanes.is_empty() && d.loops.is_empty());
    assert!(d.edges.added.is_empty() && d.edges.removed.is_empty());
    for c in &d.edges.changed {
        assert!(c.label.is_none());
        for h in [&c.source_handle, &c.target_handle].into_iter().flatten() {
            assert!(
                h.old.is_none() && h.new.is_some(),
                "a written handle changed"
            );
        }
    }
    let handles: Vec<(Option<&str>, Option<&str>)> = b
        .diagram
        .edges()
        .map(|(_, _, _, e)| {
            (
                e.source_handle.map(|h| h.as_str()),
                e.target_handle.map(|h| h.as_str()),
            )
        })
        .collect();
    assert_eq!(
        handles,
        [
            (Some("right"), Some("left")), // n1 -> n2: declaration order
            (Some("left"), Some("right")), // n2 -> n1: back in the lane
            (Some("bottom"), Some("top")), // given bottom, target lane below
            (Some("right"), Some("left")), // n1 -> n1
            (Some("top"), Some("bottom")), // target lane above, given bottom kept
            (Some("top"), Some("bottom")), // target lane above
        ]
    );
}

/// Every string in an export key with emoji and non-printables dropped.
fn cleaned(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(fix::clean_text(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(cleaned).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), cleaned(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn w110_drops_emoji_and_changes_nothing_else() {
    let (src, fixed) = repairs("fix-w110.fz", Code::InvisibleCharacter);
    let mut want = cleaned(&tools::model_key_of(&src));
    // A lane label left empty by the removal becomes the lane id (W111).
    if let Some(lanes) = want.get_mut("lanes").and_then(Value::as_array_mut) {
        for l in lanes {
            if l["label"] == "" {
                l["label"] = l["id"].clone();
            }
        }
    }
    assert_eq!(want, tools::model_key_of(&fixed.source));
    assert!(fixed.source.contains("label:\"Go now\""));
    assert!(fixed.source.contains("owner:\"Ana Maria\""));
    assert!(fixed.source.contains("loop [until green]"));
}

#[test]
fn all_repairs_at_once_keep_comments_and_blank_lines() {
    let src = fixture("fix-all.fz");
    let fixed = fix::fix(&src).unwrap();
    assert!(fix::unrepaired(&fixed.checked.diagnostics).is_empty());
    assert!(
        fixed.checked.diagnostics.is_empty(),
        "{:?}",
        fixed.checked.diagnostics
    );
    assert!(fixed.source.contains("\n\n  // bare edges\n"));
    insta::assert_snapshot!("fix_fix-all", report(&src, &fixed));
    let fixed_codes: std::collections::BTreeSet<&str> =
        fixed.repairs.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        fixed_codes.into_iter().collect::<Vec<_>>(),
        ["W101", "W102", "W103", "W105", "W110", "W111", "W112"]
    );
}

#[test]
fn with_errors_only_text_repairs_are_made() {
    let src = fixture("fix-errors.fz");
    let fixed = fix::fix(&src).unwrap();
    assert!(fixed.checked.has_errors());
    let after = codes(&fixed.source);
    for gone in [
        Code::AttributeEquals,
        Code::EdgeLabelColon,
        Code::LaneWithoutLabel,
    ] {
        assert!(!after.contains(&gone), "{gone:?} remains");
    }
    for kept in [
        Code::NodeNumbering,
        Code::MissingHandle,
        Code::UndeclaredNode,
    ] {
        assert!(after.contains(&kept), "{kept:?} was touched");
    }
    assert_eq!(fixed.notes.len(), 1);
    insta::assert_snapshot!("fix_fix-errors", report(&src, &fixed));
}

#[test]
fn every_fixture_fixes_without_losing_structure_and_is_stable() {
    for path in all_fixtures() {
        let src = std::fs::read_to_string(&path).unwrap();
        let fixed = fix::fix(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let before = model::check(&src);
        if !before.has_errors() {
            assert!(
                fix::unrepaired(&fixed.checked.diagnostics).is_empty(),
                "{}: {:?}",
                path.display(),
                fix::unrepaired(&fixed.checked.diagnostics)
            );
        }
        let again = fix::fix(&fixed.source).unwrap();
        assert_eq!(again.source, fixed.source, "{}", path.display());
        // The fix-* fixtures have their own snapshots.
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !stem.starts_with("fix-") {
            insta::assert_snapshot!(format!("fix_{stem}"), report(&src, &fixed));
        }
    }
}

#[test]
fn clean_text_collapses_the_gaps_it_leaves() {
    for (input, want) in [
        ("🚀 Launch", "Launch"),
        ("Launch 🚀", "Launch"),
        ("a 🚀 b", "a b"),
        ("a🚀b", "ab"),
        ("tab\there", "tab here"),
        ("zero\u{200b}width", "zerowidth"),
        ("plain  text ", "plain  text "),
        ("🎉", ""),
    ] {
        assert_eq!(fix::clean_text(input), want, "{input:?}");
    }
}

// ---- the command line ----

#[test]
fn cli_prints_without_write_and_writes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d.fz");
    let src = fixture("fix-all.fz");
    std::fs::write(&f, &src).unwrap();
    let want = fix::fix(&src).unwrap().source;
    let (code, out, err) = run(&["fix".as_ref(), f.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, want);
    assert!(
        err.contains("fixed W105") && err.contains("fixed W112"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        src,
        "wrote without --write"
    );
    let (code, out, _) = run(&["fix".as_ref(), f.as_os_str(), "--write".as_ref()]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), want);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn cli_exits_1_when_errors_remain_and_2_on_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("e.fz");
    std::fs::write(&f, fixture("fix-errors.fz")).unwrap();
    let (code, _, err) = run(&["fix".as_ref(), f.as_os_str()]);
    assert_eq!(code, 1);
    assert!(err.contains("E003") && err.contains("note:"), "{err}");
    let missing = dir.path().join("missing.fz");
    assert_eq!(run(&["fix".as_ref(), missing.as_os_str()]).0, 2);
}

#[test]
fn crlf_line_ends_survive_repairs() {
    let src = "A {\r\n  n1: circle label=\"x\"\r\n  n2: circle label:\"y\"\r\n  n1 -> n2\r\n}\r\n";
    let fixed = fix::fix(src).unwrap();
    assert_eq!(
        fixed.source,
        "A { # A\r\n  n1: circle label:\"x\"\r\n  n2: circle label:\"y\"\r\n  n1.handle(right) -> n2.handle(left)\r\n}\r\n"
    );
}
