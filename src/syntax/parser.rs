//! The error-recovering parser: feeds the pest grammar one line at a time, builds the
//! [`SourceFile`] tree with lane nesting, and collects every syntax error.

use std::borrow::Cow;

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::Span;
use crate::diagnostic::{Code, Diagnostic};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/flowzap.pest"]
struct Grammar;

/// The result of parsing: always a tree (partial where lines were bad) and every syntax error.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    pub file: SourceFile<'a>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Largest source the parser accepts (spans are 32-bit).
pub const MAX_SOURCE_LEN: usize = u32::MAX as usize;

/// What the parser reports, in source order, as it reads the file line by line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// `Id {` (with the label when it is on the same line).
    LaneOpen {
        id: Ident<'a>,
        label: Option<LaneLabel<'a>>,
        header: Span,
    },
    /// A display label on its own line right after the lane header.
    LaneLabel(LaneLabel<'a>),
    /// A statement, inside the open lane if there is one.
    Statement(Statement<'a>),
    /// The open lane ends: at its `}`, or (`None`) unclosed, where the next lane or the file begins/ends.
    LaneClose(Option<Span>),
}

/// Parse a whole `.fz` source into a tree. Never fails: bad lines become
/// [`Statement::Error`] with an `E001` diagnostic, and parsing resumes at the next line.
///
/// Sources longer than [`MAX_SOURCE_LEN`] must be refused by the caller.
pub fn parse(source: &str) -> Parsed<'_> {
    collect(source, true)
}

/// Parse with pest alone, without the fast path (for tests and benchmarks).
pub fn parse_with_grammar_only(source: &str) -> Parsed<'_> {
    collect(source, false)
}

fn collect(source: &str, fast: bool) -> Parsed<'_> {
    let mut items: Vec<Item<'_>> = Vec::new();
    let mut lane: Option<Lane<'_>> = None;
    let diagnostics = parse_events(source, fast, |e| match e {
        Event::LaneOpen { id, label, header } => {
            lane = Some(Lane {
                id,
                label,
                header,
                body: Vec::new(),
                close: None,
            })
        }
        Event::LaneLabel(l) => {
            if let Some(lane) = &mut lane {
                lane.label = Some(l);
            }
        }
        Event::Statement(s) => match &mut lane {
            Some(lane) => lane.body.push(s),
            None => items.push(Item::Statement(s)),
        },
        Event::LaneClose(close) => {
            if let Some(mut l) = lane.take() {
                l.close = close;
                items.push(Item::Lane(l));
            }
        }
    });
    Parsed {
        file: SourceFile { items },
        diagnostics,
    }
}

/// Parse `source` line by line, handing every [`Event`] to `on` as it is read (so a caller
/// can build what it needs without holding the whole tree), and return the syntax errors.
/// `fast` lets the byte scanner take canonical node and edge lines before pest does.
pub fn parse_events<'a>(source: &'a str, fast: bool, on: impl FnMut(Event<'a>)) -> Vec<Diagnostic> {
    let mut p = Driver {
        fast,
        on,
        lane: None,
        diagnostics: Vec::new(),
    };
    // Lines by memchr (AVX2 where the CPU has it), without their `\n` or `\r\n`.
    let bytes = source.as_bytes();
    let mut start = 0usize;
    let ends = memchr::memchr_iter(b'\n', bytes)
        .chain((bytes.last() != Some(&b'\n') && !bytes.is_empty()).then_some(bytes.len()));
    for end in ends {
        // `end` is a `\n` or the end of the source: both are char boundaries.
        let line = &source[start..end];
        let base = start;
        start = end + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.bytes().all(|b| b == b' ' || b == b'\t') {
            continue;
        }
        p.line(line, base);
    }
    p.finish();
    p.diagnostics
}

/// What the driver remembers of the open lane.
struct OpenLane<'a> {
    id: &'a str,
    header: Span,
    has_label: bool,
    /// True until the lane holds a statement other than a comment.
    only_comments: bool,
}

