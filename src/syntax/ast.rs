//! The abstract syntax tree. Every item carries its [`Span`]; text borrows from the source
//! (only strings holding escapes are copied), so the tree stays small on large inputs.

use std::borrow::Cow;

use super::Span;

/// A name as written: lane id, node id, shape, attribute key, handle direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ident<'a> {
    pub text: &'a str,
    pub span: Span,
}

/// A double-quoted string with its escapes resolved. `span` covers the quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a> {
    pub value: Cow<'a, str>,
    pub span: Span,
}

/// Whether a key and its value were joined with `:` or `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assign {
    Colon,
    Equals,
}

/// A whole `.fz` file: lanes and top-level statements in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceFile<'a> {
    pub items: Vec<Item<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    Lane(Lane<'a>),
    Statement(Statement<'a>),
}

/// `Id { # Label` … `}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane<'a> {
    pub id: Ident<'a>,
    pub label: Option<LaneLabel<'a>>,
    /// Span of the header line's `Id {` part.
    pub header: Span,
    pub body: Vec<Statement<'a>>,
    /// Span of the closing `}`; `None` when the lane was never closed.
    pub close: Option<Span>,
}

/// The `# Label` text of a lane, trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneLabel<'a> {
    pub text: &'a str,
    /// Span of the whole `# Label`.
    pub span: Span,
    /// True when the label stood alone on the line after the header.
    pub own_line: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement<'a> {
    Node(NodeDecl<'a>),
    Edge(EdgeDecl<'a>),
    Loop(LoopDecl<'a>),
    Comment(Comment<'a>),
    /// A line that did not parse; its diagnostic was reported.
    Error(Span),
}

impl Statement<'_> {
    pub fn span(&self) -> Span {
        match self {
            Statement::Node(n) => n.span,
            Statement::Edge(e) => e.span,
            Statement::Loop(l) => l.span,
            Statement::Comment(c) => c.span,
            Statement::Error(s) => *s,
        }
    }
}

/// `n1: rectangle label:"Text" …`
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDecl<'a> {
    pub id: Ident<'a>,
    pub shape: Ident<'a>,
    pub attributes: Vec<Attribute<'a>>,
    pub span: Span,
}

/// `key:"value"` (or `key="value"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute<'a> {
    pub key: Ident<'a>,
    pub assign: Assign,
    pub value: Str<'a>,
    pub span: Span,
}

/// `[Lane.]nK.handle(dir) -> [Lane.]nM.handle(dir) [label="text"]`
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeDecl<'a> {
    pub source: Endpoint<'a>,
    pub target: Endpoint<'a>,
    pub label: Option<EdgeLabel<'a>>,
    pub span: Span,
}

/// One end of an edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint<'a> {
    pub node: NodeRef<'a>,
    /// The direction inside `.handle(…)`, or `None` for a bare `nK`.
    pub handle: Option<Ident<'a>>,
    pub span: Span,
}

/// `[Lane.]nK`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRef<'a> {
    pub lane: Option<Ident<'a>>,
    pub node: Ident<'a>,
    pub span: Span,
}

/// `[label="text"]` (or `[label:"text"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeLabel<'a> {
    pub assign: Assign,
    pub text: Str<'a>,
    pub span: Span,
}

/// `loop [condition] n1 n2 …`
#[derive(Debug, Clone, PartialEq)]
pub struct LoopDecl<'a> {
    pub condition: &'a str,
    pub condition_span: Span,
    pub nodes: Vec<NodeRef<'a>>,
    pub span: Span,
}

/// `// text`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment<'a> {
    /// The text after `//`, as written.
    pub text: &'a str,
    pub span: Span,
}
