//! `fz calibrate`: a simulation profile fitted to what a generated service measured.
//!
//! The service's `/metrics` ([`prom`]) carries, per diagram node, the time its code spends
//! on each item (`fz_node_seconds{node,stage}` histograms), the batches it forms
//! (`fz_node_batch_size`, `fz_node_batch_fit`) and the concurrency it runs with
//! (`fz_node_concurrency{node,kind}`). [`calibrate`] turns them into one entry per node
//! ([`fit`]: an empirical service-time distribution, servers, batching), checked against
//! the diagram's model; [`Calibration::to_toml`] writes the profile `fz sim` reads.

pub mod fetch;
pub mod fit;
pub mod prom;

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::model::Diagram;
use crate::sim::dist::Dist;
use crate::sim::time::format_ns;

use fit::{BatchSums, Histogram};

/// Why no profile could be made. The message names the source and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CalibrateError(pub String);

/// What the metrics say about one node.
#[derive(Debug, Clone, Default)]
struct Measured {
    /// Per stage: the histogram of seconds.
    stages: BTreeMap<String, Histogram>,
    batch_size: Option<Histogram>,
    batch_fit: BatchSums,
    has_fit: bool,
    /// The fit's sizes count the distinct keys of each batch (`per="key"`: the aggregates a
    /// projector wrote), not its items.
    fit_per_key: bool,
    /// kind -> value.
    concurrency: BTreeMap<String, f64>,
    /// CPU seconds and wake-ups (voluntary context switches) of the threads serving it.
    thread_cpu: Option<f64>,
    thread_wakeups: Option<f64>,
    /// First line that names the node, for errors.
    line: usize,
}

/// The calibrated settings of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCalibration {
    pub id: String,
    pub label: String,
    pub service: Option<Dist>,
    pub servers: Option<u32>,
    pub batch: Option<u32>,
    pub per_item: Option<Dist>,
    /// `per_item` is a cost per distinct key of a batch (written as `per_key`).
    pub per_key: bool,
    pub interval: Option<Dist>,
    /// Its time is mostly waiting (an fsync), not computing: it does not share the host's
    /// cores (`host = false`).
    pub off_host: bool,
    /// A view's read time (a query's visit); its writes are the projector's.
    pub read: Option<Dist>,
    /// The CPU its thread spends on each wake-up (start from idle), from its thread's CPU.
    pub wakeup: Option<Dist>,
    /// What was measured and how it was fitted, one line each (comments in the profile).
    pub notes: Vec<String>,
}

/// A profile fitted to a service's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Where the metrics came from.
    pub source: String,
    /// The diagram's file name.
    pub diagram: String,
    /// Timed or configured nodes, in the diagram's order.
    pub nodes: Vec<NodeCalibration>,
    /// Nodes the service neither times nor configures (no code of their own).
    pub untimed: Vec<(String, String)>,
    /// The cores the service's threads share (`host_cores`, stated by the request handlers).
    pub host_cores: Option<f64>,
}

fn summary(h: &Histogram) -> String {
    let mean = h.mean().unwrap_or(0.0) * 1e9;
    format!(
        "{} items, mean {}, p50 {}, p99 {}",
        h.count as u64,
        format_ns(mean),
        format_ns(h.quantile(0.5) * 1e9),
        format_ns(h.quantile(0.99) * 1e9)
    )
}

/// What a `/metrics` text says: per node, and for the whole process.
#[derive(Debug, Default)]
struct Metrics {
    nodes: BTreeMap<String, Measured>,
    /// `process_cpu_seconds_total`.
    process_cpu: Option<f64>,
    /// CPU seconds of the threads that serve no one node (the HTTP runtime's).
    other_cpu: Option<f64>,
    /// The HTTP workers' busy spells: CPU (`t`) against the requests each started (`k`).
    http_spells: Option<fit::BatchSums>,
}

/// Reads the fz series of a `/metrics` text into per-node measurements.
fn measure(samples: &[prom::Sample], source: &str) -> Result<Metrics, CalibrateError> {
    let mut nodes: BTreeMap<String, Measured> = BTreeMap::new();
    let (mut process_cpu, mut other_cpu, mut http_spells) = (None, None, None);
    for s in samples {
        match s.name.as_str() {
            "process_cpu_seconds_total" => process_cpu = Some(s.value),
            "fz_other_threads_cpu_seconds_total" => other_cpu = Some(s.value),
            "fz_http_spells" => {
                if let Some(stat) = s.label("stat") {
                    http_spells
                        .get_or_insert_with(fit::BatchSums::default)
                        .set(stat, s.value);
                }
            }
            _ => {}
        }
        let Some(series) = [
            "fz_node_seconds",
            "fz_node_batch_size",
            "fz_node_batch_fit",
            "fz_node_concurrency",
            "fz_node_thread_cpu_seconds_total",
            "fz_node_thread_wakeups_total",
        ]
        .into_iter()
        .find(|p| s.name.starts_with(p)) else {
            continue;
        };
        let Some(node) = s.label("node").filter(|n| !n.is_empty()) else {
            continue;
        };
        let m = nodes.entry(node.to_string()).or_insert_with(|| Measured {
            line: s.line,
            ..Measured::default()
        });
        let suffix = &s.name[series.len()..];
        let bad = |what: &str| {
            CalibrateError(format!(
                "{source}:{}: {} has no {what} label",
                s.line, s.name
            ))
        };
        match series {
            "fz_node_seconds" | "fz_node_batch_size" => {
                let h = if series == "fz_node_seconds" {
                    let stage = s.label("stage").ok_or_else(|| bad("stage"))?;
                    m.stages.entry(stage.to_string()).or_default()
                } else {
                    m.batch_size.get_or_insert_with(Histogram::default)
                };
                match suffix {
                    "_bucket" => {
                        let le = s.label("le").ok_or_else(|| bad("le"))?;
                        let le: f64 = if le == "+Inf" {
                            f64::INFINITY
                        } else {
                            le.parse().map_err(|_| {
                                CalibrateError(format!(
                                    "{source}:{}: le=\"{le}\" is not a number",
                                    s.line
                                ))
                            })?
                        };
                        h.buckets.push((le, s.value));
                    }
                    "_sum" => h.sum = s.value,
                    "_count" => h.count = s.value,
                    _ => {}
                }
            }
            "fz_node_batch_fit" => {
                m.has_fit = true;
                m.fit_per_key |= s.label("per") == Some("key");
                let stat = s.label("stat").ok_or_else(|| bad("stat"))?;
                m.batch_fit.set(stat, s.value);
            }
            "fz_node_thread_cpu_seconds_total" => m.thread_cpu = Some(s.value),
            "fz_node_thread_wakeups_total" => m.thread_wakeups = Some(s.value),
            _ => {
                let kind = s.label("kind").ok_or_else(|| bad("kind"))?;
                m.concurrency.insert(kind.to_string(), s.value);
            }
        }
    }
    if nodes.is_empty() {
        return Err(CalibrateError(format!(
            "{source}: no fz_node_seconds or fz_node_concurrency series with a node label; is this the /metrics of a service generated by fz gen (which times every diagram node)?"
        )));
    }
    for m in nodes.values_mut() {
        for h in m.stages.values_mut() {
            h.normalise();
        }
        if let Some(h) = &mut m.batch_size {
            h.normalise();
        }
    }
    Ok(Metrics {
        nodes,
        process_cpu,
        other_cpu,
        http_spells,
    })
}

