//! Orthogonal edge routing and label placement.
//!
//! An edge leaves its source at the middle of the named side, runs a short stub straight out,
//! and enters its target the same way. Between the two stubs the router tries paths with one
//! to four bends through the channels between columns, rows and lanes, and keeps the cheapest:
//! a path through a node costs far more than any detour, then bends, then length, then running
//! on top of an already routed edge.

use std::collections::BTreeMap;

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

/// What the router needs to know about the drawing, indexed for quick look-ups.
pub struct Router {
    /// Node boxes grown by the clearance, sorted by left edge.
    by_x: Vec<Rect>,
    max_w: f64,
    /// Vertical channels (x positions) free of nodes.
    xs: Vec<f64>,
    /// Horizontal channels (y positions) free of nodes.
    ys: Vec<f64>,
    /// Horizontal segments routed so far, by y (in tenths): their x ranges.
    horizontal: BTreeMap<i64, Vec<(f64, f64)>>,
    /// Vertical segments routed so far, by x (in tenths): their y ranges.
    vertical: BTreeMap<i64, Vec<(f64, f64)>>,
    big: bool,
}

fn key(v: f64) -> i64 {
    (v * 10.0).round() as i64
}

impl Router {
    /// A router around `obstacles`, with the free channels `xs` (vertical) and `ys`.
    pub fn new(obstacles: &[Rect], xs: Vec<f64>, ys: Vec<f64>) -> Router {
        let mut by_x: Vec<Rect> = obstacles.iter().map(|r| r.inflate(CLEARANCE)).collect();
        by_x.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        let max_w = by_x.iter().map(|r| r.w).fold(0.0, f64::max);
        let big = obstacles.len() > BIG;
        Router {
            by_x,
            max_w,
            xs,
            ys,
            horizontal: BTreeMap::new(),
            vertical: BTreeMap::new(),
            big,
        }
    }

    /// How many node boxes the segment passes through.
    fn hits(&self, a: Point, b: Point) -> usize {
        let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
        let start = self.by_x.partition_point(|r| r.x < x0 - self.max_w);
        self.by_x[start..]
            .iter()
            .take_while(|r| r.x <= x1)
            .filter(|r| r.hit_by_segment(a, b))
            .count()
    }

    /// Cost of running along or across the edges routed so far.
    fn interference(&self, a: Point, b: Point) -> f64 {
        let mut cost = 0.0;
        if (a.y - b.y).abs() < 1e-9 {
            let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
            if let Some(list) = self.horizontal.get(&key(a.y)) {
                cost += 40.0 * list.iter().filter(|&&(c0, c1)| c0 < x1 && x0 < c1).count() as f64;
            }
            for (_, list) in self.vertical.range(key(x0) + 1..key(x1)) {
                cost += 15.0
                    * list
                        .iter()
                        .filter(|&&(y0, y1)| y0 < a.y && a.y < y1)
                        .count() as f64;
            }
        } else {
            let (y0, y1) = (a.y.min(b.y), a.y.max(b.y));
            if let Some(list) = self.vertical.get(&key(a.x)) {
                cost += 40.0 * list.iter().filter(|&&(c0, c1)| c0 < y1 && y0 < c1).count() as f64;
            }
            for (_, list) in self.horizontal.range(key(y0) + 1..key(y1)) {
                cost += 15.0
                    * list
                        .iter()
                        .filter(|&&(x0, x1)| x0 < a.x && a.x < x1)
                        .count() as f64;
            }
        }
        cost
    }

