//! The event bus: routes committed events by type, orders them by partition key
//! (the aggregate id) over N partitions, and delivers them to every projector.
//!
//! Delivery is at least once. Each projector keeps one checkpoint per partition
//! (the highest position of that partition it has applied) and skips any event at
//! or below it, so redelivery after a restart applies nothing twice. After each
//! batch the router sends a watermark down every partition so that checkpoints of
//! partitions without traffic advance too.
//!
//! The transport between the log and the projectors is pluggable ([`Transport`]): by
//! default the in-process router and partitions below; a broker transport (NATS
//! JetStream in `src/nats.rs`, where the project has one) delivers [`BrokerDelivery`]s,
//! applied only when they follow the partition's checkpoint and acknowledged once the
//! view has made them durable. [`BusControl`] lets the consistency check read a view's
//! versions and rebuild it on its projector's own thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::metrics::Metrics;
use crate::store::{EventStore, StoredEvent};

/// A projector failure (its view's storage failed, or an event could not be decoded).
#[derive(Debug, thiserror::Error)]
#[error("projector {projector}: {message}")]
pub struct ProjectionError {
    pub projector: &'static str,
    pub message: String,
}

impl ProjectionError {
    pub fn new(projector: &'static str, message: impl std::fmt::Display) -> Self {
        ProjectionError {
            projector,
            message: message.to_string(),
        }
    }
}

/// An event for a projector, with the partition it travelled on.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub partition: usize,
    pub event: Arc<StoredEvent>,
}

/// A projector builds one view from the events it subscribes to.
pub trait Projector: Send + 'static {
    /// Name of the projector (also the name of its view).
    fn name(&self) -> &'static str;
    /// Event types the projector consumes.
    fn event_types(&self) -> &'static [&'static str];
    /// Persisted checkpoints, one per partition.
    fn checkpoints(&mut self, partitions: usize) -> Result<Vec<u64>, ProjectionError>;
    /// Applies events (each partition in order) and records `checkpoints`
    /// atomically with them (or at the next [`Projector::flush`]). Returns whether
    /// everything applied so far is now visible to queries.
    fn apply(&mut self, events: &[Delivered], checkpoints: &[u64])
        -> Result<bool, ProjectionError>;
    /// Called when idle and on shutdown: persists anything pending. Returns whether
    /// everything applied so far is now visible to queries.
    fn flush(&mut self, _checkpoints: &[u64]) -> Result<bool, ProjectionError> {
        Ok(true)
    }
    /// Drops the view's contents and checkpoints.
    fn reset(&mut self) -> Result<(), ProjectionError>;
    /// The version of every aggregate the view holds (for the consistency check), or
    /// `None` when the view keeps no per-aggregate versions.
    fn versions(&mut self) -> Result<Option<Vec<(String, u64)>>, ProjectionError> {
        Ok(None)
    }
}

/// Partition of an aggregate: FNV-1a of its type and id, modulo the partition count.
pub fn partition_of(aggregate_type: &str, aggregate_id: &str, partitions: usize) -> usize {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in aggregate_type
        .bytes()
        .chain([0u8])
        .chain(aggregate_id.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % partitions.max(1) as u64) as usize
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

enum Routed {
    Event(Arc<StoredEvent>, Arc<[usize]>),
    Watermark(u64),
}

/// What a projector's inbox receives.
pub enum Delivery {
    /// An event from the in-process partitions.
    Event(Delivered),
    /// No event of this partition up to this position (in-process partitions).
    Watermark(usize, u64),
    /// An event (or watermark) from a broker.
    Broker(BrokerDelivery),
    /// A request of the consistency check.
    Control(Control),
}

/// Acknowledges a broker message: `true` once applied and durable (or a duplicate),
/// `false` to have it redelivered later.
pub type Ack = Box<dyn FnOnce(bool) + Send>;

/// A message from a broker for one projector.
pub struct BrokerDelivery {
    pub partition: usize,
    /// Position in the log (of the event, or of the watermark).
    pub position: u64,
    /// Position of the previous event of this partition (0: none): the message is
    /// applied only when nothing between the checkpoint and it is missing.
    pub prev: u64,
    /// `None`: a watermark (no event of this partition up to `position`).
    pub event: Option<Arc<StoredEvent>>,
    pub ack: Ack,
}

/// A projector's view as of its checkpoints.
#[derive(Debug, Clone)]
pub struct ViewVersions {
    pub checkpoints: Vec<u64>,
    /// `None`: the view keeps no per-aggregate versions.
    pub versions: Option<Vec<(String, u64)>>,
}

/// Requests run on a projector's own thread, between two batches.
pub enum Control {
    /// Flush, then report the view's versions and checkpoints.
    Versions(mpsc::Sender<Result<ViewVersions, ProjectionError>>),
    /// Drop the view and replay it from the store; answers the events applied.
    Rebuild(mpsc::Sender<Result<u64, ProjectionError>>),
}

/// A projector's inbox, for transports.
#[derive(Clone)]
pub struct Inbox {
    pub projector: &'static str,
    pub event_types: &'static [&'static str],
    pub tx: mpsc::SyncSender<Delivery>,
}

