//! Streaming statistics: latency accumulators over hdrhistogram (no per-sample history), and
//! confidence intervals over replications.

use hdrhistogram::Histogram;

use super::time::Nanos;

/// Significant figures of every histogram: buckets 1/128 wide (values below 256 ns exact), read
/// at their midpoint, so a percentile is within 0.4% of the sample's. Three figures were 8x the
/// memory, and with tens of stations the histograms fell out of cache and halved the speed of
/// the CQRS seed diagram (measured: 7.9M against 16M events/s).
pub const SIGFIG: u8 = 2;

fn new_hist() -> Histogram<u64> {
    // Values are nanoseconds. Auto-resizing from the smallest range: a histogram costs memory only for the range of
    // values it has seen (a few kB), and only once it has seen a non-zero value.
    Histogram::new(SIGFIG).expect("2 significant figures is a valid precision")
}

/// Buckets of the histogram layout `new_hist` uses (HDR at [`SIGFIG`] = 2, unit 1 ns): 256
/// exact values, then for each further power of two 128 buckets each 1/128 of it wide. Index
/// `i` counts exactly the values hdrhistogram counts at its index `i`.
const HALF_MAG: u32 = 7;
const SUB_MASK: u64 = (2 << HALF_MAG) - 1;
/// `64 - unit magnitude (0) - HALF_MAG - 1`.
const LZ_BASE: u32 = 64 - HALF_MAG - 1;

/// The bucket of `v` (hdrhistogram's `index_for` for this layout, without its range checks).
#[inline(always)]
fn bucket_of(v: Nanos) -> usize {
    let b = LZ_BASE - (v | SUB_MASK).leading_zeros();
    ((b << HALF_MAG) as usize) + (v >> b) as usize
}

/// The lowest value of bucket `i` (the inverse of [`bucket_of`]).
fn bucket_value(i: usize) -> Nanos {
    let half = 1usize << HALF_MAG;
    if i < 2 * half {
        return i as Nanos;
    }
    let b = (i >> HALF_MAG) - 1;
    (((i & (half - 1)) + half) as Nanos) << b
}

/// Count, sum, max and a histogram of latencies in nanoseconds.
///
/// Recording only counts into `pending`, a plain array laid out like the histogram's buckets (one
/// index computation, one increment, no range checks beyond the array's); [`LatStats::flush`]
/// moves the counts into `hist`. Quantiles and merges see pending samples too, so the figures
/// are the same as if every sample had gone straight into the histogram.
#[derive(Debug, Clone, Default)]
pub struct LatStats {
    pub count: u64,
    pub sum: u128,
    pub max: Nanos,
    /// Samples not yet in `hist`, by bucket (index 0 counts the zeros). Grows to the highest
    /// bucket seen, like the histogram itself.
    pending: Vec<u64>,
    /// Flushed samples (allocated at the first non-zero one, or when zeros are flushed).
    pub hist: Option<Histogram<u64>>,
}

impl LatStats {
    #[inline(always)]
    pub fn record(&mut self, v: Nanos) {
        self.count += 1;
        self.sum += v as u128;
        self.max = self.max.max(v);
        let i = bucket_of(v);
        match self.pending.get_mut(i) {
            Some(c) => *c += 1,
            None => self.grow(i),
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, i: usize) {
        // Whole power-of-two ranges (128 buckets), as the histogram itself resizes.
        let half = 1usize << HALF_MAG;
        self.pending.resize((i / half + 1) * half, 0);
        self.pending[i] += 1;
    }

    /// Zero samples not yet in the histogram.
    fn zeros(&self) -> u64 {
        self.pending.first().copied().unwrap_or(0)
    }

    /// Move pending non-zero samples into the histogram; pending zeros stay counted apart (a
    /// station that only ever saw zeros keeps no histogram until [`LatStats::flush`]).
    fn settle(&mut self) {
        if self.pending.iter().skip(1).all(|&c| c == 0) {
            return;
        }
        let h = self.hist.get_or_insert_with(new_hist);
        for (i, c) in self.pending.iter_mut().enumerate().skip(1) {
            if *c > 0 {
                // Auto-resizing histogram: recording cannot fail short of memory exhaustion.
                let _ = h.record_n(bucket_value(i), *c);
                *c = 0;
            }
        }
    }

    /// Move every pending sample, zeros included, into the histogram (before reading it).
    pub fn flush(&mut self) {
        self.settle();
        let zeros = self.zeros();
        if zeros > 0 {
            let _ = self.hist.get_or_insert_with(new_hist).record_n(0, zeros);
        }
        self.pending = Vec::new();
    }

    /// Mean in seconds, `None` without samples.
    pub fn mean_s(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64 / 1e9)
    }

