//! Lowering: resolve the AST into a [`Diagram`], reporting what has no clear meaning
//! (errors) and what is discouraged but clear (warnings).

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Assign, Item, Statement};
use crate::syntax::Span;

use super::diagram::*;

/// The attribute keys FlowZap knows.
pub const KNOWN_KEYS: [&str; 4] = ["label", "owner", "description", "system"];

/// Build the diagram from a parsed file. The diagram is always built: declarations that
/// could not be resolved are left out and reported.
pub fn lower(file: &ast::SourceFile<'_>, diags: &mut Vec<Diagnostic>) -> Diagram {
    let mut b = Builder {
        d: Diagram::default(),
        diags,
        misplaced: HashSet::new(),
        node_spans: HashMap::new(),
        lane_headers: Vec::new(),
    };
    b.declare(file);
    b.connect(file);
    b.d
}

struct Builder<'d> {
    d: Diagram,
    diags: &'d mut Vec<Diagnostic>,
    /// Node ids declared outside every lane (already reported; do not report their uses).
    misplaced: HashSet<String>,
    /// Where each node id was first declared (for the duplicate error's label).
    node_spans: HashMap<NodeIx, Span>,
    lane_headers: Vec<Span>,
}

impl Builder<'_> {
    /// Pass 1: lanes and nodes (edges may name nodes declared later in the file).
    fn declare(&mut self, file: &ast::SourceFile<'_>) {
        for item in &file.items {
            match item {
                Item::Lane(lane) => {
                    let ix = self.d.lanes.len();
                    if let Some(&first) = self.d.lane_by_id.get(lane.id.text) {
                        self.diags.push(
                            Diagnostic::new(
                                Code::DuplicateLane,
                                lane.id.span,
                                format!("lane `{}` is declared twice", lane.id.text),
                            )
                            .with_label(self.lane_headers[first], "first declared here")
                            .with_help("rename one of the lanes, or merge their contents into one"),
                        );
                    } else {
                        self.d.lane_by_id.insert(lane.id.text.to_string(), ix);
                    }
                    self.d.lanes.push(Lane {
                        id: lane.id.text.to_string(),
                        label: lane
                            .label
                            .map(|l| l.text.to_string())
                            .filter(|l| !l.is_empty()),
                        span: lane.header,
                    });
                    self.lane_headers.push(lane.header);
                    for s in &lane.body {
                        if let Statement::Node(n) = s {
                            self.node(n, ix);
                        }
                    }
                }
                Item::Statement(Statement::Node(n)) => {
                    self.misplaced.insert(n.id.text.to_string());
                    self.diags.push(
                        Diagnostic::new(
                            Code::NodeOutsideLane,
                            n.id.span,
                            format!("node `{}` is declared outside every lane", n.id.text),
                        )
                        .with_help("move this line inside a lane (`LaneId { … }`)"),
                    );
                }
                Item::Statement(_) => {}
            }
        }
    }

    fn node(&mut self, n: &ast::NodeDecl<'_>, lane: LaneIx) {
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
            if let Some(first) = attributes.iter().find(|x| x.key == a.key.text) {
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
            attributes.push(Attribute {
                key: a.key.text.to_string(),
                value: a.value.value.to_string(),
                span: a.span,
            });
        }
        if let Some(&first) = self.d.node_by_id.get(n.id.text) {
            let first_span = self.node_spans[&first];
            self.diags.push(
                Diagnostic::new(
                    Code::DuplicateNode,
                    n.id.span,
                    format!("node id `{}` is declared twice", n.id.text),
                )
                .with_label(first_span, "first declared here")
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
        self.d.node_by_id.insert(n.id.text.to_string(), ix);
        self.node_spans.insert(ix, n.id.span);
    }

    /// Pass 2: edges and loops, in source order.
    fn connect(&mut self, file: &ast::SourceFile<'_>) {
        for item in &file.items {
            match item {
                Item::Lane(lane) => {
                    let ix = self.d.lane_index(lane.id.text);
                    for s in &lane.body {
                        self.statement(s, ix);
                    }
                }
                Item::Statement(s) => self.statement(s, None),
            }
        }
    }

    fn statement(&mut self, s: &Statement<'_>, container: Option<LaneIx>) {
        match s {
            Statement::Edge(e) => self.edge(e, container),
            Statement::Loop(l) => self.loop_decl(l, container),
            _ => {}
        }
    }

    /// Resolve a `[Lane.]nK` reference, reporting undeclared nodes and lane-prefix mismatches.
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
                let ids: Vec<&str> = self.d.nodes().map(|(_, n)| n.id.as_str()).collect();
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
        if let Some(prefix) = r.lane {
            let node_lane = self.d.graph[ix].lane;
            let holder = self.d.lanes[node_lane].id.clone();
            match self.d.lane_index(prefix.text) {
                Some(l) if l == node_lane || self.d.lanes[l].id == holder => {}
                Some(_) => self.diags.push(
                    Diagnostic::new(
                        Code::WrongLanePrefix,
                        prefix.span,
                        format!(
                            "node `{}` is in lane `{holder}`, not in lane `{}`",
                            r.node.text, prefix.text
                        ),
                    )
                    .with_help(format!("write `{holder}.{}`", r.node.text)),
                ),
                None => self.diags.push(
                    Diagnostic::new(
                        Code::WrongLanePrefix,
                        prefix.span,
                        format!(
                            "lane prefix `{}` names no lane; node `{}` is in lane `{holder}`",
                            prefix.text, r.node.text
                        ),
                    )
                    .with_help(format!("write `{holder}.{}`", r.node.text)),
                ),
            }
        }
        Some(ix)
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

    fn edge(&mut self, e: &ast::EdgeDecl<'_>, container: Option<LaneIx>) {
        let source = self.resolve(&e.source.node, "this edge");
        let target = self.resolve(&e.target.node, "this edge");
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
        let (Some(s), Some(t)) = (source, target) else {
            return;
        };
        let (sl, tl) = (self.d.graph[s].lane, self.d.graph[t].lane);
        let cross_lane = self.d.lanes[sl].id != self.d.lanes[tl].id;
        if cross_lane && e.target.node.lane.is_none() && container != Some(tl) {
            let lane = self.d.lanes[tl].id.clone();
            self.diags.push(
                Diagnostic::new(
                    Code::MissingLanePrefix,
                    e.target.node.span,
                    format!(
                        "`{}` is in lane `{lane}`, another lane than this edge's source",
                        e.target.node.node.text
                    ),
                )
                .with_help(format!("write `{lane}.{}`", e.target.node.node.text)),
            );
        }
        let ordinal = self.d.graph.edge_count();
        self.d.graph.add_edge(
            s,
            t,
            Edge {
                ordinal,
                source_handle,
                target_handle,
                label: e.label.as_ref().map(|l| l.text.value.to_string()),
                cross_lane,
                span: e.span,
            },
        );
    }

    fn loop_decl(&mut self, l: &ast::LoopDecl<'_>, container: Option<LaneIx>) {
        let nodes = l
            .nodes
            .iter()
            .filter_map(|r| self.resolve(r, "this loop"))
            .collect();
        self.d.loops.push(Loop {
            condition: l.condition.to_string(),
            nodes,
            lane: container,
            span: l.span,
        });
    }
}

/// The candidate closest to `word` by edit distance, when close enough to be a likely typo.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if candidates.len() > 10_000 {
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
