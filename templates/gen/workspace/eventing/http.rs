//! The HTTP surface of a service that owns a database: its records under the prefix,
//! its read models under `{prefix}/views/{name}`, `/outbox` (the embedded bus),
//! `/metrics` (replication lag per consumer), `/health` and `/openapi.json` (the
//! contract of `contracts::openapi` for this service's [`Spec`](crate::Spec)).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::db::Written;
use crate::{blocking, DbError, Shared};

/// Most rows one list returns.
pub const MAX_LIMIT: i64 = 1000;

fn bad_request(reason: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "bad_request", "reason": reason.into()})),
    )
        .into_response()
}

fn not_found(what: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "reason": what})),
    )
        .into_response()
}

/// The database is unreachable or refused: 503, which the gateway may retry elsewhere.
fn unavailable(e: DbError) -> Response {
    eprintln!("database: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "unavailable", "reason": "the database did not answer; retry"})),
    )
        .into_response()
}

/// Why a request is refused (answered 400 with it as `reason`).
type Why = String;

fn valid_id(id: &str) -> Result<(), Why> {
    let n = id.chars().count();
    if n == 0 || n > contracts::openapi::MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err("an id is 1 to 128 characters, none a control character".into());
    }
    Ok(())
}

/// Whether a string of `v` (a key or a value) holds U+0000, which PostgreSQL's `jsonb`
/// cannot store (refused on SQLite too, so both engines take the same documents).
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn object(body: &Bytes) -> Result<serde_json::Map<String, Value>, Why> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if holds_nul(&v) => Err("no string of the body may contain U+0000".into()),
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

fn page(q: &HashMap<String, String>) -> Result<(i64, i64), Why> {
    let num = |name: &str, default: i64| -> Result<i64, Why> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("`{name}` must be a non-negative integer, not {v:?}")),
        }
    };
    Ok((num("limit", 100)?.min(MAX_LIMIT), num("offset", 0)?))
}

async fn health(State(st): State<Shared>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "service": st.spec.service,
        "instance": st.instance,
        "database": st.db.engine(),
        "bus": st.bus.kind(),
    }))
}

