//! Distributions of service times, inter-arrival times and edge delays, and of partition keys.

use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal, Zipf};

use super::time::{format_ns, parse_duration_ns, Nanos};

/// The distribution forms a profile may use, for error messages.
pub const DIST_CHOICES: &str =
    "const(x), exp(mean), uniform(a,b), normal(mean,sd), lognormal(mean,sd), erlang(k,mean), empirical(x1 p1, x2 p2, ...)";
/// The key distribution forms, for error messages.
pub const KEY_CHOICES: &str = "uniform(n), zipf(n, s), unique, sequence(m), sequence(m, c)";

/// Why a distribution did not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DistError(pub String);

/// A distribution of durations. Parameters are held in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    Const(Nanos),
    Exp {
        mean: f64,
    },
    Uniform {
        lo: f64,
        hi: f64,
    },
    /// Normal, truncated at 0 (negative draws become 0).
    Normal {
        mean: f64,
        sd: f64,
    },
    /// Log-normal with the given mean and standard deviation of the variable itself.
    LogNormal {
        mean: f64,
        sd: f64,
        mu: f64,
        sigma: f64,
    },
    /// Sum of `k` exponentials with total mean `mean`.
    Erlang {
        k: u32,
        mean: f64,
    },
    /// A measured distribution: a piecewise-linear CDF through `(x, P(X <= x))` points
    /// (nanoseconds, increasing; the last probability is 1), uniform between two points,
    /// the way a histogram's buckets describe it. The CDF is 0 below the first point, whose
    /// probability is that of the mass at exactly `x`.
    Empirical {
        points: std::sync::Arc<[(f64, f64)]>,
        mean: f64,
    },
}

fn split_call(s: &str) -> Option<(&str, Vec<&str>)> {
    let s = s.trim();
    let open = s.find('(')?;
    let inner = s[open + 1..].strip_suffix(')')?;
    let name = s[..open].trim();
    let args = if inner.trim().is_empty() {
        Vec::new()
    } else {
        inner.split(',').map(str::trim).collect()
    };
    Some((name, args))
}

fn dur(arg: &str, what: &str) -> Result<f64, DistError> {
    parse_duration_ns(arg).ok_or_else(|| {
        DistError(format!(
            "{what}: `{arg}` is not a duration (a non-negative number with ns, us, ms or s)"
        ))
    })
}

fn arity(name: &str, args: &[&str], n: usize) -> Result<(), DistError> {
    if args.len() != n {
        return Err(DistError(format!(
            "`{name}` takes {n} argument{}, got {}; valid: {DIST_CHOICES}",
            if n == 1 { "" } else { "s" },
            args.len()
        )));
    }
    Ok(())
}

fn parse_points(args: &[&str]) -> Result<Vec<(f64, f64)>, DistError> {
    if args.is_empty() {
        return Err(DistError(
            "empirical: give points `x p` (a duration and the probability of a draw at or below it), e.g. empirical(10us 0, 20us 0.5, 80us 1)".into(),
        ));
    }
    args.iter()
        .map(|a| {
            let mut it = a.split_whitespace();
            let (Some(x), Some(p), None) = (it.next(), it.next(), it.next()) else {
                return Err(DistError(format!(
                    "empirical: `{a}` is not a point `x p` (a duration and a probability)"
                )));
            };
            let p: f64 = p
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    DistError(format!(
                        "empirical: `{p}` in `{a}` is not a probability in [0, 1]"
                    ))
                })?;
            Ok((dur(x, "empirical point")?, p))
        })
        .collect()
}

impl Dist {
    pub const ZERO: Dist = Dist::Const(0);

    /// An empirical distribution through `(x ns, P(X <= x))` points: `x` increasing,
    /// probabilities non-decreasing, the last one 1.
    pub fn empirical(points: &[(f64, f64)]) -> Result<Dist, DistError> {
        let Some(&(_, last)) = points.last() else {
            return Err(DistError("empirical: no points".into()));
        };
        for w in points.windows(2) {
            if w[1].0 <= w[0].0 {
                return Err(DistError(format!(
                    "empirical: the durations must increase ({} then {})",
                    format_ns(w[0].0),
                    format_ns(w[1].0)
                )));
            }
            if w[1].1 < w[0].1 {
                return Err(DistError(format!(
                    "empirical: the probabilities must not decrease ({} then {})",
                    w[0].1, w[1].1
                )));
            }
        }
        if (last - 1.0).abs() > 1e-9 {
            return Err(DistError(format!(
                "empirical: the last probability must be 1, not {last}"
            )));
        }
        let (x0, p0) = points[0];
        let mut mean = x0 * p0;
        for w in points.windows(2) {
            mean += (w[1].1 - w[0].1) * (w[0].0 + w[1].0) / 2.0;
        }
        Ok(Dist::Empirical {
            points: points.into(),
            mean,
        })
    }

