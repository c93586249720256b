//! `fz fmt`: canonical layout of every tools fixture (snapshots), model kept, idempotence,
//! refusal of syntax errors, and the command line (`--check`, in-place writes, stdin).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fz::tools::{self, fmt};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "fz"))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn fixtures_format_to_their_snapshots_keeping_the_model() {
    let mut formatted = 0;
    for path in fixtures() {
        let src = std::fs::read_to_string(&path).unwrap();
        let name = stem(&path);
        match fmt::format_source(&src) {
            Ok(out) => {
                assert_eq!(
                    tools::model_key_of(&src),
                    tools::model_key_of(&out),
                    "{name}: model changed"
                );
                assert_eq!(
                    fmt::format_source(&out).as_deref(),
                    Ok(out.as_str()),
                    "{name}: not idempotent"
                );
                insta::assert_snapshot!(format!("fmt_{name}"), out);
                formatted += 1;
            }
            Err(fmt::FmtError::Syntax(d)) => {
                assert!(name.contains("syntax-error"), "{name}: refused: {d:?}");
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert!(formatted >= 10, "only {formatted} fixtures formatted");
}

#[test]
fn comments_stay_with_the_statement_they_precede() {
    let src = "A { # a\n  // about n2\n  n2: rectangle label:\"two\"\n  n1.handle(right) -> n2.handle(left)\n  // about n1\n  n1: circle label:\"one\"\n  // at the end\n}\n";
    let out = fmt::format_source(src).unwrap();
    assert_eq!(
        out,
        "A { # a\n// about n2\nn2: rectangle label:\"two\"\n// about n1\nn1: circle label:\"one\"\nn1.handle(right) -> n2.handle(left)\n// at the end\n}\n"
    );
}

#[test]
fn crlf_becomes_lf_and_blank_lines_go() {
    let src = "A { # a\r\n\r\n  n1: circle label:\"x\"\r\n}\r\n";
    assert_eq!(
        fmt::format_source(src).unwrap(),
        "A { # a\nn1: circle label:\"x\"\n}\n"
    );
}

#[test]
fn syntax_errors_are_refused_with_their_diagnostics() {
    let src = "A {\n  n1: circle label:\"open\n}\n";
    match fmt::format_source(src) {
        Err(fmt::FmtError::Syntax(d)) => assert_eq!(d[0].code.as_str(), "E001"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let unclosed = "A { # a\n  n1: circle label:\"x\"\n";
    assert!(matches!(
        fmt::format_source(unclosed),
        Err(fmt::FmtError::Syntax(_))
    ));
}

#[test]
fn unified_diff_names_the_file() {
    let d = fmt::unified_diff("x.fz", "a\nb\n", "a\nc\n");
    assert!(d.contains("--- x.fz"), "{d}");
    assert!(d.contains("-b\n") && d.contains("+c\n"), "{d}");
    assert!(fmt::unified_diff("x.fz", "a\n", "a\n").is_empty());
}

// ---- the command line ----

fn fz() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fz"))
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fz");
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            i.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MESSY: &str = "A {   # Alpha\n    n1.handle(right)->n2.handle(left)\n  n1: circle label:\"x\"\n  n2: rectangle label:\"y\"\n}\n";
const TIDY: &str = "A { # Alpha\nn1: circle label:\"x\"\nn2: rectangle label:\"y\"\nn1.handle(right) -> n2.handle(left)\n}\n";

#[test]
fn cli_check_prints_a_diff_and_exits_1_then_write_then_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.fz");
    std::fs::write(&f, MESSY).unwrap();
    let (code, out, _) = run(fz().arg("fmt").arg("--check").arg(&f), None);
    assert_eq!(code, 1);
    assert!(out.contains("+n1: circle label:\"x\""), "{out}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), MESSY, "--check wrote");
    let (code, out, err) = run(fz().arg("fmt").arg(&f), None);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), TIDY);
    let (code, out, _) = run(fz().arg("fmt").arg("--check").arg(&f), None);
    assert_eq!((code, out.as_str()), (0, ""));
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn cli_stdin_to_stdout() {
    let (code, out, _) = run(fz().args(["fmt", "-"]), Some(MESSY));
    assert_eq!((code, out.as_str()), (0, TIDY));
    let (code, _, _) = run(fz().args(["fmt", "--check", "-"]), Some(MESSY));
    assert_eq!(code, 1);
    let (code, _, _) = run(fz().args(["fmt", "--check", "-"]), Some(TIDY));
    assert_eq!(code, 0);
}

#[test]
fn cli_refuses_syntax_errors_and_reports_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.fz");
    let bad = "A {\n  n1: circle label:\"open\n}\n";
    std::fs::write(&f, bad).unwrap();
    let (code, _, err) = run(fz().arg("fmt").arg(&f), None);
    assert_eq!(code, 1);
    assert!(
        err.contains("E001") && err.contains("not formatted"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), bad);
    let (code, _, _) = run(fz().arg("fmt").arg(dir.path().join("missing.fz")), None);
    assert_eq!(code, 2);
}

#[test]
fn model_digest_tells_what_model_key_tells() {
    let base = "A { # a\nn1: circle label:\"x\" owner:\"o\"\nn2: rectangle label:\"y\"\nn1.handle(right) -> n2.handle(left) [label=\"go\"]\nloop [again] n1 n2\n}\n";
    let digest = |s: &str| tools::model_digest(&fz::model::check(s).diagram);
    let reformatted = fmt::format_source(base).unwrap();
    assert_eq!(digest(base), digest(&reformatted));
    for changed in [
        base.replace("label:\"x\"", "label:\"X\""),
        base.replace("owner:\"o\"", "owner:\"p\""),
        base.replace("circle", "diamond"),
        base.replace("[label=\"go\"]", ""),
        base.replace("handle(left)", "handle(top)"),
        base.replace("loop [again] n1 n2", "loop [again] n2 n1"),
        base.replace("# a", "# b"),
    ] {
        assert_ne!(digest(base), digest(&changed), "{changed}");
        assert_ne!(tools::model_key_of(base), tools::model_key_of(&changed));
    }
}

#[cfg(unix)]
#[test]
fn cli_keeps_permissions_and_writes_through_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.fz");
    std::fs::write(&real, MESSY).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.fz");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, _, err) = run(fz().arg("fmt").arg(&link), None);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&real).unwrap(), TIDY);
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}
