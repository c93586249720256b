//! Geometry: points, rectangles, orthogonal segments.

/// A point in SVG user units (px).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Point {
        Point { x, y }
    }
}

/// An axis-aligned rectangle: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub const fn new(x: f64, y: f64, w: f64, h: f64) -> Rect {
        Rect { x, y, w, h }
    }

    /// The rectangle of size `w` × `h` centred on (`cx`, `cy`).
    pub fn centred(cx: f64, cy: f64, w: f64, h: f64) -> Rect {
        Rect::new(cx - w / 2.0, cy - h / 2.0, w, h)
    }

    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    pub fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }

    pub fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }

    /// Snapped outwards to whole pixels (the origin floored, the size rounded up).
    pub fn snapped(&self) -> Rect {
        Rect::new(self.x.floor(), self.y.floor(), self.w.ceil(), self.h.ceil())
    }

    /// Grown by `m` on every side.
    pub fn inflate(&self, m: f64) -> Rect {
        Rect::new(self.x - m, self.y - m, self.w + 2.0 * m, self.h + 2.0 * m)
    }

    /// True when the interiors overlap (touching edges do not count).
    pub fn intersects(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, o: &Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect::new(
            x,
            y,
            self.right().max(o.right()) - x,
            self.bottom().max(o.bottom()) - y,
        )
    }

    /// True when the axis-parallel segment `a`–`b` passes through the interior.
    pub fn hit_by_segment(&self, a: Point, b: Point) -> bool {
        let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
        let (y0, y1) = (a.y.min(b.y), a.y.max(b.y));
        // A degenerate (zero-length) segment still counts when inside.
        x0 < self.right()
            && self.x < x1.max(x0 + 1e-9)
            && y0 < self.bottom()
            && self.y < y1.max(y0 + 1e-9)
            && !(x0 == x1 && (x0 <= self.x || x0 >= self.right()))
            && !(y0 == y1 && (y0 <= self.y || y0 >= self.bottom()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_hit_interiors_only() {
        let r = Rect::new(0.0, 0.0, 10.0, 10.0);
        assert!(r.hit_by_segment(Point::new(-5.0, 5.0), Point::new(15.0, 5.0)));
        assert!(!r.hit_by_segment(Point::new(-5.0, 10.0), Point::new(15.0, 10.0)));
        assert!(!r.hit_by_segment(Point::new(-5.0, 12.0), Point::new(15.0, 12.0)));
        assert!(r.hit_by_segment(Point::new(5.0, -5.0), Point::new(5.0, 5.0)));
        assert!(!r.hit_by_segment(Point::new(5.0, -5.0), Point::new(5.0, 0.0)));
        assert!(!Rect::new(0.0, 0.0, 5.0, 5.0).intersects(&Rect::new(5.0, 0.0, 5.0, 5.0)));
    }
}
