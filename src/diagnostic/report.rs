//! Human, rustc-style rendering of diagnostics (with ariadne): the source line and a caret span.

use std::io::{self, Write};

use ariadne::{CharSet, Color, Config, IndexType, Label, Report, ReportKind, Source};

use super::{Diagnostic, Severity};
use crate::syntax::LineIndex;

/// Lines longer than this (in bytes) are not drawn with a caret.
const MAX_DRAWN_LINE: usize = 4096;

/// Length in bytes of the line holding `offset`.
fn line_len(source: &str, index: &LineIndex, offset: usize) -> usize {
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

/// Whether ariadne's lines are fz's lines: ariadne also breaks lines at a `\r` not followed
/// by `\n`, vertical tab, form feed, U+0085, U+2028 and U+2029. When the source has none of
/// them, a diagnostic's lines can be cut out of it by fz's [`LineIndex`].
fn only_newline_breaks(source: &str) -> bool {
    let b = source.as_bytes();
    if memchr::memchr2(0x0B, 0x0C, b).is_some() {
        return false;
    }
    if memchr::memchr_iter(b'\r', b).any(|i| b.get(i + 1) != Some(&b'\n')) {
        return false;
    }
    // U+0085 is C2 85, U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
    !memchr::memchr2_iter(0xC2, 0xE2, b).any(|i| match b[i] {
        0xC2 => b.get(i + 1) == Some(&0x85),
        _ => b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)),
    })
}

/// The lines a report on `ranges` shows, as ariadne counts them when they are fz's lines: from
/// the line of the first byte to the line of the last, 0-based. An offset at the very end of
/// a source that ends with a line break belongs to the last line (ariadne has no empty line
/// after it).
fn shown_lines(
    source: &str,
    index: &LineIndex,
    ranges: impl Iterator<Item = std::ops::Range<usize>>,
) -> (usize, usize) {
    let line = |offset: usize| {
        let l = index.line_of(offset);
        if l > 0 && index.line_start(l) >= source.len() {
            l - 1
        } else {
            l
        }
    };
    let (mut lo, mut hi) = (usize::MAX, 0);
    for r in ranges {
        lo = lo.min(r.start);
        // ariadne finds a span's last line from its last byte (its start when empty).
        hi = hi.max(r.end.saturating_sub(1).max(r.start));
    }
    if lo == usize::MAX {
        return (0, 0);
    }
    (line(lo), line(hi))
}

/// Render every diagnostic for `source` (named `file`) into `out`, then a summary line.
///
/// Each report is drawn from a small ariadne `Source` holding only the lines it shows, with
/// ariadne's line numbers moved to the lines' place in the file: the same output as one
/// `Source` over the whole text, without indexing every line of a 100 MB diagram. (Sources
/// with line breaks other than `\n` and `\r\n`, which ariadne counts and fz does not, are
/// drawn from one whole `Source`.)
pub fn render(
    file: &str,
    source: &str,
    diagnostics: &[Diagnostic],
    options: ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
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
    let index = LineIndex::new(source);
    let windows = diagnostics.is_empty() || only_newline_breaks(source);
    let mut whole: Option<(String, Source<&str>)> = None;
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
        let primary = clamp(d.span.range());
        let others: Vec<_> = d
            .labels
            .iter()
            .map(|(span, note)| (clamp(span.range()), note))
            .collect();
        let mut window;
        let (base, cache) = if windows {
            let (first, last) = shown_lines(
                source,
                &index,
                std::iter::once(primary.clone()).chain(others.iter().map(|(r, _)| r.clone())),
            );
            let start = index.line_start(first);
            let end = if last + 1 < index.line_count() {
                index.line_start(last + 1)
            } else {
                source.len()
            };
            let src = Source::from(&source[start..end.max(start)]).with_display_line_offset(first);
            window = (file.to_string(), src);
            (start, &mut window)
        } else {
            let cache = whole.get_or_insert_with(|| (file.to_string(), Source::from(source)));
            (0, cache)
        };
        let at = |r: &std::ops::Range<usize>| r.start - base..r.end - base;
        let (kind, color) = match d.severity() {
            Severity::Error => (ReportKind::Error, Color::Red),
            Severity::Warning => (ReportKind::Warning, Color::Yellow),
        };
        let mut report = Report::build(kind, file.to_string(), primary.start - base)
            .with_config(config)
            .with_code(d.code.as_str())
            .with_message(&d.message)
            .with_label(
                Label::new((file.to_string(), at(&primary)))
                    .with_message(d.code.summary())
                    .with_color(color)
                    .with_priority(1),
            );
        for (range, note) in &others {
            report = report.with_label(
                Label::new((file.to_string(), at(range)))
                    .with_message(note)
                    .with_color(Color::Blue),
            );
        }
        if let Some(help) = &d.help {
            report = report.with_help(help);
        }
        report.finish().write(cache, &mut *out)?;
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
