//! The workflow view: lanes as horizontal swimlanes, flow from left to right.
//!
//! Node sizes come from their measured text; [`layout::grid`] gives each node a column and a
//! row of its lane; columns are as wide as their widest node plus room for the labels of the
//! edges that cross the gap after them; [`route::Router`] draws the edges between the named
//! handles; labels are placed where they cover no node.

use petgraph::graph::NodeIndex;

use super::geom::{Point, Rect};
use super::layout;
use super::route::{self, Router};
use super::style::Palette;
use super::svg::{self, escape, num, Svg};
use super::text::{Block, Font};
use super::{NodeStyle, RenderOptions};
use crate::model::{Diagram, Handle, Node, Shape};

const MARGIN: f64 = 16.0;
const LANE_PAD: f64 = 40.0;
const ROW_GAP: f64 = 48.0;
const MIN_GAP: f64 = 64.0;
const INNER_LEFT: f64 = 36.0;
const INNER_RIGHT: f64 = 36.0;
const MIN_LANE_H: f64 = 120.0;

const LABEL_FONT: Font = Font::regular(13.0);
const SMALL_FONT: Font = Font::regular(11.0);
const EDGE_FONT: Font = Font::regular(11.0);
const LANE_FONT: Font = Font::bold(13.0);
const OWNER_FONT: Font = Font::bold(11.0);
const BADGE_FONT: Font = Font::bold(10.0);

/// What a node shows, measured.
#[derive(Debug, Clone)]
enum Content {
    Single(Block),
    Task {
        owner: Option<Block>,
        label: Option<Block>,
        description: Option<Block>,
        system: Option<Block>,
    },
}

/// A node's measured size and content.
#[derive(Debug, Clone)]
pub(crate) struct NodeBox {
    pub(crate) w: f64,
    pub(crate) h: f64,
    content: Content,
}

const TASK_BAND: f64 = 22.0;

/// Measure a node as drawn.
pub(crate) fn measure(node: &Node) -> NodeBox {
    match node.shape {
        Shape::Rectangle => {
            let b = Block::new(node.display(), LABEL_FONT, 168.0);
            NodeBox {
                w: (b.width + 28.0).max(128.0).ceil(),
                h: (b.height + 24.0).max(52.0).ceil(),
                content: Content::Single(b),
            }
        }
        Shape::Circle => {
            let b = Block::new(node.display(), Font::regular(12.0), 96.0);
            let d = (b.width.hypot(b.height) + 14.0).max(60.0).ceil();
            NodeBox {
                w: d,
                h: d,
                content: Content::Single(b),
            }
        }
        Shape::Diamond => {
            let b = Block::new(node.display(), Font::regular(12.0), 120.0);
            let h = (2.0 * b.height + 24.0).max(68.0).ceil();
            let w = (b.width / (1.0 - b.height / h) + 28.0).max(100.0).ceil();
            NodeBox {
                w,
                h,
                content: Content::Single(b),
            }
        }
        Shape::Taskbox => {
            let max = 176.0;
            let owner = node.attr("owner").map(|t| Block::new(t, OWNER_FONT, max));
            let label = node.label().map(|t| Block::new(t, Font::bold(13.0), max));
            let description = node
                .attr("description")
                .map(|t| Block::new(t, LABEL_FONT, max));
            let system = node.attr("system").map(|t| Block::new(t, SMALL_FONT, max));
            let label = if label.is_none() && description.is_none() {
                Some(Block::new(&node.id, Font::bold(13.0), max))
            } else {
                label
            };
            let blocks = [&owner, &label, &description, &system];
            let w = blocks
                .iter()
                .filter_map(|b| b.as_ref().map(|b| b.width))
                .fold(0.0, f64::max);
            let body: f64 = [&label, &description]
                .iter()
                .filter_map(|b| b.as_ref().map(|b| b.height + 4.0))
                .sum();
            let foot = system.as_ref().map_or(0.0, |b| b.height + 6.0);
            let band = owner
                .as_ref()
                .map_or(8.0, |b| b.height.max(TASK_BAND - 6.0) + 6.0);
            NodeBox {
                w: (w + 28.0).max(148.0).ceil(),
                h: (band + body + foot + 18.0).max(64.0).ceil(),
                content: Content::Task {
                    owner,
                    label,
                    description,
                    system,
                },
            }
        }
    }
}

