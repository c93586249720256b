//! `fz gen --rustfmt`: formats the rendered Rust files with the machine's `rustfmt`
//! before they are written, so the project passes `cargo fmt --check` and the manifest
//! records the formatted text (a later `cargo fmt` then is not taken for an edit).
//! Off by default: rustfmt costs about 250 ms for the seed, more than the rest of
//! `fz gen`, and its output depends on the rustfmt version installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::templates::Rendered;
use super::writer::{safe_join, WriteError};

/// Why formatting failed.
#[derive(Debug, thiserror::Error)]
pub enum RustfmtError {
    #[error("--rustfmt: cannot run `{program}`: {source} (install it with `rustup component add rustfmt`)")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("--rustfmt: rustfmt failed on the generated files (a template bug): {stderr}")]
    Failed { stderr: String },
    #[error("--rustfmt: {0}")]
    Path(#[from] WriteError),
    #[error("--rustfmt: {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RustfmtError + '_ {
    move |source| RustfmtError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Formats every `.rs` file of `files` in place, with one rustfmt run over a scratch
/// copy (`RUSTFMT` names the program; default `rustfmt`).
pub fn format(files: &mut [Rendered]) -> Result<(), RustfmtError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let scratch = std::env::temp_dir().join(format!("fz-rustfmt-{}-{stamp}", std::process::id()));
    let result = format_in(files, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn format_in(files: &mut [Rendered], scratch: &Path) -> Result<(), RustfmtError> {
    let mut paths = Vec::new();
    for (i, f) in files.iter().enumerate() {
        // The project's own layout, so rustfmt finds each `mod` file it follows;
        // the writer's own check keeps every path inside the scratch folder.
        if f.path.ends_with(".rs") {
            paths.push((i, safe_join(scratch, &f.path)?));
        }
    }
    if paths.is_empty() {
        return Ok(());
    }
    for (i, p) in &paths {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(p, &files[*i].contents).map_err(io(p))?;
    }
    let program = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into());
    let out = Command::new(&program)
        .args(["--edition", "2021"])
        .args(paths.iter().map(|(_, p)| p))
        .output()
        .map_err(|source| RustfmtError::Spawn {
            program: program.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(RustfmtError::Failed {
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    for (i, p) in &paths {
        files[*i].contents = std::fs::read_to_string(p).map_err(io(p))?;
    }
    Ok(())
}
