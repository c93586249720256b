//! Fork-join: where the copies of a fan-out meet again.
//!
//! A fork is a node that sends a copy down each of two or more edges (any shape but a
//! diamond, which chooses one). Its join is the nearest node that every branch reaches: the
//! node minimising the longest branch distance to it, ties broken by declaration order. A
//! fork whose branches never meet has no join and its copies run independently (the seed's
//! projectors, each ending at its own view).

use std::collections::VecDeque;

/// One fork and the node that gathers its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkJoin {
    pub fork: usize,
    pub join: usize,
    /// Number of parts the join waits for (the fork's outgoing edges).
    pub parts: usize,
}

/// Nodes explored per branch at most: joins of huge generated diagrams are not searched
/// beyond this.
const BUDGET: usize = 20_000;

/// Breadth-first distances from `start`, never entering `avoid`; `usize::MAX` = unreached.
fn distances(out: &[Vec<usize>], start: usize, avoid: usize, dist: &mut [usize]) -> usize {
    dist.fill(usize::MAX);
    let mut q = VecDeque::new();
    dist[start] = 0;
    q.push_back(start);
    let mut seen = 1;
    while let Some(x) = q.pop_front() {
        if seen > BUDGET {
            break;
        }
        for &y in &out[x] {
            if y != avoid && dist[y] == usize::MAX {
                dist[y] = dist[x] + 1;
                seen += 1;
                q.push_back(y);
            }
        }
    }
    seen
}

/// The joins of every fork in `out` (adjacency by node index); `can_fork(i)` says whether
/// node `i` copies (false for diamonds), `can_join(i)` whether it can gather (false for
/// stores: branches that first meet at a store, a write and a read of it, do not join).
pub fn find_joins(
    out: &[Vec<usize>],
    can_fork: impl Fn(usize) -> bool,
    can_join: impl Fn(usize) -> bool,
) -> Vec<ForkJoin> {
    let n = out.len();
    let mut joins = Vec::new();
    let mut best = vec![0usize; n];
    let mut reach = vec![0usize; n];
    let mut dist = vec![usize::MAX; n];
    for f in 0..n {
        if out[f].len() < 2 || !can_fork(f) {
            continue;
        }
        best.fill(0);
        reach.fill(0);
        let mut touched = Vec::new();
        for &t in &out[f] {
            distances(out, t, f, &mut dist);
            for (x, &dx) in dist.iter().enumerate() {
                if dx != usize::MAX {
                    if reach[x] == 0 {
                        touched.push(x);
                    }
                    reach[x] += 1;
                    best[x] = best[x].max(dx);
                }
            }
        }
        let k = out[f].len();
        let join = touched
            .iter()
            .copied()
            .filter(|&x| reach[x] == k && x != f)
            .min_by_key(|&x| (best[x], x))
            .filter(|&x| can_join(x));
        if let Some(j) = join {
            joins.push(ForkJoin {
                fork: f,
                join: j,
                parts: k,
            });
        }
    }
    joins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_gather_joins_at_the_aggregator() {
        // 0 -> 1 -> {2, 3} -> 4 -> 5
        let out = vec![vec![1], vec![2, 3], vec![4], vec![4], vec![5], vec![]];
        assert_eq!(
            find_joins(&out, |_| true, |_| true),
            vec![ForkJoin {
                fork: 1,
                join: 4,
                parts: 2
            }]
        );
    }

    #[test]
    fn branches_that_never_meet_have_no_join() {
        let out = vec![vec![1, 2, 3], vec![], vec![], vec![]];
        assert!(find_joins(&out, |_| true, |_| true).is_empty());
        // A diamond never forks.
        let out = vec![vec![1, 2], vec![3], vec![3], vec![]];
        assert!(find_joins(&out, |i| i != 0, |_| true).is_empty());
    }

    #[test]
    fn branches_meeting_first_at_a_store_do_not_join() {
        // 0 -> {1, 2}; 1 -> 3 (a store) <- 2; 3 -> 4.
        let out = vec![vec![1, 2], vec![3], vec![3], vec![4], vec![]];
        assert!(find_joins(&out, |_| true, |i| i != 3).is_empty());
        assert_eq!(find_joins(&out, |_| true, |_| true)[0].join, 3);
    }

    #[test]
    fn one_branch_through_the_other() {
        // 0 -> {1, 2}, 1 -> 2: the join is 2 (one part direct, one via 1).
        let out = vec![vec![1, 2], vec![2], vec![]];
        assert_eq!(find_joins(&out, |_| true, |_| true)[0].join, 2);
    }
}
