//! `fz fix`: repair mechanical mistakes, each listed with its diagnostic code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::diagnostic::{self, ReportOptions};
use crate::syntax::LineIndex;
use crate::tools::fix;

use super::input;

#[derive(Debug, Args)]
pub struct FixArgs {
    /// Diagram file (`-` for standard input)
    pub file: PathBuf,
    /// Write the repaired diagram back to the file (default: print it on standard output)
    #[arg(long)]
    pub write: bool,
}

pub fn run(args: &FixArgs) -> ExitCode {
    let input = match input::read(&args.file) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let fixed = match fix::fix(&input.text) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: `{}`: {e}", input.name);
            return ExitCode::from(match e {
                fix::FixError::TooLarge(_) => 1,
                fix::FixError::Unsafe(_) => 2,
            });
        }
    };
    let index = LineIndex::new(&input.text);
    for r in &fixed.repairs {
        let at = index.line_col(&input.text, r.span.start as usize);
        eprintln!(
            "{}:{}:{}: fixed {}: {}",
            input.name,
            at.line,
            at.column,
            r.code.as_str(),
            r.message
        );
    }
    for n in &fixed.notes {
        eprintln!("note: {n}");
    }
    let stdio = args.file.as_os_str() == "-";
    let written = if args.write && !stdio {
        if fixed.changed() {
            super::fmt::write_in_place(&args.file, fixed.source.as_bytes())
                .map_err(|e| format!("error: cannot write `{}`: {e}", args.file.display()))
        } else {
            Ok(())
        }
    } else {
        input::write_output(None, &fixed.source)
    };
    if let Err(e) = written {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if !fixed.checked.diagnostics.is_empty() {
        let opts = ReportOptions {
            color: input::stderr_color(),
            unicode: true,
        };
        let _ = diagnostic::render(
            &input.name,
            &fixed.source,
            &fixed.checked.diagnostics,
            opts,
            &mut std::io::stderr(),
        );
    }
    eprintln!(
        "{}: {} repair(s); {} error(s) and {} warning(s) remain",
        input.name,
        fixed.repairs.len(),
        fixed.checked.error_count(),
        fixed.checked.warning_count()
    );
    if fixed.checked.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
