//! `loadgen`: POSTs new records through the gateway for a while, from `--concurrency`
//! workers, and reports what came back. Every record carries its own id
//! (`{tag}-{worker}-{n}`), so a request that failed in transit (connection reset, 502,
//! 503) is sent again with the same id: a 201, or a 409 to a retry (it was stored the
//! first time), acknowledges it. Acknowledged ids go to `--out`, one a line, for
//! comparing with the stores afterwards. Each `--get PATH` adds a read: after every POST a
//! worker sends one GET, taking the paths in turn (not retried).
//!
//! The JSON report has the totals and, under `routes`, each route's (`POST /orders`,
//! `GET /products`) attempts, p50/p99 and outcome shares: the status, `partial` for a 2xx
//! with `x-aggregate-partial: true`, `error` when no answer came; the same table goes to
//! stderr.
//!
//! usage: loadgen --url http://127.0.0.1:8080 [--path /orders] [--get PATH]...
//!        [--concurrency 8] [--seconds 10] [--out acked.txt] [--token JWT] [--tag lg]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Outcomes and latencies of one route.
#[derive(Default)]
struct Route {
    /// Status, `partial` or `error` of every attempt.
    outcomes: BTreeMap<String, u64>,
    /// Milliseconds of every attempt.
    latencies: Vec<f64>,
}

#[derive(Default)]
struct Tally {
    /// Status (or `error`) of every POST attempt.
    codes: BTreeMap<String, u64>,
    /// Milliseconds of every POST attempt.
    latencies: Vec<f64>,
    acked: Vec<String>,
    lost: Vec<String>,
    retries: u64,
    /// By `METHOD path`.
    routes: BTreeMap<String, Route>,
}

/// The outcome of an answer: its status, or `partial` for a partial aggregate.
fn outcome(r: &Result<reqwest::Response, reqwest::Error>) -> String {
    match r {
        Ok(r)
            if r.status().is_success()
                && r.headers()
                    .get("x-aggregate-partial")
                    .is_some_and(|v| v == "true") =>
        {
            "partial".to_string()
        }
        Ok(r) => r.status().as_u16().to_string(),
        Err(_) => "error".to_string(),
    }
}

impl Tally {
    fn route(&mut self, key: &str, outcome: String, ms: f64) {
        let r = self.routes.entry(key.to_string()).or_default();
        *r.outcomes.entry(outcome).or_default() += 1;
        r.latencies.push(ms);
    }
}

