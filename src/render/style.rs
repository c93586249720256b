//! Themes: the colours of each part of a drawing.

/// Light or dark colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

/// The palette of a theme.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub background: &'static str,
    pub lane_fill: [&'static str; 2],
    pub lane_stroke: &'static str,
    pub lane_header: &'static str,
    pub lane_text: &'static str,
    pub node_fill: &'static str,
    pub node_stroke: &'static str,
    pub node_text: &'static str,
    pub muted_text: &'static str,
    pub circle_fill: &'static str,
    pub diamond_fill: &'static str,
    pub taskbox_fill: &'static str,
    pub taskbox_band: &'static str,
    pub edge: &'static str,
    pub edge_label_fill: &'static str,
    pub edge_label_text: &'static str,
    pub loop_stroke: &'static str,
    pub loop_text: &'static str,
    pub badge_fill: &'static str,
    pub badge_text: &'static str,
    pub activation_fill: &'static str,
}

impl Theme {
    pub fn palette(self) -> Palette {
        match self {
            Theme::Light => Palette {
                background: "#ffffff",
                lane_fill: ["#f8fafc", "#f1f5f9"],
                lane_stroke: "#cbd5e1",
                lane_header: "#e2e8f0",
                lane_text: "#0f172a",
                node_fill: "#ffffff",
                node_stroke: "#475569",
                node_text: "#0f172a",
                muted_text: "#475569",
                circle_fill: "#ecfdf5",
                diamond_fill: "#fffbeb",
                taskbox_fill: "#eff6ff",
                taskbox_band: "#3b82f6",
                edge: "#334155",
                edge_label_fill: "#ffffff",
                edge_label_text: "#1e293b",
                loop_stroke: "#7c3aed",
                loop_text: "#5b21b6",
                badge_fill: "#334155",
                badge_text: "#ffffff",
                activation_fill: "#e0e7ff",
            },
            Theme::Dark => Palette {
                background: "#0f172a",
                lane_fill: ["#111827", "#1e293b"],
                lane_stroke: "#334155",
                lane_header: "#1f2937",
                lane_text: "#f1f5f9",
                node_fill: "#1e293b",
                node_stroke: "#94a3b8",
                node_text: "#f8fafc",
                muted_text: "#cbd5e1",
                circle_fill: "#064e3b",
                diamond_fill: "#78350f",
                taskbox_fill: "#1e3a8a",
                taskbox_band: "#60a5fa",
                edge: "#cbd5e1",
                edge_label_fill: "#0f172a",
                edge_label_text: "#e2e8f0",
                loop_stroke: "#a78bfa",
                loop_text: "#ddd6fe",
                badge_fill: "#e2e8f0",
                badge_text: "#0f172a",
                activation_fill: "#312e81",
            },
        }
    }
}
