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
use super::token::{NONE, READING, READ_DONE, RESPONDED, WRITING};

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
    /// Closed-loop user `.0` ends its think time and sends its next request.
    Think(u32),
    /// The join timeout of fork record `.0` (generation `.1`) expires.
    JoinTimeout(u32, u32),
    /// A server of batch station `.0` ends its rest after a batch.
    Rested(u32),
    /// The host's earliest job may be done (generation `.0`; stale ones are ignored).
    HostDone(u32),
}

/// A request's time in transit between its client and the service (`[host] transport`).
#[inline]
fn transit(net: &Network, rng: &mut Pcg64Mcg) -> Nanos {
    match &net.transport {
        Some(d) => d.sample(rng),
        None => 0,
    }
}

/// One fan-out in flight whose parts meet at a join.
#[derive(Debug, Clone, Copy)]
struct ForkRec {
    join: u32,
    /// Parts not yet arrived (or lost).
    remaining: u32,
    /// The first part to arrive, held until the join completes.
    carrier: u32,
    parent: u32,
    started: Nanos,
    /// Sent on by its timeout: later parts are absorbed.
    done: bool,
    gen: u32,
}

/// One request from a source, shared by all its copies.
#[derive(Debug, Clone, Copy)]
struct ReqRec {
    /// Copies in flight.
    copies: u32,
    responded: bool,
    /// The closed-loop user waiting for it, or NONE.
    user: u32,
}

/// Fork-join figures of one join station.
#[derive(Debug, Clone, Default)]
pub struct JoinStats {
    pub station: u32,
    /// Fork to join, of forks started after warmup.
    pub fork_join: LatStats,
    pub joined: u64,
    /// Joins sent on by their timeout, or with parts lost.
    pub partial: u64,
}

/// Latency of the requests of one source that ended at one outcome.
#[derive(Debug, Clone, Default)]
pub struct OutcomeStats {
    pub source: u32,
    /// The station that ended it (a sink, or the first station of the caller's lane a reply
    /// entered).
    pub station: u32,
    pub latency: LatStats,
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
    pub joins: Vec<JoinStats>,
    /// Per (source, outcome), in the order first seen.
    pub outcomes: Vec<OutcomeStats>,
    /// Closed-loop cycles completed after warmup, per source.
    pub cycles: Vec<u64>,
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
    /// Stations a zero-time token may pass inline (plain routing, no join, no reads).
    fast: Vec<bool>,
    forks: Vec<ForkRec>,
    free_forks: Vec<u32>,
    /// Per closed-loop user: its source.
    users: Vec<u32>,
    /// Per closed-loop user: requests it has sent (its keys follow them: `sequence(m)`).
    user_sent: Vec<u64>,
    /// Scratch for the distinct keys of a batch (`per_key`).
    key_scratch: Vec<u32>,
    reqs: Vec<ReqRec>,
    free_reqs: Vec<u32>,
    /// Requests are tracked only where a token can have copies or a user waits for it;
    /// otherwise a token is its own request (its RESPONDED flag stands in).
    track_reqs: bool,
    /// Index in `outcomes` of the last outcome recorded.
    last_outcome: usize,
    /// One open source, no copies, no replies: every token ends at one sink, and the outcomes
    /// are the sinks' latencies, filled in at the end instead of recorded twice.
    outcomes_from_sinks: bool,
    /// Per station: index into `joins`, or NONE.
    join_ix: Vec<u32>,
    joins: Vec<JoinStats>,
    outcomes: Vec<OutcomeStats>,
    cycles: Vec<u64>,
    /// Batch stations: per token slot, the batch it is served in (index into `batch_left`).
    batch_of: Vec<u32>,
    /// Per batch in service: members not yet departed (0 = free record).
    batch_left: Vec<u32>,
    free_batches: Vec<u32>,
    /// Members of the batch being started (reused, so batches allocate nothing).
    batch_scratch: Vec<u32>,
    /// The shared cores, when the network has a host.
    host: Option<Host>,
}

/// One job on the host: a token in service, or a whole batch (its members).
#[derive(Debug, Default)]
struct HostJob {
    station: u32,
    members: Vec<u32>,
    /// Its members then arrive at `station` (a client's work before it sends), rather than
    /// depart from it.
    then_arrive: bool,
    /// Its members then wait this long off the host before they depart (a group commit's
    /// fsync after its inserts' CPU).
    then_wait: Nanos,
}

/// The jobs of one weight on the host: their clock of the work each has received (`v`, in
/// ns of work), their finish points and their current speed.
#[derive(Debug)]
struct HostClass {
    weight: f64,
    v: f64,
    /// (finish point's bits, job): non-negative f64s order like their bits.
    finish: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u32)>>,
    /// ns of work per ns, for each of its jobs.
    rate: f64,
}

/// Weighted processor sharing on `cores` cores, as Linux's CFS shares them between threads
/// of different nice values: while jobs are in service, each gets `cores × its weight / the
/// weights in service` of a core, at most one (what a job cannot use goes to the others, by
/// weight). With one weight, each of n jobs gets `min(1, cores / n)`. Exact with one clock
/// per weight of the work each of its jobs has received: a job admitted at `v0` with `w` ns
/// of work is done when its class's `v` reaches `v0 + w`; the earliest such finish point is
/// the one event in the queue (a generation number retires the others when the rates change).
#[derive(Debug)]
struct Host {
    cores: f64,
    last: Nanos,
    /// By weight, heaviest first.
    classes: Vec<HostClass>,
    jobs: Vec<HostJob>,
    free: Vec<u32>,
    gen: u32,
    /// Clients' jobs in service (sending a request): while there is one, the client is awake.
    clients: u32,
    /// Sends waiting for one of the clients' threads (`[host] client_threads`): station,
    /// token slot, CPU.
    client_queue: std::collections::VecDeque<(u32, u32, Nanos)>,
}