async fn list(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let (limit, offset) = match page(&q) {
        Ok(p) => p,
        Err(r) => return bad_request(r),
    };
    match blocking(move || st.db.list(limit, offset)).await {
        Ok(v) => Json(Value::Array(v)).into_response(),
        Err(e) => unavailable(e),
    }
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// An id unique across instances: this process's random tag and a counter.
fn new_id(instance: &str) -> String {
    let tag = instance.rsplit('-').next().unwrap_or("x");
    format!("{tag}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn create(State(st): State<Shared>, body: Bytes) -> Response {
    let mut doc = match object(&body) {
        Ok(d) => d,
        Err(r) => return bad_request(r),
    };
    let id = match doc.get("id") {
        None => new_id(&st.instance),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return bad_request("`id` must be a string or a number"),
    };
    if let Err(r) = valid_id(&id) {
        return bad_request(r);
    }
    doc.insert("id".into(), Value::String(id.clone()));
    let doc = Value::Object(doc);
    let prefix = st.spec.prefix;
    let d = doc.clone();
    let i = id.clone();
    match blocking(move || st.db.write(&i, Some(&d), true)).await {
        Ok(Written::Conflict) => (
            StatusCode::CONFLICT,
            Json(json!({"error": "conflict", "reason": format!("{id:?} exists; PUT {prefix}/{id} replaces it")})),
        )
            .into_response(),
        Ok(_) => {
            let mut r = (StatusCode::CREATED, Json(doc)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{prefix}/{id}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Err(e) => unavailable(e),
    }
}

async fn fetch(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    if let Err(r) = valid_id(&id) {
        return bad_request(r);
    }
    let prefix = st.spec.prefix;
    let i = id.clone();
    match blocking(move || st.db.get(&i)).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => not_found(format!("no record {id:?} in {prefix}")),
        Err(e) => unavailable(e),
    }
}

async fn replace(State(st): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Err(r) = valid_id(&id) {
        return bad_request(r);
    }
    let mut doc = match object(&body) {
        Ok(d) => d,
        Err(r) => return bad_request(r),
    };
    doc.insert("id".into(), Value::String(id.clone()));
    let doc = Value::Object(doc);
    let d = doc.clone();
    match blocking(move || st.db.write(&id, Some(&d), false)).await {
        Ok(Written::Created) => (StatusCode::CREATED, Json(doc)).into_response(),
        Ok(_) => Json(doc).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn remove(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    if let Err(r) = valid_id(&id) {
        return bad_request(r);
    }
    let prefix = st.spec.prefix;
    let i = id.clone();
    match blocking(move || st.db.write(&i, None, false)).await {
        Ok(Written::Missing) => not_found(format!("no record {id:?} in {prefix}")),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => unavailable(e),
    }
}

async fn views(State(st): State<Shared>) -> Json<Value> {
    Json(json!(st.spec.views))
}

async fn view_list(
    State(st): State<Shared>,
    Path(view): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (limit, offset) = match page(&q) {
        Ok(p) => p,
        Err(r) => return bad_request(r),
    };
    let v = view.clone();
    let r = blocking(move || match st.db.view_list(&v, limit, offset) {
        Some(r) => r.map(Some),
        None => Ok(None),
    })
    .await;
    match r {
        Ok(Some(rows)) => Json(Value::Array(rows)).into_response(),
        Ok(None) => not_found(format!("no read model {view:?}")),
        Err(e) => unavailable(e),
    }
}

async fn view_get(State(st): State<Shared>, Path((view, id)): Path<(String, String)>) -> Response {
    if let Err(r) = valid_id(&id) {
        return bad_request(r);
    }
    let (v, i) = (view.clone(), id.clone());
    let r = blocking(move || match st.db.view_get(&v, &i) {
        Some(r) => r.map(Some),
        None => Ok(None),
    })
    .await;
    match r {
        Ok(Some(Some(d))) => Json(d).into_response(),
        Ok(Some(None)) => not_found(format!("no row {id:?} in read model {view:?}")),
        Ok(None) => not_found(format!("no read model {view:?}")),
        Err(e) => unavailable(e),
    }
}

async fn outbox(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let after = match q.get("after").map(|v| v.parse::<i64>()) {
        None => 0,
        Some(Ok(n)) if n >= 0 => n,
        Some(_) => return bad_request("`after` must be a non-negative integer"),
    };
    let limit = match q.get("limit").map(|v| v.parse::<i64>()) {
        None => 100,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return bad_request(format!("`limit` must be 1 to {MAX_LIMIT}")),
    };
    match blocking(move || st.db.outbox(after, limit)).await {
        Ok((head, events)) => Json(json!({"head": head, "events": events})).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn metrics(State(st): State<Shared>) -> Response {
    let mut out = String::new();
    let svc = st.spec.service;
    let _ = writeln!(out, "# HELP replication_lag_events Events the source holds that the consumer has not applied.\n# TYPE replication_lag_events gauge");
    for (i, sub) in st.spec.subscriptions.iter().enumerate() {
        let s = &st.consumers[i];
        let l = format!(
            "service=\"{svc}\",consumer=\"{}\",source=\"{}\",event=\"{}\"",
            sub.durable, sub.source, sub.event
        );
        let _ = writeln!(
            out,
            "replication_lag_events{{{l}}} {}",
            s.lag_events.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "replication_lag_seconds{{{l}}} {:.3}",
            crate::bus::lag_seconds(&st, i)
        );
        let _ = writeln!(
            out,
            "replication_applied_total{{{l}}} {}",
            s.applied.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "replication_duplicates_total{{{l}}} {}",
            s.duplicates.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "replication_errors_total{{{l}}} {}",
            s.errors.load(Ordering::Relaxed)
        );
    }
    if st.spec.records && !st.spec.publishes.is_empty() {
        let st2 = st.clone();
        let pending = blocking(move || st2.db.pending()).await.unwrap_or(-1);
        let _ = writeln!(
            out,
            "# TYPE outbox_unpublished gauge\noutbox_unpublished{{service=\"{svc}\"}} {pending}"
        );
        let _ = writeln!(
            out,
            "outbox_published_total{{service=\"{svc}\"}} {}",
            st.published.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "outbox_relay_errors_total{{service=\"{svc}\"}} {}",
            st.relay_errors.load(Ordering::Relaxed)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// This service's OpenAPI document, from its spec.
async fn openapi(State(st): State<Shared>) -> Response {
    let info = contracts::ServiceInfo {
        key: st.spec.service,
        name: contracts::service(st.spec.service).map_or(st.spec.service, |s| s.name),
        crate_name: "",
        node: "",
        prefix: st.spec.prefix,
        default_port: 0,
        store: "sql",
        records: st.spec.records,
        views: st.spec.views,
    };
    Json(contracts::openapi::service(&info)).into_response()
}

async fn served_by(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&st.instance) {
        r.headers_mut().insert("x-instance", v);
    }
    r
}

/// The service's router.
pub fn app(st: Shared) -> Router {
    let p = st.spec.prefix;
    let mut r = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/outbox", get(outbox))
        .route(&format!("{p}/views"), get(views))
        .route(&format!("{p}/views/{{view}}"), get(view_list))
        .route(&format!("{p}/views/{{view}}/{{id}}"), get(view_get));
    if st.spec.records {
        r = r.route(p, get(list).post(create)).route(
            &format!("{p}/{{id}}"),
            get(fetch).put(replace).delete(remove),
        );
    }
    r.layer(axum::middleware::from_fn_with_state(st.clone(), served_by))
        .with_state(st)
}
