//! Lowering: resolve the AST into a [`Diagram`], reporting what has no clear meaning
//! (errors) and what is discouraged but clear (warnings).

use std::borrow::Cow;

use rustc_hash::FxHashSet as HashSet;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Assign, Item, Statement};
use crate::syntax::Event;
use crate::syntax::Span;

use super::diagram::*;
use super::lean::*;
use super::lint;

/// The attribute keys FlowZap knows.
pub const KNOWN_KEYS: [&str; 4] = ["label", "owner", "description", "system"];

/// Build the model from a parsed tree. The model is always built: declarations that
/// could not be resolved are left out and reported.
pub(crate) fn lower<'a>(file: &ast::SourceFile<'a>, diags: &mut Vec<Diagnostic>) -> Lean<'a> {
    let mut b = Builder::new(diags, true);
    for item in &file.items {
        match item {
            Item::Lane(lane) => {
                b.event(Event::LaneOpen {
                    id: lane.id,
                    label: lane.label,
                    header: lane.header,
                });
                for s in &lane.body {
                    b.event(Event::Statement(s.clone()));
                }
                b.event(Event::LaneClose(lane.close));
            }
            Item::Statement(s) => b.event(Event::Statement(s.clone())),
        }
    }
    b.finish()
}

/// Parse and build in one streaming pass: the tree is never held whole, which keeps memory
/// near the size of the model on very large diagrams. Returns the model; syntax and model
/// diagnostics are appended to `diags`. `keep_attributes` keeps the nodes' attributes in the
/// model (the diagram needs them; the diagnostics do not).
pub(crate) fn parse_and_lower<'a>(
    source: &'a str,
    keep_attributes: bool,
    diags: &mut Vec<Diagnostic>,
) -> Lean<'a> {
    let mut model_diags = Vec::new();
    let mut b = Builder::new(&mut model_diags, keep_attributes);
    let syntax = crate::syntax::parse_events(source, true, |e| b.event(e));
    let d = b.finish();
    diags.extend(syntax);
    diags.extend(model_diags);
    d
}

/// An edge naming a node not declared yet (edges may name nodes declared later): resolved at
/// the end. Edges whose ends are both declared (the common case) are resolved at once.
struct Deferred<'a> {
    /// Index in the model's edges.
    edge: usize,
    refs: Box<(ast::NodeRef<'a>, ast::NodeRef<'a>)>,
    container: Option<LaneIx>,
    /// Span of the target reference when it has no lane prefix.
    unprefixed_target: Option<Span>,
    /// The label's text and span, checked once the edge is resolved.
    label: Option<(Cow<'a, str>, Span)>,
}

struct PendingLoop<'a> {
    refs: Vec<ast::NodeRef<'a>>,
    condition: &'a str,
    lane: Option<LaneIx>,
    span: Span,
}

struct Builder<'d, 'a> {
    m: Lean<'a>,
    keep_attributes: bool,
    diags: &'d mut Vec<Diagnostic>,
    /// Node ids declared outside every lane (already reported; do not report their uses).
    misplaced: HashSet<&'a str>,
    lane_headers: Vec<Span>,
    /// The lane being read.
    current: Option<LaneIx>,
    deferred: Vec<Deferred<'a>>,
    loops: Vec<PendingLoop<'a>>,
    /// Scratch: indices of the attributes of the node being read that are kept.
    kept: Vec<usize>,
}

impl<'d, 'a> Builder<'d, 'a> {
    fn new(diags: &'d mut Vec<Diagnostic>, keep_attributes: bool) -> Self {
        Builder {
            m: Lean::default(),
            keep_attributes,
            diags,
            misplaced: HashSet::default(),
            lane_headers: Vec::new(),
            current: None,
            deferred: Vec::new(),
            loops: Vec::new(),
            kept: Vec::new(),
        }
    }

