//! The gateway against real instances of the services on loopback ports: routing, load
//! balancing, 401s, 429s, timeouts, retries, partial aggregation, discovery.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::{topology, Registration};
use gateway::auth::{mint, SigningKey};
use gateway::config::{GatewayConfig, JwtConfig, Limit};
use gateway::Gateway;
use tokio::sync::oneshot;

mod support;
use support::serve_service;

/// A fresh random secret per test run (nothing fixed in the code).
fn secret() -> Vec<u8> {
    let mut s = String::new();
    for _ in 0..4 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(s.len() as u64);
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.into_bytes()
}

fn jwt(secret: &[u8]) -> JwtConfig {
    JwtConfig {
        hs256_secret: Some(secret.to_vec()),
        jwks: None,
        issuer: topology::SYSTEM.to_string(),
        audience: topology::SYSTEM.to_string(),
        leeway: 0,
    }
}

fn token(secret: &[u8], sub: &str, aud: &str, ttl: i64) -> String {
    mint(
        &SigningKey::Hs256(secret.to_vec()),
        sub,
        aud,
        topology::SYSTEM,
        ttl,
    )
    .expect("mint")
}

/// A running service instance; dropping `stop` shuts it down.
struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn kill(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
    }
}

async fn start_service(key: &'static str) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(serve_service(key, listener, url.clone(), rx));
    Running {
        url,
        stop: Some(tx),
        task,
    }
}

/// A port nothing listens on.
async fn dead_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    drop(l);
    url
}

/// A port that accepts connections and never answers.
async fn black_hole() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    url
}

