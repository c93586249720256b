//! Orthogonal edge routing and label placement.
//!
//! An edge leaves its source at the middle of the named side, runs a short stub straight out,
//! and enters its target the same way. Between the two stubs the router tries paths with one
//! to four bends through the channels between columns, rows and lanes, and keeps the cheapest:
//! a path through a node costs far more than any detour, then bends, then length, then running
//! on top of an already routed edge.

use super::geom::{Point, Rect};
use crate::model::Handle;

/// Length of the straight stub at each end.
pub const STUB: f64 = 16.0;
/// How far paths keep from node boxes.
const CLEARANCE: f64 = 6.0;

/// Above this many obstacles only the simplest candidates are tried.
const BIG: usize = 400;

/// The point of `r` an edge attaches to on side `h`.
pub fn anchor(r: &Rect, h: Handle) -> Point {
    match h {
        Handle::Left => Point::new(r.x, r.cy()),
        Handle::Right => Point::new(r.right(), r.cy()),
        Handle::Top => Point::new(r.cx(), r.y),
        Handle::Bottom => Point::new(r.cx(), r.bottom()),
    }
}

/// Unit vector pointing out of side `h`.
pub fn outward(h: Handle) -> (f64, f64) {
    match h {
        Handle::Left => (-1.0, 0.0),
        Handle::Right => (1.0, 0.0),
        Handle::Top => (0.0, -1.0),
        Handle::Bottom => (0.0, 1.0),
    }
}

/// The handles an edge without named handles uses, from the two boxes' positions.
pub fn default_handles(src: &Rect, dst: &Rect) -> (Handle, Handle) {
    if dst.x >= src.right() {
        (Handle::Right, Handle::Left)
    } else if dst.right() <= src.x {
        (Handle::Left, Handle::Right)
    } else if dst.y >= src.bottom() {
        (Handle::Bottom, Handle::Top)
    } else {
        (Handle::Top, Handle::Bottom)
    }
}

/// What the router needs to know about the drawing.
pub struct Router<'a> {
    pub obstacles: &'a [Rect],
    /// Vertical channels (x positions) free of nodes.
    pub xs: Vec<f64>,
    /// Horizontal channels (y positions) free of nodes.
    pub ys: Vec<f64>,
    /// Segments of edges routed so far.
    pub routed: Vec<(Point, Point)>,
}

