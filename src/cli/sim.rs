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
use crate::sim::overrides::{apply as apply_sets, check_ids, parse_set, Set};
use crate::sim::profile::{default_warmup, Profile};
use crate::sim::replicate::{run_replications, PROGRESS_STEPS};
use crate::sim::report::{Meta, Report};
use crate::sim::sweep::{self, check_slo, parse_slo, Axis, Outcome, Point, Sweep};
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
    /// Simulated time left out of the statistics at the start (default: profile's, else 5s)
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
    /// Override a profile key, e.g. node.n4.service=exp(2ms), source.n1.rate=2000 (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run at each point of a range and tabulate, e.g. rate=500..8000:12, node.n9.servers=1..4
    #[arg(long, value_name = "KEY=A..B[:N]", conflicts_with_all = ["find", "realtime"])]
    pub sweep: Option<String>,
    /// Search for the largest rate (or smallest setting, e.g. node.n9.servers) meeting --slo
    #[arg(
        long,
        value_name = "KEY",
        requires = "slo",
        conflicts_with = "realtime"
    )]
    pub find: Option<String>,
    /// Objectives for --find (and extra columns for --sweep), e.g. "command.p99<50ms,view.n13.lag_p99<100ms"
    #[arg(long, value_name = "OBJECTIVES")]
    pub slo: Option<String>,
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

/// A failure: the message for stderr and the exit code.
struct Fail(u8, String);

/// What every run of this invocation shares: the diagram, the profile's text and the sets.
struct Prepared<'a> {
    args: &'a SimArgs,
    diagram: &'a crate::model::Diagram,
    /// The profile file's name (errors name it) and text, when there is one.
    profile: Option<(String, String)>,
    sets: Vec<Set>,
}

/// A lowered network with its run settings.
struct Runnable {
    lowered: crate::sim::lower::Lowered,
    duration: Nanos,
    warmup: Nanos,
    /// The warmup is the default (10% of the duration, at most 5 s).
    warmup_default: bool,
    seed: u64,
    reps: usize,
}

impl Prepared<'_> {
    /// Lower the diagram with the profile, the sets and `extra` (a swept point) applied.
    fn runnable(&self, extra: Option<&Set>, default_reps: u32) -> Result<Runnable, Fail> {
        let sets: Vec<Set> = self.sets.iter().cloned().chain(extra.cloned()).collect();
        let profile = if self.profile.is_none() && sets.iter().all(Set::is_rate) {
            Profile::default()
        } else {
            let (file, text) = match &self.profile {
                Some((f, t)) => (f.clone(), Some(t.as_str())),
                None => ("--set".to_string(), None),
            };
            let merged =
                apply_sets(text, &sets).map_err(|e| Fail(1, format!("error: {file}: {e}")))?;
            Profile::parse(&file, &merged).map_err(|e| Fail(1, format!("error: {e}")))?
        };
        let mut rate = self.args.rate;
        for s in sets.iter().filter(|s| s.is_rate()) {
            rate = s
                .value
                .as_float()
                .or_else(|| s.value.as_integer().map(|i| i as f64));
            if !rate.is_some_and(|r| r.is_finite() && r >= 0.0) {
                return Err(Fail(
                    2,
                    format!("error: --set {}: the rate must be a number >= 0", s.key),
                ));
            }
        }
        let opts = LowerOptions {
            no_infer: self.args.no_infer,
            rate,
            hop_limit: self.args.hop_limit,
        };
        let lowered =
            lower(self.diagram, &profile, &opts).map_err(|e| Fail(1, format!("error: {e}")))?;
        // The explanation needs the model and the profile only: print it before checking the
        // run settings, so that it shows even when they are wrong.
        if self.args.explain && extra.is_none() {
            if self.args.format == SimFormat::Json {
                eprint!("{}", lowered.explain);
            } else {
                println!("{}", lowered.explain);
            }
        }
        let duration = self
            .args
            .duration
            .or(profile.run.duration)
            .unwrap_or_else(|| parse_duration(DEFAULT_DURATION).unwrap_or(60_000_000_000));
        let (warmup, warmup_from) = match (self.args.warmup, profile.run.warmup) {
            (Some(w), _) => (w, " (--warmup)"),
            (None, Some(w)) => (w, " (the profile's)"),
            (None, None) => (default_warmup(duration), ""),
        };
        if duration == 0 {
            return Err(Fail(2, "error: the duration must be above 0".into()));
        }
        if warmup >= duration {
            return Err(Fail(
                2,
                format!(
                    "error: the warmup{warmup_from}, {}, must be shorter than the duration, {}",
                    format_secs(secs(warmup)),
                    format_secs(secs(duration))
                ),
            ));
        }
        let warmup_default = self.args.warmup.is_none() && profile.run.warmup.is_none();
        Ok(Runnable {
            lowered,
            duration,
            warmup,
            warmup_default,
            seed: self.args.seed.or(profile.run.seed).unwrap_or(DEFAULT_SEED),
            reps: self
                .args
                .replications
                .or(profile.run.replications)
                .unwrap_or(default_reps) as usize,
        })
    }

    fn meta(&self, model: &str, r: &Runnable, extra: Option<&Set>) -> Meta {
        Meta {
            model: model.to_string(),
            seed: r.seed,
            duration: r.duration,
            warmup: r.warmup,
            warmup_default: r.warmup_default,
            stable: self.args.stable,
            assumptions: r.lowered.assumptions.clone(),
            requests_title: requests_title(self.diagram, &r.lowered.architecture),
            sets: self
                .sets
                .iter()
                .chain(extra)
                .map(|s| (s.key.clone(), s.value_text()))
                .collect(),
        }
    }
}