/// A laid-out workflow drawing: the SVG and the geometry tests check.
#[derive(Debug, Clone)]
pub struct Drawing {
    pub svg: String,
    /// Node id and box, in declaration order.
    pub nodes: Vec<(String, Rect)>,
    /// Edge ordinal, its polyline and the sides it leaves and enters by.
    pub edges: Vec<(usize, Vec<Point>, Handle, Handle)>,
    /// Boxes of edge and loop labels.
    pub labels: Vec<Rect>,
}

/// Lay out and draw the workflow view.
pub fn render(d: &Diagram, opts: &RenderOptions) -> Drawing {
    let pal = opts.theme.palette();
    let grid = layout::grid(d);
    let n = d.node_count();
    let boxes: Vec<NodeBox> = d.nodes().map(|(_, node)| measure(node)).collect();
    let lanes = d.lanes.len().max(1);

    // Lane header width from the lane labels.
    let lane_blocks: Vec<Block> = (0..lanes)
        .map(|l| {
            let t = d.lanes.get(l).map_or("", |lane| lane.display());
            Block::new(t, LANE_FONT, 132.0)
        })
        .collect();
    let header_w = lane_blocks
        .iter()
        .map(|b| b.width + 28.0)
        .fold(96.0, f64::max)
        .ceil();

    // Column widths and gaps.
    let cols = grid.cols.max(1);
    let mut col_w = vec![40.0f64; cols];
    for v in 0..n {
        col_w[grid.col[v]] = col_w[grid.col[v]].max(boxes[v].w);
    }
    let edge_blocks: Vec<Option<Block>> = d
        .edges()
        .map(|(_, _, _, e)| {
            e.label
                .as_deref()
                .map(|l| Block::new(l, EDGE_FONT, 150.0))
                .filter(|b| !b.is_empty())
        })
        .collect();
    let mut gap = vec![MIN_GAP; cols];
    for (i, (_, s, t, e)) in d.edges().enumerate() {
        let (cs, ct) = (grid.col[s.index()], grid.col[t.index()]);
        let horizontal = !matches!(e.source_handle, Some(Handle::Top | Handle::Bottom));
        if let Some(b) = &edge_blocks[i] {
            if horizontal && ct == cs + 1 {
                gap[cs] = gap[cs].max(b.width + 2.0 * route::STUB + 24.0);
            }
        }
    }
    let x0 = MARGIN + header_w + INNER_LEFT;
    let mut col_x = vec![x0; cols];
    for c in 1..cols {
        col_x[c] = col_x[c - 1] + col_w[c - 1] + gap[c - 1];
    }
    let content_right = col_x[cols - 1] + col_w[cols - 1] + INNER_RIGHT;

    // Row heights and lane heights.
    let mut row_h: Vec<Vec<f64>> = grid.lane_rows.iter().map(|&r| vec![0.0; r]).collect();
    for (v, b) in boxes.iter().enumerate().take(n) {
        let l = d.graph[NodeIndex::new(v)].lane.min(lanes - 1);
        if let Some(h) = row_h[l].get_mut(grid.row[v]) {
            *h = h.max(b.h);
        }
    }
    let mut lane_y = vec![MARGIN; lanes];
    let mut lane_h = vec![MIN_LANE_H; lanes];
    let mut y = MARGIN;
    for l in 0..lanes {
        lane_y[l] = y;
        let rows: f64 = row_h[l].iter().sum::<f64>()
            + ROW_GAP * (row_h[l].len().saturating_sub(1)) as f64
            + 2.0 * LANE_PAD;
        lane_h[l] = rows.max(MIN_LANE_H).max(lane_blocks[l].height + 24.0);
        y += lane_h[l];
    }
    let lanes_bottom = y;

    // Node rectangles.
    let mut rects = vec![Rect::new(0.0, 0.0, 0.0, 0.0); n];
    for v in 0..n {
        let l = d.graph[NodeIndex::new(v)].lane.min(lanes - 1);
        let c = grid.col[v];
        let r = grid.row[v];
        let rows_total: f64 =
            row_h[l].iter().sum::<f64>() + ROW_GAP * (row_h[l].len().saturating_sub(1)) as f64;
        let top = lane_y[l] + (lane_h[l] - rows_total) / 2.0;
        let above: f64 = row_h[l][..r].iter().sum::<f64>() + ROW_GAP * r as f64;
        let cy = top + above + row_h[l][r] / 2.0;
        let cx = col_x[c] + col_w[c] / 2.0;
        rects[v] = Rect::centred(cx.round(), cy.round(), boxes[v].w, boxes[v].h);
    }

    // Channels for the router.
    let mut xs = vec![x0 - INNER_LEFT / 2.0, content_right - INNER_RIGHT / 2.0];
    for c in 0..cols.saturating_sub(1) {
        xs.push(col_x[c] + col_w[c] + gap[c] / 2.0);
    }
    let mut ys = Vec::new();
    for l in 0..lanes {
        let rows_total: f64 =
            row_h[l].iter().sum::<f64>() + ROW_GAP * (row_h[l].len().saturating_sub(1)) as f64;
        let top = lane_y[l] + (lane_h[l] - rows_total) / 2.0;
        ys.push(top - LANE_PAD / 2.0);
        ys.push(top + rows_total + LANE_PAD / 2.0);
        let mut acc = top;
        for (r, h) in row_h[l].iter().enumerate() {
            acc += h;
            if r + 1 < row_h[l].len() {
                ys.push(acc + ROW_GAP / 2.0);
                acc += ROW_GAP;
            }
        }
    }
    let mut router = Router::new(&rects, xs, ys);
    let mut edges = Vec::with_capacity(d.edge_count());
    for (_, s, t, e) in d.edges() {
        let (rs, rt) = (rects[s.index()], rects[t.index()]);
        let (ds, dt) = route::default_handles(&rs, &rt);
        let sh = e.source_handle.unwrap_or(ds);
        let th = e.target_handle.unwrap_or(dt);
        let pts = router.route(&rs, sh, &rt, th);
        edges.push((e.ordinal, pts, sh, th));
    }

    // Loops: a dashed box around their nodes, or around each of them when one box would
    // also hold nodes outside the loop.
    let mut loop_boxes: Vec<(Vec<Rect>, Block)> = Vec::new();
    for (i, lp) in d.loops.iter().enumerate() {
        // Room for the label centred on the box's top line without touching a node.
        let pad = 14.0 + 4.0 * (i % 3) as f64;
        let members: Vec<usize> = lp
            .nodes
            .iter()
            .map(|v| v.index())
            .filter(|&v| v < n)
            .collect();
        let Some(first) = members.first() else {
            continue;
        };
        let bx = members
            .iter()
            .fold(rects[*first], |b, &v| b.union(&rects[v]))
            .inflate(pad);
        let foreign = (0..n).any(|v| !members.contains(&v) && rects[v].intersects(&bx));
        let outlines = if foreign {
            members.iter().map(|&v| rects[v].inflate(pad)).collect()
        } else {
            vec![bx]
        };
        let text = format!("loop [{}]", super::text::clean(&lp.condition));
        loop_boxes.push((outlines, Block::new(&text, SMALL_FONT, 220.0)));
    }

    // Labels, edges first then loops, each where it covers no node.
    let mut labels: Vec<Rect> = Vec::new();
    let mut edge_label_rects: Vec<Option<Rect>> = vec![None; edges.len()];
    for (i, (_, pts, _, _)) in edges.iter().enumerate() {
        if let Some(b) = &edge_blocks[i] {
            let r = route::place_label(pts, b.width + 10.0, b.height + 4.0, &rects, &labels);
            labels.push(r);
            edge_label_rects[i] = Some(r);
        }
    }
    let mut loop_label_rects = Vec::new();
    for (outlines, b) in &loop_boxes {
        let bx = outlines[0];
        let (w, h) = (b.width + 10.0, b.height + 4.0);
        let path = [
            Point::new(bx.x + w / 2.0 + 6.0, bx.y),
            Point::new(bx.right() - w / 2.0, bx.y),
        ];
        let r = route::place_label(&path, w, h, &rects, &labels);
        labels.push(r);
        loop_label_rects.push(r);
    }

    // Canvas.
    let mut bounds = Rect::new(0.0, 0.0, content_right + MARGIN, lanes_bottom + MARGIN);
    for r in labels.iter().chain(loop_boxes.iter().flat_map(|(b, _)| b)) {
        bounds = bounds.union(&r.inflate(MARGIN));
    }
    for (_, pts, _, _) in &edges {
        for p in pts {
            bounds = bounds.union(&Rect::new(
                p.x - MARGIN,
                p.y - MARGIN,
                2.0 * MARGIN,
                2.0 * MARGIN,
            ));
        }
    }
    let bounds = bounds.snapped();

    // Draw.
    let mut out = Svg::canvas(d, bounds, "Workflow", &pal);
    out.open_group("class=\"lanes\"");
    for l in 0..lanes {
        let id = d.lanes.get(l).map_or("", |lane| lane.id.as_str());
        out.open_group(&format!("class=\"lane\" data-id=\"{}\"", escape(id)));
        let lane_rect = Rect::new(MARGIN, lane_y[l], content_right - MARGIN, lane_h[l]);
        out.rect(lane_rect, 0.0, pal.lane_fill[l % 2], pal.lane_stroke, "");
        let header = Rect::new(MARGIN, lane_y[l], header_w, lane_h[l]);
        out.rect(header, 0.0, pal.lane_header, pal.lane_stroke, "");
        out.text_block(&lane_blocks[l], header.cx(), header.cy(), pal.lane_text);
        out.close_group();
    }
    out.close_group();

    out.open_group("class=\"loops\"");
    for bx in loop_boxes.iter().flat_map(|(b, _)| b) {
        out.rect(
            *bx,
            10.0,
            "none",
            pal.loop_stroke,
            " stroke-width=\"1.5\" stroke-dasharray=\"6 4\"",
        );
    }
    out.close_group();

    out.open_group("class=\"edges\"");
    for ((ordinal, pts, sh, th), (_, s, t, _)) in edges.iter().zip(d.edges()) {
        out.open_group(&format!(
            "class=\"edge\" data-id=\"e{}\" data-source=\"{}\" data-target=\"{}\" data-source-handle=\"{}\" data-target-handle=\"{}\"",
            ordinal + 1,
            escape(&d.graph[s].id),
            escape(&d.graph[t].id),
            sh.as_str(),
            th.as_str()
        ));
        out.arrow_path(pts, pal.edge, "");
        out.close_group();
    }
    out.close_group();

    out.open_group("class=\"nodes\"");
    for (v, (_, node)) in d.nodes().enumerate() {
        let style = opts.node_style.get(&node.id);
        draw_node(&mut out, node, &boxes[v], rects[v], style, &pal);
    }
    out.close_group();

    out.open_group("class=\"labels\"");
    for (i, r) in edge_label_rects.iter().enumerate() {
        if let (Some(r), Some(b)) = (r, &edge_blocks[i]) {
            out.open_group(&format!(
                "class=\"edge-label\" data-edge=\"e{}\"",
                edges[i].0 + 1
            ));
            out.rect(
                *r,
                4.0,
                pal.edge_label_fill,
                pal.lane_stroke,
                " stroke-width=\"0.75\"",
            );
            out.text_block(b, r.cx(), r.cy(), pal.edge_label_text);
            out.close_group();
        }
    }
    for (r, (_, b)) in loop_label_rects.iter().zip(&loop_boxes) {
        out.open_group("class=\"loop-label\"");
        out.rect(
            *r,
            4.0,
            pal.edge_label_fill,
            pal.loop_stroke,
            " stroke-width=\"0.75\"",
        );
        out.text_block(b, r.cx(), r.cy(), pal.loop_text);
        out.close_group();
    }
    out.close_group();

    let nodes = d
        .nodes()
        .enumerate()
        .map(|(v, (_, node))| (node.id.clone(), rects[v]))
        .collect();
    Drawing {
        svg: out.finish(),
        nodes,
        edges,
        labels,
    }
}

