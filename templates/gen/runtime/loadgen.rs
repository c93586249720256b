//! Load generator: drives the running service with commands and queries and prints
//! command latency, query latency and projection lag per view (the figures `fz sim`
//! predicts).
//!
//! `cargo run --release --bin loadgen -- --url http://127.0.0.1:8080 --rate 2000 --reads 2000 --duration 30s [--format json]`
//!
//! `--users N` runs a closed loop instead of `--rate`: N users, each sending its next
//! command as soon as the answer to the last one arrives (no think time).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    url: String,
    rate: f64,
    reads: f64,
    duration: Duration,
    json: bool,
    concurrency: usize,
    /// Closed loop: this many users, each waiting for its answer before the next command.
    users: Option<usize>,
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(s.trim().len()),
    );
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        rate: 1000.0,
        reads: 1000.0,
        duration: Duration::from_secs(30),
        json: false,
        concurrency: 128,
        users: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value()?.trim_end_matches('/').to_string(),
            "--rate" => a.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--reads" => a.reads = value()?.parse().map_err(|e| format!("--reads: {e}"))?,
            "--duration" => {
                a.duration = parse_duration(&value()?).ok_or("--duration: use e.g. 30s")?
            }
            "--concurrency" => {
                a.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?
            }
            "--users" => {
                let n: usize = value()?.parse().map_err(|e| format!("--users: {e}"))?;
                if n == 0 {
                    return Err("--users: must be at least 1".into());
                }
                a.users = Some(n)
            }
            "--format" => a.json = value()? == "json",
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Paces requests: the k-th request is due at start + k / rate (at once in a closed
/// loop, rate infinite).
///
/// An open loop's due times come from a thread of its own, sleeping on the OS timer
/// and handing one permit a due request to the workers. tokio's timer wheel (1 ms
/// ticks, fired when a parked worker wakes) sent the requests of a "paced" loop in
/// bursts in step with the service's own timers: on 2 cores at 1,000 commands/s the
/// sends came in pairs just after each group commit started, so each waited out the
/// whole commit rest (a mean wait of 1.29 ms at the writer instead of 0.84 ms), and
/// the client measured a queue the paced model it is compared with does not have.
struct Pacer {
    end: Instant,
    /// `None`: a closed loop, each worker sends as soon as it has its answer.
    permits: Option<Arc<tokio::sync::Semaphore>>,
}

impl Pacer {
    fn new(start: Instant, rate: f64, end: Instant) -> Result<Pacer, String> {
        if !rate.is_finite() {
            return Ok(Pacer { end, permits: None });
        }
        let permits = Arc::new(tokio::sync::Semaphore::new(0));
        let handed = permits.clone();
        std::thread::Builder::new()
            .name("pacer".into())
            .spawn(move || {
                let due = |k: u64| start + Duration::from_secs_f64(k as f64 / rate);
                let mut k = 0u64;
                while due(k) < end {
                    let now = Instant::now();
                    if due(k) > now {
                        std::thread::sleep(due(k) - now);
                    }
                    // Every request due by now, in one hand-over when the sleep overran.
                    let now = Instant::now();
                    let mut n = 0;
                    while due(k) <= now && due(k) < end {
                        k += 1;
                        n += 1;
                    }
                    handed.add_permits(n);
                }
                // The last permits stand until the run's end (a worker late by a few µs
                // still sends what was due); then workers still waiting are let go.
                let now = Instant::now();
                if end > now {
                    std::thread::sleep(end - now);
                }
                handed.close();
            })
            .map_err(|e| format!("cannot start the pacing thread: {e}"))?;
        Ok(Pacer {
            end,
            permits: Some(permits),
        })
    }

    /// Waits until the next request is due; false once the run is over.
    async fn wait(&self) -> bool {
        if let Some(permits) = &self.permits {
            match permits.acquire().await {
                Ok(p) => p.forget(),
                Err(_) => return false,
            }
        }
        Instant::now() < self.end
    }
}

#[derive(Default)]
struct Stats {
    command_latency: Mutex<Vec<f64>>,
    query_latency: Mutex<Vec<f64>>,
    /// Per answered request: what loadgen measured less what the service says it spent,
    /// commands' and queries' apart (a command's answer leaves with its commit's others).
    command_transport: Mutex<Vec<f64>>,
    query_transport: Mutex<Vec<f64>>,
    sent: AtomicU64,
    /// Aggregates a command sequence was started on.
    aggregates: AtomicU64,
    acknowledged: AtomicU64,
    errors: AtomicU64,
    ids: Mutex<Vec<String>>,
}

impl Stats {
    /// Records the time of an answered request that is not the service's: what loadgen
    /// measured (`elapsed`) less the service's own time on it, where the answer said.
    fn transport(&self, http: &Http, elapsed: Duration, query: bool) {
        if let Some(ns) = http.handled_ns {
            let gap = elapsed.saturating_sub(Duration::from_nanos(ns));
            let gaps = if query {
                &self.query_transport
            } else {
                &self.command_transport
            };
            if let Ok(mut t) = gaps.lock() {
                t.push(gap.as_secs_f64());
            }
        }
    }
}

/// The distribution of `v` (seconds) as fz's `empirical(...)` profile syntax: its
/// quantiles at fixed probabilities, the tail finer than the body.
fn empirical(v: &mut [f64]) -> Option<String> {
    if v.len() < 100 {
        return None;
    }
    let probs = [
        0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995,
        0.999, 1.0,
    ];
    let mut points: Vec<(u64, f64)> = Vec::new();
    for p in probs {
        let ns = (quantile(v, p) * 1e9).round() as u64;
        match points.last_mut() {
            // The same time at a higher probability: one point, the higher one.
            Some(last) if last.0 >= ns => last.1 = p,
            _ => points.push((ns, p)),
        }
    }
    if points.len() < 2 {
        return None;
    }
    let body: Vec<String> = points.iter().map(|(ns, p)| format!("{ns}ns {p}")).collect();
    Some(format!("empirical({})", body.join(", ")))
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Prints the first few failures, so a run with errors says what they were.
fn report_error(stats: &Stats, what: &str) {
    if stats.errors.load(Ordering::Relaxed) < 5 {
        eprintln!("loadgen: {what}");
    }
}

/// A minimal HTTP/1.1 client: one keep-alive connection, one request at a time.
/// The service answers every request with a `Content-Length`, so this is all loadgen
/// needs; a general client (reqwest with its URL and TLS stack) would add more to the
/// project's build than the service itself.
struct Http {
    /// `host:port` to connect to (and the `Host` header).
    host: String,
    conn: Option<TcpStream>,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
    /// The request being written (reused).
    out: Vec<u8>,
    /// The service's time on the last answer (its `x-fz-handled-ns` header), if it said.
    handled_ns: Option<u64>,
{%- if plan.uses("authorize") %}
    /// `LOADGEN_TOKEN`: the bearer token when the service has a JWT_SECRET.
    token: Option<String>,
{%- endif %}
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Http {
    /// A client of `url` (`http://host[:port]`; no TLS).
    fn new(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url {url}: loadgen speaks plain http:// only"))?;
        let host = rest.split('/').next().unwrap_or("");
        if host.is_empty() {
            return Err(format!("--url {url}: no host"));
        }
        let host = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        Ok(Http {
            host,
            conn: None,
            buf: Vec::with_capacity(8192),
            out: Vec::with_capacity(512),
            handled_ns: None,
{%- if plan.uses("authorize") %}
            token: std::env::var("LOADGEN_TOKEN").ok(),
{%- endif %}
        })
    }

    /// Sends a request (a JSON body for POST) and reads the answer: status and body.
    /// A failed request drops the connection; the next one opens a new one.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), String> {
        let result = self.exchange(method, path, body).await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), String> {
        use std::io::Write as _;
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.host)
                .await
                .map_err(|e| format!("connecting to {}: {e}", self.host))?;
            let _ = s.set_nodelay(true);
            self.conn = Some(s);
            self.buf.clear();
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err("no connection".into());
        };
        self.out.clear();
        let _ = write!(self.out, "{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
{%- if plan.uses("authorize") %}
        if let Some(t) = &self.token {
            let _ = write!(self.out, "Authorization: Bearer {t}\r\n");
        }
{%- endif %}
        match body {
            Some(b) => {
                let _ = write!(
                    self.out,
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                self.out.extend_from_slice(b);
            }
            None => self.out.extend_from_slice(b"\r\n"),
        }
        conn.write_all(&self.out).await.map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err("response head over 64 KiB".into());
            }
            let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed by the service".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| "response head is not UTF-8".to_string())?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line in {head:?}"))?;
        let (mut length, mut close) = (None, false);
        self.handled_ns = None;
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case({{ plan.crate_name }}::metrics::HANDLED_HEADER) {
                self.handled_ns = v.parse::<u64>().ok();
            } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                close = true;
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!("transfer-encoding {v} is not supported"));
            }
        }
        let length = length.ok_or("response without Content-Length")?;
        while self.buf.len() < head_end + length {
            let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed inside a response".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        if close {
            self.conn = None;
        }
        Ok((status, body))
    }
}

