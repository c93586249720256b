//! Fitting: a measured histogram becomes an empirical distribution; a batch's time
//! against its size becomes a fixed part and a per-item part.

use crate::sim::dist::Dist;

/// A cumulative histogram: `(upper bound, items at or below it)`, bounds increasing, in
/// seconds (or plain numbers for sizes), with the measured count and sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub count: f64,
    pub sum: f64,
}

/// Largest number of points an empirical distribution keeps (merged buckets beyond it).
pub const MAX_POINTS: usize = 48;

impl Histogram {
    /// The measured mean (sum / count), when there are items.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// Sorts the buckets and drops the `+Inf` one (its count is the total).
    /// (A bucket list need not start at 0: the first bound with no items below it is where
    /// the items start.)
    pub fn normalise(&mut self) {
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(&(le, n)) = self.buckets.last() {
            if le.is_infinite() {
                self.count = self.count.max(n);
                self.buckets.pop();
            }
        }
    }

    /// Quantile `q` (0..1) read off the buckets, linear inside a bucket.
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.count;
        if total <= 0.0 {
            return 0.0;
        }
        let target = q * total;
        let (mut lo, mut below) = (0.0, 0.0);
        for &(le, n) in &self.buckets {
            if n >= target {
                let inside = n - below;
                if inside <= 0.0 {
                    return le;
                }
                return lo + (le - lo) * ((target - below) / inside).clamp(0.0, 1.0);
            }
            (lo, below) = (le, n);
        }
        lo
    }
}

/// The empirical distribution of a histogram of seconds: its CDF through the buckets'
/// bounds (uniform inside a bucket, at most [`MAX_POINTS`] points, the tail kept whole),
/// scaled so that its mean is the measured one (the buckets alone place each item
/// anywhere in a bucket ~4% wide; the sum says where they were on average); `scale_to`
/// (seconds) gives another mean. A first bucket with items and no lower bound starts at 0,
/// and a histogram of one such bucket is a constant at the mean. Items above
/// the last finite bound (counted only in `+Inf`) are put at that bound. `None` when the
/// histogram holds nothing.
pub fn empirical(h: &Histogram, scale_to: Option<f64>) -> Option<Dist> {
    let mut h = h.clone();
    h.normalise();
    let total = h.count;
    if total <= 0.0 || h.buckets.is_empty() {
        return None;
    }
    // (x ns, P(X <= x)); the first bound with nothing below it is where the CDF starts.
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for &(le, n) in &h.buckets {
        let p = (n / total).clamp(0.0, 1.0);
        let x = le * 1e9;
        if let Some(&(_, lp)) = pts.last() {
            if p < lp {
                continue; // a non-cumulative glitch: ignore the bound
            }
        }
        if p == 0.0 {
            pts.clear();
        }
        pts.push((x, p));
    }
    if pts.is_empty() {
        return None;
    }
    // Items counted only in +Inf sit at the last bound.
    if let Some(last) = pts.last_mut() {
        last.1 = 1.0;
    }
    if pts.len() == 1 {
        // Everything in one bucket with no lower bound: a constant, at the mean if known.
        let x = scale_to.or(h.mean()).map(|m| m * 1e9).unwrap_or(pts[0].0);
        return Some(Dist::Const(x.round() as u64));
    }
    if pts[0].1 > 0.0 && pts[0].0 > 0.0 {
        // No lower bound for the first bucket: it starts at 0.
        pts.insert(0, (0.0, 0.0));
    }
    let pts = thin(&pts);
    let d = Dist::empirical(&pts).ok()?;
    let target = scale_to.or(h.mean()).map(|m| m * 1e9);
    match target {
        Some(t) if d.mean_ns() > 0.0 && t >= 0.0 => {
            let f = t / d.mean_ns();
            let scaled: Vec<(f64, f64)> = pts.iter().map(|&(x, p)| (x * f, p)).collect();
            if t == 0.0 {
                return Some(Dist::ZERO);
            }
            Dist::empirical(&dedup_x(&scaled)).ok()
        }
        _ => Some(d),
    }
}

