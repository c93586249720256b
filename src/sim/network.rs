//! The lowered network the engine runs: stations, routing, sources. Built from a
//! [`Diagram`](crate::model::Diagram) and a profile by [`lower`](super::lower), or by hand in tests.

use super::dist::{Dist, KeyDist};

/// Where a departing token goes.
#[derive(Debug, Clone)]
pub enum Routing {
    /// No outgoing edge: the token ends here, and its end-to-end latency is recorded.
    Sink,
    /// A copy goes down every hop (fan-out).
    All(Vec<Hop>),
    /// Exactly one hop, chosen with cumulative probabilities `cum` (ascending, last <= 1); a
    /// draw above the last leaves the system.
    Choose { cum: Vec<f64>, hops: Vec<Hop> },
}

/// One way out of a station.
#[derive(Debug, Clone)]
pub struct Hop {
    pub to: u32,
    pub delay: Dist,
    /// A write into a store: the token is a write from here on and never takes a
    /// [`read_only`](Hop::read_only) hop.
    pub write: bool,
    /// Taken only by tokens that came to read (a store's way on to its reader's next step).
    pub read_only: bool,
    /// A reply: it ends the request's latency when it enters the lane the request came from.
    pub reply: bool,
    /// A read into a store: the token goes on from the store only by its read-only hops.
    pub read: bool,
}

impl Hop {
    pub fn new(to: u32) -> Hop {
        Hop {
            to,
            delay: Dist::ZERO,
            write: false,
            read_only: false,
            reply: false,
            read: false,
        }
    }
}

/// A `loop` fragment's repeat rule, held by the loop's last station.
#[derive(Debug, Clone)]
pub struct LoopBack {
    /// The loop's first station.
    pub to: u32,
    pub p: f64,
    pub max: u16,
}

/// The CQRS role a station plays for the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimRole {
    Plain,
    /// Passing it commits the token (command latency ends, projection lag starts).
    Commit,
    /// Passing it applies the event to view number `.0`.
    View(u16),
    /// Queries are answered here; staleness is measured when one completes.
    QueryApi,
    /// Pushes a confirmation to the client: submit-to-confirmation time ends here.
    Notify,
}

/// A station that gathers the parts of a fan-out (fork-join).
#[derive(Debug, Clone, Default)]
pub struct JoinSpec {
    /// Send on what arrived this long after the first part, counting a partial join.
    pub timeout: Option<Dist>,
}

/// A closed-loop source: `users` users, each thinking, sending one request, and waiting for
/// its reply (or for the request to end) before thinking again.
#[derive(Debug, Clone)]
pub struct ClosedLoop {
    pub users: u32,
    pub think: Dist,
}

/// A batch server's rule: it takes up to `max` waiting tokens at once and serves them
/// together for the station's `service` draw plus one `per_item` draw per token in the batch
/// and one `per_key` draw per distinct key among them;
/// after a batch it rests for one `interval` draw before it takes the next (a projector that
/// applies at most once per interval), the tokens arriving meanwhile waiting to form the
/// next batch.
#[derive(Debug, Clone)]
pub struct Batch {
    pub max: u32,
    pub per_item: Dist,
    /// Time each distinct key of a batch adds (a projector writes an aggregate once a batch).
    pub per_key: Dist,
    pub interval: Dist,
}

impl Batch {
    /// Mean service time of a batch of `k` tokens, in nanoseconds, each its own key (the
    /// most `per_key` can add).
    pub fn mean_ns(&self, service: &Dist, k: u32) -> f64 {
        service.mean_ns() + k as f64 * (self.per_item.mean_ns() + self.per_key.mean_ns())
    }
    /// Mean time a server is taken by a batch of `k` tokens, its rest included.
    pub fn cycle_ns(&self, service: &Dist, k: u32) -> f64 {
        self.mean_ns(service, k) + self.interval.mean_ns()
    }
}

