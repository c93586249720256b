//! Prometheus text metrics: commands, events, per-projector checkpoint and lag,
//! query latency histogram, and per diagram node the time its code spends on each
//! item (`fz_node_seconds{node="n4",stage="..."}`) and the concurrency it runs with
//! (`fz_node_concurrency{node="n4",kind="servers"}`), which `fz calibrate` reads.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The diagram node of each timed component (the `node` label; empty: no such
/// node), from the plan (`app::NODES`).
#[derive(Debug, Clone, Copy)]
pub struct NodeIds {
    pub command_source: &'static str,
    pub command_handler: &'static str,
    pub validator: &'static str,
    pub write_commit: &'static str,
    pub event_publisher: &'static str,
    pub event_router: &'static str,
    pub ordering: &'static str,
    pub delivery: &'static str,
    pub query_api: &'static str,
    /// Projector name, projector node, view node.
    pub projectors: &'static [(&'static str, &'static str, &'static str)],
}

/// Sub-buckets per power of two of a [`Histogram`] (2^SUB_BITS): about 4% wide.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets: values 0..SUB exactly, then SUB per power of two up to 2^40 (ns: ~18 min).
const BUCKETS: usize = (SUB as usize) * (41 - SUB_BITS as usize);

/// A lock-free log-linear histogram of non-negative integers (nanoseconds, or a
/// batch size): recording is two relaxed atomic adds (the bucket and the sum; the count
/// is the buckets' total), so it never blocks.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    (((e - SUB_BITS + 1) as u64 * SUB + sub) as usize).min(BUCKETS - 1)
}

/// Exclusive upper bound of bucket `i`.
fn bucket_end(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i + 1;
    }
    let e = i / SUB - 1 + SUB_BITS as u64;
    let sub = i % SUB;
    (SUB + sub + 1) << (e - SUB_BITS as u64)
}

impl Histogram {
    /// Records `n` items of value `v`.
    #[inline]
    pub fn record_n(&self, v: u64, n: u64) {
        self.buckets[bucket_of(v)].fetch_add(n, Ordering::Relaxed);
        self.sum.fetch_add(v.saturating_mul(n), Ordering::Relaxed);
    }
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.load(Ordering::Relaxed) == 0)
    }
    /// Records one value.
    #[inline]
    pub fn record(&self, v: u64) {
        self.record_n(v, 1);
    }
    /// Records the time since `start`, in nanoseconds.
    #[inline]
    pub fn since(&self, start: Instant) {
        self.record(start.elapsed().as_nanos() as u64);
    }
    /// Writes the histogram as Prometheus text: `name_bucket`, `_sum`, `_count`, with
    /// `labels` in each; `scale` turns a value into the unit of `le` (1e-9 for seconds).
    /// Only the bounds of buckets that hold something are written (each one's lower
    /// bound too when the bucket below it is empty), so the text stays short.
    fn render(&self, s: &mut String, name: &str, labels: &str, scale: f64) {
        let mut cum = 0u64;
        let mut written = usize::MAX;
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            if n > 0 {
                // Bounds are inclusive: bucket i holds the integers up to bucket_end(i) - 1.
                if i > 0 && written != i - 1 {
                    let lo = (bucket_end(i - 1) - 1) as f64 * scale;
                    let _ = writeln!(s, "{name}_bucket{{{labels},le=\"{lo:e}\"}} {cum}");
                }
                cum += n;
                let le = (bucket_end(i) - 1) as f64 * scale;
                let _ = writeln!(s, "{name}_bucket{{{labels},le=\"{le:e}\"}} {cum}");
                written = i;
            }
        }
        let _ = writeln!(s, "{name}_bucket{{{labels},le=\"+Inf\"}} {cum}");
        let _ = writeln!(
            s,
            "{name}_sum{{{labels}}} {}",
            self.sum.load(Ordering::Relaxed) as f64 * scale
        );
        let _ = writeln!(s, "{name}_count{{{labels}}} {cum}");
    }
}

/// Sums for a least-squares fit of a batch's time against its size (time = a + b × size):
/// count, Σsize, Σsize², Σtime, Σsize×time (nanoseconds).
#[derive(Default)]
pub struct BatchFit {
    n: AtomicU64,
    k: AtomicU64,
    kk: AtomicU64,
    t: AtomicU64,
    kt: AtomicU64,
    cpu_t: AtomicU64,
    cpu_kt: AtomicU64,
}

