//! Names for generated code, from diagram labels.
//!
//! `Order Summary Projector` → module `order_summary`, type `OrderSummaryProjector`.
//! A label that gives no valid ASCII identifier (CJK, emoji, punctuation only), or one
//! that is a Rust keyword, or that collides with a name already taken, falls back to
//! the node id. Names only ever contain `[a-z0-9_]` (snake) or `[A-Za-z0-9]` (Pascal),
//! so no label can inject code or a path.

use std::collections::BTreeSet;

/// Rust keywords (strict, reserved and weak ones used as items), plus names the
/// generated project itself uses for modules and types.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "gen",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "union",
    "macro_rules",
    "raw",
    "safe",
    "std",
    "core",
    "alloc",
    "test",
    "main",
    "lib",
    // modules and items of the generated project
    "app",
    "bus",
    "commands",
    "config",
    "domain",
    "error",
    "metrics",
    "projections",
    "query",
    "store",
    "rules",
    "tests",
    "fold",
    "health",
    "openapi",
    "serve",
    "rebuild",
    "id",
    "version",
    "state",
    "score",
    "count",
    "position",
    "cell_id",
    "expected_version",
    "aggregate_id",
];

/// Reserved type names of the generated project.
const RESERVED_TYPES: &[&str] = &[
    "Self",
    "App",
    "AppState",
    "AppError",
    "ApiDoc",
    "ApiError",
    "ErrorBody",
    "Views",
    "Config",
    "ConfigError",
    "Metrics",
    "ProjectorMetrics",
    "EventStore",
    "StoreError",
    "StoredEvent",
    "NewEvent",
    "Appended",
    "Head",
    "Stream",
    "Bus",
    "Projector",
    "ProjectionError",
    "Delivered",
    "Change",
    "PageRequest",
    "SqliteReaders",
    "DomainError",
    "Aggregate",
    "CommandAccepted",
    "Option",
    "Result",
    "String",
    "Vec",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
    "Json",
    "State",
    "Path",
    "Query",
    "Router",
    "Value",
    "Index",
    "Field",
    "Schema",
    "Term",
    "Fields",
    "Data",
    "Connection",
    "HashMap",
    "BTreeMap",
    "Arc",
    "Mutex",
    "RwLock",
    "ToSchema",
    "Serialize",
    "Deserialize",
    "OpenApi",
    "Instant",
    "Duration",
];

/// Whether `s` is a Rust keyword or a name the generated project reserves.
pub fn is_reserved(s: &str) -> bool {
    RESERVED.contains(&s) || RESERVED_TYPES.contains(&s)
}

/// ASCII words of a label: runs of ASCII letters and digits. `None` when the label
/// has characters outside ASCII letters, digits, spaces and common punctuation
/// (then the caller falls back to the node id).
pub fn words(label: &str) -> Option<Vec<String>> {
    if !label.is_ascii() {
        return None;
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = label.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            // Split camelCase: a capital after a lowercase letter starts a word.
            if c.is_ascii_uppercase()
                && i > 0
                && chars[i - 1].is_ascii_lowercase()
                && !cur.is_empty()
            {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c.to_ascii_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if out.is_empty() || out[0].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(out)
}

/// `order_summary` from `["order", "summary"]`.
pub fn snake(words: &[String]) -> String {
    words.join("_")
}

/// `OrderSummary` from `["order", "summary"]`.
pub fn pascal(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Whether `s` is a valid snake_case identifier fz may emit.
pub fn is_snake_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.contains("__")
        && !s.ends_with('_')
        && s.len() <= 64
        && !is_reserved(s)
}

/// Whether `s` is a valid PascalCase identifier fz may emit.
pub fn is_pascal_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.len() <= 64
        && !is_reserved(s)
}

/// Names of the node ids: `n9` → `n9` / `N9`. Node ids are made of ASCII letters,
/// digits and `_` in valid diagrams; anything else is replaced by `x`.
pub fn id_words(node_id: &str) -> Vec<String> {
    let clean: String = node_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut w: Vec<String> = clean
        .split('_')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if w.is_empty() || w[0].starts_with(|c: char| c.is_ascii_digit()) {
        w.insert(0, "node".to_string());
    }
    w
}

/// Hands out unique names: a name is taken together with every derived name
/// (suffixes) so that generated types can never collide.
#[derive(Debug, Default)]
pub struct Namer {
    taken: BTreeSet<String>,
}

/// A unique name for one diagram element.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Name {
    /// `order_summary`
    pub snake: String,
    /// `OrderSummary`
    pub pascal: String,
    /// Whether the label was unusable and the node id was used instead.
    pub from_id: bool,
}

