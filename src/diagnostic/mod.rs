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
