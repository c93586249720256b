//! Layered layout of the workflow view: which column and which row of its lane each node
//! takes.
//!
//! 1. Back edges: inside each strongly connected component, the edges that go against the
//!    author's node numbering (`n5 -> n3`) are left out, which makes the rest acyclic.
//! 2. Each forward edge asks for a minimum column distance: 0 when it leaves by the bottom
//!    and enters by the top (or the other way round), or leaves by the top or bottom for
//!    another lane's top or bottom (the target sits straight below or above, in another lane
//!    or in another row of the same lane), 1 otherwise (the target sits to the right).
//! 3. Ranks: longest path from the sources, then Nikolov's promotion heuristic moves nodes
//!    (with the nodes they push) to the right while that shortens the edges in total, an
//!    approximation of network simplex.
//! 4. Columns: nodes of one lane are taken in (rank, topological) order; two of them may share
//!    a column (stacked in rows of the lane) only when no edge to another lane leaves the
//!    upper one's bottom or the lower one's top, since it would have to cross the stack. A second longest-path pass over edges
//!    plus these lane constraints gives the columns.
//! 5. Rows: the nodes sharing a (lane, column) cell are ordered by barycenter sweeps over
//!    their neighbours' vertical positions, to reduce crossings; a same-lane edge that leaves
//!    by the bottom keeps its target below its source.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::model::{Diagram, Handle};

/// Above this many nodes the promotion heuristic is skipped (it is quadratic).
const PROMOTION_MAX_NODES: usize = 5000;

/// Where each node goes.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    /// Column of each node (by node index).
    pub col: Vec<usize>,
    /// Row of each node inside its lane.
    pub row: Vec<usize>,
    /// Number of rows of each lane (at least 1).
    pub lane_rows: Vec<usize>,
    /// Number of columns (at least 1).
    pub cols: usize,
    /// Edge indices (by edge index) that point backwards in the flow.
    pub back: Vec<bool>,
}

fn is_vertical(h: Option<Handle>) -> bool {
    matches!(h, Some(Handle::Top | Handle::Bottom))
}

