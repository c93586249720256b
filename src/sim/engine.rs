//! The discrete-event engine: one replication of a [`Network`] on a virtual clock.
//!
//! Single-threaded and allocation-free per event: tokens are `Copy` values carried inside
//! events, queues are reused `VecDeque`s, statistics are streaming. Randomness comes from one
//! PCG stream per replication, so a run is a pure function of (network, config, seed).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::clock::EventQueue;
use super::cqrs::{CqrsState, CqrsStats};
use super::network::{Hop, Network, Routing, SimRole};
use super::station::{StationState, StationStats};
use super::stats::LatStats;
use super::time::Nanos;
use super::token::{Token, TokenKind};

/// What one replication runs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub duration: Nanos,
    pub warmup: Nanos,
    /// Number of queue-length samples to keep per station (0 = none).
    pub series_points: usize,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    /// The next external arrival of source `.0`.
    Source(u32),
    /// Token in slot `.1` arrives at station `.0`.
    Arrive(u32, u32),
    /// Service end at station `.0` of the token in slot `.1`.
    Depart(u32, u32),
}

/// The result of one replication.
#[derive(Debug, Clone)]
pub struct RepResult {
    pub stations: Vec<StationStats>,
    /// Per station: end-to-end latency of tokens that ended there (sinks only).
    pub sinks: Vec<Option<LatStats>>,
    pub end_to_end: LatStats,
    pub events: u64,
    pub hop_limit_hits: u64,
    /// Tokens that left by a diamond's missing probability.
    pub exits: u64,
    pub cqrs: Option<CqrsStats>,
    pub wall_seconds: f64,
    pub window_ns: Nanos,
    pub series_dt: Nanos,
}

/// One replication in progress.
pub struct Engine<'n> {
    net: &'n Network,
    q: EventQueue<Ev>,
    rng: Pcg64Mcg,
    st: Vec<StationState>,
    sinks: Vec<Option<LatStats>>,
    /// End-to-end count and sum so far (the histogram is the sinks' merged at the end).
    e2e_n: u64,
    e2e_sum: u128,
    warmup: Nanos,
    duration: Nanos,
    events: u64,
    serial: u64,
    hop_limit_hits: u64,
    exits: u64,
    cqrs: Option<CqrsState>,
    next_sample: Nanos,
    series_dt: Nanos,
    wall: std::time::Duration,
    /// Nesting of inline (queue-skipping) zero-time steps.
    depth: u32,
    toks: Slab,
}

/// Zero-time steps run inline at most this deep (then they go through the queue).
const MAX_INLINE: u32 = 64;

