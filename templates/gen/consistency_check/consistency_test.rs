//! The consistency check: a view that matches the store is left alone; a corrupted
//! view (a row lost, a stale version, a row the store never had) is found, rebuilt, and
//! counted in `/metrics`, both on `POST /admin/consistency-check` and by the periodic run.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use {{ plan.crate_name }}::app::App;
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
    let text = String::from_utf8_lossy(&bytes).to_string();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::String(text));
    (status, v)
}

fn config(dir: &std::path::Path, check_every: u64) -> Config {
    let mut config = Config::with_data_dir(dir);
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    config.pg_schema = Some(format!("c{name}"));
    config.nats_stream = Some(format!("c{name}"));
    config.consistency_check_secs = check_every;
    config
}

/// Posts every command of each aggregate for `n` ids; returns (aggregate type, id, version).
async fn drive(router: &Router, tag: &str, n: usize) -> Vec<(&'static str, String, u64)> {
    let mut out = Vec::new();
    for i in 0..n {
{%- for a in plan.aggregates %}
        {
            let id = format!("{tag}-{i}-{{ a.module }}");
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
            out.push(({{ a.name_lit }}, id, version));
        }
{%- endfor %}
    }
    out
}

/// Waits until every projector has applied everything committed.
async fn settle(app: &App) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let head = app.state.store.head().get();
        let behind: Vec<&str> = app
            .state
            .metrics
            .projectors
            .iter()
            .filter(|p| p.checkpoint.load(std::sync::atomic::Ordering::Relaxed) < head)
            .map(|p| p.name)
            .collect();
        if behind.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "projectors behind head {head}: {behind:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn check(router: &Router) -> Value {
    let (s, v) = call(router, "POST", "/admin/consistency-check", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn view<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["views"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["view"] == name))
        .unwrap_or_else(|| panic!("view {name} in {report}"))
}

async fn metric(router: &Router, line: &str) -> Option<u64> {
    let (_, v) = call(router, "GET", "/metrics", None).await;
    let text = v.as_str().unwrap_or_default().to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(line).map(|rest| rest.trim().parse().unwrap_or(u64::MAX)))
}

async fn shutdown(app: App) {
    tokio::task::spawn_blocking(move || app.shutdown())
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_that_matches_the_store_has_no_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::start(config(dir.path(), 0)).expect("service starts");
    let router = app.router();
    let posted = drive(&router, "ok", 5).await;
    settle(&app).await;
    let report = check(&router).await;
{%- for p in plan.projectors %}
    {
        let v = view(&report, "{{ p.view.slug }}");
        assert_eq!(v["drift"], false, "{v}");
        assert_eq!(v["repaired"], false, "{v}");
        assert!(v["error"].is_null(), "{v}");
{%- if p.view.kind == "table" || p.view.kind == "cache" %}
        assert_eq!(v["checked"], true, "{v}");
        assert_eq!(v["expected"], v["found"], "{v}");
{%- if p.view.kind == "table" %}
        let n = posted.iter().filter(|(t, ..)| *t == "{{ p.view.aggregate }}").count() as u64;
        assert_eq!(v["found"]["count"].as_u64(), Some(n), "{v}");
{%- endif %}
{%- endif %}
    }
{%- endfor %}
    let _ = posted;
{%- for p in plan.projectors %}
    assert_eq!(metric(&router, "consistency_drift_found_total{view=\"{{ p.view.slug }}\"}").await, Some(0));
{%- endfor %}
    shutdown(app).await;
}
{%- for p in plan.projectors %}{% if p.view.kind == "table" %}

