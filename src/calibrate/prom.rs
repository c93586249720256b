//! Reading the Prometheus text exposition format (version 0.0.4): one sample a line,
//! `name{label="value",...} value [timestamp]`, `#` lines for HELP and TYPE.

use std::collections::{BTreeMap, HashMap};

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// 1-based line in the text.
    pub line: usize,
}

impl Sample {
    /// The value of a label, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A line that is not a sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PromError {
    pub line: usize,
    pub message: String,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Parses a whole exposition. Comments and blank lines are skipped; any other line
/// that is not a sample is an error naming the line.
pub fn parse(text: &str) -> Result<Vec<Sample>, PromError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        out.push(parse_line(l, line)?);
    }
    Ok(out)
}

fn parse_line(l: &str, line: usize) -> Result<Sample, PromError> {
    let err = |message: String| PromError { line, message };
    let name_end = l.find(|c: char| !is_name_char(c)).unwrap_or(l.len());
    let name = &l[..name_end];
    if !name.starts_with(is_name_start) {
        return Err(err(format!(
            "`{}` does not start with a metric name",
            short(l)
        )));
    }
    let mut rest = &l[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let (ls, after) = parse_labels(r).map_err(|m| err(format!("{name}: {m}")))?;
        labels = ls;
        rest = after;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| err(format!("{name}: no value")))?;
    let value =
        parse_value(value).ok_or_else(|| err(format!("{name}: `{value}` is not a number")))?;
    if let Some(ts) = fields.next() {
        if ts.parse::<i64>().is_err() {
            return Err(err(format!("{name}: `{ts}` is not a timestamp")));
        }
    }
    if let Some(extra) = fields.next() {
        return Err(err(format!("{name}: unexpected `{extra}` after the value")));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        line,
    })
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

type Labels = Vec<(String, String)>;

/// Parses `a="x",b="y"}` (the opening brace already taken); returns the labels and what
/// follows the closing brace.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        let key = &rest[..end];
        if key.is_empty() {
            return Err(format!("a label name was expected at `{}`", short(rest)));
        }
        rest = rest[end..].trim_start();
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("label {key}: `=` expected"))?
            .trim_start();
        rest = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("label {key}: a quoted value expected"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let close = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {key}: unterminated value")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("label {key}: unterminated value")),
            }
        };
        labels.push((key.to_string(), value));
        rest = rest[close + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.starts_with('}') {
            return Err(format!("label {key}: `,` or `}}` expected"));
        }
    }
}

/// Parses the exposition read from `source`; an error names the source and the line.
pub fn parse_from(text: &str, source: &str) -> Result<Vec<Sample>, String> {
    parse(text).map_err(|e| {
        format!(
            "{source}:{}: {}; is this a Prometheus /metrics text?",
            e.line, e.message
        )
    })
}

/// The kind of each metric family, from the `# TYPE name kind` lines.
fn families(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?))
        })
        .collect()
}

/// Whether a sample of `kinds` counts up from the process's start (a counter, or a
/// histogram's or summary's buckets, sum and count), so that what happened between two
/// reads is the later value less the earlier one. Gauges, a summary's quantiles and
/// untyped samples are states: the later read is the value.
fn cumulative(name: &str, kinds: &BTreeMap<&str, &str>) -> bool {
    if kinds.get(name) == Some(&"counter") {
        return true;
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        name.strip_suffix(suffix).is_some_and(|family| {
            matches!(kinds.get(family), Some(&"histogram") | Some(&"summary"))
        })
    })
}

/// A series: a sample's name and its labels but `le`.
type Series = (String, Labels);

/// A sample's series.
fn series(s: &Sample) -> Series {
    let labels = s
        .labels
        .iter()
        .filter(|(k, _)| k != "le")
        .cloned()
        .collect();
    (s.name.clone(), labels)
}

