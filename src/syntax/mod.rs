//! Syntax: the pest grammar, the AST with spans, and the error-recovering parser.

pub mod ast;
mod parser;
mod span;

pub use parser::{parse, Parsed, MAX_SOURCE_LEN};
pub use span::{LineCol, LineIndex, Span};
