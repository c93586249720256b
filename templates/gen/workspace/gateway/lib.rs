//! The API gateway, as tower layers around an axum router, outermost first:
//! metrics → authentication (JWT) → rate limiting → routing (with discovery, load
//! balancing, timeouts and retries) or response aggregation. `/health`, `/metrics`,
//! `/openapi.json` (the routes as OpenAPI, from `contracts::openapi::gateway`) and the
//! registry (`/_registry`) are outside the authenticated stack.

pub mod aggregate;
pub mod auth;
pub mod config;
pub mod discovery;
pub mod metrics;
pub mod proxy;
pub mod ratelimit;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use contracts::{topology, Registration, REGISTRY_TOKEN_HEADER};

use config::GatewayConfig;
use discovery::{Registry, RegistryError};
use metrics::Metrics;

/// Everything the layers and handlers share.
pub struct Gateway {
    pub config: GatewayConfig,
    pub registry: Registry,
    pub metrics: Metrics,
    pub client: reqwest::Client,
    pub verifier: Option<Arc<auth::Verifier>>,
    pub limits: Option<Arc<ratelimit::Limits>>,
}

/// A failure while starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Gateway {
    /// Builds the gateway: the registry in Redis when `config.redis_url` is set.
    pub async fn new(config: GatewayConfig) -> Result<Arc<Gateway>, StartError> {
        let registry = match &config.redis_url {
            Some(url) => {
                Registry::redis(url, &config.static_instances, config.unhealthy_after).await?
            }
            None => Registry::memory(&config.static_instances, config.unhealthy_after),
        };
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_millis(500))
            .build()?;
        let verifier = config.jwt.clone().map(|j| Arc::new(auth::Verifier::new(j)));
        let limits = (config.per_client.is_some() || config.global.is_some())
            .then(|| Arc::new(ratelimit::Limits::new(config.per_client, config.global)));
        Ok(Arc::new(Gateway {
            config,
            registry,
            metrics: Metrics::default(),
            client,
            verifier,
            limits,
        }))
    }

    /// The route label of a path for metrics: the service prefix or aggregate path it
    /// falls under, else `other`.
    pub fn route_of(path: &str) -> &'static str {
        if let Some(a) = topology::AGGREGATE {
            if path == a.path {
                return a.path;
            }
        }
        for s in topology::SERVICES {
            if path == s.prefix
                || path
                    .strip_prefix(s.prefix)
                    .is_some_and(|r| r.starts_with('/'))
            {
                return s.prefix;
            }
        }
        "other"
    }

    /// Starts the background tasks: health checks, and forgetting idle rate-limit buckets.
    pub fn spawn_background(self: &Arc<Gateway>) -> Vec<tokio::task::JoinHandle<()>> {
        let gw = self.clone();
        let health = tokio::spawn(async move {
            let mut tick = tokio::time::interval(gw.config.health_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                gw.registry
                    .check_all(&gw.client, gw.config.health_timeout)
                    .await;
            }
        });
        let gw = self.clone();
        let sweep = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Some(l) = &gw.limits {
                    l.forget_idle();
                }
            }
        });
        vec![health, sweep]
    }
}

async fn count(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let route = Gateway::route_of(req.uri().path());
    let started = Instant::now();
    let r = next.run(req).await;
    let partial = r
        .headers()
        .get(aggregate::PARTIAL_HEADER)
        .is_some_and(|v| v == "true");
    let status = r.status();
    let outcome = if partial && status.is_success() {
        "partial"
    } else {
        status.as_str()
    };
    gw.metrics.request(route, outcome, started.elapsed());
    r
}