impl Host {
    fn new(cores: f64) -> Host {
        Host {
            cores,
            last: 0,
            classes: Vec::new(),
            jobs: Vec::new(),
            free: Vec::new(),
            gen: 0,
            clients: 0,
            client_queue: std::collections::VecDeque::new(),
        }
    }

    /// Sets each class's speed: the heaviest first, each job at most one core, the cores
    /// left shared by weight among the rest.
    fn set_rates(&mut self) {
        let in_service =
            |cs: &[HostClass]| -> f64 { cs.iter().map(|c| c.weight * c.finish.len() as f64).sum() };
        let mut cores = self.cores;
        let mut first = 0;
        // The heaviest classes whose share would be a core or more: a core each.
        while first < self.classes.len() {
            let weights = in_service(&self.classes[first..]);
            let c = &mut self.classes[first];
            let n = c.finish.len() as f64;
            if n > 0.0 && cores * c.weight < weights {
                break;
            }
            c.rate = 1.0;
            cores = (cores - n).max(0.0);
            first += 1;
        }
        // The rest share what is left in proportion to their weights.
        let weights = in_service(&self.classes[first..]);
        for c in &mut self.classes[first..] {
            c.rate = if c.finish.is_empty() || weights <= 0.0 {
                1.0
            } else {
                (cores * c.weight / weights).min(1.0)
            };
        }
    }

    fn advance(&mut self, now: Nanos) {
        if now > self.last {
            let dt = (now - self.last) as f64;
            for c in self.classes.iter_mut() {
                if !c.finish.is_empty() {
                    c.v += dt * c.rate;
                }
            }
            self.last = now;
        }
    }

