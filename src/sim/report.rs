//! Merging replications into figures, and printing them as text or JSON.

use std::fmt::Write as _;

use super::engine::RepResult;
use super::json::J;
use super::network::Network;
use super::stats::{mean_ci, LatStats};
use super::time::{format_secs, secs, Nanos};

/// A mean over replications with its 95% interval (the interval needs two or more).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Est {
    pub mean: Option<f64>,
    pub ci95: Option<[f64; 2]>,
}

impl Est {
    fn of(values: Vec<Option<f64>>) -> Est {
        let (mean, ci95) = mean_ci(&values);
        Est { mean, ci95 }
    }

    pub fn v(&self) -> f64 {
        self.mean.unwrap_or(f64::NAN)
    }
}

/// Latency figures: mean over replications, percentiles over the merged histogram.
#[derive(Debug, Clone, Default)]
pub struct Lat {
    pub mean: Est,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub count: u64,
    pub merged: LatStats,
}

impl Lat {
    fn of<'a>(items: impl Iterator<Item = &'a LatStats>) -> Lat {
        let mut merged = LatStats::default();
        let mut means = Vec::new();
        for s in items {
            means.push(s.mean_s());
            merged.merge(s);
        }
        Lat {
            mean: Est::of(means),
            p50: merged.quantile_s(0.5),
            p99: merged.quantile_s(0.99),
            max: merged.max_s(),
            count: merged.count,
            merged,
        }
    }

    fn json(&self, count_name: Option<&str>, ci: bool) -> J {
        let mut o = J::obj();
        o.set("mean", self.mean.mean);
        if ci {
            o.set("mean_ci95", self.mean.ci95);
        }
        o.set("p50", self.p50).set("p99", self.p99);
        if let Some(c) = count_name {
            o.set(c, self.count);
        }
        o
    }
}

/// Figures of one station.
#[derive(Debug, Clone)]
pub struct NodeFigures {
    pub id: String,
    pub label: String,
    pub servers: u32,
    pub arrivals: Est,
    pub throughput: Est,
    pub utilization: Est,
    /// Arrival rate times mean service time over servers: >= 1 means unstable.
    pub offered_load: Est,
    pub mean_queue: Est,
    pub wait: Lat,
    pub response: Lat,
    pub drops: u64,
    /// Replication 0's queue-length samples.
    pub series: Vec<u32>,
}

/// CQRS figures.
#[derive(Debug, Clone)]
pub struct CqrsFigures {
    pub command: Lat,
    /// Commits of commands that arrived at or after warmup (summed over replications): the
    /// commands `command` counts.
    pub commits: u64,
    /// `(view id, lag, order violations)`.
    pub views: Vec<(String, Lat, u64)>,
    pub reads: Lat,
    pub staleness: Lat,
    pub ordering: Vec<String>,
    /// "CQRS" or "replication".
    pub lens: String,
    /// Submit to confirmation (task-based UIs: origin to the confirming push).
    pub confirm: Lat,
}

/// One outcome of one entry point's requests.
#[derive(Debug, Clone)]
pub struct OutcomeFigures {
    pub id: String,
    pub label: String,
    /// Share of the entry point's answered requests.
    pub share: f64,
    pub latency: Lat,
}

/// Requests of one entry point: how they were answered and how fast.
#[derive(Debug, Clone)]
pub struct RequestFigures {
    pub id: String,
    pub label: String,
    /// Closed loop: users, and cycles completed per second.
    pub users: Option<u32>,
    pub cycles_per_s: Est,
    pub outcomes: Vec<OutcomeFigures>,
}

