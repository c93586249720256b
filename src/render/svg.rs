//! A small SVG writer: escaping, number formatting and elements, nothing else.
//!
//! Numbers are rounded to one decimal and printed without trailing zeros, so the same layout
//! always prints the same bytes.

use std::fmt::Write as _;

use super::geom::Rect;
use super::style::Palette;
use super::text::{self, Block};
use crate::model::Diagram;

/// Escape text for XML character data and attribute values. Characters XML 1.0 cannot carry
/// at all (most C0 controls, U+FFFE, U+FFFF) are dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
    out
}

/// A number for SVG output: one decimal, no trailing `.0`, no `-0`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let r = (v * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r };
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A colour from user styling: kept only when it is a plain CSS colour token (`#abc`,
/// `#a1b2c3`, `rgb(…)`, a name); anything else falls back to `default`.
pub fn colour(value: Option<&str>, default: &str) -> String {
    match value {
        Some(v)
            if !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '#' | '(' | ')' | ',' | '.' | ' ' | '%')
                }) =>
        {
            v.to_string()
        }
        _ => default.to_string(),
    }
}

/// An SVG document being written.
pub struct Svg {
    pub out: String,
}

impl Svg {
    /// Start a document showing `view` (in px).
    pub fn new(view: Rect, title: &str) -> Svg {
        let mut out = String::with_capacity(16 * 1024);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"{x} {y} {w} {h}\" font-family=\"{f}\">\n<title>{t}</title>\n",
            x = num(view.x),
            y = num(view.y),
            w = num(view.w),
            h = num(view.h),
            f = escape(text::FONT_FAMILY),
            t = escape(title),
        );
        Svg { out }
    }

    /// Start the drawing of a whole diagram: the document titled "`view`: lane · lane",
    /// the arrow marker and the background.
    pub fn canvas(d: &Diagram, bounds: Rect, view: &str, pal: &Palette) -> Svg {
        let title = d
            .lanes
            .iter()
            .map(|l| l.display())
            .collect::<Vec<_>>()
            .join(" · ");
        let mut out = Svg::new(bounds, &format!("{view}: {title}"));
        out.arrow_marker(pal.edge);
        out.rect(bounds, 0.0, pal.background, "none", " class=\"background\"");
        out
    }

    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    pub fn open_group(&mut self, attrs: &str) {
        let _ = writeln!(self.out, "<g {attrs}>");
    }

    pub fn close_group(&mut self) {
        self.out.push_str("</g>\n");
    }

    pub fn rect(&mut self, r: Rect, rx: f64, fill: &str, stroke: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{}\" stroke=\"{}\"{}/>",
            num(r.x),
            num(r.y),
            num(r.w),
            num(r.h),
            num(rx),
            escape(fill),
            escape(stroke),
            extra
        );
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\"{}/>",
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            escape(stroke),
            extra
        );
    }

    /// A text block centred on (`cx`, `cy`), one `<tspan>` a line.
    pub fn text_block(&mut self, block: &Block, cx: f64, cy: f64, fill: &str) {
        self.text_lines(block, cx, cy - block.height / 2.0, "middle", fill);
    }

    /// A text block whose first line's top is at `top`, anchored at `x` (`start`, `middle`).
    pub fn text_lines(&mut self, block: &Block, x: f64, top: f64, anchor: &str, fill: &str) {
        if block.is_empty() {
            return;
        }
        let lh = block.font.line_height();
        let weight = if block.font.bold {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let _ = write!(
            self.out,
            "<text x=\"{}\" font-size=\"{}\"{} text-anchor=\"{}\" fill=\"{}\">",
            num(x),
            num(block.font.size),
            weight,
            anchor,
            escape(fill)
        );
        for (i, line) in block.lines.iter().enumerate() {
            let baseline = top + i as f64 * lh + lh / 2.0 + block.font.size * 0.36;
            let _ = write!(
                self.out,
                "<tspan x=\"{}\" y=\"{}\">{}</tspan>",
                num(x),
                num(baseline),
                escape(line)
            );
        }
        self.out.push_str("</text>\n");
    }

    /// The arrowhead marker (`url(#fz-arrow)`), once per document.
    pub fn arrow_marker(&mut self, colour: &str) {
        let _ = writeln!(
            self.out,
            "<defs><marker id=\"fz-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\" markerUnits=\"userSpaceOnUse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{}\"/></marker></defs>",
            escape(colour)
        );
    }

    /// A polyline path with an arrowhead at its end.
    pub fn arrow_path(&mut self, pts: &[super::geom::Point], stroke: &str, extra: &str) {
        let mut d = String::new();
        for (i, p) in pts.iter().enumerate() {
            let _ = write!(
                d,
                "{}{},{}",
                if i == 0 { "M" } else { " L" },
                num(p.x),
                num(p.y)
            );
        }
        let _ = writeln!(
            self.out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" marker-end=\"url(#fz-arrow)\"{extra}/>",
            escape(stroke)
        );
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_adversarial_text() {
        assert_eq!(
            escape("a<b>&\"c\"'d']]>\u{0}\u{7}"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;]]&gt;"
        );
    }

    #[test]
    fn numbers_are_stable() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.25), "1.3");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(f64::NAN), "0");
    }

    #[test]
    fn colours_are_filtered() {
        assert_eq!(colour(Some("#ff0000"), "x"), "#ff0000");
        assert_eq!(colour(Some("red\" onload=\"x"), "#000"), "#000");
        assert_eq!(colour(None, "#000"), "#000");
    }
}
