//! Tests of the task-based UI's command path: `POST /commands` with client-made
//! command ids (202, then 409 for the same id, applied once, also after a restart), bad
//! input (400 naming the field){% if plan.uses("authorize") %}, the bearer token (401){% endif %}{% if plan.uses("notification_websocket") %}, and the WebSocket
//! confirmation, sent once the read model has applied the command, or the rejection{% endif %}.
{%- for a in plan.aggregates %}{% if loop.first %}{% for c in a.commands %}{% if loop.first %}

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;
use {{ plan.crate_name }}::app::App;
use {{ plan.crate_name }}::config::Config;

async fn call(router: &Router, method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value, axum::http::HeaderMap) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(match body {
            Some(b) => Body::from(b.to_string()),
            None => Body::empty(),
        })
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers)
}

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::with_data_dir(dir);
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    config.pg_schema = Some(format!("t{name}"));
    config
}

fn start(dir: &std::path::Path) -> App {
{%- if plan.uses("authorize") %}
    App::start_with(config(dir), {{ plan.crate_name }}::auth::Auth::dev()).expect("service starts")
{%- else %}
    App::start(config(dir)).expect("service starts")
{%- endif %}
}

async fn shutdown(app: App) {
    tokio::task::spawn_blocking(move || app.shutdown())
        .await
        .expect("shutdown");
}

/// The `{{ c.name }}` command for aggregate `id` with command id `command_id`.
fn create(id: &str, command_id: &str) -> Value {
    json!({
        "command_id": command_id,
        "command": "{{ c.slug }}",
        "{{ a.id_field }}": id,
{%- for f in c.fields %}
        "{{ f.name }}": {{ f.sample }},
{%- endfor %}
    })
}

