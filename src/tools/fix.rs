//! `fz fix`: deterministic repairs of mechanical mistakes, made as text edits at the spans of
//! the syntax tree (so comments, blank lines and indentation survive), then checked again.
//!
//! Each repair answers one warning:
//! - W105: node ids renumbered `n1…nN` in declaration order, every reference updated (lane
//!   prefixes are left as written);
//! - W103: the lane prefix added to a cross-lane target;
//! - W104: a lane prefix naming the wrong lane (or none) replaced by the node's lane;
//! - W112: `.handle(…)` added to a bare edge end, from the two nodes' positions: in one lane,
//!   the earlier-declared node's right to the later one's left; across lanes, bottom to top
//!   when the target's lane is below the source's, top to bottom when it is above;
//! - W102: `[label:"x"]` written `[label="x"]`;
//! - W101: node attribute `key="x"` written `key:"x"`;
//! - W111: a missing lane display label taken from the lane id;
//! - W110: emoji and non-printable characters dropped from labels, attribute values and loop
//!   conditions (a tab becomes a space; spaces left doubled by a removal are collapsed).
//!
//! Repairs that need the resolved model (W103, W104, W105, W112) are made only on a diagram
//! without errors: on a broken one, the meaning of an id or a lane is not certain.

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;

use super::edit::{self, Edit};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{self, is_invisible_or_emoji, Checked, Diagram, Handle, NodeIx};
use crate::syntax::ast::{self, Assign, Item, Statement};
use crate::syntax::format::quote;
use crate::syntax::{self, Span};

/// One repair made, at its place in the original source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub code: Code,
    pub span: Span,
    pub message: String,
}

/// The outcome of [`fix`].
#[derive(Debug, Clone)]
pub struct Fixed {
    /// The repaired text (equal to the input when nothing was repaired).
    pub source: String,
    /// What was repaired, in source order.
    pub repairs: Vec<Repair>,
    /// Repairs not attempted, and why.
    pub notes: Vec<String>,
    /// The repaired text, checked: what remains to be fixed by hand.
    pub checked: Checked,
}

impl Fixed {
    pub fn changed(&self) -> bool {
        !self.repairs.is_empty()
    }
}

/// Why `fix` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixError {
    TooLarge(usize),
    /// The repairs would have damaged the diagram (a bug in fz); nothing is changed.
    Unsafe(String),
}

impl std::fmt::Display for FixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FixError::TooLarge(n) => write!(
                f,
                "the diagram is {n} bytes long; fz reads diagrams up to {} bytes",
                syntax::MAX_SOURCE_LEN
            ),
            FixError::Unsafe(why) => write!(
                f,
                "internal error: the repairs {why}; nothing is changed (please report this)"
            ),
        }
    }
}

/// Drop emoji and non-printable characters from `text` (see the module docs).
pub fn clean_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_invisible_or_emoji) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut dropped = false;
    for c in text.chars() {
        let c = if c.is_whitespace() && c.is_control() {
            ' '
        } else {
            c
        };
        if is_invisible_or_emoji(c) {
            dropped = true;
            continue;
        }
        if c == ' ' && dropped && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if c != ' ' {
            dropped = false;
        }
        out.push(c);
    }
    if dropped {
        while out.ends_with(' ') {
            out.pop();
        }
    }
    Cow::Owned(out)
}

/// The handles `fz fix` gives a bare edge from `s` to `t`.
pub fn default_handles(d: &Diagram, s: NodeIx, t: NodeIx) -> (Handle, Handle) {
    let (ls, lt) = (d.node(s).lane, d.node(t).lane);
    if d.lanes[ls].id == d.lanes[lt].id {
        if s.index() <= t.index() {
            (Handle::Right, Handle::Left)
        } else {
            (Handle::Left, Handle::Right)
        }
    } else if lt > ls {
        (Handle::Bottom, Handle::Top)
    } else {
        (Handle::Top, Handle::Bottom)
    }
}

