//! The consistency check{% for n in plan.packs %}{% if n.name == "consistency_check" && !n.nodes.is_empty() %} ({% for x in n.nodes %}{% if !loop.first %}, {% endif %}{{ x }}{% endfor %}){% endif %}{% endfor %}: compares every view with
//! what the event store implies and rebuilds a view that drifted.
//!
//! For each view, on its projector's own thread (between two batches, after a flush),
//! the check reads the version of every aggregate the view holds and the projector's
//! checkpoints. From the store it computes, for every aggregate of the view's type, the
//! version of its last event at or below the checkpoint of the aggregate's partition.
//! Both sides are summarised by aggregate type as a count and a checksum (the wrapping
//! sum of an FNV-1a hash of each `(aggregate id, version)`); when they differ the view
//! has drifted (a lost, stale or extra row) and is rebuilt: reset and replayed from the
//! store on its projector's thread, the code of `cargo run -- rebuild <view>`.
//!
//! Runs every `CONSISTENCY_CHECK_SECS` (default 60; 0: never by itself) and on
//! `POST /admin/consistency-check`. `/metrics` reports
//! `consistency_drift_found_total{view}` and `consistency_drift_repaired_total{view}`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::bus::{partition_of, BusControl, ProjectionError};
use crate::error::ApiError;
use crate::projections;
use crate::store::EventStore;

/// Views checked: (view, projector, aggregate type, event types).
pub const CHECKED: &[(&str, &str, &str, &[&str])] = &[
{%- for p in plan.projectors %}
    (
        projections::{{ p.module }}::VIEW,
        projections::{{ p.module }}::PROJECTOR,
        crate::domain::{{ p.view.aggregate_module }}::AGGREGATE_TYPE,
        crate::domain::{{ p.view.aggregate_module }}::EVENT_TYPES,
    ),
{%- endfor %}
];

/// Counters of drift found and repaired, by view, and a lock so that two checks do
/// not run at once.
pub struct Consistency {
    found: Vec<AtomicU64>,
    repaired: Vec<AtomicU64>,
    running: Mutex<()>,
}

impl Default for Consistency {
    fn default() -> Self {
        Consistency {
            found: CHECKED.iter().map(|_| AtomicU64::new(0)).collect(),
            repaired: CHECKED.iter().map(|_| AtomicU64::new(0)).collect(),
            running: Mutex::new(()),
        }
    }
}

/// Count and checksum of `(aggregate id, version)` pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Digest {
    /// Aggregates.
    pub count: u64,
    /// Wrapping sum of FNV-1a(id, version), in hex.
    #[schema(value_type = String)]
    #[serde(serialize_with = "hex")]
    pub checksum: u64,
}

fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:016x}"))
}

fn fnv(id: &str, version: u64) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in id.bytes().chain([0u8]).chain(version.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

impl Digest {
    fn of<'a>(pairs: impl Iterator<Item = (&'a str, u64)>) -> Digest {
        let mut d = Digest::default();
        for (id, v) in pairs {
            d.count += 1;
            d.checksum = d.checksum.wrapping_add(fnv(id, v));
        }
        d
    }
}

/// The result for one view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViewCheck {
    pub view: String,
    /// Aggregate type the view is built from.
    pub aggregate: String,
    /// False when the view keeps no per-aggregate versions (nothing to compare).
    pub checked: bool,
    /// What the event store implies at the view's checkpoints.
    pub expected: Option<Digest>,
    /// What the view holds.
    pub found: Option<Digest>,
    /// Aggregates missing from the view, with another version, or not in the store.
    pub differing: u64,
    pub drift: bool,
    /// The view was rebuilt from the store.
    pub repaired: bool,
    /// Events replayed by the rebuild.
    pub rebuilt_from_events: u64,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// The result of one run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub views: Vec<ViewCheck>,
}

/// The version each aggregate of `aggregate_type` has at the given checkpoints.
pub fn expected_versions(
    store: &EventStore,
    aggregate_type: &str,
    event_types: &[&str],
    checkpoints: &[u64],
) -> Result<HashMap<String, u64>, ProjectionError> {
    let n = checkpoints.len().max(1);
    let upto = checkpoints.iter().copied().max().unwrap_or(0);
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut position = 0;
    while position < upto {
        let events = store
            .read_after(position, 5_000)
            .map_err(|e| ProjectionError::new("consistency", e))?;
        let Some(last) = events.last().map(|e| e.position) else {
            break;
        };
        for e in events {
            if e.position > upto {
                break;
            }
            if e.aggregate_type != aggregate_type || !event_types.contains(&e.event_type.as_str()) {
                continue;
            }
            let cp = checkpoints
                .get(partition_of(&e.aggregate_type, &e.aggregate_id, n))
                .copied()
                .unwrap_or(0);
            if e.position <= cp {
                let v = versions.entry(e.aggregate_id).or_insert(0);
                *v = (*v).max(e.version);
            }
        }
        position = last;
    }
    Ok(versions)
}

