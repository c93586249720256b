//! The cache views whose label names Redis, on a real Redis server. Run with `REDIS_URL`
//! set (e.g. `redis-server --port 6379` and `REDIS_URL=redis://127.0.0.1:6379`); the
//! outage test also starts its own `redis-server` (on `PATH`, or `REDIS_SERVER`). Without
//! `REDIS_URL` these tests say so and pass: the in-memory cache is tested by
//! tests/service.rs.
#![cfg(feature = "redis")]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use {{ plan.crate_name }}::app::App;
use {{ plan.crate_name }}::config::Config;
use {{ plan.crate_name }}::redis_view::Keys;
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

fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("REDIS_URL is not set: skipping the Redis read database tests");
            None
        }
    }
}

/// Each test has its own key prefix (and PostgreSQL schema, with `DATABASE_URL`),
/// named after its temporary folder.
fn config(dir: &std::path::Path, url: &str) -> Config {
    let mut config = Config::with_data_dir(dir);
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    config.pg_schema = Some(format!("r{name}"));
    config.nats_stream = Some(format!("r{name}"));
    config.redis_prefix = Some(format!("r{name}"));
    config.redis_url = Some(url.to_string());
    config
}

async fn start(config: Config) -> App {
    tokio::task::spawn_blocking(move || App::start(config))
        .await
        .expect("start")
        .expect("service starts")
}

async fn shutdown(app: App) {
    tokio::task::spawn_blocking(move || app.shutdown())
        .await
        .expect("shutdown");
}

fn redis(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("connects to Redis")
}

/// Posts every command of each aggregate for `n` ids.
async fn drive(router: &Router, tag: &str, n: usize) {
    for i in 0..n {
{%- for a in plan.aggregates %}
        {
            let id = format!("{tag}-{i}-{{ a.module }}");
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
{%- endfor %}
        }
{%- endfor %}
    }
}

/// Sum of `count` over a view's entries (-1 while the view cannot be read).
async fn total_count(router: &Router, view: &str) -> i64 {
    let (s, v) = call(router, "GET", &format!("/views/{view}?limit=1000"), None).await;
    if s != StatusCode::OK {
        return -1;
    }
    v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["count"].as_i64()).sum())
        .unwrap_or(-1)
}