/// What a service did between two reads of its metrics: `later`'s samples, each counter
/// and histogram less its value in `earlier` (`earlier_name`, `later_name` name them in
/// errors), gauges as `later` has them. A histogram's bucket bound that `earlier` does not
/// write counts what `earlier` has at the highest bound below it (an exposition that
/// writes only the buckets holding something, as the generated services' does, leaves
/// out only bounds whose bucket was empty). A counter that went down is an error: the
/// process restarted between the reads, and the difference would not be its work.
pub fn since(
    later: &str,
    earlier: &str,
    later_name: &str,
    earlier_name: &str,
) -> Result<Vec<Sample>, String> {
    let kinds = families(later);
    let later_samples = parse_from(later, later_name)?;
    let earlier_samples = parse_from(earlier, earlier_name)?;
    // Per series: (bound, value) pairs; a series without `le` has one pair at +Inf.
    let mut before: HashMap<Series, Vec<(f64, f64)>> = HashMap::new();
    for s in &earlier_samples {
        let le = match s.label("le") {
            Some(le) => parse_value(le).unwrap_or(f64::NAN),
            None => f64::INFINITY,
        };
        before.entry(series(s)).or_default().push((le, s.value));
    }
    for bounds in before.values_mut() {
        bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut out = Vec::with_capacity(later_samples.len());
    for mut s in later_samples {
        if cumulative(&s.name, &kinds) {
            let had = before
                .get(&series(&s))
                .map_or(0.0, |bounds| match s.label("le") {
                    Some(le) => {
                        let le = parse_value(le).unwrap_or(f64::NAN);
                        bounds
                            .iter()
                            .take_while(|(b, _)| *b <= le)
                            .last()
                            .map_or(0.0, |(_, v)| *v)
                    }
                    None => bounds.last().map_or(0.0, |(_, v)| *v),
                });
            if s.value < had {
                return Err(format!(
                    "{later_name}:{}: {} is {} here but was {had} in {earlier_name}: a counter went down, so the reads are in the wrong order (--since takes the earlier one) or the service restarted between them; read both from one run, the earlier first",
                    s.line, s.name, s.value
                ));
            }
            s.value -= had;
        }
        out.push(s);
    }
    Ok(out)
}

fn short(s: &str) -> String {
    let s: String = s.chars().take(40).collect();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_samples_labels_escapes_and_special_values() {
        let text = "# HELP x help\n# TYPE x histogram\n\
            x_bucket{node=\"n4\",stage=\"commit\",le=\"1e-3\"} 12\n\
            x_bucket{node=\"n4\", stage=\"commit\", le=\"+Inf\"} 15 1700000000000\n\
            y{path=\"a\\\"b\\\\c\\nd\"} NaN\n\
            plain 3.5\n\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].name, "x_bucket");
        assert_eq!(s[0].label("node"), Some("n4"));
        assert_eq!(s[0].label("le"), Some("1e-3"));
        assert_eq!(s[0].value, 12.0);
        assert_eq!(s[0].line, 3);
        assert_eq!(s[1].label("le"), Some("+Inf"));
        assert_eq!(s[2].label("path"), Some("a\"b\\c\nd"));
        assert!(s[2].value.is_nan());
        assert_eq!(s[3].labels, vec![]);
        assert_eq!(s[3].value, 3.5);
    }

    #[test]
    fn bad_lines_name_the_line_and_the_problem() {
        for (text, line, why) in [
            ("ok 1\n{a=\"b\"} 1\n", 2, "metric name"),
            ("x{a=\"b} 1\n", 1, "unterminated"),
            ("x{a=b} 1\n", 1, "quoted value"),
            ("x{a=\"b\" c=\"d\"} 1\n", 1, "`,` or `}` expected"),
            ("x 1 2 3\n", 1, "unexpected"),
            ("x fast\n", 1, "not a number"),
            ("x\n", 1, "no value"),
            ("<html>\n", 1, "metric name"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text}");
            assert!(e.message.contains(why), "{text}: {}", e.message);
        }
    }

    #[test]
    fn since_subtracts_counters_and_buckets_and_keeps_gauges() {
        let earlier = "# TYPE h histogram\n# TYPE c counter\n# TYPE g gauge\n\
            h_bucket{node=\"n4\",le=\"0.001\"} 10\n\
            h_bucket{node=\"n4\",le=\"0.002\"} 12\n\
            h_bucket{node=\"n4\",le=\"+Inf\"} 12\n\
            h_sum{node=\"n4\"} 0.02\nh_count{node=\"n4\"} 12\n\
            c{stat=\"n\"} 7\ng{kind=\"servers\"} 4\n";
        // A bound (0.0015) the earlier read did not write: its bucket was empty then, so
        // the earlier count there is the one at 0.001.
        let later = "# TYPE h histogram\n# TYPE c counter\n# TYPE g gauge\n\
            h_bucket{node=\"n4\",le=\"0.001\"} 15\n\
            h_bucket{node=\"n4\",le=\"0.0015\"} 18\n\
            h_bucket{node=\"n4\",le=\"0.002\"} 20\n\
            h_bucket{node=\"n4\",le=\"+Inf\"} 21\n\
            h_sum{node=\"n4\"} 0.035\nh_count{node=\"n4\"} 21\n\
            c{stat=\"n\"} 9\nc{stat=\"new\"} 3\ng{kind=\"servers\"} 2\n";
        let d = since(later, earlier, "later", "earlier").unwrap();
        let v: Vec<(String, f64)> = d
            .iter()
            .map(|s| {
                let le = s.label("le").map(|l| format!("@{l}")).unwrap_or_default();
                (format!("{}{le}", s.name), (s.value * 1e6).round() / 1e6)
            })
            .collect();
        let want = [
            ("h_bucket@0.001", 5.0),
            ("h_bucket@0.0015", 8.0),
            ("h_bucket@0.002", 8.0),
            ("h_bucket@+Inf", 9.0),
            ("h_sum", 0.015),
            ("h_count", 9.0),
            ("c", 2.0),
            ("c", 3.0),
            ("g", 2.0),
        ];
        let want: Vec<(String, f64)> = want.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        assert_eq!(v, want);
    }

    #[test]
    fn since_refuses_a_counter_that_went_down_naming_the_line() {
        let earlier = "# TYPE c counter\nc 9\n";
        let later = "# TYPE c counter\n# HELP c x\nc 2\n";
        let e = since(later, earlier, "now", "before").unwrap_err();
        assert!(
            e.starts_with("now:3: c is 2 here but was 9 in before"),
            "{e}"
        );
        assert!(e.contains("wrong order") && e.contains("restarted"), "{e}");
        let e = since("x{\n", earlier, "now", "before").unwrap_err();
        assert!(e.starts_with("now:1:"), "{e}");
    }
}