/// What a transport needs to deliver the log to the projectors.
pub struct TransportContext {
    pub store: Arc<EventStore>,
    pub inboxes: Vec<Inbox>,
    pub partitions: usize,
    /// Lowest checkpoint of all projectors.
    pub start: u64,
    /// Set by [`Bus::stop`]: deliver what is committed, then stop.
    pub stop: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
}

/// Carries committed events from the log to the projectors' inboxes.
pub trait Transport: Send {
    /// Starts the transport's threads. When they have ended, every inbox sender they
    /// held must be dropped.
    fn start(self: Box<Self>, ctx: TransportContext) -> Result<Vec<JoinHandle<()>>, ProjectionError>;
}

/// Each running projector's name and inbox.
type Inboxes = Vec<(&'static str, mpsc::SyncSender<Delivery>)>;

/// Sends requests to the projectors' threads (see [`Control`]).
#[derive(Clone, Default)]
pub struct BusControl {
    inboxes: Arc<Mutex<Inboxes>>,
}

impl BusControl {
    fn send(&self, projector: &str, c: Control) -> Result<(), ProjectionError> {
        let tx = self
            .inboxes
            .lock()
            .map_err(|_| ProjectionError::new("bus", "control lock poisoned"))?
            .iter()
            .find(|(n, _)| *n == projector)
            .map(|(_, tx)| tx.clone())
            .ok_or_else(|| ProjectionError::new("bus", format!("no running projector {projector}")))?;
        tx.send(Delivery::Control(c))
            .map_err(|_| ProjectionError::new("bus", format!("projector {projector} has stopped")))
    }

    /// The view's versions and checkpoints, read on its projector's thread.
    pub fn versions(&self, projector: &str) -> Result<ViewVersions, ProjectionError> {
        let (tx, rx) = mpsc::channel();
        self.send(projector, Control::Versions(tx))?;
        rx.recv_timeout(Duration::from_secs(120))
            .map_err(|_| ProjectionError::new("bus", format!("projector {projector} did not answer")))?
    }

    /// Rebuilds the view from the store on its projector's thread; the events applied.
    pub fn rebuild(&self, projector: &str) -> Result<u64, ProjectionError> {
        let (tx, rx) = mpsc::channel();
        self.send(projector, Control::Rebuild(tx))?;
        rx.recv_timeout(Duration::from_secs(3_600))
            .map_err(|_| ProjectionError::new("bus", format!("projector {projector} did not answer")))?
    }

    /// Whether the bus has stopped.
    pub fn is_closed(&self) -> bool {
        self.inboxes.lock().map(|v| v.is_empty()).unwrap_or(true)
    }

    fn close(&self) {
        if let Ok(mut v) = self.inboxes.lock() {
            v.clear();
        }
    }
}

/// The running bus: router, partitions and projector threads.
pub struct Bus {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    control: BusControl,
}

/// The in-process transport: the router and one in-order queue per partition.
pub struct LogTransport;

impl Transport for LogTransport {
    fn start(self: Box<Self>, ctx: TransportContext) -> Result<Vec<JoinHandle<()>>, ProjectionError> {
        let mut threads = Vec::new();
        let mut routes: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (i, inbox) in ctx.inboxes.iter().enumerate() {
            for t in inbox.event_types {
                routes.entry(t).or_default().push(i);
            }
        }
        let routes: HashMap<&'static str, Arc<[usize]>> =
            routes.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
        let inboxes: Vec<mpsc::SyncSender<Delivery>> =
            ctx.inboxes.into_iter().map(|i| i.tx).collect();
        // Guarantee ordering: one in-order queue per partition.
        let mut partition_txs = Vec::new();
        for p in 0..ctx.partitions {
            let (tx, rx) = mpsc::sync_channel::<Routed>(65_536);
            partition_txs.push(tx);
            let inboxes = inboxes.clone();
            let m = ctx.metrics.clone();
            threads.push(spawn(&format!("partition-{p}"), move || {
                deliver(p, rx, inboxes, m)
            })?);
        }
        drop(inboxes);
        let (store, start, n, stop, metrics) = (ctx.store, ctx.start, ctx.partitions, ctx.stop, ctx.metrics);
        threads.push(spawn("event-router", move || {
            route(store, start, routes, partition_txs, n, stop, metrics)
        })?);
        Ok(threads)
    }
}

impl Bus {
    /// Starts delivering from the lowest checkpoint of all projectors, in process.
    pub fn start(
        store: Arc<EventStore>,
        projectors: Vec<Box<dyn Projector>>,
        partitions: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Bus, ProjectionError> {
        Bus::start_on(store, projectors, partitions, metrics, Box::new(LogTransport))
    }

    /// Starts the projectors' threads and the given transport.
    pub fn start_on(
        store: Arc<EventStore>,
        projectors: Vec<Box<dyn Projector>>,
        partitions: usize,
        metrics: Arc<Metrics>,
        transport: Box<dyn Transport>,
    ) -> Result<Bus, ProjectionError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut inboxes = Vec::new();
        let control = BusControl::default();
        let mut start = u64::MAX;
        for mut p in projectors {
            let cps = p.checkpoints(partitions)?;
            start = start.min(cps.iter().copied().min().unwrap_or(0));
            let (tx, rx) = mpsc::sync_channel::<Delivery>(65_536);
            inboxes.push(Inbox {
                projector: p.name(),
                event_types: p.event_types(),
                tx: tx.clone(),
            });
            if let Ok(mut c) = control.inboxes.lock() {
                c.push((p.name(), tx));
            }
            let m = metrics.clone();
            let s = store.clone();
            threads.push(spawn(&format!("projector-{}", p.name()), move || {
                run_projector(p, rx, cps, m, s, partitions)
            })?);
        }
        let start = if start == u64::MAX { 0 } else { start };
        threads.extend(transport.start(TransportContext {
            store,
            inboxes,
            partitions,
            start,
            stop: stop.clone(),
            metrics,
        })?);
        Ok(Bus {
            stop,
            threads,
            control,
        })
    }

    /// A handle for requests to the projectors (the consistency check).
    pub fn control(&self) -> BusControl {
        self.control.clone()
    }

    /// Delivers everything committed so far, then stops all threads.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        // The projectors stop once every sender of their inboxes is gone.
        self.control.close();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Lowers the calling thread's CPU priority (nice 10). The bus and the projectors
/// are throughput work measured in milliseconds of lag; on a busy machine the
/// request handlers, which answer in microseconds, should get a core first.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; on Linux, PRIO_PROCESS with
    // who = 0 sets the nice value of the calling thread. Failure changes nothing.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, ProjectionError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_priority();
            f()
        })
        .map_err(|e| ProjectionError::new("bus", format!("cannot start thread {name}: {e}")))
}

