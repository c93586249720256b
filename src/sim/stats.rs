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

/// Count, sum, max and a histogram of latencies in nanoseconds.
#[derive(Debug, Clone, Default)]
pub struct LatStats {
    pub count: u64,
    /// Zero samples not yet added to `hist` (zero-time stations record only these; adding them
    /// in bulk keeps the per-event cost to a counter).
    zeros: u64,
    pub sum: u128,
    pub max: Nanos,
    /// Non-zero samples (allocated at the first one) plus the flushed zeros.
    pub hist: Option<Histogram<u64>>,
}

impl LatStats {
    #[inline]
    pub fn record(&mut self, v: Nanos) {
        self.count += 1;
        if v == 0 {
            self.zeros += 1;
            return;
        }
        self.sum += v as u128;
        if v > self.max {
            self.max = v;
        }
        // Auto-resizing histogram: recording cannot fail short of memory exhaustion.
        let _ = self.hist.get_or_insert_with(new_hist).record(v);
    }

    /// Move pending zero samples into the histogram (before reading quantiles).
    pub fn flush(&mut self) {
        if self.zeros > 0 {
            let _ = self
                .hist
                .get_or_insert_with(new_hist)
                .record_n(0, self.zeros);
            self.zeros = 0;
        }
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
        // Pending zeros sort first: the rank falls among them or shifts into the histogram.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank <= self.zeros {
            return Some(0.0);
        }
        let rest = self.count - self.zeros;
        let q2 = (rank - self.zeros) as f64 / rest as f64;
        self.hist
            .as_ref()
            .map(|h| h.median_equivalent(h.value_at_quantile(q2)) as f64 / 1e9)
    }

    pub fn max_s(&self) -> Option<f64> {
        (self.count > 0).then(|| self.max as f64 / 1e9)
    }

    pub fn merge(&mut self, other: &LatStats) {
        self.count += other.count;
        self.zeros += other.zeros;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        if let Some(o) = &other.hist {
            let _ = self.hist.get_or_insert_with(new_hist).add(o);
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
}