/// Waits until every projector's checkpoint has reached the head of the store.
async fn settle(app: &App, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let head = app.state.store.head().get();
        let behind: Vec<(&str, u64)> = app
            .state
            .metrics
            .projectors
            .iter()
            .map(|p| (p.name, p.checkpoint.load(Ordering::Relaxed)))
            .filter(|(_, c)| *c < head)
            .collect();
        if behind.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "projectors behind head {head}: {behind:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `view` counts `want` aggregates.
async fn wait_for(router: &Router, view: &str, want: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let n = total_count(router, view).await;
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "view {view}: count {n}, want {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
{%- for p in plan.projectors %}{% if p.view.redis %}

mod {{ p.module }} {
    use super::*;
    use {{ plan.crate_name }}::projections::{{ p.module }}::VIEW;

    fn keys(config: &Config) -> Keys {
        Keys::new(config.redis_prefix.as_deref().unwrap_or_default(), VIEW)
    }

    /// An entry written straight into Redis, counting no aggregate.
    fn planted() -> String {
        json!({
            "id": "zz-planted",
            "count": 0,
{%- for m in p.view.measures %}
            "{{ m }}": 0,
{%- endfor %}
        })
        .to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commands_are_read_back_from_redis() {
        let Some(url) = redis_url() else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), &url);
        let keys = keys(&config);
        let app = start(config).await;
        let router = app.router();
        drive(&router, "read", 5).await;
        wait_for(&router, VIEW, 5, Duration::from_secs(20)).await;
        // The entries and the checkpoints are in Redis; the checkpoints reach the head.
        let mut r = redis(&url);
        let (entries, members, cps): (u64, u64, Vec<u64>) = redis::pipe()
            .cmd("HLEN")
            .arg(&keys.entries)
            .cmd("HLEN")
            .arg(&keys.members)
            .cmd("HVALS")
            .arg(&keys.cp)
            .query(&mut r)
            .expect("reads Redis");
        let (_, v) = call(&router, "GET", &format!("/views/{VIEW}"), None).await;
        assert_eq!(Some(entries), v["total"].as_u64(), "{v}");
        assert!(members >= 5, "members {members}");
        assert_eq!(cps.len(), app.state.config.partitions);
        let head = app.state.store.head().get();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let cps: Vec<u64> = redis::cmd("HVALS").arg(&keys.cp).query(&mut r).expect("reads Redis");
            if cps.iter().all(|c| *c >= head) {
                break;
            }
            assert!(Instant::now() < deadline, "checkpoints {cps:?} behind head {head}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let first = v["items"][0]["id"].as_str().unwrap_or_default().to_string();
        let (s, e) = call(&router, "GET", &format!("/views/{VIEW}/{first}"), None).await;
        assert_eq!(s, StatusCode::OK, "{e}");
        assert_eq!(e, v["items"][0]);
        let (s, _) = call(&router, "GET", &format!("/views/{VIEW}/no-such-entry"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        shutdown(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_resumes_from_redis_without_a_rebuild() {
        let Some(url) = redis_url() else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), &url);
        let keys = keys(&config);
        let app = start(config.clone()).await;
        let router = app.router();
        drive(&router, "before", 4).await;
        wait_for(&router, VIEW, 4, Duration::from_secs(20)).await;
        shutdown(app).await;
        // An entry only Redis holds: a rebuild from the event store would drop it.
        let mut r = redis(&url);
        redis::pipe()
            .cmd("HSET")
            .arg(&keys.entries)
            .arg("zz-planted")
            .arg(planted())
            .cmd("ZADD")
            .arg(&keys.order)
            .arg(0)
            .arg("zz-planted")
            .query::<()>(&mut r)
            .expect("writes Redis");
        let app = start(config).await;
        let router = app.router();
        let (s, v) = call(&router, "GET", &format!("/views/{VIEW}/zz-planted"), None).await;
        assert_eq!(s, StatusCode::OK, "the view was rebuilt on start: {v}");
        wait_for(&router, VIEW, 4, Duration::from_secs(20)).await;
        drive(&router, "after", 3).await;
        wait_for(&router, VIEW, 7, Duration::from_secs(20)).await;
        let (s, _) = call(&router, "GET", &format!("/views/{VIEW}/zz-planted"), None).await;
        assert_eq!(s, StatusCode::OK);
        shutdown(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redelivered_events_are_applied_once() {
        let Some(url) = redis_url() else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), &url);
        let keys = keys(&config);
        let app = start(config.clone()).await;
        let router = app.router();
        drive(&router, "once", 6).await;
        settle(&app, Duration::from_secs(20)).await;
        let (_, before) = call(&router, "GET", &format!("/views/{VIEW}?limit=1000"), None).await;
        shutdown(app).await;
        // Redis forgets the checkpoints but keeps the rows: on start every event is
        // delivered again, and the members' versions keep it from counting twice.
        let mut r = redis(&url);
        redis::cmd("DEL").arg(&keys.cp).query::<()>(&mut r).expect("writes Redis");
        let app = start(config).await;
        let router = app.router();
        wait_for(&router, VIEW, 6, Duration::from_secs(20)).await;
        let (_, after) = call(&router, "GET", &format!("/views/{VIEW}?limit=1000"), None).await;
        assert_eq!(before, after);
        shutdown(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_redis_outage_answers_503_then_the_view_catches_up() {
        if redis_url().is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let url = format!("redis://127.0.0.1:{port}");
        let mut server = redis_server(port);
        let app = start(config(dir.path(), &url)).await;
        let router = app.router();
        drive(&router, "up", 3).await;
        wait_for(&router, VIEW, 3, Duration::from_secs(20)).await;
        let _ = server.kill();
        let _ = server.wait();
        // Reads answer 503 naming the read database; writes go on.
        let (s, v) = call(&router, "GET", &format!("/views/{VIEW}"), None).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains("Redis read database ({{ p.view.node }}) unavailable"), "{v}");
        let (s, _) = call(&router, "GET", &format!("/views/{VIEW}/up-0"), None).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        drive(&router, "down", 2).await;
        // Longer than the bus's retries of a failing apply (about 6 s): the projector
        // must still be there when Redis returns.
        tokio::time::sleep(Duration::from_secs(8)).await;
        // Back, and empty (no persistence): the view is replayed from the event store.
        let mut server = redis_server(port);
        wait_for(&router, VIEW, 5, Duration::from_secs(30)).await;
        drive(&router, "back", 1).await;
        wait_for(&router, VIEW, 6, Duration::from_secs(20)).await;
        shutdown(app).await;
        let _ = server.kill();
        let _ = server.wait();
    }
}
{%- endif %}{% endfor %}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn redis_server(port: u16) -> Child {
    let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let child = Command::new(&bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {bin} (REDIS_URL is set, so the outage test needs redis-server): {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