pub fn run(args: &SimArgs) -> ExitCode {
    match run_checked(args) {
        Ok(c) => c,
        Err(Fail(code, msg)) => {
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            ExitCode::from(code)
        }
    }
}

fn run_checked(args: &SimArgs) -> Result<ExitCode, Fail> {
    let input = input::read(&args.file).map_err(|e| Fail(2, e.to_string()))?;
    let checked = model::check(&input.text);
    if checked.has_errors() {
        input::report(&input, &checked.diagnostics);
        return Err(Fail(1, String::new()));
    }
    let profile = match profile_path(&args.file, args.profile.as_ref()) {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| {
                Fail(
                    2,
                    format!("error: cannot read profile `{}`: {e}", p.display()),
                )
            })?;
            Some((p.display().to_string(), text))
        }
    };
    let mut sets = Vec::new();
    for a in &args.set {
        let set = parse_set(a).map_err(|e| Fail(2, format!("error: {e}")))?;
        check_ids(&set, &checked.diagram).map_err(|e| Fail(2, format!("error: {e}")))?;
        sets.push(set);
    }
    let prep = Prepared {
        args,
        diagram: &checked.diagram,
        profile,
        sets,
    };
    if args.sweep.is_some() || args.find.is_some() {
        return capacity(&prep, &input.name);
    }
    let run = prep.runnable(None, 1)?;
    let (duration, seed, reps) = (run.duration, run.seed, run.reps);
    let lowered = &run.lowered;
    let cfg = RunConfig {
        duration,
        warmup: run.warmup,
        series_points: if args.report.is_some() { 200 } else { 0 },
    };
    let net = Arc::new(lowered.network.clone());
    let results = if let Some(factor) = args.realtime {
        vec![realtime::run(&net, &cfg, seed, factor).map_err(|e| Fail(2, format!("error: {e}")))?]
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
        r.map_err(|e| Fail(2, format!("error: {e}")))?
    };
    let meta = prep.meta(&input.name, &run, None);
    let report = Report::build(&net, &results, &meta);
    let text = match args.format {
        SimFormat::Json => report.to_json().to_pretty() + "\n",
        SimFormat::Text => report.to_text(),
    };
    input::write_output(None, &text).map_err(|e| Fail(2, e.to_string()))?;
    if let Some(path) = &args.report {
        let page = html::render(&report, &diagram_svg(&report, &checked.diagram));
        input::write_atomic(path, page.as_bytes())
            .map_err(|e| Fail(2, format!("error: cannot write `{}`: {e}", path.display())))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Replications when sweeping or searching and neither the command line nor the profile says:
/// enough for a confidence interval.
pub const CAPACITY_REPLICATIONS: u32 = 5;

/// `--sweep` and `--find`.
fn capacity(prep: &Prepared<'_>, model: &str) -> Result<ExitCode, Fail> {
    let args = prep.args;
    let slo = match &args.slo {
        Some(s) => parse_slo(s).map_err(|e| Fail(2, format!("error: {e}")))?,
        None => Vec::new(),
    };
    let code = std::cell::Cell::new(1u8);
    let base = prep.runnable(None, CAPACITY_REPLICATIONS)?;
    let eval = |axis: &Axis, x: f64| -> Result<Point, String> {
        let set = axis.set_for(x).map_err(|e| {
            code.set(2);
            format!("error: {e}")
        })?;
        let run = prep
            .runnable(Some(&set), CAPACITY_REPLICATIONS)
            .map_err(|Fail(c, m)| {
                code.set(c);
                m
            })?;
        let cfg = RunConfig {
            duration: run.duration,
            warmup: run.warmup,
            series_points: 0,
        };
        let net = Arc::new(run.lowered.network.clone());
        let results = run_replications(
            Arc::clone(&net),
            &cfg,
            run.seed,
            run.reps,
            args.threads.map(|t| t as usize),
            None,
        )
        .map_err(|e| {
            code.set(2);
            format!("error: {e}")
        })?;
        let meta = prep.meta(model, &run, Some(&set));
        let merged = Report::build(&net, &results, &meta);
        let reps = results
            .chunks(1)
            .map(|r| Report::build(&net, r, &meta))
            .collect();
        Ok(Point::of(x, &Outcome { merged, reps }))
    };
    let sets: Vec<(String, String)> = prep
        .sets
        .iter()
        .map(|s| (s.key.clone(), s.value_text()))
        .collect();
    let fail = |e: String| Fail(code.get(), e);
    let (out, html, ok) = if let Some(sw) = &args.sweep {
        let axis = Axis::parse(sw).map_err(|e| Fail(2, format!("error: {e}")))?;
        let mut points = Vec::with_capacity(axis.values.len());
        for &x in &axis.values {
            points.push(eval(&axis, x).map_err(fail)?);
        }
        if let Some(p) = points.first() {
            check_slo(&slo, p).map_err(|e| Fail(2, format!("error: {e}")))?;
        }
        let extra: Vec<String> = slo.iter().map(|o| o.metric.clone()).collect();
        let sweep = Sweep::new(
            axis,
            points,
            &extra,
            sets,
            model.to_string(),
            secs(base.duration),
            base.seed,
        );
        let out = match args.format {
            SimFormat::Json => sweep.to_json().to_pretty() + "\n",
            SimFormat::Text => sweep.to_text(),
        };
        (out, sweep.to_html(), true)
    } else {
        let key = args.find.as_deref().unwrap_or("rate");
        let axis = Axis::key(key).map_err(|e| Fail(2, format!("error: --find {key}: {e}")))?;
        if slo.is_empty() {
            return Err(Fail(
                2,
                "error: --find needs --slo, e.g. --slo \"command.p99<50ms\"".into(),
            ));
        }
        let (start, min) = if axis.maximise() {
            let r = base
                .lowered
                .network
                .sources
                .iter()
                .filter(|s| s.reads.is_none() && s.closed.is_none())
                .map(|s| s.interarrival.mean_ns())
                .find(|m| *m > 0.0)
                .map_or(500.0, |m| 1e9 / m);
            (r, 0.0)
        } else {
            let min = match axis.key.rsplit('.').next() {
                Some("queue") | Some("seed") | Some("max") => 0.0,
                _ => 1.0,
            };
            (min, min)
        };
        let mut search = sweep::search(axis, slo, start, min, 0.01, 60, |x| {
            let axis = Axis::key(key)?;
            eval(&axis, x)
        })
        .map_err(|e| {
            if e.starts_with("--slo") {
                Fail(2, format!("error: {e}"))
            } else {
                fail(e)
            }
        })?;
        search.rate = if search.axis.is_rate() {
            None
        } else {
            args.rate
        };
        search.sets = sets;
        search.model = model.to_string();
        search.duration = secs(base.duration);
        search.seed = base.seed;
        let ok = search.answer().is_some();
        let out = match args.format {
            SimFormat::Json => search.to_json().to_pretty() + "\n",
            SimFormat::Text => search.to_text(),
        };
        (out, search.to_html(), ok)
    };
    input::write_output(None, &out).map_err(|e| Fail(2, e.to_string()))?;
    if let Some(path) = &args.report {
        input::write_atomic(path, html.as_bytes())
            .map_err(|e| Fail(2, format!("error: cannot write `{}`: {e}", path.display())))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
