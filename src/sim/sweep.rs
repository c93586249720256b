//! Capacity questions: `--sweep KEY=A..B:N` runs the simulation at each point of a range, and
//! `--find KEY --slo …` searches for the largest rate (or smallest setting) that meets service
//! level objectives. The runs themselves are the caller's (a closure from a point to the merged
//! report and one report per replication); this module chooses the points, reads the metrics,
//! decides pass or fail with the replications' confidence intervals, and prints the answers as
//! text, JSON and HTML.

use std::fmt::Write as _;

use super::json::J;
use super::overrides::Set;
use super::report::{Lat, Report};
use super::stats::mean_ci;
use super::time::{format_secs, parse_duration};

/// One point's runs: the merged report and one report per replication.
pub struct Outcome {
    pub merged: Report,
    pub reps: Vec<Report>,
}

/// What a swept key's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A real number (rates, probabilities).
    Number,
    /// Integer steps (servers, queue, batch, users…).
    Integer,
    /// A duration in seconds; set as a constant (`service = "2ms"` is `const(2ms)`).
    Duration,
}

/// A swept or searched key and its values.
#[derive(Debug, Clone)]
pub struct Axis {
    pub key: String,
    pub unit: Unit,
    pub values: Vec<f64>,
    path: Vec<String>,
}

const NUMBER_KEYS: &[&str] = &["rate", "repeat", "cores"];
const INTEGER_KEYS: &[&str] = &[
    "servers",
    "queue",
    "batch",
    "users",
    "hop_limit",
    "max",
    "seed",
];
const DURATION_KEYS: &[&str] = &[
    "service",
    "delay",
    "interarrival",
    "think",
    "join_timeout",
    "per_item",
    "per_key",
    "interval",
    "read",
    "wakeup",
    "duration",
    "warmup",
];

/// The unit of a key, or an error naming the keys that can be swept.
pub fn key_unit(key: &str) -> Result<(Unit, Vec<String>), String> {
    let path = super::overrides::parse_key(key)?;
    let leaf = path.last().map(String::as_str).unwrap_or("");
    let unit = if path.len() == 4 || NUMBER_KEYS.contains(&leaf) {
        Unit::Number
    } else if INTEGER_KEYS.contains(&leaf) {
        Unit::Integer
    } else if DURATION_KEYS.contains(&leaf) {
        Unit::Duration
    } else {
        return Err(format!(
            "`{key}` cannot be swept: sweeps and searches take numeric keys ({}, {}, the durations {} as constants, node.ID.branch.TARGET); use --set for the others",
            NUMBER_KEYS.join(", "),
            INTEGER_KEYS.join(", "),
            DURATION_KEYS.join(", ")
        ));
    };
    Ok((unit, path))
}

impl Axis {
    /// An axis with no values yet (for `--find`).
    pub fn key(key: &str) -> Result<Axis, String> {
        let (unit, path) = key_unit(key)?;
        Ok(Axis {
            key: key.to_string(),
            unit,
            values: Vec::new(),
            path,
        })
    }

    /// Parse `KEY=A..B:N` (N points from A to B inclusive) or, for integer keys, `KEY=A..B`
    /// (every integer).
    pub fn parse(arg: &str) -> Result<Axis, String> {
        let usage = "write KEY=A..B:N (N points from A to B), e.g. rate=500..8000:12, or KEY=A..B for integer steps, e.g. node.n9.servers=1..4";
        let (key, range) = arg
            .split_once('=')
            .ok_or_else(|| format!("--sweep `{arg}`: {usage}"))?;
        let mut axis = Axis::key(key.trim()).map_err(|e| format!("--sweep {arg}: {e}"))?;
        let (span, n) = match range.split_once(':') {
            Some((s, n)) => {
                let n: usize = n
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n| (1..=1000).contains(&n))
                    .ok_or_else(|| {
                        format!("--sweep {arg}: `{n}` must be a number of points from 1 to 1000")
                    })?;
                (s, Some(n))
            }
            None => (range, None),
        };
        let (a, b) = span
            .split_once("..")
            .ok_or_else(|| format!("--sweep {arg}: {usage}"))?;
        let num = |s: &str| -> Result<f64, String> {
            let s = s.trim();
            let v = match axis.unit {
                Unit::Duration => parse_duration(s).map(|ns| ns as f64 / 1e9),
                _ => s.parse::<f64>().ok().filter(|x| x.is_finite()),
            };
            v.filter(|x| *x >= 0.0).ok_or_else(|| {
                format!(
                    "--sweep {arg}: `{s}` is not {}",
                    match axis.unit {
                        Unit::Duration => "a duration (e.g. 2ms)",
                        Unit::Integer => "a non-negative integer",
                        Unit::Number => "a non-negative number",
                    }
                )
            })
        };
        let (a, b) = (num(a)?, num(b)?);
        if b < a {
            return Err(format!("--sweep {arg}: the range runs from low to high"));
        }
        let values: Vec<f64> = match (axis.unit, n) {
            (Unit::Integer, None) => {
                if a.fract() != 0.0 || b.fract() != 0.0 {
                    return Err(format!("--sweep {arg}: integer steps need integer ends"));
                }
                if b - a >= 1000.0 {
                    return Err(format!("--sweep {arg}: at most 1000 points; give :N"));
                }
                (a as u64..=b as u64).map(|x| x as f64).collect()
            }
            (_, None) => {
                return Err(format!(
                    "--sweep {arg}: give the number of points, e.g. {key}={span}:10"
                ))
            }
            (unit, Some(n)) => {
                let mut v: Vec<f64> = (0..n)
                    .map(|i| {
                        let x = if n == 1 {
                            a
                        } else {
                            a + (b - a) * i as f64 / (n - 1) as f64
                        };
                        if unit == Unit::Integer {
                            x.round()
                        } else {
                            x
                        }
                    })
                    .collect();
                v.dedup();
                v
            }
        };
        axis.values = values;
        Ok(axis)
    }

    /// `--rate` for the point (the `rate` key), else `None`.
    pub fn is_rate(&self) -> bool {
        self.path.len() == 1 && self.path[0] == "rate"
    }

    /// The largest value is best (rates) rather than the smallest (servers…)?
    pub fn maximise(&self) -> bool {
        self.path.last().is_some_and(|l| l == "rate")
    }

    /// The `--set` for value `x` (the `rate` key too: the caller treats it as `--rate`).
    pub fn set_for(&self, x: f64) -> Result<Set, String> {
        let value = match self.unit {
            Unit::Number => toml_edit::Value::from(x),
            Unit::Integer => toml_edit::Value::from(x.round() as i64),
            Unit::Duration => toml_edit::Value::from(format!("{}ns", (x * 1e9).round() as u64)),
        };
        Set::new(&self.key, value)
    }

    /// A value for people.
    pub fn fmt(&self, x: f64) -> String {
        match self.unit {
            Unit::Integer => format!("{}", x.round() as i64),
            Unit::Duration => format_secs(x),
            Unit::Number => fmt_num(x),
        }
    }
}

