//! The CQRS lens at run time: commit log, per-view progress, projection lag, per-key order and
//! read staleness.

use std::collections::VecDeque;

use super::stats::LatStats;
use super::time::Nanos;
use super::token::Token;

/// Results of the CQRS lens for one replication.
#[derive(Debug, Clone, Default)]
pub struct CqrsStats {
    /// Origin to commit.
    pub command: LatStats,
    /// Per view: commit to view update.
    pub lag: Vec<LatStats>,
    /// Per view: events applied after a later event of the same key.
    pub violations: Vec<u64>,
    /// Read latency (origin at the query API to the end of the read path).
    pub reads: LatStats,
    /// Staleness seen by reads (age of the oldest committed event missing from the view).
    pub staleness: LatStats,
    /// Commands that committed, of those that arrived at or after warmup: the same commands as
    /// `command`'s samples (its `count`), so figures side by side count the same window.
    pub commits: u64,
    /// Submit to confirmation: origin to the push that confirms it (task-based UIs).
    pub confirm: LatStats,
}

struct LogEntry {
    commit: Nanos,
    /// Bit v set: view v applied it, or it will never reach a view.
    done: u64,
}

/// Tracks which committed events each view has applied.
pub struct CqrsState {
    nviews: usize,
    tracked: usize,
    all: u64,
    next: u64,
    base: u64,
    log: VecDeque<LogEntry>,
    /// Per view: lowest commit sequence number not yet applied (or lost).
    low: Vec<u64>,
    /// Per key: next per-key sequence number (empty when keys are unique).
    key_next: Vec<u32>,
    /// Per view, per key: 1 + highest per-key sequence applied (0 = none).
    last: Vec<Vec<u32>>,
    pub stats: CqrsStats,
}

impl CqrsState {
    pub fn new(nviews: usize, key_space: Option<u32>) -> CqrsState {
        let tracked = nviews.min(64);
        let ks = key_space.unwrap_or(0) as usize;
        CqrsState {
            nviews,
            tracked,
            all: if tracked == 64 {
                u64::MAX
            } else {
                (1u64 << tracked) - 1
            },
            next: 0,
            base: 0,
            log: VecDeque::new(),
            low: vec![0; tracked],
            key_next: vec![0; ks],
            last: vec![vec![0; ks]; nviews],
            stats: CqrsStats {
                lag: vec![LatStats::default(); nviews],
                violations: vec![0; nviews],
                ..CqrsStats::default()
            },
        }
    }

    /// A token passed the write commit at `now`: returns `(cseq, kseq)`.
    pub fn commit(&mut self, now: Nanos, key: u32) -> (u64, u32) {
        let cseq = self.next;
        self.next += 1;
        if self.tracked > 0 {
            self.log.push_back(LogEntry {
                commit: now,
                done: 0,
            });
        }
        let kseq = match self.key_next.get_mut(key as usize) {
            Some(k) => {
                *k += 1;
                *k - 1
            }
            None => 0,
        };
        (cseq, kseq)
    }

    fn advance(&mut self, v: usize) {
        let bit = 1u64 << v;
        while self.low[v] < self.next {
            let e = &self.log[(self.low[v] - self.base) as usize];
            if e.done & bit == 0 {
                break;
            }
            self.low[v] += 1;
        }
    }

    fn trim(&mut self) {
        let min = self.low.iter().copied().min().unwrap_or(self.next);
        while self.base < min {
            self.log.pop_front();
            self.base += 1;
        }
    }

    /// View `v` applied event `cseq` of `key` (per-key number `kseq`) at `now`, committed at
    /// `commit`. `record` says whether the lag counts (committed after warmup).
    pub fn apply(&mut self, v: usize, now: Nanos, tok: &Token, record: bool) {
        let (commit, cseq, key, kseq) = (tok.commit, tok.cseq, tok.key, tok.kseq);
        if record {
            self.stats.lag[v].record(now - commit);
        }
        if let Some(last) = self.last[v].get_mut(key as usize) {
            if kseq + 1 < *last {
                if record {
                    self.stats.violations[v] += 1;
                }
            } else {
                *last = kseq + 1;
            }
        }
        if v < self.tracked && cseq >= self.base {
            self.log[(cseq - self.base) as usize].done |= 1 << v;
            self.advance(v);
            self.trim();
        }
    }

    /// A committed token died without reaching a view: no view will wait for it.
    pub fn lost(&mut self, cseq: u64) {
        if self.tracked == 0 || cseq < self.base {
            return;
        }
        self.log[(cseq - self.base) as usize].done = self.all;
        for v in 0..self.tracked {
            self.advance(v);
        }
        self.trim();
    }

    /// Staleness of view `v` at `now`: age of the oldest committed event it has not applied.
    pub fn staleness(&self, v: usize, now: Nanos) -> Nanos {
        if v >= self.tracked || self.low[v] >= self.next {
            return 0;
        }
        now.saturating_sub(self.log[(self.low[v] - self.base) as usize].commit)
    }

    pub fn nviews(&self) -> usize {
        self.nviews
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::token::TokenKind;

    fn tok(commit: Nanos, cseq: u64, key: u32, kseq: u32) -> Token {
        Token {
            commit,
            cseq,
            kseq,
            ..Token::new(0, key, TokenKind::Message)
        }
    }

    #[test]
    fn staleness_and_order() {
        let mut c = CqrsState::new(2, Some(10));
        let (a, ka) = c.commit(100, 3);
        let (b, kb) = c.commit(200, 3);
        assert_eq!(c.staleness(0, 250), 150);
        c.apply(0, 300, &tok(200, b, 3, kb), true); // b before a: out of order when a comes
        assert_eq!(c.staleness(0, 300), 200);
        c.apply(0, 310, &tok(100, a, 3, ka), true);
        assert_eq!(c.stats.violations[0], 1);
        assert_eq!(c.staleness(0, 400), 0);
        assert_eq!(c.staleness(1, 400), 300);
        c.lost(a);
        assert_eq!(c.staleness(1, 400), 200);
        c.apply(1, 500, &tok(200, b, 3, kb), true);
        assert_eq!(c.staleness(1, 600), 0);
        assert_eq!(c.stats.violations[1], 0);
        assert!(c.log.is_empty());
    }
}