impl BatchFit {
    pub const fn new() -> Self {
        BatchFit {
            n: AtomicU64::new(0),
            k: AtomicU64::new(0),
            kk: AtomicU64::new(0),
            t: AtomicU64::new(0),
            kt: AtomicU64::new(0),
            cpu_t: AtomicU64::new(0),
            cpu_kt: AtomicU64::new(0),
        }
    }
    /// Records one batch of `k` items that took `ns`.
    pub fn record(&self, k: u64, ns: u64) {
        self.n.fetch_add(1, Ordering::Relaxed);
        self.k.fetch_add(k, Ordering::Relaxed);
        self.kk.fetch_add(k * k, Ordering::Relaxed);
        self.t.fetch_add(ns, Ordering::Relaxed);
        self.kt.fetch_add(k.saturating_mul(ns), Ordering::Relaxed);
    }
    /// Records one batch of `k` items that took `ns` of wall time and the calling thread's
    /// CPU since `cpu_start` (`thread_cpu_ns()` when the batch began): a batch's CPU does
    /// not grow with a wait before it, nor with the threads that preempt it, so its slope
    /// on the size is a cost per item even where batches form greedily.
    pub fn record_with_cpu(&self, k: u64, ns: u64, cpu_start: u64) {
        self.record(k, ns);
        self.record_cpu(k, thread_cpu_ns().saturating_sub(cpu_start));
    }
    fn record_cpu(&self, k: u64, cpu_ns: u64) {
        self.cpu_t.fetch_add(cpu_ns, Ordering::Relaxed);
        self.cpu_kt.fetch_add(k.saturating_mul(cpu_ns), Ordering::Relaxed);
    }
    fn render(&self, s: &mut String, node: &str) {
        self.render_as(s, "fz_node_batch_fit", &format!("node=\"{node}\","));
    }
    /// Renders the sums as `name{labels stat="…"}` (`labels` empty or ending in a comma).
    fn render_as(&self, s: &mut String, name: &str, labels: &str) {
        for (stat, v) in [
            ("n", &self.n),
            ("k", &self.k),
            ("kk", &self.kk),
            ("t_ns", &self.t),
            ("kt_ns", &self.kt),
            ("cpu_t_ns", &self.cpu_t),
            ("cpu_kt_ns", &self.cpu_kt),
        ] {
            let _ = writeln!(
                s,
                "{name}{{{labels}stat=\"{stat}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
}

/// What a node's timed code did: one histogram per stage.
pub struct NodeTiming {
    pub node: &'static str,
    pub stage: &'static str,
    /// Nanoseconds per item (or per batch, for `*_batch` stages).
    pub time: Histogram,
}

/// Per-node timings and the concurrency each node runs with.
pub struct Timings {
    /// n1: the command endpoint's parse of the body into a command.
    pub command: NodeTiming,
    /// n2: the command handler's own work: load or cache lookup, decide, encode.
    pub handle: NodeTiming,
    /// n3: the domain rules (decide).
    pub validate: NodeTiming,
    /// n4: one append, queued to durable (the group-commit wait, the batch, fsync).
    pub commit: NodeTiming,
    /// n4: one group commit's transaction, fsync included, per batch.
    pub commit_batch: NodeTiming,
    /// n4: appends per group commit.
    pub commit_size: Histogram,
    /// n4: batch time against batch size.
    pub commit_fit: BatchFit,
    /// n4: one WAL checkpoint (SQLite), run beside the commits by its own thread.
    pub checkpoint: NodeTiming,
    /// n6: the router's work per event (read back from the log, routing).
    pub route: NodeTiming,
    /// n6: one read of the log and the routing of what it returned, per batch.
    pub route_batch: NodeTiming,
    /// n6: events per read of the log.
    pub route_size: Histogram,
    /// n6: batch time against batch size (its fixed part: the read's own cost).
    pub route_fit: BatchFit,
    /// n7/n8: a partition's delivery of one event to its projectors.
    pub deliver: NodeTiming,
    /// Per projector: apply per batch, per event, batch size; per view: queries.
    pub projectors: Vec<ProjectorTiming>,
    /// n17: one query, request to answer, the view's read included.
    pub query: NodeTiming,
    /// The nodes of the components.
    pub ids: NodeIds,
    /// (node, kind, value): servers, queue and batch limits.
    concurrency: Mutex<Vec<(&'static str, &'static str, u64)>>,
}

/// Timings of one projector and its view.
pub struct ProjectorTiming {
    pub name: &'static str,
    pub apply_batch: NodeTiming,
    pub apply_event: NodeTiming,
    /// A view that shows its writes at intervals (a search index's refresh): the time of
    /// the applies of one such cycle, the last one's commit included.
    pub refresh: NodeTiming,
    pub batch_size: Histogram,
    pub batch_fit: BatchFit,
    pub query: NodeTiming,
}

fn timing(node: &'static str, stage: &'static str) -> NodeTiming {
    NodeTiming {
        node,
        stage,
        time: Histogram::default(),
    }
}

impl Timings {
    fn new(ids: &NodeIds) -> Self {
        Timings {
            command: timing(ids.command_source, "parse"),
            handle: timing(ids.command_handler, "handle"),
            validate: timing(ids.validator, "validate"),
            commit: timing(ids.write_commit, "commit"),
            commit_batch: timing(ids.write_commit, "commit_batch"),
            commit_size: Histogram::default(),
            commit_fit: BatchFit::default(),
            checkpoint: timing(ids.write_commit, "checkpoint"),
            route: timing(ids.event_router, "route"),
            route_batch: timing(ids.event_router, "route_batch"),
            route_size: Histogram::default(),
            route_fit: BatchFit::default(),
            deliver: timing(ids.ordering, "deliver"),
            projectors: ids
                .projectors
                .iter()
                .map(|(name, p, v)| ProjectorTiming {
                    name,
                    apply_batch: timing(p, "apply_batch"),
                    apply_event: timing(p, "apply"),
                    refresh: timing(p, "refresh"),
                    batch_size: Histogram::default(),
                    batch_fit: BatchFit::default(),
                    query: timing(v, "query"),
                })
                .collect(),
            query: timing(ids.query_api, "request"),
            ids: *ids,
            concurrency: Mutex::new(Vec::new()),
        }
    }

    /// The timings of the named projector (its module name).
    pub fn projector(&self, name: &str) -> Option<&ProjectorTiming> {
        self.projectors.iter().find(|p| p.name == name)
    }

    /// States a concurrency fact: `kind` is `servers`, `batch` (most items taken at
    /// once), `queue` (waiting room) or `interval_seconds` (least time between batches).
    pub fn set_concurrency(&self, node: &'static str, kind: &'static str, value: u64) {
        if node.is_empty() {
            return;
        }
        if let Ok(mut c) = self.concurrency.lock() {
            c.retain(|(n, k, _)| !(*n == node && *k == kind));
            c.push((node, kind, value));
        }
    }

    fn render(&self, s: &mut String) {
        let _ = writeln!(s, "# HELP fz_node_seconds Time a diagram node's code spends per item (per batch for *_batch stages).");
        let _ = writeln!(s, "# TYPE fz_node_seconds histogram");
        let mut all: Vec<&NodeTiming> = vec![
            &self.command,
            &self.handle,
            &self.validate,
            &self.commit,
            &self.commit_batch,
            &self.checkpoint,
            &self.route,
            &self.route_batch,
            &self.deliver,
            &self.query,
        ];
        for p in &self.projectors {
            all.extend([&p.apply_batch, &p.apply_event, &p.refresh, &p.query]);
        }
        for t in all {
            if t.node.is_empty() || t.time.is_empty() {
                continue;
            }
            let labels = format!("node=\"{}\",stage=\"{}\"", t.node, t.stage);
            t.time.render(s, "fz_node_seconds", &labels, 1e-9);
        }
        let _ = writeln!(s, "# HELP fz_node_batch_size Items a batching node takes at once.");
        let _ = writeln!(s, "# TYPE fz_node_batch_size histogram");
        if !self.ids.write_commit.is_empty() {
            let labels = format!("node=\"{}\"", self.ids.write_commit);
            self.commit_size
                .render(s, "fz_node_batch_size", &labels, 1.0);
        }
        if !self.ids.event_router.is_empty() && !self.route_size.is_empty() {
            let labels = format!("node=\"{}\"", self.ids.event_router);
            self.route_size.render(s, "fz_node_batch_size", &labels, 1.0);
        }
        for p in &self.projectors {
            let labels = format!("node=\"{}\"", p.apply_batch.node);
            p.batch_size.render(s, "fz_node_batch_size", &labels, 1.0);
        }
        let _ = writeln!(s, "# HELP fz_node_batch_fit Sums for fitting a batch's time to its size.");
        let _ = writeln!(s, "# TYPE fz_node_batch_fit counter");
        if !self.ids.write_commit.is_empty() {
            self.commit_fit.render(s, self.ids.write_commit);
        }
        if !self.ids.event_router.is_empty() && !self.route_size.is_empty() {
            self.route_fit.render(s, self.ids.event_router);
        }
        for p in &self.projectors {
            // Sized by the aggregates each batch wrote, not its events.
            let labels = format!("node=\"{}\",per=\"key\",", p.apply_batch.node);
            p.batch_fit.render_as(s, "fz_node_batch_fit", &labels);
        }
        let _ = writeln!(s, "# HELP fz_node_concurrency Servers, batch and queue limits of a diagram node.");
        let _ = writeln!(s, "# TYPE fz_node_concurrency gauge");
        if let Ok(c) = self.concurrency.lock() {
            for (n, k, v) in c.iter() {
                let _ = writeln!(s, "fz_node_concurrency{{node=\"{n}\",kind=\"{k}\"}} {v}");
            }
        }
        if let Some(cpu) = process_cpu_seconds() {
            // The CPU no node's timing covers (the HTTP stack, the kernel's TCP and I/O) is
            // this minus what the nodes measured: `fz calibrate` charges it to the requests.
            let _ = writeln!(s, "# HELP process_cpu_seconds_total User and system CPU of the service since it started.");
            let _ = writeln!(s, "# TYPE process_cpu_seconds_total counter");
            let _ = writeln!(s, "process_cpu_seconds_total {cpu}");
        }
        render_threads(s);
        render_spells(s);
    }
}

/// Threads that serve one diagram node (the event store's writer, each projector, the
/// router, the partitions): `/metrics` reports their CPU and their wake-ups (voluntary
/// context switches) per node, and the other threads' (the HTTP runtime's) together, so
/// `fz calibrate` can charge each node the CPU its timings do not cover.
static NODE_THREADS: Mutex<Vec<(i64, &'static str)>> = Mutex::new(Vec::new());

/// The calling thread serves `node` (nothing for an empty id).
pub fn thread_serves(node: &'static str) {
    if node.is_empty() {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid takes no arguments and cannot fail.
        let tid = i64::from(unsafe { libc::gettid() });
        if let Ok(mut v) = NODE_THREADS.lock() {
            v.retain(|(t, _)| *t != tid);
            v.push((tid, node));
        }
    }
}

/// The CPU the calling thread has used, in ns (0 where it cannot be read).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if ok {
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64)
    } else {
        0
    }
}

/// The HTTP runtime's busy spells (a worker thread's run from waking to sleeping again):
/// each spell's CPU against the requests it started. `fz calibrate` fits the line through
/// them: its slope is the HTTP stack's CPU per request (hyper's parsing, the socket reads
/// and writes), its intercept the cost of a wake-up (the futex, the scheduler, the
/// runtime's search for work before it sleeps), which one load alone cannot tell apart
/// from the threads' totals.
static HTTP_SPELLS: BatchFit = BatchFit::new();

thread_local! {
    /// Requests started on this thread, and (CPU ns, requests) when its spell began.
    static SPELL: std::cell::Cell<(u64, u64, u64)> = const { std::cell::Cell::new((0, 0, 0)) };
}

fn spell_begins() {
    let cpu = thread_cpu_ns();
    SPELL.with(|c| {
        let (items, _, _) = c.get();
        c.set((items, cpu, items));
    });
}

fn spell_ends() {
    let cpu = thread_cpu_ns();
    SPELL.with(|c| {
        let (items, start, items_then) = c.get();
        if start > 0 && cpu >= start {
            HTTP_SPELLS.record(items - items_then, cpu - start);
        }
        c.set((items, 0, items));
    });
}

/// Counts a request on the thread that serves (or, in loadgen, sends) it.
pub fn spell_item() {
    SPELL.with(|c| {
        let (items, start, then) = c.get();
        c.set((items + 1, start, then));
    });
}

/// The header an answer carries the service's time on its request in (nanoseconds).
pub const HANDLED_HEADER: &str = "x-fz-handled-ns";

/// Counts a request on the thread that serves it (a layer over every route), and stamps
/// its answer with the time the service spent on it ([`HANDLED_HEADER`]: from this layer
/// taking the request to the answer's head). A client that subtracts it from what it
/// measured has the time that is neither the service's handling nor its own: the
/// loopback, the two sides' wake-ups, their waits for a core (loadgen's `transport`).
pub async fn count_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    spell_item();
    let start = Instant::now();
    let mut answer = next.run(req).await;
    let ns = start.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
    answer
        .headers_mut()
        .insert(HANDLED_HEADER, axum::http::HeaderValue::from(ns));
    answer
}