/// Three significant figures, no exponent.
pub fn fmt_num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

/// A metric's value at one point: the merged replications' figure (as the report gives it)
/// and the Student-t 95% interval over the replications' own figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Val {
    pub point: Option<f64>,
    pub ci: Option<[f64; 2]>,
}

impl Val {
    /// The pessimistic end: the interval's top, or the figure when that is higher (or there is
    /// no interval, with one replication).
    pub fn upper(&self) -> Option<f64> {
        let p = self.point?;
        Some(self.ci.map_or(p, |c| c[1].max(p)))
    }

    pub fn lower(&self) -> Option<f64> {
        let p = self.point?;
        Some(self.ci.map_or(p, |c| c[0].min(p)))
    }

    fn json(&self) -> J {
        let mut o = J::obj();
        o.set("value", self.point).set("ci95", self.ci);
        o
    }
}

/// Whether a metric is a time (seconds) or a plain number (utilisation, throughput).
pub fn is_time(name: &str) -> bool {
    !(name.ends_with(".utilization") || name.ends_with(".throughput"))
}

fn lat(
    out: &mut Vec<(String, Option<f64>)>,
    prefix: &str,
    l: &Lat,
    p50: &str,
    p99: &str,
    mean: &str,
) {
    out.push((format!("{prefix}{mean}"), l.mean.mean));
    out.push((format!("{prefix}{p50}"), l.p50));
    out.push((format!("{prefix}{p99}"), l.p99));
}

/// Every metric a report has, by the name `--slo` uses, in report order.
pub fn metrics(r: &Report) -> Vec<(String, Option<f64>)> {
    let mut m = Vec::new();
    lat(&mut m, "end_to_end.", &r.end_to_end, "p50", "p99", "mean");
    for (id, l) in &r.sinks {
        lat(&mut m, &format!("sink.{id}."), l, "p50", "p99", "mean");
    }
    for q in &r.requests {
        for o in &q.outcomes {
            lat(
                &mut m,
                &format!("requests.{}.{}.", q.id, o.id),
                &o.latency,
                "p50",
                "p99",
                "mean",
            );
        }
    }
    if let Some(c) = &r.cqrs {
        lat(&mut m, "command.", &c.command, "p50", "p99", "mean");
        for (id, l, _) in &c.views {
            lat(
                &mut m,
                &format!("view.{id}."),
                l,
                "lag_p50",
                "lag_p99",
                "lag_mean",
            );
            m.push((format!("view.{id}.lag_max"), l.max));
        }
        lat(&mut m, "reads.", &c.reads, "p50", "p99", "mean");
        lat(&mut m, "staleness.", &c.staleness, "p50", "p99", "mean");
    }
    for n in &r.nodes {
        let p = format!("node.{}.", n.id);
        lat(
            &mut m,
            &p,
            &n.response,
            "p50_response",
            "p99_response",
            "mean_response",
        );
        lat(&mut m, &p, &n.wait, "p50_wait", "p99_wait", "mean_wait");
        m.push((format!("{p}utilization"), n.utilization.mean));
        m.push((format!("{p}throughput"), n.throughput.mean));
    }
    let bu = r
        .bottleneck
        .as_ref()
        .and_then(|b| r.nodes.iter().find(|n| &n.id == b))
        .and_then(|n| n.utilization.mean);
    m.push(("bottleneck.utilization".to_string(), bu));
    m
}

/// The metrics a sweep tabulates: end to end, each entry point's outcomes, command latency
/// and each view's lag (p50 and p99 where they apply).
fn headline(name: &str) -> bool {
    name == "end_to_end.p50"
        || name == "end_to_end.p99"
        || (name.starts_with("requests.") && (name.ends_with(".p50") || name.ends_with(".p99")))
        || name == "command.p99"
        || (name.starts_with("view.") && name.ends_with(".lag_p99"))
        || name == "reads.p99"
}

/// One evaluated point.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub vals: Vec<(String, Val)>,
    pub bottleneck: Option<(String, f64)>,
    pub unstable: Vec<String>,
    pub replications: usize,
}