impl Router<'_> {
    /// Route one edge from side `sh` of `src` to side `th` of `dst`. Returns the polyline,
    /// first point on the source, last point on the target.
    pub fn route(&mut self, src: &Rect, sh: Handle, dst: &Rect, th: Handle) -> Vec<Point> {
        let p0 = anchor(src, sh);
        let p1 = anchor(dst, th);
        let (ox, oy) = outward(sh);
        let (ix, iy) = outward(th);
        let s1 = Point::new(p0.x + ox * STUB, p0.y + oy * STUB);
        let t1 = Point::new(p1.x + ix * STUB, p1.y + iy * STUB);
        let mut best: Option<(f64, Vec<Point>)> = None;
        let consider = |mid: Vec<Point>, best: &mut Option<(f64, Vec<Point>)>, me: &Self| {
            let mut pts = Vec::with_capacity(mid.len() + 2);
            pts.push(p0);
            pts.extend(mid);
            pts.push(p1);
            let pts = simplify(pts);
            let c = me.cost(&pts, (ox, oy), (ix, iy), s1, t1);
            if best.as_ref().is_none_or(|(b, _)| c < *b) {
                *best = Some((c, pts));
            }
        };
        let big = self.obstacles.len() > BIG;
        // Straight (when aligned) and one bend.
        consider(vec![s1, Point::new(t1.x, s1.y), t1], &mut best, self);
        consider(vec![s1, Point::new(s1.x, t1.y), t1], &mut best, self);
        // Two bends through a channel.
        let mut xs = self.xs.clone();
        xs.push(s1.x);
        xs.push(t1.x);
        xs.push((s1.x + t1.x) / 2.0);
        let mut ys = self.ys.clone();
        ys.push(s1.y);
        ys.push(t1.y);
        ys.push((s1.y + t1.y) / 2.0);
        if big {
            xs = nearest(&xs, s1.x, 2)
                .into_iter()
                .chain(nearest(&xs, t1.x, 2))
                .collect();
            ys = nearest(&ys, s1.y, 2)
                .into_iter()
                .chain(nearest(&ys, t1.y, 2))
                .collect();
        }
        for &x in &xs {
            consider(
                vec![s1, Point::new(x, s1.y), Point::new(x, t1.y), t1],
                &mut best,
                self,
            );
        }
        for &y in &ys {
            consider(
                vec![s1, Point::new(s1.x, y), Point::new(t1.x, y), t1],
                &mut best,
                self,
            );
        }
        let clean = best.as_ref().is_some_and(|(c, _)| *c < 1000.0);
        if !clean {
            // Three and four bends: leave by a channel near the source, cross, enter by a
            // channel near the target.
            let nx_s = nearest(&xs, s1.x, 3);
            let nx_t = nearest(&xs, t1.x, 3);
            let ny_s = nearest(&ys, s1.y, 3);
            let ny_t = nearest(&ys, t1.y, 3);
            for &x1 in &nx_s {
                for &y in &ys {
                    for &x2 in &nx_t {
                        consider(
                            vec![
                                s1,
                                Point::new(x1, s1.y),
                                Point::new(x1, y),
                                Point::new(x2, y),
                                Point::new(x2, t1.y),
                                t1,
                            ],
                            &mut best,
                            self,
                        );
                    }
                }
            }
            for &y1 in &ny_s {
                for &x in &xs {
                    for &y2 in &ny_t {
                        consider(
                            vec![
                                s1,
                                Point::new(s1.x, y1),
                                Point::new(x, y1),
                                Point::new(x, y2),
                                Point::new(t1.x, y2),
                                t1,
                            ],
                            &mut best,
                            self,
                        );
                    }
                }
            }
            for &y1 in &ny_s {
                for &x in &xs {
                    consider(
                        vec![
                            s1,
                            Point::new(s1.x, y1),
                            Point::new(x, y1),
                            Point::new(x, t1.y),
                            t1,
                        ],
                        &mut best,
                        self,
                    );
                }
            }
            for &x1 in &nx_s {
                for &y in &ys {
                    consider(
                        vec![
                            s1,
                            Point::new(x1, s1.y),
                            Point::new(x1, y),
                            Point::new(t1.x, y),
                            t1,
                        ],
                        &mut best,
                        self,
                    );
                }
            }
        }
        let pts = best.map(|(_, p)| p).unwrap_or_else(|| vec![p0, p1]);
        if !big {
            for w in pts.windows(2) {
                self.routed.push((w[0], w[1]));
            }
        }
        pts
    }

    fn cost(&self, pts: &[Point], out: (f64, f64), inw: (f64, f64), s1: Point, t1: Point) -> f64 {
        let mut cost = 0.0;
        let n = pts.len();
        for (i, w) in pts.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            // The first and last segments start on the nodes themselves: check them only
            // beyond the stub.
            let (a2, b2) = (
                if i == 0 { clip_start(a, b, s1) } else { a },
                if i == n - 2 { clip_end(a, b, t1) } else { b },
            );
            for r in self.obstacles {
                if r.inflate(CLEARANCE).hit_by_segment(a2, b2) {
                    cost += 1000.0;
                }
            }
            cost += (b.x - a.x).abs() + (b.y - a.y).abs();
            for &(c, d) in &self.routed {
                cost += 40.0 * overlap(a, b, c, d).min(1.0);
                if crosses(a, b, c, d) {
                    cost += 15.0;
                }
            }
        }
        cost += 30.0 * (n as f64 - 2.0);
        // Turning back over the stub, or arriving at the target's stub from its far side,
        // draws the edge on top of itself.
        if n >= 3 {
            let (a, b) = (pts[1], pts[2]);
            if dot(b.x - a.x, b.y - a.y, out) < 0.0 {
                cost += 600.0;
            }
            let (c, d) = (pts[n - 3], pts[n - 2]);
            if dot(d.x - c.x, d.y - c.y, inw) > 0.0 {
                cost += 600.0;
            }
        }
        cost
    }
}

