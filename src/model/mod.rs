//! The model: a resolved [`Diagram`] built from the AST, with its diagnostics.

mod diagram;
mod query;

pub use diagram::*;