/// Keeps the first and last points, every point of the tail (P >= 0.95), the ends of flat
/// stretches (no items between two bounds), and elsewhere a point every 1/32 of the mass;
/// the points dropped merge neighbouring buckets.
fn thin(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let n = pts.len();
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(MAX_POINTS);
    for (i, &(x, p)) in pts.iter().enumerate() {
        let keep = i == 0
            || i == n - 1
            || p >= 0.95
            || pts[i - 1].1 == p
            || pts.get(i + 1).is_some_and(|q| q.1 == p)
            || out.last().is_some_and(|&(_, lp)| p - lp >= 1.0 / 32.0);
        if keep {
            out.push((x, p));
        }
    }
    // Still too many (a very long tail): keep every k-th point of it.
    if out.len() > MAX_POINTS {
        let k = out.len().div_ceil(MAX_POINTS);
        let last = out.len() - 1;
        out = out
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % k == 0 || *i == last)
            .map(|(_, v)| v)
            .collect();
    }
    out
}

/// Drops points whose duration (whole nanoseconds) repeats the one before.
fn dedup_x(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for &(x, p) in pts {
        match out.last_mut() {
            Some(last) if x <= last.0 => last.1 = last.1.max(p),
            _ => out.push((x, p)),
        }
    }
    out
}

/// Sums for a least-squares line through (batch size, batch time): count, Σk, Σk², Σt, Σkt
/// (times in nanoseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchSums {
    pub n: f64,
    pub k: f64,
    pub kk: f64,
    pub t: f64,
    pub kt: f64,
    /// The same sums over the batches' thread CPU, where the service measured it.
    pub cpu_t: f64,
    pub cpu_kt: f64,
}

impl BatchSums {
    /// Sets the sum a `stat` label names (`n`, `k`, `kk`, `t_ns`, `kt_ns`, `cpu_t_ns`,
    /// `cpu_kt_ns`, as the generated service writes them); other stats are ignored.
    pub fn set(&mut self, stat: &str, value: f64) {
        match stat {
            "n" => self.n = value,
            "k" => self.k = value,
            "kk" => self.kk = value,
            "t_ns" => self.t = value,
            "kt_ns" => self.kt = value,
            "cpu_t_ns" => self.cpu_t = value,
            "cpu_kt_ns" => self.cpu_kt = value,
            _ => {}
        }
    }

    /// The sums with the batches' CPU in place of their wall time.
    pub fn cpu(&self) -> Option<BatchSums> {
        (self.cpu_t > 0.0).then_some(BatchSums {
            t: self.cpu_t,
            kt: self.cpu_kt,
            ..*self
        })
    }
}

/// The least-squares line t = a + b × k through the sums: (intercept, slope), or None
/// when k never varied.
pub fn line(s: &BatchSums) -> Option<(f64, f64)> {
    let den = s.n * s.kk - s.k * s.k;
    if s.n <= 0.0 || den <= 1e-9 * s.n * s.kk.max(1.0) {
        return None;
    }
    let b = (s.n * s.kt - s.k * s.t) / den;
    Some(((s.t - b * s.k) / s.n, b))
}

/// A batch's time as a fixed part plus a part per item, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLine {
    pub fixed_ns: f64,
    pub per_item_ns: f64,
    /// Mean batch size.
    pub mean_size: f64,
    /// Why the slope was not used, when it was not.
    pub flat_because: Option<&'static str>,
}

/// Fits time = fixed + per_item × size by least squares. With too few batches, or sizes
/// that never vary, or a negative slope or intercept (noise), the slope is 0 and the fixed
/// part the mean time.
pub fn batch_line(s: &BatchSums) -> Option<BatchLine> {
    batch_line_with(s, Spread::Variance)
}

