//! CQRS roles, read off the architecture model ([`super::arch`]).
//!
//! Shared by the simulator's CQRS lens and the project generator. Detection is a fixed list of
//! rules tried in order; every assignment records the rule that made it (`reason`), which
//! `--explain` prints. A profile or domain file can override any node's role.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::arch::{Architecture, Component, InferOptions, Overrides, StoreUse};
use super::diagram::{Diagram, NodeIx};

/// What kind of read model a view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViewKind {
    /// Rows per aggregate (a SQL table).
    Table,
    /// Key-value per entity, in memory.
    Cache,
    /// Counts and sums by dimensions.
    Cube,
    /// Full-text search index.
    Search,
    /// A read model of no recognised kind.
    Other,
}

/// The part a node plays in a CQRS / event-sourced design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    CommandSource,
    CommandHandler,
    Validator,
    WriteCommit,
    EventPublisher,
    EventRouter,
    Ordering,
    Delivery,
    Projector,
    View(ViewKind),
    QueryApi,
    ReadResponse,
}

impl Role {
    /// Every role name accepted in `[roles]` tables.
    pub const NAMES: &'static [&'static str] = &[
        "command_source",
        "command_handler",
        "validator",
        "write_commit",
        "event_publisher",
        "event_router",
        "ordering",
        "delivery",
        "projector",
        "view",
        "view:table",
        "view:cache",
        "view:cube",
        "view:search",
        "query_api",
        "read_response",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CommandSource => "command_source",
            Role::CommandHandler => "command_handler",
            Role::Validator => "validator",
            Role::WriteCommit => "write_commit",
            Role::EventPublisher => "event_publisher",
            Role::EventRouter => "event_router",
            Role::Ordering => "ordering",
            Role::Delivery => "delivery",
            Role::Projector => "projector",
            Role::View(ViewKind::Other) => "view",
            Role::View(ViewKind::Table) => "view:table",
            Role::View(ViewKind::Cache) => "view:cache",
            Role::View(ViewKind::Cube) => "view:cube",
            Role::View(ViewKind::Search) => "view:search",
            Role::QueryApi => "query_api",
            Role::ReadResponse => "read_response",
        }
    }

    pub fn is_view(self) -> bool {
        matches!(self, Role::View(_))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; valid roles are {}", Role::NAMES.join(", "))]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            Role::CommandSource,
            Role::CommandHandler,
            Role::Validator,
            Role::WriteCommit,
            Role::EventPublisher,
            Role::EventRouter,
            Role::Ordering,
            Role::Delivery,
            Role::Projector,
            Role::View(ViewKind::Other),
            Role::View(ViewKind::Table),
            Role::View(ViewKind::Cache),
            Role::View(ViewKind::Cube),
            Role::View(ViewKind::Search),
            Role::QueryApi,
            Role::ReadResponse,
        ];
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        all.into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// One node's role and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub node: NodeIx,
    pub role: Role,
    pub reason: String,
}

/// The roles of a diagram's nodes (nodes with no role are absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles {
    /// In node declaration order.
    pub assigned: Vec<RoleAssignment>,
}

impl Role {
    /// The component a `[roles]` override stands for.
    pub fn component(self) -> Component {
        match self {
            Role::CommandSource => Component::Command,
            Role::CommandHandler => Component::CommandHandler,
            Role::Validator => Component::Validator,
            Role::WriteCommit => Component::Store {
                usage: StoreUse::Write,
                engine: None,
            },
            Role::EventPublisher => Component::Publish,
            Role::EventRouter => Component::EventRoute,
            Role::Ordering => Component::Ordering,
            Role::Delivery => Component::Delivery,
            Role::Projector => Component::Projector,
            Role::View(k) => Component::Store {
                usage: StoreUse::Read(k),
                engine: None,
            },
            Role::QueryApi => Component::QueryApi,
            Role::ReadResponse => Component::Response,
        }
    }
}

impl Roles {
    /// Detect roles; `overrides` (node id → role) win over detection. The roles are read off
    /// the architecture model ([`Architecture::infer`]).
    pub fn detect(d: &Diagram, overrides: &BTreeMap<String, Role>) -> Roles {
        let mut o = Overrides::default();
        for (id, r) in overrides {
            o.nodes.insert(id.clone(), r.component());
        }
        let arch = Architecture::infer(d, &o, InferOptions::default());
        Roles::from_architecture(d, &arch)
    }