fn dot(x: f64, y: f64, d: (f64, f64)) -> f64 {
    x * d.0 + y * d.1
}

fn clip_start(a: Point, b: Point, s1: Point) -> Point {
    // The part of a→b beyond the stub end s1 (a→b is collinear with a→s1 when it passes it).
    if (a.x - b.x).abs() < 1e-9 {
        let y = if (b.y - a.y).abs() > (s1.y - a.y).abs() {
            s1.y
        } else {
            b.y
        };
        Point::new(a.x, y)
    } else {
        let x = if (b.x - a.x).abs() > (s1.x - a.x).abs() {
            s1.x
        } else {
            b.x
        };
        Point::new(x, a.y)
    }
}

fn clip_end(a: Point, b: Point, t1: Point) -> Point {
    if (a.x - b.x).abs() < 1e-9 {
        let y = if (b.y - a.y).abs() > (b.y - t1.y).abs() {
            t1.y
        } else {
            a.y
        };
        Point::new(b.x, y)
    } else {
        let x = if (b.x - a.x).abs() > (b.x - t1.x).abs() {
            t1.x
        } else {
            a.x
        };
        Point::new(x, b.y)
    }
}

/// Length of the collinear overlap of two axis-parallel segments.
fn overlap(a: Point, b: Point, c: Point, d: Point) -> f64 {
    let h1 = (a.y - b.y).abs() < 1e-9;
    let h2 = (c.y - d.y).abs() < 1e-9;
    if h1 && h2 && (a.y - c.y).abs() < 1.0 {
        let lo = a.x.min(b.x).max(c.x.min(d.x));
        let hi = a.x.max(b.x).min(c.x.max(d.x));
        (hi - lo).max(0.0)
    } else if !h1 && !h2 && (a.x - c.x).abs() < 1.0 {
        let lo = a.y.min(b.y).max(c.y.min(d.y));
        let hi = a.y.max(b.y).min(c.y.max(d.y));
        (hi - lo).max(0.0)
    } else {
        0.0
    }
}

/// True when a horizontal and a vertical segment cross at a point inside both.
fn crosses(a: Point, b: Point, c: Point, d: Point) -> bool {
    let h1 = (a.y - b.y).abs() < 1e-9;
    let h2 = (c.y - d.y).abs() < 1e-9;
    let (h, v) = match (h1, h2) {
        (true, false) => ((a, b), (c, d)),
        (false, true) => ((c, d), (a, b)),
        _ => return false,
    };
    let (hx0, hx1) = (h.0.x.min(h.1.x), h.0.x.max(h.1.x));
    let (vy0, vy1) = (v.0.y.min(v.1.y), v.0.y.max(v.1.y));
    v.0.x > hx0 && v.0.x < hx1 && h.0.y > vy0 && h.0.y < vy1
}

fn nearest(values: &[f64], v: f64, k: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(|a, b| (a - v).abs().total_cmp(&(b - v).abs()).then(a.total_cmp(b)));
    sorted.dedup();
    sorted.truncate(k * 2);
    sorted
}