    fn event(&mut self, e: Event<'a>) {
        match e {
            Event::LaneOpen { id, label, header } => self.lane(id, label, header),
            Event::LaneLabel(l) => {
                if let Some(lane) = self.current.and_then(|ix| self.m.lanes.get_mut(ix)) {
                    lane.label = Some(l.text).filter(|t| !t.is_empty());
                }
            }
            Event::LaneClose(_) => self.current = None,
            Event::Statement(s) => match s {
                Statement::Node(n) => match self.current {
                    Some(lane) => self.node(&n, lane),
                    None => {
                        self.misplaced.insert(n.id.text);
                        self.diags.push(
                            Diagnostic::new(
                                Code::NodeOutsideLane,
                                n.id.span,
                                format!("node `{}` is declared outside every lane", n.id.text),
                            )
                            .with_help("move this line inside a lane (`LaneId { … }`)"),
                        );
                    }
                },
                Statement::Edge(e) => self.edge(e),
                Statement::Loop(l) => self.loops.push(PendingLoop {
                    refs: l.nodes,
                    condition: l.condition,
                    lane: self.current,
                    span: l.span,
                }),
                Statement::Comment(_) | Statement::Error(_) => {}
            },
        }
    }

    fn lane(&mut self, id: ast::Ident<'a>, label: Option<ast::LaneLabel<'a>>, header: Span) {
        let ix = self.m.lanes.len();
        let mut canon = ix as u32;
        if let Some(&first) = self.m.lane_by_id.get(id.text) {
            canon = first;
            let first = first as usize;
            self.diags.push(
                Diagnostic::new(
                    Code::DuplicateLane,
                    id.span,
                    format!("lane `{}` is declared twice", id.text),
                )
                .with_label(self.lane_headers[first], "first declared here")
                .with_help("rename one of the lanes, or merge their contents into one"),
            );
        } else {
            self.m.lane_by_id.insert(id.text, ix as u32);
        }
        self.m.lanes.push(LLane {
            id: id.text,
            label: label.map(|l| l.text).filter(|l| !l.is_empty()),
            span: header,
            canon,
        });
        self.lane_headers.push(header);
        self.current = Some(ix);
    }