impl Point {
    pub fn of(x: f64, o: &Outcome) -> Point {
        let merged = metrics(&o.merged);
        let reps: Vec<Vec<(String, Option<f64>)>> = o.reps.iter().map(metrics).collect();
        let vals = merged
            .into_iter()
            .enumerate()
            .map(|(i, (name, point))| {
                let per: Vec<Option<f64>> = reps
                    .iter()
                    .map(|r| {
                        r.get(i)
                            .filter(|(n, _)| *n == name)
                            .or_else(|| r.iter().find(|(n, _)| *n == name))
                            .and_then(|(_, v)| *v)
                    })
                    .collect();
                let ci = if o.reps.len() > 1 {
                    mean_ci(&per).1
                } else {
                    None
                };
                (name, Val { point, ci })
            })
            .collect();
        let bottleneck = o.merged.bottleneck.as_ref().map(|b| {
            let u = o
                .merged
                .nodes
                .iter()
                .find(|n| &n.id == b)
                .map_or(f64::NAN, |n| n.utilization.v());
            (b.clone(), u)
        });
        Point {
            x,
            vals,
            bottleneck,
            unstable: o.merged.unstable.clone(),
            replications: o.reps.len(),
        }
    }

    pub fn get(&self, name: &str) -> Val {
        self.vals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_default()
    }
}

fn cell(name: &str, v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(x) if is_time(name) => format_secs(x),
        Some(x) => format!("{x:.3}"),
    }
}

/// The knee of a metric along a sweep: the first point where it exceeds twice its value at the
/// sweep's first point with a positive value (the low-load value).
pub fn knee(points: &[Point], name: &str) -> Option<usize> {
    let base_ix = points
        .iter()
        .position(|p| p.get(name).point.is_some_and(|v| v > 0.0))?;
    let base = points[base_ix].get(name).point?;
    points
        .iter()
        .enumerate()
        .skip(base_ix + 1)
        .find(|(_, p)| p.get(name).point.is_some_and(|v| v > 2.0 * base))
        .map(|(i, _)| i)
}

/// A finished sweep.
pub struct Sweep {
    pub axis: Axis,
    pub points: Vec<Point>,
    /// Metrics tabulated and plotted.
    pub columns: Vec<String>,
    pub sets: Vec<(String, String)>,
    pub model: String,
    pub duration: f64,
    pub seed: u64,
}

impl Sweep {
    pub fn new(
        axis: Axis,
        points: Vec<Point>,
        extra: &[String],
        sets: Vec<(String, String)>,
        model: String,
        duration: f64,
        seed: u64,
    ) -> Sweep {
        let mut columns: Vec<String> = points
            .first()
            .map(|p| {
                p.vals
                    .iter()
                    .map(|(n, _)| n.clone())
                    .filter(|n| headline(n) || extra.contains(n))
                    .filter(|n| points.iter().any(|p| p.get(n).point.is_some()))
                    .collect()
            })
            .unwrap_or_default();
        for e in extra {
            if !columns.contains(e) {
                columns.push(e.clone());
            }
        }
        Sweep {
            axis,
            points,
            columns,
            sets,
            model,
            duration,
            seed,
        }
    }

    fn reps(&self) -> usize {
        self.points.first().map_or(0, |p| p.replications)
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: sweep of {} over {} points, {} replication{} of {} simulated each, seed {}",
            self.model,
            self.axis.key,
            self.points.len(),
            self.reps(),
            if self.reps() == 1 { "" } else { "s" },
            format_secs(self.duration),
            self.seed
        );
        set_line(&mut s, &self.sets);
        let _ = writeln!(s);
        let w0 = self.axis.key.len().max(8);
        let widths: Vec<usize> = self.columns.iter().map(|c| c.len().max(9)).collect();
        let _ = write!(s, "{:<w0$}", self.axis.key);
        for (c, w) in self.columns.iter().zip(&widths) {
            let _ = write!(s, "  {c:>w$}");
        }
        let _ = writeln!(s, "  {:<10} {:>6}", "bottleneck", "util");
        for p in &self.points {
            let _ = write!(s, "{:<w0$}", self.axis.fmt(p.x));
            for (c, w) in self.columns.iter().zip(&widths) {
                let _ = write!(s, "  {:>w$}", cell(c, p.get(c).point));
            }
            let (b, u) = p
                .bottleneck
                .clone()
                .map_or(("-".to_string(), "-".to_string()), |(b, u)| {
                    (b, format!("{u:.3}"))
                });
            let _ = write!(s, "  {b:<10} {u:>6}");
            if !p.unstable.is_empty() {
                let _ = write!(s, "  UNSTABLE ({})", p.unstable.join(", "));
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Knee (the first point where a metric exceeds twice its low-load value):"
        );
        for c in &self.columns {
            match knee(&self.points, c) {
                Some(i) => {
                    let _ = writeln!(
                        s,
                        "  {c:<24} at {} = {}",
                        self.axis.key,
                        self.axis.fmt(self.points[i].x)
                    );
                }
                None => {
                    let _ = writeln!(s, "  {c:<24} none in this range");
                }
            }
        }
        if self.reps() > 1 {
            let _ = writeln!(
                s,
                "Figures are the merged replications'; --format json and --report give each one's 95% interval over the replications."
            );
        }
        s
    }

