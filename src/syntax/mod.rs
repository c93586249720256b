//! Syntax: the pest grammar, the AST with spans, and the error-recovering parser.

pub mod ast;
mod fast;
pub mod format;
mod parser;
mod span;

pub use parser::{parse, parse_events, parse_with_grammar_only, Event, Parsed, MAX_SOURCE_LEN};
pub use span::{LineCol, LineIndex, Span};
