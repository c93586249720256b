//! Lowering: resolve the AST into a [`Diagram`], reporting what has no clear meaning
//! (errors) and what is discouraged but clear (warnings).

use rustc_hash::FxHashSet as HashSet;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Assign, Item, Statement};
use crate::syntax::Event;
use crate::syntax::Span;

use super::diagram::*;

/// The attribute keys FlowZap knows.
pub const KNOWN_KEYS: [&str; 4] = ["label", "owner", "description", "system"];

/// Build the diagram from a parsed tree. The diagram is always built: declarations that
/// could not be resolved are left out and reported.
pub fn lower(file: &ast::SourceFile<'_>, diags: &mut Vec<Diagnostic>) -> Diagram {
    let mut b = Builder::new(diags);
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
/// near the size of the model on very large diagrams. Returns the diagram; syntax and model
/// diagnostics are appended to `diags`.
pub fn parse_and_lower(source: &str, diags: &mut Vec<Diagnostic>) -> Diagram {
    let mut model_diags = Vec::new();
    let mut b = Builder::new(&mut model_diags);
    let syntax = crate::syntax::parse_events(source, true, |e| b.event(e));
    let d = b.finish();
    diags.extend(syntax);
    diags.extend(model_diags);
    d
}

/// An edge read but not yet added to the graph (edges may name nodes declared later).
struct PendingEdge<'a> {
    ends: Ends<'a>,
    container: Option<LaneIx>,
    /// Span of the target reference when it has no lane prefix.
    unprefixed_target: Option<Span>,
    edge: Edge,
}

enum Ends<'a> {
    /// Both nodes were declared already (the common case): resolved at once.
    Resolved(NodeIx, NodeIx),
    /// At least one end names a node not declared yet.
    Deferred(Box<(ast::NodeRef<'a>, ast::NodeRef<'a>)>),
}

struct PendingLoop<'a> {
    refs: Vec<ast::NodeRef<'a>>,
    condition: String,
    lane: Option<LaneIx>,
    span: Span,
}

struct Builder<'d, 'a> {
    d: Diagram,
    diags: &'d mut Vec<Diagnostic>,
    /// Node ids declared outside every lane (already reported; do not report their uses).
    misplaced: HashSet<&'a str>,
    /// Span of each node's id, by node index (for the duplicate error's label).
    node_id_spans: Vec<Span>,
    lane_headers: Vec<Span>,
    /// The lane being read.
    current: Option<LaneIx>,
    edges: Vec<PendingEdge<'a>>,
    loops: Vec<PendingLoop<'a>>,
}

impl<'d, 'a> Builder<'d, 'a> {
    fn new(diags: &'d mut Vec<Diagnostic>) -> Self {
        Builder {
            d: Diagram::default(),
            diags,
            misplaced: HashSet::default(),
            node_id_spans: Vec::new(),
            lane_headers: Vec::new(),
            current: None,
            edges: Vec::new(),
            loops: Vec::new(),
        }
    }