/// Draw one node: `<g class="node" data-id=…>` holding its shape, text and badge.
pub(crate) fn draw_node(
    out: &mut Svg,
    node: &Node,
    nb: &NodeBox,
    r: Rect,
    style: Option<&NodeStyle>,
    pal: &Palette,
) {
    let default_fill = match node.shape {
        Shape::Circle => pal.circle_fill,
        Shape::Diamond => pal.diamond_fill,
        Shape::Taskbox => pal.taskbox_fill,
        Shape::Rectangle => pal.node_fill,
    };
    let fill = svg::colour(style.and_then(|s| s.fill.as_deref()), default_fill);
    let stroke = svg::colour(style.and_then(|s| s.stroke.as_deref()), pal.node_stroke);
    out.open_group(&format!(
        "class=\"node\" data-id=\"{}\" data-shape=\"{}\"",
        escape(&node.id),
        node.shape.as_str()
    ));
    let sw = " stroke-width=\"1.5\"";
    match (&nb.content, node.shape) {
        (Content::Single(b), Shape::Circle) => {
            out.raw(&format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" stroke=\"{}\"{sw}/>\n",
                num(r.cx()),
                num(r.cy()),
                num(r.w / 2.0),
                escape(&fill),
                escape(&stroke)
            ));
            out.text_block(b, r.cx(), r.cy(), pal.node_text);
        }
        (Content::Single(b), Shape::Diamond) => {
            out.raw(&format!(
                "<polygon points=\"{},{} {},{} {},{} {},{}\" fill=\"{}\" stroke=\"{}\"{sw}/>\n",
                num(r.cx()),
                num(r.y),
                num(r.right()),
                num(r.cy()),
                num(r.cx()),
                num(r.bottom()),
                num(r.x),
                num(r.cy()),
                escape(&fill),
                escape(&stroke)
            ));
            out.text_block(b, r.cx(), r.cy(), pal.node_text);
        }
        (Content::Single(b), _) => {
            out.rect(r, 8.0, &fill, &stroke, sw);
            out.text_block(b, r.cx(), r.cy(), pal.node_text);
        }
        (
            Content::Task {
                owner,
                label,
                description,
                system,
            },
            _,
        ) => {
            out.rect(r, 6.0, &fill, &stroke, sw);
            let band = owner
                .as_ref()
                .map_or(8.0, |b| b.height.max(TASK_BAND - 6.0) + 6.0);
            out.raw(&format!(
                "<path d=\"M{x0},{yb} L{x0},{y6} Q{x0},{y0} {x6},{y0} L{x7},{y0} Q{x1},{y0} {x1},{y6} L{x1},{yb} z\" fill=\"{c}\"/>\n",
                x0 = num(r.x + 0.75),
                x1 = num(r.right() - 0.75),
                x6 = num(r.x + 6.0),
                x7 = num(r.right() - 6.0),
                y0 = num(r.y + 0.75),
                y6 = num(r.y + 6.0),
                yb = num(r.y + band),
                c = escape(pal.taskbox_band)
            ));
            if let Some(b) = owner {
                out.text_lines(b, r.x + 10.0, r.y + 3.0, "start", "#ffffff");
            }
            let mut y = r.y + band + 8.0;
            if let Some(b) = label {
                out.text_lines(b, r.cx(), y, "middle", pal.node_text);
                y += b.height + 4.0;
            }
            if let Some(b) = description {
                out.text_lines(b, r.cx(), y, "middle", pal.node_text);
            }
            if let Some(b) = system {
                out.text_lines(
                    b,
                    r.right() - 10.0,
                    r.bottom() - b.height - 6.0,
                    "end",
                    pal.muted_text,
                );
            }
        }
    }
    if let Some(badge) = style.and_then(|s| s.badge.as_deref()) {
        let b = Block::new(badge, BADGE_FONT, 140.0);
        if !b.is_empty() {
            let w = b.width + 12.0;
            let h = b.height + 2.0;
            let pill = Rect::new(r.right() - w, r.y - h / 2.0, w, h);
            out.open_group("class=\"badge\"");
            // A badge takes the node's stroke colour when one is given (the bottleneck's red).
            let stroked = style.and_then(|s| s.stroke.as_deref());
            let (bg, fg) = match stroked {
                Some(_) => (svg::colour(stroked, pal.badge_fill), "#ffffff"),
                None => (pal.badge_fill.to_string(), pal.badge_text),
            };
            out.rect(pill, h / 2.0, &bg, "none", "");
            out.text_block(&b, pill.cx(), pill.cy(), fg);
            out.close_group();
        }
    }
    out.close_group();
}
