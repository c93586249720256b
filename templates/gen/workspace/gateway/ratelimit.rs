//! Rate limiting with `governor` (GCRA, a token bucket without a refill task): one bucket
//! per client (the token's subject, else the peer IP) and one over all clients. A request
//! over either is answered 429 with `Retry-After`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Subject;
use crate::config::Limit;

/// The two limits.
pub struct Limits {
    per_client: Option<DefaultKeyedRateLimiter<String>>,
    global: Option<DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

fn quota(l: Limit) -> Quota {
    Quota::per_second(l.per_second).allow_burst(l.burst)
}

/// Which limit refused a request, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub scope: &'static str,
    pub retry_after: Duration,
}

impl Limits {
    pub fn new(per_client: Option<Limit>, global: Option<Limit>) -> Limits {
        Limits {
            per_client: per_client.map(|l| RateLimiter::keyed(quota(l))),
            global: global.map(|l| RateLimiter::direct(quota(l))),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request of `client` from both buckets.
    pub fn check(&self, client: &str) -> Result<(), Refused> {
        if let Some(k) = &self.per_client {
            if let Err(n) = k.check_key(&client.to_string()) {
                return Err(Refused {
                    scope: "client",
                    retry_after: n.wait_time_from(self.clock.now()),
                });
            }
        }
        if let Some(g) = &self.global {
            if let Err(n) = g.check() {
                return Err(Refused {
                    scope: "global",
                    retry_after: n.wait_time_from(self.clock.now()),
                });
            }
        }
        Ok(())
    }

    /// Forgets clients whose buckets are full again (run now and then to bound memory).
    pub fn forget_idle(&self) {
        if let Some(k) = &self.per_client {
            k.retain_recent();
            k.shrink_to_fit();
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        // Whole seconds, rounded up, at least 1 (RFC 9110 delay-seconds).
        let secs = self.retry_after.as_millis().div_ceil(1000).max(1);
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(serde_json::json!({
                "error": "too_many_requests",
                "reason": format!("{} rate limit exceeded; retry in {secs} s", self.scope),
            })),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        r
    }
}

/// The client a request is counted against.
pub fn client_key(req: &Request) -> String {
    if let Some(Subject(s)) = req.extensions().get::<Subject>() {
        return format!("sub:{s}");
    }
    match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(a)) => format!("ip:{}", a.ip()),
        None => "ip:unknown".to_string(),
    }
}

/// The rate-limit layer (`axum::middleware::from_fn_with_state`).
pub async fn layer(State(l): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    match l.check(&client_key(&req)) {
        Ok(()) => next.run(req).await,
        Err(r) => r.into_response(),
    }
}