    pub fn to_json(&self) -> J {
        let mut root = J::obj();
        root.set("model", self.model.as_str())
            .set("seed", self.seed)
            .set("duration", self.duration)
            .set("replications", self.reps() as u64);
        let mut sw = J::obj();
        sw.set("key", self.axis.key.as_str()).set(
            "values",
            J::Arr(self.points.iter().map(|p| J::from(p.x)).collect()),
        );
        root.set("sweep", sw);
        root.set("set", sets_json(&self.sets));
        root.set(
            "metrics",
            J::Arr(self.columns.iter().map(|c| J::Str(c.clone())).collect()),
        );
        let mut pts = Vec::new();
        for p in &self.points {
            let mut o = J::obj();
            o.set("value", p.x);
            let mut m = J::obj();
            for c in &self.columns {
                m.set(c.as_str(), p.get(c).json());
            }
            o.set("metrics", m);
            o.set(
                "bottleneck",
                p.bottleneck
                    .as_ref()
                    .map_or(J::Null, |(b, _)| J::Str(b.clone())),
            );
            o.set(
                "bottleneck_utilization",
                p.bottleneck.as_ref().map(|(_, u)| *u),
            );
            o.set(
                "unstable",
                J::Arr(p.unstable.iter().map(|u| J::Str(u.clone())).collect()),
            );
            pts.push(o);
        }
        root.set("points", J::Arr(pts));
        let mut k = J::obj();
        for c in &self.columns {
            k.set(c.as_str(), knee(&self.points, c).map(|i| self.points[i].x));
        }
        root.set("knee", k);
        root
    }

    pub fn to_html(&self) -> String {
        let mut s = page_head(&format!("fz sim sweep: {}", self.model));
        let _ = write!(
            s,
            "<p>Sweep of <code>{}</code> over {} points; {} replication(s) of {} simulated each, seed {}. Lines are the merged replications' figures, bands the 95% interval over the replications, the knee (first point above twice the low-load value) is circled, unstable points are red.</p>",
            esc(&self.axis.key),
            self.points.len(),
            self.reps(),
            format_secs(self.duration),
            self.seed
        );
        html_sets(&mut s, &self.sets);
        s.push_str("<section id=\"plots\">");
        for c in &self.columns {
            let series: Vec<Val> = self.points.iter().map(|p| p.get(c)).collect();
            let xs: Vec<f64> = self.points.iter().map(|p| p.x).collect();
            let unstable: Vec<bool> = self.points.iter().map(|p| !p.unstable.is_empty()).collect();
            s.push_str(&plot_svg(
                c,
                &self.axis,
                &xs,
                &series,
                knee(&self.points, c),
                None,
                &unstable,
            ));
        }
        s.push_str("</section><h2>Points</h2><table><tr>");
        let _ = write!(s, "<th>{}</th>", esc(&self.axis.key));
        for c in &self.columns {
            let _ = write!(s, "<th>{}</th>", esc(c));
        }
        s.push_str("<th>bottleneck</th><th>util</th><th>unstable</th></tr>\n");
        for p in &self.points {
            let hot = if p.unstable.is_empty() {
                ""
            } else {
                " class=\"hot\""
            };
            let _ = write!(s, "<tr{hot}><td>{}</td>", esc(&self.axis.fmt(p.x)));
            for c in &self.columns {
                let v = p.get(c);
                let ci =
                    v.ci.map(|[a, b]| format!(" [{}, {}]", cell(c, Some(a)), cell(c, Some(b))))
                        .unwrap_or_default();
                let _ = write!(s, "<td>{}{}</td>", cell(c, v.point), ci);
            }
            let (b, u) = p
                .bottleneck
                .clone()
                .map_or(("-".to_string(), "-".to_string()), |(b, u)| {
                    (b, format!("{u:.3}"))
                });
            let _ = writeln!(
                s,
                "<td class=\"l\">{}</td><td>{u}</td><td class=\"l\">{}</td></tr>",
                esc(&b),
                esc(&p.unstable.join(", "))
            );
        }
        s.push_str("</table></body></html>\n");
        s
    }
}

fn set_line(s: &mut String, sets: &[(String, String)]) {
    if !sets.is_empty() {
        let list: Vec<String> = sets.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let _ = writeln!(s, "Set on the command line: {}", list.join(", "));
    }
}

/// The `set` object of the JSON outputs.
pub fn sets_json(sets: &[(String, String)]) -> J {
    let mut o = J::obj();
    for (k, v) in sets {
        o.set(k.as_str(), J::Str(v.clone()));
    }
    o
}