/// Repair what can be repaired in `source`.
pub fn fix(source: &str) -> Result<Fixed, FixError> {
    if source.len() > syntax::MAX_SOURCE_LEN {
        return Err(FixError::TooLarge(source.len()));
    }
    let before = model::check(source);
    let parsed = syntax::parse(source);
    let mut f = Fixer::new(source, &before);
    for item in &parsed.file.items {
        match item {
            Item::Lane(lane) => {
                f.lane(lane);
                let container = Some(lane.id.text);
                for s in &lane.body {
                    f.statement(s, container);
                }
            }
            Item::Statement(s) => f.statement(s, None),
        }
    }
    f.finish_renumber_notes();
    let Fixer {
        edits,
        mut repairs,
        notes,
        ..
    } = f;
    let fixed = if edits.is_empty() {
        source.to_string()
    } else {
        edit::apply(source, &edits).map_err(|e| FixError::Unsafe(format!("overlap ({e:?})")))?
    };
    let checked = if edits.is_empty() {
        before.clone()
    } else {
        model::check(&fixed)
    };
    let (a, b) = (&before.diagram, &checked.diagram);
    if checked.error_count() > before.error_count()
        || a.lanes.len() != b.lanes.len()
        || a.node_count() != b.node_count()
        || a.edge_count() != b.edge_count()
        || a.loops.len() != b.loops.len()
    {
        return Err(FixError::Unsafe(
            "would have changed the diagram's structure".into(),
        ));
    }
    repairs.sort_by_key(|r| (r.span.start, r.code));
    Ok(Fixed {
        source: fixed,
        repairs,
        notes,
        checked,
    })
}

struct Fixer<'s> {
    source: &'s str,
    d: &'s Diagram,
    /// Whether the model-dependent repairs are made.
    resolved: bool,
    /// W105: new id of every node whose id changes.
    renumber: HashMap<&'s str, String>,
    /// References updated, by old id.
    references: HashMap<&'s str, usize>,
    /// Model edges by span: (source, target).
    edges: HashMap<Span, (NodeIx, NodeIx)>,
    edits: Vec<Edit>,
    repairs: Vec<Repair>,
    notes: Vec<String>,
}

impl<'s> Fixer<'s> {
    fn new(source: &'s str, before: &'s Checked) -> Self {
        let d = &before.diagram;
        let has = |c: Code| before.diagnostics.iter().any(|x| x.code == c);
        let resolved = !before.has_errors();
        let mut notes = Vec::new();
        if !resolved {
            let waiting: Vec<&str> = [
                Code::MissingLanePrefix,
                Code::WrongLanePrefix,
                Code::NodeNumbering,
                Code::MissingHandle,
            ]
            .into_iter()
            .filter(|&c| has(c))
            .map(Code::as_str)
            .collect();
            if !waiting.is_empty() {
                notes.push(format!(
                    "{} not repaired: the diagram has errors; fix them first, then run `fz fix` again",
                    waiting.join(", ")
                ));
            }
        }
        let mut renumber = HashMap::default();
        if resolved && has(Code::NodeNumbering) {
            for (k, (_, n)) in d.nodes().enumerate() {
                let new = format!("n{}", k + 1);
                if n.id != new {
                    renumber.insert(n.id.as_str(), new);
                }
            }
        }
        let edges = if resolved {
            d.edges().map(|(_, s, t, e)| (e.span, (s, t))).collect()
        } else {
            HashMap::default()
        };
        Fixer {
            source,
            d,
            resolved,
            renumber,
            references: HashMap::default(),
            edges,
            edits: Vec::new(),
            repairs: Vec::new(),
            notes,
        }
    }

    fn repair(&mut self, code: Code, span: Span, message: String) {
        self.repairs.push(Repair {
            code,
            span,
            message,
        });
    }

