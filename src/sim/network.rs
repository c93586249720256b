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
}

impl Hop {
    pub fn new(to: u32) -> Hop {
        Hop {
            to,
            delay: Dist::ZERO,
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
}

/// The CQRS views, in view-number order: `(station, id)`.
#[derive(Debug, Clone, Default)]
pub struct CqrsSpec {
    pub views: Vec<(u32, String)>,
    pub commits: Vec<u32>,
    pub query_apis: Vec<u32>,
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
}

pub const DEFAULT_HOP_LIMIT: u32 = 10_000;

impl Network {
    pub fn new(stations: Vec<Station>, sources: Vec<Source>) -> Network {
        Network {
            stations,
            sources,
            hop_limit: DEFAULT_HOP_LIMIT,
            cqrs: None,
        }
    }

    pub fn station_index(&self, id: &str) -> Option<u32> {
        self.stations
            .iter()
            .position(|s| s.id == id)
            .map(|i| i as u32)
    }
}
