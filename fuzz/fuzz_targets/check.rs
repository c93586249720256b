//! Fuzz `fz check`: parse, resolve, lint, render the report and every export, and run fmt,
//! fix and diff, on any UTF-8 input. Nothing may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let c = fz::model::check(src);
    let index = fz::syntax::LineIndex::new(src);
    let _ = fz::diagnostic::to_json("f.fz", src, &index, &c.diagnostics);
    let mut out = Vec::new();
    let _ = fz::diagnostic::render("f.fz", src, &c.diagnostics, Default::default(), &mut out);
    for format in [fz::export::Format::Json, fz::export::Format::Dot, fz::export::Format::Mermaid] {
        let _ = fz::export::export(format, &c.diagram, src, &index);
    }
    let _ = fz::tools::fmt::format_source(src);
    if let Ok(fixed) = fz::tools::fix::fix(src) {
        let _ = fz::tools::fix::unrepaired(&fixed.checked.diagnostics);
    }
    let _ = fz::tools::diff::diff(&c.diagram, &c.diagram);
});