    /// The CQRS roles of an architecture model.
    pub fn from_architecture(d: &Diagram, arch: &Architecture) -> Roles {
        let mut assigned = Vec::new();
        for (ix, _) in d.nodes() {
            let a = &arch.components[ix.index()];
            let preds = d.predecessors(ix);
            let fed_async = preds.iter().any(|(_, p, _)| {
                matches!(
                    arch.component(*p),
                    Component::Consume
                        | Component::Projector
                        | Component::Sync
                        | Component::Delivery
                        | Component::EventRoute
                        | Component::Bus(_)
                )
            });
            let role = match a.value {
                Component::Command | Component::UserIntent if preds.is_empty() => {
                    Some(Role::CommandSource)
                }
                Component::CommandHandler => Some(Role::CommandHandler),
                Component::Validator => Some(Role::Validator),
                Component::Store {
                    usage: StoreUse::Write | StoreUse::Event,
                    ..
                } => Some(Role::WriteCommit),
                Component::Store {
                    usage: StoreUse::Document,
                    ..
                } => Some(if fed_async {
                    Role::View(ViewKind::Other)
                } else {
                    Role::WriteCommit
                }),
                Component::Store {
                    usage: StoreUse::Read(k),
                    ..
                } => Some(Role::View(k)),
                Component::Publish => Some(Role::EventPublisher),
                Component::EventRoute | Component::Bus(_) => Some(Role::EventRouter),
                Component::Ordering => Some(Role::Ordering),
                Component::Delivery => Some(Role::Delivery),
                Component::Projector | Component::Sync => Some(Role::Projector),
                Component::QueryApi | Component::QueryHandler => Some(Role::QueryApi),
                Component::Response | Component::Exit
                    if d.successors(ix).is_empty()
                        && preds.iter().any(|(_, p, _)| {
                            matches!(
                                arch.component(*p),
                                Component::QueryApi | Component::QueryHandler | Component::Dto
                            )
                        }) =>
                {
                    Some(Role::ReadResponse)
                }
                _ => None,
            };
            if let Some(role) = role {
                assigned.push(RoleAssignment {
                    node: ix,
                    role,
                    reason: format!("{} ({})", a.value.name(), a.reason),
                });
            }
        }
        Roles { assigned }
    }

    /// The role of a node, if any.
    pub fn role(&self, n: NodeIx) -> Option<Role> {
        self.assigned
            .binary_search_by_key(&n, |a| a.node)
            .ok()
            .map(|i| self.assigned[i].role)
    }

    /// Nodes with exactly this role, in declaration order.
    pub fn nodes_with(&self, r: Role) -> Vec<NodeIx> {
        self.assigned
            .iter()
            .filter(|a| a.role == r)
            .map(|a| a.node)
            .collect()
    }

    /// All view nodes, in declaration order.
    pub fn views(&self) -> Vec<(NodeIx, ViewKind)> {
        self.assigned
            .iter()
            .filter_map(|a| match a.role {
                Role::View(k) => Some((a.node, k)),
                _ => None,
            })
            .collect()
    }

    /// What a CQRS design needs and this one lacks: a write commit, a projector, a view.
    pub fn missing_for_cqrs(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.nodes_with(Role::WriteCommit).is_empty() {
            missing.push("a write commit (a node labelled like \"Persist to Write Store\" or \"Append to event stream\")");
        }
        if self.nodes_with(Role::Projector).is_empty() {
            missing.push("a projector (a node labelled \"… Projector\")");
        }
        if self.views().is_empty() {
            missing.push("a materialized view (a node fed by a projector)");
        }
        missing
    }

    /// True when the diagram has a write commit, a projector and a view.
    pub fn is_cqrs(&self) -> bool {
        self.missing_for_cqrs().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../examples/cqrs-materialized-views.fz");

    #[test]
    fn seed_roles() {
        let c = crate::model::check(SEED);
        let roles = Roles::detect(&c.diagram, &BTreeMap::new());
        let got: Vec<String> = roles
            .assigned
            .iter()
            .map(|a| format!("{} {}", c.diagram.node(a.node).id, a.role))
            .collect();
        assert_eq!(
            got,
            [
                "n1 command_source",
                "n2 command_handler",
                "n3 validator",
                "n4 write_commit",
                "n5 event_publisher",
                "n6 event_router",
                "n7 ordering",
                "n8 delivery",
                "n9 projector",
                "n10 projector",
                "n11 projector",
                "n12 projector",
                "n13 view:table",
                "n14 view:cache",
                "n15 view:cube",
                "n16 view:search",
                "n17 query_api",
                "n18 read_response",
            ]
        );
        assert!(roles.is_cqrs());
    }

    #[test]
    fn overrides_win_and_names_parse() {
        let c = crate::model::check(SEED);
        let mut o = BTreeMap::new();
        o.insert("n13".to_string(), "view:cache".parse::<Role>().unwrap());
        let roles = Roles::detect(&c.diagram, &o);
        let n13 = c.diagram.node_index("n13").unwrap();
        assert_eq!(roles.role(n13), Some(Role::View(ViewKind::Cache)));
        assert!("nonsense".parse::<Role>().is_err());
        for name in Role::NAMES {
            assert_eq!(name.parse::<Role>().unwrap().as_str(), *name);
        }
    }

    #[test]
    fn workflow_is_not_cqrs() {
        let c = crate::model::check("A { # A\nn1: circle label:\"Start\"\nn2: rectangle label:\"Work\"\nn1.handle(right) -> n2.handle(left)\n}\n");
        let roles = Roles::detect(&c.diagram, &BTreeMap::new());
        assert_eq!(roles.missing_for_cqrs().len(), 3);
    }
}