struct Driver<'a, F> {
    /// Try the byte scanner before pest (off only to test that both agree).
    fast: bool,
    on: F,
    lane: Option<OpenLane<'a>>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a, F: FnMut(Event<'a>)> Driver<'a, F> {
    fn line(&mut self, line: &'a str, base: usize) {
        if self.fast {
            if let Some(s) = super::fast::statement(line, base) {
                self.push(s);
                return;
            }
        }
        let pairs = match Grammar::parse(Rule::line, line) {
            Ok(mut pairs) => pairs.next().and_then(|l| l.into_inner().next()),
            Err(e) => {
                let d = syntax_error(line, base, &e);
                self.diagnostics.push(d);
                let span = Span::new(base + leading_ws(line), base + line.len());
                self.push(Statement::Error(span));
                return;
            }
        };
        let Some(pair) = pairs else { return };
        let c = Convert { base };
        match pair.as_rule() {
            Rule::lane_open => self.open_lane(&c, pair),
            Rule::lane_close => self.close_lane(c.span(&pair)),
            Rule::lane_label => self.lane_label(c.lane_label(pair, true)),
            Rule::comment => self.push(Statement::Comment(c.comment(pair))),
            Rule::node => self.push(Statement::Node(c.node(pair))),
            Rule::edge => self.push(Statement::Edge(c.edge(pair))),
            Rule::loop_statement => self.push(Statement::Loop(c.loop_decl(pair))),
            _ => {}
        }
    }

    fn push(&mut self, s: Statement<'a>) {
        if let Some(lane) = &mut self.lane {
            if !matches!(s, Statement::Comment(_)) {
                lane.only_comments = false;
            }
        }
        (self.on)(Event::Statement(s));
    }

    fn open_lane(&mut self, c: &Convert, pair: Pair<'a, Rule>) {
        let span = c.span(&pair);
        let mut inner = pair.into_inner();
        let id = c.ident(inner.next());
        let brace = inner.next().map(|b| c.span(&b)).unwrap_or(span);
        let label = inner.next().map(|l| c.lane_label(l, false));
        let header = Span {
            start: id.span.start,
            end: brace.end,
        };
        if let Some(open) = self.lane.take() {
            self.diagnostics
                .push(unclosed(open.id, open.header, Some(header)));
            (self.on)(Event::LaneClose(None));
        }
        self.lane = Some(OpenLane {
            id: id.text,
            header,
            has_label: label.is_some(),
            only_comments: true,
        });
        (self.on)(Event::LaneOpen { id, label, header });
    }

    fn close_lane(&mut self, span: Span) {
        match self.lane.take() {
            Some(_) => (self.on)(Event::LaneClose(Some(span))),
            None => self.diagnostics.push(
                Diagnostic::new(
                    Code::StrayBrace,
                    span,
                    "unexpected `}`: no lane is open here",
                )
                .with_help("remove this `}` or open a lane before it with `LaneId {`"),
            ),
        }
    }

    fn lane_label(&mut self, label: LaneLabel<'a>) {
        if let Some(lane) = &mut self.lane {
            if !lane.has_label && lane.only_comments {
                lane.has_label = true;
                (self.on)(Event::LaneLabel(label));
                return;
            }
        }
        let d = Diagnostic::new(
            Code::MisplacedLaneLabel,
            label.span,
            "a display label `# …` may only follow a lane's opening `{`",
        )
        .with_help(
            "put the label on the lane's header line (`Id { # Label`), or write `//` for a comment",
        );
        self.diagnostics.push(d);
        self.push(Statement::Error(label.span));
    }

    fn finish(&mut self) {
        if let Some(open) = self.lane.take() {
            self.diagnostics.push(unclosed(open.id, open.header, None));
            (self.on)(Event::LaneClose(None));
        }
    }
}

fn unclosed(id: &str, header: Span, next: Option<Span>) -> Diagnostic {
    let d = Diagnostic::new(
        Code::UnclosedLane,
        header,
        format!("lane `{id}` is never closed"),
    );
    match next {
        Some(next) => d
            .with_label(next, "the next lane starts here")
            .with_help(format!(
                "add `}}` on its own line before the next lane to close `{id}`"
            )),
        None => d.with_help(format!(
            "add `}}` on its own line at the end of lane `{id}`"
        )),
    }
}