/// Drop repeated points and the middle of three collinear points.
pub fn simplify(pts: Vec<Point>) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::with_capacity(pts.len());
    for p in pts {
        if out
            .last()
            .is_some_and(|q| (q.x - p.x).abs() < 1e-9 && (q.y - p.y).abs() < 1e-9)
        {
            continue;
        }
        if out.len() >= 2 {
            let a = out[out.len() - 2];
            let b = out[out.len() - 1];
            let collinear = ((a.x - b.x).abs() < 1e-9 && (b.x - p.x).abs() < 1e-9)
                || ((a.y - b.y).abs() < 1e-9 && (b.y - p.y).abs() < 1e-9);
            let same_direction = (b.x - a.x) * (p.x - b.x) + (b.y - a.y) * (p.y - b.y) > 0.0;
            if collinear && same_direction {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}

/// Find a place for a `w` × `h` label along `path` that covers no `nodes` box and no
/// `taken` label box. Falls back to the nearest free spot around the path's middle.
pub fn place_label(path: &[Point], w: f64, h: f64, nodes: &[Rect], taken: &[Rect]) -> Rect {
    let free = |r: &Rect, strict: bool| {
        !nodes.iter().any(|n| n.inflate(2.0).intersects(r))
            && (!strict || !taken.iter().any(|t| t.intersects(r)))
    };
    let mut segs: Vec<(Point, Point, f64, bool)> = path
        .windows(2)
        .map(|s| {
            let len = (s[1].x - s[0].x).abs() + (s[1].y - s[0].y).abs();
            let horizontal = (s[0].y - s[1].y).abs() < 1e-9;
            (s[0], s[1], len, horizontal)
        })
        .collect();
    // Horizontal segments first (labels read along them), longest first, then path order.
    let order: Vec<usize> = {
        let mut o: Vec<usize> = (0..segs.len()).collect();
        o.sort_by(|&a, &b| {
            segs[b]
                .3
                .cmp(&segs[a].3)
                .then(segs[b].2.total_cmp(&segs[a].2))
                .then(a.cmp(&b))
        });
        o
    };
    segs.truncate(segs.len());
    for strict in [true, false] {
        for &i in &order {
            let (a, b, _, _) = segs[i];
            for f in [0.5, 0.35, 0.65, 0.2, 0.8] {
                let c = Point::new(a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f);
                let r = Rect::centred(c.x, c.y, w, h);
                if free(&r, strict) {
                    return r;
                }
            }
        }
    }
    // Spiral out from the middle of the path.
    let mid = path
        .get(path.len() / 2)
        .copied()
        .unwrap_or(Point::new(0.0, 0.0));
    for strict in [true, false] {
        for ring in 1..200 {
            let d = ring as f64 * 8.0;
            for (dx, dy) in [
                (0.0, -d),
                (0.0, d),
                (d, 0.0),
                (-d, 0.0),
                (d, -d),
                (-d, -d),
                (d, d),
                (-d, d),
            ] {
                let r = Rect::centred(mid.x + dx, mid.y + dy, w, h);
                if free(&r, strict) {
                    return r;
                }
            }
        }
    }
    // Beyond every node: below the lowest one.
    let bottom = nodes.iter().map(|n| n.bottom()).fold(mid.y, f64::max);
    Rect::centred(mid.x, bottom + h, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_around_a_blocking_node() {
        let a = Rect::new(0.0, 0.0, 100.0, 50.0);
        let b = Rect::new(200.0, 0.0, 100.0, 50.0);
        let c = Rect::new(400.0, 0.0, 100.0, 50.0);
        let obstacles = [a, b, c];
        let mut r = Router {
            obstacles: &obstacles,
            xs: vec![150.0, 350.0],
            ys: vec![-30.0, 80.0],
            routed: Vec::new(),
        };
        let path = r.route(&a, Handle::Right, &c, Handle::Left);
        assert_eq!(path[0], Point::new(100.0, 25.0));
        assert_eq!(*path.last().unwrap(), Point::new(400.0, 25.0));
        for w in path.windows(2) {
            assert!(!b.hit_by_segment(w[0], w[1]), "{path:?}");
        }
    }

    #[test]
    fn labels_avoid_nodes() {
        let nodes = [
            Rect::new(0.0, 0.0, 100.0, 50.0),
            Rect::new(120.0, 0.0, 100.0, 50.0),
        ];
        let path = [Point::new(100.0, 25.0), Point::new(120.0, 25.0)];
        let r = place_label(&path, 60.0, 16.0, &nodes, &[]);
        assert!(nodes.iter().all(|n| !n.intersects(&r)));
    }
}
