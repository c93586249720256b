//! `fz sim`: run a diagram as a discrete-event simulation.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::model;
use crate::sim::engine::RunConfig;
use crate::sim::lower::{lower, LowerOptions};
use crate::sim::profile::{default_warmup, Profile};
use crate::sim::replicate::{run_replications, PROGRESS_STEPS};
use crate::sim::report::{Meta, Report};
use crate::sim::time::{format_secs, parse_duration, secs, Nanos};
use crate::sim::{html, realtime};

use super::input;

/// Simulated time when neither the command line nor the profile says.
pub const DEFAULT_DURATION: &str = "60s";
pub const DEFAULT_SEED: u64 = 42;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimFormat {
    /// tables for people
    Text,
    /// one JSON object on stdout (see docs/sim.md)
    Json,
}

fn duration_arg(s: &str) -> Result<Nanos, String> {
    parse_duration(s).ok_or_else(|| {
        format!("`{s}` is not a duration; write a number with ns, us, ms or s, e.g. 60s")
    })
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{s}` must be a number above 0")),
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("`{s}` must be a number >= 0")),
    }
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The diagram (`-` for standard input)
    pub file: PathBuf,
    /// Simulation profile (default: FILE with .fz replaced by .sim.toml, when it exists)
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Simulated time, e.g. 60s, 500ms (default: the profile's, else 60s)
    #[arg(long, value_parser = duration_arg)]
    pub duration: Option<Nanos>,
    /// Simulated time left out of the statistics at the start (default: the profile's, else 10%
    /// of the duration, at most 5s)
    #[arg(long, value_parser = duration_arg)]
    pub warmup: Option<Nanos>,
    /// Arrivals per second at every source (overrides the profile)
    #[arg(long, value_parser = non_negative)]
    pub rate: Option<f64>,
    /// Random seed (default: the profile's, else 42)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Independent replications, run in parallel; means get 95% confidence intervals
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub replications: Option<u32>,
    /// Worker threads for replications (default: one per core; results do not depend on it)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Output format
    #[arg(long, value_enum, default_value_t = SimFormat::Text)]
    pub format: SimFormat,
    /// Also write a self-contained HTML report to this file
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print roles, inferences and the routing table before running
    #[arg(long)]
    pub explain: bool,
    /// Do not infer lane fan-out from edge labels
    #[arg(long)]
    pub no_infer: bool,
    /// Edges a token may follow before it is dropped (default 10000)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub hop_limit: Option<u32>,
    /// Pace the run against the wall clock, FACTOR simulated seconds per second (default 1),
    /// printing live figures
    #[arg(long, value_name = "FACTOR", num_args = 0..=1, default_missing_value = "1", value_parser = positive)]
    pub realtime: Option<f64>,
    /// Leave wall-clock figures out of the JSON, so that the same seed gives the same bytes
    #[arg(long)]
    pub stable: bool,
}

/// The profile path: the one given, or FILE with `.fz` replaced by `.sim.toml` if it exists.
pub fn profile_path(file: &Path, given: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.clone());
    }
    if file == Path::new("-") {
        return None;
    }
    let s = file.to_string_lossy();
    let base = s.strip_suffix(".fz").unwrap_or(&s);
    let p = PathBuf::from(format!("{base}.sim.toml"));
    p.exists().then_some(p)
}

pub fn run(args: &SimArgs) -> ExitCode {
    let input = match input::read(&args.file) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let checked = model::check(&input.text);
    if checked.has_errors() {
        input::report(&input, &checked.diagnostics);
        return ExitCode::from(1);
    }
    let profile = match profile_path(&args.file, args.profile.as_ref()) {
        None => Profile::default(),
        Some(p) => {
            let text = match std::fs::read_to_string(&p) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot read profile `{}`: {e}", p.display());
                    return ExitCode::from(2);
                }
            };
            match Profile::parse(&p.display().to_string(), &text) {
                Ok(pr) => pr,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    let opts = LowerOptions {
        no_infer: args.no_infer,
        rate: args.rate,
        hop_limit: args.hop_limit,
    };
    let lowered = match lower(&checked.diagram, &profile, &opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    // The explanation needs the model and the profile only: print it before checking the run
    // settings, so that it shows even when they are wrong.
    if args.explain {
        if args.format == SimFormat::Json {
            eprint!("{}", lowered.explain);
        } else {
            println!("{}", lowered.explain);
        }
    }
    let duration = args
        .duration
        .or(profile.run.duration)
        .unwrap_or_else(|| parse_duration(DEFAULT_DURATION).unwrap_or(60_000_000_000));
    let (warmup, warmup_from) = match (args.warmup, profile.run.warmup) {
        (Some(w), _) => (w, " (--warmup)"),
        (None, Some(w)) => (w, " (the profile's)"),
        (None, None) => (default_warmup(duration), ""),
    };
    if duration == 0 {
        eprintln!("error: the duration must be above 0");
        return ExitCode::from(2);
    }
    if warmup >= duration {
        eprintln!(
            "error: the warmup{warmup_from}, {}, must be shorter than the duration, {}",
            format_secs(secs(warmup)),
            format_secs(secs(duration))
        );
        return ExitCode::from(2);
    }
    let seed = args.seed.or(profile.run.seed).unwrap_or(DEFAULT_SEED);
    let reps = args.replications.or(profile.run.replications).unwrap_or(1) as usize;

    let cfg = RunConfig {
        duration,
        warmup,
        series_points: if args.report.is_some() { 200 } else { 0 },
    };
    let net = Arc::new(lowered.network.clone());
    let results = if let Some(factor) = args.realtime {
        match realtime::run(&net, &cfg, seed, factor) {
            Ok(r) => vec![r],
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        let progress = Arc::new(AtomicU64::new(0));
        let bar = (std::io::stderr().is_terminal() && duration >= 5_000_000_000).then(|| {
            let pb = indicatif::ProgressBar::new(reps as u64 * PROGRESS_STEPS);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} simulating [{bar:40}] {percent}% {elapsed_precise}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });
        let ticker = bar.clone().map(|pb| {
            let p = Arc::clone(&progress);
            let total = reps as u64 * PROGRESS_STEPS;
            std::thread::spawn(move || loop {
                let v = p.load(Ordering::Relaxed);
                pb.set_position(v);
                if v >= total {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            })
        });
        let threads = args.threads.map(|t| t as usize);
        let r = run_replications(
            Arc::clone(&net),
            &cfg,
            seed,
            reps,
            threads,
            Some(Arc::clone(&progress)),
        );
        if let Some(t) = ticker {
            let _ = t.join();
        }
        if let Some(pb) = bar {
            pb.finish_and_clear();
        }
        match r {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let meta = Meta {
        model: input.name.clone(),
        seed,
        duration,
        warmup,
        warmup_default: args.warmup.is_none() && profile.run.warmup.is_none(),
        stable: args.stable,
        assumptions: lowered.assumptions.clone(),
        requests_title: requests_title(&checked.diagram, &lowered.architecture),
    };
    let report = Report::build(&net, &results, &meta);
    let text = match args.format {
        SimFormat::Json => report.to_json().to_pretty() + "\n",
        SimFormat::Text => report.to_text(),
    };
    if let Err(e) = input::write_output(None, &text) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if let Some(path) = &args.report {
        let page = html::render(&report, &diagram_svg(&report, &checked.diagram));
        if let Err(e) = input::write_atomic(path, page.as_bytes()) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// The diagram drawn by the render backend, each station filled by its utilisation with a
/// badge, the bottleneck outlined, each view's projection lag noted.
/// The diagram for the HTML report: coloured by utilisation, the bottleneck outlined, each
/// view badged with its mean projection lag.
/// The gateway lens names the requests table when the diagram has gateway components.
fn requests_title(d: &crate::model::Diagram, arch: &crate::model::Architecture) -> String {
    use crate::model::arch::GatewayConcern as G;
    let gateway = d.nodes().any(|(ix, _)| {
        matches!(
            arch.component(ix),
            crate::model::Component::Gateway(
                G::Route | G::RateLimit | G::Discovery | G::LoadBalance | G::Aggregate
            )
        )
    });
    if gateway {
        "Gateway lens: requests by entry point and outcome".to_string()
    } else {
        "Requests by entry point and outcome".to_string()
    }
}

fn diagram_svg(r: &Report, d: &crate::model::Diagram) -> String {
    let utilisation: std::collections::BTreeMap<String, f64> = r
        .nodes
        .iter()
        .filter(|n| n.response.mean.v() > 0.0 || n.utilization.v() > 0.0)
        .map(|n| (n.id.clone(), n.utilization.v()))
        .collect();
    let mut notes = std::collections::BTreeMap::new();
    if let Some(c) = &r.cqrs {
        for (id, lag, _) in &c.views {
            if let Some(m) = lag.mean.mean {
                notes.insert(
                    id.clone(),
                    format!("lag {}", crate::sim::time::format_secs(m)),
                );
            }
        }
    }
    let options = crate::render::RenderOptions {
        node_style: crate::render::annotate::heat_styles(
            &utilisation,
            r.bottleneck.as_deref(),
            &notes,
        ),
        ..crate::render::RenderOptions::default()
    };
    let svg = crate::render::render_svg(d, &options);
    // Inline in HTML: drop any XML prologue before the <svg> element.
    match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    }
}
