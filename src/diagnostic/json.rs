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
    let mut columns = Columns::new(source, index);
    diagnostics
        .iter()
        .map(|d| {
            let start = columns.at(d.span.start as usize);
            let end = columns.at(d.span.end as usize);
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

/// Line/column lookups that reuse the previous count when offsets move forward on one line,
/// so many diagnostics on one very long line cost one pass over it, not one each.
struct Columns<'s> {
    source: &'s str,
    index: &'s LineIndex,
    last: Option<(usize, crate::syntax::LineCol)>,
}

impl<'s> Columns<'s> {
    fn new(source: &'s str, index: &'s LineIndex) -> Self {
        Columns {
            source,
            index,
            last: None,
        }
    }

    fn at(&mut self, offset: usize) -> crate::syntax::LineCol {
        let offset = offset.min(self.source.len());
        let lc = match self.last {
            Some((prev, lc))
                if prev <= offset
                    && self.source.is_char_boundary(prev)
                    && self.source.is_char_boundary(offset)
                    && !self.source[prev..offset].contains('\n') =>
            {
                crate::syntax::LineCol {
                    line: lc.line,
                    column: lc.column + self.source[prev..offset].chars().count(),
                }
            }
            _ => self.index.line_col(self.source, offset),
        };
        self.last = Some((offset, lc));
        lc
    }
}
