//! The README's set-up commands work as written: as root without sudo (these machines), and as
//! a user with sudo. `apt-get`, `sudo` and `id` are stubs on a PATH of their own, so the test
//! installs nothing; it checks what would run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The commands of the README's first `sh` block (the set-up), comments removed.
fn setup_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("README has a set-up sh block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn stub(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run `command` from the repository with only the stubs (and `sh`, `env`) on PATH, as user
/// `uid`, with or without a `sudo`. Returns the output and the log of stub calls.
fn run_as(command: &str, uid: u32, with_sudo: bool) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin: PathBuf = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("log");
    let log_s = log.display().to_string();
    for tool in ["sh", "env"] {
        let real = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    stub(&bin, "id", &format!("echo {uid}"));
    stub(
        &bin,
        "apt-get",
        &format!("echo \"apt-get $* (as $(id -u))\" >> {log_s}"),
    );
    if with_sudo {
        // sudo runs the command as root.
        stub(
            &bin,
            "sudo",
            &format!(
                "echo sudo >> {log_s}; printf '#!/bin/sh\\necho 0\\n' > \"${{0%/*}}/id\"; exec \"$@\""
            ),
        );
    }
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .current_dir(ROOT)
        .env_clear()
        .env("PATH", &bin)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (out, log)
}

#[test]
fn setup_installs_graphviz_as_root_and_through_sudo() {
    let cmds = setup_commands();
    let setup = &cmds[0];
    assert!(
        !setup.starts_with("sudo "),
        "the first set-up command must not need sudo: {setup}"
    );
    assert!(
        cmds.iter().any(|c| c == "cargo build --release"),
        "{cmds:?}"
    );

    // Root, no sudo on the machine: apt-get runs directly.
    let (out, log) = run_as(setup, 0, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!log.contains("sudo"), "{log}");
    assert!(log.contains("apt-get update"), "{log}");
    assert!(
        log.contains("apt-get install -y -qq graphviz (as 0)"),
        "{log}"
    );

    // A user with sudo: apt-get runs through it, as root.
    let (out, log) = run_as(setup, 1000, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.starts_with("sudo\n"), "{log}");
    assert!(
        log.contains("apt-get install -y -qq graphviz (as 0)"),
        "{log}"
    );

    // A user without sudo: a clear error, nothing attempted.
    let (out, log) = run_as(setup, 1000, false);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs root"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.is_empty(), "{log}");
}

#[test]
fn ci_finds_the_readme_test_command() {
    // The extraction `.ci/run` does, taken from it.
    let run = std::fs::read_to_string(Path::new(ROOT).join(".ci/run")).unwrap();
    let program = run
        .split("awk '")
        .nth(1)
        .and_then(|r| r.split("' README.md").next())
        .expect(".ci/run extracts the test command with awk");
    let out = Command::new("awk")
        .arg(program)
        .arg("README.md")
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cargo test --release\n"
    );
    assert!(
        run.contains(".ci/setup"),
        ".ci/run installs through the README's command"
    );
}