/// Lay out a diagram's nodes on a grid.
///
/// A straight top/bottom edge between two lanes that are not neighbours passes through the
/// lanes between them; when one of those has a node in the same column, the edge is blocked.
/// Such edges are then laid out as if they went right (δ = 1) and the layout is redone, up to
/// three times.
pub fn grid(d: &Diagram) -> Grid {
    let mut relaxed = vec![false; d.edge_count()];
    let mut g = grid_with(d, &relaxed);
    for _ in 0..3 {
        let mut changed = false;
        let lane_of = |v: petgraph::graph::NodeIndex<u32>| d.graph[v].lane;
        for (e, s, t, edge) in d.edges() {
            let (ls, lt) = (lane_of(s), lane_of(t));
            if relaxed[e.index()]
                || g.back[e.index()]
                || ls.abs_diff(lt) < 2
                || !is_vertical(edge.source_handle)
                || !is_vertical(edge.target_handle)
                || g.col[s.index()] != g.col[t.index()]
            {
                continue;
            }
            let (lo, hi) = (ls.min(lt), ls.max(lt));
            let c = g.col[s.index()];
            let blocked = d
                .nodes()
                .any(|(v, n)| n.lane > lo && n.lane < hi && g.col[v.index()] == c);
            if blocked {
                relaxed[e.index()] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        g = grid_with(d, &relaxed);
    }
    g
}

fn grid_with(d: &Diagram, relaxed: &[bool]) -> Grid {
    let n = d.node_count();
    let mut g = Grid {
        col: vec![0; n],
        row: vec![0; n],
        lane_rows: vec![1; d.lanes.len().max(1)],
        cols: 1,
        back: vec![false; d.edge_count()],
    };
    if n == 0 {
        return g;
    }
    // 1. Back edges: inside each strongly connected component, an edge whose target comes
    //    before its source in the author's numbering (`n3` before `n5`; declaration order
    //    when ids carry no number) points back. Edges outside cycles are never reversed.
    let key: Vec<(u64, usize)> = d
        .nodes()
        .map(|(ix, node)| (id_number(&node.id), ix.index()))
        .collect();
    let mut scc_of = vec![usize::MAX; n];
    for (i, comp) in d.strongly_connected_components().iter().enumerate() {
        for v in comp {
            scc_of[v.index()] = i;
        }
    }
    for (e, s, t, _) in d.edges() {
        let (s, t) = (s.index(), t.index());
        if scc_of[s] == scc_of[t] && key[t] <= key[s] {
            g.back[e.index()] = true;
        }
    }
    // 2. Forward edges with their minimum column distance.
    let mut fwd: Vec<(usize, usize, usize)> = Vec::new();
    // Which nodes have an edge to another lane on their top / bottom side.
    let mut cross_top = vec![false; n];
    let mut cross_bottom = vec![false; n];
    for (e, s, t, edge) in d.edges() {
        let (s, t) = (s.index(), t.index());
        let lanes_differ = d.graph[petgraph::graph::NodeIndex::new(s)].lane
            != d.graph[petgraph::graph::NodeIndex::new(t)].lane;
        if lanes_differ {
            match edge.source_handle {
                Some(Handle::Top) => cross_top[s] = true,
                Some(Handle::Bottom) => cross_bottom[s] = true,
                _ => {}
            }
            match edge.target_handle {
                Some(Handle::Top) => cross_top[t] = true,
                Some(Handle::Bottom) => cross_bottom[t] = true,
                _ => {}
            }
        }
        if g.back[e.index()] || s == t {
            continue;
        }
        let opposite = matches!(
            (edge.source_handle, edge.target_handle),
            (Some(Handle::Bottom), Some(Handle::Top)) | (Some(Handle::Top), Some(Handle::Bottom))
        );
        let delta = if !relaxed.get(e.index()).copied().unwrap_or(false)
            && (opposite
                || (lanes_differ
                    && is_vertical(edge.source_handle)
                    && is_vertical(edge.target_handle)))
        {
            0
        } else {
            1
        };
        fwd.push((s, t, delta));
    }
    let mut succ: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    let mut pred: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for &(s, t, dl) in &fwd {
        succ[s].push((t, dl));
        pred[t].push((s, dl));
    }
    // Topological order, smallest declaration index first among the ready nodes.
    let mut indeg: Vec<usize> = pred.iter().map(Vec::len).collect();
    let mut heap: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&v| indeg[v] == 0).map(Reverse).collect();
    let mut topo = Vec::with_capacity(n);
    while let Some(Reverse(v)) = heap.pop() {
        topo.push(v);
        for &(t, _) in &succ[v] {
            indeg[t] -= 1;
            if indeg[t] == 0 {
                heap.push(Reverse(t));
            }
        }
    }
    if topo.len() != n {
        // Cannot happen (back edges were removed); stay total anyway.
        let mut seen = vec![false; n];
        for &v in &topo {
            seen[v] = true;
        }
        topo.extend((0..n).filter(|&v| !seen[v]));
    }
    let mut topo_ix = vec![0usize; n];
    for (i, &v) in topo.iter().enumerate() {
        topo_ix[v] = i;
    }
    // 3. Ranks: longest path, then promotion.
    let mut rank = vec![0usize; n];
    for &v in &topo {
        for &(t, dl) in &succ[v] {
            rank[t] = rank[t].max(rank[v] + dl);
        }
    }
    if n <= PROMOTION_MAX_NODES {
        promote(&mut rank, &succ, &pred, &topo);
    }
    // 4. Columns: lane order by (rank, topo), lane constraints, longest path.
    let lanes = d.lanes.len().max(1);
    let lane_of: Vec<usize> = (0..n)
        .map(|v| {
            d.graph[petgraph::graph::NodeIndex::new(v)]
                .lane
                .min(lanes - 1)
        })
        .collect();
    let mut by_lane: Vec<Vec<usize>> = vec![Vec::new(); lanes];
    for &v in &topo {
        by_lane[lane_of[v]].push(v);
    }
    let mut degree = vec![0usize; n];
    for (_, s, t, _) in d.edges() {
        degree[s.index()] += 1;
        degree[t.index()] += 1;
    }
    let mut cons: Vec<Vec<(usize, usize)>> = succ.clone();
    for members in &mut by_lane {
        members.sort_by_key(|&v| (rank[v], topo_ix[v]));
        for w in members.windows(2) {
            let (a, b) = (w[0], w[1]);
            // `b` may go below `a` in the same column unless an edge to another lane would
            // have to cross the stack.
            // Nodes without any edge stay side by side in declaration order.
            let share = rank[a] == rank[b]
                && !cross_bottom[a]
                && !cross_top[b]
                && degree[a] > 0
                && degree[b] > 0;
            cons[a].push((b, usize::from(!share)));
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&v| (rank[v], topo_ix[v]));
    let mut col = rank.clone();
    for &v in &order {
        for &(t, dl) in &cons[v] {
            col[t] = col[t].max(col[v] + dl);
        }
    }
    // Pull nodes without predecessors right, next to what they feed.
    for &v in order.iter().rev() {
        if !pred[v].is_empty() {
            continue;
        }
        let hi = cons[v]
            .iter()
            .map(|&(t, dl)| col[t].saturating_sub(dl))
            .min();
        if let Some(hi) = hi {
            if hi > col[v] && cons[v].iter().all(|&(t, dl)| col[t] >= hi + dl) {
                col[v] = hi;
            }
        }
    }
    let min = col.iter().copied().min().unwrap_or(0);
    for c in &mut col {
        *c -= min;
    }
    g.cols = col.iter().copied().max().unwrap_or(0) + 1;
    g.col = col;
    // 5. Rows inside (lane, column) cells.
    let mut cells: std::collections::BTreeMap<(usize, usize), Vec<usize>> =
        std::collections::BTreeMap::new();
    for &v in &order {
        cells.entry((lane_of[v], g.col[v])).or_default().push(v);
    }
    let mut undirected: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (_, s, t, _) in d.edges() {
        if s != t {
            undirected[s.index()].push(t.index());
            undirected[t.index()].push(s.index());
        }
    }
    let mut rows = vec![0usize; n];
    for members in cells.values() {
        for (i, &v) in members.iter().enumerate() {
            rows[v] = i;
        }
    }
    let lane_base = |rows: &[usize], lane_rows: &[usize]| -> Vec<f64> {
        let _ = rows;
        let mut base = vec![0.0; lanes];
        let mut acc = 0.0;
        for (l, b) in base.iter_mut().enumerate() {
            *b = acc;
            acc += lane_rows[l] as f64;
        }
        base
    };
    let mut lane_rows = vec![1usize; lanes];
    for (&(l, _), members) in &cells {
        lane_rows[l] = lane_rows[l].max(members.len());
    }
    for sweep in 0..4 {
        let base = lane_base(&rows, &lane_rows);
        let y = |v: usize, rows: &[usize]| base[lane_of[v]] + rows[v] as f64;
        let keys: Vec<(usize, usize)> = if sweep % 2 == 0 {
            cells.keys().copied().collect()
        } else {
            cells.keys().rev().copied().collect()
        };
        for key in keys {
            let Some(members) = cells.get(&key) else {
                continue;
            };
            if members.len() < 2 {
                continue;
            }
            let mut scored: Vec<(f64, usize, usize)> = members
                .iter()
                .map(|&v| {
                    let nb: Vec<f64> = undirected[v]
                        .iter()
                        .filter(|&&u| g.col[u] != key.1 || lane_of[u] != key.0)
                        .map(|&u| y(u, &rows))
                        .collect();
                    let bc = if nb.is_empty() {
                        rows[v] as f64
                    } else {
                        nb.iter().sum::<f64>() / nb.len() as f64
                    };
                    (bc, topo_ix[v], v)
                })
                .collect();
            scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut sorted: Vec<usize> = scored.iter().map(|s| s.2).collect();
            keep_vertical_order(d, &mut sorted);
            for (i, &v) in sorted.iter().enumerate() {
                rows[v] = i;
            }
            cells.insert(key, sorted);
        }
    }
    g.row = rows;
    g.lane_rows = lane_rows;
    g
}

/// The number in an id like `n12`, or `u64::MAX` when it has none.
fn id_number(id: &str) -> u64 {
    let digits: String = id
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().unwrap_or(u64::MAX)
}

/// Inside one cell, a same-lane edge leaving by the bottom (or entering by the top) must have
/// its source above its target, and one leaving by the top the other way round: fix the
/// order with a stable insertion pass.
fn keep_vertical_order(d: &Diagram, cell: &mut [usize]) {
    let pos_of = |cell: &[usize], v: usize| cell.iter().position(|&x| x == v);
    for _ in 0..cell.len() {
        let mut changed = false;
        for (_, s, t, e) in d.edges() {
            let (s, t) = (s.index(), t.index());
            let (Some(ps), Some(pt)) = (pos_of(cell, s), pos_of(cell, t)) else {
                continue;
            };
            let down = matches!(e.source_handle, Some(Handle::Bottom))
                || matches!(e.target_handle, Some(Handle::Top));
            let up = matches!(e.source_handle, Some(Handle::Top))
                || matches!(e.target_handle, Some(Handle::Bottom));
            if (down && !up && ps > pt) || (up && !down && pt > ps) {
                cell.swap(ps, pt);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Nikolov–Tarassov promotion: move a node one column right, pushing the successors whose
/// constraint becomes violated; keep the move when the total edge length shrinks.
///
/// Every pushed node moves by exactly one column, so the change in total length is, over the
/// moved nodes, their edges from unmoved predecessors minus their edges to unmoved successors.
fn promote(
    rank: &mut [usize],
    succ: &[Vec<(usize, usize)>],
    pred: &[Vec<(usize, usize)>],
    topo: &[usize],
) {
    let mut moved = vec![false; rank.len()];
    let mut list: Vec<usize> = Vec::new();
    for _round in 0..64 {
        let mut improved = false;
        for &v in topo.iter().rev() {
            if succ[v].is_empty() {
                continue;
            }
            push(v, rank, succ, &mut moved, &mut list);
            let mut delta: i64 = 0;
            for &m in &list {
                delta += pred[m].iter().filter(|&&(u, _)| !moved[u]).count() as i64;
                delta -= succ[m].iter().filter(|&&(t, _)| !moved[t]).count() as i64;
            }
            if delta < 0 {
                improved = true;
            } else {
                for &m in &list {
                    rank[m] -= 1;
                }
            }
            for &m in &list {
                moved[m] = false;
            }
            list.clear();
        }
        if !improved {
            break;
        }
    }
}

fn push(
    start: usize,
    rank: &mut [usize],
    succ: &[Vec<(usize, usize)>],
    moved: &mut [bool],
    list: &mut Vec<usize>,
) {
    let mut stack = vec![start];
    rank[start] += 1;
    moved[start] = true;
    list.push(start);
    while let Some(v) = stack.pop() {
        for &(t, dl) in &succ[v] {
            if rank[t] < rank[v] + dl {
                rank[t] = rank[v] + dl;
                if !moved[t] {
                    moved[t] = true;
                    list.push(t);
                }
                stack.push(t);
            }
        }
    }
}
