//! Prometheus text metrics: requests by route and outcome (200, 401, 429, 502, 504,
//! partial, …), request latency by route, latency and errors per backend, live instances.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String), u64>,
    latency: BTreeMap<String, Histogram>,
    backend_latency: BTreeMap<String, Histogram>,
    backend_errors: BTreeMap<(String, String), u64>,
    retries: BTreeMap<String, u64>,
}

/// The gateway's metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One request answered on `route` with `outcome` after `took`.
    pub fn request(&self, route: &str, outcome: &str, took: Duration) {
        if let Ok(mut m) = self.inner.lock() {
            *m.requests
                .entry((route.to_string(), outcome.to_string()))
                .or_default() += 1;
            m.latency
                .entry(route.to_string())
                .or_default()
                .observe(took.as_secs_f64());
        }
    }

    /// One attempt to `service` that got an answer after `took`.
    pub fn backend(&self, service: &str, took: Duration) {
        if let Ok(mut m) = self.inner.lock() {
            m.backend_latency
                .entry(service.to_string())
                .or_default()
                .observe(took.as_secs_f64());
        }
    }

    /// One failed attempt to `service` (`connect`, `timeout`, `status`, `no_instance`).
    pub fn backend_error(&self, service: &str, kind: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.backend_errors
                .entry((service.to_string(), kind.to_string()))
                .or_default() += 1;
        }
    }

    /// One retry of an idempotent request on another instance.
    pub fn retry(&self, service: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.retries.entry(service.to_string()).or_default() += 1;
        }
    }

    /// Requests counted so far with this route and outcome.
    pub fn count(&self, route: &str, outcome: &str) -> u64 {
        self.inner
            .lock()
            .ok()
            .and_then(|m| {
                m.requests
                    .get(&(route.to_string(), outcome.to_string()))
                    .copied()
            })
            .unwrap_or(0)
    }

    /// The Prometheus text exposition; `live` is the number of live instances by service.
    pub fn render(&self, live: &[(String, usize)]) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else {
            return out;
        };
        out.push_str("# HELP gateway_requests_total Requests by route and outcome.\n");
        out.push_str("# TYPE gateway_requests_total counter\n");
        for ((route, outcome), n) in &m.requests {
            let _ = writeln!(
                out,
                "gateway_requests_total{{route=\"{}\",outcome=\"{}\"}} {n}",
                escape(route),
                escape(outcome)
            );
        }
        out.push_str("# HELP gateway_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE gateway_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            h.write(
                &mut out,
                "gateway_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
        out.push_str("# HELP gateway_backend_duration_seconds Time a backend took to answer.\n");
        out.push_str("# TYPE gateway_backend_duration_seconds histogram\n");
        for (s, h) in &m.backend_latency {
            h.write(
                &mut out,
                "gateway_backend_duration_seconds",
                &format!("service=\"{}\"", escape(s)),
            );
        }
        out.push_str("# HELP gateway_backend_errors_total Failed attempts by backend and kind.\n");
        out.push_str("# TYPE gateway_backend_errors_total counter\n");
        for ((s, kind), n) in &m.backend_errors {
            let _ = writeln!(
                out,
                "gateway_backend_errors_total{{service=\"{}\",kind=\"{}\"}} {n}",
                escape(s),
                escape(kind)
            );
        }
        out.push_str(
            "# HELP gateway_retries_total Idempotent requests retried on another instance.\n",
        );
        out.push_str("# TYPE gateway_retries_total counter\n");
        for (s, n) in &m.retries {
            let _ = writeln!(
                out,
                "gateway_retries_total{{service=\"{}\"}} {n}",
                escape(s)
            );
        }
        out.push_str("# HELP gateway_live_instances Instances in rotation, by service.\n");
        out.push_str("# TYPE gateway_live_instances gauge\n");
        for (s, n) in live {
            let _ = writeln!(
                out,
                "gateway_live_instances{{service=\"{}\"}} {n}",
                escape(s)
            );
        }
        out
    }
}
