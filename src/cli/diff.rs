//! `fz diff`: the structural differences between two diagrams.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::diagnostic::{self, ReportOptions};
use crate::model::{self, Checked};
use crate::tools::diff;

use super::input;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// one line a difference, for people
    Text,
    /// a JSON object, for tools
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old diagram (`-` for standard input)
    pub old: PathBuf,
    /// The new diagram (`-` for standard input)
    pub new: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
}

fn load(path: &Path) -> Result<Checked, ()> {
    let input = input::read(path).map_err(|e| eprintln!("{e}"))?;
    let checked = model::check(&input.text);
    if checked.has_errors() {
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        let opts = ReportOptions {
            color: input::stderr_color(),
            unicode: true,
        };
        let _ = diagnostic::render(
            &input.name,
            &input.text,
            &errors,
            opts,
            &mut std::io::stderr(),
        );
        eprintln!("error: `{}` has errors; not compared", input.name);
        return Err(());
    }
    Ok(checked)
}

pub fn run(args: &DiffArgs) -> ExitCode {
    if args.old.as_os_str() == "-" && args.new.as_os_str() == "-" {
        eprintln!("error: only one of the two diagrams can be read from standard input");
        return ExitCode::from(2);
    }
    let (Ok(old), Ok(new)) = (load(&args.old), load(&args.new)) else {
        return ExitCode::from(2);
    };
    let d = diff::diff(&old.diagram, &new.diagram);
    let text = match args.format {
        DiffFormat::Text => d.to_text(),
        DiffFormat::Json => d.to_json(),
    };
    if let Err(e) = input::write_output(None, &text) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if d.equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
