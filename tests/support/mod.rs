//! Helpers shared by the integration tests (each test binary uses some of them).
#![allow(dead_code)]

use std::process::{Command, Stdio};

/// Run `fz ARGS` with no standard input: (exit code, stdout, stderr).
pub fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fz"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("fz runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// 256 proptest cases, or `PROPTEST_CASES` for a longer run.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}