/// Times the busy spells of a runtime's threads ([`spell_item`] counts their requests).
pub fn with_spells(b: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    b.on_thread_unpark(spell_begins).on_thread_park(spell_ends)
}

/// The HTTP runtime: tokio's multi-threaded scheduler, its workers' spells measured.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    with_spells(tokio::runtime::Builder::new_multi_thread().enable_all()).build()
}

/// This process's spells so far, as JSON sums (`n`, `k`, `kk`, `t_ns`, `kt_ns`): loadgen
/// reports its own, so that its CPU per request can be told from its CPU per wake-up.
pub fn spell_sums() -> serde_json::Value {
    let f = &HTTP_SPELLS;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    serde_json::json!({
        "n": get(&f.n),
        "k": get(&f.k),
        "kk": get(&f.kk),
        "t_ns": get(&f.t),
        "kt_ns": get(&f.kt),
    })
}

fn render_spells(s: &mut String) {
    let _ = writeln!(s, "# HELP fz_http_spells Sums for fitting the HTTP workers' CPU per busy spell (t_ns) to the requests it started (k).");
    let _ = writeln!(s, "# TYPE fz_http_spells counter");
    HTTP_SPELLS.render_as(s, "fz_http_spells", "");
}

/// Per thread of this process: its id, CPU seconds and voluntary context switches, from
/// /proc/self/task (Linux only; empty elsewhere).
fn thread_stats() -> Vec<(i64, f64, f64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let Some(tick) = clock_tick() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse::<i64>().ok()) else {
            continue;
        };
        let path = e.path();
        let Some(cpu) = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|st| cpu_of_stat(&st))
        else {
            continue;
        };
        let wakeups = std::fs::read_to_string(path.join("status"))
            .ok()
            .and_then(|st| {
                st.lines()
                    .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0);
        out.push((tid, cpu / tick, wakeups));
    }
    out
}

