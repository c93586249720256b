//! The event bus over a real NATS JetStream server. Run with `NATS_URL` set (e.g.
//! `nats-server -js -p 4222 -sd /tmp/js` and `NATS_URL=nats://127.0.0.1:4222`); the
//! outage test also starts its own `nats-server` (on `PATH`, or `NATS_SERVER`). Without
//! `NATS_URL` these tests say so and pass: the embedded bus is tested by tests/service.rs.
#![cfg(feature = "nats")]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use {{ plan.crate_name }}::app::{App, PROJECTORS};
use {{ plan.crate_name }}::config::Config;
use {{ plan.crate_name }}::nats::stream_name;
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

fn nats_url() -> Option<String> {
    match std::env::var("NATS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("NATS_URL is not set: skipping the NATS JetStream tests");
            None
        }
    }
}

fn config(dir: &std::path::Path, url: &str) -> Config {
    let mut config = Config::with_data_dir(dir);
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    config.pg_schema = Some(format!("n{name}"));
    config.nats_stream = Some(format!("n{name}"));
    config.nats_url = Some(url.to_string());
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

/// Events applied by each projector so far (redeliveries skipped by checkpoint are not counted).
fn applied(app: &App) -> Vec<u64> {
    app.state
        .metrics
        .projectors
        .iter()
        .map(|p| p.applied.load(Ordering::Relaxed))
        .collect()
}

/// Every posted aggregate is in every view that keeps versions, at its final version.
async fn assert_views(router: &Router, posted: &[(&'static str, String, u64)]) {
{%- for p in plan.projectors %}{% if p.view.kind == "table" || p.view.kind == "search" %}
    for (t, id, version) in posted {
        if *t == "{{ p.view.aggregate }}" {
            let (s, row) = call(router, "GET", &format!("/views/{{ p.view.slug }}/{id}"), None).await;
            assert_eq!(s, StatusCode::OK, "{{ p.view.slug }}/{id}: {row}");
            assert_eq!(row["version"].as_u64(), Some(*version), "{row}");
        }
    }
{%- endif %}{% endfor %}
    let _ = (router, posted);
}

/// Events posted for aggregates of one type (each aggregate's final version).
fn events_of(posted: &[(&'static str, String, u64)], aggregate: &str) -> u64 {
    posted
        .iter()
        .filter(|(t, ..)| *t == aggregate)
        .map(|(_, _, v)| *v)
        .sum()
}

async fn shutdown(app: App) {
    tokio::task::spawn_blocking(move || app.shutdown())
        .await
        .expect("shutdown");
}

async fn start(config: Config) -> App {
    tokio::task::spawn_blocking(move || App::start(config))
        .await
        .expect("join")
        .expect("service starts")
}

async fn jetstream(url: &str) -> async_nats::jetstream::Context {
    let client = async_nats::connect(url).await.expect("connect to NATS_URL");
    async_nats::jetstream::new(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_travel_through_jetstream_and_redelivery_applies_once() {
    let Some(url) = nats_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), &url);
    let stream = stream_name(&cfg).expect("stream name");
    let app = start(cfg.clone()).await;
    let router = app.router();
    let posted = drive(&router, "js", 10).await;
    settle(&app, Duration::from_secs(30)).await;
    assert_views(&router, &posted).await;
    let head = app.state.store.head().get();
    let first = applied(&app);
    assert!(first.iter().all(|n| *n > 0), "every projector applied events: {first:?}");

    // The events are in the stream, and every durable consumer has acked all of them.
    let js = jetstream(&url).await;
    let mut s = js.get_stream(&stream).await.expect("the stream exists");
    let info = s.info().await.expect("stream info").clone();
    assert!(info.state.messages >= head, "{} messages for {head} events", info.state.messages);
    shutdown(app).await;
    for p in PROJECTORS {
        for part in 0..cfg.partitions {
            let name = format!("{p}_p{part}");
            let c = s.consumer_info(&name).await.expect("durable consumer");
            assert_eq!(c.num_ack_pending, 0, "{name} has unacked messages: {c:?}");
            assert_eq!(c.num_pending, 0, "{name} has undelivered messages: {c:?}");
            // Forget what the consumer acked: on restart every event is delivered again.
            s.delete_consumer(&name).await.expect("delete consumer");
        }
    }

    // Restart: everything is redelivered, nothing is applied twice.
    let app = start(cfg.clone()).await;
    let router = app.router();
    let deadline = Instant::now() + Duration::from_secs(30);
    for p in PROJECTORS {
        for part in 0..cfg.partitions {
            let name = format!("{p}_p{part}");
            loop {
                let done = match s.consumer_info(&name).await {
                    Ok(c) => c.num_pending == 0 && c.num_ack_pending == 0 && c.delivered.stream_sequence > 0,
                    Err(_) => false,
                };
                if done {
                    break;
                }
                assert!(Instant::now() < deadline, "{name} did not get the redelivery acked");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(applied(&app), vec![0; PROJECTORS.len()], "redelivered events are skipped by checkpoint");
    assert_views(&router, &posted).await;

    // New commands still flow, each applied once.
    let more = drive(&router, "js2", 2).await;
    settle(&app, Duration::from_secs(30)).await;
    assert_views(&router, &more).await;
{%- for p in plan.projectors %}
    assert_eq!(
        app.state.metrics.projector("{{ p.module }}").map(|m| m.applied.load(Ordering::Relaxed)),
        Some(events_of(&more, "{{ p.view.aggregate }}")),
        "{{ p.module }} applied each new event once"
    );
{%- endfor %}
    shutdown(app).await;
    let _ = js.delete_stream(&stream).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn nats_server(port: u16, store: &std::path::Path) -> Child {
    let bin = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    let child = Command::new(&bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {bin} (NATS_URL is set, so the outage test needs nats-server): {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_while_nats_is_down_are_published_when_it_returns() {
    if nats_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let js_dir = dir.path().join("jetstream");
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut server = nats_server(port, &js_dir);
    let app = start(config(&dir.path().join("data"), &url)).await;
    let router = app.router();
    let before = drive(&router, "up", 3).await;
    settle(&app, Duration::from_secs(30)).await;
    assert_views(&router, &before).await;
    let applied_before = applied(&app);

    // NATS goes away; commands still commit (the store is the outbox).
    server.kill().expect("kill nats-server");
    let _ = server.wait();
    let during = drive(&router, "down", 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(applied(&app), applied_before, "nothing reaches the projectors without the broker");

    // It comes back (same store): the outbox is published and applied once.
    let mut server = nats_server(port, &js_dir);
    settle(&app, Duration::from_secs(60)).await;
    assert_views(&router, &during).await;
    assert_views(&router, &before).await;
{%- for p in plan.projectors %}
    {
        let i = PROJECTORS.iter().position(|p| *p == "{{ p.module }}").expect("projector");
        assert_eq!(
            applied(&app)[i] - applied_before[i],
            events_of(&during, "{{ p.view.aggregate }}"),
            "{{ p.module }} applied each event committed during the outage once"
        );
    }
{%- endfor %}
    shutdown(app).await;
    let _ = server.kill();
    let _ = server.wait();
}
