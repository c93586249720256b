//! {{ s.node }} "{{ s.label }}": JSON documents under `{{ s.prefix }}`, kept in memory
//! (the diagram draws no store for it). Registers with the gateway's registry when
//! `REGISTRY_URL` is set and renews the registration every third of its TTL.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

/// The service key (registry, metrics, aggregated responses).
pub const SERVICE: &str = "{{ s.key }}";
/// The path prefix the gateway routes here.
pub const PREFIX: &str = "{{ s.prefix }}";
/// Most documents one list returns.
pub const MAX_LIMIT: usize = 1000;

/// The documents and this instance's id.
pub struct ServiceState {
    docs: RwLock<BTreeMap<String, Value>>,
    next_id: AtomicU64,
    pub instance: String,
}

/// Shared state of the handlers.
pub type Shared = Arc<ServiceState>;

impl ServiceState {
    pub fn new(instance: String) -> Shared {
        Arc::new(ServiceState {
            docs: RwLock::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            instance,
        })
    }
}

/// A bad request and why (a 400 with a JSON `reason`).
pub struct BadRequest(pub String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "bad_request", "reason": self.0})),
        )
            .into_response()
    }
}

fn bad_request(reason: String) -> BadRequest {
    BadRequest(reason)
}

fn not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found", "reason": format!("no document {id:?} in {PREFIX}")})),
    )
        .into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"error": "unavailable", "reason": "the store lock is poisoned"})),
    )
        .into_response()
}

/// Whether a string of `v` (a key or a value) holds U+0000.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// A JSON object body, or the 400 that says why not.
fn object(body: &Bytes) -> Result<serde_json::Map<String, Value>, BadRequest> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if holds_nul(&v) => Err(bad_request(
            "no string of the body may contain U+0000".into(),
        )),
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad_request("the body must be a JSON object".into())),
        Err(e) => Err(bad_request(format!("the body is not JSON: {e}"))),
    }
}

fn valid_id(id: &str) -> Result<(), BadRequest> {
    let n = id.chars().count();
    if n == 0 || n > contracts::openapi::MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err(bad_request(
            "an id is 1 to 128 characters, none a control character".into(),
        ));
    }
    Ok(())
}

/// This service's OpenAPI document.
async fn openapi() -> Response {
    match contracts::service(SERVICE) {
        Some(s) => Json(contracts::openapi::service(s)).into_response(),
        None => not_found(SERVICE),
    }
}

async fn health(State(st): State<Shared>) -> Json<Value> {
    Json(serde_json::json!({"status": "ok", "service": SERVICE, "instance": st.instance}))
}

async fn list(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let num = |name: &str, default: usize| -> Result<usize, BadRequest> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                bad_request(format!(
                    "`{name}` must be a non-negative integer, not {v:?}"
                ))
            }),
        }
    };
    let (limit, offset) = match (num("limit", 100), num("offset", 0)) {
        (Ok(l), Ok(o)) => (l.min(MAX_LIMIT), o),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let Ok(docs) = st.docs.read() else {
        return unavailable();
    };
    let page: Vec<&Value> = docs.values().skip(offset).take(limit).collect();
    Json(serde_json::json!(page)).into_response()
}