    fn event(&mut self, e: Event<'a>) {
        match e {
            Event::LaneOpen { id, label, header } => self.lane(id, label, header),
            Event::LaneLabel(l) => {
                if let Some(lane) = self.current.and_then(|ix| self.d.lanes.get_mut(ix)) {
                    lane.label = Some(l.text.to_string()).filter(|t| !t.is_empty());
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
                    condition: l.condition.to_string(),
                    lane: self.current,
                    span: l.span,
                }),
                Statement::Comment(_) | Statement::Error(_) => {}
            },
        }
    }

    fn lane(&mut self, id: ast::Ident<'a>, label: Option<ast::LaneLabel<'a>>, header: Span) {
        let ix = self.d.lanes.len();
        if let Some(&first) = self.d.lane_by_id.get(id.text) {
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
            self.d.lane_by_id.insert(id.text.to_string(), ix);
        }
        self.d.lanes.push(Lane {
            id: id.text.to_string(),
            label: label.map(|l| l.text.to_string()).filter(|l| !l.is_empty()),
            span: header,
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
        let mut attributes: Vec<Attribute> = Vec::with_capacity(n.attributes.len());
        let mut seen_keys: rustc_hash::FxHashMap<&str, usize> = Default::default();
        for a in &n.attributes {
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
                attributes.iter().position(|x| x.key == a.key.text)
            } else {
                seen_keys.get(a.key.text).copied()
            };
            if let Some(first) = seen.map(|i| &attributes[i]) {
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
                seen_keys.insert(a.key.text, attributes.len());
            }
            attributes.push(Attribute {
                key: a.key.text.to_string(),
                value: a.value.value.to_string(),
                span: a.span,
            });
        }
        if let Some(first) = self.d.node_by_id.get(n.id.text) {
            self.diags.push(
                Diagnostic::new(
                    Code::DuplicateNode,
                    n.id.span,
                    format!("node id `{}` is declared twice", n.id.text),
                )
                .with_label(self.node_id_spans[first.index()], "first declared here")
                .with_help("node ids are unique across the whole diagram: give this node a new id"),
            );
            return;
        }
        let ix = self.d.graph.add_node(Node {
            id: n.id.text.to_string(),
            lane,
            shape,
            attributes,
            span: n.span,
        });
        let count = self.d.graph.node_count();
        self.d.node_by_id.insert(n.id.text, ix, count);
        self.node_id_spans.push(n.id.span);
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
        let ends = match (
            self.d.node_index(e.source.node.node.text),
            self.d.node_index(e.target.node.node.text),
        ) {
            (Some(s), Some(t)) => {
                self.check_prefix(&e.source.node, s);
                self.check_prefix(&e.target.node, t);
                Ends::Resolved(s, t)
            }
            _ => Ends::Deferred(Box::new((e.source.node, e.target.node))),
        };
        let ordinal = self.edges.len();
        self.edges.push(PendingEdge {
            ends,
            container: self.current,
            unprefixed_target: e.target.node.lane.is_none().then_some(e.target.node.span),
            edge: Edge {
                ordinal,
                source_handle,
                target_handle,
                label: e.label.as_ref().map(|l| l.text.value.to_string()),
                label_span: e.label.as_ref().map(|l| l.text.span),
                cross_lane: false,
                span: e.span,
            },
        });
    }

    /// Resolve a `[Lane.]nK` reference to a node declared anywhere in the file.
    fn resolve(&mut self, r: &ast::NodeRef<'_>, what: &str) -> Option<NodeIx> {
        let Some(ix) = self.d.node_index(r.node.text) else {
            if !self.misplaced.contains(r.node.text) {
                let mut d = Diagnostic::new(
                    Code::UndeclaredNode,
                    r.node.span,
                    format!(
                        "{what} names node `{}`, which is never declared",
                        r.node.text
                    ),
                );
                let ids: Vec<&str> = if self.d.node_count() <= 10_000 {
                    self.d.nodes().map(|(_, n)| n.id.as_str()).collect()
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
        let holder = &self.d.lanes[self.d.graph[ix].lane].id;
        if prefix.text == holder {
            return;
        }
        let message = if self.d.lane_index(prefix.text).is_some() {
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

    /// Add the edges in source order (deferred ends resolved now) and the loops.
    fn finish(mut self) -> Diagram {
        let pending = std::mem::take(&mut self.edges);
        self.d.graph.reserve_edges(pending.len());
        for p in pending {
            let (s, t) = match p.ends {
                Ends::Resolved(s, t) => (s, t),
                Ends::Deferred(refs) => {
                    let s = self.resolve(&refs.0, "this edge");
                    let t = self.resolve(&refs.1, "this edge");
                    match (s, t) {
                        (Some(s), Some(t)) => (s, t),
                        _ => continue,
                    }
                }
            };
            let (sl, tl) = (self.d.graph[s].lane, self.d.graph[t].lane);
            let cross_lane = self.d.lanes[sl].id != self.d.lanes[tl].id;
            if let (true, Some(span), false) =
                (cross_lane, p.unprefixed_target, p.container == Some(tl))
            {
                let lane = &self.d.lanes[tl].id;
                let id = &self.d.graph[t].id;
                let d = Diagnostic::new(
                    Code::MissingLanePrefix,
                    span,
                    format!("the target `{id}` is in lane `{lane}`, another lane than this edge's source"),
                )
                .with_help(format!("write `{lane}.{id}`"));
                self.diags.push(d);
            }
            let mut edge = p.edge;
            edge.ordinal = self.d.graph.edge_count();
            edge.cross_lane = cross_lane;
            self.d.graph.add_edge(s, t, edge);
        }
        for l in std::mem::take(&mut self.loops) {
            let nodes = l
                .refs
                .iter()
                .filter_map(|r| self.resolve(r, "this loop"))
                .collect();
            self.d.loops.push(Loop {
                condition: l.condition,
                nodes,
                lane: l.lane,
                span: l.span,
            });
        }
        self.d
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