async fn post(http: &mut Http, path: &str, body: Value, stats: &Stats) -> bool {
    stats.sent.fetch_add(1, Ordering::Relaxed);
    {{ plan.crate_name }}::metrics::spell_item();
    let t = Instant::now();
    let body = body.to_string();
    let ok = match http.request("POST", path, Some(body.as_bytes())).await {
        Ok((status, _)) if (200..300).contains(&status) => true,
        Ok((status, text)) => {
            let text = String::from_utf8_lossy(&text);
            report_error(stats, &format!("{path}: {status} {text}"));
            false
        }
        Err(e) => {
            report_error(stats, &format!("{path}: {e}"));
            false
        }
    };
    if ok {
        let elapsed = t.elapsed();
        stats.acknowledged.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = stats.command_latency.lock() {
            l.push(elapsed.as_secs_f64());
        }
        stats.transport(http, elapsed, false);
    } else {
        stats.errors.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

/// One simulated client: runs the command sequence of the domain on fresh aggregates.
async fn command_worker(
    mut http: Http,
    worker: usize,
    pacer: Arc<Pacer>,
    stats: Arc<Stats>,
    run: u64,
) {
    let mut n = 0u64;
    'outer: loop {
        n += 1;
        let id = format!("lg-{run}-{worker}-{n}");
        stats.aggregates.fetch_add(1, Ordering::Relaxed);
        let k = n % 100;
        let steps: Vec<(&str, Value)> = {% if plan.aggregates.len() > 1 %}match n % {{ plan.aggregates.len() }} {{ "{" }}{% endif %}
{%- for a in plan.aggregates %}
            {% if plan.aggregates.len() > 1 %}{% if loop.last %}_{% else %}{{ loop.index0 }}{% endif %} => {% endif %}vec![
{%- for c in a.commands %}
                (
                    "{{ c.slug }}",
                    json!({
                        "{{ a.id_field }}": id,
{%- for f in c.fields %}
                        "{{ f.name }}": {% if f.is_int %}1{% else %}format!("{{ f.name }}-{k}"){% endif %},
{%- endfor %}
                    }),
                ),
{%- endfor %}
            ]{% if plan.aggregates.len() > 1 %},{% else %};{% endif %}
{%- endfor %}
{%- if plan.aggregates.len() > 1 %}
        };
{%- endif %}
        for (i, (cmd, body)) in steps.into_iter().enumerate() {
            if !pacer.wait().await {
                break 'outer;
            }
{%- if plan.uses("idempotency") %}
            // The task-based UI's endpoint: every command with a client-made id.
            let mut body = body;
            if let Some(o) = body.as_object_mut() {
                o.insert("command_id".into(), json!(format!("{id}-{i}")));
                o.insert("command".into(), json!(cmd));
            }
            let ok = post(&mut http, "/commands", body, &stats).await;
{%- else %}
            let ok = post(&mut http, &format!("/commands/{cmd}"), body, &stats).await;
{%- endif %}
            if !ok {
                continue 'outer;
            }
            if i == 0 {
                if let Ok(mut ids) = stats.ids.lock() {
                    if ids.len() < 100_000 {
                        ids.push(id.clone());
                    }
                }
            }
        }
    }
}