fn leading_ws(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Turns pest pairs of one line into AST items with absolute spans.
struct Convert {
    base: usize,
}

impl Convert {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.base + s.start(), self.base + s.end())
    }

    fn ident<'a>(&self, pair: Option<Pair<'a, Rule>>) -> Ident<'a> {
        match pair {
            Some(p) => Ident {
                text: p.as_str(),
                span: self.span(&p),
            },
            None => Ident {
                text: "",
                span: Span::new(self.base, self.base),
            },
        }
    }

    fn string<'a>(&self, pair: Pair<'a, Rule>) -> Str<'a> {
        let span = self.span(&pair);
        let body = pair.into_inner().next().map(|b| b.as_str()).unwrap_or("");
        Str {
            value: unescape(body),
            span,
        }
    }

    fn lane_label<'a>(&self, pair: Pair<'a, Rule>, own_line: bool) -> LaneLabel<'a> {
        let span = self.span(&pair);
        let text = pair
            .into_inner()
            .next()
            .map(|r| r.as_str().trim())
            .unwrap_or("");
        LaneLabel {
            text,
            span,
            own_line,
        }
    }

    fn comment<'a>(&self, pair: Pair<'a, Rule>) -> Comment<'a> {
        let span = self.span(&pair);
        let text = pair.into_inner().next().map(|r| r.as_str()).unwrap_or("");
        Comment { text, span }
    }

    fn assign(pair: Option<Pair<'_, Rule>>) -> Assign {
        match pair.map(|p| p.as_str()) {
            Some("=") => Assign::Equals,
            _ => Assign::Colon,
        }
    }

    fn node<'a>(&self, pair: Pair<'a, Rule>) -> NodeDecl<'a> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let id = self.ident(inner.next());
        let _colon = inner.next();
        let shape = self.ident(inner.next());
        let attributes = inner
            .filter(|p| p.as_rule() == Rule::attribute)
            .map(|a| {
                let span = self.span(&a);
                let mut parts = a.into_inner();
                let key = self.ident(parts.next());
                let assign = Self::assign(parts.next());
                let value = match parts.next() {
                    Some(s) => self.string(s),
                    None => Str {
                        value: Cow::Borrowed(""),
                        span,
                    },
                };
                Attribute {
                    key,
                    assign,
                    value,
                    span,
                }
            })
            .collect();
        NodeDecl {
            id,
            shape,
            attributes,
            span,
        }
    }

    fn node_ref<'a>(&self, pair: Pair<'a, Rule>) -> NodeRef<'a> {
        let span = self.span(&pair);
        let mut lane = None;
        let mut node = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::lane_prefix => lane = Some(self.ident(Some(p))),
                _ => node = Some(self.ident(Some(p))),
            }
        }
        NodeRef {
            lane,
            node: node.unwrap_or(Ident { text: "", span }),
            span,
        }
    }

    fn endpoint<'a>(&self, pair: Option<Pair<'a, Rule>>) -> Endpoint<'a> {
        let Some(pair) = pair else {
            let span = Span::new(self.base, self.base);
            return Endpoint {
                node: NodeRef {
                    lane: None,
                    node: Ident { text: "", span },
                    span,
                },
                handle: None,
                span,
            };
        };
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let node = match inner.next() {
            Some(r) => self.node_ref(r),
            None => NodeRef {
                lane: None,
                node: Ident { text: "", span },
                span,
            },
        };
        let handle = inner
            .next()
            .map(|h| self.ident(h.into_inner().find(|p| p.as_rule() == Rule::direction)));
        Endpoint { node, handle, span }
    }

    fn edge<'a>(&self, pair: Pair<'a, Rule>) -> EdgeDecl<'a> {
        let span = self.span(&pair);
        let mut source = None;
        let mut target = None;
        let mut label = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::endpoint if source.is_none() => source = Some(p),
                Rule::endpoint => target = Some(p),
                Rule::edge_label => {
                    let lspan = self.span(&p);
                    let mut parts = p.into_inner();
                    let assign = Self::assign(parts.next());
                    let text = match parts.next() {
                        Some(s) => self.string(s),
                        None => Str {
                            value: Cow::Borrowed(""),
                            span: lspan,
                        },
                    };
                    label = Some(EdgeLabel {
                        assign,
                        text,
                        span: lspan,
                    });
                }
                _ => {}
            }
        }
        EdgeDecl {
            source: self.endpoint(source),
            target: self.endpoint(target),
            label,
            span,
        }
    }

    fn loop_decl<'a>(&self, pair: Pair<'a, Rule>) -> LoopDecl<'a> {
        let span = self.span(&pair);
        let mut condition = "";
        let mut condition_span = span;
        let mut nodes = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::condition => {
                    condition = p.as_str();
                    condition_span = self.span(&p);
                }
                Rule::node_ref => nodes.push(self.node_ref(p)),
                _ => {}
            }
        }
        LoopDecl {
            condition: condition.trim(),
            condition_span,
            nodes,
            span,
        }
    }
}