    /// Admits a job with `work` ns of work and `weight` at `now`; returns the wake-up to
    /// schedule.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        now: Nanos,
        station: u32,
        members: &[u32],
        work: Nanos,
        weight: f64,
        then_arrive: bool,
        then_wait: Nanos,
    ) -> (Nanos, u32) {
        self.advance(now);
        let id = match self.free.pop() {
            Some(i) => i,
            None => {
                self.jobs.push(HostJob::default());
                (self.jobs.len() - 1) as u32
            }
        };
        let job = &mut self.jobs[id as usize];
        job.station = station;
        job.then_arrive = then_arrive;
        self.clients += u32::from(then_arrive);
        job.then_wait = then_wait;
        job.members.clear();
        job.members.extend_from_slice(members);
        let ci = match self.classes.iter().position(|c| c.weight == weight) {
            Some(i) => i,
            None => {
                let at = self
                    .classes
                    .iter()
                    .position(|c| c.weight < weight)
                    .unwrap_or(self.classes.len());
                self.classes.insert(
                    at,
                    HostClass {
                        weight,
                        v: 0.0,
                        finish: Default::default(),
                        rate: 1.0,
                    },
                );
                at
            }
        };
        let c = &mut self.classes[ci];
        let at = c.v + work as f64;
        c.finish.push(std::cmp::Reverse((at.to_bits(), id)));
        self.set_rates();
        self.wake(now).unwrap_or((now, self.gen))
    }

    /// The time the earliest job is done, under a new generation.
    fn wake(&mut self, now: Nanos) -> Option<(Nanos, u32)> {
        self.gen = self.gen.wrapping_add(1);
        let dt = self
            .classes
            .iter()
            .filter_map(|c| {
                let std::cmp::Reverse((bits, _)) = c.finish.peek()?;
                Some(((f64::from_bits(*bits) - c.v).max(0.0) / c.rate).ceil())
            })
            .reduce(f64::min)?;
        Some((now.saturating_add(dt as Nanos), self.gen))
    }

    /// Takes out the jobs done by now (their ids into `done`).
    fn take_done(&mut self, now: Nanos, done: &mut Vec<u32>) {
        self.advance(now);
        for c in self.classes.iter_mut() {
            let tol = c.v * 1e-12 + 1e-6;
            while let Some(std::cmp::Reverse((bits, id))) = c.finish.peek().copied() {
                if f64::from_bits(bits) > c.v + tol {
                    break;
                }
                c.finish.pop();
                done.push(id);
            }
        }
        self.set_rates();
    }
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
        let mut users = Vec::new();
        for (i, s) in net.sources.iter().enumerate() {
            match &s.closed {
                None => {
                    let first = s.interarrival.sample(&mut rng);
                    q.schedule(first, Ev::Source(i as u32));
                }
                Some(c) => {
                    for _ in 0..c.users {
                        let u = users.len() as u32;
                        users.push(i as u32);
                        let first = c.think.sample(&mut rng);
                        q.schedule(first, Ev::Think(u));
                    }
                }
            }
        }
        let mut join_ix = vec![NONE; net.stations.len()];
        let mut joins = Vec::new();
        for (i, st) in net.stations.iter().enumerate() {
            if st.join.is_some() {
                join_ix[i] = joins.len() as u32;
                joins.push(JoinStats {
                    station: i as u32,
                    ..JoinStats::default()
                });
            }
        }
        let read_targets: Vec<bool> = {
            let mut v = vec![false; net.stations.len()];
            for st in &net.stations {
                for r in &st.reads {
                    v[*r as usize] = true;
                }
            }
            v
        };
        let fast = net
            .stations
            .iter()
            .zip(&read_targets)
            .map(|(s, read_target)| {
                !read_target
                    && s.join.is_none()
                    && s.batch.is_none()
                    && s.reads.is_empty()
                    && s.fork_join.is_none()
                    && s.role == SimRole::Plain
                    && !s.keyed
                    && match &s.routing {
                        Routing::All(h) => {
                            h.len() <= 1 && h.iter().all(|h| !h.read_only && !h.reply && !h.read)
                        }
                        Routing::Choose { hops, .. } => {
                            hops.iter().all(|h| !h.read_only && !h.reply && !h.read)
                        }
                        Routing::Sink => true,
                    }
            })
            .collect();
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
            fast,
            forks: Vec::new(),
            free_forks: Vec::new(),
            user_sent: vec![0; users.len()],
            key_scratch: Vec::new(),
            users,
            reqs: Vec::new(),
            free_reqs: Vec::new(),
            track_reqs: net.sources.iter().any(|s| s.closed.is_some())
                || net
                    .stations
                    .iter()
                    .any(|s| matches!(&s.routing, Routing::All(h) if h.len() > 1)),
            last_outcome: 0,
            outcomes_from_sinks: net.sources.len() == 1
                && net.sources.iter().all(|s| s.closed.is_none())
                && !net.stations.iter().any(|s| {
                    matches!(&s.routing, Routing::All(h) if h.len() > 1)
                        || match &s.routing {
                            Routing::All(h) | Routing::Choose { hops: h, .. } => {
                                h.iter().any(|h| h.reply || h.read || h.write)
                            }
                            Routing::Sink => false,
                        }
                        || !s.reads.is_empty()
                }),
            join_ix,
            joins,
            outcomes: Vec::new(),
            cycles: vec![0; net.sources.len()],
            batch_of: Vec::new(),
            batch_left: Vec::new(),
            free_batches: Vec::new(),
            batch_scratch: Vec::new(),
            host: net.host_cores.map(Host::new),
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
                Ev::Think(u) => self.think_done(u),
                Ev::JoinTimeout(f, gen) => self.join_timeout(f, gen),
                Ev::Rested(s) => self.rested(s),
                Ev::HostDone(gen) => self.host_done(gen),
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
        for j in &mut self.joins {
            j.fork_join.flush();
        }
        if self.outcomes_from_sinks {
            if let Some(src) = self.net.sources.first() {
                let lane = self.net.stations[src.station as usize].lane;
                for (i, k) in self.sinks.iter().enumerate() {
                    let st = &self.net.stations[i];
                    if let Some(k) = k {
                        if k.count > 0 && (!src.lane_outcomes || st.lane == lane) {
                            self.outcomes.push(OutcomeStats {
                                source: 0,
                                station: i as u32,
                                latency: k.clone(),
                            });
                        }
                    }
                }
            }
        }
        for o in &mut self.outcomes {
            o.latency.flush();
        }
        if let Some(c) = &mut self.cqrs {
            c.stats.confirm.flush();
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
            joins: self.joins,
            outcomes: self.outcomes,
            cycles: self.cycles,
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
        let mut tok = Token::new(now, key, kind);
        tok.src = i as u16;
        if self.track_reqs {
            tok.req = self.new_req(NONE);
        }
        let station = src.station;
        let slot = self.toks.alloc(tok);
        self.send_request(now, station, slot);
    }

    /// A request enters at `station`: at once, or, with a client on the host's cores
    /// (`[host] client`), once the client has spent its CPU sending it (a job on the cores
    /// the request waits for, as it waits for the client in a real run). A client that
    /// finds no other client job on the cores wakes first (`[host] client_wakeup`). Then
    /// it is in transit for `[host] transport`, off the cores.
    #[inline]
    fn send_request(&mut self, now: Nanos, station: u32, slot: u32) {
        let mut work = match &self.net.host_client {
            Some(d) => d.sample(&mut self.rng),
            None => 0,
        };
        if let (Some(d), Some(h)) = (&self.net.host_client_wakeup, &self.host) {
            if h.clients == 0 {
                work = work.saturating_add(d.sample(&mut self.rng));
            }
        }
        let threads = self.net.host_client_threads;
        match self.host.as_mut() {
            // Every client thread busy: the send waits for one.
            Some(h) if work > 0 && threads.is_some_and(|t| h.clients >= t) => {
                h.client_queue.push_back((station, slot, work));
            }
            Some(h) if work > 0 => {
                let (at, gen) = h.admit(now, station, &[slot], work, 1.0, true, 0);
                self.q.schedule(at, Ev::HostDone(gen));
            }
            _ => match transit(self.net, &mut self.rng) {
                0 => self.arrive(station, slot, true),
                d => self
                    .q
                    .schedule(now.saturating_add(d), Ev::Arrive(station, slot)),
            },
        }
    }

    #[inline]
    fn new_req(&mut self, user: u32) -> u32 {
        let r = ReqRec {
            copies: 1,
            responded: false,
            user,
        };
        match self.free_reqs.pop() {
            Some(i) => {
                self.reqs[i as usize] = r;
                i
            }
            None => {
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// One copy of a request ended. The last one frees it; a closed-loop user that got no
    /// reply thinks again now.
    #[inline]
    fn copy_ended(&mut self, req: u32) {
        if req == NONE {
            return;
        }
        let r = &mut self.reqs[req as usize];
        r.copies -= 1;
        if r.copies == 0 {
            let (user, responded) = (r.user, r.responded);
            self.free_reqs.push(req);
            if user != NONE && !responded {
                self.user_think(user);
            }
        }
    }

    fn user_think(&mut self, u: u32) {
        let now = self.q.now();
        let src = self.users[u as usize];
        if now > self.warmup {
            self.cycles[src as usize] += 1;
        }
        if let Some(c) = &self.net.sources[src as usize].closed {
            let think = c.think.sample(&mut self.rng);
            self.q.schedule(now.saturating_add(think), Ev::Think(u));
        }
    }

    /// A closed-loop user ends thinking: its next request enters at the source's station.
    fn think_done(&mut self, u: u32) {
        let now = self.q.now();
        let si = self.users[u as usize];
        let src = &self.net.sources[si as usize];
        let nth = self.user_sent[u as usize];
        self.user_sent[u as usize] += 1;
        let key = src
            .key
            .sample_user(&mut self.rng, self.serial, u, self.users.len() as u32, nth);
        self.serial += 1;
        let mut tok = Token::new(now, key, TokenKind::Message);
        tok.src = si as u16;
        tok.req = self.new_req(u);
        let station = src.station;
        let slot = self.toks.alloc(tok);
        self.send_request(now, station, slot);
    }

    /// The request of `slot` is answered at station `s` (a sink, or a reply entering its
    /// lane): record its latency by source and outcome, once per request. Only stations of
    /// the source's own lane answer, unless that lane has none.
    fn respond(&mut self, s: u32, slot: u32) {
        if self.outcomes_from_sinks {
            return;
        }
        let tok = self.toks.v[slot as usize];
        let answered = if tok.req == NONE {
            tok.flags & RESPONDED != 0
        } else {
            self.reqs[tok.req as usize].responded
        };
        if answered {
            return;
        }
        let src = tok.src as u32;
        let source = &self.net.sources[src as usize];
        if source.lane_outcomes
            && self.net.stations[s as usize].lane != self.net.stations[source.station as usize].lane
        {
            return;
        }
        let user = if tok.req == NONE {
            self.toks.v[slot as usize].flags |= RESPONDED;
            NONE
        } else {
            let r = &mut self.reqs[tok.req as usize];
            r.responded = true;
            r.user
        };
        if tok.origin >= self.warmup {
            let lat = self.q.now() - tok.origin;
            let last = self.last_outcome;
            let hit = self
                .outcomes
                .get(last)
                .is_some_and(|o| o.source == src && o.station == s);
            let i = match hit {
                true => last,
                false => match self
                    .outcomes
                    .iter()
                    .position(|o| o.source == src && o.station == s)
                {
                    Some(i) => i,
                    None => {
                        self.outcomes.push(OutcomeStats {
                            source: src,
                            station: s,
                            latency: LatStats::default(),
                        });
                        self.outcomes.len() - 1
                    }
                },
            };
            self.last_outcome = i;
            self.outcomes[i].latency.record(lat);
        }
        if user != NONE {
            self.user_think(user);
        }
    }

    /// A part of a fork reached its join station `s`. Returns the token to go on with, if the
    /// join is complete.
    fn join_part(&mut self, s: u32, slot: u32) -> Option<u32> {
        let f = self.toks.v[slot as usize].fork;
        let rec = &mut self.forks[f as usize];
        rec.remaining -= 1;
        if rec.done {
            let last = rec.remaining == 0;
            self.absorb(slot);
            if last {
                self.free_forks.push(f);
            }
            return None;
        }
        if rec.remaining > 0 {
            if rec.carrier == NONE {
                rec.carrier = slot;
                if let Some(t) = self.net.stations[s as usize]
                    .join
                    .as_ref()
                    .and_then(|j| j.timeout.as_ref())
                {
                    let d = t.sample(&mut self.rng);
                    let gen = rec.gen;
                    let at = self.q.now().saturating_add(d);
                    self.q.schedule(at, Ev::JoinTimeout(f, gen));
                }
            } else {
                self.absorb(slot);
            }
            return None;
        }
        // Complete.
        let carrier = rec.carrier;
        let out = if carrier == NONE {
            slot
        } else {
            self.absorb(slot);
            carrier
        };
        self.finish_join(f, out, false);
        Some(out)
    }

    /// Record a join and hand the carrier back its parent fork.
    fn finish_join(&mut self, f: u32, out: u32, partial: bool) {
        let now = self.q.now();
        let rec = self.forks[f as usize];
        let ji = self.join_ix[rec.join as usize];
        if ji != NONE {
            let j = &mut self.joins[ji as usize];
            if rec.started >= self.warmup {
                j.fork_join.record(now - rec.started);
                j.joined += 1;
                if partial {
                    j.partial += 1;
                }
            }
        }
        self.toks.v[out as usize].fork = rec.parent;
        if partial {
            self.forks[f as usize].done = true;
            self.forks[f as usize].carrier = NONE;
        } else {
            self.forks[f as usize].gen = rec.gen.wrapping_add(1);
            self.free_forks.push(f);
        }
    }

    fn join_timeout(&mut self, f: u32, gen: u32) {
        let rec = self.forks[f as usize];
        if rec.gen != gen || rec.done || rec.carrier == NONE || rec.remaining == 0 {
            return;
        }
        let carrier = rec.carrier;
        self.finish_join(f, carrier, true);
        self.forks[f as usize].gen = gen.wrapping_add(1);
        self.arrive_inner(rec.join, carrier, false);
    }

    /// A part merged into its join's carrier: its slot is freed; a closed-loop user has one
    /// copy fewer in flight.
    fn absorb(&mut self, slot: u32) {
        let req = self.toks.v[slot as usize].req;
        self.copy_ended(req);
        self.toks.free(slot);
    }

    /// A part of a fork ended before its join: the join waits for one part fewer (and, when
    /// nothing arrived at all, its own fork loses a part in turn).
    fn part_lost(&mut self, mut f: u32) {
        while f != NONE {
            let rec = &mut self.forks[f as usize];
            rec.remaining -= 1;
            if rec.remaining > 0 {
                return;
            }
            if rec.done {
                self.free_forks.push(f);
                return;
            }
            let carrier = rec.carrier;
            let parent = rec.parent;
            if carrier != NONE {
                let join = rec.join;
                self.finish_join(f, carrier, true);
                let rec = &mut self.forks[f as usize];
                rec.done = false;
                rec.gen = rec.gen.wrapping_add(1);
                self.free_forks.push(f);
                self.arrive_inner(join, carrier, false);
                return;
            }
            self.forks[f as usize].gen = self.forks[f as usize].gen.wrapping_add(1);
            self.free_forks.push(f);
            f = parent;
        }
    }

    fn new_fork(&mut self, join: u32, parts: u32, parent: u32) -> u32 {
        let now = self.q.now();
        let rec = ForkRec {
            join,
            remaining: parts,
            carrier: NONE,
            parent,
            started: now,
            done: false,
            gen: 0,
        };
        match self.free_forks.pop() {
            Some(f) => {
                let gen = self.forks[f as usize].gen.wrapping_add(1);
                self.forks[f as usize] = ForkRec { gen, ..rec };
                f
            }
            None => {
                self.forks.push(rec);
                (self.forks.len() - 1) as u32
            }
        }
    }

    #[inline(always)]
    fn arrive(&mut self, s: u32, slot: u32, tail: bool) {
        if !self.fast[s as usize] {
            let spec = &self.net.stations[s as usize];
            let tok = self.toks.v[slot as usize];
            if spec.join.is_some() && tok.fork != NONE && self.forks[tok.fork as usize].join == s {
                match self.join_part(s, slot) {
                    Some(out) => return self.arrive_inner(s, out, false),
                    None => return,
                }
            }
            if !spec.reads.is_empty() && tok.ret == NONE && tok.flags & READ_DONE == 0 {
                // Read a store first, then come back to be served here.
                let store = match tok.kind {
                    TokenKind::Read { view } => self
                        .net
                        .cqrs
                        .as_ref()
                        .and_then(|c| c.views.get(view as usize))
                        .map(|v| v.0)
                        .filter(|v| spec.reads.contains(v)),
                    TokenKind::Message => None,
                };
                let store = store.unwrap_or_else(|| {
                    if spec.reads.len() == 1 {
                        spec.reads[0]
                    } else {
                        spec.reads[self.rng.gen_range(0..spec.reads.len())]
                    }
                });
                let t = &mut self.toks.v[slot as usize];
                t.ret = s;
                return self.arrive_inner(store, slot, tail);
            }
        }
        self.arrive_inner(s, slot, tail)
    }

    #[inline]
    fn arrive_inner(&mut self, s: u32, slot: u32, tail: bool) {
        let now = self.q.now();
        let spec = &self.net.stations[s as usize];
        let st = &mut self.st[s as usize];
        let tok = &mut self.toks.v[slot as usize];
        tok.arrived = now;
        if spec.service.is_zero()
            && self.fast[s as usize]
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
            self.start(s, slot, tail, true);
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

    /// A server of station `s` takes `slot`; `woke`: it was idle (or resting), so the
    /// station's wake-up time is added.
    #[inline]
    fn start(&mut self, s: u32, slot: u32, tail: bool, woke: bool) {
        let now = self.q.now();
        let spec = &self.net.stations[s as usize];
        if let Some(b) = &spec.batch {
            return self.start_batch(s, slot, b.max, woke);
        }
        let st = &mut self.st[s as usize];
        let tok = &mut self.toks.v[slot as usize];
        tok.started = now;
        self.events += 1;
        st.busy += 1;
        st.stats.starts_total += 1;
        if spec.keyed {
            st.keys.push(tok.key);
        }
        // A store's read (a token visiting to read, to return where it came from) takes the
        // store's read time where it has one.
        let mut d = match &spec.read_service {
            Some(r) if tok.ret != NONE => r.sample(&mut self.rng),
            _ => spec.service.sample(&mut self.rng),
        };
        if woke {
            if let Some(w) = &spec.wakeup {
                let x = w.sample(&mut self.rng);
                d = d.saturating_add(x);
                if !spec.on_host {
                    self.off_host_cpu(now, s, x);
                }
            }
        }
        if d > 0 && spec.on_host {
            let weight = spec.weight;
            if let Some(h) = self.host.as_mut() {
                let (at, gen) = h.admit(now, s, &[slot], d, weight, false, 0);
                self.q.schedule(at, Ev::HostDone(gen));
                return;
            }
        }
        if d == 0 && tail && self.depth < MAX_INLINE && self.q.idle_now() {
            // The departure would be the very next event: run it now, skipping the queue.
            self.depth += 1;
            self.depart(s, slot, true);
            self.depth -= 1;
        } else {
            self.q.schedule(now.saturating_add(d), Ev::Depart(s, slot));
        }
    }

    /// A free server of batch station `s` takes `slot` and up to `max - 1` more waiting tokens
    /// and serves them together: one `service` draw plus one `per_item` draw per token and
    /// one `per_key` draw per distinct key among them; every
    /// member departs at the end (in the order they queued), and the server is free after the
    /// last.
    fn start_batch(&mut self, s: u32, slot: u32, max: u32, woke: bool) {
        let now = self.q.now();
        let spec = &self.net.stations[s as usize];
        let Some(b) = &spec.batch else { return };
        let st = &mut self.st[s as usize];
        let mut members = std::mem::take(&mut self.batch_scratch);
        members.clear();
        members.push(slot);
        while members.len() < max.max(1) as usize {
            match st.queue.pop_front() {
                Some(t) => members.push(t),
                None => break,
            }
        }
        let k = members.len() as u32;
        st.busy += 1;
        st.stats.starts_total += k as u64;
        self.events += k as u64;
        let mut d = spec.service.sample(&mut self.rng);
        // The items' and the wake-up's time: off the host (a commit waiting for its fsync)
        // they are still its thread's CPU on the host's cores.
        let mut cpu: Nanos = 0;
        for _ in 0..k {
            cpu = cpu.saturating_add(b.per_item.sample(&mut self.rng));
        }
        if !b.per_key.is_zero() {
            // One draw per distinct key among the members: a projector writes each
            // aggregate of its batch once, however many of its events the batch holds.
            let keys = &mut self.key_scratch;
            keys.clear();
            keys.extend(members.iter().map(|&m| self.toks.v[m as usize].key));
            keys.sort_unstable();
            keys.dedup();
            for _ in 0..keys.len() {
                cpu = cpu.saturating_add(b.per_key.sample(&mut self.rng));
            }
        }
        if woke {
            if let Some(w) = &spec.wakeup {
                cpu = cpu.saturating_add(w.sample(&mut self.rng));
            }
        }
        // Off the host with shared cores, the items' CPU runs first, on the cores (stretched
        // as they are shared: a busy host slows the inserts), then the rest of the batch
        // waits off them (the fsync).
        let cpu_first = !spec.on_host && cpu > 0 && self.host.is_some();
        let wait = d;
        d = d.saturating_add(cpu);
        let rec = match self.free_batches.pop() {
            Some(r) => {
                self.batch_left[r as usize] = k;
                r
            }
            None => {
                self.batch_left.push(k);
                (self.batch_left.len() - 1) as u32
            }
        };
        let end = now.saturating_add(d);
        let shared = d > 0 && spec.on_host && self.host.is_some();
        for &m in &members {
            if self.batch_of.len() <= m as usize {
                self.batch_of.resize(m as usize + 1, NONE);
            }
            self.batch_of[m as usize] = rec;
            self.toks.v[m as usize].started = now;
            if !shared && !cpu_first {
                self.q.schedule(end, Ev::Depart(s, m));
            }
        }
        let weight = self.net.stations[s as usize].weight;
        if cpu_first {
            if let Some(h) = self.host.as_mut() {
                let (at, gen) = h.admit(now, s, &members, cpu, weight, false, wait);
                self.q.schedule(at, Ev::HostDone(gen));
            }
        } else if !spec.on_host {
            self.off_host_cpu(now, s, cpu);
        }
        if shared {
            // The batch is one job on the shared cores; its members depart together.
            if let Some(h) = self.host.as_mut() {
                let (at, gen) = h.admit(now, s, &members, d, weight, false, 0);
                self.q.schedule(at, Ev::HostDone(gen));
            }
        }
        self.batch_scratch = members;
    }

    /// CPU that station `s`, off the host's cores (it waits, for an fsync), still spends on
    /// them (its wake-up, its items): a job of its own there, which no token waits for.
    fn off_host_cpu(&mut self, now: Nanos, s: u32, work: Nanos) {
        if work > 0 {
            let weight = self.net.stations[s as usize].weight;
            if let Some(h) = self.host.as_mut() {
                let (at, gen) = h.admit(now, s, &[], work, weight, false, 0);
                self.q.schedule(at, Ev::HostDone(gen));
            }
        }
    }

    /// The host's earliest finish point may be reached: every job done by now departs (its
    /// members, in the order they queued), and the next finish point is scheduled.
    fn host_done(&mut self, gen: u32) {
        let now = self.q.now();
        let Some(h) = self.host.as_mut() else { return };
        if gen != h.gen {
            return;
        }
        let mut done = std::mem::take(&mut self.batch_scratch);
        done.clear();
        h.take_done(now, &mut done);
        if let Some((at, gen)) = h.wake(now) {
            self.q.schedule(at, Ev::HostDone(gen));
        }
        for &id in &done {
            let job = &mut h.jobs[id as usize];
            h.clients -= u32::from(job.then_arrive);
            for &m in &job.members {
                if job.then_arrive {
                    let at = now.saturating_add(transit(self.net, &mut self.rng));
                    self.q.schedule(at, Ev::Arrive(job.station, m));
                } else {
                    let at = now.saturating_add(job.then_wait);
                    self.q.schedule(at, Ev::Depart(job.station, m));
                }
            }
            h.free.push(id);
        }
        // Client threads freed: the sends waiting for them start.
        let threads = self.net.host_client_threads.unwrap_or(u32::MAX);
        let mut admitted = None;
        while h.clients < threads {
            let Some((station, slot, work)) = h.client_queue.pop_front() else {
                break;
            };
            admitted = Some(h.admit(now, station, &[slot], work, 1.0, true, 0));
        }
        if let Some((at, gen)) = admitted {
            self.q.schedule(at, Ev::HostDone(gen));
        }
        self.batch_scratch = done;
    }

    /// A server of batch station `s` ends its rest: it is free, and takes a batch of what waits.
    fn rested(&mut self, s: u32) {
        let now = self.q.now();
        let warmup = self.warmup;
        let st = &mut self.st[s as usize];
        st.tick(now, warmup);
        st.busy -= 1;
        if let Some(next) = st.queue.pop_front() {
            // After a rest the thread wakes for the batch.
            self.start(s, next, false, true);
        }
    }

    /// A member of a batch leaves: true when it was the last, freeing the server.
    fn batch_member_done(&mut self, slot: u32) -> bool {
        let rec = self.batch_of.get(slot as usize).copied().unwrap_or(NONE);
        if rec == NONE {
            return true;
        }
        self.batch_of[slot as usize] = NONE;
        let left = &mut self.batch_left[rec as usize];
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.free_batches.push(rec);
            true
        } else {
            false
        }
    }

    #[inline]
    fn depart(&mut self, s: u32, slot: u32, tail: bool) {
        let now = self.q.now();
        let net = self.net;
        let spec = &net.stations[s as usize];
        let mut server_free = spec.batch.is_none() || self.batch_member_done(slot);
        if server_free {
            if let Some(b) = spec.batch.as_ref().filter(|b| !b.interval.is_zero()) {
                // The last member left: the server rests before it takes the next batch.
                let rest = b.interval.sample(&mut self.rng);
                self.q.schedule(now.saturating_add(rest), Ev::Rested(s));
                server_free = false;
            }
        }
        let warmup = self.warmup;
        let st = &mut self.st[s as usize];
        let tok = &mut self.toks.v[slot as usize];
        self.events += 1;
        st.tick(now, warmup);
        if server_free {
            st.busy -= 1;
        }
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
                    // The log (staleness) has the event once its commit ends; its lag
                    // counts from the commit's start, where event stores stamp an event
                    // (the generated service's `recorded_at`, set as its group commit
                    // begins, before the inserts and the fsync).
                    let (cseq, kseq) = c.commit(now, tok.key);
                    tok.commit = tok.started;
                    tok.cseq = cseq;
                    tok.kseq = kseq;
                }
            }
            SimRole::View(v) => {
                if let Some(c) = &mut self.cqrs {
                    if tok.committed() && tok.flags & WRITING != 0 {
                        let rec = tok.commit >= warmup;
                        c.apply(v as usize, now, tok, rec);
                    } else if tok.flags & WRITING == 0 && tok.origin >= warmup {
                        // A read of the view: how stale is what it sees?
                        let age = c.staleness(v as usize, now);
                        c.stats.staleness.record(age);
                    }
                }
            }
            SimRole::Notify => {
                if let (Some(c), true) = (&mut self.cqrs, tok.origin >= warmup && tok.committed()) {
                    c.stats.confirm.record(now - tok.origin);
                }
            }
            SimRole::QueryApi => {}
        }
        let key = tok.key;
        // The service answers a command once it is committed: a closed-loop user waits for
        // that, not for the projections its events go on to.
        let answered_req = match (spec.role, tok.kind) {
            (SimRole::Commit, TokenKind::Message) => tok.req,
            _ => NONE,
        };
        let next = if !server_free {
            None
        } else if spec.keyed {
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
            // Taken straight from the queue: the thread did not sleep.
            self.start(s, next, false, false);
        }
        if answered_req != NONE {
            self.answer_at_commit(answered_req);
        }
        self.route(s, slot, tail);
    }

    /// A closed-loop request's command is committed: its user has the answer and thinks.
    /// The request itself goes on (its outcomes are still recorded where it is answered);
    /// only the user is released from it, once.
    fn answer_at_commit(&mut self, req: u32) {
        let r = &mut self.reqs[req as usize];
        if !r.responded && r.user != NONE {
            let user = r.user;
            r.user = NONE;
            self.user_think(user);
        }
    }

    #[inline(always)]
    fn route(&mut self, s: u32, slot: u32, tail: bool) {
        let net = self.net;
        let spec = &net.stations[s as usize];
        // Stores that stations read are never fast, so a token back from a read is here.
        if !self.fast[s as usize] {
            return self.route_special(s, slot, tail);
        }
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

    /// Routing of stations off the fast path: returns from store reads, read-only hops,
    /// writes, replies, forks with joins.
    fn route_special(&mut self, s: u32, slot: u32, tail: bool) {
        let net = self.net;
        let spec = &net.stations[s as usize];
        let tok = &mut self.toks.v[slot as usize];
        if tok.ret != NONE {
            // Back from a store read to the station that made it.
            let back = tok.ret;
            tok.ret = NONE;
            tok.flags |= READ_DONE;
            tok.hops += 1;
            return self.arrive_inner(back, slot, tail);
        }
        tok.flags &= !READ_DONE;
        if let Some(lb) = &spec.loop_back {
            if tok.repeats < lb.max && self.rng.gen::<f64>() < lb.p {
                tok.repeats += 1;
                self.send(&Hop::new(lb.to), slot, tail);
                return;
            }
            tok.repeats = 0;
        }
        let writing = tok.flags & WRITING != 0;
        match &spec.routing {
            Routing::Sink => self.sink(s, slot),
            Routing::All(hops) => {
                // A read passing through a store goes on by its read-only hops; everything
                // else by the others.
                let reading =
                    !writing && (tok.flags & READING != 0 || hops.iter().any(|h| h.read_only));
                let takes = |h: &Hop| h.read_only == reading;
                let live: u32 = hops.iter().filter(|h| takes(h)).count() as u32;
                if live == 0 {
                    return self.sink(s, slot);
                }
                let tok = self.toks.v[slot as usize];
                if live > 1 {
                    match spec.fork_join {
                        Some(j) => {
                            let f = self.new_fork(j, live, tok.fork);
                            self.toks.v[slot as usize].fork = f;
                        }
                        None => {
                            if tok.fork != NONE {
                                self.forks[tok.fork as usize].remaining += live - 1;
                            }
                        }
                    }
                    if tok.req != NONE {
                        self.reqs[tok.req as usize].copies += live - 1;
                    }
                }
                let mut left = live;
                for h in hops.iter().filter(|h| takes(h)) {
                    left -= 1;
                    let t = if left == 0 {
                        slot
                    } else {
                        let copy = self.toks.v[slot as usize];
                        self.toks.alloc(copy)
                    };
                    self.send(h, t, tail && left == 0);
                }
            }
            Routing::Choose { cum, hops } => {
                let u: f64 = self.rng.gen();
                match cum.iter().position(|&c| u < c) {
                    Some(i) if !(writing && hops[i].read_only) => self.send(&hops[i], slot, tail),
                    Some(_) => self.sink(s, slot),
                    None => {
                        self.exits += 1;
                        self.lost(slot);
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn send(&mut self, h: &Hop, slot: u32, tail: bool) {
        if h.write || h.reply || h.read || h.read_only {
            let tok = &mut self.toks.v[slot as usize];
            if h.write {
                tok.flags |= WRITING;
            }
            if h.read {
                tok.flags |= READING;
            }
            if h.read_only {
                // Out of the store it read: the read goes on as an ordinary flow (a DTO
                // step, a reply), not as a read passing through another store.
                tok.flags &= !READING;
            }
            if h.reply {
                let src = tok.src as usize;
                let lane = self
                    .net
                    .sources
                    .get(src)
                    .map(|x| self.net.stations[x.station as usize].lane);
                if lane == Some(self.net.stations[h.to as usize].lane) {
                    self.respond(h.to, slot);
                }
            }
        }
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
        // A write or a read that ends at a read model is not a response.
        let write_end = tok.flags & (WRITING | READING) != 0
            && matches!(self.net.stations[s as usize].role, SimRole::View(_));
        if !write_end {
            self.respond(s, slot);
        }
        let tok = self.toks.v[slot as usize];
        if tok.fork != NONE {
            self.part_lost(tok.fork);
        }
        self.copy_ended(tok.req);
        if tok.origin >= self.warmup && !write_end {
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
            self.drop_token(slot);
        }
    }

    /// A token dropped or leaving by a diamond's missing share: its fork and its user stop
    /// waiting for it, then [`drop_token`](Self::drop_token).
    #[inline]
    fn lost(&mut self, slot: u32) {
        let tok = self.toks.v[slot as usize];
        if tok.fork != NONE {
            self.part_lost(tok.fork);
        }
        self.copy_ended(tok.req);
        self.drop_token(slot);
    }

    /// A token ends without reaching a view: when it is its request's last copy, views stop
    /// waiting for its event. Frees its slot.
    #[inline]
    fn drop_token(&mut self, slot: u32) {
        let tok = &self.toks.v[slot as usize];
        // Only the request's last copy gives up on the views: another copy may still reach
        // them (the ACK copy of a write ends at the client while the event goes on).
        let last = tok.req == NONE || self.reqs[tok.req as usize].copies == 0;
        if tok.committed() && last {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(h: &Host) -> Vec<(f64, f64)> {
        h.classes.iter().map(|c| (c.weight, c.rate)).collect()
    }

    #[test]
    fn weighted_sharing_gives_no_job_more_than_a_core_and_the_rest_by_weight() {
        let nice10 = 1.25f64.powi(-10);
        // Two cores, one job of each weight: each has a core, whatever its weight.
        let mut h = Host::new(2.0);
        h.admit(0, 0, &[], 1_000_000, 1.0, false, 0);
        h.admit(0, 1, &[], 1_000_000, nice10, false, 0);
        assert_eq!(rates(&h), [(1.0, 1.0), (nice10, 1.0)]);
        // Three heavy jobs and one light on two cores: 2 / (3 + 0.107) of a core each for
        // the heavy ones, 0.107 of that for the light one; all of the two cores in use.
        h.admit(0, 2, &[], 1_000_000, 1.0, false, 0);
        h.admit(0, 3, &[], 1_000_000, 1.0, false, 0);
        let share = 2.0 / (3.0 + nice10);
        let r = rates(&h);
        assert!((r[0].1 - share).abs() < 1e-12, "{r:?}");
        assert!((r[1].1 - share * nice10).abs() < 1e-12, "{r:?}");
        assert!((3.0 * r[0].1 + r[1].1 - 2.0).abs() < 1e-12, "{r:?}");
        // One heavy and two light on two cores: the heavy one is held to a core, the light
        // ones share the other.
        let mut h = Host::new(2.0);
        h.admit(0, 0, &[], 1_000_000, 1.0, false, 0);
        h.admit(0, 1, &[], 1_000_000, nice10, false, 0);
        h.admit(0, 2, &[], 1_000_000, nice10, false, 0);
        assert_eq!(rates(&h), [(1.0, 1.0), (nice10, 0.5)]);
    }
}
