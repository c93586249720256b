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
        Hop { to, delay: Dist::ZERO }
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
        Network { stations, sources, hop_limit: DEFAULT_HOP_LIMIT, cqrs: None }
    }

    pub fn station_index(&self, id: &str) -> Option<u32> {
        self.stations.iter().position(|s| s.id == id).map(|i| i as u32)
    }

    /// Exact visit rates per station (tokens per second) for this network when it is a Jackson
    /// network: solves `lambda = gamma + lambda P` where fan-out edges count 1 each. Ignores
    /// loop repeats. `None` when singular.
    pub fn visit_rates(&self) -> Option<Vec<f64>> {
        let k = self.stations.len();
        let mut a = vec![vec![0.0; k + 1]; k];
        for (i, row) in a.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        for s in &self.sources {
            if s.reads.is_none() {
                a[s.station as usize][k] += 1e9 / s.interarrival.mean_ns();
            }
        }
        for (i, st) in self.stations.iter().enumerate() {
            match &st.routing {
                Routing::Sink => {}
                Routing::All(h) => {
                    for hop in h {
                        a[hop.to as usize][i] -= 1.0;
                    }
                }
                Routing::Choose { cum, hops } => {
                    let mut prev = 0.0;
                    for (c, hop) in cum.iter().zip(hops) {
                        a[hop.to as usize][i] -= c - prev;
                        prev = *c;
                    }
                }
            }
        }
        for c in 0..k {
            let piv = (c..k).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))?;
            if a[piv][c].abs() < 1e-12 {
                return None;
            }
            a.swap(c, piv);
            for r in 0..k {
                if r != c {
                    let f = a[r][c] / a[c][c];
                    if f != 0.0 {
                        for j in c..=k {
                            a[r][j] -= f * a[c][j];
                        }
                    }
                }
            }
        }
        Some((0..k).map(|i| a[i][k] / a[i][i]).collect())
    }
}
