//! fz: compile, simulate and generate code from FlowZap Code diagrams.

pub mod model;
pub mod sim;
pub mod syntax;