/// One join station: fork-to-join time.
#[derive(Debug, Clone)]
pub struct JoinFigures {
    pub id: String,
    pub fork_join: Lat,
    pub joined: u64,
    pub partial: u64,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub model: String,
    pub seed: u64,
    pub duration: Nanos,
    pub warmup: Nanos,
    /// The warmup is the default (10% of the duration, at most 5 s), not given.
    pub warmup_default: bool,
    pub replications: usize,
    pub nodes: Vec<NodeFigures>,
    pub sinks: Vec<(String, Lat)>,
    pub end_to_end: Lat,
    pub bottleneck: Option<String>,
    pub unstable: Vec<String>,
    pub hop_limit: u32,
    pub hop_limit_hits: u64,
    pub exits: u64,
    pub events: u64,
    /// Event-loop time summed over replications.
    pub wall_seconds: f64,
    pub cqrs: Option<CqrsFigures>,
    pub series_dt: Nanos,
    /// Leave wall-clock figures out of the JSON (for byte-identical output).
    pub stable: bool,
    pub requests: Vec<RequestFigures>,
    pub joins: Vec<JoinFigures>,
    /// What the requests table is called ("Requests", or the gateway lens).
    pub requests_title: String,
    pub assumptions: Vec<String>,
    /// `--set` overrides: (key, value as given).
    pub sets: Vec<(String, String)>,
}

/// Run metadata for [`Report::build`].
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub model: String,
    pub seed: u64,
    pub duration: Nanos,
    pub warmup: Nanos,
    /// The warmup is the default (neither the command line nor the profile gave one).
    pub warmup_default: bool,
    pub stable: bool,
    /// Every default the run used (from the lowering).
    pub assumptions: Vec<String>,
    /// Title of the requests table.
    pub requests_title: String,
    /// `--set` overrides: (key, value as given).
    pub sets: Vec<(String, String)>,
}