/// One simulated reader: queries the views by id and by page.
async fn query_worker(
    mut http: Http,
    worker: usize,
    pacer: Arc<Pacer>,
    stats: Arc<Stats>,
) {
    let mut n = worker as u64;
    while pacer.wait().await {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = stats
            .ids
            .lock()
            .ok()
            .and_then(|ids| (!ids.is_empty()).then(|| ids[(n >> 33) as usize % ids.len()].clone()))
            .unwrap_or_else(|| "none".into());
        let k = n % 100;
        let paths = [
{%- for p in plan.projectors %}
{%- if p.view.kind == "table" %}
            format!("/views/{{ p.view.slug }}/{id}"),
            "/views/{{ p.view.slug }}?limit=10".to_string(),
{%- else if p.view.kind == "cache" %}
{%- match p.view.key %}{% when Some with (key) %}
            format!("/views/{{ p.view.slug }}/{{ key }}-{k}"),
{%- when None %}
            format!("/views/{{ p.view.slug }}/{id}"),
{%- endmatch %}
{%- else if p.view.kind == "cube" %}
            "/views/{{ p.view.slug }}?limit=10".to_string(),
{%- else %}
            format!("/views/{{ p.view.slug }}/{id}"),
            format!("/views/{{ p.view.slug }}/search?q={{ p.view.fields[0].name }}-{k}&limit=10"),
{%- endif %}
{%- endfor %}
        ];
        let _ = k;
        let path = &paths[(n >> 20) as usize % paths.len()];
        {{ plan.crate_name }}::metrics::spell_item();
        let t = Instant::now();
        match http.request("GET", path, None).await {
            Ok((status, _)) if (200..300).contains(&status) || status == 404 => {
                let elapsed = t.elapsed();
                if let Ok(mut l) = stats.query_latency.lock() {
                    l.push(elapsed.as_secs_f64());
                }
                stats.transport(&http, elapsed, true);
            }
            Ok((status, _)) => {
                report_error(&stats, &format!("{path}: {status}"));
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                report_error(&stats, &format!("{path}: {e}"));
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The service's `/metrics` text (empty if it cannot be read).
async fn metrics_text(base: &str) -> String {
    let Ok(mut http) = Http::new(base) else {
        return String::new();
    };
    match http.request("GET", "/metrics", None).await {
        Ok((200, body)) => String::from_utf8_lossy(&body).into_owned(),
        _ => String::new(),
    }
}

/// Projection lag per projector, from the service's `/metrics` summary.
fn lags(text: &str) -> BTreeMap<String, [f64; 3]> {
    let views: &[(&str, &str)] = &[
{%- for p in plan.projectors %}
        ("{{ p.module }}", "{{ p.view.slug }}"),
{%- endfor %}
    ];
    let mut out = BTreeMap::new();
    for (projector, view) in views {
        let mut q = [0.0; 3];
        for (i, quant) in ["0.5", "0.99", "1"].iter().enumerate() {
            let prefix =
                format!("projector_lag_seconds{{ "{{" }}projector=\"{projector}\",quantile=\"{quant}\"{{ "}}" }} ");
            if let Some(line) = text.lines().find(|l| l.starts_with(&prefix)) {
                q[i] = line[prefix.len()..].trim().parse().unwrap_or(0.0);
            }
        }
        out.insert(view.to_string(), q);
    }
    out
}

/// The service's own query latency histogram (`query_duration_seconds`) in a
/// `/metrics` text: bucket bounds with cumulative counts, `+Inf` last.
fn service_histogram(text: &str) -> Vec<(f64, u64)> {
    let prefix = "query_duration_seconds_bucket{le=\"";
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(prefix)?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, count.trim().parse().ok()?))
        })
        .collect()
}

