//! Drawing diagrams: the workflow (swimlane) view and the sequence view, as SVG and PNG.
//!
//! [`render_svg`] reads only the [`Diagram`]; it never sees source text. Output is
//! deterministic byte for byte and self-contained (no external fonts, images or scripts).
//! [`RenderOptions::node_style`] lets callers (e.g. `fz sim --report`) colour nodes and add a
//! badge (a short annotation such as a utilisation or a projection lag) to each.
//!
//! One concept a file: [`text`] measures and wraps, [`layout`] ranks and places,
//! [`route`] draws edges between them, [`workflow`] and [`sequence`] are the two views,
//! [`svg`] writes the document, [`png`] rasterises it, [`style`] holds the themes.

// Layout code indexes several parallel per-node and per-column vectors by the same index.
#![allow(clippy::needless_range_loop)]

pub mod annotate;
pub mod geom;
pub mod layout;
pub mod png;
pub mod route;
pub mod sequence;
pub mod style;
pub mod svg;
pub mod text;
pub mod workflow;

use std::collections::BTreeMap;

use crate::model::Diagram;

pub use geom::Rect;
pub use style::Theme;

/// Which drawing of the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum View {
    /// Lanes as horizontal swimlanes, flow left to right.
    #[default]
    Workflow,
    /// One lifeline per lane, messages top to bottom in edge order.
    Sequence,
}

/// Per-node styling, keyed by node id in [`RenderOptions::node_style`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStyle {
    /// Fill colour (`#rrggbb`, `rgb(…)` or a CSS colour name); other text is ignored.
    pub fill: Option<String>,
    /// Stroke colour, same rules.
    pub stroke: Option<String>,
    /// A short annotation drawn as a pill on the node's top edge (e.g. `"92%"`, `"lag 1.2s"`).
    pub badge: Option<String>,
}

/// How to draw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub view: View,
    pub theme: Theme,
    /// Styling by node id; nodes not named keep the theme's colours.
    pub node_style: BTreeMap<String, NodeStyle>,
}

/// Draw `diagram` as one self-contained SVG document.
pub fn render_svg(diagram: &Diagram, options: &RenderOptions) -> String {
    match options.view {
        View::Workflow => workflow::render(diagram, options).svg,
        View::Sequence => sequence::render(diagram, options),
    }
}

/// Draw `diagram` as a PNG image (the SVG rasterised with the embedded font).
pub fn render_png(diagram: &Diagram, options: &RenderOptions) -> Result<Vec<u8>, String> {
    png::rasterise(&render_svg(diagram, options))
}