/// Route Event: reads committed events from the store (the outbox) and sends each
/// to the partition of its aggregate, tagged with the projectors that consume its type.
fn route(
    store: Arc<EventStore>,
    mut position: u64,
    routes: HashMap<&'static str, Arc<[usize]>>,
    partitions: Vec<mpsc::SyncSender<Routed>>,
    n: usize,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) {
    crate::metrics::thread_serves(metrics.timings.route.node);
    let head = store.head();
    let none: Arc<[usize]> = Arc::from(Vec::new());
    let mut last_end = Instant::now();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let h = head.wait_past(position, Duration::from_millis(50));
        metrics.head.store(h, Ordering::Relaxed);
        if h <= position {
            if stopping {
                break;
            }
            continue;
        }
        // At most one read of the log per ROUTE_REST: under a stream of small commits
        // each would otherwise wake the router and every partition thread for a few
        // events; the rest adds at most that to the projection lag.
        let due = last_end + ROUTE_REST;
        let now = Instant::now();
        if now < due && !stopping {
            std::thread::sleep(due - now);
        }
        let read_start = Instant::now();
        let cpu_start = crate::metrics::thread_cpu_ns();
        let events = match store.read_after(position, ROUTE_BATCH) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("event router: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let routed = events.len() as u64;
        for e in events {
            position = e.position;
            let targets = routes
                .get(e.event_type.as_str())
                .cloned()
                .unwrap_or_else(|| none.clone());
            if targets.is_empty() {
                continue;
            }
            let p = partition_of(&e.aggregate_type, &e.aggregate_id, n);
            if partitions[p]
                .send(Routed::Event(Arc::new(e), targets))
                .is_err()
            {
                return;
            }
        }
        // Route Event's time per batch (one read of the log, fixed, and the routing of each
        // event) and, split evenly, per event: `fz calibrate` fits the first to the size.
        let took = read_start.elapsed().as_nanos() as u64;
        if let Some(per) = took.checked_div(routed) {
            let t = &metrics.timings;
            t.route.time.record_n(per, routed);
            t.route_batch.time.record(took);
            t.route_size.record(routed);
            t.route_fit.record_with_cpu(routed, took, cpu_start);
        }
        for tx in &partitions {
            if tx.send(Routed::Watermark(position)).is_err() {
                return;
            }
        }
        last_end = Instant::now();
    }
}

