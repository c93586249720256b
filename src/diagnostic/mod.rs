//! Diagnostics: what is wrong, where, and how to fix it.

mod code;
mod json;
mod report;

pub use code::{Code, Severity};
pub use json::{to_json, JsonDiagnostic};
pub use report::{render, ReportOptions};

use crate::syntax::Span;

/// One problem found in a diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// Other places worth pointing at, each with a short note.
    pub labels: Vec<(Span, String)>,
    /// The fix, when there is one.
    pub help: Option<String>,
}

/// The part of `source` that reports on `diagnostics` read: up to the end of the line holding
/// the furthest offset any of them names (the whole source when one names its last line).
/// Lines and columns in it are those of the whole source, so indexing this part alone gives
/// the same reports, in a fraction of the time when a large file's problems come early.
pub fn reported_prefix<'s>(source: &'s str, diagnostics: &[Diagnostic]) -> &'s str {
    let far = diagnostics
        .iter()
        .flat_map(|d| std::iter::once(d.span).chain(d.labels.iter().map(|(s, _)| *s)))
        .map(|s| s.end.max(s.start) as usize)
        .max()
        .unwrap_or(0)
        .min(source.len());
    match memchr::memchr(b'\n', &source.as_bytes()[far..]) {
        Some(i) => &source[..far + i + 1],
        None => source,
    }
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            span,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, span: Span, note: impl Into<String>) -> Self {
        self.labels.push((span, note.into()));
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}