async fn not_found(req: Request) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "error": "not_found",
            "reason": format!("no service is routed at {}", req.uri().path()),
            "routes": topology::SERVICES.iter().map(|s| s.prefix).collect::<Vec<_>>(),
        })),
    )
        .into_response()
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn openapi() -> Response {
    Json(contracts::openapi::gateway()).into_response()
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let live: Vec<(String, usize)> = match gw.registry.snapshot().await {
        Ok(snap) => topology::SERVICES
            .iter()
            .map(|s| {
                let n = snap[s.key]
                    .as_array()
                    .map(|a| a.iter().filter(|i| i["healthy"] == true).count())
                    .unwrap_or(0);
                (s.key.to_string(), n)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    (
        [("content-type", "text/plain; version=0.0.4")],
        gw.metrics.render(&live),
    )
        .into_response()
}

/// Registry access: the `REGISTRY_TOKEN` when one is set, else loopback peers only.
fn may_register(gw: &Gateway, peer: &SocketAddr, headers: &HeaderMap) -> Option<Response> {
    let ok = match &gw.config.registry_token {
        Some(t) => headers
            .get(REGISTRY_TOKEN_HEADER)
            .is_some_and(|v| v.as_bytes() == t.as_bytes()),
        None => peer.ip().is_loopback(),
    };
    if ok {
        None
    } else {
        Some((
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({
                "error": "forbidden",
                "reason": "registering needs the x-registry-token header (REGISTRY_TOKEN), or a loopback peer when none is set",
            })),
        )
            .into_response())
    }
}

async fn register(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(reg): Json<Registration>,
) -> Response {
    if let Some(r) = may_register(&gw, &peer, &headers) {
        return r;
    }
    match gw.registry.register(&reg).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(RegistryError::Invalid(m)) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "bad_request", "reason": m})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "unavailable", "reason": e.to_string()})),
        )
            .into_response(),
    }
}

async fn registry(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = may_register(&gw, &peer, &headers) {
        return r;
    }
    match gw.registry.snapshot().await {
        Ok(v) => {
            Json(serde_json::json!({"store": gw.registry.kind(), "services": v})).into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "unavailable", "reason": e.to_string()})),
        )
            .into_response(),
    }
}

/// The gateway's router (serve it with `into_make_service_with_connect_info`).
pub fn app(gw: Arc<Gateway>) -> Router {
    let mut api: Router<Arc<Gateway>> = Router::new();
    for s in topology::SERVICES {
        let key = s.key;
        let h = move |State(gw): State<Arc<Gateway>>, req: Request| proxy::forward(gw, key, req);
        api = api
            .route(s.prefix, any(h))
            .route(&format!("{}/{{*rest}}", s.prefix), any(h));
    }
    if let Some(a) = topology::AGGREGATE {
        api = api.route(a.path, get(aggregate::handler));
    }
    let mut api = api.fallback(not_found).with_state(gw.clone());
    // Added innermost first: the last layer added runs first.
    if let Some(l) = &gw.limits {
        api = api.layer(from_fn_with_state(l.clone(), ratelimit::layer));
    }
    if let Some(v) = &gw.verifier {
        api = api.layer(from_fn_with_state(v.clone(), auth::layer));
    }
    let api = api.layer(from_fn_with_state(gw.clone(), count));
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/_registry", get(registry))
        .route("/_registry/register", post(register))
        .with_state(gw)
        .merge(api)
}

/// Serves the gateway on `listener` until `shutdown` resolves.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = gw.spawn_background();
    let r = axum::serve(
        listener,
        app(gw).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    for t in tasks {
        t.abort();
    }
    r
}

/// Reads the configuration from the environment and serves on `HOST:PORT`
/// (127.0.0.1 and `topology::GATEWAY_PORT` by default) until Ctrl-C.
pub async fn run_from_env() -> Result<(), StartError> {
    let config = GatewayConfig::from_env()?;
    let host = std::env::var("HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let port = config.port;
    let gw = Gateway::new(config).await?;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    eprintln!(
        "gateway on http://{} (registry: {})",
        listener.local_addr()?,
        gw.registry.kind()
    );
    serve(gw, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
