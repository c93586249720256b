//! Text measurement and wrapping with the embedded font's real glyph advances.
//!
//! Widths come from DejaVu Sans (the font the PNG path embeds and the SVG names first), read
//! once with `ttf-parser`. Characters the font lacks are measured as full width (1 em) when
//! they are East Asian wide (CJK, kana, Hangul, full-width forms) and 0.6 em otherwise, so
//! CJK labels wrap inside their shape even where the font has no glyph for them.

use std::sync::OnceLock;

/// The font family the SVG asks for, the embedded font first.
pub const FONT_FAMILY: &str = "'DejaVu Sans', Verdana, 'Noto Sans', 'Noto Sans CJK SC', sans-serif";

/// The embedded regular font (DejaVu Sans).
pub fn regular_font() -> &'static [u8] {
    dejavu::sans::regular()
}

/// The embedded bold font (DejaVu Sans Bold).
pub fn bold_font() -> &'static [u8] {
    dejavu::sans::bold()
}

/// Advance widths in em for the first 0x3000 code points (most Latin, Greek, Cyrillic,
/// punctuation, arrows), `NaN` where the font has no glyph.
struct Metrics {
    table: Vec<f32>,
    face: Option<ttf_parser::Face<'static>>,
    upem: f32,
}

const TABLE_LEN: usize = 0x3000;

impl Metrics {
    fn load(data: &'static [u8]) -> Metrics {
        let face = ttf_parser::Face::parse(data, 0).ok();
        let upem = face
            .as_ref()
            .map(|f| f32::from(f.units_per_em()))
            .unwrap_or(2048.0);
        let mut table = vec![f32::NAN; TABLE_LEN];
        if let Some(f) = &face {
            for (cp, slot) in table.iter_mut().enumerate() {
                if let Some(c) = char::from_u32(cp as u32) {
                    if let Some(g) = f.glyph_index(c) {
                        if let Some(adv) = f.glyph_hor_advance(g) {
                            *slot = f32::from(adv) / upem;
                        }
                    }
                }
            }
        }
        Metrics { table, face, upem }
    }

    fn advance_em(&self, c: char) -> f32 {
        let cp = c as usize;
        if c.is_control() {
            return 0.0;
        }
        let from_font = if cp < TABLE_LEN {
            self.table[cp]
        } else {
            self.face
                .as_ref()
                .and_then(|f| f.glyph_index(c).and_then(|g| f.glyph_hor_advance(g)))
                .map(|a| f32::from(a) / self.upem)
                .unwrap_or(f32::NAN)
        };
        if from_font.is_nan() {
            if is_wide(c) {
                1.0
            } else {
                0.6
            }
        } else {
            from_font
        }
    }
}

fn metrics(bold: bool) -> &'static Metrics {
    static REGULAR: OnceLock<Metrics> = OnceLock::new();
    static BOLD: OnceLock<Metrics> = OnceLock::new();
    if bold {
        BOLD.get_or_init(|| Metrics::load(bold_font()))
    } else {
        REGULAR.get_or_init(|| Metrics::load(regular_font()))
    }
}

/// East Asian wide and full-width characters (drawn one em wide).
pub fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1FAFF
        | 0x20000..=0x3FFFD)
}

/// A text style: size in px and weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Font {
    pub size: f64,
    pub bold: bool,
}

impl Font {
    pub const fn regular(size: f64) -> Font {
        Font { size, bold: false }
    }
    pub const fn bold(size: f64) -> Font {
        Font { size, bold: true }
    }
    /// Line height in px.
    pub fn line_height(self) -> f64 {
        (self.size * 1.25).round()
    }
}

/// Width of `text` in px, set in `font`.
pub fn width(text: &str, font: Font) -> f64 {
    let m = metrics(font.bold);
    let em: f32 = text.chars().map(|c| m.advance_em(c)).sum();
    f64::from(em) * font.size
}

/// Text made safe to draw: control characters become spaces (tab, newline) or are dropped,
/// runs of whitespace collapse to one space, the ends are trimmed.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') {
            continue;
        }
        if c == ' ' {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// Wrap `text` into lines no wider than `max_width` px: breaks at spaces, after hyphens and
/// slashes, between wide (CJK) characters, and inside words longer than a line.
/// Always returns at least one line.
pub fn wrap(text: &str, font: Font, max_width: f64) -> Vec<String> {
    let text = clean(text);
    if text.is_empty() {
        return vec![String::new()];
    }
    // Split into pieces that may not be broken further (except when too long): a piece
    // carries its trailing break character (space is dropped at line ends).
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if is_wide(c) {
            if !cur.is_empty() {
                pieces.push(std::mem::take(&mut cur));
            }
            pieces.push(c.to_string());
            continue;
        }
        cur.push(c);
        if matches!(c, ' ' | '-' | '/' | '_') {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces {
        let candidate = format!("{line}{piece}");
        if width(candidate.trim_end(), font) <= max_width || line.trim().is_empty() {
            if width(candidate.trim_end(), font) <= max_width {
                line = candidate;
                continue;
            }
            // A piece too long for any line: break it by characters.
            for c in piece.chars() {
                let next = format!("{line}{c}");
                if width(next.trim_end(), font) > max_width && !line.trim().is_empty() {
                    lines.push(line.trim_end().to_string());
                    line = String::new();
                    if c == ' ' {
                        continue;
                    }
                }
                line.push(c);
            }
            continue;
        }
        lines.push(line.trim_end().to_string());
        line = String::new();
        let p = piece.trim_start();
        if width(p.trim_end(), font) <= max_width {
            line.push_str(p);
        } else {
            for c in p.chars() {
                let next = format!("{line}{c}");
                if width(next.trim_end(), font) > max_width && !line.trim().is_empty() {
                    lines.push(line.trim_end().to_string());
                    line = String::new();
                }
                line.push(c);
            }
        }
    }
    if !line.trim().is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// A wrapped block of text and its measured size.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub lines: Vec<String>,
    pub font: Font,
    pub width: f64,
    pub height: f64,
}

impl Block {
    /// Wrap and measure `text`.
    pub fn new(text: &str, font: Font, max_width: f64) -> Block {
        let lines = wrap(text, font, max_width);
        let width = lines
            .iter()
            .map(|l| width(l, font))
            .fold(0.0_f64, f64::max)
            .ceil();
        let height = lines.len() as f64 * font.line_height();
        Block {
            lines,
            font,
            width,
            height,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_uses_real_advances() {
        let f = Font::regular(10.0);
        // 'i' is much narrower than 'W' in DejaVu Sans.
        assert!(width("iiii", f) < width("WWWW", f) / 2.0);
        assert!((width("W", f) - 9.89).abs() < 0.2, "{}", width("W", f));
    }

    #[test]
    fn cjk_is_full_width_and_wraps() {
        let f = Font::regular(10.0);
        assert!((width("事件总线", f) - 40.0).abs() < 1e-6);
        let lines = wrap("事件总线事件总线事件总线", f, 45.0);
        assert_eq!(lines, vec!["事件总线", "事件总线", "事件总线"]);
    }

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        let f = Font::regular(13.0);
        let lines = wrap("Customer Dashboard Projector", f, 120.0);
        assert!(lines.len() >= 2);
        for l in &lines {
            assert!(width(l, f) <= 120.0, "{l}");
        }
        let long = "a".repeat(100);
        for l in wrap(&long, f, 50.0) {
            assert!(width(&l, f) <= 50.0);
        }
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(clean("a\u{1}b\n c\t\td"), "ab c d");
        assert_eq!(wrap("", Font::regular(12.0), 10.0), vec![String::new()]);
    }
}