    fn slice(&self, span: Span) -> &'s str {
        self.source.get(span.range()).unwrap_or("")
    }

    fn lane(&mut self, lane: &ast::Lane<'_>) {
        let id = lane.id.text;
        match &lane.label {
            Some(l) if !l.text.is_empty() => {
                let cleaned = clean_text(l.text);
                if cleaned != l.text {
                    self.repair(
                        Code::InvisibleCharacter,
                        l.span,
                        format!("dropped emoji or non-printable characters from the display label of lane `{id}`"),
                    );
                    let text = if cleaned.is_empty() {
                        self.repair(
                            Code::LaneWithoutLabel,
                            l.span,
                            format!("gave lane `{id}` the display label `{id}`"),
                        );
                        id.to_string()
                    } else {
                        cleaned.into_owned()
                    };
                    self.edits.push(Edit::replace(l.span, format!("# {text}")));
                }
            }
            Some(l) => {
                self.repair(
                    Code::LaneWithoutLabel,
                    l.span,
                    format!("gave lane `{id}` the display label `{id}`"),
                );
                self.edits.push(Edit::replace(l.span, format!("# {id}")));
            }
            None => {
                self.repair(
                    Code::LaneWithoutLabel,
                    lane.header,
                    format!("gave lane `{id}` the display label `{id}`"),
                );
                self.edits
                    .push(Edit::insert(lane.header.end, format!(" # {id}")));
            }
        }
    }

    fn statement(&mut self, s: &Statement<'s>, container: Option<&str>) {
        match s {
            Statement::Node(n) => self.node(n),
            Statement::Edge(e) => self.edge(e, container),
            Statement::Loop(l) => self.loop_decl(l),
            Statement::Comment(_) | Statement::Error(_) => {}
        }
    }

    fn node(&mut self, n: &ast::NodeDecl<'s>) {
        if let Some(new) = self.renumber.get(n.id.text).cloned() {
            self.repair(
                Code::NodeNumbering,
                n.id.span,
                format!("renumbered node `{}` to `{new}`", n.id.text),
            );
            self.edits.push(Edit::replace(n.id.span, new));
        }
        for a in &n.attributes {
            let key = a.key.text;
            let cleaned = clean_text(&a.value.value);
            let dirty = cleaned != a.value.value;
            let equals = a.assign == Assign::Equals;
            if !(dirty || equals) {
                continue;
            }
            if equals {
                self.repair(
                    Code::AttributeEquals,
                    a.span,
                    format!(
                        "wrote `{key}=\"…\"` as `{key}:\"…\"` on node `{}`",
                        n.id.text
                    ),
                );
            }
            if dirty {
                self.repair(
                    Code::InvisibleCharacter,
                    a.value.span,
                    format!(
                        "dropped emoji or non-printable characters from `{key}` of node `{}`",
                        n.id.text
                    ),
                );
            }
            let value = if dirty {
                quote(&cleaned)
            } else {
                self.slice(a.value.span).to_string()
            };
            // Keep the text between key and value when only the value changes.
            let text = if equals {
                format!("{key}:{value}")
            } else {
                let between = self
                    .source
                    .get(a.key.span.end as usize..a.value.span.start as usize)
                    .unwrap_or(":");
                format!("{key}{between}{value}")
            };
            self.edits.push(Edit::replace(a.span, text));
        }
    }

    /// The node a reference names, when the model-dependent repairs are on.
    fn resolve(&self, r: &ast::NodeRef<'_>) -> Option<NodeIx> {
        if !self.resolved {
            return None;
        }
        self.d.node_index(r.node.text)
    }

    /// The new text of a `[Lane.]nK` reference (renumbered, prefix corrected or added, as
    /// due), recording the W103/W104 repairs, and whether it changed.
    fn node_ref(&mut self, r: &ast::NodeRef<'s>, add_prefix: Option<&str>) -> (String, bool) {
        let mut changed = false;
        let id = match self.renumber.get(r.node.text) {
            Some(new) => {
                *self.references.entry(r.node.text).or_default() += 1;
                changed = true;
                new.clone()
            }
            None => r.node.text.to_string(),
        };
        let mut prefix = r.lane.map(|l| l.text.to_string());
        if let (Some(p), Some(ix)) = (r.lane, self.resolve(r)) {
            let holder = self.d.lane_of(ix).id.clone();
            if p.text != holder {
                self.repair(
                    Code::WrongLanePrefix,
                    p.span,
                    format!(
                        "node `{}` is in lane `{holder}`: wrote `{holder}.` for `{}.`",
                        r.node.text, p.text
                    ),
                );
                prefix = Some(holder);
                changed = true;
            }
        }
        if let (None, Some(lane)) = (&prefix, add_prefix) {
            self.repair(
                Code::MissingLanePrefix,
                r.span,
                format!(
                    "added the lane prefix of cross-lane target `{}`: `{lane}.{}`",
                    r.node.text, r.node.text
                ),
            );
            prefix = Some(lane.to_string());
            changed = true;
        }
        let text = match prefix {
            Some(p) => format!("{p}.{id}"),
            None => id,
        };
        (text, changed)
    }

    fn edge(&mut self, e: &ast::EdgeDecl<'s>, container: Option<&str>) {
        let ends = self.edges.get(&e.span).copied();
        let handles = ends.map(|(s, t)| default_handles(self.d, s, t));
        // W103: an unprefixed cross-lane target, in an edge not standing in the target's lane.
        let missing_prefix = ends.and_then(|(s, t)| {
            let (ls, lt) = (&self.d.lane_of(s).id, &self.d.lane_of(t).id);
            (ls != lt && e.target.node.lane.is_none() && container != Some(lt.as_str()))
                .then(|| lt.clone())
        });
        let mut added = Vec::new();
        for (i, end) in [&e.source, &e.target].into_iter().enumerate() {
            let add_prefix = if i == 1 {
                missing_prefix.as_deref()
            } else {
                None
            };
            let (mut text, mut changed) = self.node_ref(&end.node, add_prefix);
            if let (None, Some((hs, ht))) = (end.handle, handles) {
                let h = if i == 0 { hs } else { ht };
                text.push_str(&format!(".handle({})", h.as_str()));
                added.push(format!("{}.handle({})", end.node.node.text, h.as_str()));
                changed = true;
            }
            if changed {
                self.edits.push(Edit::replace(end.node.span, text));
            }
        }
        if !added.is_empty() {
            self.repair(
                Code::MissingHandle,
                e.span,
                format!("added {}", added.join(" and ")),
            );
        }
        if let Some(l) = &e.label {
            let cleaned = clean_text(&l.text.value);
            let dirty = cleaned != l.text.value;
            let colon = l.assign == Assign::Colon;
            if colon {
                self.repair(
                    Code::EdgeLabelColon,
                    l.span,
                    "wrote `[label:\"…\"]` as `[label=\"…\"]`".to_string(),
                );
            }
            if dirty {
                self.repair(
                    Code::InvisibleCharacter,
                    l.text.span,
                    "dropped emoji or non-printable characters from an edge label".to_string(),
                );
            }
            if colon || dirty {
                let value = if dirty {
                    quote(&cleaned)
                } else {
                    self.slice(l.text.span).to_string()
                };
                self.edits
                    .push(Edit::replace(l.span, format!("[label={value}]")));
            }
        }
    }

    fn loop_decl(&mut self, l: &ast::LoopDecl<'s>) {
        let raw = self.slice(l.condition_span);
        let cleaned = clean_text(raw);
        if cleaned != raw {
            self.repair(
                Code::InvisibleCharacter,
                l.condition_span,
                "dropped emoji or non-printable characters from a loop condition".to_string(),
            );
            let text = cleaned.into_owned();
            self.edits.push(Edit::replace(l.condition_span, text));
        }
        for r in &l.nodes {
            let (text, changed) = self.node_ref(r, None);
            if changed {
                self.edits.push(Edit::replace(r.span, text));
            }
        }
    }

    fn finish_renumber_notes(&mut self) {
        let total: usize = self.references.values().sum();
        if total > 0 {
            if let Some(first) = self
                .repairs
                .iter()
                .filter(|r| r.code == Code::NodeNumbering)
                .map(|r| r.span)
                .min()
            {
                self.repair(
                    Code::NodeNumbering,
                    first,
                    format!("updated {total} reference(s) to renumbered nodes in edges and loops"),
                );
            }
        }
    }
}

/// The diagnostics `fix` answers, for documentation and tests.
pub const REPAIRED: [Code; 8] = [
    Code::AttributeEquals,
    Code::EdgeLabelColon,
    Code::MissingLanePrefix,
    Code::WrongLanePrefix,
    Code::NodeNumbering,
    Code::InvisibleCharacter,
    Code::LaneWithoutLabel,
    Code::MissingHandle,
];

/// Remaining diagnostics that `fix` would have answered (empty after a successful fix of a
/// diagram without errors).
pub fn unrepaired(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| REPAIRED.contains(&d.code))
        .collect()
}
