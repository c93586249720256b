//! `fz fmt`: rewrite diagrams in canonical layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::diagnostic::{self, ReportOptions};
use crate::tools::fmt::{self, FmtError};

use super::input;

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Diagram files (`-` reads standard input and writes standard output)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write nothing; print a diff and exit 1 when a file is not formatted
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &FmtArgs) -> ExitCode {
    let mut worst = 0u8;
    for path in &args.files {
        worst = worst.max(one(path, args.check));
    }
    ExitCode::from(worst)
}

fn one(path: &Path, check: bool) -> u8 {
    let input = match input::read(path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let formatted = match fmt::format_source(&input.text) {
        Ok(f) => f,
        Err(FmtError::Syntax(diags)) => {
            let opts = ReportOptions {
                color: input::stderr_color(),
                unicode: true,
            };
            let _ = diagnostic::render(
                &input.name,
                &input.text,
                &diags,
                opts,
                &mut std::io::stderr(),
            );
            eprintln!("error: `{}` has syntax errors; not formatted", input.name);
            return 1;
        }
        Err(e @ FmtError::TooLarge(_)) => {
            eprintln!("error: `{}`: {e}", input.name);
            return 1;
        }
        Err(e @ FmtError::Unsafe(_)) => {
            eprintln!("error: `{}`: {e}", input.name);
            return 2;
        }
    };
    let stdio = path.as_os_str() == "-";
    if check {
        if formatted == input.text {
            return 0;
        }
        let diff = fmt::unified_diff(&input.name, &input.text, &formatted);
        if let Err(e) = input::write_output(None, &diff) {
            eprintln!("{e}");
            return 2;
        }
        eprintln!("`{}` is not formatted", input.name);
        return 1;
    }
    if stdio {
        return match input::write_output(None, &formatted) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e}");
                2
            }
        };
    }
    if formatted == input.text {
        return 0;
    }
    match write_in_place(path, formatted.as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            2
        }
    }
}

/// Rewrite a diagram file atomically (temporary file, then rename), writing through a
/// symbolic link to its target and keeping the file's permissions.
pub(crate) fn write_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let permissions = std::fs::metadata(&target).map(|m| m.permissions()).ok();
    input::write_atomic(&target, bytes)?;
    if let Some(p) = permissions {
        std::fs::set_permissions(&target, p)?;
    }
    Ok(())
}
