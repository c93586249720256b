//! One UI test per diagnostic code: `tests/ui/<CODE>-<name>.fz` is a small bad diagram;
//! its rendered report (as a terminal without colour shows it) and its JSON diagnostics are
//! snapshots, and the file must produce its code.

use std::path::Path;

use fz::diagnostic::{self, Code, ReportOptions};
use fz::model;
use fz::syntax::LineIndex;

fn ui_files() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "fz"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn rendered(name: &str, src: &str) -> String {
    let c = model::check(src);
    let mut out = Vec::new();
    diagnostic::render(
        &format!("{name}.fz"),
        src,
        &c.diagnostics,
        ReportOptions {
            color: false,
            unicode: true,
        },
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn json(name: &str, src: &str) -> String {
    let c = model::check(src);
    let j = diagnostic::to_json(
        &format!("{name}.fz"),
        src,
        &LineIndex::new(src),
        &c.diagnostics,
    );
    serde_json::to_string_pretty(&j).unwrap()
}

#[test]
fn every_code_has_a_ui_test_that_produces_it() {
    let files = ui_files();
    for code in Code::ALL {
        if *code == Code::TooManyErrors {
            continue; // generated below: too_many_errors_are_capped
        }
        let (name, src) = files
            .iter()
            .find(|(n, _)| n.starts_with(code.as_str()))
            .unwrap_or_else(|| panic!("no tests/ui/{}-*.fz", code.as_str()));
        let c = model::check(src);
        assert!(
            c.diagnostics.iter().any(|d| d.code == *code),
            "{name} does not produce {}: {:#?}",
            code.as_str(),
            c.diagnostics
        );
    }
}

#[test]
fn ui_reports() {
    for (name, src) in ui_files() {
        insta::assert_snapshot!(format!("{name}.txt"), rendered(&name, &src));
        insta::assert_snapshot!(format!("{name}.json"), json(&name, &src));
    }
}

#[test]
fn too_many_errors_are_capped() {
    let mut src = String::from("A { # A\n");
    for i in 0..250 {
        src.push_str(&format!("n{i} bad line\n"));
    }
    src.push_str("}\n");
    let c = model::check(&src);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), model::MAX_ERRORS + 1);
    let last = errors.last().unwrap();
    assert_eq!(last.code, Code::TooManyErrors);
    assert!(last.message.contains("150 more errors"), "{}", last.message);
}

#[test]
fn every_error_in_a_file_is_reported_and_the_rest_still_checked() {
    let src = "A { # A\nn1: circle label:\"a\"\nthis is wrong\nn2: circle label:\"b\"\nalso wrong\nn1.handle(right) -> n2.handle(left)\nn2.handle(left) -> n5.handle(right)\n";
    let c = model::check(src);
    let codes: Vec<&str> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["E006", "E001", "E001", "E003"]);
    assert_eq!(c.diagram.node_count(), 2);
    assert_eq!(c.diagram.edge_count(), 1);
}