fn html_sets(s: &mut String, sets: &[(String, String)]) {
    if !sets.is_empty() {
        let list: Vec<String> = sets
            .iter()
            .map(|(k, v)| format!("<code>{} = {}</code>", esc(k), esc(v)))
            .collect();
        let _ = write!(
            s,
            "<p><b>Set on the command line:</b> {}</p>",
            list.join(", ")
        );
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page_head(title: &str) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(s, "<title>{}</title>", esc(title));
    s.push_str("<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f0f0f0}td.l{text-align:left}.hot{background:#fde0dc}figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:12px}</style></head><body>\n");
    let _ = write!(s, "<h1>{}</h1>", esc(title));
    s
}

/// A metric against the swept value: the figure as a line, the replications' 95% interval as a
/// band, the knee circled, unstable points red, an objective's threshold dashed.
pub fn plot_svg(
    name: &str,
    axis: &Axis,
    xs: &[f64],
    vals: &[Val],
    knee: Option<usize>,
    threshold: Option<f64>,
    unstable: &[bool],
) -> String {
    let (w, h, l, b) = (460.0, 220.0, 70.0, 30.0);
    let pw = w - l - 10.0;
    let ph = h - b - 20.0;
    let mut s = String::new();
    let _ = write!(s, "<figure><figcaption>{} against {}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" data-metric=\"{}\">", esc(name), esc(&axis.key), esc(name));
    let pts: Vec<(f64, Val)> = xs.iter().copied().zip(vals.iter().copied()).collect();
    let ymax = pts
        .iter()
        .flat_map(|(_, v)| [v.point, v.upper()])
        .flatten()
        .chain(threshold)
        .fold(0.0f64, f64::max);
    if xs.is_empty() || ymax <= 0.0 {
        s.push_str("<text x=\"10\" y=\"20\">no samples</text></svg></figure>");
        return s;
    }
    let ymax = ymax * 1.05;
    let (x0, x1) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let span = if x1 > x0 { x1 - x0 } else { 1.0 };
    let px = |x: f64| l + (x - x0) / span * pw;
    // A logarithmic scale when the figures span more than 30x (latency past the knee), so the
    // low-load points stay readable; zeros sit on the axis.
    let ymin = pts
        .iter()
        .flat_map(|(_, v)| [v.point, v.lower()])
        .flatten()
        .filter(|y| *y > 0.0)
        .fold(f64::INFINITY, f64::min);
    let log = ymin.is_finite() && ymax / ymin > 30.0;
    let ylo = ymin / 1.2;
    let py = |y: f64| {
        let f = if log {
            if y <= ylo {
                0.0
            } else {
                (y / ylo).ln() / (ymax / ylo).ln()
            }
        } else {
            y / ymax
        };
        10.0 + ph - f * ph
    };
    let fy = |y: f64| {
        if is_time(name) {
            format_secs(y)
        } else {
            format!("{y:.2}")
        }
    };
    // Axes and ticks.
    let _ = write!(s, "<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/><line x1=\"{l}\" y1=\"10\" x2=\"{l}\" y2=\"{}\" stroke=\"#888\"/>", 10.0 + ph, l + pw, 10.0 + ph, 10.0 + ph);
    if log {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"8\" font-size=\"9\" fill=\"#888\">log scale</text>",
            l + 4.0
        );
    }
    for i in 0..=4 {
        let y = if log {
            ylo * (ymax / ylo).powf(i as f64 / 4.0)
        } else {
            ymax * i as f64 / 4.0
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            l - 4.0,
            py(y) + 3.0,
            fy(y)
        );
    }
    for &x in [x0, (x0 + x1) / 2.0, x1].iter() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            px(x),
            10.0 + ph + 14.0,
            esc(&axis.fmt(x))
        );
    }
    // The band: upper ends left to right, lower ends back.
    let band: Vec<(f64, f64, f64)> = pts
        .iter()
        .filter_map(|(x, v)| Some((*x, v.lower()?, v.upper()?)))
        .collect();
    if band.len() >= 2 {
        let mut poly: Vec<String> = band
            .iter()
            .map(|(x, _, u)| format!("{:.1},{:.1}", px(*x), py(*u)))
            .collect();
        poly.extend(
            band.iter()
                .rev()
                .map(|(x, lo, _)| format!("{:.1},{:.1}", px(*x), py(*lo))),
        );
        let _ = write!(s, "<polygon class=\"ci95\" points=\"{}\" fill=\"#4a7fb5\" fill-opacity=\"0.2\" stroke=\"none\"/>", poly.join(" "));
    }
    let line: Vec<String> = pts
        .iter()
        .filter_map(|(x, v)| v.point.map(|y| format!("{:.1},{:.1}", px(*x), py(y))))
        .collect();
    let _ = write!(
        s,
        "<polyline fill=\"none\" stroke=\"#4a7fb5\" stroke-width=\"1.5\" points=\"{}\"/>",
        line.join(" ")
    );
    for (i, (x, v)) in pts.iter().enumerate() {
        if let Some(y) = v.point {
            let c = if unstable.get(i).copied().unwrap_or(false) {
                "#d62728"
            } else {
                "#4a7fb5"
            };
            let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{c}\"><title>{} = {}: {}</title></circle>", px(*x), py(y), esc(&axis.key), esc(&axis.fmt(*x)), fy(y));
        }
    }
    if let Some(t) = threshold {
        let _ = write!(s, "<line class=\"slo\" x1=\"{l}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#2ca02c\" stroke-dasharray=\"4 3\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#2ca02c\">objective {}</text>", py(t), l + pw, py(t), l + pw, py(t) - 3.0, fy(t));
    }
    if let Some(k) = knee {
        if let Some(y) = pts.get(k).and_then(|(_, v)| v.point) {
            let (kx, ky) = (px(pts[k].0), py(y));
            let _ = write!(s, "<circle class=\"knee\" cx=\"{kx:.1}\" cy=\"{ky:.1}\" r=\"7\" fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#ff7f0e\">knee {}</text>", kx - 8.0, (ky - 10.0).max(12.0), esc(&axis.fmt(pts[k].0)));
        }
    }
    s.push_str("</svg></figure>");
    s
}

/// One service level objective: `metric < threshold` (or `<=`).
#[derive(Debug, Clone)]
pub struct Objective {
    pub metric: String,
    pub inclusive: bool,
    pub threshold: f64,
}

impl Objective {
    fn op(&self) -> &'static str {
        if self.inclusive {
            "<="
        } else {
            "<"
        }
    }

    fn holds(&self, v: Option<f64>) -> bool {
        match v {
            Some(v) if self.inclusive => v <= self.threshold,
            Some(v) => v < self.threshold,
            None => false,
        }
    }

    fn text(&self) -> String {
        format!(
            "{}{}{}",
            self.metric,
            self.op(),
            cell(&self.metric, Some(self.threshold))
        )
    }
}