impl Namer {
    /// Takes a unique name: from `label` words (minus `drop_suffix` words at the end),
    /// else from the node id, else the node id with a counter. `suffixes` are the
    /// derived Pascal names that must be free too (e.g. `["Projector"]`).
    pub fn take(
        &mut self,
        label: &str,
        node_id: &str,
        drop_suffix: &[&str],
        suffixes: &[&str],
    ) -> Name {
        let mut candidates = Vec::new();
        if let Some(mut w) = words(label) {
            while w.len() > 1 && w.last().is_some_and(|l| drop_suffix.contains(&l.as_str())) {
                w.pop();
            }
            candidates.push((w, false));
        }
        let id = id_words(node_id);
        candidates.push((id.clone(), true));
        for i in 2..1000 {
            let mut w = id.clone();
            w.push(i.to_string());
            candidates.push((w, true));
        }
        for (w, from_id) in candidates {
            let snake = snake(&w);
            let pascal = pascal(&w);
            if !is_snake_ident(&snake) || !is_pascal_ident(&pascal) || self.taken.contains(&snake) {
                continue;
            }
            let derived: Vec<String> = suffixes.iter().map(|s| format!("{pascal}{s}")).collect();
            if derived
                .iter()
                .any(|d| self.taken.contains(d) || is_reserved(d))
                || self.taken.contains(&pascal)
            {
                continue;
            }
            self.taken.insert(snake.clone());
            self.taken.insert(pascal.clone());
            self.taken.extend(derived);
            return Name {
                snake,
                pascal,
                from_id,
            };
        }
        // Unreachable in practice: 1000 numbered fallbacks were taken.
        let snake = format!("node_{}", self.taken.len());
        let pascal = format!("Node{}", self.taken.len());
        self.taken.insert(snake.clone());
        self.taken.insert(pascal.clone());
        Name {
            snake,
            pascal,
            from_id: true,
        }
    }

    /// Marks a name as used (for fixed names of the project).
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }
}

/// A label made safe for a `//` or `///` comment and for Markdown table cells: one
/// line, control characters replaced, at most 120 characters, `|` and backticks escaped.
pub fn comment_text(label: &str) -> String {
    let mut s: String = label
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if s.chars().count() > 120 {
        s = s.chars().take(117).collect::<String>() + "...";
    }
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "'")
}

/// A Rust string literal (with quotes) holding `s`.
pub fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_labels() {
        let mut n = Namer::default();
        let a = n.take(
            "Order Summary Projector",
            "n9",
            &["projector", "projection"],
            &["Projector"],
        );
        assert_eq!(
            (a.snake.as_str(), a.pascal.as_str(), a.from_id),
            ("order_summary", "OrderSummary", false)
        );
        let b = n.take(
            "Order Summary Projector",
            "n10",
            &["projector"],
            &["Projector"],
        );
        assert_eq!(b.snake, "n10");
        let c = n.take("注文サマリー", "n11", &[], &[]);
        assert_eq!(c.snake, "n11");
        let d = n.take("type", "n12", &[], &[]);
        assert_eq!(d.snake, "n12");
        let e = n.take("\"; drop table x; --", "n13", &[], &[]);
        assert_eq!(e.snake, "drop_table_x");
        let f = n.take("../../etc/passwd", "n14", &[], &[]);
        assert_eq!(f.snake, "etc_passwd");
        let g = n.take("123", "7", &[], &[]);
        assert_eq!(g.snake, "node_7");
    }

    #[test]
    fn comments_are_one_line() {
        assert_eq!(comment_text("a\nb */ `c` | d"), "a b */ 'c' \\| d");
    }
}