/// How much the batch sizes must vary before a slope is fitted to them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// A variance of at least 0.5: a batch's wall time, where a greedy batcher's sizes
    /// follow how slow the batch before was, needs sizes that vary for themselves.
    Variance,
    /// That, or as many batches as 200 a size apart (n × variance ≥ 200): a thread's CPU per
    /// batch, which no wait before the batch inflates, so only the slope's precision
    /// counts: a group commit at 1,000/s whose batches are 1 to 3 (variance 0.4) over
    /// 9,000 batches states its CPU per item to a few per cent.
    Precision,
}

/// [`batch_line`] with the spread of sizes it needs stated.
pub fn batch_line_with(s: &BatchSums, spread: Spread) -> Option<BatchLine> {
    if s.n <= 0.0 {
        return None;
    }
    let mean_t = s.t / s.n;
    let mean_k = s.k / s.n;
    let flat = |why| BatchLine {
        fixed_ns: mean_t,
        per_item_ns: 0.0,
        mean_size: mean_k,
        flat_because: Some(why),
    };
    if s.n < 10.0 {
        return Some(flat("fewer than 10 batches"));
    }
    let Some((a, b)) = line(s) else {
        return Some(flat("every batch had the same size"));
    };
    // A slope from sizes that hardly vary is noise (and a group commit's size is set by
    // how long the batch before it took, so slow spells make big batches, not the reverse).
    let variance = (s.n * s.kk - s.k * s.k) / (s.n * s.n);
    match spread {
        Spread::Variance if variance < 0.5 => {
            return Some(flat("the batch sizes hardly varied (variance below 0.5)"));
        }
        Spread::Precision if variance < 0.5 && s.n * variance < 200.0 => {
            return Some(flat(
                "the batch sizes varied too little to state a slope (batches × variance below 200)",
            ));
        }
        _ => {}
    }
    if b < 0.0 {
        return Some(flat("the time did not grow with the size"));
    }
    if a < 0.0 {
        // Time proportional to size: all of it per item.
        return Some(BatchLine {
            fixed_ns: 0.0,
            per_item_ns: s.t / s.k.max(1.0),
            mean_size: mean_k,
            flat_because: None,
        });
    }
    Some(BatchLine {
        fixed_ns: a,
        per_item_ns: b,
        mean_size: mean_k,
        flat_because: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn hist(buckets: &[(f64, f64)], sum: f64) -> Histogram {
        let count = buckets.last().map(|b| b.1).unwrap_or(0.0);
        Histogram {
            buckets: buckets.to_vec(),
            count,
            sum,
        }
    }

    #[test]
    fn empirical_follows_the_buckets_and_keeps_the_measured_mean() {
        // 100 items: 50 in (10us, 20us], 40 in (20us, 40us], 10 in (40us, 1ms]; sum 5ms.
        let h = hist(
            &[
                (10e-6, 0.0),
                (20e-6, 50.0),
                (40e-6, 90.0),
                (1e-3, 100.0),
                (f64::INFINITY, 100.0),
            ],
            5e-3,
        );
        let d = empirical(&h, None).unwrap();
        assert!((d.mean_ns() - 50_000.0).abs() < 1.0, "{}", d.mean_ns());
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let n = 100_000;
        let mut v: Vec<u64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        // Shape kept: the median at the second bound, scaled by mean / bucket mean.
        let bucket_mean = 0.5 * 15e3 + 0.4 * 30e3 + 0.1 * 520e3;
        let f = 50_000.0 / bucket_mean;
        let p50 = v[n / 2] as f64;
        assert!((p50 - 20e3 * f).abs() / (20e3 * f) < 0.02, "{p50}");
        assert_eq!(h.quantile(0.5), 20e-6);
        assert!((h.quantile(0.95) - 520e-6).abs() < 1e-9);
    }

    #[test]
    fn empirical_of_nothing_is_none_and_of_one_bucket_a_constant() {
        assert_eq!(empirical(&Histogram::default(), None), None);
        let h = hist(&[(1e-3, 0.0), (f64::INFINITY, 0.0)], 0.0);
        assert_eq!(empirical(&h, None), None);
        let h = hist(&[(2e-3, 7.0), (f64::INFINITY, 7.0)], 0.014);
        assert_eq!(empirical(&h, None), Some(Dist::Const(2_000_000)));
    }

    #[test]
    fn items_only_in_inf_sit_at_the_last_bound() {
        let h = hist(&[(0.0, 0.0), (1e-3, 9.0), (f64::INFINITY, 10.0)], 0.0145);
        let d = empirical(&h, Some(0.00145)).unwrap();
        assert!((d.mean_ns() - 1.45e6).abs() < 1.0);
        assert!(d.to_string().ends_with(" 1)"), "{d}");
    }

    #[test]
    fn many_buckets_are_thinned_to_at_most_max_points() {
        let mut b = vec![(0.0, 0.0)];
        for i in 1..=500 {
            b.push((i as f64 * 1e-6, i as f64));
        }
        let h = hist(&b, 0.125);
        let d = empirical(&h, None).unwrap();
        let Dist::Empirical { points, .. } = &d else {
            panic!("{d}")
        };
        assert!(points.len() <= MAX_POINTS, "{}", points.len());
        assert!((d.mean_ns() - 250_000.0).abs() < 1.0);
    }

    #[test]
    fn batch_line_recovers_fixed_and_per_item_parts() {
        // t = 1ms + 20us × k for k = 1..=10, ten times each.
        let mut s = BatchSums::default();
        for _ in 0..10 {
            for k in 1..=10 {
                let t = 1e6 + 2e4 * k as f64;
                s.n += 1.0;
                s.k += k as f64;
                s.kk += (k * k) as f64;
                s.t += t;
                s.kt += k as f64 * t;
            }
        }
        let l = batch_line(&s).unwrap();
        assert!((l.fixed_ns - 1e6).abs() < 1.0, "{l:?}");
        assert!((l.per_item_ns - 2e4).abs() < 1e-3, "{l:?}");
        assert_eq!(l.flat_because, None);
        // Every batch of one size: no slope to fit.
        let s = BatchSums {
            n: 20.0,
            k: 40.0,
            kk: 80.0,
            t: 2e7,
            kt: 4e7,
            ..BatchSums::default()
        };
        let l = batch_line(&s).unwrap();
        assert_eq!(l.per_item_ns, 0.0);
        assert_eq!(l.fixed_ns, 1e6);
        assert_eq!(l.flat_because, Some("every batch had the same size"));
        assert_eq!(batch_line(&BatchSums::default()), None);
    }

    #[test]
    fn a_cpu_slope_needs_precision_where_a_wall_slope_needs_variance() {
        // 9,000 group commits at 1,000/s: 6,000 of one append and 3,000 of two
        // (variance 0.22), 100 us + 20 us an item of CPU.
        let mut s = BatchSums::default();
        for (k, count) in [(1.0, 6000.0), (2.0, 3000.0)] {
            let t = 1e5 + 2e4 * k;
            s.n += count;
            s.k += count * k;
            s.kk += count * k * k;
            s.t += count * t;
            s.kt += count * k * t;
        }
        let wall = batch_line(&s).unwrap();
        assert_eq!(wall.per_item_ns, 0.0);
        assert!(wall.flat_because.is_some());
        let cpu = batch_line_with(&s, Spread::Precision).unwrap();
        assert_eq!(cpu.flat_because, None, "{cpu:?}");
        assert!((cpu.per_item_ns - 2e4).abs() < 1e-3, "{cpu:?}");
        assert!((cpu.fixed_ns - 1e5).abs() < 1e-3, "{cpu:?}");
        // Twenty batches of the same spread: too few to tell the slope from noise.
        let few = BatchSums {
            n: 20.0,
            k: s.k / s.n * 20.0,
            kk: s.kk / s.n * 20.0,
            t: s.t / s.n * 20.0,
            kt: s.kt / s.n * 20.0,
            ..BatchSums::default()
        };
        let l = batch_line_with(&few, Spread::Precision).unwrap();
        assert_eq!(l.per_item_ns, 0.0, "{l:?}");
    }
}
