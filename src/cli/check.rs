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
        let checked = model::check(&input.text);
        match args.format {
            CheckFormat::Json => {
                let index = LineIndex::new(&input.text);
                all_json.extend(diagnostic::to_json(
                    &input.name,
                    &input.text,
                    &index,
                    &checked.diagnostics,
                ));
            }
            CheckFormat::Human => {
                input::report(&input, &checked.diagnostics);
            }
        }
        if args.explain {
            let arch = model::Architecture::infer(
                &checked.diagram,
                &model::arch::Overrides::default(),
                model::arch::InferOptions::default(),
            );
            let text = format!(
                "{}: architecture model\n{}",
                input.name,
                arch.explain(&checked.diagram)
            );
            match args.format {
                CheckFormat::Json => eprint!("{text}"),
                CheckFormat::Human => print!("{text}"),
            }
        }
        let failed = checked.has_errors() || (args.deny_warnings && checked.warning_count() > 0);
        if failed {
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