/// Parse `--slo "command.p99<50ms,view.n13.lag_p99<100ms"`. Times take ns, us, ms, s;
/// utilisation and throughput are plain numbers.
pub fn parse_slo(s: &str) -> Result<Vec<Objective>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (metric, inclusive, rest) = if let Some((m, r)) = part.split_once("<=") {
            (m, true, r)
        } else if let Some((m, r)) = part.split_once('<') {
            (m, false, r)
        } else {
            return Err(format!(
                "--slo `{part}`: write METRIC<VALUE, e.g. command.p99<50ms (objectives are upper limits, separated by commas)"
            ));
        };
        let metric = metric.trim().to_string();
        let rest = rest.trim();
        let threshold = if is_time(&metric) {
            parse_duration(rest).map(|ns| ns as f64 / 1e9).ok_or_else(|| {
                format!("--slo `{part}`: `{rest}` is not a duration; write a number with ns, us, ms or s, e.g. 50ms")
            })?
        } else {
            rest.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("--slo `{part}`: `{rest}` is not a number"))?
        };
        out.push(Objective {
            metric,
            inclusive,
            threshold,
        });
    }
    if out.is_empty() {
        return Err(
            "--slo is empty; write e.g. \"command.p99<50ms,view.n13.lag_p99<100ms\"".into(),
        );
    }
    Ok(out)
}

/// The metric names of a point for an error message: every name, but each station's eight
/// metrics once, for all station ids.
fn metric_list(names: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut node_ids: Vec<&str> = Vec::new();
    let mut node_metrics: Vec<&str> = Vec::new();
    for n in names {
        match n.strip_prefix("node.").and_then(|r| r.split_once('.')) {
            Some((id, m)) => {
                if !node_ids.contains(&id) {
                    node_ids.push(id);
                }
                if !node_metrics.contains(&m) {
                    node_metrics.push(m);
                }
            }
            None => out.push(n.to_string()),
        }
    }
    if !node_ids.is_empty() {
        out.push(format!(
            "node.ID.{{{}}} for ID in {}",
            node_metrics.join(","),
            node_ids.join(", ")
        ));
    }
    out.join(", ")
}

/// Check objectives against the metrics a report has; the error lists them.
pub fn check_slo(objs: &[Objective], p: &Point) -> Result<(), String> {
    for o in objs {
        if !p.vals.iter().any(|(n, _)| *n == o.metric) {
            let names: Vec<&str> = p.vals.iter().map(|(n, _)| n.as_str()).collect();
            return Err(format!(
                "--slo: unknown metric `{}`; valid metrics: {}",
                o.metric,
                metric_list(&names)
            ));
        }
    }
    Ok(())
}

/// After a search: an objective whose metric had no samples at any point tried cannot be
/// judged; the error lists the metrics that had samples.
fn check_samples(objs: &[Objective], points: &[(Point, [bool; 3])]) -> Result<(), String> {
    for o in objs {
        if points.iter().all(|(p, _)| p.get(&o.metric).point.is_none()) {
            let names: Vec<&str> = points
                .first()
                .map(|(p, _)| {
                    p.vals
                        .iter()
                        .filter(|(n, _)| points.iter().any(|(q, _)| q.get(n).point.is_some()))
                        .map(|(n, _)| n.as_str())
                        .collect()
                })
                .unwrap_or_default();
            return Err(format!(
                "--slo: `{}` has no samples at any point tried (a metric with no samples fails); metrics with samples: {}",
                o.metric,
                metric_list(&names)
            ));
        }
    }
    Ok(())
}

/// How a point fares against the objectives, at three levels: every objective's upper 95%
/// bound meets it (the rule `--find` answers with), every figure meets it, every lower bound.
/// A point with an unstable station fails at every level: its queues grow without bound, and
/// whatever a finite run measured there says only how long the run was.
pub fn passes(objs: &[Objective], p: &Point) -> [bool; 3] {
    if !p.unstable.is_empty() {
        return [false; 3];
    }
    let all = |f: &dyn Fn(Val) -> Option<f64>| objs.iter().all(|o| o.holds(f(p.get(&o.metric))));
    [all(&|v| v.upper()), all(&|v| v.point), all(&|v| v.lower())]
}

/// The search's choice of the next point, given for each level the best passing and the
/// nearest failing value so far. `None`: every level is settled.
fn next_point(
    maximise: bool,
    integer: bool,
    best: &[Option<f64>; 3],
    fail: &[Option<f64>; 3],
    start: f64,
    tol: f64,
    min: f64,
) -> Option<f64> {
    for k in 0..3 {
        let c = if maximise {
            match (best[k], fail[k]) {
                (None, Some(f)) if f > start * 1e-4 => Some(f / 2.0),
                (Some(b), None) if b < start * 1e6 => Some(b * 2.0),
                (Some(b), Some(f)) if b < f && f - b > tol * f => Some((b + f) / 2.0),
                _ => None,
            }
        } else {
            // Passing at and above the answer: `best` is the smallest passing value,
            // `fail` the largest failing one.
            match (best[k], fail[k]) {
                (None, Some(f)) if f < 1e6 => Some(if f < 1.0 { 1.0 } else { f * 2.0 }),
                (Some(b), None) if b > min => Some(((b + min) / 2.0).floor().max(min)),
                (Some(b), Some(f)) if f < b && b - f > 1.0 => Some(((b + f) / 2.0).floor()),
                _ => None,
            }
        };
        if let Some(c) = c {
            let c = if integer { c.round() } else { c };
            return Some(c);
        }
    }
    None
}

