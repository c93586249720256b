//! `fz diff`: the structural differences between two diagrams.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::model::Checked;
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
    input::load_checked(path, "compared")
        .map(|(_, checked)| checked)
        .map_err(|_| ())
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