    /// Parse `exp(1ms)`, `const(2ms)`, `uniform(1ms, 3ms)`, `normal(5ms, 1ms)`,
    /// `lognormal(2ms, 1ms)`, `erlang(3, 6ms)`. A bare duration means `const`.
    pub fn parse(s: &str) -> Result<Dist, DistError> {
        let Some((name, args)) = split_call(s) else {
            if let Some(ns) = parse_duration_ns(s) {
                return Ok(Dist::Const(ns.round() as Nanos));
            }
            return Err(DistError(format!(
                "`{s}` is not a distribution; valid: {DIST_CHOICES}"
            )));
        };
        let d = match name {
            "const" => {
                arity(name, &args, 1)?;
                Dist::Const(dur(args[0], "const")?.round() as Nanos)
            }
            "exp" => {
                arity(name, &args, 1)?;
                let mean = dur(args[0], "exp mean")?;
                if mean == 0.0 {
                    Dist::Const(0)
                } else {
                    Dist::Exp { mean }
                }
            }
            "uniform" => {
                arity(name, &args, 2)?;
                let lo = dur(args[0], "uniform low")?;
                let hi = dur(args[1], "uniform high")?;
                if hi < lo {
                    return Err(DistError(format!(
                        "uniform({}, {}): high is below low",
                        args[0], args[1]
                    )));
                }
                Dist::Uniform { lo, hi }
            }
            "normal" => {
                arity(name, &args, 2)?;
                Dist::Normal {
                    mean: dur(args[0], "normal mean")?,
                    sd: dur(args[1], "normal sd")?,
                }
            }
            "lognormal" => {
                arity(name, &args, 2)?;
                let mean = dur(args[0], "lognormal mean")?;
                let sd = dur(args[1], "lognormal sd")?;
                if mean <= 0.0 {
                    return Err(DistError("lognormal: the mean must be positive".into()));
                }
                let sigma2 = (1.0 + (sd * sd) / (mean * mean)).ln();
                Dist::LogNormal {
                    mean,
                    sd,
                    mu: mean.ln() - sigma2 / 2.0,
                    sigma: sigma2.sqrt(),
                }
            }
            "erlang" => {
                arity(name, &args, 2)?;
                let k: u32 = args[0].parse().ok().filter(|&k| k >= 1).ok_or_else(|| {
                    DistError(format!("erlang: k = `{}` must be an integer >= 1", args[0]))
                })?;
                Dist::Erlang {
                    k,
                    mean: dur(args[1], "erlang mean")?,
                }
            }
            "empirical" => Dist::empirical(&parse_points(&args)?)?,
            other => {
                return Err(DistError(format!(
                    "unknown distribution `{other}`; valid: {DIST_CHOICES}"
                )))
            }
        };
        Ok(d)
    }

    /// True when every draw is 0.
    pub fn is_zero(&self) -> bool {
        matches!(self, Dist::Const(0))
    }

    /// The mean in nanoseconds (of the untruncated form for `normal`).
    pub fn mean_ns(&self) -> f64 {
        match *self {
            Dist::Const(c) => c as f64,
            Dist::Exp { mean } => mean,
            Dist::Uniform { lo, hi } => (lo + hi) / 2.0,
            Dist::Normal { mean, .. } => mean,
            Dist::LogNormal { mean, .. } => mean,
            Dist::Erlang { mean, .. } => mean,
            Dist::Empirical { mean, .. } => mean,
        }
    }

    /// One draw, in whole nanoseconds (rounded to nearest).
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Nanos {
        // The common cases inline at the call site; the rest stay out of line.
        match *self {
            Dist::Const(c) => c,
            Dist::Exp { mean } => {
                let e: f64 = Exp1.sample(rng);
                round_ns(e * mean)
            }
            _ => self.sample_other(rng),
        }
    }