/// A finished search.
pub struct Search {
    pub axis: Axis,
    pub objectives: Vec<Objective>,
    pub points: Vec<(Point, [bool; 3])>,
    /// Per level (upper bounds, figures, lower bounds): the best passing value.
    pub best: [Option<f64>; 3],
    pub fail: [Option<f64>; 3],
    pub rate: Option<f64>,
    pub sets: Vec<(String, String)>,
    pub model: String,
    pub duration: f64,
    pub seed: u64,
}

/// Search `axis` for the largest rate (or smallest integer setting) meeting `objs`: bisection
/// from `start`, doubling (or halving) until the answer is bracketed, to `tol` relative
/// precision for real values, to the unit for integers.
pub fn search(
    axis: Axis,
    objs: Vec<Objective>,
    start: f64,
    min: f64,
    tol: f64,
    max_evals: usize,
    mut eval: impl FnMut(f64) -> Result<Point, String>,
) -> Result<Search, String> {
    let maximise = axis.maximise();
    let integer = axis.unit == Unit::Integer;
    let mut best = [None; 3];
    let mut fail = [None; 3];
    let mut points: Vec<(Point, [bool; 3])> = Vec::new();
    let mut next = Some(start);
    while let Some(x) = next {
        if points.iter().any(|(p, _)| p.x == x) || points.len() >= max_evals {
            break;
        }
        let p = eval(x)?;
        if points.is_empty() {
            check_slo(&objs, &p)?;
        }
        let pass = passes(&objs, &p);
        for k in 0..3 {
            let better = |a: f64, b: f64| if maximise { a > b } else { a < b };
            if pass[k] {
                if best[k].is_none_or(|b| better(x, b)) {
                    best[k] = Some(x);
                }
            } else if fail[k].is_none_or(|f| better(f, x)) {
                fail[k] = Some(x);
            }
        }
        points.push((p, pass));
        next = next_point(maximise, integer, &best, &fail, start, tol, min);
    }
    points.sort_by(|a, b| a.0.x.total_cmp(&b.0.x));
    check_samples(&objs, &points)?;
    Ok(Search {
        axis,
        objectives: objs,
        points,
        best,
        fail,
        rate: None,
        sets: Vec::new(),
        model: String::new(),
        duration: 0.0,
        seed: 0,
    })
}

impl Search {
    fn reps(&self) -> usize {
        self.points.first().map_or(0, |(p, _)| p.replications)
    }

    /// The answer: the best value at which every objective's upper bound meets it.
    pub fn answer(&self) -> Option<f64> {
        self.best[0]
    }

    /// The answer's interval, low to high: from where every upper bound meets the objectives
    /// to where every lower bound does.
    pub fn interval(&self) -> [Option<f64>; 2] {
        if self.axis.maximise() {
            [self.best[0], self.best[2]]
        } else {
            [self.best[2], self.best[0]]
        }
    }

