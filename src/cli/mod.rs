//! The command line: parse arguments, call the library, print. Nothing else depends on it.

pub mod calibrate;
pub mod check;
pub mod diff;
pub mod export;
pub mod fix;
pub mod fmt;
pub mod gen;
pub mod input;
pub mod render;
pub mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// fz: compile, simulate and generate code from FlowZap Code (.fz) diagrams.
#[derive(Debug, Parser)]
#[command(name = "fz", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report every problem in a diagram (exit 1 on errors)
    Check(check::CheckArgs),
    /// Export a diagram as JSON, Graphviz DOT or Mermaid
    Export(export::ExportArgs),
    /// Run a diagram as a discrete-event simulation
    Sim(sim::SimArgs),
    /// Fit a simulation profile to a generated service's /metrics
    Calibrate(calibrate::CalibrateArgs),
    /// Draw a diagram as SVG or PNG (workflow or sequence view)
    Render(render::RenderArgs),
    /// Rewrite diagrams in canonical layout (`--check`: report, write nothing)
    Fmt(fmt::FmtArgs),
    /// Repair mechanical mistakes (ids, prefixes, handles, `=`/`:`, labels, emoji)
    Fix(fix::FixArgs),
    /// Compare two diagrams structurally (exit 0 equal, 1 different)
    Diff(diff::DiffArgs),
    /// Generate a runnable CQRS / event-sourced Rust project from a diagram
    Gen(gen::GenArgs),
}

/// Run the command line; exit 2 on usage errors.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match &cli.command {
        Command::Check(a) => check::run(a),
        Command::Export(a) => export::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Render(a) => render::run(a),
        Command::Fmt(a) => fmt::run(a),
        Command::Fix(a) => fix::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Gen(a) => gen::run(a),
    }
}
