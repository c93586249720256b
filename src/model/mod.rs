//! The model: a resolved [`Diagram`] built from the AST, with its diagnostics.

pub mod arch;
mod build;
mod diagram;
mod ids;
mod lean;
mod lint;
mod query;
pub mod roles;

pub use arch::{Architecture, Component, Interaction, LaneKind};
pub use build::KNOWN_KEYS;
pub use diagram::*;
pub use lint::{is_invisible_or_emoji, MAX_LABEL_CHARS};
pub use roles::{Role, RoleAssignment, Roles, ViewKind};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::syntax::{self, ast::SourceFile, Span};

/// At most this many errors are reported; one more diagnostic says how many were left out.
pub const MAX_ERRORS: usize = 100;
/// At most this many warnings are reported.
pub const MAX_WARNINGS: usize = 500;

/// A checked diagram: the model (always built, partial where the source was broken) and
/// every diagnostic, sorted by position.
#[derive(Debug, Clone)]
pub struct Checked {
    pub diagram: Diagram,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }
}

/// Parse, resolve and lint a source.
pub fn check(source: &str) -> Checked {
    if let Some(d) = too_long(source) {
        return Checked {
            diagram: Diagram::default(),
            diagnostics: vec![d],
        };
    }
    let mut diagnostics = Vec::new();
    let lean = build::parse_and_lower(source, true, &mut diagnostics);
    lint::lint(&lean, &mut diagnostics);
    Checked {
        diagram: lean.into_diagram(),
        diagnostics: finish(diagnostics),
    }
}

/// The diagnostics of [`check`], without building the [`Diagram`] (what `fz check` needs):
/// the same list, in a fraction of the memory and time on large diagrams.
pub fn diagnostics(source: &str) -> Vec<Diagnostic> {
    if let Some(d) = too_long(source) {
        return vec![d];
    }
    let mut diagnostics = Vec::new();
    let lean = build::parse_and_lower(source, false, &mut diagnostics);
    lint::lint(&lean, &mut diagnostics);
    drop(lean);
    finish(diagnostics)
}

/// The error for a source longer than the parser reads.
fn too_long(source: &str) -> Option<Diagnostic> {
    (source.len() > syntax::MAX_SOURCE_LEN).then(|| {
        Diagnostic::new(
            Code::Syntax,
            Span::default(),
            format!(
                "the diagram is {} bytes long; fz reads diagrams up to {} bytes",
                source.len(),
                syntax::MAX_SOURCE_LEN
            ),
        )
    })
}

/// Resolve and lint an already parsed file (diagnostics of the parse not included).
pub fn lower(file: &SourceFile<'_>, diagnostics: &mut Vec<Diagnostic>) -> Diagram {
    let lean = build::lower(file, diagnostics);
    lint::lint(&lean, diagnostics);
    lean.into_diagram()
}

/// Sort by position and cap the counts.
fn finish(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.span.start, d.code));
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let mut dropped_errors = 0usize;
    let mut last_kept = Span::default();
    diagnostics.retain(|d| match d.severity() {
        Severity::Error => {
            errors += 1;
            if errors > MAX_ERRORS {
                dropped_errors += 1;
                false
            } else {
                last_kept = d.span;
                true
            }
        }
        Severity::Warning => {
            warnings += 1;
            warnings <= MAX_WARNINGS
        }
    });
    if dropped_errors > 0 {
        diagnostics.push(
            Diagnostic::new(
                Code::TooManyErrors,
                Span {
                    start: last_kept.end,
                    end: last_kept.end,
                },
                format!("{MAX_ERRORS} errors shown; {dropped_errors} more errors after this point are not shown"),
            )
            .with_help("fix the errors above and run `fz check` again"),
        );
    }
    diagnostics
}