/// Corrupts view {{ p.view.slug }}: deletes the row of `lost`, gives `stale` a
/// version it never had, and adds a row for an id the store does not know.
fn corrupt_{{ p.module }}(config: &Config, lost: &str, stale: &str) {
    let rows = "{{ p.module }}_rows";
    let statements = [
        format!("DELETE FROM {rows} WHERE id = '{lost}'"),
        format!("UPDATE {rows} SET version = version + 1000 WHERE id = '{stale}'"),
        format!(
            "INSERT INTO {rows} (id, version, state{% for f in p.view.fields %}, \"{{ f.name }}\"{% endfor %}) SELECT 'ghost', version, state{% for f in p.view.fields %}, \"{{ f.name }}\"{% endfor %} FROM {rows} WHERE id = '{stale}'"
        ),
    ];
    match &config.database_url {
        Some(url) => {
            let mut c = postgres::Client::connect(url, postgres::NoTls).expect("postgres");
            let schema = config.pg_schema.clone().unwrap_or_else(|| "public".into());
            c.batch_execute(&format!("SET search_path TO {schema}")).expect("schema");
            for s in &statements {
                assert_eq!(c.execute(s.as_str(), &[]).expect(s), 1, "{s}");
            }
        }
        None => {
            let c = rusqlite::Connection::open(config.data_dir.join("views").join("{{ p.module }}.db"))
                .expect("view file");
            c.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
            for s in &statements {
                assert_eq!(c.execute(s, []).expect(s), 1, "{s}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_{{ p.module }}_view_is_found_and_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), 0);
    let app = App::start(cfg.clone()).expect("service starts");
    let router = app.router();
    let posted: Vec<(String, u64)> = drive(&router, "bad", 4)
        .await
        .into_iter()
        .filter(|(t, ..)| *t == "{{ p.view.aggregate }}")
        .map(|(_, id, v)| (id, v))
        .collect();
    settle(&app).await;
    let (lost, stale) = (&posted[0].0, &posted[1].0);
    corrupt_{{ p.module }}(&cfg, lost, stale);
    let (s, _) = call(&router, "GET", &format!("/views/{{ p.view.slug }}/{lost}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the row is gone before the check");

    let report = check(&router).await;
    let v = view(&report, "{{ p.view.slug }}");
    assert_eq!(v["drift"], true, "{v}");
    assert_eq!(v["repaired"], true, "{v}");
    assert_eq!(v["differing"], 3, "lost, stale and ghost rows: {v}");
    assert_ne!(v["expected"], v["found"], "{v}");
    for (id, version) in &posted {
        let (s, row) = call(&router, "GET", &format!("/views/{{ p.view.slug }}/{id}"), None).await;
        assert_eq!(s, StatusCode::OK, "{id} is back: {row}");
        assert_eq!(row["version"].as_u64(), Some(*version), "{row}");
    }
    let (s, _) = call(&router, "GET", "/views/{{ p.view.slug }}/ghost", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the row the store never had is gone");
    assert_eq!(metric(&router, "consistency_drift_found_total{view=\"{{ p.view.slug }}\"}").await, Some(1));
    assert_eq!(metric(&router, "consistency_drift_repaired_total{view=\"{{ p.view.slug }}\"}").await, Some(1));

    // Repaired: the next check finds nothing, and new commands still reach the view.
    let report = check(&router).await;
    assert_eq!(view(&report, "{{ p.view.slug }}")["drift"], false, "{report}");
    let more = drive(&router, "after", 1).await;
    settle(&app).await;
    for (t, id, version) in &more {
        if *t == "{{ p.view.aggregate }}" {
            let (_, row) = call(&router, "GET", &format!("/views/{{ p.view.slug }}/{id}"), None).await;
            assert_eq!(row["version"].as_u64(), Some(*version), "{row}");
        }
    }
    shutdown(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_check_repairs_{{ p.module }}_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), 1);
    let app = App::start(cfg.clone()).expect("service starts");
    let router = app.router();
    let posted = drive(&router, "tick", 3).await;
    let ids: Vec<&String> = posted
        .iter()
        .filter(|(t, ..)| *t == "{{ p.view.aggregate }}")
        .map(|(_, id, _)| id)
        .collect();
    settle(&app).await;
    corrupt_{{ p.module }}(&cfg, ids[0], ids[1]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(&router, "consistency_drift_repaired_total{view=\"{{ p.view.slug }}\"}").await != Some(1) {
        assert!(Instant::now() < deadline, "CONSISTENCY_CHECK_SECS=1 repaired nothing in 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, _) = call(&router, "GET", &format!("/views/{{ p.view.slug }}/{}", ids[0]), None).await;
    assert_eq!(s, StatusCode::OK);
    shutdown(app).await;
}
{%- endif %}{% endfor %}
