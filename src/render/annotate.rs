//! Styling from figures: colour nodes by utilisation, mark a bottleneck, add badges (for
//! `fz sim --report`, which passes its figures by node id and embeds the SVG in its page).

use std::collections::BTreeMap;

use super::NodeStyle;

/// A fill for a utilisation in 0..=1 (clamped): green below 50 %, through amber, to red at
/// 100 % and above. Always a `#rrggbb` colour.
pub fn heat_colour(utilisation: f64) -> String {
    let u = if utilisation.is_finite() {
        utilisation.clamp(0.0, 1.0)
    } else {
        1.0
    };
    // Light tints so the labels stay readable: green (#bbf7d0), amber (#fde68a), red (#fca5a5).
    let stops = [
        (0.0, [0xbb, 0xf7, 0xd0]),
        (0.7, [0xfd, 0xe6, 0x8a]),
        (1.0, [0xfc, 0xa5, 0xa5]),
    ];
    let (mut lo, mut hi) = (stops[0], stops[1]);
    if u > stops[1].0 {
        lo = stops[1];
        hi = stops[2];
    }
    let t = if hi.0 > lo.0 {
        (u - lo.0) / (hi.0 - lo.0)
    } else {
        0.0
    };
    let c: Vec<u8> = (0..3)
        .map(|i| (f64::from(lo.1[i]) + (f64::from(hi.1[i]) - f64::from(lo.1[i])) * t).round() as u8)
        .collect();
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Node styles for a simulation report: each node in `utilisation` filled by
/// [`heat_colour`] with a `NN%` badge; the `bottleneck` outlined in red and its badge
/// prefixed `bottleneck`; `notes` (for example a view's projection lag, `lag 120 ms`)
/// appended to the node's badge.
pub fn heat_styles(
    utilisation: &BTreeMap<String, f64>,
    bottleneck: Option<&str>,
    notes: &BTreeMap<String, String>,
) -> BTreeMap<String, NodeStyle> {
    let mut out: BTreeMap<String, NodeStyle> = BTreeMap::new();
    for (id, u) in utilisation {
        let pct = if u.is_finite() {
            (u * 100.0).round()
        } else {
            100.0
        };
        out.insert(
            id.clone(),
            NodeStyle {
                fill: Some(heat_colour(*u)),
                stroke: None,
                badge: Some(format!("{pct:.0}%")),
            },
        );
    }
    for (id, note) in notes {
        let s = out.entry(id.clone()).or_default();
        s.badge = Some(match s.badge.take() {
            Some(b) => format!("{b} · {note}"),
            None => note.clone(),
        });
    }
    if let Some(id) = bottleneck {
        let s = out.entry(id.to_string()).or_default();
        s.stroke = Some("#b91c1c".into());
        s.badge = Some(match s.badge.take() {
            Some(b) => format!("bottleneck · {b}"),
            None => "bottleneck".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_run_green_to_red() {
        assert_eq!(heat_colour(0.0), "#bbf7d0");
        assert_eq!(heat_colour(0.7), "#fde68a");
        assert_eq!(heat_colour(1.0), "#fca5a5");
        assert_eq!(heat_colour(7.0), "#fca5a5");
        assert_eq!(heat_colour(f64::NAN), "#fca5a5");
    }

    #[test]
    fn styles_combine_badges() {
        let u: BTreeMap<String, f64> = [("n1".to_string(), 0.93), ("n2".to_string(), 0.1)].into();
        let notes: BTreeMap<String, String> = [("n3".to_string(), "lag 120 ms".to_string())].into();
        let s = heat_styles(&u, Some("n1"), &notes);
        assert_eq!(s["n1"].badge.as_deref(), Some("bottleneck · 93%"));
        assert_eq!(s["n1"].stroke.as_deref(), Some("#b91c1c"));
        assert_eq!(s["n2"].badge.as_deref(), Some("10%"));
        assert_eq!(s["n3"].badge.as_deref(), Some("lag 120 ms"));
        assert_eq!(s["n3"].fill, None);
    }
}
