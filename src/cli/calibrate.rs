//! `fz calibrate`: fit a simulation profile to a generated service's `/metrics`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::calibrate::{self, fetch};
use crate::sim::profile::Profile;

use super::input;

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The diagram the service was generated from (.fz)
    pub file: PathBuf,
    /// The service's metrics: http://HOST:PORT[/metrics] of a running service, or a saved copy
    #[arg(long)]
    pub from: String,
    /// The profile to write (`-` or absent: standard output)
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &CalibrateArgs) -> ExitCode {
    let (input, checked) = match input::load_checked(&args.file, "calibrated") {
        Ok(x) => x,
        Err(e) => return e.exit_code(),
    };
    let text = match fetch::read(&args.from) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let c = match calibrate::calibrate(&checked.diagram, &input.name, &text, &args.from) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let toml = c.to_toml();
    // What is written must be a profile `fz sim` reads.
    if let Err(e) = Profile::parse("calibrated profile", &toml) {
        eprintln!("error: fz calibrate wrote a profile fz sim cannot read (a bug): {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = input::write_output(args.out.as_ref(), &toml) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if let Some(out) = args.out.as_ref().filter(|p| p.as_os_str() != "-") {
        eprintln!(
            "wrote {} ({} nodes calibrated, {} without code of their own)",
            out.display(),
            c.nodes.len(),
            c.untimed.len()
        );
    }
    ExitCode::SUCCESS
}
