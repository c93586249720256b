//! `fz calibrate`: fit a simulation profile to a generated service's `/metrics`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::calibrate::{self, fetch};
use crate::sim::profile::Profile;
use crate::sim::time::{format_ns, parse_duration, Nanos};

use super::input;

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The diagram the service was generated from (.fz)
    pub file: PathBuf,
    /// The service's metrics: http://HOST:PORT[/metrics] of a running service, or a saved copy
    #[arg(long)]
    pub from: String,
    /// An earlier read of the same service's metrics (URL or file): the fit is to what it did
    /// between the two reads, leaving out its start (first pages, cold caches)
    #[arg(long, conflicts_with = "window")]
    pub since: Option<String>,
    /// With a URL: read `--from` now, again after this long (e.g. 10s), and fit to what
    /// the service did in between
    #[arg(long, value_parser = window_arg)]
    pub window: Option<Nanos>,
    /// The profile to write (`-` or absent: standard output)
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
}

fn window_arg(s: &str) -> Result<Nanos, String> {
    match parse_duration(s) {
        Some(d) if d > 0 => Ok(d),
        Some(_) => Err("the window must be longer than 0".into()),
        None => Err(format!(
            "`{s}` is not a duration; write a number with ns, us, ms or s, e.g. 10s"
        )),
    }
}

fn read(from: &str) -> Result<String, ExitCode> {
    fetch::read(from).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

pub fn run(args: &CalibrateArgs) -> ExitCode {
    let (input, checked) = match input::load_checked(&args.file, "calibrated") {
        Ok(x) => x,
        Err(e) => return e.exit_code(),
    };
    // What the fit is to: everything since the service started, or a window of it.
    let earlier = match (&args.since, args.window) {
        (Some(since), _) => match read(since) {
            Ok(t) => Some((t, since.clone())),
            Err(code) => return code,
        },
        (None, Some(window)) => {
            let window_text = format_ns(window as f64);
            if !matches!(fetch::source(&args.from), Ok(fetch::Source::Url { .. })) {
                eprintln!(
                    "error: --window {window_text} reads --from twice, so it needs a running service's URL (http://HOST:PORT/metrics), not `{}`; for saved copies give the earlier one with --since",
                    args.from
                );
                return ExitCode::from(2);
            }
            let t = match read(&args.from) {
                Ok(t) => t,
                Err(code) => return code,
            };
            eprintln!("read {}; reading it again in {window_text}", args.from);
            std::thread::sleep(std::time::Duration::from_nanos(window));
            Some((t, format!("{} {window_text} earlier", args.from)))
        }
        (None, None) => None,
    };
    let text = match read(&args.from) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let fitted = match &earlier {
        Some((before, before_name)) => calibrate::calibrate_since(
            &checked.diagram,
            &input.name,
            &text,
            &args.from,
            before,
            before_name,
        ),
        None => calibrate::calibrate(&checked.diagram, &input.name, &text, &args.from),
    };
    let c = match fitted {
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
