//! `fz render` and `fz export --format svg` from the command line: outputs and exit codes.

use std::process::Command;

fn fz(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fz"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run fz")
}

const EXAMPLE: &str = "examples/cqrs-materialized-views.fz";

#[test]
fn renders_svg_to_stdout_and_files() {
    let o = fz(&["render", EXAMPLE]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = String::from_utf8(o.stdout).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("class=\"node\"").count(), 18);

    let dir = tempfile::tempdir().unwrap();
    for (view, theme) in [("workflow", "dark"), ("sequence", "light")] {
        let out = dir.path().join(format!("{view}.svg"));
        let o = fz(&[
            "render",
            EXAMPLE,
            "--view",
            view,
            "--theme",
            theme,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success());
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("</svg>"));
    }
    let png = dir.path().join("out.png");
    let o = fz(&["render", EXAMPLE, "-o", png.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
}

#[test]
fn export_svg_is_render_with_defaults() {
    let a = fz(&["export", "--format", "svg", EXAMPLE]);
    let b = fz(&["render", EXAMPLE]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn errors_and_missing_files_have_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.fz");
    std::fs::write(&bad, "A {\nn1: hexagon label:\"x\"\n").unwrap();
    let o = fz(&["render", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing rendered"));
    let o = fz(&["render", "no/such/file.fz"]);
    assert_eq!(o.status.code(), Some(2));
    let o = fz(&["render", EXAMPLE, "--view", "gantt"]);
    assert_eq!(o.status.code(), Some(2));
}
