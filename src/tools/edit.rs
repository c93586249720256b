//! Text edits at byte spans: how `fz fix` changes a file without disturbing its layout.

use crate::syntax::Span;

/// Replace the bytes of `span` with `text` (an insertion when the span is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub text: String,
}

impl Edit {
    pub fn replace(span: Span, text: impl Into<String>) -> Self {
        Edit {
            span,
            text: text.into(),
        }
    }

    pub fn insert(at: u32, text: impl Into<String>) -> Self {
        Edit {
            span: Span { start: at, end: at },
            text: text.into(),
        }
    }
}

/// Why a set of edits could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// Two edits touch the same bytes (or insert at the same place).
    Overlap(Span, Span),
    /// An edit reaches outside the source or splits a character.
    OutOfRange(Span),
}

/// Apply edits to `source`. Edits may come in any order; overlapping ones are refused.
pub fn apply(source: &str, edits: &[Edit]) -> Result<String, EditError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.span.start, e.span.end));
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0].span, pair[1].span);
        if b.start < a.end || (a.start == b.start && (a.is_empty() || b.is_empty())) {
            return Err(EditError::Overlap(a, b));
        }
    }
    let mut out = String::with_capacity(source.len() + 64);
    let mut at = 0usize;
    for e in sorted {
        let r = e.span.range();
        if r.end > source.len()
            || r.start > r.end
            || !source.is_char_boundary(r.start)
            || !source.is_char_boundary(r.end)
        {
            return Err(EditError::OutOfRange(e.span));
        }
        out.push_str(&source[at..r.start]);
        out.push_str(&e.text);
        at = r.end;
    }
    out.push_str(&source[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_in_any_order_and_refuses_overlaps() {
        let src = "ab cd ef";
        let edits = [
            Edit::replace(Span::new(6, 8), "EF"),
            Edit::insert(0, ">"),
            Edit::replace(Span::new(3, 5), ""),
        ];
        assert_eq!(apply(src, &edits).as_deref(), Ok(">ab  EF"));
        let bad = [
            Edit::replace(Span::new(0, 3), "x"),
            Edit::replace(Span::new(2, 4), "y"),
        ];
        assert!(matches!(apply(src, &bad), Err(EditError::Overlap(..))));
        assert!(matches!(
            apply(src, &[Edit::replace(Span::new(7, 9), "")]),
            Err(EditError::OutOfRange(_))
        ));
    }
}
