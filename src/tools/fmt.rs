//! `fz fmt`: the canonical layout of a diagram, with the checks that make it safe to write.

use crate::diagnostic::Diagnostic;
use crate::syntax::{self, format};

/// Why a source was not formatted.
#[derive(Debug, Clone, PartialEq)]
pub enum FmtError {
    /// The source has syntax errors (the diagnostics say where); it is left as it is.
    Syntax(Vec<Diagnostic>),
    /// The source is larger than the parser reads.
    TooLarge(usize),
    /// The printer would have changed the model or is not idempotent on this input. A bug in
    /// fz; the source is left as it is rather than written wrong.
    Unsafe(&'static str),
}

impl std::fmt::Display for FmtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FmtError::Syntax(d) => write!(f, "{} syntax error(s); not formatted", d.len()),
            FmtError::TooLarge(n) => write!(
                f,
                "the diagram is {n} bytes long; fz reads diagrams up to {} bytes",
                syntax::MAX_SOURCE_LEN
            ),
            FmtError::Unsafe(why) => write!(
                f,
                "internal error: formatting {why}; the file is left unchanged (please report this)"
            ),
        }
    }
}

/// Print `source` in canonical layout, without verification. Refuses syntax errors.
pub fn format_unchecked(source: &str) -> Result<String, FmtError> {
    if source.len() > syntax::MAX_SOURCE_LEN {
        return Err(FmtError::TooLarge(source.len()));
    }
    let parsed = syntax::parse(source);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !errors.is_empty() {
        return Err(FmtError::Syntax(errors));
    }
    Ok(format::format(&parsed.file, source))
}

/// Print `source` in canonical layout and verify the result: it describes the same model as
/// the input and formatting it again changes nothing. Refuses syntax errors.
pub fn format_source(source: &str) -> Result<String, FmtError> {
    let out = format_unchecked(source)?;
    if out == source {
        return Ok(out);
    }
    let digest = |s: &str| super::model_digest(&crate::model::check(s).diagram);
    if digest(source) != digest(&out) {
        return Err(FmtError::Unsafe("would change the diagram's model"));
    }
    match format_unchecked(&out) {
        Ok(again) if again == out => Ok(out),
        _ => Err(FmtError::Unsafe("is not idempotent on this input")),
    }
}

/// A unified diff of `old` against `new` (3 lines of context), with `name` in its headers;
/// empty when they are equal.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, &format!("{name} (formatted)"))
        .to_string()
}
