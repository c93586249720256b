//! `fz gen`: regeneration keeps user work and changes nothing when nothing changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fz::gen::{self, GenOptions};

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cqrs-materialized-views.fz")
}

fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn gen(out: &Path, force: bool) -> gen::GenOutput {
    gen::generate(&GenOptions {
        diagram: seed(),
        out: out.to_path_buf(),
        domain: None,
        force,
        rustfmt: false,
    })
    .expect("generates")
}

#[test]
fn second_run_with_nothing_changed_is_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = gen(dir.path(), false);
    assert!(
        first.domain.is_some(),
        "the default domain file beside the seed is used"
    );
    assert!(dir.path().join(".fz/manifest.json").is_file());
    let before = snapshot(dir.path());
    let second = gen(dir.path(), false);
    assert!(
        second.report.written.is_empty(),
        "{:?}",
        second.report.written
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn edited_generated_files_get_a_fz_new_beside_them_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    gen(dir.path(), false);
    let q = dir.path().join("src/query.rs");
    let original = std::fs::read_to_string(&q).expect("read");
    let edited = original.clone() + "\n// my change\n";
    std::fs::write(&q, &edited).expect("write");
    let out = gen(dir.path(), false);
    assert_eq!(out.report.fz_new, ["src/query.rs"]);
    assert_eq!(
        std::fs::read_to_string(&q).expect("read"),
        edited,
        "the edit is kept"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("src/query.rs.fz-new")).expect("fz-new"),
        original
    );
    // Still edited on the next run: still reported, nothing else changes.
    let before = snapshot(dir.path());
    let again = gen(dir.path(), false);
    assert_eq!(again.report.fz_new, ["src/query.rs"]);
    assert_eq!(snapshot(dir.path()), before);
    // --force overwrites.
    let forced = gen(dir.path(), true);
    assert_eq!(forced.report.forced, ["src/query.rs"]);
    assert_eq!(std::fs::read_to_string(&q).expect("read"), original);
}

#[test]
fn user_owned_files_are_written_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    gen(dir.path(), false);
    let rules = dir.path().join("src/domain/rules.rs");
    let mine = "// my rules\n";
    std::fs::write(&rules, mine).expect("write");
    let out = gen(dir.path(), true);
    assert!(out.report.kept.contains(&"src/domain/rules.rs".to_string()));
    assert_eq!(
        std::fs::read_to_string(&rules).expect("read"),
        mine,
        "even --force keeps user files"
    );
    assert!(!dir.path().join("src/domain/rules.rs.fz-new").exists());
}

#[test]
fn files_no_longer_generated_are_removed_when_unedited() {
    let dir = tempfile::tempdir().expect("tempdir");
    gen(dir.path(), false);
    // A diagram without the search projector and view.
    let src = std::fs::read_to_string(seed()).expect("seed");
    let trimmed: String = src
        .lines()
        .filter(|l| !l.contains("n12") && !l.contains("n16"))
        .map(|l| format!("{l}\n"))
        .collect();
    let diagram = dir.path().join("small.fz");
    std::fs::write(&diagram, trimmed).expect("write");
    let domain =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cqrs-materialized-views.gen.toml");
    let out = gen::generate(&GenOptions {
        diagram,
        out: dir.path().to_path_buf(),
        domain: Some(domain),
        force: false,
        rustfmt: false,
    })
    .expect("generates");
    assert_eq!(out.report.removed, ["src/projections/search_index.rs"]);
    assert!(!dir.path().join("src/projections/search_index.rs").exists());
}

#[test]
fn generating_the_seed_takes_under_200_ms() {
    let dir = tempfile::tempdir().expect("tempdir");
    gen(dir.path(), false);
    let t = std::time::Instant::now();
    let other = tempfile::tempdir().expect("tempdir");
    gen(other.path(), false);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    // Debug build on a shared machine: a loose bound; docs/benchmarks.md has the release figure.
    assert!(ms < 2000.0, "fz gen took {ms:.0} ms");
}

#[test]
fn rustfmt_output_is_stable_and_a_formatted_project_is_not_an_edit() {
    if std::process::Command::new("rustfmt")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no rustfmt on this machine");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |rustfmt: bool| {
        gen::generate(&GenOptions {
            diagram: seed(),
            out: dir.path().to_path_buf(),
            domain: None,
            force: false,
            rustfmt,
        })
        .expect("generates")
    };
    // Unformatted first, then formatted: every generated file is rewritten, none is
    // taken for an edit (nothing was edited since the manifest recorded them).
    let first = run(false);
    assert!(first.report.fz_new.is_empty());
    let plain = snapshot(dir.path());
    let formatted = run(true);
    assert!(
        formatted.report.fz_new.is_empty(),
        "{:?}",
        formatted.report.fz_new
    );
    let once = snapshot(dir.path());
    assert_ne!(plain, once);
    let app = String::from_utf8(once["src/app.rs"].clone()).expect("utf-8");
    assert!(
        app.lines().all(|l| l.chars().count() <= 100),
        "rustfmt keeps code lines within 100 columns"
    );
    // A second formatted run writes nothing.
    let again = run(true);
    assert!(
        again.report.written.is_empty(),
        "{:?}",
        again.report.written
    );
    assert_eq!(once, snapshot(dir.path()));
}