/// Fits a profile to the metrics `text` (read from `source`) of a service generated from
/// `diagram` (named `diagram_name`). Every node the metrics name must be in the diagram.
pub fn calibrate(
    diagram: &Diagram,
    diagram_name: &str,
    text: &str,
    source: &str,
) -> Result<Calibration, CalibrateError> {
    let samples = prom::parse_from(text, source).map_err(CalibrateError)?;
    fit_samples(diagram, diagram_name, &samples, source)
}

/// Fits a profile to what the service did between two reads of its metrics (`earlier`
/// from `earlier_source`, then `text` from `source`): its counters and histograms less
/// their earlier values. A service's first batches (a fresh store's first pages, cold
/// caches) cost many times a steady batch and come large (what queued while the service
/// warmed up); counted since the start, a few of them set the slope of every batch fit.
pub fn calibrate_since(
    diagram: &Diagram,
    diagram_name: &str,
    text: &str,
    source: &str,
    earlier: &str,
    earlier_source: &str,
) -> Result<Calibration, CalibrateError> {
    let samples = prom::since(text, earlier, source, earlier_source).map_err(CalibrateError)?;
    let window = format!("{source}, less {earlier_source}");
    let counted = samples
        .iter()
        .filter(|s| s.name == "fz_node_seconds_count")
        .any(|s| s.value > 0.0);
    if !counted {
        return Err(CalibrateError(format!(
            "{window}: no node timed anything between the two reads; was the service under load while they were taken?"
        )));
    }
    fit_samples(diagram, diagram_name, &samples, &window)
}

fn fit_samples(
    diagram: &Diagram,
    diagram_name: &str,
    samples: &[prom::Sample],
    source: &str,
) -> Result<Calibration, CalibrateError> {
    let metrics = measure(samples, source)?;
    let measured = &metrics.nodes;
    for (id, m) in measured {
        if diagram.node_index(id).is_none() {
            let ids: Vec<&str> = diagram.nodes().map(|(_, n)| n.id.as_str()).collect();
            return Err(CalibrateError(format!(
                "{source}:{}: node \"{id}\" is not in {diagram_name}; its nodes are {}. Was the service generated from another diagram?",
                m.line,
                ids.join(", ")
            )));
        }
    }
    let mut nodes = Vec::new();
    let mut untimed = Vec::new();
    for (_, n) in diagram.nodes() {
        let label = n.display().to_string();
        match measured.get(&n.id) {
            Some(m) => nodes.push(node(&n.id, &label, m)),
            None => untimed.push((n.id.clone(), label)),
        }
    }
    if !charge_thread_cpu(&metrics, &mut nodes) {
        charge_unmeasured_cpu(&metrics, &mut nodes);
    }
    let host_cores = measured
        .values()
        .filter_map(|m| m.concurrency.get("host_cores").copied())
        .filter(|c| c.is_finite() && *c >= 1.0)
        .reduce(f64::max);
    Ok(Calibration {
        source: source.to_string(),
        diagram: diagram_name.to_string(),
        nodes,
        untimed,
        host_cores,
    })
}

/// The stages that time a node's own work on one item (not a whole request's).
const OWN_STAGES: [&str; 7] = [
    "parse", "handle", "validate", "route", "deliver", "query", "apply",
];

/// The node's own per-item stage, if it timed one.
fn own_stage(m: &Measured) -> Option<(&String, &Histogram)> {
    m.stages
        .iter()
        .find(|(s, h)| OWN_STAGES.contains(&s.as_str()) && h.count > 0.0)
}

/// The node's batch stage (`*_batch`), if it timed batches.
fn batch_stage(m: &Measured) -> Option<(&String, &Histogram)> {
    m.stages
        .iter()
        .find(|(s, h)| s.ends_with("_batch") && h.count > 0.0)
}

/// The stage a node's station is fitted to (its batch stage, else its own per-item stage).
fn station_stage(m: &Measured) -> Option<&Histogram> {
    batch_stage(m).or_else(|| own_stage(m)).map(|(_, h)| h)
}

/// Where the command endpoint's requests enter the diagram: the node that parses commands,
/// else (a design with no command source of its own, such as the read/write separation's
/// client diamond) the command handler, else the validator: the first timed station every
/// command passes. Returns the node's id and that stage.
fn command_entry(measured: &BTreeMap<String, Measured>) -> Option<(&str, &'static str)> {
    ["parse", "handle", "validate"]
        .into_iter()
        .find_map(|stage| {
            measured
                .iter()
                .find(|(_, m)| m.stages.get(stage).is_some_and(|h| h.count > 0.0))
                .map(|(id, _)| (id.as_str(), stage))
        })
}

/// The requests the service answered: the commands at their entry and the query requests.
fn requests(measured: &BTreeMap<String, Measured>) -> f64 {
    let commands = command_entry(measured)
        .and_then(|(id, stage)| measured.get(id)?.stages.get(stage))
        .map_or(0.0, |h| h.count);
    let queries: f64 = measured
        .values()
        .filter_map(|m| m.stages.get("request"))
        .map(|h| h.count)
        .sum();
    commands + queries
}

/// The service's CPU that no node's timing covers (`process_cpu_seconds_total` minus the
/// on-host stations' measured time: the HTTP stack, the kernel's TCP, the writer's CPU
/// inside its fsync-bound commit) is charged to the requests, evenly: added to the mean of
/// the node that parses commands and to the query API's request, so the shared cores carry
/// the whole load the service puts on them.
fn charge_unmeasured_cpu(metrics: &Metrics, nodes: &mut [NodeCalibration]) {
    let measured = &metrics.nodes;
    let Some(cpu) = metrics.process_cpu else {
        return;
    };
    let explained: f64 = measured
        .values()
        .filter(|m| !m.concurrency.get("off_host").is_some_and(|v| *v > 0.0))
        .filter_map(station_stage)
        .map(|h| h.sum)
        .sum();
    let requests = requests(measured);
    if !(cpu.is_finite() && requests > 0.0 && cpu > explained) {
        return;
    }
    let extra = (cpu - explained) / requests;
    let entry = command_entry(measured).map(|(id, stage)| (id.to_string(), stage));
    for n in nodes.iter_mut() {
        let Some(m) = measured.get(&n.id) else {
            continue;
        };
        if !add_per_request(n, m, entry.as_ref(), extra) {
            continue;
        }
        n.notes.push(format!(
            "plus {} a request of the service's CPU no node measured ({:.2} s of {:.2} s of process CPU over {} requests)",
            format_ns(extra * 1e9),
            cpu - explained,
            cpu,
            requests as u64
        ));
    }
}

