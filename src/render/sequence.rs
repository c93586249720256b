//! The sequence view: one lifeline per lane, one message per edge, top to bottom in edge
//! definition order (FlowZap's rule).
//!
//! A message between two lanes is an arrow between their lifelines, labelled with the edge
//! label (bold) over the target node's text. A step inside one lane is an activation bar on
//! that lane's lifeline with a self-arrow. A loop is a boxed `loop [condition]` fragment
//! around the messages among its nodes. Nodes no edge touches are shown as notes at the end.

use std::fmt::Write as _;

use super::geom::Rect;
use super::svg::{escape, num, Svg};
use super::text::{self, Block, Font};
use super::RenderOptions;
use crate::model::Diagram;

const MARGIN: f64 = 20.0;
const HEAD_FONT: Font = Font::bold(13.0);
const MSG_FONT: Font = Font::bold(12.0);
const SUB_FONT: Font = Font::regular(11.0);
const SELF_W: f64 = 28.0;
const FRAG_HEAD: f64 = 26.0;

struct Message {
    ordinal: usize,
    src_id: String,
    dst_id: String,
    from: usize,
    to: usize,
    title: Option<Block>,
    sub: Block,
    width: f64,
    height: f64,
}

/// Draw the sequence view.
pub fn render(d: &Diagram, opts: &RenderOptions) -> String {
    let pal = opts.theme.palette();
    let lanes = d.lanes.len().max(1);
    let heads: Vec<Block> = (0..lanes)
        .map(|l| Block::new(d.lanes.get(l).map_or("", |x| x.display()), HEAD_FONT, 150.0))
        .collect();
    let head_w: Vec<f64> = heads.iter().map(|b| (b.width + 28.0).max(120.0)).collect();
    let head_h = heads.iter().map(|b| b.height + 20.0).fold(36.0, f64::max);

    // Messages in edge order.
    let mut messages: Vec<Message> = Vec::with_capacity(d.edge_count());
    for (_, s, t, e) in d.edges() {
        let (from, to) = (
            d.graph[s].lane.min(lanes - 1),
            d.graph[t].lane.min(lanes - 1),
        );
        let title = e
            .label
            .as_deref()
            .map(|l| Block::new(l, MSG_FONT, 220.0))
            .filter(|b| !b.is_empty());
        let sub = if from == to {
            let text = format!("{} \u{2192} {}", d.graph[s].display(), d.graph[t].display());
            Block::new(&text, SUB_FONT, 220.0)
        } else {
            Block::new(d.graph[t].display(), SUB_FONT, 220.0)
        };
        let width = title.as_ref().map_or(0.0, |b| b.width).max(sub.width);
        let height = title.as_ref().map_or(0.0, |b| b.height) + sub.height;
        messages.push(Message {
            ordinal: e.ordinal,
            src_id: d.graph[s].id.clone(),
            dst_id: d.graph[t].id.clone(),
            from,
            to,
            title,
            sub,
            width,
            height,
        });
    }
    // Notes for nodes no edge touches.
    let mut touched = vec![false; d.node_count()];
    for (_, s, t, _) in d.edges() {
        touched[s.index()] = true;
        touched[t.index()] = true;
    }
    let notes: Vec<(usize, String, Block)> = d
        .nodes()
        .filter(|(ix, _)| !touched[ix.index()])
        .map(|(_, n)| {
            (
                n.lane.min(lanes - 1),
                n.id.clone(),
                Block::new(n.display(), SUB_FONT, 160.0),
            )
        })
        .collect();

    // Lifeline positions: room for the headers, then for each message's text.
    let mut gaps: Vec<f64> = (0..lanes.saturating_sub(1))
        .map(|l| (head_w[l] + head_w[l + 1]) / 2.0 + 32.0)
        .collect();
    for m in &messages {
        if m.from == m.to {
            if let Some(g) = gaps.get_mut(m.from) {
                *g = g.max(SELF_W + m.width + 40.0);
            }
        } else {
            let (a, b) = (m.from.min(m.to), m.from.max(m.to));
            let span: f64 = gaps[a..b].iter().sum();
            let need = m.width + 48.0;
            if span < need {
                gaps[b - 1] += need - span;
            }
        }
    }
    for (l, _, b) in &notes {
        if let Some(g) = gaps.get_mut(*l) {
            *g = g.max(b.width / 2.0 + 80.0);
        }
    }
    let mut xs = vec![MARGIN + head_w[0] / 2.0; lanes];
    for l in 1..lanes {
        xs[l] = (xs[l - 1] + gaps[l - 1]).round();
    }

    // Rows: which loop fragments open before and close after each message.
    let in_loop = |li: usize, m: &Message| {
        let lp = &d.loops[li];
        let has = |id: &str| lp.nodes.iter().any(|&v| d.graph[v].id == id);
        has(&m.src_id) && has(&m.dst_id)
    };
    let mut frag_rows: Vec<Option<(usize, usize)>> = Vec::new();
    for li in 0..d.loops.len() {
        let rows: Vec<usize> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| in_loop(li, m))
            .map(|(i, _)| i)
            .collect();
        let rows = if rows.is_empty() {
            let touches = |m: &Message| {
                d.loops[li]
                    .nodes
                    .iter()
                    .any(|&v| d.graph[v].id == m.src_id || d.graph[v].id == m.dst_id)
            };
            messages
                .iter()
                .enumerate()
                .filter(|(_, m)| touches(m))
                .map(|(i, _)| i)
                .collect()
        } else {
            rows
        };
        frag_rows.push(match (rows.first(), rows.last()) {
            (Some(&a), Some(&b)) => Some((a, b)),
            _ => None,
        });
    }
    let mut opens = vec![0usize; messages.len() + 1];
    let mut closes = vec![0usize; messages.len() + 1];
    for (a, b) in frag_rows.iter().flatten() {
        opens[*a] += 1;
        closes[*b] += 1;
    }
    let top = MARGIN + head_h + 20.0;
    let mut row_top = vec![0.0; messages.len()];
    let mut row_h = vec![0.0; messages.len()];
    let mut y = top;
    for (i, m) in messages.iter().enumerate() {
        y += FRAG_HEAD * opens[i] as f64;
        row_top[i] = y;
        let h = if m.from == m.to {
            m.height.max(18.0) + 26.0
        } else {
            m.height + 24.0
        };
        row_h[i] = h;
        y += h;
        y += 10.0 * closes[i] as f64;
    }
    // A loop with no message among its nodes boxes its nodes' notes instead.
    let note_loops: Vec<usize> = (0..d.loops.len())
        .filter(|&li| frag_rows[li].is_none())
        .filter(|&li| {
            d.loops[li]
                .nodes
                .iter()
                .any(|&v| notes.iter().any(|(_, id, _)| *id == d.graph[v].id))
        })
        .collect();
    if !note_loops.is_empty() {
        y += FRAG_HEAD + 4.0 * note_loops.len().min(3) as f64;
    }
    let mut note_rects: Vec<Rect> = Vec::new();
    for (l, _, b) in &notes {
        let r = Rect::centred(
            xs[*l],
            y + 8.0 + (b.height + 12.0) / 2.0,
            b.width + 20.0,
            b.height + 12.0,
        );
        note_rects.push(r);
        y += b.height + 20.0;
    }
    if !note_loops.is_empty() {
        y += 8.0;
    }
    let bottom = y + 20.0;

    // Canvas.
    let mut right = xs[lanes - 1] + head_w[lanes - 1] / 2.0 + MARGIN;
    for m in &messages {
        if m.from == m.to {
            right = right.max(xs[m.from] + SELF_W + m.width + 24.0 + MARGIN);
        }
    }
    for r in &note_rects {
        right = right.max(r.right() + MARGIN);
    }
    let mut frag_rects: Vec<Option<Rect>> = Vec::new();
    for (li, fr) in frag_rows.iter().enumerate() {
        frag_rects.push(fr.map(|(a, b)| {
            let mut lo = f64::MAX;
            let mut hi = f64::MIN;
            for m in &messages[a..=b] {
                lo = lo.min(xs[m.from]).min(xs[m.to]);
                hi = hi.max(xs[m.from]).max(xs[m.to]);
                if m.from == m.to {
                    hi = hi.max(xs[m.from] + SELF_W + m.width + 12.0);
                }
            }
            for &v in &d.loops[li].nodes {
                let l = d.graph[v].lane.min(lanes - 1);
                lo = lo.min(xs[l]);
                hi = hi.max(xs[l]);
            }
            let nest = li % 3;
            let y0 = row_top[a] - FRAG_HEAD + 2.0 * nest as f64;
            let y1 = row_top[b] + row_h[b] + 4.0 - 2.0 * nest as f64;
            Rect::new(
                lo - 28.0 - 4.0 * nest as f64,
                y0,
                hi - lo + 56.0 + 8.0 * nest as f64,
                y1 - y0,
            )
        }));
    }
    for (k, &li) in note_loops.iter().enumerate() {
        let mut bx: Option<Rect> = None;
        for ((_, id, _), r) in notes.iter().zip(&note_rects) {
            if d.loops[li].nodes.iter().any(|&v| d.graph[v].id == *id) {
                bx = Some(bx.map_or(*r, |b| b.union(r)));
            }
        }
        if let Some(b) = bx {
            let pad = 10.0 + 4.0 * (k % 3) as f64;
            let width = (b.w + 2.0 * pad + 40.0).max(180.0);
            frag_rects[li] = Some(Rect::new(
                b.cx() - width / 2.0,
                b.y - FRAG_HEAD - pad + 6.0,
                width,
                b.h + FRAG_HEAD + 2.0 * pad - 6.0,
            ));
        }
    }
    // Wide enough for the `loop` tag and the condition on one line (up to 320 px).
    for (li, r) in frag_rects.iter_mut().enumerate() {
        if let Some(r) = r {
            let cond = format!("[{}]", text::clean(&d.loops[li].condition));
            let need = text::width("loop", Font::bold(11.0))
                + 14.0
                + 14.0
                + text::width(&cond, Font::regular(11.0)).min(320.0)
                + 16.0;
            if r.w < need {
                r.w = need.ceil();
            }
        }
    }
    let mut bounds = Rect::new(0.0, 0.0, right, bottom);
    for r in frag_rects.iter().flatten() {
        bounds = bounds.union(&r.inflate(MARGIN));
    }
    let bounds = bounds.snapped();

    let mut out = Svg::canvas(d, bounds, "Sequence", &pal);

    // Lifelines and participant heads.
    out.open_group("class=\"participants\"");
    for l in 0..lanes {
        let id = d.lanes.get(l).map_or("", |x| x.id.as_str());
        out.open_group(&format!("class=\"participant\" data-id=\"{}\"", escape(id)));
        out.line(
            xs[l],
            MARGIN + head_h,
            xs[l],
            bottom - 10.0,
            pal.node_stroke,
            " stroke-width=\"1\" stroke-dasharray=\"5 4\"",
        );
        let r = Rect::centred(xs[l], MARGIN + head_h / 2.0, head_w[l], head_h);
        out.rect(
            r,
            6.0,
            pal.lane_header,
            pal.node_stroke,
            " stroke-width=\"1.5\" class=\"head\"",
        );
        out.text_block(&heads[l], r.cx(), r.cy(), pal.lane_text);
        out.close_group();
    }
    out.close_group();

    // Fragments behind the messages.
    out.open_group("class=\"fragments\"");
    for (li, r) in frag_rects.iter().enumerate() {
        let Some(r) = r else { continue };
        let cond = text::clean(&d.loops[li].condition);
        out.open_group("class=\"fragment\" data-kind=\"loop\"");
        out.rect(*r, 0.0, "none", pal.loop_stroke, " stroke-width=\"1.5\"");
        let tag = Block::new("loop", Font::bold(11.0), 100.0);
        let tw = tag.width + 14.0;
        let th = 18.0;
        let mut d_attr = String::new();
        let _ = write!(
            d_attr,
            "M{},{} L{},{} L{},{} L{},{} L{},{} z",
            num(r.x),
            num(r.y),
            num(r.x + tw + 6.0),
            num(r.y),
            num(r.x + tw + 6.0),
            num(r.y + th - 6.0),
            num(r.x + tw),
            num(r.y + th),
            num(r.x),
            num(r.y + th)
        );
        out.raw(&format!(
            "<path d=\"{d_attr}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>\n",
            escape(pal.background),
            escape(pal.loop_stroke)
        ));
        out.text_block(&tag, r.x + tw / 2.0 + 1.0, r.y + th / 2.0, pal.loop_text);
        let cb = Block::new(
            &format!("[{cond}]"),
            Font::regular(11.0),
            (r.w - tw - 24.0).max(60.0),
        );
        let bg = Rect::new(r.x + tw + 10.0, r.y + 1.0, cb.width + 8.0, cb.height);
        out.rect(bg, 2.0, pal.background, "none", " fill-opacity=\"0.9\"");
        out.text_lines(&cb, r.x + tw + 14.0, r.y + 1.0, "start", pal.loop_text);
        out.close_group();
    }
    out.close_group();

    // Messages.
    out.open_group("class=\"messages\"");
    for (i, m) in messages.iter().enumerate() {
        let top = row_top[i];
        out.open_group(&format!(
            "class=\"message\" data-id=\"e{}\" data-source=\"{}\" data-target=\"{}\"",
            m.ordinal + 1,
            escape(&m.src_id),
            escape(&m.dst_id)
        ));
        if m.from == m.to {
            let x = xs[m.from];
            let self_in = |j: usize| {
                messages
                    .get(j)
                    .is_some_and(|o| o.from == m.from && o.to == m.from)
            };
            // One bar for a run of steps in the same lane, drawn with the first of them.
            // A run also breaks where a loop fragment opens or closes.
            let continues = |j: usize| {
                j > 0 && self_in(j - 1) && self_in(j) && opens[j] == 0 && closes[j - 1] == 0
            };
            if !continues(i) {
                let mut last = i;
                while continues(last + 1) {
                    last += 1;
                }
                let bar = Rect::new(
                    x - 5.0,
                    top + 2.0,
                    10.0,
                    row_top[last] + row_h[last] - 4.0 - top,
                );
                out.raw("<g class=\"activation\">");
                out.rect(
                    bar,
                    0.0,
                    pal.activation_fill,
                    pal.node_stroke,
                    " stroke-width=\"1\"",
                );
                out.raw("</g>\n");
            }
            let y0 = top + 8.0;
            let y1 = top + row_h[i] - 10.0;
            let pts = [
                super::geom::Point::new(x + 5.0, y0),
                super::geom::Point::new(x + SELF_W, y0),
                super::geom::Point::new(x + SELF_W, y1),
                super::geom::Point::new(x + 5.0, y1),
            ];
            out.arrow_path(&pts, pal.edge, "");
            let mut ty = (y0 + y1) / 2.0 - m.height / 2.0;
            if let Some(t) = &m.title {
                out.text_lines(t, x + SELF_W + 8.0, ty, "start", pal.node_text);
                ty += t.height;
            }
            out.text_lines(&m.sub, x + SELF_W + 8.0, ty, "start", pal.muted_text);
        } else {
            let (x0, x1) = (xs[m.from], xs[m.to]);
            let y = top + row_h[i] - 8.0;
            let dir = if x1 > x0 { 1.0 } else { -1.0 };
            let pts = [
                super::geom::Point::new(x0 + dir * 5.0, y),
                super::geom::Point::new(x1 - dir * 5.0, y),
            ];
            out.arrow_path(&pts, pal.edge, "");
            let cx = (x0 + x1) / 2.0;
            let mut ty = y - 4.0 - m.height;
            let bg = Rect::new(cx - m.width / 2.0 - 4.0, ty, m.width + 8.0, m.height);
            out.rect(
                bg,
                3.0,
                pal.background,
                "none",
                " fill-opacity=\"0.9\" class=\"message-label\"",
            );
            if let Some(t) = &m.title {
                out.text_lines(t, cx, ty, "middle", pal.node_text);
                ty += t.height;
            }
            out.text_lines(&m.sub, cx, ty, "middle", pal.muted_text);
        }
        out.close_group();
    }
    out.close_group();

    // Notes.
    out.open_group("class=\"notes\"");
    for ((_, id, b), r) in notes.iter().zip(&note_rects) {
        out.open_group(&format!("class=\"note\" data-id=\"{}\"", escape(id)));
        out.rect(
            *r,
            3.0,
            pal.taskbox_fill,
            pal.node_stroke,
            " stroke-width=\"1\"",
        );
        out.text_block(b, r.cx(), r.cy(), pal.node_text);
        out.close_group();
    }
    out.close_group();
    out.finish()
}
