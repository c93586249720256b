//! Response aggregation: one endpoint calls every service of the diagram's fan-out
//! concurrently and merges their JSON under `data`, keyed by service. A backend that
//! fails or is slower than `AGGREGATE_TIMEOUT_MS` leaves its key out; the response then
//! says `"partial": true` (and `x-aggregate-partial: true`) and names it in `missing`.
//! One slow backend never turns the whole answer into an error.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use contracts::topology::Aggregate;

use crate::{auth, proxy, Gateway};

/// Header that marks a partial aggregated response.
pub const PARTIAL_HEADER: &str = "x-aggregate-partial";

/// Percent-encodes a path segment (everything but unreserved characters).
fn encode_segment(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Fills the `{name}` placeholders of `template` from the query; names the missing one.
pub fn fill(template: &str, q: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let name = &rest[i + 1..i + j];
        match q.get(name) {
            Some(v) if !v.is_empty() => out.push_str(&encode_segment(v)),
            _ => return Err(name.to_string()),
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `GET <aggregate path>?name=value…`
pub async fn handler(
    State(gw): State<Arc<Gateway>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(agg) = contracts::topology::AGGREGATE else {
        return StatusCode::NOT_FOUND.into_response();
    };
    aggregate(gw, agg, &q, &headers).await
}

async fn aggregate(
    gw: Arc<Gateway>,
    agg: Aggregate,
    q: &HashMap<String, String>,
    incoming: &HeaderMap,
) -> Response {
    let mut paths = Vec::new();
    for p in agg.parts {
        match fill(p.path, q) {
            Ok(path) => paths.push((p.service, path)),
            Err(name) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({
                        "error": "bad_request",
                        "reason": format!("missing query parameter `{name}` (needed by {}: {})", p.service, p.path),
                    })),
                )
                    .into_response()
            }
        }
    }
    // What the backends see of the caller.
    let mut headers = HeaderMap::new();
    for h in [header::AUTHORIZATION.as_str(), auth::SUBJECT_HEADER] {
        if let Some(v) = incoming.get(h) {
            headers.insert(axum::http::HeaderName::from_static(h), v.clone());
        }
    }
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let timeout = gw.config.aggregate_timeout;
    let mut set = tokio::task::JoinSet::new();
    for (service, path) in paths {
        let gw = gw.clone();
        let headers = headers.clone();
        set.spawn(async move {
            let call = async {
                let r = proxy::send(
                    &gw,
                    service,
                    Method::GET,
                    &path,
                    headers,
                    Bytes::new(),
                    timeout,
                )
                .await
                .map_err(|f| f.reason(service))?;
                let status = r.status();
                if !status.is_success() {
                    return Err(format!("{service} answered {status}"));
                }
                r.json::<serde_json::Value>()
                    .await
                    .map_err(|e| format!("{service} sent no JSON: {e}"))
            };
            let out = match tokio::time::timeout(timeout, call).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "{service} did not answer within {} ms",
                    timeout.as_millis()
                )),
            };
            (service, out)
        });
    }
    let mut data = serde_json::Map::new();
    let mut errors = serde_json::Map::new();
    while let Some(r) = set.join_next().await {
        if let Ok((service, out)) = r {
            match out {
                Ok(v) => {
                    data.insert(service.to_string(), v);
                }
                Err(e) => {
                    errors.insert(service.to_string(), serde_json::Value::String(e));
                }
            }
        }
    }
    let mut missing: Vec<String> = agg
        .parts
        .iter()
        .map(|p| p.service.to_string())
        .filter(|s| !data.contains_key(s))
        .collect();
    missing.dedup();
    let partial = !missing.is_empty();
    // Nothing to merge at all is a gateway error, not a partial answer.
    let status = if data.is_empty() && !agg.parts.is_empty() {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    let mut r = (
        status,
        Json(serde_json::json!({
            "data": data,
            "partial": partial,
            "missing": missing,
            "errors": errors,
        })),
    )
        .into_response();
    r.headers_mut().insert(
        PARTIAL_HEADER,
        HeaderValue::from_static(if partial { "true" } else { "false" }),
    );
    r
}
