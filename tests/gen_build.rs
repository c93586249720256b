//! `fz gen`: the generated projects build, pass clippy and pass their own tests.
//!
//! Slow (compiles axum, tantivy, rusqlite, utoipa once into a shared target dir), so
//! `#[ignore]`d; `.ci/gen.sh` runs them with `cargo test --test gen_build -- --ignored`.
//! The target dir is `FZ_GEN_TARGET_DIR`, default `<fz target dir>/gen-projects`.

use std::path::{Path, PathBuf};
use std::process::Command;

use fz::gen::{self, GenOptions};

fn target_dir() -> PathBuf {
    match std::env::var_os("FZ_GEN_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map(|p| p.join("gen-projects"))
            .unwrap_or_else(|| PathBuf::from("target/gen-projects")),
    }
}

fn cargo(dir: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "cargo {args:?} failed in {}",
        dir.display()
    );
}

fn generate_and_test(diagram: &str, domain: Option<&str>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    gen::generate(&GenOptions {
        diagram: root.join(diagram),
        out: dir.path().to_path_buf(),
        domain: domain.map(|d| root.join(d)),
        force: false,
        rustfmt: true,
    })
    .expect("generates");
    // --rustfmt: the project is formatted as `cargo fmt` would leave it.
    cargo(dir.path(), &["fmt", "--check"]);
    cargo(dir.path(), &["build", "--all-targets"]);
    cargo(
        dir.path(),
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    );
    cargo(dir.path(), &["test"]);
}

#[test]
#[ignore = "slow: builds the generated project; run by .ci/gen.sh"]
fn seed_project_builds_and_passes_its_tests() {
    generate_and_test("examples/cqrs-materialized-views.fz", None);
}

#[test]
#[ignore = "slow: builds the generated project; run by .ci/gen.sh"]
fn adversarial_labels_project_builds_and_passes_its_tests() {
    generate_and_test("tests/fixtures/gen/adversarial.fz", None);
}

#[test]
#[ignore = "slow: builds the generated project; run by .ci/gen.sh"]
fn read_write_separation_project_builds_and_passes_its_tests() {
    // Its tests/redis.rs runs against Redis when REDIS_URL is set (.ci/gen.sh sets it);
    // without it the in-memory cache is tested.
    generate_and_test(
        "examples/cqrs-read-write-separation.fz",
        Some("examples/cqrs-read-write-separation.gen.toml"),
    );
}

#[test]
#[ignore = "slow: builds the generated project; run by .ci/gen.sh"]
fn task_based_ui_project_builds_and_passes_its_tests() {
    generate_and_test(
        "examples/cqrs-task-based-ui.fz",
        Some("examples/cqrs-task-based-ui.gen.toml"),
    );
}

#[test]
#[ignore = "slow: builds the generated project; run by .ci/gen.sh"]
fn event_store_project_builds_and_passes_its_tests() {
    // Its tests/nats.rs runs against NATS JetStream when NATS_URL is set (.ci/gen.sh
    // sets it); without it the embedded bus is tested.
    generate_and_test(
        "examples/cqrs-event-store.fz",
        Some("examples/cqrs-event-store.gen.toml"),
    );
}

/// Generates `diagram` with its domain and runs clippy on it with no default features (the
/// optional real-server adapters left out).
fn clippy_without_default_features(diagram: &str, domain: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    gen::generate(&GenOptions {
        diagram: root.join(diagram),
        out: dir.path().to_path_buf(),
        domain: Some(root.join(domain)),
        force: false,
        rustfmt: false,
    })
    .expect("generates");
    cargo(
        dir.path(),
        &[
            "clippy",
            "--all-targets",
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ],
    );
}

#[test]
#[ignore = "slow: builds the generated project; run by .ci/gen.sh"]
fn event_store_project_builds_without_its_nats_feature() {
    clippy_without_default_features(
        "examples/cqrs-event-store.fz",
        "examples/cqrs-event-store.gen.toml",
    );
}

#[test]
#[ignore = "slow: builds the generated project; run by .ci/gen.sh"]
fn read_write_separation_project_builds_without_its_redis_feature() {
    clippy_without_default_features(
        "examples/cqrs-read-write-separation.fz",
        "examples/cqrs-read-write-separation.gen.toml",
    );
}
