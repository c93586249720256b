//! Graph queries the backends need: entries, exits, components, order, reachability.

use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::visit::{Bfs, Walker};
use petgraph::Direction;

use super::diagram::{Diagram, NodeIx};

impl Diagram {
    /// Nodes with no incoming edge, in declaration order.
    pub fn entry_nodes(&self) -> Vec<NodeIx> {
        self.graph
            .node_indices()
            .filter(|&n| {
                self.graph
                    .neighbors_directed(n, Direction::Incoming)
                    .next()
                    .is_none()
            })
            .collect()
    }

    /// Nodes with no outgoing edge, in declaration order.
    pub fn exit_nodes(&self) -> Vec<NodeIx> {
        self.graph
            .node_indices()
            .filter(|&n| {
                self.graph
                    .neighbors_directed(n, Direction::Outgoing)
                    .next()
                    .is_none()
            })
            .collect()
    }

    /// Strongly connected components, each sorted by node index, the list sorted by its first
    /// node (deterministic).
    pub fn strongly_connected_components(&self) -> Vec<Vec<NodeIx>> {
        let mut sccs = kosaraju_scc(&self.graph);
        for c in &mut sccs {
            c.sort();
        }
        sccs.sort();
        sccs
    }

    /// Components that form a cycle: more than one node, or one node with a self-loop.
    pub fn cycles(&self) -> Vec<Vec<NodeIx>> {
        self.strongly_connected_components()
            .into_iter()
            .filter(|c| c.len() > 1 || self.graph.contains_edge(c[0], c[0]))
            .collect()
    }

    /// A topological order of the nodes, or `None` when the graph has a cycle.
    pub fn topological_order(&self) -> Option<Vec<NodeIx>> {
        toposort(&self.graph, None).ok()
    }

    /// Every node reachable from some entry node, entry nodes included; `reachable[ix.index()]`.
    pub fn reachable_from_entries(&self) -> Vec<bool> {
        let mut seen = vec![false; self.graph.node_count()];
        for start in self.entry_nodes() {
            if seen[start.index()] {
                continue;
            }
            for n in Bfs::new(&self.graph, start).iter(&self.graph) {
                seen[n.index()] = true;
            }
        }
        seen
    }
}
