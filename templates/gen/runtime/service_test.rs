//! End-to-end tests of the generated service, in process (no port needed).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use {{ plan.crate_name }}::app::{self, App};
use {{ plan.crate_name }}::config::Config;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(router: &Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(match body {
            Some(b) => Body::from(b.to_string()),
            None => Body::empty(),
        })
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

/// With `DATABASE_URL` set, each test works in its own PostgreSQL schema, named
/// after its temporary folder (and so on for NATS_URL and REDIS_URL).
fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::with_data_dir(dir);
    config.snapshot_every = 3;
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    config.pg_schema = Some(format!("t{name}"));
    // With NATS_URL set, each test has its own JetStream stream too.
    config.nats_stream = Some(format!("t{name}"));
    // With REDIS_URL set, its own Redis key prefix.
    config.redis_prefix = Some(format!("t{name}"));
    config
}

fn start(dir: &std::path::Path) -> App {
    App::start(config(dir)).expect("service starts")
}

/// Aggregate ids posted so far, by aggregate type, with their final version.
type Posted = BTreeMap<&'static str, Vec<(String, u64)>>;

/// Posts the full command sequence of one aggregate of each type.
async fn drive(router: &Router, tag: &str, posted: &mut Posted) {
{%- for a in plan.aggregates %}
    {
        let id = format!("{tag}-{{ a.module }}");
        let mut version = 0;
{%- for c in a.commands %}
        let (s, v) = call(
            router,
            "POST",
            "/commands/{{ c.slug }}",
            Some(json!({
                "{{ a.id_field }}": id,
{%- for f in c.fields %}
                "{{ f.name }}": {{ f.sample }},
{%- endfor %}
            })),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{{ c.slug }}: {v}");
        version = v["version"].as_u64().unwrap_or(version);
{%- endfor %}
        posted.entry({{ a.name_lit }}).or_default().push((id, version));
    }
{%- endfor %}
}

/// Sum of `count` over a summarising view's entries (used when the design has a cache or
/// cube view).
#[allow(dead_code)]
async fn total_count(router: &Router, view: &str) -> i64 {
    let (_, v) = call(router, "GET", &format!("/views/{view}?limit=1000"), None).await;
    v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["count"].as_i64()).sum())
        .unwrap_or(-1)
}

