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
    let whole_len = source.len();
    let source = super::reported_prefix(source, diagnostics);
    let config = Config::default()
        .with_color(options.color)
        .with_index_type(IndexType::Byte)
        .with_char_set(if options.unicode {
            CharSet::Unicode
        } else {
            CharSet::Ascii
        });
    // Spans clamped to the whole source lie in the prefix, which holds every offset named.
    let clamp = |r: std::ops::Range<usize>| -> std::ops::Range<usize> {
        let s = r.start.min(whole_len);
        let e = r.end.clamp(s, whole_len);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;
    use crate::syntax::Span;

    /// What `render` printed before it cut windows: one ariadne `Source` over the whole text.
    fn whole_source(file: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
        let mut out = Vec::new();
        let mut cache = (file.to_string(), Source::from(source));
        let config = Config::default()
            .with_color(color)
            .with_index_type(IndexType::Byte)
            .with_char_set(CharSet::Unicode);
        let clamp = |r: std::ops::Range<usize>| {
            let s = r.start.min(source.len());
            s..r.end.clamp(s, source.len())
        };
        for d in diagnostics {
            let primary = clamp(d.span.range());
            let (kind, color) = match d.severity() {
                Severity::Error => (ReportKind::Error, Color::Red),
                Severity::Warning => (ReportKind::Warning, Color::Yellow),
            };
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
            report.finish().write(&mut cache, &mut out).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    fn windowed(file: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
        let mut out = Vec::new();
        let options = ReportOptions {
            color,
            unicode: true,
        };
        render(file, source, diagnostics, options, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Without the summary line, which the reference does not print.
        let cut = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
        text[..cut].to_string()
    }

    #[test]
    fn windows_print_what_one_whole_source_prints() {
        let mut long = String::new();
        for i in 0..1500 {
            long.push_str(&format!("n{i}: rectangle label:\"Step {i} — é 订单\"\n"));
        }
        let at = |s: &str, needle: &str| s.find(needle).unwrap();
        let span = |s: &str, needle: &str| {
            let a = at(s, needle);
            Span::new(a, a + needle.len())
        };
        let crlf = long.replace('\n', "\r\n");
        // A form feed, a line break to ariadne and not to fz: drawn from one whole Source.
        let form_feed = format!("x\x0Cy\r{long}");
        let sources = [
            long.clone(),
            crlf,
            format!("{long}x"),
            form_feed,
            String::new(),
        ];
        for src in &sources {
            let mut ds = Vec::new();
            if !src.is_empty() {
                ds.push(Diagnostic::new(
                    Code::OrphanNode,
                    span(src, "n5:"),
                    "one line",
                ));
                // Labels far before and after the primary span; the gutter widens.
                ds.push(
                    Diagnostic::new(Code::DuplicateNode, span(src, "n999:"), "far labels")
                        .with_label(span(src, "n7:"), "first declared here")
                        .with_label(span(src, "n1200:"), "and here")
                        .with_help("a help"),
                );
                // A span over two lines, and a span at the very end of the text.
                let a = at(src, "n20:");
                let b = at(src, "n21:") + 3;
                ds.push(Diagnostic::new(Code::Syntax, Span::new(a, b), "two lines"));
            }
            ds.push(Diagnostic::new(
                Code::UnclosedLane,
                Span::new(src.len(), src.len()),
                "at the end",
            ));
            ds.push(Diagnostic::new(
                Code::UnclosedLane,
                Span::new(src.len() + 5, src.len() + 9),
                "past the end",
            ));
            for color in [false, true] {
                assert_eq!(
                    windowed("f.fz", src, &ds, color),
                    whole_source("f.fz", src, &ds, color),
                    "{:?}",
                    &src[..src.len().min(40)]
                );
            }
        }
    }
}