/// A station: servers, a FIFO queue, a service-time distribution and its routing.
#[derive(Debug, Clone)]
pub struct Station {
    pub id: String,
    pub label: String,
    pub servers: u32,
    /// Waiting room (beyond it arrivals are dropped); `None` = unbounded.
    pub capacity: Option<u32>,
    pub service: Dist,
    pub routing: Routing,
    pub loop_back: Option<LoopBack>,
    /// Downstream of an ordering step: at most one token per key in service at a time.
    pub keyed: bool,
    pub role: SimRole,
    /// Lane number (for replies into the lane a request came from).
    pub lane: u32,
    /// This station is a fork whose parts meet again at station `.0`.
    pub fork_join: Option<u32>,
    /// This station gathers the parts of forks that name it.
    pub join: Option<JoinSpec>,
    /// Stores this station reads before serving a token (one, chosen uniformly, or the view a
    /// query names).
    pub reads: Vec<u32>,
    /// A batch station: each server serves up to `max` tokens at once.
    pub batch: Option<Batch>,
    /// Serves on the network's shared cores, when it has a host (see [`Network::host_cores`]).
    pub on_host: bool,
    /// Its share of the host's cores against other work, as CFS weighs a thread's nice
    /// value: 1.25^-nice (1 at nice 0, 0.107 at nice 10).
    pub weight: f64,
    /// A store's service time for reads (a query's visit); `None`: reads take `service`.
    pub read_service: Option<Dist>,
    /// Added to every start from idle (see `NodeProfile::wakeup`); `None`: waking is free.
    pub wakeup: Option<Dist>,
}

impl Station {
    pub fn new(id: impl Into<String>, service: Dist) -> Station {
        let id = id.into();
        Station {
            label: id.clone(),
            id,
            servers: 1,
            capacity: None,
            service,
            routing: Routing::Sink,
            loop_back: None,
            keyed: false,
            role: SimRole::Plain,
            lane: 0,
            fork_join: None,
            join: None,
            reads: Vec::new(),
            batch: None,
            on_host: true,
            weight: 1.0,
            read_service: None,
            wakeup: None,
        }
    }

    pub fn is_sink(&self) -> bool {
        matches!(self.routing, Routing::Sink)
    }
}

/// An external arrival process.
#[derive(Debug, Clone)]
pub struct Source {
    pub station: u32,
    pub interarrival: Dist,
    pub key: KeyDist,
    /// Queries (CQRS reads): each picks one of `views` uniformly.
    pub reads: Option<Vec<u16>>,
    /// Closed loop: users instead of the open arrival process `interarrival`.
    pub closed: Option<ClosedLoop>,
    /// Requests are answered only in the source's lane (it has a sink, or a reply enters
    /// it); otherwise at any sink.
    pub lane_outcomes: bool,
}

/// The CQRS views, in view-number order: `(station, id)`.
#[derive(Debug, Clone, Default)]
pub struct CqrsSpec {
    pub views: Vec<(u32, String)>,
    pub commits: Vec<u32>,
    pub query_apis: Vec<u32>,
    /// Stations that push confirmations (task-based UIs).
    pub notify: Vec<u32>,
    /// "CQRS" or "replication" (database per service): what the report calls the lens.
    pub lens: String,
    /// Nodes that carry the ordering role (for the report).
    pub ordering: Vec<String>,
}

/// The whole network.
#[derive(Debug, Clone)]
pub struct Network {
    pub stations: Vec<Station>,
    pub sources: Vec<Source>,
    pub hop_limit: u32,
    pub cqrs: Option<CqrsSpec>,
    /// The host's cores: the stations `on_host` share them as processor sharing (each of n
    /// tokens in service runs at `min(1, cores / n)` of its speed). `None`: every server
    /// has a core of its own.
    pub host_cores: Option<f64>,
    /// CPU on the host's cores that each request's client spends as it sends it.
    pub host_client: Option<Dist>,
    /// CPU added to a request whose client finds no client work on the cores (a wake-up).
    pub host_client_wakeup: Option<Dist>,
    /// A delay off the cores before each request enters (`[host] transport`).
    pub transport: Option<Dist>,
    /// The threads the clients' sends run on: at most this many on the cores at once.
    pub host_client_threads: Option<u32>,
}

pub const DEFAULT_HOP_LIMIT: u32 = 10_000;

impl Network {
    pub fn new(stations: Vec<Station>, sources: Vec<Source>) -> Network {
        Network {
            stations,
            sources,
            hop_limit: DEFAULT_HOP_LIMIT,
            cqrs: None,
            host_cores: None,
            host_client: None,
            host_client_wakeup: None,
            transport: None,
            host_client_threads: None,
        }
    }

    pub fn station_index(&self, id: &str) -> Option<u32> {
        self.stations
            .iter()
            .position(|s| s.id == id)
            .map(|i| i as u32)
    }
}
