//! Replication-lag monitor: how far each read model (stream) is behind the write side.
//! `GET /lag` answers the current lag by stream and whether it is within the SLO
//! (`LAG_SLO_MS`, default 1000); `/metrics` gets the `replication_lag_seconds` histogram
//! (commit to applied, every event) and the current lag by stream.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::metrics::{Metrics, LAG_BUCKETS};

/// The lag SLO in seconds (`LAG_SLO_MS`, default 1000 ms).
pub fn slo_seconds() -> f64 {
    static SLO: OnceLock<f64> = OnceLock::new();
    *SLO.get_or_init(|| {
        std::env::var("LAG_SLO_MS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(1000.0)
            / 1000.0
    })
}

/// One stream's lag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StreamLag {
    /// Projector (sync consumer) that applies the stream.
    pub stream: String,
    /// Position of the last committed event.
    pub head: u64,
    /// Position the read model has applied.
    pub checkpoint: u64,
    /// Committed events not yet applied.
    pub lag_events: u64,
    /// 0 when caught up, else the lag of the last applied event.
    pub lag_seconds: f64,
    pub p50_seconds: f64,
    pub p99_seconds: f64,
    pub max_seconds: f64,
}

/// Every stream's lag and the SLO.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LagReport {
    pub slo_seconds: f64,
    pub within_slo: bool,
    pub streams: Vec<StreamLag>,
}

/// The current lag of every stream.
pub fn report(m: &Metrics) -> LagReport {
    let head = m.head.load(Ordering::Relaxed);
    let streams: Vec<StreamLag> = m
        .projectors
        .iter()
        .map(|p| {
            let checkpoint = p.checkpoint.load(Ordering::Relaxed);
            let lag_events = head.saturating_sub(checkpoint);
            let (p50, p99, max) = p.lag_quantiles();
            StreamLag {
                stream: p.name.to_string(),
                head,
                checkpoint,
                lag_events,
                lag_seconds: if lag_events == 0 { 0.0 } else { p.last_lag() },
                p50_seconds: p50,
                p99_seconds: p99,
                max_seconds: max,
            }
        })
        .collect();
    let slo = slo_seconds();
    LagReport {
        slo_seconds: slo,
        within_slo: streams.iter().all(|s| s.lag_seconds <= slo),
        streams,
    }
}

/// The lag metrics, in the Prometheus text format.
pub fn render(m: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# TYPE replication_lag_seconds histogram");
    for p in &m.projectors {
        let (buckets, count, sum) = p.lag_histogram();
        for (b, n) in LAG_BUCKETS.iter().zip(&buckets) {
            let _ = writeln!(
                s,
                "replication_lag_seconds_bucket{{stream=\"{}\",le=\"{b}\"}} {n}",
                p.name
            );
        }
        let _ = writeln!(
            s,
            "replication_lag_seconds_bucket{{stream=\"{}\",le=\"+Inf\"}} {count}",
            p.name
        );
        let _ = writeln!(s, "replication_lag_seconds_sum{{stream=\"{}\"}} {sum}", p.name);
        let _ = writeln!(s, "replication_lag_seconds_count{{stream=\"{}\"}} {count}", p.name);
    }
    let r = report(m);
    let _ = writeln!(s, "# TYPE replication_lag_current_seconds gauge");
    for st in &r.streams {
        let _ = writeln!(
            s,
            "replication_lag_current_seconds{{stream=\"{}\"}} {}",
            st.stream, st.lag_seconds
        );
    }
    let _ = writeln!(s, "# TYPE replication_lag_within_slo gauge");
    let _ = writeln!(s, "replication_lag_within_slo {}", u8::from(r.within_slo));
    s
}

/// The current replication lag by stream.
#[utoipa::path(get, path = "/lag", tag = "service", responses((status = 200, body = LagReport)))]
pub async fn lag(State(app): State<Arc<AppState>>) -> Json<LagReport> {
    Json(report(&app.metrics))
}
