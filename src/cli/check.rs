//! `fz check`: report every problem in a diagram.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::diagnostic;
use crate::model;
use crate::syntax::LineIndex;

use super::input;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// rustc-style report on stderr
    Human,
    /// a JSON array of diagnostics on stdout
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Diagram files (`-` for standard input)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format of the diagnostics
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Treat warnings as errors
    #[arg(long)]
    pub deny_warnings: bool,
    /// Print the architecture model: every node's component, lane kind, edge interaction and
    /// join, with the reason for each (to stdout; to stderr with --format json)
    #[arg(long)]
    pub explain: bool,
}

pub fn run(args: &CheckArgs) -> ExitCode {
    let mut worst = 0u8;
    let mut all_json = Vec::new();
    for path in &args.files {
        let input = match input::read(path) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{e}");
                worst = worst.max(2);
                continue;
            }
        };
        // Only `--explain` needs the diagram; otherwise `check` takes the diagnostics alone and
        // never builds it (a third of the memory and time on large diagrams).
        let (diagnostics, diagram) = if args.explain {
            let checked = model::check(&input.text);
            (checked.diagnostics, Some(checked.diagram))
        } else {
            (model::diagnostics(&input.text), None)
        };
        match args.format {
            CheckFormat::Json => {
                let text = diagnostic::reported_prefix(&input.text, &diagnostics);
                let index = LineIndex::new(text);
                all_json.extend(diagnostic::to_json(&input.name, text, &index, &diagnostics));
            }
            CheckFormat::Human => {
                input::report(&input, &diagnostics);
            }
        }
        if let Some(diagram) = &diagram {
            let arch = model::Architecture::infer(
                diagram,
                &model::arch::Overrides::default(),
                model::arch::InferOptions::default(),
            );
            let text = format!(
                "{}: architecture model\n{}",
                input.name,
                arch.explain(diagram)
            );
            match args.format {
                CheckFormat::Json => eprint!("{text}"),
                CheckFormat::Human => print!("{text}"),
            }
        }
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = diagnostics.len() - errors;
        if errors > 0 || (args.deny_warnings && warnings > 0) {
            worst = worst.max(1);
        }
    }
    if args.format == CheckFormat::Json {
        let text = serde_json::to_string_pretty(&all_json).unwrap_or_else(|_| "[]".into());
        if let Err(e) = input::write_output(None, &(text + "\n")) {
            eprintln!("{e}");
            worst = worst.max(2);
        }
    }
    ExitCode::from(worst)
}