    #[inline(never)]
    fn sample_other<R: Rng + ?Sized>(&self, rng: &mut R) -> Nanos {
        let x: f64 = match *self {
            Dist::Const(c) => return c,
            Dist::Exp { mean } => {
                let e: f64 = Exp1.sample(rng);
                e * mean
            }
            Dist::Uniform { lo, hi } => lo + (hi - lo) * rng.gen::<f64>(),
            Dist::Normal { mean, sd } => {
                let z: f64 = StandardNormal.sample(rng);
                (mean + sd * z).max(0.0)
            }
            Dist::LogNormal { mu, sigma, .. } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Dist::Erlang { k, mean } => {
                let mut s = 0.0;
                for _ in 0..k {
                    let e: f64 = Exp1.sample(rng);
                    s += e;
                }
                s * mean / k as f64
            }
            Dist::Empirical { ref points, .. } => {
                let u: f64 = rng.gen();
                // The first point whose probability reaches u, interpolated from the one before.
                let i = points.partition_point(|&(_, p)| p < u);
                match (i.checked_sub(1).map(|j| points[j]), points.get(i)) {
                    (_, None) => points[points.len() - 1].0,
                    (None, Some(&(x, _))) => x,
                    (Some((x0, p0)), Some(&(x1, p1))) => {
                        if p1 > p0 {
                            x0 + (x1 - x0) * (u - p0) / (p1 - p0)
                        } else {
                            x1
                        }
                    }
                }
            }
        };
        (x + 0.5) as Nanos
    }
}

/// `x >= 0` nanoseconds rounded to the nearest whole one. Through `i64`, whose saturating
/// conversion is a third of the instructions of `u64`'s: a draw of 2^63 ns (292 years) or more
/// comes out as `i64::MAX`, still past the end of any run (durations are below 2^63 ns).
#[inline(always)]
fn round_ns(x: f64) -> Nanos {
    (x + 0.5) as i64 as Nanos
}

impl std::fmt::Display for Dist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Dist::Const(c) => write!(f, "const({})", format_ns(c as f64)),
            Dist::Exp { mean } => write!(f, "exp({})", format_ns(mean)),
            Dist::Uniform { lo, hi } => write!(f, "uniform({}, {})", format_ns(lo), format_ns(hi)),
            Dist::Normal { mean, sd } => {
                write!(f, "normal({}, {})", format_ns(mean), format_ns(sd))
            }
            Dist::LogNormal { mean, sd, .. } => {
                write!(f, "lognormal({}, {})", format_ns(mean), format_ns(sd))
            }
            Dist::Erlang { k, mean } => write!(f, "erlang({k}, {})", format_ns(mean)),
            Dist::Empirical { ref points, .. } => {
                write!(f, "empirical(")?;
                for (i, (x, p)) in points.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{} {}", format_ns(*x), fmt_prob(*p))?;
                }
                write!(f, ")")
            }
        }
    }
}