/// Events stored for an aggregate.
fn events_of(app: &App, id: &str) -> usize {
    app.state
        .store
        .load({{ a.name_lit }}, id)
        .map(|s| s.events.len())
        .expect("loads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_id_is_accepted_once_then_409_and_applied_once_also_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let router = app.router();
    let (s, v, _) = call(&router, "POST", "/commands", None, Some(create("idem-1", "cmd-1"))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["command_id"], "cmd-1");
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["version"], 1);
    let (s, v, _) = call(&router, "POST", "/commands", None, Some(create("idem-1", "cmd-1"))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["status"], "duplicate");
    assert_eq!(v["field"], "command_id");
    // The same id on another aggregate is still the same command.
    let (s, v, _) = call(&router, "POST", "/commands", None, Some(create("idem-2", "cmd-1"))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(events_of(&app, "idem-1"), 1, "applied once");
    assert_eq!(events_of(&app, "idem-2"), 0, "a duplicate appends nothing");
    // Two submits of one new id racing: one is accepted, the other is a 409.
    let (a1, a2) = tokio::join!(
        call(&router, "POST", "/commands", None, Some(create("idem-3", "cmd-race"))),
        call(&router, "POST", "/commands", None, Some(create("idem-3", "cmd-race"))),
    );
    let mut statuses = [a1.0, a2.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::ACCEPTED, StatusCode::CONFLICT], "{} {}", a1.1, a2.1);
    assert_eq!(events_of(&app, "idem-3"), 1);
    shutdown(app).await;

    // The ids are durable: after a restart the same id is still a duplicate.
    let app = start(dir.path());
    let router = app.router();
    let (s, v, _) = call(&router, "POST", "/commands", None, Some(create("idem-1", "cmd-1"))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["status"], "duplicate");
    assert_eq!(events_of(&app, "idem-1"), 1);
    // The per-command endpoints honour an optional command id too.
    let (s, v, _) = call(&router, "POST", "/commands/{{ c.slug }}", None, Some(create("idem-4", "cmd-1"))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    shutdown(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_commands_are_400_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let router = app.router();
    let mut no_id = create("bad-1", "x");
    no_id.as_object_mut().map(|o| o.remove("command_id"));
    let cases = [
        (json!([1]), "body"),
        (no_id, "command_id"),
        (create("bad-1", "not ok!"), "command_id"),
        (create("bad-1", &"x".repeat(129)), "command_id"),
        (json!({"command_id": "c-1", "command": "no_such_command"}), "command"),
        (json!({"command_id": "c-1"}), "command"),
        (json!({"command_id": "c-1", "command": "{{ c.slug }}"}), "{{ a.id_field }}"),
{%- for f in c.fields %}
        (json!({"command_id": "c-1", "command": "{{ c.slug }}", "{{ a.id_field }}": "bad-1", "{{ f.name }}": {% if f.is_int %}"not a number"{% else %}7{% endif %}}), "{{ f.name }}"),
{%- endfor %}
    ];
    for (body, field) in cases {
        let (s, v, _) = call(&router, "POST", "/commands", None, Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    assert_eq!(events_of(&app, "bad-1"), 0);
    // A domain rule's refusal is not a bad request: 422, naming the field.
    let (s, _, _) = call(&router, "POST", "/commands", None, Some(create("bad-2", "c-2"))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v, _) = call(&router, "POST", "/commands", None, Some(create("bad-2", "c-3"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["field"], "{{ a.id_field }}");
    shutdown(app).await;
}
{%- if plan.uses("authorize") %}

const SECRET: &[u8] = b"test-secret-that-is-long-enough-for-hs256";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_secret_commands_need_a_valid_bearer_token() {
    use {{ plan.crate_name }}::auth::Auth;
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = Auth::hs256(SECRET).expect("secret");
    let app = App::start_with(config(dir.path()), auth.clone()).expect("starts");
    let router = app.router();
    let (s, v, h) = call(&router, "POST", "/commands", None, Some(create("auth-1", "a-1"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let challenge = h.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    let (s, _, _) = call(&router, "POST", "/commands/{{ c.slug }}", None, Some(create("auth-1", "a-1"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "every command route needs the token");
    let forged = Auth::hs256(b"some-other-secret-that-is-long-enough!!")
        .expect("secret")
        .mint("mallory", 60)
        .expect("a secret")
        .expect("signs");
    let (s, _, h) = call(&router, "POST", "/commands", Some(&forged), Some(create("auth-1", "a-1"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let challenge = h.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let (s, _, _) = call(&router, "POST", "/commands", Some("not-a-jwt"), Some(create("auth-1", "a-1"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(events_of(&app, "auth-1"), 0, "nothing refused was applied");
    let token = auth.mint("alice", 60).expect("a secret").expect("signs");
    let (s, v, _) = call(&router, "POST", "/commands", Some(&token), Some(create("auth-1", "a-1"))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // Reads need no token.
    let (s, _, _) = call(&router, "GET", "/health", None, None).await;
    assert_eq!(s, StatusCode::OK);
    shutdown(app).await;
}
{%- endif %}
{%- if plan.uses("notification_websocket") %}

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves the app on a loopback port; returns its address.
async fn serve(app: &App) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let router = app.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

async fn open_ws(addr: std::net::SocketAddr, subscribe: Value) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("websocket connects");
    ws.send(Message::Text(json!({"subscribe": subscribe}).to_string().into()))
        .await
        .expect("sends");
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "subscribed", "{ack}");
    ws
}

/// The next JSON message, within 10 s.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("websocket open")
            .expect("websocket message");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).expect("JSON");
        }
    }
}

/// The next confirmation of `command_id`.
async fn confirmation_of(ws: &mut Ws, command_id: &str) -> Value {
    loop {
        let m = next_json(ws).await;
        if m["type"] == "confirmation" && m["command_id"] == command_id {
            return m;
        }
    }
}

/// `POST /commands` through the same router the server serves (the app's state is shared).
async fn post(app: &App, body: Value) -> (u16, Value) {
    let (status, v, _) = call(&app.router(), "POST", "/commands", None, Some(body)).await;
    (status.as_u16(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_confirms_a_command_once_the_read_model_has_applied_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let addr = serve(&app).await;
    let mut mine = open_ws(addr, json!(["ws-1"])).await;
    let mut everyone = open_ws(addr, json!("*")).await;
    let mut other = open_ws(addr, json!(["ws-other"])).await;
    let (s, v) = post(&app, create("ws-1", "ws-cmd-1")).await;
    assert_eq!(s, 202, "{v}");
    let m = confirmation_of(&mut mine, "ws-cmd-1").await;
    assert_eq!(m["status"], "confirmed", "{m}");
    assert_eq!(m["aggregate_id"], "ws-1");
    assert_eq!(m["position"], v["position"]);
{%- for p in plan.projectors %}{% if p.view.aggregate == a.name && p.view.kind == "table" %}{% if loop.first %}
    assert_eq!(m["view"], "{{ p.view.slug }}");
    assert_eq!(m["item"]["version"], 1, "the confirmation carries the read model's entry: {m}");
    // Confirmed means applied: the read model already answers with the change.
    let (_, body, _) = call(&app.router(), "GET", "/views/{{ p.view.slug }}/ws-1", None, None).await;
    assert_eq!(body["version"], 1, "{body}");
{%- endif %}{% endif %}{% endfor %}
    // Another subscriber of everything sees the same change (the second tab).
    let m = confirmation_of(&mut everyone, "ws-cmd-1").await;
    assert_eq!(m["status"], "confirmed");
    // A subscriber of another aggregate hears nothing of it.
    let (s, _) = post(&app, create("ws-other", "ws-cmd-2")).await;
    assert_eq!(s, 202);
    let m = next_json(&mut other).await;
    assert_eq!(m["command_id"], "ws-cmd-2", "only its own aggregate: {m}");
    // A duplicate is not confirmed twice.
    let (s, _) = post(&app, create("ws-1", "ws-cmd-1")).await;
    assert_eq!(s, 409);
    drop((mine, everyone, other));
    shutdown(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_announces_a_rule_violation_as_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let addr = serve(&app).await;
    let mut ws = open_ws(addr, json!(["rej-1"])).await;
    let (s, _) = post(&app, create("rej-1", "rej-cmd-1")).await;
    assert_eq!(s, 202);
    assert_eq!(confirmation_of(&mut ws, "rej-cmd-1").await["status"], "confirmed");
    // The same creating command again, with a new id: the domain refuses it.
    let (s, v) = post(&app, create("rej-1", "rej-cmd-2")).await;
    assert_eq!(s, 422, "{v}");
    let m = confirmation_of(&mut ws, "rej-cmd-2").await;
    assert_eq!(m["status"], "rejected", "{m}");
    assert_eq!(m["field"], "{{ a.id_field }}", "{m}");
    assert!(m["error"].as_str().is_some_and(|e| !e.is_empty()), "{m}");
    assert_eq!(events_of(&app, "rej-1"), 1);
    // A bad subscription is answered with an error naming the field, and the socket stays open.
    ws.send(Message::Text("{\"subscribe\": 3}".into())).await.expect("sends");
    let m = next_json(&mut ws).await;
    assert_eq!(m["type"], "error");
    assert_eq!(m["field"], "subscribe");
    drop(ws);
    shutdown(app).await;
}
{%- endif %}
{%- if plan.uses("web_ui") %}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_is_served_from_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path());
    let router = app.router();
    for (path, ty) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let req = Request::builder().uri(path).body(Body::empty()).expect("request");
        let resp = router.clone().oneshot(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers().clone();
        let ct = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with(ty), "{path}: {ct}");
        assert!(h.get(header::CONTENT_SECURITY_POLICY).is_some(), "{path}");
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.expect("body");
        let text = String::from_utf8_lossy(&bytes);
        if path == "/" {
            assert!(text.contains("<script src=\"/app.js\""), "{text}");
            assert!(!text.contains("http://") && !text.contains("https://"), "no CDN: {text}");
{%- for a2 in plan.aggregates %}{% for c2 in a2.commands %}
            assert!(text.contains("\"{{ c2.slug }}\""), "a form for {{ c2.slug }}");
{%- endfor %}{% endfor %}
        }
    }
    shutdown(app).await;
}
{%- endif %}
{%- endif %}{% endfor %}{% endif %}{% endfor %}