/// Deliver to Projectors: forwards one partition, in order, to every subscribed projector.
fn deliver(
    partition: usize,
    rx: mpsc::Receiver<Routed>,
    inboxes: Vec<mpsc::SyncSender<Delivery>>,
    metrics: Arc<Metrics>,
) {
    crate::metrics::thread_serves(metrics.timings.deliver.node);
    while let Ok(r) = rx.recv() {
        match r {
            Routed::Event(event, targets) => {
                let start = Instant::now();
                for &t in targets.iter() {
                    let d = Delivered {
                        partition,
                        event: event.clone(),
                    };
                    let _ = inboxes[t].send(Delivery::Event(d));
                }
                metrics.timings.deliver.time.since(start);
            }
            Routed::Watermark(pos) => {
                for inbox in &inboxes {
                    let _ = inbox.send(Delivery::Watermark(partition, pos));
                }
            }
        }
    }
}

/// Most events the router reads from the log at once.
pub const ROUTE_BATCH: usize = 2_000;
/// Least time between the end of one read of the log by the router and the next.
pub const ROUTE_REST: Duration = Duration::from_millis(2);
/// Most events a projector applies at once.
pub const APPLY_BATCH: usize = 4_096;
/// Shortest time between two applies of one projector (see `run_projector`).
pub const APPLY_INTERVAL: Duration = Duration::from_millis(5);