/// Checks one view and rebuilds it on drift.
fn check_view(
    store: &EventStore,
    bus: &BusControl,
    (view, projector, aggregate, types): (&str, &str, &str, &[&str]),
) -> Result<ViewCheck, ProjectionError> {
    let mut out = ViewCheck {
        view: view.to_string(),
        aggregate: aggregate.to_string(),
        checked: false,
        expected: None,
        found: None,
        differing: 0,
        drift: false,
        repaired: false,
        rebuilt_from_events: 0,
        error: None,
    };
    let held = bus.versions(projector)?;
    let Some(found) = held.versions else {
        return Ok(out);
    };
    let expected = expected_versions(store, aggregate, types, &held.checkpoints)?;
    out.checked = true;
    let e = Digest::of(expected.iter().map(|(id, v)| (id.as_str(), *v)));
    let f = Digest::of(found.iter().map(|(id, v)| (id.as_str(), *v)));
    out.expected = Some(e);
    out.found = Some(f);
    if e != f {
        let held: HashMap<&str, u64> = found.iter().map(|(id, v)| (id.as_str(), *v)).collect();
        out.differing = held
            .iter()
            .filter(|(id, v)| expected.get(**id) != Some(*v))
            .count() as u64
            + expected
                .keys()
                .filter(|id| !held.contains_key(id.as_str()))
                .count() as u64;
        out.drift = true;
        out.rebuilt_from_events = bus.rebuild(projector)?;
        out.repaired = true;
    }
    Ok(out)
}

/// Checks every view; rebuilds the ones that drifted.
pub fn run(app: &AppState) -> Report {
    let _one = app.consistency.running.lock();
    let mut views = Vec::new();
    for (i, c) in CHECKED.iter().enumerate() {
        let r = match check_view(&app.store, &app.bus, *c) {
            Ok(r) => r,
            Err(e) => ViewCheck {
                view: c.0.to_string(),
                aggregate: c.2.to_string(),
                checked: false,
                expected: None,
                found: None,
                differing: 0,
                drift: false,
                repaired: false,
                rebuilt_from_events: 0,
                error: Some(e.to_string()),
            },
        };
        if r.drift {
            app.consistency.found[i].fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "consistency check: view {} drifted ({} aggregate(s) differ: expected {:?}, found {:?}){}",
                r.view,
                r.differing,
                r.expected,
                r.found,
                if r.repaired { "; rebuilt from the store" } else { "" }
            );
        }
        if r.repaired {
            app.consistency.repaired[i].fetch_add(1, Ordering::Relaxed);
        }
        views.push(r);
    }
    Report { views }
}

/// Runs the check every `secs` seconds until the bus stops (0: never).
pub fn start(app: Arc<AppState>, secs: u64) -> Result<(), std::io::Error> {
    if secs == 0 {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("consistency-check".into())
        .spawn(move || {
            crate::bus::lower_priority();
            let step = Duration::from_millis(200);
            let mut waited = Duration::ZERO;
            loop {
                std::thread::sleep(step);
                if app.bus.is_closed() {
                    return;
                }
                waited += step;
                if waited >= Duration::from_secs(secs) {
                    waited = Duration::ZERO;
                    run(&app);
                }
            }
        })
        .map(|_| ())
}

/// Runs the consistency check now: per view, counts and checksum against the store,
/// and a rebuild of every view that drifted.
#[utoipa::path(post, path = "/admin/consistency-check", tag = "admin",
    responses((status = 200, body = Report), (status = 503, description = "the bus has stopped")))]
pub async fn check(State(app): State<Arc<AppState>>) -> Result<Json<Report>, ApiError> {
    if app.bus.is_closed() {
        return Err(ApiError::unavailable("the event bus has stopped"));
    }
    let report = tokio::task::spawn_blocking(move || run(&app))
        .await
        .map_err(|e| ApiError::unavailable(format!("consistency check failed: {e}")))?;
    Ok(Json(report))
}

/// The counters in the Prometheus text format.
pub fn render(c: &Consistency) -> String {
    let mut s = String::new();
    for (name, counters) in [
        ("consistency_drift_found_total", &c.found),
        ("consistency_drift_repaired_total", &c.repaired),
    ] {
        let _ = writeln!(s, "# TYPE {name} counter");
        for (i, (view, ..)) in CHECKED.iter().enumerate() {
            let (open, close) = ('{', '}');
            let _ = writeln!(
                s,
                "{name}{open}view=\"{view}\"{close} {}",
                counters[i].load(Ordering::Relaxed)
            );
        }
    }
    s
}