async fn start_gateway(config: GatewayConfig, background: bool) -> (String, Arc<Gateway>) {
    let gw = Gateway::new(config).await.expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let g = gw.clone();
    if background {
        tokio::spawn(gateway::serve(g, listener, std::future::pending()));
    } else {
        tokio::spawn(async move {
            axum::serve(
                listener,
                gateway::app(g).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
    }
    (url, gw)
}

fn base_config(secret: &[u8]) -> GatewayConfig {
    let mut c = GatewayConfig::new(topology::AUTHENTICATE.then(|| jwt(secret)));
    c.upstream_timeout = Duration::from_millis(500);
    c.aggregate_timeout = Duration::from_millis(500);
    c.health_interval = Duration::from_millis(100);
    c.health_timeout = Duration::from_millis(200);
    c
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn auth(r: reqwest::RequestBuilder, secret: &[u8], sub: &str) -> reqwest::RequestBuilder {
    if topology::AUTHENTICATE {
        r.bearer_auth(token(secret, sub, topology::SYSTEM, 600))
    } else {
        r
    }
}

/// Every service up, statically addressed.
async fn all_up(secret: &[u8]) -> (String, Arc<Gateway>, Vec<Running>) {
    let mut running = Vec::new();
    let mut config = base_config(secret);
    for s in topology::SERVICES {
        let r = start_service(s.key).await;
        config
            .static_instances
            .push((s.key.to_string(), r.url.clone()));
        running.push(r);
    }
    let (url, gw) = start_gateway(config, true).await;
    (url, gw, running)
}

#[tokio::test]
async fn routes_each_prefix_to_its_service() {
    let secret = secret();
    let (gw, _, _running) = all_up(&secret).await;
    let c = client();
    for s in topology::SERVICES.iter().filter(|s| s.records) {
        let r = auth(c.post(format!("{gw}{}", s.prefix)), &secret, "alice")
            .json(&serde_json::json!({"id": "r1", "by": s.key}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 201, "POST {}", s.prefix);
        let r = auth(c.get(format!("{gw}{}/r1", s.prefix)), &secret, "alice")
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "GET {}/r1", s.prefix);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["by"], s.key, "{} answered for {}", v["by"], s.prefix);
    }
    let r = auth(c.get(format!("{gw}/no-such-route")), &secret, "alice")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn openapi_describes_every_route_and_needs_no_token() {
    let secret = secret();
    let (gw, _, _running) = all_up(&secret).await;
    let c = client();
    let r = c
        .get(format!("{gw}/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "/openapi.json without a token");
    let doc: serde_json::Value = r.json().await.expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    for s in topology::SERVICES {
        let any = paths
            .keys()
            .any(|p| p == s.prefix || p.starts_with(&format!("{}/", s.prefix)));
        assert!(any, "no route of {} under {}", s.key, s.prefix);
    }
    if let Some(a) = topology::AGGREGATE {
        let op = &doc["paths"][a.path]["get"];
        assert!(op.is_object(), "no GET {}", a.path);
        assert!(op["responses"]["502"].is_object(), "{op}");
    }
    if topology::AUTHENTICATE {
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
            "{doc}"
        );
    }
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("a path item") {
            let id = op["operationId"].as_str().unwrap_or("").to_string();
            assert!(ids.insert(id.clone()), "operationId {id:?} twice");
            if path == "/health" {
                continue;
            }
            if topology::AUTHENTICATE {
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
                assert!(op["security"].is_array(), "{method} {path}");
            }
            if topology::RATE_LIMIT {
                assert!(op["responses"]["429"].is_object(), "{method} {path}");
            }
            if topology::AGGREGATE.is_none_or(|a| a.path != path) {
                for code in ["502", "504"] {
                    assert!(op["responses"][code].is_object(), "{method} {path} {code}");
                }
            }
            // Routed: the documented operation reaches a handler or a service.
            let uri = path.replace("{view}", "x").replace("{id}", "x");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = auth(c.request(m, format!("{gw}{uri}?id=x")), &secret, "alice")
                .json(&serde_json::json!({}))
                .send()
                .await
                .expect("send");
            assert_ne!(r.status(), 405, "{method} {uri}");
            if r.status() == 404 {
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                assert_ne!(
                    v["error"],
                    serde_json::Value::Null,
                    "{method} {uri}: unrouted"
                );
                assert!(
                    !v["reason"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("no service is routed"),
                    "{method} {uri}: {v}"
                );
            }
        }
    }
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_challenge() {
    if !topology::AUTHENTICATE {
        return;
    }
    let secret = secret();
    let (gw, _, _running) = all_up(&secret).await;
    let c = client();
    let Some(s) = topology::SERVICES.first() else {
        return;
    };
    let url = format!("{gw}{}", s.prefix);
    let r = c.get(&url).send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().ok(),
        Some("Bearer realm=\"gateway\"")
    );
    let cases = [
        ("expired", token(&secret, "alice", topology::SYSTEM, -3600)),
        ("audience", token(&secret, "alice", "someone-else", 600)),
        (
            "signature",
            token(
                b"another-secret-of-enough-length",
                "alice",
                topology::SYSTEM,
                600,
            ),
        ),
        ("token", "not.a.jwt".to_string()),
    ];
    for (why, t) in cases {
        let r = c.get(&url).bearer_auth(&t).send().await.expect("get");
        assert_eq!(r.status(), 401, "{why}");
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .unwrap_or("")
            .to_string();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{why}: {challenge}"
        );
        let body: serde_json::Value = r.json().await.expect("json");
        assert!(
            body["reason"].as_str().unwrap_or("").contains(why),
            "{why}: {body}"
        );
    }
    let r = c
        .get(&url)
        .header("authorization", "Basic YWxpY2U6cHc=")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    // Health and metrics need no token.
    assert_eq!(
        c.get(format!("{gw}/health"))
            .send()
            .await
            .expect("health")
            .status(),
        200
    );
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after() {
    if !topology::RATE_LIMIT {
        return;
    }
    let secret = secret();
    let s = &topology::SERVICES[0];
    let inst = start_service(s.key).await;
    let mut config = base_config(&secret);
    config
        .static_instances
        .push((s.key.to_string(), inst.url.clone()));
    config.per_client = Some(Limit {
        per_second: std::num::NonZeroU32::MIN,
        burst: std::num::NonZeroU32::MIN.saturating_add(1),
    });
    let (gw, g) = start_gateway(config, true).await;
    let c = client();
    let url = format!("{gw}{}", s.prefix);
    for _ in 0..2 {
        let r = auth(c.get(&url), &secret, "alice")
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
    }
    let r = auth(c.get(&url), &secret, "alice")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 429);
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(after >= 1, "Retry-After {after}");
    // Another client has its own bucket.
    let r = auth(c.get(&url), &secret, "bob").send().await.expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(g.metrics.count(s.prefix, "429"), 1);
    // The overall limit counts every client.
    let mut config = base_config(&secret);
    config
        .static_instances
        .push((s.key.to_string(), inst.url.clone()));
    config.per_client = None;
    config.global = Some(Limit {
        per_second: std::num::NonZeroU32::MIN,
        burst: std::num::NonZeroU32::MIN.saturating_add(2),
    });
    let (gw, _) = start_gateway(config, true).await;
    let url = format!("{gw}{}", s.prefix);
    let mut statuses = Vec::new();
    for sub in ["a", "b", "c", "d"] {
        statuses.push(
            auth(c.get(&url), &secret, sub)
                .send()
                .await
                .expect("get")
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test]
async fn slow_backend_is_504_and_dead_one_is_502() {
    let secret = secret();
    let s = &topology::SERVICES[0];
    let mut config = base_config(&secret);
    config
        .static_instances
        .push((s.key.to_string(), black_hole().await));
    let (gw, _) = start_gateway(config, false).await;
    let c = client();
    let started = Instant::now();
    let r = auth(c.get(format!("{gw}{}", s.prefix)), &secret, "alice")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    let mut config = base_config(&secret);
    config
        .static_instances
        .push((s.key.to_string(), dead_url().await));
    let (gw, _) = start_gateway(config, false).await;
    let r = auth(c.get(format!("{gw}{}", s.prefix)), &secret, "alice")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 502);
}

#[tokio::test]
async fn refused_connections_and_idempotent_requests_are_retried() {
    let secret = secret();
    let s = &topology::SERVICES[0];
    let alive = start_service(s.key).await;
    let c = client();
    // [dead, alive] with no health checks: the first attempt always meets the dead one.
    let mut config = base_config(&secret);
    config
        .static_instances
        .push((s.key.to_string(), dead_url().await));
    config
        .static_instances
        .push((s.key.to_string(), alive.url.clone()));
    let (gw, g) = start_gateway(config.clone(), false).await;
    let r = auth(c.get(format!("{gw}{}", s.prefix)), &secret, "alice")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "GET is retried on the live instance");
    assert!(g.metrics.render(&[]).contains("gateway_retries_total"));
    let (gw, _) = start_gateway(config, false).await;
    let r = auth(c.post(format!("{gw}{}", s.prefix)), &secret, "alice")
        .json(&serde_json::json!({"id": "once"}))
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        201,
        "a POST whose connection was refused reached no service: it is sent to the next"
    );
    // The failed connection took the dead instance out of rotation; the same POST again
    // reaches the live instance, once.
    let r = auth(c.post(format!("{gw}{}", s.prefix)), &secret, "alice")
        .json(&serde_json::json!({"id": "once"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn aggregation_leaves_out_a_dead_backend_and_says_partial() {
    let Some(agg) = topology::AGGREGATE else {
        return;
    };
    let secret = secret();
    let dead = agg.parts[0].service;
    let mut running = Vec::new();
    let mut config = base_config(&secret);
    for s in topology::SERVICES {
        if s.key == dead {
            config
                .static_instances
                .push((s.key.to_string(), dead_url().await));
            continue;
        }
        let r = start_service(s.key).await;
        config
            .static_instances
            .push((s.key.to_string(), r.url.clone()));
        running.push(r);
    }
    let (gw, g) = start_gateway(config, false).await;
    let c = client();
    // Every placeholder gets the value "a1", and every service a document "a1".
    let mut query = HashMap::new();
    for p in agg.parts {
        let mut rest = p.path;
        while let Some(i) = rest.find('{') {
            let Some(j) = rest[i..].find('}') else { break };
            query.insert(rest[i + 1..i + j].to_string(), "a1".to_string());
            rest = &rest[i + j + 1..];
        }
    }
    for s in topology::SERVICES.iter().filter(|s| s.key != dead) {
        let r = auth(c.post(format!("{gw}{}", s.prefix)), &secret, "alice")
            .json(&serde_json::json!({"id": "a1"}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 201);
    }
    let r = auth(c.get(format!("{gw}{}", agg.path)), &secret, "alice")
        .query(&query)
        .send()
        .await
        .expect("aggregate");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-aggregate-partial"], "true");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["partial"], true, "{v}");
    assert_eq!(v["missing"], serde_json::json!([dead]), "{v}");
    assert!(v["data"].get(dead).is_none(), "{v}");
    for p in agg.parts.iter().filter(|p| p.service != dead) {
        assert!(
            v["data"].get(p.service).is_some(),
            "{} missing: {v}",
            p.service
        );
    }
    assert_eq!(g.metrics.count(agg.path, "partial"), 1);
    // A missing parameter is a 400 that names it.
    if !query.is_empty() {
        let r = auth(c.get(format!("{gw}{}", agg.path)), &secret, "alice")
            .send()
            .await
            .expect("aggregate");
        assert_eq!(r.status(), 400);
    }
}

#[tokio::test]
async fn discovery_drops_a_dead_instance_and_expires_silent_ones() {
    let secret = secret();
    let s = &topology::SERVICES[0];
    let a = start_service(s.key).await;
    let b = start_service(s.key).await;
    let b_url = b.url.clone();
    let (gw, g) = start_gateway(base_config(&secret), true).await;
    let c = client();
    for (id, url) in [("a", &a.url), ("b", &b.url)] {
        let r = c
            .post(format!("{gw}/_registry/register"))
            .json(&Registration {
                service: s.key.to_string(),
                instance_id: id.to_string(),
                url: url.clone(),
                ttl_ms: 60_000,
            })
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 204);
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..6 {
        let r = auth(c.get(format!("{gw}{}", s.prefix)), &secret, "alice")
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
        seen.insert(r.headers()["x-instance"].to_str().unwrap_or("").to_string());
    }
    assert_eq!(seen.len(), 2, "round robin over both instances: {seen:?}");
    a.kill().await;
    let started = Instant::now();
    loop {
        let live = g.registry.live(s.key).await.expect("live");
        if live.len() == 1 && live[0].url == b_url {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still routed to the dead instance"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..10 {
        let r = auth(c.get(format!("{gw}{}", s.prefix)), &secret, "alice")
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
    }
    // A registration that is not renewed expires.
    let r = c
        .post(format!("{gw}/_registry/register"))
        .json(&Registration {
            service: s.key.to_string(),
            instance_id: "silent".to_string(),
            url: b_url.clone(),
            ttl_ms: 200,
        })
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 204);
    // a (dead, not yet expired), b and the silent one.
    assert_eq!(
        g.registry.instances(s.key).await.expect("instances").len(),
        3
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        g.registry.instances(s.key).await.expect("instances").len(),
        2
    );
    // Bad registrations are 400s that say why.
    let r = c
        .post(format!("{gw}/_registry/register"))
        .json(&Registration {
            service: "nope".to_string(),
            instance_id: "x".to_string(),
            url: b_url,
            ttl_ms: 1000,
        })
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 400);
    drop(b);
}

#[tokio::test]
async fn metrics_count_routes_and_outcomes() {
    let secret = secret();
    let (gw, _, _running) = all_up(&secret).await;
    let c = client();
    let s = &topology::SERVICES[0];
    auth(c.get(format!("{gw}{}", s.prefix)), &secret, "alice")
        .send()
        .await
        .expect("get");
    c.get(format!("{gw}{}", s.prefix))
        .send()
        .await
        .expect("get");
    let text = c
        .get(format!("{gw}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // Without authentication the second request is answered 200 too.
    let ok = format!(
        "gateway_requests_total{{route=\"{}\",outcome=\"200\"}} {}",
        s.prefix,
        if topology::AUTHENTICATE { 1 } else { 2 }
    );
    assert!(text.contains(&ok), "{text}");
    if topology::AUTHENTICATE {
        let unauth = format!(
            "gateway_requests_total{{route=\"{}\",outcome=\"401\"}} 1",
            s.prefix
        );
        assert!(text.contains(&unauth), "{text}");
    }
    assert!(
        text.contains(&format!(
            "gateway_backend_duration_seconds_count{{service=\"{}\"}}",
            s.key
        )),
        "{text}"
    );
    assert!(
        text.contains("gateway_request_duration_seconds_bucket"),
        "{text}"
    );
}