    /// Nearest-rank quantile (0..1) in seconds (the middle of its histogram bucket), `None`
    /// without samples.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        if self.pending.iter().skip(1).any(|&c| c > 0) {
            let mut settled = self.clone();
            settled.settle();
            return settled.quantile_s(q);
        }
        // Pending zeros sort first: the rank falls among them or shifts into the histogram.
        let zeros = self.zeros();
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank <= zeros {
            return Some(0.0);
        }
        let rest = self.count - zeros;
        let q2 = (rank - zeros) as f64 / rest as f64;
        self.hist
            .as_ref()
            .map(|h| h.median_equivalent(h.value_at_quantile(q2)) as f64 / 1e9)
    }

    pub fn max_s(&self) -> Option<f64> {
        (self.count > 0).then(|| self.max as f64 / 1e9)
    }

    /// Add `other`'s samples. Non-zero samples end up in the histogram, zeros pending ones stay
    /// pending, as if both had recorded straight into the histogram and counted zeros apart.
    pub fn merge(&mut self, other: &LatStats) {
        self.count += other.count;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        self.settle();
        if let Some(o) = &other.hist {
            let _ = self.hist.get_or_insert_with(new_hist).add(o);
        }
        if other.pending.iter().skip(1).any(|&c| c > 0) {
            let h = self.hist.get_or_insert_with(new_hist);
            for (i, &c) in other.pending.iter().enumerate().skip(1) {
                if c > 0 {
                    let _ = h.record_n(bucket_value(i), c);
                }
            }
        }
        let zeros = other.zeros();
        if zeros > 0 {
            match self.pending.first_mut() {
                Some(z) => *z += zeros,
                None => self.pending.push(zeros),
            }
        }
    }
}

/// Two-sided 95% Student-t quantile for `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        d if d <= 30 => T[d - 1],
        d if d <= 60 => 2.000,
        d if d <= 120 => 1.980,
        _ => 1.960,
    }
}

/// Mean and 95% confidence interval of per-replication values (`None` entries are skipped).
/// The interval is `None` with fewer than two values.
pub fn mean_ci(values: &[Option<f64>]) -> (Option<f64>, Option<[f64; 2]>) {
    let xs: Vec<f64> = values.iter().flatten().copied().collect();
    if xs.is_empty() {
        return (None, None);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (Some(mean), None);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let half = t95(xs.len() - 1) * (var / n).sqrt();
    (Some(mean), Some([mean - half, mean + half]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_ci() {
        let mut s = LatStats::default();
        for v in 1..=1000u64 {
            s.record(v * 1000);
        }
        let p99 = s.quantile_s(0.99).unwrap();
        let mut z = LatStats::default();
        for v in 0..100u64 {
            z.record(if v < 60 { 0 } else { 1_000_000 });
        }
        assert_eq!(z.quantile_s(0.5), Some(0.0));
        assert!((z.quantile_s(0.99).unwrap() - 1e-3).abs() < 2e-6);
        z.flush();
        assert!((z.quantile_s(0.99).unwrap() - 1e-3).abs() < 2e-6);
        assert_eq!(z.quantile_s(0.6), Some(0.0));
        assert!((p99 - 990e-6).abs() / 990e-6 < 0.002, "{p99}");
        assert_eq!(s.max_s(), Some(1e-3));
        let (m, ci) = mean_ci(&[Some(1.0), Some(3.0), None]);
        assert_eq!(m, Some(2.0));
        let [lo, hi] = ci.unwrap();
        assert!(lo < 2.0 && hi > 2.0);
        assert_eq!(mean_ci(&[Some(1.0)]), (Some(1.0), None));
    }

    /// The bucket layout is hdrhistogram's, and flushed, merged or pending, the figures are those
    /// of recording every sample straight into the histogram.
    #[test]
    fn buckets_match_hdrhistogram() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(11);
        let h = new_hist();
        for v in (0..5000u64).chain([u64::MAX, u64::MAX / 2, 1 << 40, (1 << 40) - 1]) {
            assert_eq!(bucket_value(bucket_of(v)), h.lowest_equivalent(v), "{v}");
        }
        let mut parts = vec![
            LatStats::default(),
            LatStats::default(),
            LatStats::default(),
        ];
        let mut direct = new_hist();
        let (mut zeros, mut n) = (0u64, 0u64);
        for k in 0..200_000u32 {
            let v = match k % 7 {
                0 => 0,
                1 => rng.gen_range(0..300),
                2 => rng.gen_range(0..1u64 << 20),
                3 => rng.gen_range(0..1u64 << 34),
                _ => {
                    let bits = rng.gen_range(1..63);
                    rng.gen_range(0..1u64 << bits)
                }
            };
            parts[k as usize % 3].record(v);
            n += 1;
            if v == 0 {
                zeros += 1;
            } else {
                direct.record(v).unwrap();
            }
        }
        let mut merged = LatStats::default();
        for p in &parts {
            merged.merge(p);
        }
        let mut flushed = merged.clone();
        flushed.flush();
        direct.record_n(0, zeros).unwrap();
        assert_eq!(flushed.count, n);
        let fh = flushed.hist.as_ref().unwrap();
        assert_eq!(fh.len(), direct.len());
        assert_eq!(fh.max(), direct.max());
        let a: Vec<(u64, u64)> = fh
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let b: Vec<(u64, u64)> = direct
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        assert_eq!(a, b);
        for q in [0.0, 0.01, 0.1, 0.142, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let want = direct.median_equivalent(direct.value_at_quantile(q)) as f64 / 1e9;
            let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
            let want = if rank <= zeros { 0.0 } else { want };
            assert_eq!(flushed.quantile_s(q), Some(want), "flushed {q}");
            assert_eq!(merged.quantile_s(q), Some(want), "merged {q}");
        }
        // A part not flushed at all reads the same as flushed.
        let mut p0 = parts[0].clone();
        let before: Vec<_> = [0.5, 0.99].iter().map(|&q| p0.quantile_s(q)).collect();
        p0.flush();
        let after: Vec<_> = [0.5, 0.99].iter().map(|&q| p0.quantile_s(q)).collect();
        assert_eq!(before, after);
    }
}
