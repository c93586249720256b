//! The `fz` binary end to end: exit codes, standard input, output files, colour rules.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/cqrs-materialized-views.fz"
);
const CLEAN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/lang/all-handles.fz"
);
const BROKEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/ui/E003-undeclared-node.fz"
);

fn fz(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fz"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_exit_codes() {
    assert_eq!(fz(&["check", CLEAN], None).status.code(), Some(0));
    // Warnings alone pass, unless denied.
    assert_eq!(fz(&["check", SEED], None).status.code(), Some(0));
    assert_eq!(
        fz(&["check", "--deny-warnings", SEED], None).status.code(),
        Some(1)
    );
    let broken = fz(&["check", BROKEN], None);
    assert_eq!(broken.status.code(), Some(1));
    let err = stderr(&broken);
    assert!(
        err.contains("[E003] Error: this edge names node `n3`, which is never declared"),
        "{err}"
    );
    assert!(err.contains("E003-undeclared-node.fz:5:21"), "{err}");
    assert!(err.contains("2 errors"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no colour when NO_COLOR is set or not a terminal"
    );
    // I/O and usage errors.
    let missing = fz(&["check", "does/not/exist.fz"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read `does/not/exist.fz`"));
    assert_eq!(fz(&["check"], None).status.code(), Some(2));
    assert_eq!(fz(&["frobnicate"], None).status.code(), Some(2));
}

#[test]
fn check_reads_standard_input_and_prints_json() {
    let out = fz(
        &["check", "--format", "json", "-"],
        Some("A { # A\nn1: circle label:\"x\"\nn1.handle(right) -> n2.handle(left)\n}\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let diags: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = diags
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "E003")
        .unwrap();
    assert_eq!(first["code"], "E003");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "<stdin>");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(3), Some(21))
    );
    assert_eq!(
        (first["end_line"].as_u64(), first["end_column"].as_u64()),
        (Some(3), Some(23))
    );
    assert!(first["help"].as_str().unwrap().contains("declare"));
}

#[test]
fn non_utf8_input_is_an_io_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.fz");
    std::fs::write(&p, [b'A', b' ', b'{', 0xff, b'\n']).unwrap();
    let out = fz(&["check", p.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not UTF-8 text (invalid byte at offset 3)"));
}

#[test]
fn export_writes_every_format_to_a_file_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    for (fmt, needle) in [
        ("json", "\"laneCount\": 4"),
        ("dot", "subgraph \"cluster_0_WriteModel\""),
        ("mermaid", "flowchart LR"),
    ] {
        let out = dir.path().join(format!("seed.{fmt}"));
        let o = fz(
            &["export", SEED, "--format", fmt, "-o", out.to_str().unwrap()],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(needle), "{fmt}: {text}");
        let o = fz(&["export", SEED, "--format", fmt], None);
        assert_eq!(String::from_utf8_lossy(&o.stdout), text);
    }
}

#[test]
fn export_refuses_a_diagram_with_errors() {
    let o = fz(&["export", BROKEN, "--format", "json"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("nothing exported"));
}