/// The kernel's clock ticks per second, the unit of /proc's CPU times.
fn clock_tick() -> Option<f64> {
    // SAFETY: sysconf only reads its argument.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (tick > 0).then_some(tick as f64)
}

/// utime + stime, in clock ticks, of a /proc stat line.
fn cpu_of_stat(stat: &str) -> Option<f64> {
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut f = rest.split_whitespace().skip(11);
    let (utime, stime): (f64, f64) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    Some(utime + stime)
}

fn render_threads(s: &mut String) {
    let threads = thread_stats();
    if threads.is_empty() {
        return;
    }
    let serving = NODE_THREADS.lock().map(|v| v.clone()).unwrap_or_default();
    let mut per_node: Vec<(&'static str, f64, f64)> = Vec::new();
    let (mut other_cpu, mut other_wakeups) = (0.0, 0.0);
    for (tid, cpu, wakeups) in threads {
        match serving.iter().find(|(t, _)| *t == tid) {
            Some((_, node)) => match per_node.iter_mut().find(|(n, _, _)| n == node) {
                Some(e) => {
                    e.1 += cpu;
                    e.2 += wakeups;
                }
                None => per_node.push((node, cpu, wakeups)),
            },
            None => {
                other_cpu += cpu;
                other_wakeups += wakeups;
            }
        }
    }
    let _ = writeln!(s, "# HELP fz_node_thread_cpu_seconds_total CPU of the threads that serve a diagram node.");
    let _ = writeln!(s, "# TYPE fz_node_thread_cpu_seconds_total counter");
    for (n, cpu, _) in &per_node {
        let _ = writeln!(s, "fz_node_thread_cpu_seconds_total{{node=\"{n}\"}} {cpu}");
    }
    let _ = writeln!(s, "# HELP fz_node_thread_wakeups_total Voluntary context switches (sleeps, so wake-ups) of the threads that serve a diagram node.");
    let _ = writeln!(s, "# TYPE fz_node_thread_wakeups_total counter");
    for (n, _, w) in &per_node {
        let _ = writeln!(s, "fz_node_thread_wakeups_total{{node=\"{n}\"}} {w}");
    }
    let _ = writeln!(s, "# HELP fz_other_threads_cpu_seconds_total CPU of the threads that serve no one node (the HTTP runtime's workers).");
    let _ = writeln!(s, "# TYPE fz_other_threads_cpu_seconds_total counter");
    let _ = writeln!(s, "fz_other_threads_cpu_seconds_total {other_cpu}");
    let _ = writeln!(s, "# HELP fz_other_threads_wakeups_total Voluntary context switches of the threads that serve no one node.");
    let _ = writeln!(s, "# TYPE fz_other_threads_wakeups_total counter");
    let _ = writeln!(s, "fz_other_threads_wakeups_total {other_wakeups}");
}

/// utime + stime of this process, from /proc/self/stat (Linux only).
pub fn process_cpu_seconds() -> Option<f64> {
    let ticks = cpu_of_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    Some(ticks / clock_tick()?)
}

const QUERY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.5, 1.0,
];
const LAG_WINDOW: usize = 20_000;
/// Bucket bounds (seconds) of each projector's lag histogram.
pub const LAG_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Metrics of one projector.
pub struct ProjectorMetrics {
    pub name: &'static str,
    pub checkpoint: AtomicU64,
    /// Every event at or below this position is visible to queries of its view.
    pub visible: AtomicU64,
    pub applied: AtomicU64,
    lag: Mutex<VecDeque<f64>>,
    /// Cumulative histogram of every applied event's lag (`LAG_BUCKETS`).
    lag_buckets: [AtomicU64; LAG_BUCKETS.len()],
    lag_count: AtomicU64,
    lag_sum_ns: AtomicU64,
    /// Lag of the last applied event, nanoseconds.
    last_lag_ns: AtomicU64,
}

