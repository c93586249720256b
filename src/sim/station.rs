//! A station's run-time state: busy servers, the FIFO waiting line, and its statistics.

use std::collections::VecDeque;

use super::stats::LatStats;
use super::time::Nanos;

/// Statistics of one station over one replication.
///
/// Counts marked "whole run" include the warmup (they feed `events`); the rest cover the
/// window `[warmup, duration]` the way `simpy_net.py` does: time averages integrated over the
/// window, per-visit times for visits that arrived at or after warmup and finished before the end.
#[derive(Debug, Clone, Default)]
pub struct StationStats {
    /// Whole run.
    pub arrivals_total: u64,
    pub starts_total: u64,
    pub completions_total: u64,
    /// Arrivals at or after warmup.
    pub arrivals: u64,
    /// Completions after warmup (throughput).
    pub done: u64,
    /// Arrivals at or after warmup turned away by a full queue.
    pub drops: u64,
    /// Integral of tokens at the station (waiting + in service), token-nanoseconds.
    pub area_n: u128,
    /// Integral of busy servers, server-nanoseconds.
    pub area_busy: u128,
    pub wait: LatStats,
    pub response: LatStats,
    /// Tokens at the station sampled at regular instants (for the report's plot).
    pub series: Vec<u32>,
}

/// Run-time state of one station.
#[derive(Debug, Default)]
pub struct StationState {
    pub busy: u32,
    /// Waiting tokens (slots in the engine's token slab).
    pub queue: VecDeque<u32>,
    /// Keys in service (keyed stations only).
    pub keys: Vec<u32>,
    /// Tokens at the station, waiting plus in service.
    pub n_in: u64,
    last: Nanos,
    pub stats: StationStats,
}

impl StationState {
    /// Integrate the time averages up to `now` (only the part after `warmup` counts).
    #[inline]
    pub fn tick(&mut self, now: Nanos, warmup: Nanos) {
        if now > warmup {
            let a = if self.last > warmup {
                self.last
            } else {
                warmup
            };
            let dt = (now - a) as u128;
            self.stats.area_n += self.n_in as u128 * dt;
            self.stats.area_busy += self.busy as u128 * dt;
        }
        self.last = now;
    }

    /// True when a token of `key` is in service here.
    #[inline]
    pub fn key_busy(&self, key: u32) -> bool {
        self.keys.contains(&key)
    }
}
