//! Diagnostics as JSON for tools: `{code, severity, message, file, line, column, end_line,
//! end_column, help}`, lines and columns 1-based, columns counted in characters.

use serde::Serialize;

use super::Diagnostic;
use crate::syntax::LineIndex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub help: Option<String>,
}

/// Convert diagnostics into their JSON form.
pub fn to_json(
    file: &str,
    source: &str,
    index: &LineIndex,
    diagnostics: &[Diagnostic],
) -> Vec<JsonDiagnostic> {
    diagnostics
        .iter()
        .map(|d| {
            let start = index.line_col(source, d.span.start as usize);
            let end = index.line_col(source, d.span.end as usize);
            JsonDiagnostic {
                code: d.code.as_str(),
                severity: d.severity().as_str(),
                message: d.message.clone(),
                file: file.to_string(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                help: d.help.clone(),
            }
        })
        .collect()
}