/// Seed of replication `rep` derived from the run seed (SplitMix64 finaliser).
pub fn replication_seed(seed: u64, rep: u64) -> u64 {
    let mut z = seed.wrapping_add(rep.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<'n> Engine<'n> {
    pub fn new(net: &'n Network, cfg: &RunConfig, seed: u64) -> Engine<'n> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut q = EventQueue::new();
        for (i, s) in net.sources.iter().enumerate() {
            let first = s.interarrival.sample(&mut rng);
            q.schedule(first, Ev::Source(i as u32));
        }
        let cqrs = net.cqrs.as_ref().map(|c| {
            let ks = net
                .sources
                .iter()
                .filter(|s| s.reads.is_none())
                .map(|s| s.key.key_space())
                .try_fold(0u32, |acc, k| k.map(|k| acc.max(k)));
            CqrsState::new(c.views.len(), ks)
        });
        let series_dt = if cfg.series_points > 0 {
            (cfg.duration / cfg.series_points as u64).max(1)
        } else {
            0
        };
        Engine {
            net,
            q,
            rng,
            st: net
                .stations
                .iter()
                .map(|_| StationState::default())
                .collect(),
            sinks: net
                .stations
                .iter()
                .map(|s| s.is_sink().then(LatStats::default))
                .collect(),
            e2e_n: 0,
            e2e_sum: 0,
            warmup: cfg.warmup,
            duration: cfg.duration,
            events: 0,
            serial: 0,
            hop_limit_hits: 0,
            exits: 0,
            cqrs,
            next_sample: if series_dt > 0 { 0 } else { Nanos::MAX },
            series_dt,
            wall: std::time::Duration::ZERO,
            depth: 0,
            toks: Slab::default(),
        }
    }

    /// Current virtual time.
    pub fn now(&self) -> Nanos {
        self.q.now()
    }

    pub fn duration(&self) -> Nanos {
        self.duration
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Read-only view of the stations' state (live figures).
    pub fn station_states(&self) -> &[StationState] {
        &self.st
    }

    /// End-to-end completions so far and their mean in seconds.
    pub fn end_to_end(&self) -> (u64, Option<f64>) {
        let mean = (self.e2e_n > 0).then(|| self.e2e_sum as f64 / self.e2e_n as f64 / 1e9);
        (self.e2e_n, mean)
    }

    /// Process every event due before `limit` (capped at the run's duration).
    pub fn run_until(&mut self, limit: Nanos) {
        let limit = limit.min(self.duration);
        let t0 = std::time::Instant::now();
        while let Some(ev) = self.q.pop_before(limit) {
            if self.q.now() >= self.next_sample {
                self.sample();
            }
            match ev {
                Ev::Source(i) => self.source(i),
                Ev::Arrive(s, tok) => self.arrive(s, tok, true),
                Ev::Depart(s, slot) => self.depart(s, slot, true),
            }
        }
        self.q.advance_to(limit);
        self.wall += t0.elapsed();
    }

    /// Run to the end and collect the results.
    pub fn run(mut self) -> RepResult {
        self.run_until(self.duration);
        self.finish()
    }

    /// Close the time averages at the end of the run and hand back the results.
    pub fn finish(mut self) -> RepResult {
        let end = self.duration;
        while self.next_sample < end {
            self.sample();
        }
        for s in &mut self.st {
            s.tick(end, self.warmup);
            s.stats.wait.flush();
            s.stats.response.flush();
        }
        let mut end_to_end = LatStats::default();
        for k in self.sinks.iter_mut().flatten() {
            k.flush();
            end_to_end.merge(k);
        }
        if let Some(c) = &mut self.cqrs {
            c.stats.command.flush();
            c.stats.reads.flush();
            c.stats.staleness.flush();
            for l in &mut c.stats.lag {
                l.flush();
            }
        }
        RepResult {
            stations: self.st.into_iter().map(|s| s.stats).collect(),
            sinks: self.sinks,
            end_to_end,
            events: self.events,
            hop_limit_hits: self.hop_limit_hits,
            exits: self.exits,
            cqrs: self.cqrs.map(|c| c.stats),
            wall_seconds: self.wall.as_secs_f64(),
            window_ns: end.saturating_sub(self.warmup),
            series_dt: self.series_dt,
        }
    }

    fn sample(&mut self) {
        for s in &mut self.st {
            s.stats.series.push(s.n_in.min(u32::MAX as u64) as u32);
        }
        self.next_sample = self.next_sample.saturating_add(self.series_dt);
    }

    fn source(&mut self, i: u32) {
        let src = &self.net.sources[i as usize];
        let now = self.q.now();
        let gap = src.interarrival.sample(&mut self.rng);
        self.q.schedule(now.saturating_add(gap), Ev::Source(i));
        let kind = match &src.reads {
            None => TokenKind::Message,
            Some(views) if views.is_empty() => TokenKind::Read { view: u16::MAX },
            Some(views) => {
                let v = views[self.rng.gen_range(0..views.len())];
                TokenKind::Read { view: v }
            }
        };
        let key = src.key.sample(&mut self.rng, self.serial);
        self.serial += 1;
        let slot = self.toks.alloc(Token::new(now, key, kind));
        self.arrive(src.station, slot, true);
    }

    #[inline]
    fn arrive(&mut self, s: u32, slot: u32, tail: bool) {
        let now = self.q.now();
        let spec = &self.net.stations[s as usize];
        let st = &mut self.st[s as usize];
        let tok = &mut self.toks.v[slot as usize];
        tok.arrived = now;
        if spec.service.is_zero()
            && spec.role == SimRole::Plain
            && !spec.keyed
            && st.busy < spec.servers
            && tail
            && self.depth < MAX_INLINE
            && self.q.idle_now()
        {
            // A zero-time station with a free server whose departure would be the next event:
            // arrival, start and end at once. Tokens at the station and busy servers are back
            // where they were within the instant, so the time integrals do not change.
            tok.started = now;
            self.events += 3;
            st.stats.arrivals_total += 1;
            st.stats.starts_total += 1;
            st.stats.completions_total += 1;
            if now >= self.warmup {
                st.stats.arrivals += 1;
                st.stats.wait.record(0);
                st.stats.response.record(0);
            }
            if now > self.warmup {
                st.stats.done += 1;
            }
            self.depth += 1;
            self.route(s, slot, true);
            self.depth -= 1;
            return;
        }
        self.events += 1;
        st.stats.arrivals_total += 1;
        if now >= self.warmup {
            st.stats.arrivals += 1;
        }
        st.tick(now, self.warmup);
        if st.busy < spec.servers && !(spec.keyed && st.key_busy(tok.key)) {
            st.n_in += 1;
            self.start(s, slot, tail);
        } else if spec.capacity.is_some_and(|c| st.queue.len() >= c as usize) {
            if now >= self.warmup {
                st.stats.drops += 1;
            }
            self.lost(slot);
        } else {
            st.n_in += 1;
            st.queue.push_back(slot);
        }
    }

    #[inline]
    fn start(&mut self, s: u32, slot: u32, tail: bool) {
        let now = self.q.now();
        let spec = &self.net.stations[s as usize];
        let st = &mut self.st[s as usize];
        let tok = &mut self.toks.v[slot as usize];
        tok.started = now;
        self.events += 1;
        st.busy += 1;
        st.stats.starts_total += 1;
        if spec.keyed {
            st.keys.push(tok.key);
        }
        let d = spec.service.sample(&mut self.rng);
        if d == 0 && tail && self.depth < MAX_INLINE && self.q.idle_now() {
            // The departure would be the very next event: run it now, skipping the queue.
            self.depth += 1;
            self.depart(s, slot, true);
            self.depth -= 1;
        } else {
            self.q.schedule(now.saturating_add(d), Ev::Depart(s, slot));
        }
    }

    #[inline]
    fn depart(&mut self, s: u32, slot: u32, tail: bool) {
        let now = self.q.now();
        let net = self.net;
        let spec = &net.stations[s as usize];
        let warmup = self.warmup;
        let st = &mut self.st[s as usize];
        let tok = &mut self.toks.v[slot as usize];
        self.events += 1;
        st.tick(now, warmup);
        st.busy -= 1;
        st.n_in -= 1;
        st.stats.completions_total += 1;
        if now > warmup {
            st.stats.done += 1;
        }
        if tok.arrived >= warmup {
            st.stats.wait.record(tok.started - tok.arrived);
            st.stats.response.record(now - tok.arrived);
        }
        match spec.role {
            SimRole::Plain => {}
            SimRole::Commit => {
                if let (Some(c), TokenKind::Message, false) =
                    (&mut self.cqrs, tok.kind, tok.committed())
                {
                    if tok.origin >= warmup {
                        c.stats.command.record(now - tok.origin);
                        c.stats.commits += 1;
                    }
                    let (cseq, kseq) = c.commit(now, tok.key);
                    tok.commit = now;
                    tok.cseq = cseq;
                    tok.kseq = kseq;
                }
            }
            SimRole::View(v) => {
                if let Some(c) = &mut self.cqrs {
                    if tok.committed() {
                        let rec = tok.commit >= warmup;
                        c.apply(v as usize, now, tok, rec);
                    }
                }
            }
            SimRole::QueryApi => {
                if let (Some(c), TokenKind::Read { view }) = (&mut self.cqrs, tok.kind) {
                    if tok.origin >= warmup && (view as usize) < c.nviews() {
                        let age = c.staleness(view as usize, now);
                        c.stats.staleness.record(age);
                    }
                }
            }
        }
        let key = tok.key;
        let next = if spec.keyed {
            if let Some(i) = st.keys.iter().position(|&k| k == key) {
                st.keys.swap_remove(i);
            }
            let toks = &self.toks.v;
            st.queue
                .iter()
                .position(|&q| !st.keys.contains(&toks[q as usize].key))
                .and_then(|i| st.queue.remove(i))
        } else {
            st.queue.pop_front()
        };
        if let Some(next) = next {
            self.start(s, next, false);
        }
        self.route(s, slot, tail);
    }

    #[inline]
    fn route(&mut self, s: u32, slot: u32, tail: bool) {
        let net = self.net;
        let spec = &net.stations[s as usize];
        if let Some(lb) = &spec.loop_back {
            let tok = &mut self.toks.v[slot as usize];
            if tok.repeats < lb.max && self.rng.gen::<f64>() < lb.p {
                tok.repeats += 1;
                self.send(&Hop::new(lb.to), slot, tail);
                return;
            }
            tok.repeats = 0;
        }
        match &spec.routing {
            Routing::Sink => self.sink(s, slot),
            Routing::All(hops) => {
                let last = hops.len().saturating_sub(1);
                for (i, h) in hops.iter().enumerate() {
                    // Copies for all but the last hop, which takes the token itself.
                    let t = if i == last {
                        slot
                    } else {
                        let copy = self.toks.v[slot as usize];
                        self.toks.alloc(copy)
                    };
                    self.send(h, t, tail && i == last);
                }
            }
            Routing::Choose { cum, hops } => {
                let u: f64 = self.rng.gen();
                match cum.iter().position(|&c| u < c) {
                    Some(i) => self.send(&hops[i], slot, tail),
                    None => {
                        self.exits += 1;
                        self.lost(slot);
                    }
                }
            }
        }
    }

    #[inline]
    fn send(&mut self, h: &Hop, slot: u32, tail: bool) {
        let tok = &mut self.toks.v[slot as usize];
        tok.hops += 1;
        if tok.hops > self.net.hop_limit {
            self.hop_limit_hits += 1;
            self.lost(slot);
            return;
        }
        let d = h.delay.sample(&mut self.rng);
        if d == 0 && tail && self.depth < MAX_INLINE && self.q.idle_now() {
            // The arrival would be the very next event: run it now.
            self.depth += 1;
            self.arrive(h.to, slot, true);
            self.depth -= 1;
        } else {
            let at = self.q.now().saturating_add(d);
            self.q.schedule(at, Ev::Arrive(h.to, slot));
        }
    }

    fn sink(&mut self, s: u32, slot: u32) {
        let now = self.q.now();
        let tok = self.toks.v[slot as usize];
        if tok.origin >= self.warmup {
            let lat = now - tok.origin;
            if let Some(Some(k)) = self.sinks.get_mut(s as usize) {
                k.record(lat);
            }
            self.e2e_n += 1;
            self.e2e_sum += lat as u128;
            if let (TokenKind::Read { .. }, Some(c)) = (tok.kind, &mut self.cqrs) {
                c.stats.reads.record(lat);
            }
        }
        if matches!(self.net.stations[s as usize].role, SimRole::View(_)) {
            self.toks.free(slot);
        } else {
            self.lost(slot);
        }
    }

    /// A token ends without reaching a view: views stop waiting for its event. Frees its slot.
    #[inline]
    fn lost(&mut self, slot: u32) {
        let tok = &self.toks.v[slot as usize];
        if tok.committed() {
            if let Some(c) = &mut self.cqrs {
                c.lost(tok.cseq);
            }
        }
        self.toks.free(slot);
    }
}

/// Tokens in flight, by slot: events and queues carry 4-byte slot numbers, never tokens, and
/// freed slots are reused, so the slab only grows to the most tokens ever in the system at once.
#[derive(Default)]
struct Slab {
    v: Vec<Token>,
    free: Vec<u32>,
}

impl Slab {
    #[inline]
    fn alloc(&mut self, t: Token) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.v[i as usize] = t;
                i
            }
            None => {
                self.v.push(t);
                (self.v.len() - 1) as u32
            }
        }
    }

    #[inline]
    fn free(&mut self, i: u32) {
        self.free.push(i);
    }
}
