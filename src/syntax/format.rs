//! The canonical layout of a `.fz` file (what `fz fmt` writes), printed from the AST.
//!
//! Lanes in file order, separated by one blank line; one statement a line, no indentation
//! (FlowZap's own style); inside a lane, nodes first, then edges and loops in their original
//! order (edge order carries meaning in the sequence view). A `//` comment stays with the
//! statement it precedes; comments at the end of a lane stay at its end. Spelling choices the
//! model keeps no trace of (`key="…"`, `[label:"…"]`, missing handles, lane prefixes) are left
//! as written: `fz fix` is the tool that changes them.

use std::fmt::Write;

use super::ast::*;

/// Quote a string value: `"` and `\` are escaped with `\`.
pub fn quote(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

fn assign(a: Assign) -> char {
    match a {
        Assign::Colon => ':',
        Assign::Equals => '=',
    }
}

fn node_ref(out: &mut String, r: &NodeRef<'_>) {
    if let Some(l) = r.lane {
        out.push_str(l.text);
        out.push('.');
    }
    out.push_str(r.node.text);
}

/// One statement on one line, without indentation or line end.
pub fn statement(s: &Statement<'_>, source: &str) -> String {
    let mut out = String::new();
    match s {
        Statement::Node(n) => {
            let _ = write!(out, "{}: {}", n.id.text, n.shape.text);
            for a in &n.attributes {
                let _ = write!(
                    out,
                    " {}{}{}",
                    a.key.text,
                    assign(a.assign),
                    quote(&a.value.value)
                );
            }
        }
        Statement::Edge(e) => {
            for (i, end) in [&e.source, &e.target].into_iter().enumerate() {
                if i == 1 {
                    out.push_str(" -> ");
                }
                node_ref(&mut out, &end.node);
                if let Some(h) = end.handle {
                    let _ = write!(out, ".handle({})", h.text);
                }
            }
            if let Some(l) = &e.label {
                let _ = write!(out, " [label{}{}]", assign(l.assign), quote(&l.text.value));
            }
        }
        Statement::Loop(l) => {
            let _ = write!(out, "loop [{}]", l.condition);
            for r in &l.nodes {
                out.push(' ');
                node_ref(&mut out, r);
            }
        }
        Statement::Comment(c) => {
            let _ = write!(out, "//{}", c.text.trim_end());
        }
        Statement::Error(span) => out.push_str(source.get(span.range()).unwrap_or("").trim_end()),
    }
    out
}

/// Group statements with the comments that precede them.
fn groups<'s, 'a>(body: &'s [Statement<'a>]) -> (Vec<&'s [Statement<'a>]>, &'s [Statement<'a>]) {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, s) in body.iter().enumerate() {
        if !matches!(s, Statement::Comment(_)) {
            out.push(&body[start..=i]);
            start = i + 1;
        }
    }
    (out, &body[start..])
}

fn emit(out: &mut String, stmts: &[Statement<'_>], source: &str) {
    for s in stmts {
        out.push_str(&statement(s, source));
        out.push('\n');
    }
}

/// Print a file in canonical layout. Callers should refuse files with syntax errors
/// (their bad lines would be printed as written, but cannot be placed reliably).
pub fn format(file: &SourceFile<'_>, source: &str) -> String {
    let mut out = String::new();
    let mut previous_was_lane = false;
    for (i, item) in file.items.iter().enumerate() {
        match item {
            Item::Lane(lane) => {
                // A blank line between lanes; a top-level comment right before a lane stays
                // attached to it.
                let after_comment =
                    i > 0 && matches!(file.items[i - 1], Item::Statement(Statement::Comment(_)));
                if i > 0 && !after_comment {
                    out.push('\n');
                }
                out.push_str(lane.id.text);
                out.push_str(" {");
                if let Some(l) = &lane.label {
                    out.push_str(" #");
                    if !l.text.is_empty() {
                        out.push(' ');
                        out.push_str(l.text);
                    }
                }
                out.push('\n');
                let (groups, trailing) = groups(&lane.body);
                for g in groups
                    .iter()
                    .filter(|g| matches!(g.last(), Some(Statement::Node(_))))
                {
                    emit(&mut out, g, source);
                }
                for g in groups
                    .iter()
                    .filter(|g| !matches!(g.last(), Some(Statement::Node(_))))
                {
                    emit(&mut out, g, source);
                }
                emit(&mut out, trailing, source);
                if lane.close.is_some() {
                    out.push_str("}\n");
                }
                previous_was_lane = true;
            }
            Item::Statement(s) => {
                if previous_was_lane {
                    out.push('\n');
                }
                out.push_str(&statement(s, source));
                out.push('\n');
                previous_was_lane = false;
            }
        }
    }
    out
}