impl ProjectorMetrics {
    /// Records the lag (commit to applied, seconds) of applied events.
    pub fn record_lag(&self, lags: &[f64]) {
        for l in lags {
            for (b, n) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
                if *l <= *b {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.lag_sum_ns
                .fetch_add((l.max(0.0) * 1e9) as u64, Ordering::Relaxed);
        }
        if let Some(last) = lags.last() {
            self.lag_count
                .fetch_add(lags.len() as u64, Ordering::Relaxed);
            self.last_lag_ns
                .store((last.max(0.0) * 1e9) as u64, Ordering::Relaxed);
        }
        if let Ok(mut q) = self.lag.lock() {
            for l in lags {
                if q.len() == LAG_WINDOW {
                    q.pop_front();
                }
                q.push_back(*l);
            }
        }
    }
    /// p50, p99 and max of the recent lag window, in seconds.
    pub fn lag_quantiles(&self) -> (f64, f64, f64) {
        let mut v: Vec<f64> = self
            .lag
            .lock()
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        if v.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        (q(0.5), q(0.99), v[v.len() - 1])
    }
    /// The lag histogram: cumulative counts per `LAG_BUCKETS` bound, count, sum (seconds).
    pub fn lag_histogram(&self) -> (Vec<u64>, u64, f64) {
        (
            self.lag_buckets
                .iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect(),
            self.lag_count.load(Ordering::Relaxed),
            self.lag_sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
    /// Lag of the last applied event, seconds.
    pub fn last_lag(&self) -> f64 {
        self.last_lag_ns.load(Ordering::Relaxed) as f64 / 1e9
    }
    /// Clears the lag window.
    pub fn reset_lag(&self) {
        if let Ok(mut q) = self.lag.lock() {
            q.clear();
        }
    }
}

/// All metrics of the service.
pub struct Metrics {
    pub commands_accepted: AtomicU64,
    pub commands_rejected: AtomicU64,
    pub commands_conflicted: AtomicU64,
    pub events_appended: AtomicU64,
    pub head: AtomicU64,
    pub projectors: Vec<ProjectorMetrics>,
    query_buckets: [AtomicU64; QUERY_BUCKETS.len()],
    query_count: AtomicU64,
    query_sum_ns: AtomicU64,
    /// Per-node timings and concurrency (`fz_node_*`).
    pub timings: Timings,
}

impl Metrics {
    /// Metrics for the given projectors, timing the given nodes.
    pub fn new(projectors: &[&'static str], ids: &NodeIds) -> Self {
        Metrics {
            commands_accepted: AtomicU64::new(0),
            commands_rejected: AtomicU64::new(0),
            commands_conflicted: AtomicU64::new(0),
            events_appended: AtomicU64::new(0),
            head: AtomicU64::new(0),
            projectors: projectors
                .iter()
                .map(|name| ProjectorMetrics {
                    name,
                    checkpoint: AtomicU64::new(0),
                    visible: AtomicU64::new(0),
                    applied: AtomicU64::new(0),
                    lag: Mutex::new(VecDeque::new()),
                    lag_buckets: Default::default(),
                    lag_count: AtomicU64::new(0),
                    lag_sum_ns: AtomicU64::new(0),
                    last_lag_ns: AtomicU64::new(0),
                })
                .collect(),
            query_buckets: Default::default(),
            query_count: AtomicU64::new(0),
            query_sum_ns: AtomicU64::new(0),
            timings: Timings::new(ids),
        }
    }

    /// The metrics of the named projector.
    pub fn projector(&self, name: &str) -> Option<&ProjectorMetrics> {
        self.projectors.iter().find(|p| p.name == name)
    }

    /// Records one query's latency.
    pub fn observe_query(&self, seconds: f64) {
        for (b, n) in QUERY_BUCKETS.iter().zip(&self.query_buckets) {
            if seconds <= *b {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.query_count.fetch_add(1, Ordering::Relaxed);
        self.query_sum_ns
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let _ = writeln!(s, "# TYPE commands_total counter");
        let _ = writeln!(
            s,
            "commands_total{{result=\"accepted\"}} {}",
            g(&self.commands_accepted)
        );
        let _ = writeln!(
            s,
            "commands_total{{result=\"rejected\"}} {}",
            g(&self.commands_rejected)
        );
        let _ = writeln!(
            s,
            "commands_total{{result=\"conflict\"}} {}",
            g(&self.commands_conflicted)
        );
        let _ = writeln!(s, "# TYPE events_appended_total counter");
        let _ = writeln!(s, "events_appended_total {}", g(&self.events_appended));
        let head = g(&self.head);
        let _ = writeln!(s, "# TYPE event_store_head gauge");
        let _ = writeln!(s, "event_store_head {head}");
        let _ = writeln!(s, "# TYPE projector_checkpoint gauge");
        for p in &self.projectors {
            let _ = writeln!(
                s,
                "projector_checkpoint{{projector=\"{}\"}} {}",
                p.name,
                g(&p.checkpoint)
            );
        }
        let _ = writeln!(s, "# TYPE projector_lag_events gauge");
        for p in &self.projectors {
            let lag = head.saturating_sub(g(&p.checkpoint));
            let _ = writeln!(s, "projector_lag_events{{projector=\"{}\"}} {lag}", p.name);
        }
        let _ = writeln!(s, "# TYPE projector_lag_seconds summary");
        for p in &self.projectors {
            let (p50, p99, max) = p.lag_quantiles();
            let _ = writeln!(
                s,
                "projector_lag_seconds{{projector=\"{}\",quantile=\"0.5\"}} {p50}",
                p.name
            );
            let _ = writeln!(
                s,
                "projector_lag_seconds{{projector=\"{}\",quantile=\"0.99\"}} {p99}",
                p.name
            );
            let _ = writeln!(
                s,
                "projector_lag_seconds{{projector=\"{}\",quantile=\"1\"}} {max}",
                p.name
            );
        }
        let _ = writeln!(s, "# TYPE query_duration_seconds histogram");
        for (b, n) in QUERY_BUCKETS.iter().zip(&self.query_buckets) {
            let _ = writeln!(s, "query_duration_seconds_bucket{{le=\"{b}\"}} {}", g(n));
        }
        let count = g(&self.query_count);
        let _ = writeln!(s, "query_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            s,
            "query_duration_seconds_sum {}",
            g(&self.query_sum_ns) as f64 / 1e9
        );
        let _ = writeln!(s, "query_duration_seconds_count {count}");
        self.timings.render(&mut s);
        s
    }
}
