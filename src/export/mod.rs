//! Exporters: JSON (FlowZap's graph shape), Graphviz DOT and Mermaid.

pub mod dot;
pub mod json;
pub mod mermaid;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Dot,
    Mermaid,
    /// The workflow view as SVG (`fz render` with its defaults)
    Svg,
}

/// Export a diagram in `format`.
pub fn export(
    format: Format,
    d: &crate::model::Diagram,
    source: &str,
    index: &crate::syntax::LineIndex,
) -> String {
    match format {
        Format::Json => json::to_string(d, source, index),
        Format::Dot => dot::to_string(d),
        Format::Mermaid => mermaid::to_string(d),
        Format::Svg => crate::render::render_svg(d, &crate::render::RenderOptions::default()),
    }
}