/// Waits (polling, with a timeout) until every view reflects every posted aggregate.
async fn wait_for_views(router: &Router, posted: &Posted) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut missing = Vec::new();
{%- for p in plan.projectors %}
        let ids = posted.get("{{ p.view.aggregate }}").cloned().unwrap_or_default();
{%- if p.view.kind == "table" || p.view.kind == "search" %}
        for (id, version) in &ids {
            let (_, v) = call(router, "GET", &format!("/views/{{ p.view.slug }}/{id}"), None).await;
            if v["version"].as_u64() != Some(*version) {
                missing.push(format!("{{ p.view.slug }}/{id}"));
            }
        }
{%- else %}
        let n = total_count(router, "{{ p.view.slug }}").await;
        if n != ids.len() as i64 {
            missing.push(format!("{{ p.view.slug }}: count {n}, want {}", ids.len()));
        }
{%- endif %}
{%- endfor %}
        if missing.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "views not up to date: {missing:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn shutdown(app: App) {
    tokio::task::spawn_blocking(move || app.shutdown())
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_every_view_shows_the_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let router = app.router();
    let mut posted = Posted::new();
    for i in 0..20 {
        drive(&router, &format!("e2e-{i}"), &mut posted).await;
    }
    wait_for_views(&router, &posted).await;
{%- for p in plan.projectors %}{% if p.view.kind == "search" %}
    let (s, v) = call(&router, "GET", "/views/{{ p.view.slug }}/search?q={{ p.view.fields[0].name }}", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["total"].as_u64().unwrap_or(0) > 0, "search finds documents: {v}");
{%- endif %}{% endfor %}
    let (s, _) = call(&router, "GET", "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = call(&router, "GET", "/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
{%- for a in plan.aggregates %}{% for c in a.commands %}
    assert!(v["paths"]["/commands/{{ c.slug }}"].is_object(), "openapi lists {{ c.slug }}");
{%- endfor %}{% endfor %}
    shutdown(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_400_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let router = app.router();
{%- for a in plan.aggregates %}{% for c in a.commands %}{% if loop.first %}
    let (s, v) = call(&router, "POST", "/commands/{{ c.slug }}", Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "{{ a.id_field }}");
    let (s, v) = call(&router, "POST", "/commands/{{ c.slug }}", Some(json!([1, 2]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "body");
{%- endif %}{% endfor %}{% endfor %}
{%- for p in plan.projectors %}{% if loop.first %}
    let (s, v) = call(&router, "GET", "/views/{{ p.view.slug }}?offset=-1", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "offset");
{%- endif %}{% endfor %}
    shutdown(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_expected_version_is_a_409_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let router = app.router();
    let mut posted = Posted::new();
    drive(&router, "conflict", &mut posted).await;
{%- for a in plan.aggregates %}{% if loop.first %}
{%- for c in a.commands %}{% if loop.last %}
    let (s, v) = call(
        &router,
        "POST",
        "/commands/{{ c.slug }}",
        Some(json!({
            "{{ a.id_field }}": "conflict-{{ a.module }}",
{%- for f in c.fields %}
            "{{ f.name }}": {{ f.sample }},
{%- endfor %}
            "expected_version": 0,
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
{%- endif %}{% endfor %}
    // Two appends racing on the same expected version: exactly one wins.
    let store = app.state.store.clone();
    let version = posted[{{ a.name_lit }}][0].1;
    let e = {{ plan.crate_name }}::store::NewEvent {
        event_type: "Test",
        payload: "{}".into(),
    };
    let first = store.append({{ a.name_lit }}, "conflict-{{ a.module }}".into(), version, vec![e.clone()], None);
    let second = store.append({{ a.name_lit }}, "conflict-{{ a.module }}".into(), version, vec![e], None);
    let (first, second) = tokio::join!(first, second);
    assert!(first.is_ok() != second.is_ok(), "one append must conflict: {first:?} {second:?}");
{%- endif %}{% endfor %}
    shutdown(app).await;
}

/// A creating command on an aggregate that exists, with nothing cached (as after a
/// restart): the command side assumes a new aggregate, the store refuses the append,
/// and the command is decided again on the real state: refused, the stream unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_on_an_existing_aggregate_is_refused_with_no_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.aggregate_cache = 0;
    let app = App::start(config).expect("service starts");
    let router = app.router();
{%- for a in plan.aggregates %}{% for c in a.commands %}{% if c.creates %}
    let body = json!({
        "{{ a.id_field }}": "twice-{{ a.module }}",
{%- for f in c.fields %}
        "{{ f.name }}": {{ f.sample }},
{%- endfor %}
    });
    let (s, v) = call(&router, "POST", "/commands/{{ c.slug }}", Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let version = v["version"].as_u64();
    let (s, v) = call(&router, "POST", "/commands/{{ c.slug }}", Some(body)).await;
    assert!(s.is_client_error(), "a second {{ c.slug }} is refused: {s} {v}");
    let store = app.state.store.clone();
    let stream = tokio::task::spawn_blocking(move || {
        {{ plan.crate_name }}::commands::load_{{ a.module }}(&store, "twice-{{ a.module }}")
    })
    .await
    .expect("load")
    .expect("loads");
    assert_eq!(Some(stream.version), version, "the refused {{ c.slug }} appended nothing");
{%- endif %}{% endfor %}{% endfor %}
    shutdown(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_checkpoints_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut posted = Posted::new();
    let app = start(dir.path());
    let router = app.router();
    for i in 0..10 {
        drive(&router, &format!("r-{i}"), &mut posted).await;
    }
    wait_for_views(&router, &posted).await;
    shutdown(app).await;

    let app = start(dir.path());
    let router = app.router();
    wait_for_views(&router, &posted).await;
    for i in 10..15 {
        drive(&router, &format!("r-{i}"), &mut posted).await;
    }
    wait_for_views(&router, &posted).await;
    shutdown(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_restores_every_view_from_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut posted = Posted::new();
    let app = start(dir.path());
    let router = app.router();
    for i in 0..8 {
        drive(&router, &format!("b-{i}"), &mut posted).await;
    }
    wait_for_views(&router, &posted).await;
    shutdown(app).await;
    let config = config(dir.path());
    for (view, _) in app::VIEWS {
        app::rebuild(&config, view).expect("rebuild");
    }
    assert!(app::rebuild(&config, "no_such_view").is_err());
    let app = start(dir.path());
    let router = app.router();
    wait_for_views(&router, &posted).await;
    shutdown(app).await;
}
{%- if plan.uses("lag_monitor") %}

/// The service's `/metrics` (Prometheus text).
async fn metrics_text(router: &Router) -> String {
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("response");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lag_monitor_reports_replication_lag_by_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let router = app.router();
    let mut posted = Posted::new();
    for i in 0..5 {
        drive(&router, &format!("lag-{i}"), &mut posted).await;
    }
    wait_for_views(&router, &posted).await;
    // Every event appended, as /metrics counts them: the lag monitor's head follows the
    // router's reads of the log (one every 2 ms), so a lag of 0 counts only at that head.
    let appended = metrics_text(&router)
        .await
        .lines()
        .find_map(|l| l.strip_prefix("events_appended_total "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .expect("events_appended_total in /metrics");
    // Caught up: every stream at the head, within the SLO.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = call(&router, "GET", "/lag", None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let streams = v["streams"].as_array().cloned().unwrap_or_default();
        assert_eq!(streams.len(), app::PROJECTORS.len(), "{v}");
        let at_head = streams
            .iter()
            .all(|s| s["head"].as_u64().unwrap_or(0) >= appended);
        if at_head && streams.iter().all(|s| s["lag_events"] == 0) && v["within_slo"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "the lag never reached 0: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = metrics_text(&router).await;
    for stream in app::PROJECTORS {
        let label = format!("stream=\"{stream}\"");
        let count = text
            .lines()
            .find(|l| l.starts_with("replication_lag_seconds_count") && l.contains(&label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        assert!(count > 0, "replication_lag_seconds counts applied events of {stream}: {text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("replication_lag_current_seconds") && l.contains(&label) && l.ends_with(" 0")),
            "{text}"
        );
    }
    let (_, v) = call(&router, "GET", "/openapi.json", None).await;
    assert!(v["paths"]["/lag"].is_object(), "openapi lists /lag");
    shutdown(app).await;
}
{%- endif %}
