//! PNG output: the SVG rasterised by resvg with the embedded DejaVu Sans, so text renders
//! the same on a machine with no fonts installed.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

use super::text;

/// Largest side of the image, in pixels.
const MAX_SIDE: f32 = 8192.0;
/// Pixels per SVG unit, unless the image would get larger than [`MAX_SIDE`].
const SCALE: f32 = 2.0;

/// The embedded DejaVu Sans first; the machine's fonts after it, only for characters DejaVu
/// lacks (CJK, for one), so a machine with no fonts still renders every Latin label and one
/// with a CJK font renders CJK labels too.
fn fontdb() -> Arc<usvg::fontdb::Database> {
    static DB: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(text::regular_font().to_vec());
        db.load_font_data(text::bold_font().to_vec());
        db.load_system_fonts();
        // Installed copies of DejaVu Sans would compete with the embedded one.
        let installed_dejavu: Vec<_> = db
            .faces()
            .filter(|f| !matches!(f.source, usvg::fontdb::Source::Binary(_)))
            .filter(|f| f.families.iter().any(|(name, _)| name == "DejaVu Sans"))
            .map(|f| f.id)
            .collect();
        for id in installed_dejavu {
            db.remove_face(id);
        }
        db.set_sans_serif_family("DejaVu Sans");
        Arc::new(db)
    })
    .clone()
}

/// Rasterise an SVG document to PNG bytes.
pub fn rasterise(svg: &str) -> Result<Vec<u8>, String> {
    let opt = usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: fontdb(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| format!("cannot read the SVG: {e}"))?;
    let size = tree.size();
    let longest = size.width().max(size.height()).max(1.0);
    let scale = SCALE.min(MAX_SIDE / longest);
    let w = (size.width() * scale).ceil().max(1.0) as u32;
    let h = (size.height() * scale).ceil().max(1.0) as u32;
    let mut pixmap =
        tiny_skia::Pixmap::new(w, h).ok_or_else(|| format!("cannot allocate a {w}×{h} image"))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| format!("cannot encode the PNG: {e}"))
}
