//! Human, rustc-style rendering of diagnostics (with ariadne): the source line and a caret span.

use std::io::{self, Write};

use ariadne::{CharSet, Color, Config, IndexType, Label, Report, ReportKind, Source};

use super::{Diagnostic, Severity};

/// Lines longer than this (in bytes) are not drawn with a caret.
const MAX_DRAWN_LINE: usize = 4096;

/// Length in bytes of the line holding `offset`.
fn line_len(source: &str, index: &crate::syntax::LineIndex, offset: usize) -> usize {
    let line = index.line_of(offset);
    let start = index.line_start(line);
    let end = if line + 1 < index.line_count() {
        index.line_start(line + 1)
    } else {
        source.len()
    };
    end.saturating_sub(start)
}

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// Use ANSI colours (only on a terminal, never with `NO_COLOR`).
    pub color: bool,
    /// Use Unicode box-drawing characters; ASCII otherwise.
    pub unicode: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            color: false,
            unicode: true,
        }
    }
}

/// Render every diagnostic for `source` (named `file`) into `out`, then a summary line.
pub fn render(
    file: &str,
    source: &str,
    diagnostics: &[Diagnostic],
    options: ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut cache = (file.to_string(), Source::from(source));
    let config = Config::default()
        .with_color(options.color)
        .with_index_type(IndexType::Byte)
        .with_char_set(if options.unicode {
            CharSet::Unicode
        } else {
            CharSet::Ascii
        });
    let clamp = |r: std::ops::Range<usize>| -> std::ops::Range<usize> {
        let s = r.start.min(source.len());
        let e = r.end.clamp(s, source.len());
        s..e
    };
    let index = crate::syntax::LineIndex::new(source);
    for d in diagnostics {
        if line_len(source, &index, d.span.start as usize) > MAX_DRAWN_LINE {
            // Drawing a caret under a megabyte-long line helps no one: one compact line instead.
            let at = index.line_col(source, d.span.start as usize);
            writeln!(
                out,
                "{}[{}]: {}\n  --> {file}:{}:{} (line too long to show)",
                d.severity().as_str(),
                d.code.as_str(),
                d.message,
                at.line,
                at.column
            )?;
            if let Some(help) = &d.help {
                writeln!(out, "  help: {help}")?;
            }
            continue;
        }
        let (kind, color) = match d.severity() {
            Severity::Error => (ReportKind::Error, Color::Red),
            Severity::Warning => (ReportKind::Warning, Color::Yellow),
        };
        let primary = clamp(d.span.range());
        let mut report = Report::build(kind, file.to_string(), primary.start)
            .with_config(config)
            .with_code(d.code.as_str())
            .with_message(&d.message)
            .with_label(
                Label::new((file.to_string(), primary))
                    .with_message(d.code.summary())
                    .with_color(color)
                    .with_priority(1),
            );
        for (span, note) in &d.labels {
            report = report.with_label(
                Label::new((file.to_string(), clamp(span.range())))
                    .with_message(note)
                    .with_color(Color::Blue),
            );
        }
        if let Some(help) = &d.help {
            report = report.with_help(help);
        }
        report.finish().write(&mut cache, &mut *out)?;
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if !diagnostics.is_empty() {
        writeln!(
            out,
            "{file}: {errors} error{}, {warnings} warning{}",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}