struct Opts {
    url: String,
    path: String,
    concurrency: usize,
    seconds: f64,
    out: Option<String>,
    token: Option<String>,
    tag: String,
    gets: Vec<String>,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        url: String::new(),
        path: "/orders".into(),
        concurrency: 8,
        seconds: 10.0,
        out: None,
        token: std::env::var("TOKEN").ok(),
        tag: "lg".into(),
        gets: Vec::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| format!("{a} needs a value"))?
            .clone();
        match a.as_str() {
            "--url" => o.url = v.trim_end_matches('/').to_string(),
            "--path" => o.path = v,
            "--concurrency" => {
                o.concurrency = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=512).contains(n))
                    .ok_or("--concurrency takes 1 to 512")?
            }
            "--seconds" => {
                o.seconds = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0)
                    .ok_or("--seconds takes a positive number")?
            }
            "--out" => o.out = Some(v),
            "--token" => o.token = Some(v),
            "--tag" => o.tag = v,
            "--get" if v.starts_with('/') => o.gets.push(v),
            "--get" => return Err(format!("--get {v:?}: a path starts with /")),
            _ => return Err(format!("unknown option {a:?}")),
        }
    }
    if o.url.is_empty() {
        return Err("--url is required (the gateway's base URL)".into());
    }
    Ok(o)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let o = match opts() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(o.concurrency)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: http client: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(o.seconds);
    let mut workers = Vec::new();
    for w in 0..o.concurrency {
        let (o, client, tally) = (o.clone(), client.clone(), tally.clone());
        workers.push(tokio::spawn(async move {
            let post_key = format!("POST {}", o.path);
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let id = format!("{}-{w}-{n}", o.tag);
                let body = serde_json::json!({"id": id, "item": format!("sku-{}", n % 17), "qty": 1 + n % 5});
                let mut acked = false;
                for attempt in 0..20 {
                    let mut req = client.post(format!("{}{}", o.url, o.path)).json(&body);
                    if let Some(t) = &o.token {
                        req = req.bearer_auth(t);
                    }
                    let t0 = Instant::now();
                    let r = req.send().await;
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    let code = match &r {
                        Ok(r) => r.status().as_u16().to_string(),
                        Err(_) => "error".to_string(),
                    };
                    let status = r.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
                    if let Ok(mut t) = tally.lock() {
                        t.route(&post_key, outcome(&r), ms);
                        *t.codes.entry(code).or_default() += 1;
                        t.latencies.push(ms);
                        if attempt > 0 {
                            t.retries += 1;
                        }
                    }
                    match status {
                        201 => acked = true,
                        409 if attempt > 0 => acked = true,
                        0 | 429 | 502 | 503 | 504 => {
                            tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
                            continue;
                        }
                        _ => {}
                    }
                    break;
                }
                if let Ok(mut t) = tally.lock() {
                    if acked {
                        t.acked.push(id);
                    } else {
                        t.lost.push(id);
                    }
                }
                if o.gets.is_empty() {
                    continue;
                }
                let path = &o.gets[(n as usize + w) % o.gets.len()];
                let mut req = client.get(format!("{}{path}", o.url));
                if let Some(t) = &o.token {
                    req = req.bearer_auth(t);
                }
                let t0 = Instant::now();
                let r = req.send().await;
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                let out = outcome(&r);
                // Read the body, so the latency and the connection reuse are a client's.
                if let Ok(r) = r {
                    let _ = r.bytes().await;
                }
                if let Ok(mut t) = tally.lock() {
                    t.route(&format!("GET {path}"), out, ms);
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let Ok(mut t) = tally.lock() else {
        return std::process::ExitCode::FAILURE;
    };
    t.latencies.sort_by(|a, b| a.total_cmp(b));
    let mut per_route = std::mem::take(&mut t.routes);
    let attempts: u64 = t.codes.values().sum();
    if let Some(path) = &o.out {
        let text: String = t.acked.iter().map(|i| format!("{i}\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: writing {path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let share: BTreeMap<&String, String> = t
        .codes
        .iter()
        .map(|(k, v)| {
            (
                k,
                format!("{:.2}%", 100.0 * *v as f64 / attempts.max(1) as f64),
            )
        })
        .collect();
    let mut routes = serde_json::Map::new();
    eprintln!(
        "{:<36} {:>8} {:>9} {:>9}  outcomes",
        "route", "attempts", "p50 ms", "p99 ms"
    );
    for (key, r) in per_route.iter_mut() {
        r.latencies.sort_by(|a, b| a.total_cmp(b));
        let n: u64 = r.outcomes.values().sum();
        let share: BTreeMap<&String, String> = r
            .outcomes
            .iter()
            .map(|(k, v)| (k, format!("{:.2}%", 100.0 * *v as f64 / n.max(1) as f64)))
            .collect();
        let (p50, p99) = (pct(&r.latencies, 0.5), pct(&r.latencies, 0.99));
        eprintln!(
            "{key:<36} {n:>8} {p50:>9.2} {p99:>9.2}  {}",
            share
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        routes.insert(
            key.clone(),
            serde_json::json!({
                "attempts": n,
                "p50_ms": (p50 * 100.0).round() / 100.0,
                "p99_ms": (p99 * 100.0).round() / 100.0,
                "outcomes": r.outcomes,
                "share": share,
            }),
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "routes": routes,
            "seconds": (secs * 100.0).round() / 100.0,
            "attempts": attempts,
            "requests_per_s": ((attempts as f64 / secs) * 10.0).round() / 10.0,
            "acked": t.acked.len(),
            "unacknowledged": t.lost.len(),
            "retries": t.retries,
            "codes": t.codes,
            "share": share,
            "p50_ms": (pct(&t.latencies, 0.5) * 100.0).round() / 100.0,
            "p99_ms": (pct(&t.latencies, 0.99) * 100.0).round() / 100.0,
        })
    );
    std::process::ExitCode::SUCCESS
}