/// Adds `extra` seconds to each request a request station serves: to the mean of the
/// commands' entry ([`command_entry`]: its measured shape kept), or as the query API's
/// service (its own time is the views' reads). False for any other node.
fn add_per_request(
    n: &mut NodeCalibration,
    m: &Measured,
    entry: Option<&(String, &'static str)>,
    extra: f64,
) -> bool {
    let entry_stage = entry
        .filter(|(id, _)| *id == n.id)
        .and_then(|(_, stage)| m.stages.get(*stage))
        .filter(|h| h.count > 0.0);
    if let Some(h) = entry_stage {
        n.service = fit::empirical(h, Some(h.sum / h.count + extra)).or(n.service.take());
    } else if m.stages.contains_key("request") && n.batch.is_none() {
        n.service = Some(Dist::Const((extra * 1e9).round() as u64));
    } else {
        return false;
    }
    true
}

/// Where the service reports its threads' CPU and wake-ups (`fz_node_thread_*`,
/// `fz_other_threads_*`), the CPU its nodes' timings do not cover is charged per wake-up,
/// not per request: a thread woken for a few items pays for its sleep and wake-up (a
/// futex, a context switch, cold caches) whatever it then does, so as the load rises and
/// each wake-up serves more items, that cost per item falls.
/// - a node with threads of its own (the writer, each projector, the router, the
///   partitions): its threads' CPU minus what its station is charged for its items (its
///   timed work; off the host, its per-item CPU), over its wake-ups (its batches where it
///   batches, else its threads' context switches);
/// - the request handlers (the HTTP runtime's threads, which serve the command endpoint and
///   the query API): those threads' CPU minus the timed work done on them (parse, handle,
///   validate, the views' reads), over the requests, each of which wakes a handler at the
///   calibration load.
///
/// Returns false (nothing charged) for a service that does not report its threads.
fn charge_thread_cpu(metrics: &Metrics, nodes: &mut [NodeCalibration]) -> bool {
    let measured = &metrics.nodes;
    let Some(other_cpu) = metrics.other_cpu else {
        return false;
    };
    if !measured.values().any(|m| m.thread_cpu.is_some()) {
        return false;
    }
    let total = |m: &Measured, stage: &str| m.stages.get(stage).map_or(0.0, |h| h.sum);
    for n in nodes.iter_mut() {
        let Some(m) = measured.get(&n.id) else {
            continue;
        };
        let Some(cpu) = m.thread_cpu.filter(|c| c.is_finite() && *c > 0.0) else {
            continue;
        };
        let batches = batch_stage(m).map(|(_, h)| h.count);
        let items = if n.off_host {
            // Only its per-item CPU is work on the host; the rest of its time is a wait.
            match &n.per_item {
                Some(Dist::Const(ns)) => *ns as f64 * 1e-9 * m.batch_fit.k,
                _ => 0.0,
            }
        } else {
            station_stage(m).map_or(0.0, |h| h.sum)
        };
        let (wakes, what) = match (batches, m.thread_wakeups) {
            (Some(b), _) => (b, "batches"),
            (None, Some(w)) => (w, "wake-ups"),
            (None, None) => continue,
        };
        if wakes <= 0.0 {
            continue;
        }
        let w = ((cpu - items).max(0.0) / wakes * 1e9).round();
        n.wakeup = Some(Dist::Const(w as u64));
        n.notes.push(format!(
            "wakeup: its threads used {cpu:.2} s of CPU, {items:.2} s of it on its items: the rest over its {} {what} is {} a wake-up",
            wakes as u64,
            format_ns(w)
        ));
    }
    // The HTTP runtime's threads: the timed work done on them, and the requests they serve.
    let on_http = ["parse", "handle", "validate", "query"];
    let explained: f64 = measured
        .values()
        .filter(|m| m.thread_cpu.is_none())
        .map(|m| on_http.iter().map(|s| total(m, s)).sum::<f64>())
        .sum();
    let requests = requests(measured);
    let entry = command_entry(measured).map(|(id, stage)| (id.to_string(), stage));
    if let Some(split) = spell_split(metrics, explained, requests) {
        for n in nodes.iter_mut() {
            let Some(m) = measured.get(&n.id) else {
                continue;
            };
            if !add_per_request(n, m, entry.as_ref(), split.per_request) {
                continue;
            }
            n.wakeup = Some(Dist::Const((split.wakeup * 1e9).round() as u64));
            n.notes.push(split.note.clone());
        }
    } else if requests > 0.0 && other_cpu.is_finite() {
        let w = ((other_cpu - explained).max(0.0) / requests * 1e9).round();
        for n in nodes.iter_mut() {
            let Some(m) = measured.get(&n.id) else {
                continue;
            };
            let is_entry = entry.as_ref().is_some_and(|(id, _)| *id == n.id);
            if !(is_entry || m.stages.contains_key("request")) {
                continue;
            }
            n.wakeup = Some(Dist::Const(w as u64));
            n.notes.push(format!(
                "wakeup: the request handlers' threads used {other_cpu:.2} s of CPU, {explained:.2} s of it timed (parse, handle, validate, the views' reads): the rest over {} requests is {} a wake-up",
                requests as u64,
                format_ns(w)
            ));
        }
    }
    true
}

/// The HTTP threads' untimed CPU split into a part per request and a part per wake-up.
struct SpellSplit {
    /// Seconds a request, beyond its timed work.
    per_request: f64,
    /// Seconds charged at each start of a request station from idle.
    wakeup: f64,
    note: String,
}

/// Fits the HTTP workers' spells (`fz_http_spells`): a spell's CPU = wake + per × its
/// requests. `per` less the timed work per request is charged to each request; the wake
/// cost times the spells per request (at the calibration load nearly every request finds
/// the handlers idle, and some wake them twice: its arrival, then its answer) to each
/// start from idle. None where the service reports no spells or the line is not usable.
fn spell_split(metrics: &Metrics, explained: f64, requests: f64) -> Option<SpellSplit> {
    let s = metrics.http_spells.filter(|s| s.n >= 10.0 && s.k > 0.0)?;
    let usable = |x: f64| x.is_finite() && x >= 0.0;
    let (wake_ns, per_ns) = fit::line(&s)?;
    if !(usable(requests) && requests > 0.0 && usable(wake_ns) && usable(per_ns)) {
        return None;
    }
    let timed = explained / requests;
    let per_request = (per_ns * 1e-9 - timed).max(0.0);
    let spells_per_request = s.n / requests;
    let wakeup = wake_ns * 1e-9 * spells_per_request;
    Some(SpellSplit {
        per_request,
        wakeup,
        note: format!(
            "the request handlers' threads: {} spells from waking to sleeping, {:.2} s of CPU over {} requests; least squares: a spell costs {} + {} a request it starts ({} of it timed: parse, handle, validate, the views' reads), so {} a request more, and {} a wake-up ({} a spell × {:.2} spells a request)",
            s.n as u64,
            s.t * 1e-9,
            requests as u64,
            format_ns(wake_ns),
            format_ns(per_ns),
            format_ns(timed * 1e9),
            format_ns(per_request * 1e9),
            format_ns(wakeup * 1e9),
            format_ns(wake_ns),
            spells_per_request
        ),
    })
}

fn servers(m: &Measured) -> Option<u32> {
    m.concurrency
        .get("servers")
        .filter(|v| v.is_finite() && **v >= 1.0)
        .map(|v| v.round().min(1_000_000.0) as u32)
}

/// A projector whose view shows its writes at intervals (`visible_interval_us`, a search
/// index's refresh) is one batch station per visible cycle: its model batch is the cycle,
/// so its service is the work of a cycle (`refresh`: the applies since the view was last
/// visible, the commit that shows them included) less the per-item part, in the cycle
/// times' shape. Fitted per apply instead, the model's one batch every interval would carry
/// the cost of one small apply, not the commit's (58 us at p50 against some 20 ms a cycle).
/// Where the view shows its writes only at a refresh, one model batch is one visible
/// cycle; true when it is.
fn refresh_cycle(c: &mut NodeCalibration, m: &Measured) -> bool {
    let Some(r) = m.stages.get("refresh").filter(|r| r.count > 0.0) else {
        return false;
    };
    if micros(m, "visible_interval_us").is_none() {
        return false;
    }
    let per_item = match &c.per_item {
        Some(Dist::Const(ns)) => *ns as f64 * 1e-9,
        _ => 0.0,
    };
    let items = if m.has_fit {
        m.batch_fit.k / r.count
    } else {
        0.0
    };
    let fixed = (r.sum / r.count - per_item * items).max(0.0);
    if let Some(service) = fit::empirical(r, Some(fixed)) {
        c.service = Some(service);
        c.notes.push(format!(
            "one model batch is one visible cycle: {} cycles, {} of work a cycle ({:.0} items), so {} + its items' share as service",
            r.count as u64,
            format_ns(r.sum / r.count * 1e9),
            items,
            format_ns(fixed * 1e9)
        ));
        return true;
    }
    false
}

fn micros(m: &Measured, kind: &str) -> Option<f64> {
    m.concurrency
        .get(kind)
        .filter(|v| v.is_finite() && **v > 0.0)
        .map(|v| v * 1e3)
}

/// The rules, by what the node's code measured:
/// - a batching node (`*_batch` stage with batch sums): a batch station; where a timer forms
///   the batches (an `interval`), the least-squares line through (size, time) splits each
///   batch's time into `service` (the fixed part, the shape of the measured batch times) and
///   `per_item`; a greedy batcher's whole batch time is `service`; `batch` is its limit and
///   `interval` its least time between batches (the later of the apply interval and the
///   interval at which its view shows what was applied);
/// - a node whose own work is timed per item (`parse`, `handle`, `validate`, `route`,
///   `deliver`, a view's `query`): that time's empirical distribution;
/// - a reader timed over the whole request (`request`, the view's read included, which the
///   view's own station serves): only the rest, as a constant;
/// - a node with concurrency facts and no timing: no code of its own, service 0.
fn node(id: &str, label: &str, m: &Measured) -> NodeCalibration {
    let mut c = NodeCalibration {
        id: id.to_string(),
        label: label.to_string(),
        service: None,
        servers: servers(m),
        batch: None,
        per_item: None,
        per_key: m.fit_per_key,
        interval: None,
        off_host: m.concurrency.get("off_host").is_some_and(|v| *v > 0.0),
        read: None,
        wakeup: None,
        notes: Vec::new(),
    };
    let batch_stage = batch_stage(m);
    if let Some((stage, h)) = batch_stage {
        c.notes.push(format!(
            "{stage}: {} batches, {}",
            h.count as u64,
            summary(h).split_once(" items, ").map(|x| x.1).unwrap_or("")
        ));
        if let Some(bs) = &m.batch_size {
            c.notes.push(format!(
                "batch size: mean {:.2}, p50 {:.0}, p99 {:.0}",
                bs.mean().unwrap_or(0.0),
                bs.quantile(0.5),
                bs.quantile(0.99)
            ));
        }
        // A slope only where batches are formed by a timer (an interval): a greedy batcher
        // takes what queued during the batch before it, so its sizes follow how slow that
        // batch was (slow spells make big batches), and a slope fitted to them is not a cost.
        let timed_batches = micros(m, "interval_us").is_some();
        // Its thread's CPU per batch grows with the batch's size whatever the wait before it,
        // so its slope is a cost per item even for a greedy batcher.
        // It is also the better slope where a timer forms the batches: a batch's wall time
        // grows with its size by more than its work where each item wakes another thread
        // (the router's sends to the partitions), which then preempts it.
        let cpu_line = m
            .batch_fit
            .cpu()
            .and_then(|sums| fit::batch_line_with(&sums, fit::Spread::Precision))
            .filter(|l| l.flat_because.is_none() && l.per_item_ns > 0.0);
        let line = if m.has_fit {
            fit::batch_line(&m.batch_fit).map(|l| {
                if let Some(cpu) = cpu_line {
                    fit::BatchLine {
                        fixed_ns: (m.batch_fit.t / m.batch_fit.n - cpu.per_item_ns * l.mean_size)
                            .max(0.0),
                        per_item_ns: cpu.per_item_ns,
                        mean_size: l.mean_size,
                        flat_because: None,
                    }
                } else if timed_batches || l.flat_because.is_some() {
                    l
                } else {
                    fit::BatchLine {
                        fixed_ns: m.batch_fit.t / m.batch_fit.n,
                        per_item_ns: 0.0,
                        mean_size: l.mean_size,
                        flat_because: Some("a greedy batch's size follows the time of the batch before it, so no slope is fitted"),
                    }
                }
            })
        } else {
            None
        };
        // A projector's fit counts the aggregates each batch wrote: its slope is per key.
        let (unit, slope) = if m.fit_per_key {
            (
                "per aggregate written (per_key: a batch writes each of its aggregates once)",
                "the time an aggregate adds",
            )
        } else {
            ("per item", "the per-item time")
        };
        if let Some(cpu) = cpu_line {
            c.notes.push(format!(
                "its thread's CPU per batch = {} + {} {unit} (least squares): the slope is {slope}, the rest of the batch's time the fixed part",
                format_ns(cpu.fixed_ns),
                format_ns(cpu.per_item_ns)
            ));
        }
        match line {
            Some(l) => {
                c.service = fit::empirical(h, Some(l.fixed_ns / 1e9));
                if l.per_item_ns > 0.0 {
                    c.per_item = Some(Dist::Const(l.per_item_ns.round() as u64));
                }
                c.notes.push(match l.flat_because {
                    None => format!(
                        "fit: batch time = {} + {} {unit} (least squares over the batches); service is the measured batch times' shape scaled to the fixed part",
                        format_ns(l.fixed_ns),
                        format_ns(l.per_item_ns)
                    ),
                    Some(why) => format!(
                        "fit: the whole batch time as service, none per item ({why})"
                    ),
                });
            }
            None => {
                c.service = fit::empirical(h, None);
                c.notes
                    .push("fit: the measured batch times as service (no batch sums)".into());
            }
        }
        let cycle = refresh_cycle(&mut c, m);
        let limit = m
            .concurrency
            .get("batch")
            .filter(|v| v.is_finite() && **v >= 1.0)
            .map(|v| v.round().min(1e9) as u32);
        c.batch = Some(limit.filter(|_| !cycle).unwrap_or(1_000_000));
        if let (true, Some(l)) = (cycle, limit) {
            // Its limit is one apply's (every few ms); a cycle holds as many applies as fit.
            c.notes.push(format!(
                "a visible cycle holds many applies of at most {l} events each: no limit a cycle"
            ));
        } else if limit.is_none() {
            c.notes
                .push("no batch limit stated: batches take everything waiting".into());
        }
        // `rest_us`: a greedy batcher that rests after each batch (the group commit's
        // COMMIT_REST_US): an interval, but its batch sizes still follow the batch before.
        let rest = match (
            micros(m, "interval_us").or_else(|| micros(m, "rest_us")),
            micros(m, "visible_interval_us"),
        ) {
            (a, Some(v)) => {
                c.notes.push(format!(
                    "its view shows what it applied every {} (the interval between batches here)",
                    format_ns(v)
                ));
                Some(a.unwrap_or(0.0).max(v))
            }
            (a, None) => a,
        };
        c.interval = rest.map(|ns| Dist::Const(ns.round() as u64));
        for (stage, h) in &m.stages {
            if stage != batch_stage.map(|b| b.0.as_str()).unwrap_or("") {
                c.notes
                    .push(format!("{stage} (not a station figure): {}", summary(h)));
            }
        }
        return c;
    }
    let timed = own_stage(m);
    if let (Some((stage, h)), Some(limit), Some(rest)) = (
        timed,
        m.concurrency
            .get("batch")
            .filter(|v| v.is_finite() && **v >= 1.0),
        micros(m, "interval_us").or_else(|| micros(m, "rest_us")),
    ) {
        // Timed per item, but taking what waits in batches and resting between them (the
        // event router reads the log at most every interval): a batch station whose batch
        // costs the items' measured time.
        c.notes.push(format!("{stage}: {}", summary(h)));
        c.service = Some(Dist::ZERO);
        c.per_item = h
            .mean()
            .map(|mean| Dist::Const((mean * 1e9).round().max(0.0) as u64));
        c.batch = Some(limit.round().min(1e9) as u32);
        c.interval = Some(Dist::Const(rest.round() as u64));
        c.notes.push(format!(
            "fit: a batch station: each item its measured mean, resting {} after each batch",
            format_ns(rest)
        ));
        return c;
    }
    if let Some((stage, h)) = timed {
        c.notes.push(format!("{stage}: {}", summary(h)));
        if stage == "query" {
            // A view: the queries read it; the projector's writes were charged at the
            // projector (its apply), on another thread, so they pass the view in no time.
            c.read = fit::empirical(h, None);
            c.service = Some(Dist::ZERO);
            c.notes.push(
                "fit: read = the empirical distribution of the query times (scaled to the measured mean); service 0: its writes are the projector's apply"
                    .into(),
            );
        } else {
            c.service = fit::empirical(h, None);
            c.notes.push(
                "fit: the empirical distribution of the histogram's buckets, scaled to the measured mean"
                    .into(),
            );
        }
    }
    for (stage, h) in &m.stages {
        if timed.is_some_and(|t| t.0 == stage) {
            continue;
        }
        c.notes.push(format!("{stage}: {}", summary(h)));
        if stage == "request" && timed.is_none() {
            c.service = Some(Dist::ZERO);
            c.notes.push(
                "fit: 0; the request's time is the view reads, which the views' stations serve"
                    .into(),
            );
        }
    }
    if c.service.is_none() {
        c.service = Some(Dist::ZERO);
        c.notes
            .push("not timed: its work is timed at the node it shares threads with".into());
    }
    c
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

impl Calibration {
    /// The profile, as `fz sim` reads it (`docs/sim.md`), with what was measured and how it
    /// was fitted in comments.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Profile of {} fitted by `fz calibrate` to {}.",
            comment(&self.diagram),
            comment(&self.source)
        );
        let _ = writeln!(
            s,
            "# Service times are the empirical distributions of the service's own per-node"
        );
        let _ = writeln!(
            s,
            "# histograms (fz_node_seconds), scaled to the measured means; servers, batch"
        );
        let _ = writeln!(
            s,
            "# limits and intervals are what the service stated (fz_node_concurrency)."
        );
        let _ = writeln!(
            s,
            "# Arrival rates are not calibrated: give them with --rate, [source.ID], [reads]."
        );
        if let Some(c) = self.host_cores {
            let _ = writeln!(s);
            let _ = writeln!(s, "[host]");
            let _ = writeln!(
                s,
                "# The service's threads share this many cores (processor sharing); nodes with"
            );
            let _ = writeln!(
                s,
                "# host = false wait rather than compute (the group commit's fsync)."
            );
            let _ = writeln!(s, "cores = {c}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "[defaults]");
        let _ = writeln!(
            s,
            "service = \"0\"   # nodes without code of their own (listed at the end) take no time"
        );
        for n in &self.nodes {
            let _ = writeln!(s);
            let _ = writeln!(s, "[node.{}]", n.id);
            let _ = writeln!(s, "# {}", comment(&n.label));
            for note in &n.notes {
                let _ = writeln!(s, "# {}", comment(note));
            }
            if let Some(d) = &n.service {
                let _ = writeln!(s, "service = {}", toml_str(&d.to_string()));
            }
            if let Some(d) = &n.read {
                let _ = writeln!(s, "read = {}", toml_str(&d.to_string()));
            }
            if let Some(d) = &n.wakeup {
                let _ = writeln!(s, "wakeup = {}", toml_str(&d.to_string()));
            }
            if let Some(v) = n.servers {
                let _ = writeln!(s, "servers = {v}");
            }
            if let Some(v) = n.batch {
                let _ = writeln!(s, "batch = {v}");
            }
            if let Some(d) = &n.per_item {
                let key = if n.per_key { "per_key" } else { "per_item" };
                let _ = writeln!(s, "{key} = {}", toml_str(&d.to_string()));
            }
            if let Some(d) = &n.interval {
                let _ = writeln!(s, "interval = {}", toml_str(&d.to_string()));
            }
            if n.off_host && self.host_cores.is_some() {
                let _ = writeln!(s, "host = false");
            }
        }
        if !self.untimed.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "# Not in the metrics (no code of their own in the service; service 0 by [defaults]):"
            );
            for (id, label) in &self.untimed {
                let _ = writeln!(s, "#   {id} {}", comment(label));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagram(src: &str) -> Diagram {
        let c = crate::model::check(src);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        c.diagram
    }

    const FZ: &str = "L { # L\nn1: circle label:\"In\"\nn2: rectangle label:\"Work\"\nn3: rectangle label:\"Batch\"\nn1.handle(right) -> n2.handle(left)\nn2.handle(right) -> n3.handle(left)\n}\n";

    #[test]
    fn per_item_and_batch_nodes() {
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"handle\",le=\"1e-5\"} 0
fz_node_seconds_bucket{node=\"n2\",stage=\"handle\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"handle\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"handle\"} 0.00015
fz_node_seconds_count{node=\"n2\",stage=\"handle\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"1e-3\"} 0
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"2e-3\"} 20
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"+Inf\"} 20
fz_node_seconds_sum{node=\"n3\",stage=\"commit_batch\"} 0.03
fz_node_seconds_count{node=\"n3\",stage=\"commit_batch\"} 20
fz_node_batch_fit{node=\"n3\",stat=\"n\"} 20
fz_node_batch_fit{node=\"n3\",stat=\"k\"} 40
fz_node_batch_fit{node=\"n3\",stat=\"kk\"} 80
fz_node_batch_fit{node=\"n3\",stat=\"t_ns\"} 30000000
fz_node_batch_fit{node=\"n3\",stat=\"kt_ns\"} 60000000
fz_node_concurrency{node=\"n2\",kind=\"servers\"} 2
fz_node_concurrency{node=\"n3\",kind=\"servers\"} 1
fz_node_concurrency{node=\"n3\",kind=\"batch\"} 512
fz_node_concurrency{node=\"n3\",kind=\"interval_us\"} 5000
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        assert_eq!(c.untimed, vec![("n1".to_string(), "In".to_string())]);
        let n2 = &c.nodes[0];
        assert_eq!(n2.id, "n2");
        assert_eq!(n2.servers, Some(2));
        assert!((n2.service.as_ref().unwrap().mean_ns() - 15_000.0).abs() < 1.0);
        let n3 = &c.nodes[1];
        assert_eq!(n3.batch, Some(512));
        assert_eq!(n3.interval, Some(Dist::Const(5_000_000)));
        assert_eq!(n3.per_item, None, "every batch had two items: no slope");
        assert!((n3.service.as_ref().unwrap().mean_ns() - 1.5e6).abs() < 1.0);
        let toml = c.to_toml();
        assert!(toml.contains("[node.n3]\n"), "{toml}");
        assert!(toml.contains("interval = \"const(5.000ms)\""), "{toml}");
        assert!(toml.contains("#   n1 In"), "{toml}");
    }

    #[test]
    fn a_fit_over_the_aggregates_written_is_a_cost_per_key() {
        // Ten batches writing 1 aggregate in 1.1 ms, ten writing 3 in 1.3 ms: 1 ms + 100 us
        // an aggregate, which a projector pays once a batch however many events it holds.
        let text = "\
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"1e-3\"} 0
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"2e-3\"} 20
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"+Inf\"} 20
fz_node_seconds_sum{node=\"n3\",stage=\"commit_batch\"} 0.024
fz_node_seconds_count{node=\"n3\",stage=\"commit_batch\"} 20
fz_node_batch_fit{node=\"n3\",per=\"key\",stat=\"n\"} 20
fz_node_batch_fit{node=\"n3\",per=\"key\",stat=\"k\"} 40
fz_node_batch_fit{node=\"n3\",per=\"key\",stat=\"kk\"} 100
fz_node_batch_fit{node=\"n3\",per=\"key\",stat=\"t_ns\"} 24000000
fz_node_batch_fit{node=\"n3\",per=\"key\",stat=\"kt_ns\"} 50000000
fz_node_concurrency{node=\"n3\",kind=\"servers\"} 1
fz_node_concurrency{node=\"n3\",kind=\"batch\"} 512
fz_node_concurrency{node=\"n3\",kind=\"interval_us\"} 5000
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let n3 = c.nodes.iter().find(|n| n.id == "n3").unwrap();
        assert!(n3.per_key);
        assert_eq!(n3.per_item, Some(Dist::Const(100_000)));
        let toml = c.to_toml();
        assert!(toml.contains("per_key = \"const(100"), "{toml}");
        assert!(!toml.contains("per_item"), "{toml}");
        assert!(toml.contains("per aggregate written"), "{toml}");
    }

    #[test]
    fn errors_name_the_source_line_and_the_diagram_nodes() {
        let d = diagram(FZ);
        let e = calibrate(&d, "x.fz", "commands_total 3\n", "m.txt").unwrap_err();
        assert!(e.0.starts_with("m.txt: no fz_node_seconds"), "{}", e.0);
        let e = calibrate(
            &d,
            "x.fz",
            "a 1\nfz_node_concurrency{node=\"n9\",kind=\"servers\"} 1\n",
            "m.txt",
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("m.txt:2: node \"n9\" is not in x.fz; its nodes are n1, n2, n3"),
            "{}",
            e.0
        );
        let e = calibrate(&d, "x.fz", "<html>\n", "m.txt").unwrap_err();
        assert!(e.0.starts_with("m.txt:1: "), "{}", e.0);
    }

    #[test]
    fn shared_cores_and_a_commit_off_the_host() {
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"handle\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"handle\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"handle\"} 0.00015
fz_node_seconds_count{node=\"n2\",stage=\"handle\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"2e-3\"} 20
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"+Inf\"} 20
fz_node_seconds_sum{node=\"n3\",stage=\"commit_batch\"} 0.03
fz_node_seconds_count{node=\"n3\",stage=\"commit_batch\"} 20
fz_node_concurrency{node=\"n2\",kind=\"servers\"} 2
fz_node_concurrency{node=\"n2\",kind=\"host_cores\"} 2
fz_node_concurrency{node=\"n3\",kind=\"servers\"} 1
fz_node_concurrency{node=\"n3\",kind=\"batch\"} 512
fz_node_concurrency{node=\"n3\",kind=\"off_host\"} 1
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        assert_eq!(c.host_cores, Some(2.0));
        assert!(!c.nodes[0].off_host);
        assert!(c.nodes[1].off_host);
        let toml = c.to_toml();
        assert!(toml.contains("[host]\n"), "{toml}");
        assert!(toml.contains("\ncores = 2\n"), "{toml}");
        assert!(toml.contains("batch = 512\nhost = false\n"), "{toml}");
        let p = crate::sim::profile::Profile::parse("p.sim.toml", &toml).unwrap();
        assert_eq!(p.host.cores, Some(2.0));
        assert_eq!(
            p.nodes.iter().find(|n| n.node == "n3").and_then(|n| n.host),
            Some(false)
        );
    }

    #[test]
    fn a_resting_router_is_a_batch_station_and_a_resting_commit_stays_greedy() {
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"route\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"route\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"route\"} 0.00015
fz_node_seconds_count{node=\"n2\",stage=\"route\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"1e-3\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"2e-3\"} 20
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"+Inf\"} 20
fz_node_seconds_sum{node=\"n3\",stage=\"commit_batch\"} 0.03
fz_node_seconds_count{node=\"n3\",stage=\"commit_batch\"} 20
fz_node_batch_fit{node=\"n3\",stat=\"n\"} 20
fz_node_batch_fit{node=\"n3\",stat=\"k\"} 30
fz_node_batch_fit{node=\"n3\",stat=\"kk\"} 50
fz_node_batch_fit{node=\"n3\",stat=\"t_ns\"} 30000000
fz_node_batch_fit{node=\"n3\",stat=\"kt_ns\"} 55000000
fz_node_concurrency{node=\"n2\",kind=\"servers\"} 1
fz_node_concurrency{node=\"n2\",kind=\"batch\"} 2000
fz_node_concurrency{node=\"n2\",kind=\"interval_us\"} 2000
fz_node_concurrency{node=\"n3\",kind=\"servers\"} 1
fz_node_concurrency{node=\"n3\",kind=\"batch\"} 512
fz_node_concurrency{node=\"n3\",kind=\"rest_us\"} 1000
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let (n2, n3) = (&c.nodes[0], &c.nodes[1]);
        assert_eq!(n2.batch, Some(2000));
        assert_eq!(n2.service, Some(Dist::ZERO));
        assert_eq!(n2.per_item, Some(Dist::Const(15_000)));
        assert_eq!(n2.interval, Some(Dist::Const(2_000_000)));
        assert_eq!(n3.interval, Some(Dist::Const(1_000_000)));
        assert_eq!(
            n3.per_item, None,
            "a greedy batcher gets no slope: {:?}",
            n3.notes
        );
        let p = crate::sim::profile::Profile::parse("p.sim.toml", &c.to_toml());
        assert!(p.is_ok(), "{p:?}");
    }

    #[test]
    fn the_cpu_no_node_measured_is_charged_to_the_requests() {
        // 10 commands parsed (15 us each, 150 us in all), 20 ms of commits off the host,
        // 1.150 ms of process CPU: 1 ms unmeasured, 100 us a request.
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"parse\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"parse\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"parse\"} 0.00015
fz_node_seconds_count{node=\"n2\",stage=\"parse\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"2e-3\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n3\",stage=\"commit_batch\"} 0.02
fz_node_seconds_count{node=\"n3\",stage=\"commit_batch\"} 10
fz_node_concurrency{node=\"n3\",kind=\"off_host\"} 1
process_cpu_seconds_total 0.00115
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let mean = c.nodes[0].service.as_ref().unwrap().mean_ns();
        assert!((mean - 115_000.0).abs() < 10.0, "{mean}");
        assert!(c.nodes[0]
            .notes
            .iter()
            .any(|n| n.contains("no node measured")));
        assert!(
            c.nodes[1].service.as_ref().unwrap().mean_ns() > 1e6,
            "the commit is as measured"
        );
    }

    #[test]
    fn thread_cpu_is_charged_per_wake_up() {
        // 10 commands parsed (15 us each); the HTTP threads used 1.15 ms: 1 ms untimed over
        // 10 requests, 100 us a wake-up. The writer: 10 commits of 2 ms wall, its CPU per
        // batch 100 us + 10 us per append (sizes 1 and 3), its threads 2 ms of CPU: 2 ms
        // minus 20 appends x 10 us over 10 batches, 180 us a wake-up.
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"parse\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"parse\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"parse\"} 0.00015
fz_node_seconds_count{node=\"n2\",stage=\"parse\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"2e-3\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"commit_batch\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n3\",stage=\"commit_batch\"} 0.02
fz_node_seconds_count{node=\"n3\",stage=\"commit_batch\"} 10
fz_node_batch_fit{node=\"n3\",stat=\"n\"} 10
fz_node_batch_fit{node=\"n3\",stat=\"k\"} 20
fz_node_batch_fit{node=\"n3\",stat=\"kk\"} 50
fz_node_batch_fit{node=\"n3\",stat=\"t_ns\"} 20000000
fz_node_batch_fit{node=\"n3\",stat=\"kt_ns\"} 40000000
fz_node_batch_fit{node=\"n3\",stat=\"cpu_t_ns\"} 1200000
fz_node_batch_fit{node=\"n3\",stat=\"cpu_kt_ns\"} 2500000
fz_node_concurrency{node=\"n3\",kind=\"off_host\"} 1
fz_node_concurrency{node=\"n3\",kind=\"batch\"} 512
fz_node_concurrency{node=\"n3\",kind=\"rest_us\"} 1000
fz_node_thread_cpu_seconds_total{node=\"n3\"} 0.002
fz_node_thread_wakeups_total{node=\"n3\"} 25
fz_other_threads_cpu_seconds_total 0.00115
process_cpu_seconds_total 0.00315
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let (n2, n3) = (&c.nodes[0], &c.nodes[1]);
        assert_eq!(n2.wakeup, Some(Dist::Const(100_000)), "{:?}", n2.notes);
        let parse = n2.service.as_ref().unwrap().mean_ns();
        assert!(
            (parse - 15_000.0).abs() < 10.0,
            "not charged per request: {parse}"
        );
        assert_eq!(n3.per_item, Some(Dist::Const(10_000)), "{:?}", n3.notes);
        assert_eq!(n3.wakeup, Some(Dist::Const(180_000)), "{:?}", n3.notes);
        let p = crate::sim::profile::Profile::parse("p.sim.toml", &c.to_toml());
        assert!(p.is_ok(), "{p:?}");
    }

    #[test]
    fn without_a_command_parser_the_validator_takes_the_commands_share_of_the_http_cpu() {
        // A read/write separation: the commands enter at the validator (n2, 10 commands
        // of 15 us), the queries at the query API (n3, 10 requests). 40 spells: 20 started
        // no request (20 us each), 20 started one (85 us each): 20 us a spell + 65 us a
        // request over all 20 requests, 7.5 us of it timed, so 57.5 us a request more at
        // both entries, and 2 spells a request: 40 us a wake-up.
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"validate\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"validate\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"validate\"} 0.00015
fz_node_seconds_count{node=\"n2\",stage=\"validate\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"request\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"request\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n3\",stage=\"request\"} 0.00005
fz_node_seconds_count{node=\"n3\",stage=\"request\"} 10
fz_node_concurrency{node=\"n3\",kind=\"servers\"} 2
fz_node_thread_cpu_seconds_total{node=\"n1\"} 0.001
fz_node_thread_wakeups_total{node=\"n1\"} 10
fz_other_threads_cpu_seconds_total 0.0021
fz_http_spells{stat=\"n\"} 40
fz_http_spells{stat=\"k\"} 20
fz_http_spells{stat=\"kk\"} 20
fz_http_spells{stat=\"t_ns\"} 2100000
fz_http_spells{stat=\"kt_ns\"} 1700000
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let node = |id: &str| c.nodes.iter().find(|n| n.id == id).unwrap();
        let (n2, n3) = (node("n2"), node("n3"));
        for n in [n2, n3] {
            assert_eq!(
                n.wakeup,
                Some(Dist::Const(40_000)),
                "{}: {:?}",
                n.id,
                n.notes
            );
        }
        let validate = n2.service.as_ref().unwrap().mean_ns();
        assert!(
            (validate - 72_500.0).abs() < 10.0,
            "15 us + 57.5 us: {validate}"
        );
        assert_eq!(n3.service, Some(Dist::Const(57_500)), "{:?}", n3.notes);
    }

    #[test]
    fn a_view_visible_at_intervals_is_one_batch_a_visible_cycle() {
        // A search projector: 400 applies, 200 of one item (54 us) and 200 of four (66 us),
        // so 50 us + 4 us an item; ten visible cycles of 20 ms of applies each (the commit
        // in the last), 100 items a cycle: the model's batch (one a cycle) is 20 ms less
        // its items' 0.4 ms.
        let text = "\
fz_node_seconds_bucket{node=\"n3\",stage=\"apply_batch\",le=\"6e-5\"} 200
fz_node_seconds_bucket{node=\"n3\",stage=\"apply_batch\",le=\"7e-5\"} 400
fz_node_seconds_bucket{node=\"n3\",stage=\"apply_batch\",le=\"+Inf\"} 400
fz_node_seconds_sum{node=\"n3\",stage=\"apply_batch\"} 0.024
fz_node_seconds_count{node=\"n3\",stage=\"apply_batch\"} 400
fz_node_seconds_bucket{node=\"n3\",stage=\"refresh\",le=\"0.02\"} 10
fz_node_seconds_bucket{node=\"n3\",stage=\"refresh\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n3\",stage=\"refresh\"} 0.2
fz_node_seconds_count{node=\"n3\",stage=\"refresh\"} 10
fz_node_batch_fit{node=\"n3\",stat=\"n\"} 400
fz_node_batch_fit{node=\"n3\",stat=\"k\"} 1000
fz_node_batch_fit{node=\"n3\",stat=\"kk\"} 3400
fz_node_batch_fit{node=\"n3\",stat=\"t_ns\"} 24000000
fz_node_batch_fit{node=\"n3\",stat=\"kt_ns\"} 63600000
fz_node_concurrency{node=\"n3\",kind=\"servers\"} 1
fz_node_concurrency{node=\"n3\",kind=\"batch\"} 4096
fz_node_concurrency{node=\"n3\",kind=\"interval_us\"} 5000
fz_node_concurrency{node=\"n3\",kind=\"visible_interval_us\"} 200000
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let n3 = c.nodes.iter().find(|n| n.id == "n3").unwrap();
        assert_eq!(n3.per_item, Some(Dist::Const(4_000)), "{:?}", n3.notes);
        assert_eq!(n3.interval, Some(Dist::Const(200_000_000)));
        let service = n3.service.as_ref().unwrap().mean_ns();
        assert!(
            (service - 19_600_000.0).abs() < 1_000.0,
            "{service}: {:?}",
            n3.notes
        );
        // Its 4096 is one apply's limit, every 5 ms; a cycle of 200 ms holds 40 of them.
        // Held to 4096 a cycle, the model's view fell behind past 20,000 events/s (2.8 s of
        // lag at 128 users where the service showed 0.17 s).
        assert_eq!(n3.batch, Some(1_000_000), "{:?}", n3.notes);
        assert!(n3
            .notes
            .iter()
            .any(|n| n.contains("at most 4096 events each: no limit a cycle")));
    }

    #[test]
    fn the_http_spells_split_their_cpu_into_per_request_and_per_wake_up() {
        // 10 commands parsed (15 us each). 20 spells of the HTTP workers: 10 started no
        // request (20 us each), 10 started one (85 us each): 20 us a spell + 65 us a
        // request, of which 15 us timed, so 50 us a request more; 2 spells a request, so
        // 40 us a wake-up.
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"parse\",le=\"2e-5\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"parse\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"parse\"} 0.00015
fz_node_seconds_count{node=\"n2\",stage=\"parse\"} 10
fz_node_thread_cpu_seconds_total{node=\"n3\"} 0.001
fz_node_thread_wakeups_total{node=\"n3\"} 10
fz_other_threads_cpu_seconds_total 0.00105
fz_http_spells{stat=\"n\"} 20
fz_http_spells{stat=\"k\"} 10
fz_http_spells{stat=\"kk\"} 10
fz_http_spells{stat=\"t_ns\"} 1050000
fz_http_spells{stat=\"kt_ns\"} 850000
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let n2 = &c.nodes[0];
        assert_eq!(n2.wakeup, Some(Dist::Const(40_000)), "{:?}", n2.notes);
        let parse = n2.service.as_ref().unwrap().mean_ns();
        assert!((parse - 65_000.0).abs() < 10.0, "15 us + 50 us: {parse}");
        assert!(
            n2.notes.iter().any(|n| n.contains("spells")),
            "{:?}",
            n2.notes
        );
    }

    #[test]
    fn a_routers_batches_take_their_slope_from_its_cpu() {
        // 10 reads of the log, 5 of 1 event and 5 of 3: wall 130 and 190 us (30 us an
        // event: the woken partitions preempt it), CPU 55 and 65 us (5 us an event).
        let text = "\
fz_node_seconds_bucket{node=\"n2\",stage=\"route_batch\",le=\"1.5e-4\"} 5
fz_node_seconds_bucket{node=\"n2\",stage=\"route_batch\",le=\"2e-4\"} 10
fz_node_seconds_bucket{node=\"n2\",stage=\"route_batch\",le=\"+Inf\"} 10
fz_node_seconds_sum{node=\"n2\",stage=\"route_batch\"} 0.0016
fz_node_seconds_count{node=\"n2\",stage=\"route_batch\"} 10
fz_node_batch_fit{node=\"n2\",stat=\"n\"} 10
fz_node_batch_fit{node=\"n2\",stat=\"k\"} 20
fz_node_batch_fit{node=\"n2\",stat=\"kk\"} 50
fz_node_batch_fit{node=\"n2\",stat=\"t_ns\"} 1600000
fz_node_batch_fit{node=\"n2\",stat=\"kt_ns\"} 3500000
fz_node_batch_fit{node=\"n2\",stat=\"cpu_t_ns\"} 600000
fz_node_batch_fit{node=\"n2\",stat=\"cpu_kt_ns\"} 1250000
fz_node_concurrency{node=\"n2\",kind=\"servers\"} 1
fz_node_concurrency{node=\"n2\",kind=\"batch\"} 2000
fz_node_concurrency{node=\"n2\",kind=\"interval_us\"} 2000
";
        let c = calibrate(&diagram(FZ), "x.fz", text, "m.txt").unwrap();
        let n2 = &c.nodes[0];
        assert_eq!(n2.per_item, Some(Dist::Const(5_000)), "{:?}", n2.notes);
        let fixed = n2.service.as_ref().unwrap().mean_ns();
        assert!(
            (fixed - 150_000.0).abs() < 10.0,
            "160 us - 5 us x 2: {fixed}"
        );
        assert_eq!(n2.interval, Some(Dist::Const(2_000_000)));
    }
}