/// Resolve `\"` and `\\`; any other backslash is kept as written.
fn unescape(body: &str) -> Cow<'_, str> {
    if !body.contains('\\') {
        return Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A readable name for a grammar rule, for "expected …" lists.
fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::identifier | Rule::lane_prefix => "an identifier",
        Rule::string | Rule::string_body => "a quoted string",
        Rule::arrow => "`->`",
        Rule::colon => "`:`",
        Rule::open_brace => "`{`",
        Rule::assign => "`:` or `=`",
        Rule::shape => "a shape (circle, rectangle, diamond, taskbox)",
        Rule::attribute => "an attribute `key:\"value\"`",
        Rule::handle => "`.handle(direction)`",
        Rule::direction => "a handle direction (left, right, top, bottom)",
        Rule::edge_label => "an edge label `[label=\"…\"]`",
        Rule::node_ref | Rule::endpoint => "a node id",
        Rule::condition => "a loop condition",
        Rule::lane_label => "a display label `# …`",
        Rule::comment => "a `//` comment",
        Rule::lane_close => "`}`",
        Rule::loop_statement => "`loop [condition]`",
        Rule::lane_open => "a lane `Id {`",
        Rule::node => "a node `nK: shape …`",
        Rule::edge => "an edge `a.handle(dir) -> b.handle(dir)`",
        Rule::EOI => "end of line",
        _ => "a statement",
    }
}

fn syntax_error(line: &str, base: usize, e: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let pos = pos.min(line.len());
    let mut expected: Vec<&'static str> = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().map(|r| rule_name(*r)).collect()
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let at_start = pos == leading_ws(line);
    if at_start {
        expected = vec!["a statement (lane `Id {`, `}`, node, edge, `loop`, or `//` comment)"];
    }
    let mut seen = std::collections::HashSet::new();
    expected.retain(|x| seen.insert(*x));
    let found = found_token(&line[pos..]);
    let unterminated = line[pos..].starts_with('"') && !line[pos + 1..].contains('"');
    let list = match expected.len() {
        0 => "something else".to_string(),
        1 => expected[0].to_string(),
        n => format!("{} or {}", expected[..n - 1].join(", "), expected[n - 1]),
    };
    let end = pos + found.1.max(1).min(line.len().saturating_sub(pos));
    let span = Span::new(base + pos, base + end.max(pos));
    let mut d = Diagnostic::new(
        Code::Syntax,
        span,
        if unterminated {
            "unterminated string: this `\"` opens a string the line never closes".to_string()
        } else {
            format!("expected {list}, found {}", found.0)
        },
    );
    if let Some(help) = syntax_help(&line[pos..], at_start, line) {
        d = d.with_help(help);
    }
    d
}

/// Describe the token at the start of `rest`: its text and byte length.
fn found_token(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("end of line".to_string(), 0);
    };
    if c.is_alphanumeric() || c == '_' {
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        return (format!("`{}`", &rest[..len]), len);
    }
    if c == '"' {
        return ("`\"`".to_string(), 1);
    }
    (format!("`{}`", c.escape_debug()), c.len_utf8())
}

fn syntax_help(rest: &str, at_start: bool, line: &str) -> Option<String> {
    let t = line.trim_start();
    if at_start && t.starts_with('#') {
        return None;
    }
    if rest.starts_with('"') && !rest[1..].contains('"') {
        return Some("this string is never closed: add a `\"` at its end".into());
    }
    if at_start && t.starts_with("/*") {
        return Some("comments are written `// text` on their own line".into());
    }
    None
}
