//! fz: compile, simulate and generate code from FlowZap Code diagrams.
//!
//! The flow is one-directional, like a compiler: [`syntax`] (pest grammar → AST with spans)
//! → [`model`] (resolved [`model::Diagram`] in petgraph, diagnostics, roles) → backends
//! ([`export`], …). The [`cli`] is a thin layer on top; nothing depends on it.

// The pest-generated parser names `alloc` (pest is built without its `std` feature, which
// would add a per-rule stack probe costing a third of parse time).
extern crate alloc;

pub mod calibrate;
pub mod cli;
pub mod diagnostic;
pub mod export;
pub mod gen;
pub mod model;
pub mod render;
pub mod sim;
pub mod syntax;
pub mod tools;
