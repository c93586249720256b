//! Syntax: the pest grammar, the AST with spans, and the error-recovering parser.

mod span;

pub use span::{LineCol, LineIndex, Span};