    fn node(&mut self, n: &ast::NodeDecl<'a>, lane: LaneIx) {
        let shape = match Shape::parse(n.shape.text) {
            Some(s) => s,
            None => {
                let help =
                    match closest(n.shape.text, &["circle", "rectangle", "diamond", "taskbox"]) {
                        Some(s) => format!(
                            "did you mean `{s}`? shapes are circle, rectangle, diamond and taskbox"
                        ),
                        None => "shapes are circle, rectangle, diamond and taskbox".to_string(),
                    };
                self.diags.push(
                    Diagnostic::new(
                        Code::UnknownShape,
                        n.shape.span,
                        format!("unknown shape `{}`", n.shape.text),
                    )
                    .with_help(help),
                );
                Shape::Rectangle
            }
        };
        self.kept.clear();
        let mut seen_keys: rustc_hash::FxHashMap<&str, usize> = Default::default();
        for (i, a) in n.attributes.iter().enumerate() {
            if a.assign == Assign::Equals {
                self.diags.push(
                    Diagnostic::new(
                        Code::AttributeEquals,
                        a.span,
                        format!("node attribute `{}` is written with `=`", a.key.text),
                    )
                    .with_help(format!(
                        "write `{}:\"…\"`: node attributes use `:`",
                        a.key.text
                    )),
                );
            }
            if !KNOWN_KEYS.contains(&a.key.text) {
                let help = match closest(a.key.text, &KNOWN_KEYS) {
                    Some(k) => format!(
                        "did you mean `{k}`? known keys are label, owner, description and system"
                    ),
                    None => "known keys are label, owner, description and system".to_string(),
                };
                self.diags.push(
                    Diagnostic::new(
                        Code::UnknownAttribute,
                        a.key.span,
                        format!("unknown attribute `{}`", a.key.text),
                    )
                    .with_help(help),
                );
            }
            // Linear scan for the usual handful of attributes; a map for adversarial lines.
            let seen = if n.attributes.len() <= 16 {
                self.kept
                    .iter()
                    .position(|&k| n.attributes[k].key.text == a.key.text)
            } else {
                seen_keys.get(a.key.text).copied()
            };
            if let Some(first) = seen.map(|k| &n.attributes[self.kept[k]]) {
                self.diags.push(
                    Diagnostic::new(
                        Code::DuplicateAttribute,
                        a.span,
                        format!(
                            "attribute `{}` is given twice; the first one is used",
                            a.key.text
                        ),
                    )
                    .with_label(first.span, "first given here")
                    .with_help("remove one of them"),
                );
                continue;
            }
            if n.attributes.len() > 16 {
                seen_keys.insert(a.key.text, self.kept.len());
            }
            self.kept.push(i);
        }
        if let Some(first) = self.m.node_by_id.get(n.id.text) {
            self.diags.push(
                Diagnostic::new(
                    Code::DuplicateNode,
                    n.id.span,
                    format!("node id `{}` is declared twice", n.id.text),
                )
                .with_label(self.id_span(first), "first declared here")
                .with_help("node ids are unique across the whole diagram: give this node a new id"),
            );
            return;
        }
        let ix = NodeIx::new(self.m.nodes.len());
        let first_attr = self.m.attrs.len() as u32;
        if self.keep_attributes {
            self.m.attrs.extend(self.kept.iter().map(|&k| {
                let a = &n.attributes[k];
                LAttr {
                    key: a.key.text,
                    value: a.value.value.clone(),
                    span: a.span,
                }
            }));
        }
        self.m.nodes.push(LNode {
            id: n.id.text,
            lane: lane as u32,
            shape,
            span: n.span,
            first_attr,
            attr_count: if self.keep_attributes {
                self.kept.len() as u32
            } else {
                0
            },
        });
        self.m.touched.push(false);
        let count = self.m.nodes.len();
        self.m.node_by_id.insert(n.id.text, ix, count);
        // The text checks on the node's attributes (lint.rs has the rest of them), done here
        // so that the model need not keep the attributes.
        let mut labelled = false;
        let mut described = false;
        for &k in &self.kept {
            let a = &n.attributes[k];
            lint::invisible(&a.value.value, a.span, self.diags);
            match a.key.text {
                "label" => {
                    labelled = true;
                    lint::too_long(&a.value.value, a.span, self.diags);
                }
                "description" => described = true,
                _ => {}
            }
        }
        if !(labelled || (described && shape == Shape::Taskbox)) {
            self.diags.push(
                Diagnostic::new(
                    Code::EmptyLabel,
                    n.span,
                    format!("node `{}` has no label", n.id.text),
                )
                .with_help(format!("add `label:\"…\"` to `{}`", n.id.text)),
            );
        }
    }

    /// Span of a node's id: a node's declaration starts with its id.
    fn id_span(&self, ix: NodeIx) -> Span {
        let n = &self.m.nodes[ix.index()];
        Span {
            start: n.span.start,
            end: n.span.start + n.id.len() as u32,
        }
    }