/// A probability with at most 6 decimals and no trailing zeros.
fn fmt_prob(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

/// How a source draws the partition key of each token.
#[derive(Debug, Clone)]
pub enum KeyDist {
    /// Every token its own key (no two tokens share one).
    Unique,
    /// Uniform over `0..n`.
    Uniform(u32),
    /// Zipf over `0..n` with exponent `s` (key 0 hottest).
    Zipf(u32, Zipf<f64>, f64),
    /// Each client sends `m` requests on one key, then moves to a fresh one (a load
    /// generator that runs a command sequence of `m` steps per aggregate). A closed-loop
    /// user is a client; an open loop's requests go to `c` clients in turn.
    Sequence { m: u32, clients: u32 },
}

impl KeyDist {
    pub fn parse(s: &str) -> Result<KeyDist, DistError> {
        if s.trim() == "unique" {
            return Ok(KeyDist::Unique);
        }
        let bad = || {
            DistError(format!(
                "`{s}` is not a key distribution; valid: {KEY_CHOICES}"
            ))
        };
        let (name, args) = split_call(s).ok_or_else(bad)?;
        let count = |what: &str, a: &str| -> Result<u32, DistError> {
            a.parse::<u32>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| DistError(format!("{name}: {what} = `{a}` must be an integer >= 1")))
        };
        let n = |a: &str| count("n", a);
        match (name, args.as_slice()) {
            ("uniform", [a]) => Ok(KeyDist::Uniform(n(a)?)),
            ("sequence", [a]) => Ok(KeyDist::Sequence {
                m: count("m", a)?,
                clients: 1,
            }),
            ("sequence", [a, c]) => Ok(KeyDist::Sequence {
                m: count("m", a)?,
                clients: count("c", c)?,
            }),
            ("zipf", [a, b]) => {
                let n = n(a)?;
                let e: f64 = b
                    .parse()
                    .ok()
                    .filter(|e: &f64| e.is_finite() && *e >= 0.0)
                    .ok_or_else(|| DistError(format!("zipf: s = `{b}` must be a number >= 0")))?;
                let z = Zipf::new(n as u64, e).map_err(|err| DistError(format!("zipf: {err}")))?;
                Ok(KeyDist::Zipf(n, z, e))
            }
            _ => Err(bad()),
        }
    }

    /// Number of distinct keys, or `None` for [`KeyDist::Unique`].
    pub fn key_space(&self) -> Option<u32> {
        match self {
            KeyDist::Unique | KeyDist::Sequence { .. } => None,
            KeyDist::Uniform(n) | KeyDist::Zipf(n, _, _) => Some(*n),
        }
    }

    /// The key of a closed-loop user's `nth` request (0-based) among `users`.
    #[inline]
    pub fn sample_user<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        serial: u64,
        user: u32,
        users: u32,
        nth: u64,
    ) -> u32 {
        match self {
            KeyDist::Sequence { m, .. } => {
                (user as u64 + users.max(1) as u64 * (nth / *m as u64)) as u32
            }
            _ => self.sample(rng, serial),
        }
    }

    /// The key of an open loop's request number `serial`.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, serial: u64) -> u32 {
        match self {
            KeyDist::Unique => serial as u32,
            KeyDist::Sequence { m, clients } => {
                let c = *clients as u64;
                (serial % c + c * (serial / c / *m as u64)) as u32
            }
            KeyDist::Uniform(n) => rng.gen_range(0..*n),
            KeyDist::Zipf(n, z, _) => {
                let k = z.sample(rng) as u32;
                k.saturating_sub(1).min(n - 1)
            }
        }
    }
}

