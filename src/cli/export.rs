//! `fz export`: write the diagram as JSON, DOT or Mermaid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::export::{self, Format};
use crate::syntax::LineIndex;

use super::input;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Diagram file (`-` for standard input)
    pub file: PathBuf,
    /// Output format
    #[arg(long, short, value_enum)]
    pub format: Format,
    /// Output file (standard output when absent or `-`)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(args: &ExportArgs) -> ExitCode {
    let (input, checked) = match input::load_checked(&args.file, "exported") {
        Ok(loaded) => loaded,
        Err(e) => return e.exit_code(),
    };
    let index = LineIndex::new(&input.text);
    let text = export::export(args.format, &checked.diagram, &input.text, &index);
    match input::write_output(args.output.as_ref(), &text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
