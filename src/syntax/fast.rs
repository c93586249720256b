//! The fast path: a byte scanner for the two statements that make up nearly every line of a
//! large diagram, canonical node declarations and edges.
//!
//! The pest grammar (`grammar/flowzap.pest`) is the definition of the language and parses
//! every other line, and every line this scanner declines. The scanner accepts only lines the
//! grammar accepts and builds exactly the AST the grammar's parse builds, spans included; the
//! property test `fast_path_agrees_with_grammar` in `tests/parser_props.rs` holds it to that
//! on generated and mutated lines. It exists for speed only: pest spends several microseconds
//! a line, which caps throughput near 20 MB/s; this runs at several hundred.

use std::borrow::Cow;

use super::ast::*;
use super::Span;

/// Bit 1: may start an identifier (`A-Za-z_`); bit 2: may continue one (also `0-9` and `-`).
static IDENT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            t[c] = 3;
        } else if b.is_ascii_digit() || b == b'-' {
            t[c] = 2;
        }
        c += 1;
    }
    t
};

struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.base + start, self.base + end)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<Ident<'a>> {
        let start = self.i;
        match self.peek() {
            Some(c) if IDENT[c as usize] & 1 != 0 => self.i += 1,
            _ => return None,
        }
        while matches!(self.peek(), Some(c) if IDENT[c as usize] & 2 != 0) {
            self.i += 1;
        }
        Some(Ident {
            text: &self.s[start..self.i],
            span: self.span(start, self.i),
        })
    }

    /// A string without escapes (`\` makes the scanner decline, leaving it to pest).
    fn string(&mut self) -> Option<Str<'a>> {
        let start = self.i;
        if !self.eat(b"\"") {
            return None;
        }
        let body_start = self.i;
        // Lines hold no `\n`; the first of `"`, `\` and `\r` ends a plain string, or declines.
        self.i += memchr::memchr3(b'"', b'\\', b'\r', &self.b[self.i..])?;
        if self.b[self.i] != b'"' {
            return None;
        }
        let body = &self.s[body_start..self.i];
        self.i += 1;
        Some(Str {
            value: Cow::Borrowed(body),
            span: self.span(start, self.i),
        })
    }

    fn assign(&mut self) -> Option<Assign> {
        match self.peek()? {
            b':' => {
                self.i += 1;
                Some(Assign::Colon)
            }
            b'=' => {
                self.i += 1;
                Some(Assign::Equals)
            }
            _ => None,
        }
    }

    fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    /// `[Lane.]node[.handle(dir)]`
    fn endpoint(&mut self) -> Option<Endpoint<'a>> {
        let start = self.i;
        let first = self.ident()?;
        let mut lane = None;
        let mut node = first;
        // `first.second` where `second` is not followed by `(`: a lane prefix.
        if self.peek() == Some(b'.') {
            let save = self.i;
            self.i += 1;
            match self.ident() {
                Some(second) => {
                    let mut j = self.i;
                    while matches!(self.b.get(j), Some(b' ' | b'\t')) {
                        j += 1;
                    }
                    if self.b.get(j) == Some(&b'(') {
                        self.i = save;
                    } else {
                        lane = Some(first);
                        node = second;
                    }
                }
                None => self.i = save,
            }
        }
        let node_ref = NodeRef {
            lane,
            node,
            span: self.span(start, self.i),
        };
        let mut handle = None;
        if self.b[self.i..].starts_with(b".handle") {
            self.i += b".handle".len();
            self.ws();
            if !self.eat(b"(") {
                return None;
            }
            self.ws();
            let dir = self.ident()?;
            self.ws();
            if !self.eat(b")") {
                return None;
            }
            handle = Some(dir);
        }
        Some(Endpoint {
            node: node_ref,
            handle,
            span: self.span(start, self.i),
        })
    }
}

/// Parse `line` (no line end) as a node or an edge, or decline with `None`.
pub(super) fn statement(line: &str, base: usize) -> Option<Statement<'_>> {
    let mut c = Cursor {
        s: line,
        b: line.as_bytes(),
        i: 0,
        base,
    };
    c.ws();
    let start = c.i;
    // A node: `id ws : ws shape (WS attr)*`
    let id = c.ident()?;
    let after_id = c.i;
    c.ws();
    if c.eat(b":") {
        c.ws();
        let shape = c.ident()?;
        let mut attributes = Vec::new();
        let mut end = c.i;
        loop {
            let before = c.i;
            c.ws();
            if c.i == before || c.i == c.b.len() {
                break;
            }
            let a_start = c.i;
            let key = c.ident()?;
            c.ws();
            let assign = c.assign()?;
            c.ws();
            let value = c.string()?;
            attributes.push(Attribute {
                key,
                assign,
                value,
                span: c.span(a_start, c.i),
            });
            end = c.i;
        }
        if !c.at_end() {
            return None;
        }
        return Some(Statement::Node(NodeDecl {
            id,
            shape,
            attributes,
            span: c.span(start, end),
        }));
    }
    // An edge: `endpoint ws -> ws endpoint (ws label)?`
    c.i = start;
    let _ = after_id;
    let source = c.endpoint()?;
    c.ws();
    if !c.eat(b"->") {
        return None;
    }
    c.ws();
    let target = c.endpoint()?;
    let mut end = c.i;
    c.ws();
    let mut label = None;
    if c.peek() == Some(b'[') {
        let l_start = c.i;
        c.i += 1;
        c.ws();
        if !c.eat(b"label") {
            return None;
        }
        c.ws();
        let assign = c.assign()?;
        c.ws();
        let text = c.string()?;
        c.ws();
        if !c.eat(b"]") {
            return None;
        }
        end = c.i;
        label = Some(EdgeLabel {
            assign,
            text,
            span: c.span(l_start, c.i),
        });
    }
    if !c.at_end() {
        return None;
    }
    Some(Statement::Edge(EdgeDecl {
        source,
        target,
        label,
        span: c.span(start, end),
    }))
}