impl std::fmt::Display for KeyDist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyDist::Unique => write!(f, "unique"),
            KeyDist::Uniform(n) => write!(f, "uniform({n})"),
            KeyDist::Zipf(n, _, s) => write!(f, "zipf({n}, {s})"),
            KeyDist::Sequence { m, clients: 1 } => write!(f, "sequence({m})"),
            KeyDist::Sequence { m, clients } => write!(f, "sequence({m}, {clients})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_sequence_key_holds_for_m_requests_of_a_client() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let k = KeyDist::parse("sequence(3, 2)").unwrap();
        assert_eq!(k.to_string(), "sequence(3, 2)");
        assert_eq!(k.key_space(), None);
        // Two clients in turn: 0 1 0 1 0 1 on keys 0 and 1, then fresh keys 2 and 3.
        let open: Vec<u32> = (0..8).map(|s| k.sample(&mut rng, s)).collect();
        assert_eq!(open, [0, 1, 0, 1, 0, 1, 2, 3]);
        // Closed loop: user 1 of 4, its requests 0..7: key 1 three times, then 5, then 9.
        let user: Vec<u32> = (0..7)
            .map(|n| k.sample_user(&mut rng, 0, 1, 4, n))
            .collect();
        assert_eq!(user, [1, 1, 1, 5, 5, 5, 9]);
        assert!(KeyDist::parse("sequence(0)").is_err());
        assert_eq!(
            KeyDist::parse("sequence(4)").unwrap().to_string(),
            "sequence(4)"
        );
    }

    #[test]
    fn parses_all_forms() {
        assert_eq!(Dist::parse("const(2ms)").unwrap(), Dist::Const(2_000_000));
        assert_eq!(Dist::parse("exp(1ms)").unwrap(), Dist::Exp { mean: 1e6 });
        assert_eq!(Dist::parse("exp(0)").unwrap(), Dist::ZERO);
        assert!(matches!(
            Dist::parse("uniform(1ms, 3ms)").unwrap(),
            Dist::Uniform { .. }
        ));
        assert!(matches!(
            Dist::parse("normal(5ms,1ms)").unwrap(),
            Dist::Normal { .. }
        ));
        assert!(matches!(
            Dist::parse("lognormal(2ms, 1ms)").unwrap(),
            Dist::LogNormal { .. }
        ));
        assert_eq!(
            Dist::parse("erlang(3, 6ms)").unwrap(),
            Dist::Erlang { k: 3, mean: 6e6 }
        );
        assert_eq!(Dist::parse("3ms").unwrap(), Dist::Const(3_000_000));
    }

    #[test]
    fn rejects_bad_forms_naming_the_choices() {
        for bad in [
            "gamma(1ms)",
            "exp(1ms, 2ms)",
            "exp(fast)",
            "uniform(3ms,1ms)",
            "erlang(0,1ms)",
            "exp(1ms",
        ] {
            let e = Dist::parse(bad).unwrap_err();
            assert!(!e.0.is_empty(), "{bad}");
        }
        assert!(Dist::parse("gamma(1ms)")
            .unwrap_err()
            .0
            .contains("erlang(k,mean)"));
    }

    #[test]
    fn sample_means() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let n = 200_000;
        for s in [
            "exp(1ms)",
            "uniform(1ms, 3ms)",
            "lognormal(2ms, 1ms)",
            "erlang(4, 2ms)",
            "normal(5ms, 1ms)",
        ] {
            let d = Dist::parse(s).unwrap();
            let mean = (0..n).map(|_| d.sample(&mut rng) as f64).sum::<f64>() / n as f64;
            let rel = (mean - d.mean_ns()) / d.mean_ns();
            assert!(rel.abs() < 0.01, "{s}: {mean} vs {}", d.mean_ns());
        }
    }

    #[test]
    fn empirical_interpolates_between_points_and_keeps_its_mean() {
        let d = Dist::parse("empirical(10us 0, 20us 0.5, 40us 1)").unwrap();
        // Mean: half uniform on [10, 20], half on [20, 40] microseconds.
        assert!((d.mean_ns() - 22_500.0).abs() < 1e-6, "{}", d.mean_ns());
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let n = 200_000;
        let draws: Vec<u64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&x| (10_000..=40_000).contains(&x)));
        let below = draws.iter().filter(|&&x| x <= 20_000).count() as f64 / n as f64;
        assert!((below - 0.5).abs() < 0.01, "{below}");
        let mean = draws.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        assert!((mean - 22_500.0).abs() / 22_500.0 < 0.01, "{mean}");
        // Mass at the first point: a draw of exactly 5us a quarter of the time.
        let d = Dist::parse("empirical(5us 0.25, 15us 1)").unwrap();
        let at5 = (0..n).filter(|_| d.sample(&mut rng) == 5_000).count() as f64 / n as f64;
        assert!((at5 - 0.25).abs() < 0.01, "{at5}");
        // Round trip through the profile's text form.
        let again = Dist::parse(&d.to_string()).unwrap();
        assert_eq!(again.to_string(), d.to_string());
    }

    #[test]
    fn empirical_rejects_bad_points_saying_why() {
        for (bad, why) in [
            ("empirical()", "give points"),
            ("empirical(10us)", "not a point"),
            ("empirical(10us 0.5, 5us 1)", "must increase"),
            ("empirical(10us 0.5, 20us 0.4, 30us 1)", "must not decrease"),
            ("empirical(10us 0, 20us 0.9)", "last probability must be 1"),
            ("empirical(10us 2)", "not a probability"),
            ("empirical(fast 1)", "not a duration"),
        ] {
            let e = Dist::parse(bad).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn keys() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let k = KeyDist::parse("zipf(100, 1.1)").unwrap();
        let mut hot = 0;
        for i in 0..10_000 {
            let x = k.sample(&mut rng, i);
            assert!(x < 100);
            if x == 0 {
                hot += 1;
            }
        }
        assert!(hot > 1000, "key 0 should be hot: {hot}");
        assert!(KeyDist::parse("zipf(0, 1)").is_err());
        assert!(KeyDist::parse("normal(3)").is_err());
    }
}
