//! Prometheus text metrics: commands, events, per-projector checkpoint and lag,
//! query latency histogram.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const QUERY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.5, 1.0,
];
const LAG_WINDOW: usize = 20_000;
/// Bucket bounds (seconds) of each projector's lag histogram.
pub const LAG_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Metrics of one projector.
pub struct ProjectorMetrics {
    pub name: &'static str,
    pub checkpoint: AtomicU64,
    /// Every event at or below this position is visible to queries of its view.
    pub visible: AtomicU64,
    pub applied: AtomicU64,
    lag: Mutex<VecDeque<f64>>,
    /// Cumulative histogram of every applied event's lag (`LAG_BUCKETS`).
    lag_buckets: [AtomicU64; LAG_BUCKETS.len()],
    lag_count: AtomicU64,
    lag_sum_ns: AtomicU64,
    /// Lag of the last applied event, nanoseconds.
    last_lag_ns: AtomicU64,
}

impl ProjectorMetrics {
    /// Records the lag (commit to applied, seconds) of applied events.
    pub fn record_lag(&self, lags: &[f64]) {
        for l in lags {
            for (b, n) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
                if *l <= *b {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.lag_sum_ns
                .fetch_add((l.max(0.0) * 1e9) as u64, Ordering::Relaxed);
        }
        if let Some(last) = lags.last() {
            self.lag_count
                .fetch_add(lags.len() as u64, Ordering::Relaxed);
            self.last_lag_ns
                .store((last.max(0.0) * 1e9) as u64, Ordering::Relaxed);
        }
        if let Ok(mut q) = self.lag.lock() {
            for l in lags {
                if q.len() == LAG_WINDOW {
                    q.pop_front();
                }
                q.push_back(*l);
            }
        }
    }
    /// p50, p99 and max of the recent lag window, in seconds.
    pub fn lag_quantiles(&self) -> (f64, f64, f64) {
        let mut v: Vec<f64> = self
            .lag
            .lock()
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        if v.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        (q(0.5), q(0.99), v[v.len() - 1])
    }
    /// The lag histogram: cumulative counts per `LAG_BUCKETS` bound, count, sum (seconds).
    pub fn lag_histogram(&self) -> (Vec<u64>, u64, f64) {
        (
            self.lag_buckets
                .iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect(),
            self.lag_count.load(Ordering::Relaxed),
            self.lag_sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
    /// Lag of the last applied event, seconds.
    pub fn last_lag(&self) -> f64 {
        self.last_lag_ns.load(Ordering::Relaxed) as f64 / 1e9
    }
    /// Clears the lag window.
    pub fn reset_lag(&self) {
        if let Ok(mut q) = self.lag.lock() {
            q.clear();
        }
    }
}

/// All metrics of the service.
pub struct Metrics {
    pub commands_accepted: AtomicU64,
    pub commands_rejected: AtomicU64,
    pub commands_conflicted: AtomicU64,
    pub events_appended: AtomicU64,
    pub head: AtomicU64,
    pub projectors: Vec<ProjectorMetrics>,
    query_buckets: [AtomicU64; QUERY_BUCKETS.len()],
    query_count: AtomicU64,
    query_sum_ns: AtomicU64,
}

impl Metrics {
    /// Metrics for the given projectors.
    pub fn new(projectors: &[&'static str]) -> Self {
        Metrics {
            commands_accepted: AtomicU64::new(0),
            commands_rejected: AtomicU64::new(0),
            commands_conflicted: AtomicU64::new(0),
            events_appended: AtomicU64::new(0),
            head: AtomicU64::new(0),
            projectors: projectors
                .iter()
                .map(|name| ProjectorMetrics {
                    name,
                    checkpoint: AtomicU64::new(0),
                    visible: AtomicU64::new(0),
                    applied: AtomicU64::new(0),
                    lag: Mutex::new(VecDeque::new()),
                    lag_buckets: Default::default(),
                    lag_count: AtomicU64::new(0),
                    lag_sum_ns: AtomicU64::new(0),
                    last_lag_ns: AtomicU64::new(0),
                })
                .collect(),
            query_buckets: Default::default(),
            query_count: AtomicU64::new(0),
            query_sum_ns: AtomicU64::new(0),
        }
    }

    /// The metrics of the named projector.
    pub fn projector(&self, name: &str) -> Option<&ProjectorMetrics> {
        self.projectors.iter().find(|p| p.name == name)
    }

    /// Records one query's latency.
    pub fn observe_query(&self, seconds: f64) {
        for (b, n) in QUERY_BUCKETS.iter().zip(&self.query_buckets) {
            if seconds <= *b {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.query_count.fetch_add(1, Ordering::Relaxed);
        self.query_sum_ns
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let _ = writeln!(s, "# TYPE commands_total counter");
        let _ = writeln!(
            s,
            "commands_total{{result=\"accepted\"}} {}",
            g(&self.commands_accepted)
        );
        let _ = writeln!(
            s,
            "commands_total{{result=\"rejected\"}} {}",
            g(&self.commands_rejected)
        );
        let _ = writeln!(
            s,
            "commands_total{{result=\"conflict\"}} {}",
            g(&self.commands_conflicted)
        );
        let _ = writeln!(s, "# TYPE events_appended_total counter");
        let _ = writeln!(s, "events_appended_total {}", g(&self.events_appended));
        let head = g(&self.head);
        let _ = writeln!(s, "# TYPE event_store_head gauge");
        let _ = writeln!(s, "event_store_head {head}");
        let _ = writeln!(s, "# TYPE projector_checkpoint gauge");
        for p in &self.projectors {
            let _ = writeln!(
                s,
                "projector_checkpoint{{projector=\"{}\"}} {}",
                p.name,
                g(&p.checkpoint)
            );
        }
        let _ = writeln!(s, "# TYPE projector_lag_events gauge");
        for p in &self.projectors {
            let lag = head.saturating_sub(g(&p.checkpoint));
            let _ = writeln!(s, "projector_lag_events{{projector=\"{}\"}} {lag}", p.name);
        }
        let _ = writeln!(s, "# TYPE projector_lag_seconds summary");
        for p in &self.projectors {
            let (p50, p99, max) = p.lag_quantiles();
            let _ = writeln!(
                s,
                "projector_lag_seconds{{projector=\"{}\",quantile=\"0.5\"}} {p50}",
                p.name
            );
            let _ = writeln!(
                s,
                "projector_lag_seconds{{projector=\"{}\",quantile=\"0.99\"}} {p99}",
                p.name
            );
            let _ = writeln!(
                s,
                "projector_lag_seconds{{projector=\"{}\",quantile=\"1\"}} {max}",
                p.name
            );
        }
        let _ = writeln!(s, "# TYPE query_duration_seconds histogram");
        for (b, n) in QUERY_BUCKETS.iter().zip(&self.query_buckets) {
            let _ = writeln!(s, "query_duration_seconds_bucket{{le=\"{b}\"}} {}", g(n));
        }
        let count = g(&self.query_count);
        let _ = writeln!(s, "query_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            s,
            "query_duration_seconds_sum {}",
            g(&self.query_sum_ns) as f64 / 1e9
        );
        let _ = writeln!(s, "query_duration_seconds_count {count}");
        s
    }
}