async fn create(State(st): State<Shared>, body: Bytes) -> Response {
    let mut doc = match object(&body) {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let id = match doc.get("id") {
        None => format!("{}", st.next_id.fetch_add(1, Ordering::Relaxed)),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return bad_request("`id` must be a string or a number".into()).into_response(),
    };
    if let Err(r) = valid_id(&id) {
        return r.into_response();
    }
    doc.insert("id".into(), Value::String(id.clone()));
    let Ok(mut docs) = st.docs.write() else {
        return unavailable();
    };
    if docs.contains_key(&id) {
        return (
            StatusCode::CONFLICT,
            Json(serde_json::json!({"error": "conflict", "reason": format!("{id:?} exists; PUT {PREFIX}/{id} replaces it")})),
        )
            .into_response();
    }
    let doc = Value::Object(doc);
    docs.insert(id.clone(), doc.clone());
    let mut r = (StatusCode::CREATED, Json(doc)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{PREFIX}/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn fetch(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    if let Err(r) = valid_id(&id) {
        return r.into_response();
    }
    let Ok(docs) = st.docs.read() else {
        return unavailable();
    };
    match docs.get(&id) {
        Some(d) => Json(d.clone()).into_response(),
        None => not_found(&id),
    }
}

async fn replace(State(st): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Err(r) = valid_id(&id) {
        return r.into_response();
    }
    let mut doc = match object(&body) {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    doc.insert("id".into(), Value::String(id.clone()));
    let Ok(mut docs) = st.docs.write() else {
        return unavailable();
    };
    let doc = Value::Object(doc);
    let status = match docs.insert(id, doc.clone()) {
        Some(_) => StatusCode::OK,
        None => StatusCode::CREATED,
    };
    (status, Json(doc)).into_response()
}

async fn remove(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    if let Err(r) = valid_id(&id) {
        return r.into_response();
    }
    let Ok(mut docs) = st.docs.write() else {
        return unavailable();
    };
    match docs.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(&id),
    }
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
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route(PREFIX, get(list).post(create))
        .route(
            &format!("{PREFIX}/{}", "{id}"),
            get(fetch).put(replace).delete(remove),
        )
        .layer(axum::middleware::from_fn_with_state(st.clone(), served_by))
        .with_state(st)
}

pub use contracts::RegistryConfig as Registry;

/// Serves on `listener` (registering as `advertise`) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    advertise: String,
    registry: Registry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let instance = contracts::instance_id(SERVICE);
    let beat = registry.url.clone().map(|url| {
        tokio::spawn(contracts::heartbeat(
            url,
            registry.token.clone(),
            contracts::Registration {
                service: SERVICE.to_string(),
                instance_id: instance.clone(),
                url: advertise,
                ttl_ms: registry.ttl.as_millis() as u64,
            },
        ))
    });
    let r = axum::serve(
        listener,
        app(ServiceState::new(instance)).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    if let Some(b) = beat {
        b.abort();
    }
    r
}

/// Reads `HOST` (127.0.0.1), `PORT` ({{ s.port }}), `ADVERTISE_URL`, `REGISTRY_URL`,
/// `REGISTRY_TOKEN`, `REGISTRY_TTL_MS` (5000) and serves until Ctrl-C.
pub async fn run_from_env() -> Result<(), String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let host = var("HOST").unwrap_or_else(|| "127.0.0.1".to_string());
    let port: u16 = match var("PORT") {
        Some(p) => p
            .parse()
            .map_err(|_| format!("PORT={p:?} is not a port number"))?,
        None => {{ s.port }},
    };
    let ttl: u64 = match var("REGISTRY_TTL_MS") {
        Some(t) => t
            .parse()
            .map_err(|_| format!("REGISTRY_TTL_MS={t:?} is not a number"))?,
        None => 5000,
    };
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let advertise = var("ADVERTISE_URL").unwrap_or_else(|| format!("http://{bound}"));
    eprintln!("{SERVICE} on http://{bound}{PREFIX}");
    serve(
        listener,
        advertise,
        Registry {
            url: var("REGISTRY_URL"),
            token: var("REGISTRY_TOKEN"),
            ttl: Duration::from_millis(ttl),
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let r = app.clone().oneshot(req).await.expect("response");
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn create_read_replace_delete() {
        let app = app(ServiceState::new("test".into()));
        let (s, v) = call(&app, "POST", PREFIX, r#"{"id":"a","name":"x"}"#).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, _) = call(&app, "POST", PREFIX, r#"{"id":"a"}"#).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, v) = call(&app, "GET", &format!("{PREFIX}/a"), "").await;
        assert_eq!((s, v["name"].as_str()), (StatusCode::OK, Some("x")));
        let (s, _) = call(&app, "PUT", &format!("{PREFIX}/a"), r#"{"name":"y"}"#).await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = call(&app, "GET", PREFIX, "").await;
        assert_eq!((s, v[0]["name"].as_str()), (StatusCode::OK, Some("y")));
        let (s, _) = call(&app, "DELETE", &format!("{PREFIX}/a"), "").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = call(&app, "GET", &format!("{PREFIX}/a"), "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let app = app(ServiceState::new("test".into()));
        let (s, doc) = call(&app, "GET", "/openapi.json", "").await;
        assert_eq!(s, StatusCode::OK, "{doc}");
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/health"), "{doc}");
        for (path, item) in paths {
            let view = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == "view"))
                .and_then(|p| p["schema"]["enum"][0].as_str())
                .unwrap_or("x")
                .to_string();
            let uri = path.replace("{view}", &view).replace("{id}", "x");
            for method in item.as_object().expect("a path item").keys() {
                let (s, v) = call(&app, &method.to_uppercase(), &uri, "{}").await;
                let unrouted = s == StatusCode::METHOD_NOT_ALLOWED
                    || (s == StatusCode::NOT_FOUND && (v.is_null() || v == ""));
                assert!(!unrouted, "{method} {uri}: {s} {v}");
            }
        }
    }

    #[tokio::test]
    async fn bad_requests_say_why() {
        let app = app(ServiceState::new("test".into()));
        let (s, v) = call(&app, "POST", PREFIX, "{not json").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            v["reason"].as_str().unwrap_or("").contains("not JSON"),
            "{v}"
        );
        let (s, _) = call(&app, "POST", PREFIX, "[1]").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, v) = call(&app, "GET", &format!("{PREFIX}?limit=x"), "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["reason"].as_str().unwrap_or("").contains("limit"), "{v}");
    }
}