    fn what(&self) -> String {
        if self.axis.maximise() {
            format!("largest {}", self.axis.key)
        } else {
            format!("smallest {}", self.axis.key)
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let slo: Vec<String> = self.objectives.iter().map(Objective::text).collect();
        let _ = writeln!(
            s,
            "{}: {} meeting {}{}",
            self.model,
            self.what(),
            slo.join(", "),
            self.rate
                .map(|r| format!(" at rate {}/s", fmt_num(r)))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "{} evaluations, {} replication{} of {} simulated each, seed {}",
            self.points.len(),
            self.reps(),
            if self.reps() == 1 { "" } else { "s" },
            format_secs(self.duration),
            self.seed
        );
        set_line(&mut s, &self.sets);
        let _ = writeln!(s);
        let _ = write!(s, "{:<10} {:>8}", self.axis.key, "meets");
        for o in &self.objectives {
            let w = o.metric.len().max(28);
            let _ = write!(s, "  {:>w$}", o.metric);
        }
        let _ = writeln!(s);
        for (p, pass) in &self.points {
            let verdict = if !p.unstable.is_empty() {
                "unstable"
            } else if pass[0] {
                "yes"
            } else if pass[2] {
                "maybe"
            } else {
                "no"
            };
            let _ = write!(s, "{:<10} {:>8}", self.axis.fmt(p.x), verdict);
            for o in &self.objectives {
                let w = o.metric.len().max(28);
                let v = p.get(&o.metric);
                let c = format!(
                    "{} [{}, {}]",
                    cell(&o.metric, v.point),
                    cell(&o.metric, v.lower()),
                    cell(&o.metric, v.upper())
                );
                let _ = write!(s, "  {c:>w$}");
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s);
        let fmt = |x: Option<f64>| x.map_or("none".to_string(), |x| self.axis.fmt(x));
        match self.answer() {
            Some(a) => {
                let _ = writeln!(
                    s,
                    "{}: {} (a point passes when every objective's 95% upper bound meets it)",
                    self.what(),
                    self.axis.fmt(a)
                );
                let [lo, hi] = self.interval();
                let _ = writeln!(
                    s,
                    "95% interval: {} .. {} (figures meet the objectives at {}, lower bounds at {})",
                    fmt(lo),
                    fmt(hi),
                    fmt(self.best[1]),
                    fmt(self.best[2])
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "no {} tried meets every objective with its 95% upper bound (figures: {}, lower bounds: {})",
                    self.axis.key,
                    fmt(self.best[1]),
                    fmt(self.best[2])
                );
            }
        }
        if self.axis.maximise() && self.fail[0].is_none() {
            let _ = writeln!(
                s,
                "note: every {} tried met the objectives; the search stopped at its limit",
                self.axis.key
            );
        }
        if self.reps() < 2 {
            let _ = writeln!(
                s,
                "note: with one replication there is no interval; the figures decide"
            );
        }
        s
    }

    pub fn to_json(&self) -> J {
        let mut root = J::obj();
        root.set("model", self.model.as_str())
            .set("seed", self.seed)
            .set("duration", self.duration)
            .set("replications", self.reps() as u64)
            .set("find", self.axis.key.as_str())
            .set("rate", self.rate);
        root.set("set", sets_json(&self.sets));
        root.set(
            "objectives",
            J::Arr(
                self.objectives
                    .iter()
                    .map(|o| {
                        let mut j = J::obj();
                        j.set("metric", o.metric.as_str())
                            .set("op", o.op())
                            .set("threshold", o.threshold);
                        j
                    })
                    .collect(),
            ),
        );
        root.set(
            "rule",
            "a point passes when every objective's 95% upper bound meets it",
        );
        root.set("answer", self.best[0]);
        root.set("point_estimate", self.best[1]);
        let [lo, hi] = self.interval();
        root.set("interval", J::Arr(vec![J::from(lo), J::from(hi)]));
        let mut ev = Vec::new();
        for (p, pass) in &self.points {
            let mut o = J::obj();
            o.set("value", p.x);
            let mut pj = J::obj();
            pj.set("upper", J::Bool(pass[0]))
                .set("point", J::Bool(pass[1]))
                .set("lower", J::Bool(pass[2]));
            o.set("passes", pj);
            let mut m = J::obj();
            for ob in &self.objectives {
                m.set(ob.metric.as_str(), p.get(&ob.metric).json());
            }
            o.set("metrics", m);
            o.set(
                "unstable",
                J::Arr(p.unstable.iter().map(|u| J::Str(u.clone())).collect()),
            );
            ev.push(o);
        }
        root.set("evaluations", J::Arr(ev));
        root
    }

    pub fn to_html(&self) -> String {
        let mut s = page_head(&format!("fz sim find: {}", self.model));
        let _ = write!(s, "<pre>{}</pre>", esc(&self.to_text()));
        html_sets(&mut s, &self.sets);
        s.push_str("<section id=\"plots\">");
        let xs: Vec<f64> = self.points.iter().map(|(p, _)| p.x).collect();
        let unstable: Vec<bool> = self
            .points
            .iter()
            .map(|(p, _)| !p.unstable.is_empty())
            .collect();
        for o in &self.objectives {
            let vals: Vec<Val> = self.points.iter().map(|(p, _)| p.get(&o.metric)).collect();
            let ans = self
                .answer()
                .and_then(|a| self.points.iter().position(|(p, _)| p.x == a));
            s.push_str(&plot_svg(
                &o.metric,
                &self.axis,
                &xs,
                &vals,
                ans,
                Some(o.threshold),
                &unstable,
            ));
        }
        s.push_str("</section></body></html>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes() {
        let a = Axis::parse("rate=500..8000:4").unwrap();
        assert_eq!(a.values, [500.0, 3000.0, 5500.0, 8000.0]);
        assert!(a.is_rate() && a.maximise());
        let a = Axis::parse("node.n9.servers=1..4").unwrap();
        assert_eq!(a.values, [1.0, 2.0, 3.0, 4.0]);
        assert!(!a.maximise());
        let a = Axis::parse("node.n4.service=1ms..3ms:3").unwrap();
        assert_eq!(a.values, [0.001, 0.002, 0.003]);
        assert!(Axis::parse("rate=500..8000").unwrap_err().contains(":10"));
        assert!(Axis::parse("node.n4.branch=1..2").is_err());
        assert!(Axis::parse("roles.n4=1..2")
            .unwrap_err()
            .contains("cannot be swept"));
    }

    #[test]
    fn slo_and_search() {
        let o = parse_slo("command.p99<50ms, node.n2.utilization<=0.8").unwrap();
        assert_eq!(o[0].threshold, 0.05);
        assert!(o[1].inclusive && o[1].threshold == 0.8);
        assert!(parse_slo("command.p99>50ms").is_err());
        assert!(parse_slo("command.p99<fast")
            .unwrap_err()
            .contains("duration"));
        // A synthetic monotone system: the metric is 1/(c - x), a queue near capacity c.
        let axis = Axis::key("rate").unwrap();
        let objs = parse_slo("end_to_end.p99<10ms").unwrap();
        let eval = |x: f64| -> Result<Point, String> {
            let v = 1.0 / (1000.0 - x).max(1e-9);
            Ok(Point {
                x,
                vals: vec![(
                    "end_to_end.p99".into(),
                    Val {
                        point: Some(v),
                        ci: Some([v * 0.9, v * 1.1]),
                    },
                )],
                bottleneck: None,
                unstable: vec![],
                replications: 2,
            })
        };
        let best = search(axis, objs, 100.0, 0.0, 0.01, 60, eval).unwrap().best;
        // 1/(1000-x)*1.1 < 0.01 <=> x < 890; figures: x < 900; lower: x < 910.
        let [u, p, l] = best.map(|b| b.unwrap());
        assert!((880.0..890.0).contains(&u), "{u}");
        assert!((890.0..900.0).contains(&p), "{p}");
        assert!((900.0..910.0).contains(&l), "{l}");
    }
}
