//! Virtual time: integer nanoseconds, and the duration syntax of profiles (`ns us ms s`).

/// A point in virtual time or a duration, in nanoseconds.
pub type Nanos = u64;

pub const NS_PER_SEC: f64 = 1e9;

/// Seconds as `f64` from nanoseconds.
#[inline]
pub fn secs(ns: Nanos) -> f64 {
    ns as f64 / NS_PER_SEC
}

/// Parse a duration such as `1.5ms`, `250us`, `10ns`, `60s`, or a bare number of seconds.
/// Returns nanoseconds as `f64` (distribution parameters may be fractional nanoseconds).
pub fn parse_duration_ns(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ns") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix("µs") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e9)
    } else {
        (s, 1e9)
    };
    let v: f64 = num.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(v * scale)
}

/// Parse a duration into whole nanoseconds (rounded).
pub fn parse_duration(s: &str) -> Option<Nanos> {
    let ns = parse_duration_ns(s)?;
    if ns > u64::MAX as f64 / 2.0 {
        return None;
    }
    Some(ns.round() as Nanos)
}

/// Format nanoseconds for people: `12.3ms`, `4.00s`, `850us`, `12ns`.
pub fn format_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "-".to_string();
    }
    let a = ns.abs();
    if a >= 1e9 {
        format!("{:.3}s", ns / 1e9)
    } else if a >= 1e6 {
        format!("{:.3}ms", ns / 1e6)
    } else if a >= 1e3 {
        format!("{:.2}us", ns / 1e3)
    } else {
        format!("{:.0}ns", ns)
    }
}

/// Format seconds for people (see [`format_ns`]).
pub fn format_secs(s: f64) -> String {
    format_ns(s * NS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("1ms"), Some(1_000_000));
        assert_eq!(parse_duration("1.5us"), Some(1_500));
        assert_eq!(parse_duration("7ns"), Some(7));
        assert_eq!(parse_duration("60s"), Some(60_000_000_000));
        assert_eq!(parse_duration("0.5"), Some(500_000_000));
        assert_eq!(parse_duration("-1ms"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("1h"), None);
    }
}
