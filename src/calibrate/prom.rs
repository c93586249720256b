//! Reading the Prometheus text exposition format (version 0.0.4): one sample a line,
//! `name{label="value",...} value [timestamp]`, `#` lines for HELP and TYPE.

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
}
