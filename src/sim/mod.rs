//! `fz sim`: run a diagram as a discrete-event simulation.
//!
//! The pipeline: a [`Diagram`](crate::model::Diagram) plus a [`profile`] lower to a
//! [`Network`]; the [`engine`] runs replications of it on a virtual clock; [`report`] merges
//! them into figures (text or JSON), [`html`] into a page.

pub mod clock;
pub mod cqrs;
pub mod dist;
pub mod engine;
pub mod html;
pub mod lower;
pub mod network;
pub mod overrides;
pub mod profile;
pub mod realtime;
pub mod station;
pub mod stats;
pub mod sweep;
pub mod time;
pub mod token;

pub use dist::{Dist, KeyDist};
pub use engine::{Engine, RepResult, RunConfig};
pub use network::{Hop, Network, Routing, SimRole, Source, Station};
pub use time::Nanos;
pub mod json;
pub mod replicate;
pub mod report;