fn run_projector(
    mut p: Box<dyn Projector>,
    rx: mpsc::Receiver<Delivery>,
    mut cps: Vec<u64>,
    metrics: Arc<Metrics>,
    store: Arc<EventStore>,
    partitions: usize,
) {
    let name = p.name();
    let types = p.event_types();
    // Broker messages applied (or skipped) but not yet durable: acknowledged when
    // the view says everything applied so far is visible.
    let mut unacked: Vec<Ack> = Vec::new();
    let ack_all = |unacked: &mut Vec<Ack>| {
        for a in unacked.drain(..) {
            a(true);
        }
    };
    let m = metrics.projector(name);
    let t = metrics.timings.projector(name);
    if let Some(t) = t {
        crate::metrics::thread_serves(t.apply_batch.node);
    }
    let publish = |cps: &[u64]| {
        if let Some(m) = m {
            m.checkpoint
                .store(cps.iter().copied().min().unwrap_or(0), Ordering::Relaxed);
        }
    };
    // What queries see: everything up to the lowest checkpoint, once visible.
    let show = |cps: &[u64]| {
        if let Some(m) = m {
            m.visible
                .store(cps.iter().copied().min().unwrap_or(0), Ordering::Release);
        }
    };
    publish(&cps);
    show(&cps);
    // Commit times of events applied but not yet visible to queries.
    let mut invisible: Vec<i64> = Vec::new();
    let record = |invisible: &mut Vec<i64>| {
        if let Some(m) = m {
            let now = now_us();
            let lags: Vec<f64> = invisible
                .iter()
                .map(|t| (now - t).max(0) as f64 / 1e6)
                .collect();
            m.record_lag(&lags);
        }
        invisible.clear();
    };
    let mut last_apply = Instant::now();
    // The applies since the view last became visible: their time and how many.
    let (mut cycle_ns, mut cycle_batches) = (0u64, 0u32);
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(d) => d,
            Err(RecvTimeoutError::Timeout) => {
                match p.flush(&cps) {
                    Ok(true) => {
                        record(&mut invisible);
                        show(&cps);
                        ack_all(&mut unacked);
                        (cycle_ns, cycle_batches) = (0, 0);
                    }
                    Ok(false) => {}
                    Err(e) => eprintln!("{e}"),
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = Vec::new();
        let mut next = cps.clone();
        let mut controls: Vec<Control> = Vec::new();
        let mut take = |d: Delivery, batch: &mut Vec<Delivered>| match d {
            Delivery::Control(c) => controls.push(c),
            Delivery::Broker(b) => {
                let Some(cp) = next.get_mut(b.partition) else {
                    (b.ack)(true);
                    return;
                };
                if b.position <= *cp {
                    unacked.push(b.ack); // already applied
                } else if b.prev > *cp {
                    // An earlier event of this partition has not arrived yet (it is
                    // being redelivered): have this one sent again later.
                    (b.ack)(false);
                } else {
                    *cp = b.position;
                    if let Some(event) = b.event {
                        if types.contains(&event.event_type.as_str()) {
                            batch.push(Delivered {
                                partition: b.partition,
                                event,
                            });
                        }
                    }
                    unacked.push(b.ack);
                }
            }
            Delivery::Event(d) => {
                let cp = &mut next[d.partition];
                if d.event.position > *cp {
                    *cp = d.event.position;
                    batch.push(d);
                }
            }
            Delivery::Watermark(part, pos) => {
                let cp = &mut next[part];
                *cp = (*cp).max(pos);
            }
        };
        take(first, &mut batch);
        // At most one apply per APPLY_INTERVAL: under a trickle of events each would
        // otherwise be its own transaction, costing CPU the request handlers need;
        // the wait adds at most that interval to the lag.
        let due = last_apply + APPLY_INTERVAL;
        while batch.len() < APPLY_BATCH {
            match rx.try_recv() {
                Ok(d) => take(d, &mut batch),
                Err(mpsc::TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now >= due {
                        break;
                    }
                    // Sleep out the interval, then take what has arrived: waiting on
                    // the channel instead would wake this thread for every event.
                    std::thread::sleep(due - now);
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
            }
        }
        let controls = std::mem::take(&mut controls);
        let mut attempt = 0;
        // The aggregates the batch writes, counted before its CPU is read: the fit below
        // is over them. A projector writes each once however many of its events the
        // batch holds (a client's command sequence on one aggregate lands in one batch
        // under load), so that is what its cost follows (`fz calibrate`: `per_key`).
        let aggregates = if t.is_some() {
            let mut ids: Vec<&str> = batch.iter().map(|d| d.event.aggregate_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len() as u64
        } else {
            0
        };
        let apply_start = Instant::now();
        let cpu_start = crate::metrics::thread_cpu_ns();
        let visible = loop {
            match p.apply(&batch, &next) {
                Ok(visible) => break visible,
                Err(e) if attempt < 5 => {
                    eprintln!("{e} (retrying)");
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                }
                Err(e) => {
                    eprintln!("{e}: projector stopped; it resumes from its checkpoint on restart");
                    return;
                }
            }
        };
        last_apply = Instant::now();
        if let (Some(t), false) = (t, batch.is_empty()) {
            let ns = (last_apply - apply_start).as_nanos() as u64;
            let k = batch.len() as u64;
            t.apply_batch.time.record(ns);
            t.apply_event.time.record_n(ns / k, k);
            t.batch_size.record(k);
            t.batch_fit.record_with_cpu(aggregates, ns, cpu_start);
            cycle_ns += ns;
            cycle_batches += 1;
            if visible {
                // A view that was visible after every apply has no cycle of its own.
                if cycle_batches > 1 {
                    t.refresh.time.record(cycle_ns);
                }
                (cycle_ns, cycle_batches) = (0, 0);
            }
        }
        cps = next;
        publish(&cps);
        invisible.extend(batch.iter().map(|d| d.event.recorded_at_us));
        if visible {
            record(&mut invisible);
            show(&cps);
            ack_all(&mut unacked);
        }
        if let Some(m) = m {
            m.applied.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        for c in controls {
            match c {
                Control::Versions(reply) => {
                    let r = p.flush(&cps).and_then(|visible| {
                        if visible {
                            record(&mut invisible);
                            ack_all(&mut unacked);
                        }
                        Ok(ViewVersions {
                            checkpoints: cps.clone(),
                            versions: p.versions()?,
                        })
                    });
                    let _ = reply.send(r);
                }
                Control::Rebuild(reply) => {
                    let r = p
                        .reset()
                        .and_then(|_| catch_up(&store, p.as_mut(), partitions))
                        .and_then(|n| Ok((n, p.checkpoints(partitions)?)));
                    match r {
                        Ok((n, rebuilt)) => {
                            // Everything up to the new checkpoints is in the view now.
                            cps = rebuilt;
                            publish(&cps);
                            invisible.clear();
                            ack_all(&mut unacked);
                            let _ = reply.send(Ok(n));
                        }
                        Err(e) => {
                            eprintln!("{e}: rebuild failed; the projector stops and resumes from its checkpoint on restart");
                            let _ = reply.send(Err(e));
                            return;
                        }
                    }
                }
            }
        }
    }
    if let Err(e) = p.flush(&cps) {
        eprintln!("{e}");
    }
}

/// Replays the store into one projector from its checkpoints up to the current head
/// (used to rebuild a view, and to fill in-memory views on start).
pub fn catch_up(
    store: &EventStore,
    p: &mut dyn Projector,
    partitions: usize,
) -> Result<u64, ProjectionError> {
    let mut cps = p.checkpoints(partitions)?;
    let mut position = cps.iter().copied().min().unwrap_or(0);
    let types = p.event_types();
    let mut applied = 0u64;
    loop {
        let events = store
            .read_after(position, 5_000)
            .map_err(|e| ProjectionError::new(p.name(), e))?;
        let Some(last) = events.last().map(|e| e.position) else {
            break;
        };
        let mut batch = Vec::new();
        for e in events {
            let part = partition_of(&e.aggregate_type, &e.aggregate_id, partitions);
            if e.position > cps[part] && types.contains(&e.event_type.as_str()) {
                batch.push(Delivered {
                    partition: part,
                    event: Arc::new(e),
                });
            }
        }
        for cp in cps.iter_mut() {
            *cp = (*cp).max(last);
        }
        applied += batch.len() as u64;
        p.apply(&batch, &cps)?;
        position = last;
    }
    p.flush(&cps)?;
    Ok(applied)
}