/// Quantile `q` of the queries the service answered between two histogram reads,
/// interpolated inside its bucket (the time spent in the handler, without the
/// network and the scheduling of either process).
fn service_quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> f64 {
    let delta: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| {
            let was = before.iter().find(|(b, _)| b == le).map(|(_, n)| *n).unwrap_or(0);
            (*le, n.saturating_sub(was))
        })
        .collect();
    let total = delta.last().map(|(_, n)| *n).unwrap_or(0);
    if total == 0 {
        return 0.0;
    }
    let target = q * total as f64;
    let (mut lower, mut below) = (0.0, 0u64);
    for (le, n) in delta {
        if n as f64 >= target {
            if le.is_infinite() {
                return lower;
            }
            let inside = (n - below).max(1) as f64;
            return lower + (le - lower) * ((target - below as f64) / inside).clamp(0.0, 1.0);
        }
        (lower, below) = (le, n);
    }
    lower
}

fn main() -> std::process::ExitCode {
    // Its workers' busy spells timed, as the service's are: `client.spells` in the report.
    match {{ plan.crate_name }}::metrics::runtime() {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("loadgen: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}\nusage: loadgen --url URL (--rate N | --users N) --reads M --duration 30s [--format json] [--concurrency C]");
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(e) = Http::new(&args.url) {
        eprintln!("loadgen: {e}");
        return std::process::ExitCode::from(2);
    }
    let stats = Arc::new(Stats::default());
    let histogram_before = service_histogram(&metrics_text(&args.url).await);
    let start = Instant::now() + Duration::from_millis(50);
    // The load generator's own CPU over the run: on the machine it measures, it takes its
    // share of the cores the service runs on (`fz sim`'s `[host] client`).
    let cpu_before = {{ plan.crate_name }}::metrics::process_cpu_seconds();
    let end = start + args.duration;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut tasks = Vec::new();
    if args.rate > 0.0 || args.users.is_some() {
        let rate = if args.users.is_some() { f64::INFINITY } else { args.rate };
        let pacer = match Pacer::new(start, rate, end) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                eprintln!("loadgen: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        if args.users.is_some() {
            tokio::time::sleep_until(start.into()).await;
        }
        for w in 0..args.users.unwrap_or(args.concurrency).max(1) {
            let Ok(http) = Http::new(&args.url) else {
                return std::process::ExitCode::from(2);
            };
            tasks.push(tokio::spawn(command_worker(
                http,
                w,
                pacer.clone(),
                stats.clone(),
                run,
            )));
        }
    }
    // Queries run on their own thread and runtime, so their timing does not wait
    // behind the command workers' JSON and bookkeeping in this process.
    let mut query_thread = None;
    if args.reads > 0.0 {
        let pacer = match Pacer::new(start, args.reads, end) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                eprintln!("loadgen: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let (url, workers, stats) = (args.url.clone(), (args.concurrency / 2).max(1), stats.clone());
        let spawned = std::thread::Builder::new()
            .name("queries".into())
            .spawn(move || -> Result<(), String> {
                let rt = {{ plan.crate_name }}::metrics::with_spells(
                    tokio::runtime::Builder::new_current_thread().enable_all(),
                )
                .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async move {
                    let mut tasks = Vec::new();
                    for w in 0..workers {
                        tasks.push(tokio::spawn(query_worker(
                            Http::new(&url)?,
                            w,
                            pacer.clone(),
                            stats.clone(),
                        )));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                    Ok(())
                })
            });
        match spawned {
            Ok(t) => query_thread = Some(t),
            Err(e) => {
                eprintln!("loadgen: cannot start the query thread: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    if let Some(t) = query_thread {
        match tokio::task::spawn_blocking(move || t.join()).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                eprintln!("loadgen: queries: {e}");
                return std::process::ExitCode::FAILURE;
            }
            _ => {
                eprintln!("loadgen: the query thread failed");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let client_cpu = match (cpu_before, {{ plan.crate_name }}::metrics::process_cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a).max(0.0)),
        _ => None,
    };
    // Let the views catch up before reading the lag figures.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = metrics_text(&args.url).await;
    let lags = lags(&metrics);
    let histogram_after = service_histogram(&metrics);
    let mut cl = stats
        .command_latency
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    let mut ql = stats
        .query_latency
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    let gaps = |g: &Mutex<Vec<f64>>| g.lock().map(|v| v.clone()).unwrap_or_default();
    let (mut command_transport, mut query_transport) =
        (gaps(&stats.command_transport), gaps(&stats.query_transport));
    let mut transport = [command_transport.as_slice(), query_transport.as_slice()].concat();
    let acknowledged = stats.acknowledged.load(Ordering::Relaxed);
    // Every request sent: the commands and the queries that were answered.
    let requests = stats.sent.load(Ordering::Relaxed) + ql.len() as u64;
    let report = json!({
        "commands": {
            "users": args.users,
            "sent": stats.sent.load(Ordering::Relaxed),
            "acknowledged": acknowledged,
            "per_second": acknowledged as f64 / elapsed,
            // Commands sent per aggregate: each worker (or user) runs the domain's command
            // sequence on one aggregate, then starts a fresh one (fz sim: `sequence(m)` keys).
            "per_aggregate": stats.sent.load(Ordering::Relaxed) as f64
                / stats.aggregates.load(Ordering::Relaxed).max(1) as f64,
            "workers": args.users.unwrap_or(args.concurrency),
            "p50": quantile(&mut cl, 0.5),
            "p99": quantile(&mut cl, 0.99),
        },
        "queries": {
            "per_second": ql.len() as f64 / elapsed,
            "p50": quantile(&mut ql, 0.5),
            "p99": quantile(&mut ql, 0.99),
            "service_p50": service_quantile(&histogram_before, &histogram_after, 0.5),
            "service_p99": service_quantile(&histogram_before, &histogram_after, 0.99),
        },
        "views": lags.iter().map(|(k, q)| (k.clone(), json!({"lag_p50": q[0], "lag_p99": q[1], "lag_max": q[2]}))).collect::<serde_json::Map<_, _>>(),
        "errors": stats.errors.load(Ordering::Relaxed),
        "client": {
            "cpu_seconds": client_cpu,
            "cpu_per_request": client_cpu.map(|c| c / requests.max(1) as f64),
            "requests": requests,
            // The threads its requests are sent on: the command runtime's workers and,
            // with queries, the query thread (at most this many cores are loadgen's).
            "threads": tokio::runtime::Handle::current().metrics().num_workers()
                + usize::from(args.reads > 0.0),
            // Its runtimes' busy spells against the requests each sent: the slope is its
            // CPU per request, the rest of `cpu_seconds` its wake-ups' (docs/fidelity.md).
            "spells": {{ plan.crate_name }}::metrics::spell_sums(),
        },
        // Per answered request, loadgen's time less the service's own (its
        // x-fz-handled-ns): the loopback, both sides' wake-ups, their waits for a core.
        "transport": {
            "count": transport.len(),
            "p50": quantile(&mut transport, 0.5),
            "p99": quantile(&mut transport, 0.99),
            "distribution": empirical(&mut transport),
            "commands": {
                "count": command_transport.len(),
                "p50": quantile(&mut command_transport, 0.5),
                "p99": quantile(&mut command_transport, 0.99),
                "distribution": empirical(&mut command_transport),
            },
            "queries": {
                "count": query_transport.len(),
                "p50": quantile(&mut query_transport, 0.5),
                "p99": quantile(&mut query_transport, 0.99),
                "distribution": empirical(&mut query_transport),
            },
        },
    });
{%- if plan.uses("notification_websocket") %}
    // Accepted to confirmed (the read model applied it), from the service's window.
    let mut report = report;
    let confirmation = |q: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&["command_confirmation_seconds", "{quantile=\"", q, "\""].concat()))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    report["confirmations"] = json!({"p50": confirmation("0.5"), "p99": confirmation("0.99")});
{%- endif %}
    if args.json {
        println!("{report}");
    } else {
        println!(
            "commands: {} sent, {} acknowledged, {:.0}/s, p50 {:.3} ms, p99 {:.3} ms",
            report["commands"]["sent"],
            acknowledged,
            report["commands"]["per_second"].as_f64().unwrap_or(0.0),
            report["commands"]["p50"].as_f64().unwrap_or(0.0) * 1e3,
            report["commands"]["p99"].as_f64().unwrap_or(0.0) * 1e3
        );
        println!(
            "queries:  {:.0}/s, p50 {:.3} ms, p99 {:.3} ms (inside the service: p50 {:.3} ms, p99 {:.3} ms)",
            report["queries"]["per_second"].as_f64().unwrap_or(0.0),
            report["queries"]["p50"].as_f64().unwrap_or(0.0) * 1e3,
            report["queries"]["p99"].as_f64().unwrap_or(0.0) * 1e3,
            report["queries"]["service_p50"].as_f64().unwrap_or(0.0) * 1e3,
            report["queries"]["service_p99"].as_f64().unwrap_or(0.0) * 1e3
        );
        for (view, q) in &lags {
            println!(
                "view {view}: lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                q[0] * 1e3,
                q[1] * 1e3,
                q[2] * 1e3
            );
        }
        println!("errors: {}", report["errors"]);
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::{Http, Pacer};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pacer_sends_each_request_no_sooner_than_due_and_stops_at_the_end() {
        let (rate, run) = (2000.0, Duration::from_millis(60));
        let start = Instant::now() + Duration::from_millis(5);
        let pacer = Arc::new(Pacer::new(start, rate, start + run).expect("pacer"));
        // More workers than the loop needs, as loadgen runs them: each takes the next
        // due request, and every one of them is let go when the run ends.
        let mut workers = Vec::new();
        for _ in 0..8 {
            let pacer = pacer.clone();
            workers.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                while pacer.wait().await {
                    sent.push(Instant::now());
                }
                (sent, Instant::now())
            }));
        }
        let (mut sent, mut last_stop) = (Vec::new(), start);
        for w in workers {
            let (s, stopped) = w.await.expect("worker");
            sent.extend(s);
            last_stop = last_stop.max(stopped);
        }
        sent.sort();
        // 120 due in the run, never more; one may find the run over by the time its worker
        // wakes. More are lost only where a worker was kept off the cores past the end
        // (a loaded machine: a send or a stop over 1 ms late), never while they keep up.
        let late = Duration::from_millis(1);
        let mut starved = last_stop > start + run + late;
        assert!(sent.len() <= 120, "{} sent", sent.len());
        for (k, t) in sent.iter().enumerate() {
            let due = start + Duration::from_secs_f64(k as f64 / rate);
            assert!(*t >= due, "request {k} sent {:?} before it was due", due - *t);
            starved |= *t > due + late;
        }
        assert!(sent.len() >= 119 || starved, "{} sent, every one on time", sent.len());
        // A closed loop has no pacing thread: each wait returns at once.
        let closed = Pacer::new(Instant::now(), f64::INFINITY, Instant::now() + run).expect("closed");
        assert!(closed.permits.is_none() && closed.wait().await);
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_transport_distribution_is_fz_empirical_syntax_of_the_gaps() {
        // 1..=1000 µs: quantiles at fixed probabilities, each time once.
        let mut gaps: Vec<f64> = (1..=1000).map(|us| us as f64 * 1e-6).collect();
        let d = super::empirical(&mut gaps).expect("a distribution");
        assert!(d.starts_with("empirical(1000ns 0, 51000ns 0.05, "), "{d}");
        assert!(d.ends_with(", 999000ns 0.999, 1000000ns 1)"), "{d}");
        // Equal times merge into one point at the higher probability.
        let mut flat = vec![0.002; 500];
        flat.extend(vec![0.004; 500]);
        assert_eq!(super::empirical(&mut flat).as_deref(), Some("empirical(2000000ns 0.4, 4000000ns 1)"));
        // Too few to be a distribution.
        assert_eq!(super::empirical(&mut vec![0.001; 99]), None);
    }

    #[tokio::test]
    async fn the_client_reads_answers_on_one_kept_alive_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            for answer in ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-Fz-Handled-Ns: 12345\r\n\r\nok", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"] {
                let n = s.read(&mut buf).await.expect("read");
                seen.extend_from_slice(&buf[..n]);
                s.write_all(answer.as_bytes()).await.expect("write");
            }
            String::from_utf8(seen).expect("utf-8")
        });
        let mut http = Http::new(&format!("http://{addr}")).expect("client");
        let (status, body) = http.request("POST", "/commands/x", Some(b"{}")).await.expect("first");
        assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
        // The service's own time on it, whatever the header's case; none on an answer without.
        assert_eq!(http.handled_ns, Some(12345));
        let (status, body) = http.request("GET", "/views/v/1", None).await.expect("second");
        assert_eq!((status, body.len()), (404, 0));
        assert_eq!(http.handled_ns, None);
        let seen = server.await.expect("server");
        assert!(seen.starts_with("POST /commands/x HTTP/1.1\r\n"), "{seen}");
        assert!(seen.contains("Content-Length: 2\r\n\r\n{}GET /views/v/1 HTTP/1.1\r\n"), "{seen}");
        assert!(Http::new("https://example.com").is_err());
    }
}