    fn record(&mut self, pts: &[Point]) {
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if (a.y - b.y).abs() < 1e-9 {
                self.horizontal
                    .entry(key(a.y))
                    .or_default()
                    .push((a.x.min(b.x), a.x.max(b.x)));
            } else {
                self.vertical
                    .entry(key(a.x))
                    .or_default()
                    .push((a.y.min(b.y), a.y.max(b.y)));
            }
        }
    }

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
            let bound = best.as_ref().map_or(f64::INFINITY, |(b, _)| *b);
            let c = me.cost(&pts, (ox, oy), (ix, iy), s1, t1, bound);
            if best.as_ref().is_none_or(|(b, _)| c < *b) {
                *best = Some((c, pts));
            }
        };
        let big = self.big;
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
        // Past a few hundred nodes a path through a node is accepted rather than searching on.
        let clean = best.as_ref().is_some_and(|(c, _)| *c < 1000.0);
        if !clean && !big {
            // Three and four bends: leave by a channel near the source, cross, enter by a
            // channel near the target.
            // Channels near either end or near the middle are enough (and keep this bounded).
            let pick = |all: &[f64], a: f64, b: f64| -> Vec<f64> {
                let mut v: Vec<f64> = nearest(all, a, 4)
                    .into_iter()
                    .chain(nearest(all, b, 4))
                    .chain(nearest(all, (a + b) / 2.0, 3))
                    .collect();
                v.sort_by(f64::total_cmp);
                v.dedup();
                v
            };
            let xs = pick(&xs, s1.x, t1.x);
            let ys = pick(&ys, s1.y, t1.y);
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
        self.record(&pts);
        pts
    }

    fn cost(
        &self,
        pts: &[Point],
        out: (f64, f64),
        inw: (f64, f64),
        s1: Point,
        t1: Point,
        bound: f64,
    ) -> f64 {
        let n = pts.len();
        let mut cost = 30.0 * (n as f64 - 2.0);
        for w in pts.windows(2) {
            cost += (w[1].x - w[0].x).abs() + (w[1].y - w[0].y).abs();
        }
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
        for (i, w) in pts.windows(2).enumerate() {
            if cost >= bound {
                return cost;
            }
            let (a, b) = (w[0], w[1]);
            // The first and last segments start on the nodes themselves: check them only
            // beyond the stub.
            let (a2, b2) = (
                if i == 0 { clip_start(a, b, s1) } else { a },
                if i == n - 2 { clip_end(a, b, t1) } else { b },
            );
            cost += 1000.0 * self.hits(a2, b2) as f64;
        }
        if !self.big {
            for w in pts.windows(2) {
                if cost >= bound {
                    return cost;
                }
                cost += self.interference(w[0], w[1]);
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

/// How far (in rings of [`RING_STEP`] px) a label may move from its path.
const RINGS: usize = 60;
const RING_STEP: f64 = 8.0;
/// Rings close enough that a label there still reads as its edge's.
const NEAR_RINGS: usize = 5;

/// Find a place for a `w` × `h` label along `path` that covers no `nodes` box and no
/// `taken` label box. Falls back to the nearest free spot around the path's middle.
pub fn place_label(path: &[Point], w: f64, h: f64, nodes: &[Rect], taken: &[Rect]) -> Rect {
    // Only boxes near the path can be in the way of the places tried below.
    let reach = Rect::new(
        path.iter().map(|p| p.x).fold(f64::INFINITY, f64::min),
        path.iter().map(|p| p.y).fold(f64::INFINITY, f64::min),
        0.0,
        0.0,
    );
    let reach = path
        .iter()
        .fold(reach, |r, p| r.union(&Rect::new(p.x, p.y, 0.0, 0.0)))
        .inflate(RINGS as f64 * RING_STEP + w + h + 8.0);
    let near_nodes: Vec<Rect> = nodes
        .iter()
        .filter(|n| n.intersects(&reach))
        .map(|n| n.inflate(2.0))
        .collect();
    let near_taken: Vec<Rect> = taken
        .iter()
        .filter(|t| t.intersects(&reach))
        .copied()
        .collect();
    let free = |r: &Rect, strict: bool| {
        !near_nodes.iter().any(|n| n.intersects(r))
            && (!strict || !near_taken.iter().any(|t| t.intersects(r)))
    };
    let segs: Vec<(Point, Point, f64, bool)> = path
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
    let on_path = |strict: bool| -> Option<Rect> {
        for &i in &order {
            let (a, b, _, _) = segs[i];
            for f in [0.5, 0.35, 0.65, 0.2, 0.8] {
                let c = Point::new(a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f);
                let r = Rect::centred(c.x, c.y, w, h);
                if free(&r, strict) {
                    return Some(r);
                }
            }
        }
        None
    };
    // Around the middle of the path, ring by ring.
    let mid = path
        .get(path.len() / 2)
        .copied()
        .unwrap_or(Point::new(0.0, 0.0));
    let around = |strict: bool, rings: std::ops::RangeInclusive<usize>| -> Option<Rect> {
        for ring in rings {
            let d = ring as f64 * RING_STEP;
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
                    return Some(r);
                }
            }
        }
        None
    };
    // On the path clear of everything; near it clear of everything; on the path over other
    // labels (never nodes); farther out.
    if let Some(r) = on_path(true)
        .or_else(|| around(true, 1..=NEAR_RINGS))
        .or_else(|| on_path(false))
        .or_else(|| around(true, NEAR_RINGS + 1..=RINGS))
        .or_else(|| around(false, 1..=RINGS))
    {
        return r;
    }
    // Beyond every node: below the lowest one.
    let bottom = nodes.iter().map(|n| n.bottom()).fold(mid.y, f64::max);
    let below_taken = taken.iter().map(|t| t.bottom()).fold(bottom, f64::max);
    Rect::new(mid.x - w / 2.0, below_taken + 8.0, w, h)
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
        let mut r = Router::new(&obstacles, vec![150.0, 350.0], vec![-30.0, 80.0]);
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
