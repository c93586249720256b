//! Routing and load balancing: a request under a service's prefix goes to one of the
//! service's live instances (round robin), with a timeout per attempt. Idempotent
//! requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried on another instance when an
//! instance refuses the connection or answers 502/503; others only when the connection
//! was refused (the request reached no service). A
//! connection failure takes the instance out of rotation until a health check passes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::Gateway;

/// Why no backend answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No live instance is registered (502).
    NoInstance,
    /// Every attempt failed to connect or broke off (502).
    Unreachable(String),
    /// The backend did not answer in time (504).
    Timeout,
    /// The request cannot be sent on as it is (400), e.g. its path makes no URL.
    Invalid(String),
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn reason(&self, service: &str) -> String {
        match self {
            Failure::NoInstance => format!("no live instance of {service}"),
            Failure::Unreachable(e) => format!("{service} is unreachable: {e}"),
            Failure::Timeout => format!("{service} did not answer in time"),
            Failure::Invalid(e) => format!("the request cannot be sent to {service}: {e}"),
        }
    }

    fn into_response(self, service: &str) -> Response {
        let error = match self {
            Failure::Timeout => "gateway_timeout",
            Failure::Invalid(_) => "bad_request",
            _ => "bad_gateway",
        };
        (
            self.status(),
            Json(serde_json::json!({"error": error, "reason": self.reason(service)})),
        )
            .into_response()
    }
}

/// Methods that may be sent twice.
pub fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (k, v) in headers {
        if !HOP_BY_HOP.contains(&k.as_str()) && k != "content-length" {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

/// Sends a request to `service`, trying live instances in turn as described above.
pub async fn send(
    gw: &Gateway,
    service: &str,
    method: Method,
    path_and_query: &str,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
) -> Result<reqwest::Response, Failure> {
    let live = match gw.registry.live(service).await {
        Ok(v) => v,
        Err(e) => return Err(Failure::Unreachable(e.to_string())),
    };
    if live.is_empty() {
        gw.metrics.backend_error(service, "no_instance");
        return Err(Failure::NoInstance);
    }
    // Any request is tried on the next instance when the connection was refused (it
    // never reached a service); only idempotent ones after a 502/503 or a broken answer.
    let safe = idempotent(&method);
    let attempts = (1 + gw.config.retries as usize).min(live.len());
    let mut last = Failure::NoInstance;
    for (n, inst) in live.iter().take(attempts).enumerate() {
        if n > 0 {
            gw.metrics.retry(service);
        }
        let started = Instant::now();
        let r = gw
            .client
            .request(method.clone(), format!("{}{path_and_query}", inst.url))
            .headers(headers.clone())
            .body(body.clone())
            .timeout(timeout)
            .send()
            .await;
        match r {
            Ok(resp) => {
                gw.metrics.backend(service, started.elapsed());
                let s = resp.status();
                if (s == StatusCode::BAD_GATEWAY || s == StatusCode::SERVICE_UNAVAILABLE)
                    && safe
                    && n + 1 < attempts
                {
                    gw.metrics.backend_error(service, "status");
                    last = Failure::Unreachable(format!("{} answered {s}", inst.url));
                    continue;
                }
                return Ok(resp);
            }
            Err(e) if e.is_builder() => return Err(Failure::Invalid(e.to_string())),
            Err(e) if e.is_timeout() => {
                gw.metrics.backend_error(service, "timeout");
                return Err(Failure::Timeout);
            }
            Err(e) => {
                gw.metrics.backend_error(service, "connect");
                let refused = e.is_connect();
                if refused {
                    gw.registry.failed(&inst.url);
                }
                last = Failure::Unreachable(format!("{}: {e}", inst.url));
                if !refused && !safe {
                    return Err(last);
                }
            }
        }
    }
    Err(last)
}

/// Forwards a request under `service`'s prefix and relays the answer.
pub async fn forward(gw: Arc<Gateway>, service: &'static str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, gw.config.max_body).await {
        Ok(b) => b,
        Err(_) => return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(serde_json::json!({
                "error": "payload_too_large",
                "reason": format!("the body is over {} bytes (MAX_BODY_BYTES)", gw.config.max_body),
            })),
        )
            .into_response(),
    };
    let mut headers = end_to_end(&parts.headers);
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        if let Ok(v) = HeaderValue::from_str(&peer.ip().to_string()) {
            headers.append(HeaderName::from_static("x-forwarded-for"), v);
        }
    }
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let timeout = gw.config.upstream_timeout;
    match send(&gw, service, parts.method, &pq, headers, body, timeout).await {
        Ok(resp) => relay(&gw, service, resp).await,
        Err(f) => f.into_response(service),
    }
}

async fn relay(gw: &Gateway, service: &str, resp: reqwest::Response) -> Response {
    let status = resp.status();
    let headers = end_to_end(resp.headers());
    match resp.bytes().await {
        Ok(b) => {
            let mut r = Response::new(Body::from(b));
            *r.status_mut() = status;
            *r.headers_mut() = headers;
            r
        }
        Err(e) => {
            gw.metrics.backend_error(service, "body");
            Failure::Unreachable(e.to_string()).into_response(service)
        }
    }
}