impl Report {
    pub fn build(net: &Network, reps: &[RepResult], meta: &Meta) -> Report {
        let r = reps.len();
        let nodes: Vec<NodeFigures> = net
            .stations
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let per = |f: &dyn Fn(&RepResult) -> f64| -> Est {
                    Est::of(reps.iter().map(|x| Some(f(x))).collect())
                };
                let win = |x: &RepResult| secs(x.window_ns.max(1));
                let servers = spec.servers as f64;
                // A batch server at its most efficient (full batches) does `max` tokens per
                // batch time: the offered load below counts that, so >= 1 is surely unstable.
                let svc = match &spec.batch {
                    None => spec.service.mean_ns() / 1e9,
                    Some(b) => b.cycle_ns(&spec.service, b.max) / b.max.max(1) as f64 / 1e9,
                };
                NodeFigures {
                    id: spec.id.clone(),
                    label: spec.label.clone(),
                    servers: spec.servers,
                    arrivals: per(&|x| x.stations[i].arrivals as f64),
                    throughput: per(&|x| x.stations[i].done as f64 / win(x)),
                    utilization: per(&|x| {
                        x.stations[i].area_busy as f64 / 1e9 / (servers * win(x))
                    }),
                    offered_load: per(&|x| x.stations[i].arrivals as f64 / win(x) * svc / servers),
                    mean_queue: per(&|x| x.stations[i].area_n as f64 / 1e9 / win(x)),
                    wait: Lat::of(reps.iter().map(|x| &x.stations[i].wait)),
                    response: Lat::of(reps.iter().map(|x| &x.stations[i].response)),
                    drops: reps.iter().map(|x| x.stations[i].drops).sum(),
                    series: reps
                        .first()
                        .map(|x| x.stations[i].series.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let sinks = net
            .stations
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_sink())
            .map(|(i, s)| {
                (
                    s.id.clone(),
                    Lat::of(reps.iter().filter_map(|x| x.sinks[i].as_ref())),
                )
            })
            .collect();
        let bottleneck = nodes
            .iter()
            .filter(|n| n.utilization.v() > 0.0)
            .max_by(|a, b| a.utilization.v().total_cmp(&b.utilization.v()))
            .map(|n| n.id.clone());
        // Busy all the time is saturated, except at a batcher that rests between batches
        // (a projector's apply interval, a router's rest): its rest counts as busy, so it is
        // busy at any load that keeps one item waiting; only its offered load (full batches,
        // rest included) says whether its queue grows.
        let unstable = nodes
            .iter()
            .zip(&net.stations)
            .filter(|(n, spec)| {
                let rests = spec.batch.as_ref().is_some_and(|b| !b.interval.is_zero());
                n.offered_load.v() >= 1.0 || (!rests && n.utilization.v() >= 0.999)
            })
            .map(|(n, _)| n.id.clone())
            .collect();
        let cqrs = net.cqrs.as_ref().and_then(|spec| {
            let cs: Vec<_> = reps.iter().filter_map(|x| x.cqrs.as_ref()).collect();
            if cs.is_empty() {
                return None;
            }
            Some(CqrsFigures {
                command: Lat::of(cs.iter().map(|c| &c.command)),
                commits: cs.iter().map(|c| c.commits).sum(),
                views: spec
                    .views
                    .iter()
                    .enumerate()
                    .map(|(k, (_, id))| {
                        (
                            id.clone(),
                            Lat::of(cs.iter().map(|c| &c.lag[k])),
                            cs.iter().map(|c| c.violations[k]).sum(),
                        )
                    })
                    .collect(),
                reads: Lat::of(cs.iter().map(|c| &c.reads)),
                staleness: Lat::of(cs.iter().map(|c| &c.staleness)),
                ordering: spec.ordering.clone(),
                lens: spec.lens.clone(),
                confirm: Lat::of(cs.iter().map(|c| &c.confirm)),
            })
        });
        let requests = net
            .sources
            .iter()
            .enumerate()
            .filter_map(|(si, src)| {
                let st = &net.stations[src.station as usize];
                let mut stations: Vec<u32> = reps
                    .iter()
                    .flat_map(|x| x.outcomes.iter())
                    .filter(|o| o.source == si as u32)
                    .map(|o| o.station)
                    .collect();
                stations.sort_unstable();
                stations.dedup();
                if stations.is_empty() && src.closed.is_none() {
                    return None;
                }
                let lats: Vec<(u32, Lat)> = stations
                    .iter()
                    .map(|&s| {
                        (
                            s,
                            Lat::of(reps.iter().flat_map(|x| {
                                x.outcomes
                                    .iter()
                                    .filter(move |o| o.source == si as u32 && o.station == s)
                                    .map(|o| &o.latency)
                            })),
                        )
                    })
                    .collect();
                let total: u64 = lats.iter().map(|(_, l)| l.count).sum();
                Some(RequestFigures {
                    id: st.id.clone(),
                    label: st.label.clone(),
                    users: src.closed.as_ref().map(|c| c.users),
                    cycles_per_s: Est::of(
                        reps.iter()
                            .map(|x| {
                                Some(
                                    x.cycles.get(si).copied().unwrap_or(0) as f64
                                        / secs(x.window_ns.max(1)),
                                )
                            })
                            .collect(),
                    ),
                    outcomes: lats
                        .into_iter()
                        .map(|(s, latency)| OutcomeFigures {
                            id: net.stations[s as usize].id.clone(),
                            label: net.stations[s as usize].label.clone(),
                            share: if total > 0 {
                                latency.count as f64 / total as f64
                            } else {
                                0.0
                            },
                            latency,
                        })
                        .collect(),
                })
            })
            .collect();
        let joins = reps
            .first()
            .map(|r0| {
                r0.joins
                    .iter()
                    .enumerate()
                    .map(|(k, j)| JoinFigures {
                        id: net.stations[j.station as usize].id.clone(),
                        fork_join: Lat::of(
                            reps.iter()
                                .filter_map(|x| x.joins.get(k))
                                .map(|j| &j.fork_join),
                        ),
                        joined: reps
                            .iter()
                            .filter_map(|x| x.joins.get(k))
                            .map(|j| j.joined)
                            .sum(),
                        partial: reps
                            .iter()
                            .filter_map(|x| x.joins.get(k))
                            .map(|j| j.partial)
                            .sum(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Report {
            model: meta.model.clone(),
            seed: meta.seed,
            duration: meta.duration,
            warmup: meta.warmup,
            warmup_default: meta.warmup_default,
            replications: r,
            nodes,
            sinks,
            end_to_end: Lat::of(reps.iter().map(|x| &x.end_to_end)),
            bottleneck,
            unstable,
            hop_limit: net.hop_limit,
            hop_limit_hits: reps.iter().map(|x| x.hop_limit_hits).sum(),
            exits: reps.iter().map(|x| x.exits).sum(),
            events: reps.iter().map(|x| x.events).sum(),
            wall_seconds: reps.iter().map(|x| x.wall_seconds).sum(),
            cqrs,
            series_dt: reps.first().map_or(0, |x| x.series_dt),
            stable: meta.stable,
            requests,
            joins,
            requests_title: meta.requests_title.clone(),
            assumptions: meta.assumptions.clone(),
            sets: meta.sets.clone(),
        }
    }

    fn ci(&self) -> bool {
        self.replications > 1
    }

    /// The JSON object `--format json` prints (see docs/sim.md).
    pub fn to_json(&self) -> J {
        let ci = self.ci();
        let est = |o: &mut J, name: &str, e: &Est| {
            o.set(name, e.mean);
            if ci {
                o.set(format!("{name}_ci95"), e.ci95);
            }
        };
        let mut root = J::obj();
        root.set("model", self.model.as_str())
            .set("seed", self.seed)
            .set("duration", secs(self.duration))
            .set("warmup", secs(self.warmup))
            .set("replications", self.replications as u64);
        if !self.sets.is_empty() {
            root.set("set", super::sweep::sets_json(&self.sets));
        }
        let mut nodes = J::obj();
        for n in &self.nodes {
            let mut o = J::obj();
            o.set("label", n.label.as_str()).set("servers", n.servers);
            est(&mut o, "arrivals", &n.arrivals);
            est(&mut o, "throughput", &n.throughput);
            est(&mut o, "utilization", &n.utilization);
            est(&mut o, "offered_load", &n.offered_load);
            est(&mut o, "mean_wait", &n.wait.mean);
            o.set("p50_wait", n.wait.p50).set("p99_wait", n.wait.p99);
            est(&mut o, "mean_response", &n.response.mean);
            o.set("p50_response", n.response.p50)
                .set("p99_response", n.response.p99);
            est(&mut o, "mean_queue", &n.mean_queue);
            o.set("drops", n.drops);
            nodes.set(n.id.as_str(), o);
        }
        root.set("nodes", nodes);
        let mut sinks = J::obj();
        for (id, l) in &self.sinks {
            sinks.set(id.as_str(), l.json(Some("completed"), ci));
        }
        root.set("sinks", sinks);
        root.set("end_to_end", self.end_to_end.json(Some("completed"), ci));
        root.set(
            "bottleneck",
            self.bottleneck.clone().map_or(J::Null, J::Str),
        );
        root.set(
            "unstable",
            J::Arr(self.unstable.iter().map(|s| J::Str(s.clone())).collect()),
        );
        root.set("hop_limit", self.hop_limit)
            .set("hop_limit_hits", self.hop_limit_hits);
        root.set("exits", self.exits);
        let mut reqs = J::obj();
        for r in &self.requests {
            let mut o = J::obj();
            o.set("label", r.label.as_str());
            match r.users {
                Some(u) => {
                    o.set("users", u);
                    est(&mut o, "throughput", &r.cycles_per_s);
                }
                None => {
                    o.set("users", J::Null);
                }
            }
            let mut outs = J::obj();
            for oc in &r.outcomes {
                let mut x = oc.latency.json(Some("completed"), ci);
                x.set("label", oc.label.as_str()).set("share", oc.share);
                outs.set(oc.id.as_str(), x);
            }
            o.set("outcomes", outs);
            reqs.set(r.id.as_str(), o);
        }
        root.set("requests", reqs);
        let mut joins = J::obj();
        for j in &self.joins {
            let mut o = j.fork_join.json(None, ci);
            o.set("joined", j.joined).set("partial", j.partial);
            joins.set(j.id.as_str(), o);
        }
        root.set("joins", joins);
        root.set(
            "assumptions",
            J::Arr(self.assumptions.iter().map(|s| J::Str(s.clone())).collect()),
        );
        if let Some(c) = &self.cqrs {
            let mut o = J::obj();
            o.set("lens", c.lens.as_str());
            o.set("command_latency", c.command.json(None, ci));
            o.set("confirmation", c.confirm.json(Some("completed"), ci));
            o.set("commits", c.commits);
            o.set(
                "ordering",
                J::Arr(c.ordering.iter().map(|s| J::Str(s.clone())).collect()),
            );
            let mut views = J::obj();
            for (id, lag, viol) in &c.views {
                let mut v = J::obj();
                est(&mut v, "lag_mean", &lag.mean);
                v.set("lag_p50", lag.p50)
                    .set("lag_p99", lag.p99)
                    .set("lag_max", lag.max);
                v.set("order_violations", *viol);
                views.set(id.as_str(), v);
            }
            o.set("views", views);
            let mut reads = c.reads.json(Some("completed"), ci);
            est(&mut reads, "staleness_mean", &c.staleness.mean);
            reads.set("staleness_p99", c.staleness.p99);
            o.set("reads", reads);
            root.set("cqrs", o);
        }
        root.set("events", self.events);
        if self.stable {
            root.set("wall_seconds", J::Null)
                .set("events_per_second", J::Null);
        } else {
            root.set("wall_seconds", self.wall_seconds);
            root.set(
                "events_per_second",
                if self.wall_seconds > 0.0 {
                    self.events as f64 / self.wall_seconds
                } else {
                    f64::NAN
                },
            );
        }
        root
    }

    /// The text report.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let ci = self.ci();
        let _ = writeln!(
            s,
            "{}: {} simulated ({} warmup{}), seed {}, {} replication{}",
            self.model,
            format_secs(secs(self.duration)),
            format_secs(secs(self.warmup)),
            if self.warmup_default {
                ", the default: 10% of the duration, at most 5s"
            } else {
                ""
            },
            self.seed,
            self.replications,
            if self.replications == 1 { "" } else { "s" }
        );
        if !self.sets.is_empty() {
            let list: Vec<String> = self
                .sets
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            let _ = writeln!(s, "Set on the command line: {}", list.join(", "));
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<6} {:<28} {:>9} {:>9} {:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>6}",
            "node",
            "label",
            "arrivals",
            "thru/s",
            "util",
            "queue",
            "wait",
            "wait p50",
            "wait p99",
            "resp",
            "resp p50",
            "resp p99",
            "drops"
        );
        let t = |x: Option<f64>| x.map_or("-".to_string(), format_secs);
        for n in &self.nodes {
            let mut label: String = n.label.chars().take(28).collect();
            if n.label.chars().count() > 28 {
                label.pop();
                label.push('…');
            }
            let _ = writeln!(
                s,
                "{:<6} {:<28} {:>9.0} {:>9.1} {:>6.3} {:>8.3} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>6}",
                n.id,
                label,
                n.arrivals.v(),
                n.throughput.v(),
                n.utilization.v(),
                n.mean_queue.v(),
                t(n.wait.mean.mean),
                t(n.wait.p50),
                t(n.wait.p99),
                t(n.response.mean.mean),
                t(n.response.p50),
                t(n.response.p99),
                n.drops
            );
        }
        if ci {
            let _ = writeln!(
                s,
                "\n95% confidence intervals over {} replications:",
                self.replications
            );
            for n in &self.nodes {
                if let (Some([a, b]), Some([c, d])) = (n.utilization.ci95, n.response.mean.ci95) {
                    let _ = writeln!(
                        s,
                        "  {:<6} util [{a:.4}, {b:.4}]  mean response [{}, {}]",
                        n.id,
                        format_secs(c),
                        format_secs(d)
                    );
                }
            }
        }
        let _ = writeln!(s, "\nEnd to end (from the origin arrival):");
        let line = |name: &str, l: &Lat| {
            let ci = l
                .mean
                .ci95
                .map(|[a, b]| format!(" [{}, {}]", format_secs(a), format_secs(b)))
                .unwrap_or_default();
            format!(
                "  {:<8} mean {}{ci}  p50 {}  p99 {}  completed {}\n",
                name,
                t(l.mean.mean),
                t(l.p50),
                t(l.p99),
                l.count
            )
        };
        for (id, l) in &self.sinks {
            if l.count > 0 {
                s.push_str(&line(id, l));
            }
        }
        s.push_str(&line("all", &self.end_to_end));
        if !self.requests.is_empty() {
            let _ = writeln!(s, "\n{}:", self.requests_title);
            for r in &self.requests {
                let closed = match r.users {
                    Some(u) => format!(
                        "; closed loop, {u} users, {:.1} requests/s",
                        r.cycles_per_s.v()
                    ),
                    None => String::new(),
                };
                let _ = writeln!(s, "  from {} \"{}\"{closed}", r.id, r.label);
                for o in &r.outcomes {
                    let mut label: String = o.label.chars().take(26).collect();
                    if o.label.chars().count() > 26 {
                        label.pop();
                        label.push('…');
                    }
                    let _ = writeln!(
                        s,
                        "    {:<6} {:<26} share {:>6.2}%  mean {}  p50 {}  p99 {}  completed {}",
                        o.id,
                        label,
                        o.share * 100.0,
                        t(o.latency.mean.mean),
                        t(o.latency.p50),
                        t(o.latency.p99),
                        o.latency.count
                    );
                }
            }
        }
        if !self.joins.is_empty() {
            let _ = writeln!(s, "\nFork-join (fork to join):");
            for j in &self.joins {
                let _ = writeln!(
                    s,
                    "  {:<6} mean {}  p50 {}  p99 {}  joined {}  partial {}",
                    j.id,
                    t(j.fork_join.mean.mean),
                    t(j.fork_join.p50),
                    t(j.fork_join.p99),
                    j.joined,
                    j.partial
                );
            }
        }
        if let Some(b) = &self.bottleneck {
            let u = self
                .nodes
                .iter()
                .find(|n| &n.id == b)
                .map_or(f64::NAN, |n| n.utilization.v());
            let _ = writeln!(s, "\nBottleneck: {b} (utilisation {u:.3})");
        }
        if !self.unstable.is_empty() {
            let _ = writeln!(
                s,
                "UNSTABLE (offered load >= 1, queues grow without bound): {}",
                self.unstable.join(", ")
            );
        }
        if self.hop_limit_hits > 0 {
            let _ = writeln!(
                s,
                "Hop limit ({}) hit by {} tokens: they were dropped",
                self.hop_limit, self.hop_limit_hits
            );
        }
        if self.exits > 0 {
            let _ = writeln!(
                s,
                "{} tokens left the system by a diamond's remaining probability",
                self.exits
            );
        }
        if let Some(c) = &self.cqrs {
            let _ = writeln!(
                s,
                "\n{} lens ({} commits in the measured window; ordering step: {}):",
                if c.lens == "replication" {
                    "Replication"
                } else {
                    "CQRS"
                },
                c.commits,
                if c.ordering.is_empty() {
                    "none".to_string()
                } else {
                    c.ordering.join(", ")
                }
            );
            s.push_str(&line("command", &c.command).replacen("command ", "command latency", 1));
            let _ = writeln!(
                s,
                "  {:<8} {:>10} {:>10} {:>10} {:>10} {:>17}",
                "view", "lag mean", "lag p50", "lag p99", "lag max", "order violations"
            );
            for (id, lag, v) in &c.views {
                let _ = writeln!(
                    s,
                    "  {:<8} {:>10} {:>10} {:>10} {:>10} {:>17}",
                    id,
                    t(lag.mean.mean),
                    t(lag.p50),
                    t(lag.p99),
                    t(lag.max),
                    v
                );
            }
            if c.confirm.count > 0 {
                s.push_str(&line("confirm", &c.confirm).replacen(
                    "confirm ",
                    "submit to confirmation",
                    1,
                ));
            }
            if c.reads.count > 0 {
                let _ = writeln!(
                    s,
                    "  reads    mean {}  p50 {}  p99 {}  staleness mean {}  p99 {}  ({} reads)",
                    t(c.reads.mean.mean),
                    t(c.reads.p50),
                    t(c.reads.p99),
                    t(c.staleness.mean.mean),
                    t(c.staleness.p99),
                    c.reads.count
                );
            } else if c.staleness.count > 0 {
                let _ = writeln!(
                    s,
                    "  read staleness mean {}  p99 {}  ({} reads of read models)",
                    t(c.staleness.mean.mean),
                    t(c.staleness.p99),
                    c.staleness.count
                );
            } else {
                let _ = writeln!(s, "  reads    none ([reads] rate = 0)");
            }
        }
        let _ = writeln!(
            s,
            "\nAssumptions (defaults this run used; set them in the profile):"
        );
        if self.assumptions.is_empty() {
            let _ = writeln!(s, "  (none: the profile sets everything)");
        }
        for a in &self.assumptions {
            let _ = writeln!(s, "  {a}");
        }
        let _ = writeln!(
            s,
            "\n{} events in {:.3}s of event loop ({:.1}M events/s)",
            self.events,
            self.wall_seconds,
            if self.wall_seconds > 0.0 {
                self.events as f64 / self.wall_seconds / 1e6
            } else {
                0.0
            }
        );
        s
    }
}