    fn handle(&mut self, end: &ast::Endpoint<'_>) -> Option<Handle> {
        let h = end.handle?;
        match Handle::parse(h.text) {
            Some(h) => Some(h),
            None => {
                let help = match closest(h.text, &["left", "right", "top", "bottom"]) {
                    Some(s) => {
                        format!("did you mean `{s}`? a handle is left, right, top or bottom")
                    }
                    None => "a handle is left, right, top or bottom".to_string(),
                };
                self.diags.push(
                    Diagnostic::new(
                        Code::BadHandle,
                        h.span,
                        format!("`{}` is not a handle direction", h.text),
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    /// Read an edge: report what can be reported now, resolve its ends if both are declared.
    fn edge(&mut self, e: ast::EdgeDecl<'a>) {
        let source_handle = self.handle(&e.source);
        let target_handle = self.handle(&e.target);
        for end in [&e.source, &e.target] {
            if end.handle.is_none() {
                self.diags.push(
                    Diagnostic::new(
                        Code::MissingHandle,
                        end.span,
                        format!("edge end `{}` has no `.handle(…)`", end.node.node.text),
                    )
                    .with_help(format!(
                        "write `{}.handle(right)` (or left, top, bottom): FlowZap draws edges from handles; `fz fix` can add them",
                        end.node.node.text
                    )),
                );
            }
        }
        if let Some(l) = &e.label {
            if l.assign == Assign::Colon {
                self.diags.push(
                    Diagnostic::new(
                        Code::EdgeLabelColon,
                        l.span,
                        "edge label is written `label:\"…\"`",
                    )
                    .with_help("write `[label=\"…\"]`: edge labels use `=`"),
                );
            }
        }
        let container = self.current;
        let unprefixed_target = e.target.node.lane.is_none().then_some(e.target.node.span);
        let label = e.label.map(|l| (l.text.value, l.text.span));
        let index = self.m.edges.len();
        if self.keep_attributes {
            self.m.edge_data.push(LEdgeData {
                source_handle,
                target_handle,
                label: label.as_ref().map(|(text, _)| text.clone()),
                label_span: label.as_ref().map_or(Span::default(), |(_, span)| *span),
            });
        }
        let mut edge = LEdge {
            s: UNRESOLVED,
            t: UNRESOLVED,
            cross_lane: false,
            span: e.span,
        };
        match (
            self.m.node_by_id.get(e.source.node.node.text),
            self.m.node_by_id.get(e.target.node.node.text),
        ) {
            (Some(s), Some(t)) => {
                self.check_prefix(&e.source.node, s);
                self.check_prefix(&e.target.node, t);
                edge.cross_lane = self.link(s, t, container, unprefixed_target);
                edge.s = s.index() as u32;
                edge.t = t.index() as u32;
                if let Some((text, span)) = &label {
                    self.label_text(text, *span);
                }
            }
            _ => self.deferred.push(Deferred {
                edge: index,
                refs: Box::new((e.source.node, e.target.node)),
                container,
                unprefixed_target,
                label,
            }),
        }
        self.m.edges.push(edge);
    }

    /// The text checks on the label of an edge that is in the model (lint.rs has the rest).
    fn label_text(&mut self, text: &str, span: Span) {
        lint::invisible(text, span, self.diags);
        lint::too_long(text, span, self.diags);
    }

    /// An edge from `s` to `t` is in the model: mark its ends, report a cross-lane target
    /// without a lane prefix (W-code `MissingLanePrefix`), and return whether it crosses lanes.
    fn link(
        &mut self,
        s: NodeIx,
        t: NodeIx,
        container: Option<LaneIx>,
        unprefixed_target: Option<Span>,
    ) -> bool {
        let (s, t) = (s.index(), t.index());
        self.m.touched[s] = true;
        self.m.touched[t] = true;
        let (sl, tl) = (self.m.nodes[s].lane as usize, self.m.nodes[t].lane as usize);
        let cross_lane = self.m.lanes[sl].canon != self.m.lanes[tl].canon;
        if let (true, Some(span), false) = (cross_lane, unprefixed_target, container == Some(tl)) {
            let lane = self.m.lanes[tl].id;
            let id = self.m.nodes[t].id;
            let d = Diagnostic::new(
                Code::MissingLanePrefix,
                span,
                format!(
                    "the target `{id}` is in lane `{lane}`, another lane than this edge's source"
                ),
            )
            .with_help(format!("write `{lane}.{id}`"));
            self.diags.push(d);
        }
        cross_lane
    }

    /// Resolve a `[Lane.]nK` reference to a node declared anywhere in the file.
    fn resolve(&mut self, r: &ast::NodeRef<'_>, what: &str) -> Option<NodeIx> {
        let Some(ix) = self.m.node_by_id.get(r.node.text) else {
            if !self.misplaced.contains(r.node.text) {
                let mut d = Diagnostic::new(
                    Code::UndeclaredNode,
                    r.node.span,
                    format!(
                        "{what} names node `{}`, which is never declared",
                        r.node.text
                    ),
                );
                let ids: Vec<&str> = if self.m.nodes.len() <= 10_000 {
                    self.m.nodes.iter().map(|n| n.id).collect()
                } else {
                    Vec::new()
                };
                d = match closest(r.node.text, &ids) {
                    Some(s) => d.with_help(format!(
                        "did you mean `{s}`? or declare `{}: rectangle label:\"…\"` in a lane",
                        r.node.text
                    )),
                    None => d.with_help(format!(
                        "declare it in a lane, e.g. `{}: rectangle label:\"…\"`",
                        r.node.text
                    )),
                };
                self.diags.push(d);
            }
            return None;
        };
        self.check_prefix(r, ix);
        Some(ix)
    }

    /// W104: a lane prefix naming another lane than the node's, or no lane at all.
    fn check_prefix(&mut self, r: &ast::NodeRef<'_>, ix: NodeIx) {
        let Some(prefix) = r.lane else { return };
        let holder = self.m.lane_id(ix.index() as u32);
        if prefix.text == holder {
            return;
        }
        let message = if self.m.lane_by_id.contains_key(prefix.text) {
            format!(
                "node `{}` is in lane `{holder}`, not in lane `{}`",
                r.node.text, prefix.text
            )
        } else {
            format!(
                "lane prefix `{}` names no lane; node `{}` is in lane `{holder}`",
                prefix.text, r.node.text
            )
        };
        let help = format!("write `{holder}.{}`", r.node.text);
        self.diags
            .push(Diagnostic::new(Code::WrongLanePrefix, prefix.span, message).with_help(help));
    }

    /// Resolve the deferred edges (in source order; those with an undeclared end are left
    /// out) and the loops.
    fn finish(mut self) -> Lean<'a> {
        let deferred = std::mem::take(&mut self.deferred);
        let mut dropped = false;
        for p in deferred {
            let s = self.resolve(&p.refs.0, "this edge");
            let t = self.resolve(&p.refs.1, "this edge");
            match (s, t) {
                (Some(s), Some(t)) => {
                    let cross_lane = self.link(s, t, p.container, p.unprefixed_target);
                    let e = &mut self.m.edges[p.edge];
                    e.s = s.index() as u32;
                    e.t = t.index() as u32;
                    e.cross_lane = cross_lane;
                    if let Some((text, span)) = &p.label {
                        self.label_text(text, *span);
                    }
                }
                _ => dropped = true,
            }
        }
        if dropped {
            let alive: Vec<bool> = self.m.edges.iter().map(|e| e.s != UNRESOLVED).collect();
            let mut i = 0;
            self.m.edges.retain(|_| {
                i += 1;
                alive[i - 1]
            });
            if !self.m.edge_data.is_empty() {
                let mut i = 0;
                self.m.edge_data.retain(|_| {
                    i += 1;
                    alive[i - 1]
                });
            }
        }
        for l in std::mem::take(&mut self.loops) {
            let nodes = l
                .refs
                .iter()
                .filter_map(|r| self.resolve(r, "this loop"))
                .map(|ix| ix.index() as u32)
                .collect();
            self.m.loops.push(LLoop {
                condition: l.condition,
                nodes,
                lane: l.lane.map(|x| x as u32),
                span: l.span,
            });
        }
        self.m
    }
}

/// The candidate closest to `word` by edit distance, when close enough to be a likely typo.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    // Bounded work on adversarial input: no suggestions for huge words or huge id sets.
    if candidates.len() > 10_000 || word.len() > 64 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
