//! `fz export`: write the diagram as JSON, DOT or Mermaid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::diagnostic::{self, ReportOptions};
use crate::export::{self, Format};
use crate::model;
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
    let input = match input::read(&args.file) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
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
        eprintln!("error: `{}` has errors; nothing exported", input.name);
        return ExitCode::from(1);
    }
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
