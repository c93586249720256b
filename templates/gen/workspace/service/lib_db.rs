//! {{ s.node }} "{{ s.label }}": owns its database ({% match s.db %}{% when Some with (db) %}{{ db.node }} "{{ db.label }}": {{ db.used }}{% when None %}-{% endmatch %}).
//! No other service reads its tables: they see its changes as events
//! {%- if s.publishes.is_empty() %} (it publishes none){% else %} ({% for e in s.publishes %}{{ e.name }} from {{ e.node }}{% if !loop.last %}, {% endif %}{% endfor %}), written to its outbox in the transaction of the change{% endif %}.
{%- for c in s.consumes %}
//! Consumer {{ c.node }} applies {{ c.event }} of {{ c.source }} to {% if c.target == "records" %}its records{% else %}the read model `{{ c.view }}`{% endif %}.
{%- endfor %}
//!
//! The work is done by the `eventing` crate (store, outbox, bus, consumers); this crate
//! says what the service is.

/// The service key (registry, metrics).
pub const SERVICE: &str = "{{ s.key }}";
/// The path prefix the gateway routes here.
pub const PREFIX: &str = "{{ s.prefix }}";

{%- for c in s.consumes %}
/// {{ c.node }}: {{ c.event }} of {{ c.source }}, published at {{ c.publisher }}{% for v in c.via %}, via {{ v }}{% endfor %}.
pub const {{ c.node|upper }}: eventing::Subscription = eventing::Subscription {
    node: "{{ c.node }}",
    durable: "{{ c.durable }}",
    source: "{{ c.source }}",
    event: "{{ c.event }}",
    target: eventing::Target::{% if c.target == "records" %}Records{% else %}View{% endif %},
    view: "{{ c.view }}",
};

{%- endfor %}

/// What this service stores, publishes and consumes.
pub static SPEC: eventing::Spec = eventing::Spec {
    system: "{{ plan.system }}",
    service: SERVICE,
    prefix: PREFIX,
    records: {% match s.db %}{% when Some with (db) %}{{ db.records.is_some() }}{% when None %}false{% endmatch %},
    publishes: &[{% for e in s.publishes %}"{{ e.name }}"{% if !loop.last %}, {% endif %}{% endfor %}],
    subscriptions: &[{% for c in s.consumes %}{{ c.node|upper }}{% if !loop.last %}, {% endif %}{% endfor %}],
    views: &[{% for v in s.views %}"{{ v.name }}"{% if !loop.last %}, {% endif %}{% endfor %}],
};

pub use contracts::RegistryConfig as Registry;
pub use eventing::http::app;

/// Serves on `listener` (registering as `advertise`) until `shutdown` resolves; the
/// database and the bus come from the environment (see [`run_from_env`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    advertise: String,
    registry: Registry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cfg = eventing::Config::from_env(&SPEC).map_err(std::io::Error::other)?;
    eventing::serve(&SPEC, cfg, listener, advertise, registry, shutdown)
        .await
        .map_err(std::io::Error::other)
}

/// Like [`serve`], on SQLite under `data_dir` and the embedded bus (tests).
pub async fn serve_in(
    data_dir: &str,
    listener: tokio::net::TcpListener,
    advertise: String,
    registry: Registry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cfg = eventing::Config {
        database_url: None,
        data_dir: data_dir.to_string(),
        bus: eventing::bus::BusConfig::default(),
    };
    eventing::serve(&SPEC, cfg, listener, advertise, registry, shutdown)
        .await
        .map_err(std::io::Error::other)
}

/// Reads `HOST` (127.0.0.1), `PORT` ({{ s.port }}), `ADVERTISE_URL`, `REGISTRY_URL`,
/// `REGISTRY_TOKEN`, `REGISTRY_TTL_MS` (5000), `{{ s.key|upper }}_DATABASE_URL` or
/// `DATABASE_URL` (PostgreSQL; SQLite under `DATA_DIR` otherwise), `NATS_URL` (NATS
/// JetStream; the embedded outbox pull otherwise) and serves until Ctrl-C.
pub async fn run_from_env() -> Result<(), String> {
    eventing::run_from_env(&SPEC, {{ s.port }}).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use serde_json::Value;
    use tower::ServiceExt;

    fn state(name: &str) -> eventing::Shared {
        let dir = std::env::temp_dir().join(format!(
            "{SERVICE}-{name}-{}-{}",
            std::process::id(),
            eventing::now_ms()
        ));
        let cfg = eventing::Config {
            database_url: None,
            data_dir: dir.display().to_string(),
            bus: eventing::bus::BusConfig::default(),
        };
        eventing::State::open(&SPEC, &cfg, "test".into()).expect("opens a SQLite database")
    }

    async fn call(app: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
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
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

{%- match s.db %}{% when Some with (db) %}{% if db.records.is_some() %}

    #[tokio::test]
    async fn a_change_and_its_outbox_rows_are_one_transaction() {
        let st = state("write");
        let app = app(st.clone());
        let (s, v) = call(&app, "POST", PREFIX, r#"{"id":"a","qty":2}"#).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, _) = call(&app, "POST", PREFIX, r#"{"id":"a"}"#).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, v) = call(&app, "GET", &format!("{PREFIX}/a"), "").await;
        assert_eq!((s, v["qty"].as_i64()), (StatusCode::OK, Some(2)));
        let (s, _) = call(&app, "PUT", &format!("{PREFIX}/a"), r#"{"qty":3}"#).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&app, "DELETE", &format!("{PREFIX}/a"), "").await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, v) = call(&app, "GET", "/outbox?after=0", "").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let ops: Vec<(&str, &str)> = v["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| {
                (
                    e["event"].as_str().unwrap_or(""),
                    e["op"].as_str().unwrap_or(""),
                )
            })
            .collect();
        let mut want = Vec::new();
        for op in ["upsert", "upsert", "delete"] {
            for e in SPEC.publishes {
                want.push((*e, op));
            }
        }
        assert_eq!(
            ops, want,
            "one outbox row per event and change, none for the 409"
        );
        assert_eq!(v["head"].as_i64(), Some(want.len() as i64));
    }
{%- endif %}{% when None %}{% endmatch %}

    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let app = app(state("openapi"));
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
        let app = app(state("bad"));
        let (s, v) = call(&app, "GET", "/outbox?after=x", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["reason"].as_str().unwrap_or("").contains("after"), "{v}");
        let (s, v) = call(&app, "GET", &format!("{PREFIX}/views/nope"), "").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
{%- match s.db %}{% when Some with (db) %}{% if db.records.is_some() %}
        let (s, v) = call(&app, "POST", PREFIX, "{not json").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            v["reason"].as_str().unwrap_or("").contains("not JSON"),
            "{v}"
        );
        let (s, v) = call(&app, "GET", &format!("{PREFIX}?limit=-1"), "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["reason"].as_str().unwrap_or("").contains("limit"), "{v}");
{%- endif %}{% when None %}{% endmatch %}
    }
{%- if !s.consumes.is_empty() %}

    #[tokio::test]
    async fn metrics_report_the_replication_lag_of_each_consumer() {
        let app = app(state("metrics"));
        let (s, v) = call(&app, "GET", "/metrics", "").await;
        assert_eq!(s, StatusCode::OK);
        let text = v.as_str().unwrap_or("");
{%- for c in s.consumes %}
        assert!(
            text.contains("replication_lag_events{service=\"{{ s.key }}\",consumer=\"{{ c.durable }}\",source=\"{{ c.source }}\",event=\"{{ c.event }}\"} 0"),
            "{text}"
        );
{%- endfor %}
    }
{%- endif %}
}
