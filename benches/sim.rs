//! `fz sim` engine benchmark, all measured in one run on this machine:
//!
//! 1. a bare binary-heap loop with nothing but the queueing logic (the ceiling);
//! 2. the fz engine on the same models, lowered from `tests/fixtures/sim/*.fz` + profile,
//!    single-threaded, then through the tokio replication runner;
//! 3. the rejected design: one tokio task per station, channels between them, tokio's paused
//!    clock (`start_paused`) for virtual time;
//! 4. SimPy (`simpy_net.py`, when found) on the same models, at shorter durations;
//! 5. replications scaling over worker threads, and peak memory against run length.
//!
//! `cargo bench --bench sim` (`-- --quick` for short runs, `-- --no-simpy` to skip Python).
//! Rates are simulated seconds per wall-clock second, the same work whatever each counts as an
//! event; the event loop alone is timed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use rand_pcg::Pcg64Mcg;

use fz::sim::engine::{Engine, RunConfig};
use fz::sim::lower::{lower, LowerOptions};
use fz::sim::network::Network;
use fz::sim::profile::Profile;
use fz::sim::replicate::run_replications;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sim");
const SIMPY: &str = "../shared/bench/simpy_net.py";
const MODELS_JSON: &str = "../shared/bench/models";

/// The ceiling: a binary heap of `(time, seq, what)`, a FIFO of `(arrived, origin)` per
/// station, Poisson arrivals into station 0, exponential service, stations in series.
/// Returns (events, wall seconds, mean end-to-end in seconds).
fn bare_loop(stations: usize, lambda: f64, mu: f64, duration_s: f64, seed: u64) -> (u64, f64, f64) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let end = (duration_s * 1e9) as u64;
    let ia = 1e9 / lambda;
    let sv = 1e9 / mu;
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::new();
    let mut queues: Vec<VecDeque<(u64, u64)>> = vec![VecDeque::new(); stations];
    let mut in_service: Vec<Option<(u64, u64)>> = vec![None; stations];
    let mut seq = 0u64;
    let mut events = 0u64;
    let (mut e2e_sum, mut e2e_n) = (0u128, 0u64);
    let mut resp_sum = vec![0u128; stations];
    let exp = |rng: &mut Pcg64Mcg, mean: f64| -> u64 {
        let e: f64 = Exp1.sample(rng);
        (e * mean + 0.5) as u64
    };
    heap.push(Reverse((exp(&mut rng, ia), 0, u32::MAX)));
    let t0 = Instant::now();
    while let Some(Reverse((now, _, what))) = heap.pop() {
        if now >= end {
            break;
        }
        // (station, arrived, origin) to arrive now, if any
        let mut arriving = None;
        if what == u32::MAX {
            seq += 1;
            heap.push(Reverse((now + exp(&mut rng, ia), seq, u32::MAX)));
            arriving = Some((0usize, now));
        } else {
            let i = what as usize;
            events += 1; // service end
            if let Some((arr, origin)) = in_service[i].take() {
                resp_sum[i] += (now - arr) as u128;
                if let Some((a2, o2)) = queues[i].pop_front() {
                    events += 1; // start
                    in_service[i] = Some((a2, o2));
                    seq += 1;
                    heap.push(Reverse((now + exp(&mut rng, sv), seq, i as u32)));
                }
                if i + 1 < stations {
                    arriving = Some((i + 1, origin));
                } else {
                    e2e_sum += (now - origin) as u128;
                    e2e_n += 1;
                }
            }
        }
        if let Some((i, origin)) = arriving {
            events += 1; // arrival
            if in_service[i].is_none() {
                events += 1; // start
                in_service[i] = Some((now, origin));
                seq += 1;
                heap.push(Reverse((now + exp(&mut rng, sv), seq, i as u32)));
            } else {
                queues[i].push_back((now, origin));
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    std::hint::black_box(&resp_sum);
    (events, wall, e2e_sum as f64 / e2e_n.max(1) as f64 / 1e9)
}

fn network(name: &str) -> Network {
    let text = std::fs::read_to_string(format!("{FIX}/{name}.fz")).expect("fixture");
    let checked = fz::model::check(&text);
    let ptext = std::fs::read_to_string(format!("{FIX}/{name}.sim.toml")).expect("profile");
    let profile = Profile::parse(name, &ptext).expect("profile parses");
    lower(&checked.diagram, &profile, &LowerOptions::default())
        .expect("lowers")
        .network
}

/// The fz engine, single-threaded, no tokio: (events, loop wall seconds, end-to-end mean).
fn fz_engine(net: &Network, duration_s: f64, seed: u64) -> (u64, f64, f64) {
    let cfg = RunConfig {
        duration: (duration_s * 1e9) as u64,
        warmup: 0,
        series_points: 0,
    };
    let r = Engine::new(net, &cfg, seed).run();
    (
        r.events,
        r.wall_seconds,
        r.end_to_end.mean_s().unwrap_or(f64::NAN),
    )
}

/// The fz engine through the tokio replication runner (what `fz sim` does).
fn fz_tokio(
    net: &Arc<Network>,
    duration_s: f64,
    reps: usize,
    threads: usize,
    seed: u64,
) -> (u64, f64) {
    let cfg = RunConfig {
        duration: (duration_s * 1e9) as u64,
        warmup: 0,
        series_points: 0,
    };
    let t0 = Instant::now();
    let r =
        run_replications(Arc::clone(net), &cfg, seed, reps, Some(threads), None).expect("runtime");
    let wall = t0.elapsed().as_secs_f64();
    (r.iter().map(|x| x.events).sum(), wall)
}

/// The rejected design: a tokio task per station, unbounded channels between them, service
/// as `tokio::time::sleep` on the paused clock (auto-advance). Returns
/// (events, wall seconds, mean end-to-end seconds).
fn tokio_tasks(
    stations: usize,
    lambda: f64,
    mu: f64,
    duration_s: f64,
    seed: u64,
) -> (u64, f64, f64) {
    use tokio::sync::mpsc;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let start = tokio::time::Instant::now();
        let end = start + Duration::from_secs_f64(duration_s);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<tokio::time::Instant>();
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..stations {
            let (tx, rx) = mpsc::unbounded_channel::<tokio::time::Instant>();
            senders.push(tx);
            receivers.push(rx);
        }
        let events = Arc::new(std::sync::atomic::AtomicU64::new(0));
        for (i, mut rx) in receivers.into_iter().enumerate() {
            let next = senders.get(i + 1).cloned();
            let done = done_tx.clone();
            let ev = Arc::clone(&events);
            let mut rng = Pcg64Mcg::seed_from_u64(seed + 1 + i as u64);
            tokio::spawn(async move {
                while let Some(origin) = rx.recv().await {
                    ev.fetch_add(3, std::sync::atomic::Ordering::Relaxed); // arrival, start, end
                    let e: f64 = Exp1.sample(&mut rng);
                    tokio::time::sleep(Duration::from_nanos((e * 1e9 / mu) as u64)).await;
                    match &next {
                        Some(n) => drop(n.send(origin)),
                        None => drop(done.send(origin)),
                    }
                }
            });
        }
        drop(done_tx);
        let first = senders[0].clone();
        drop(senders);
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let t0 = Instant::now();
        let src = tokio::spawn(async move {
            loop {
                let e: f64 = Exp1.sample(&mut rng);
                tokio::time::sleep(Duration::from_nanos((e * 1e9 / lambda) as u64)).await;
                if tokio::time::Instant::now() >= end {
                    break;
                }
                let _ = first.send(tokio::time::Instant::now());
            }
        });
        let (mut sum, mut n) = (0.0, 0u64);
        while let Ok(Some(origin)) = tokio::time::timeout_at(end, done_rx.recv()).await {
            sum += (tokio::time::Instant::now() - origin).as_secs_f64();
            n += 1;
        }
        src.abort();
        let wall = t0.elapsed().as_secs_f64();
        (
            events.load(std::sync::atomic::Ordering::Relaxed),
            wall,
            sum / n.max(1) as f64,
        )
    })
}

/// CPU seconds used by finished child processes so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes one rusage we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// SimPy on the same model: (simulated seconds, loop wall seconds, events, process CPU seconds
/// including interpreter start-up).
fn simpy(model: &str, duration: f64) -> Option<(f64, f64, u64, f64)> {
    let script = std::path::Path::new(SIMPY);
    if !script.exists() {
        return None;
    }
    let c0 = children_cpu();
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(format!("{MODELS_JSON}/{model}.json"))
        .args(["--duration", &duration.to_string(), "--warmup", "5"])
        .output()
        .ok()?;
    let c = children_cpu() - c0;
    if !out.status.success() {
        eprintln!("simpy failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((
        duration,
        v["wall_seconds"].as_f64()?,
        v["events"].as_u64()?,
        c,
    ))
}

/// CPU time of this thread, in seconds (robust to other processes taking the cores).
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Run `f` and also return the thread CPU seconds it took.
fn cpu<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let c0 = thread_cpu();
    let r = f();
    (r, thread_cpu() - c0)
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
}

/// Run `n` times; keep the run with the least thread CPU time: (events, wall, extra, CPU).
fn best_of<T>(n: usize, mut f: impl FnMut() -> (u64, f64, T)) -> (u64, f64, T, f64) {
    let ((e, w, x), c) = cpu(&mut f);
    let mut best = (e, w, x, c);
    for _ in 1..n {
        let ((e, w, x), c) = cpu(&mut f);
        if c < best.3 {
            best = (e, w, x, c);
        }
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let no_simpy = args.iter().any(|a| a == "--no-simpy");
    let scale = if quick { 0.1 } else { 1.0 };
    if let Some(i) = args.iter().position(|a| a == "--engine-only") {
        // Interleaved engine vs bare loop on one model, for profiling and quick comparisons:
        // `--rounds N` pairs of runs (default 3) of `--seconds S` simulated each (default 1000),
        // then the best of each by CPU time and their ratio. On a shared machine, many short
        // rounds (say `--rounds 40 --seconds 50`) find the undisturbed speed of both.
        let name = args.get(i + 1).map_or("mm1", String::as_str);
        let opt = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|j| args.get(j + 1))
                .and_then(|v| v.parse::<f64>().ok())
        };
        let rounds = opt("--rounds").map_or(3, |r| r.max(1.0) as usize);
        let secs = opt("--seconds").unwrap_or(1000.0);
        let (stations, lambda) = if name == "mm1" {
            (1, 900.0)
        } else {
            (5, 800.0)
        };
        let net = network(name);
        // Best (least) wall and CPU seconds of each, and the events each counts.
        let mut best = [(f64::INFINITY, f64::INFINITY, 0u64); 2];
        for _ in 0..rounds {
            let ((eb, wb, _), cb) = cpu(|| bare_loop(stations, lambda, 1000.0, secs, 1));
            let ((ee, we, _), ce) = cpu(|| fz_engine(&net, secs, 1));
            for (k, (e, w, c)) in [(eb, wb, cb), (ee, we, ce)].into_iter().enumerate() {
                best[k] = (best[k].0.min(w), best[k].1.min(c), e);
            }
            if rounds <= 10 {
                println!(
                    "{name}: wall: bare {:.0} sim-s/s, fz {:.0}, ratio {:.2}; CPU: bare {:.0}, fz {:.0}, ratio {:.2}",
                    secs / wb,
                    secs / we,
                    we / wb,
                    secs / cb,
                    secs / ce,
                    ce / cb
                );
            }
        }
        let [(wb, cb, eb), (we, ce, ee)] = best;
        println!(
            "{name}: best of {rounds} ({secs} s simulated each): bare {:.0} sim-s/s wall, {:.0} CPU, {:.1} CPU ns/event ({eb} events); \
             fz {:.0} sim-s/s wall, {:.0} CPU, {:.1} CPU ns/event ({ee} events); bare/fz wall {:.2}x, CPU {:.2}x",
            secs / wb,
            secs / cb,
            cb * 1e9 / eb as f64,
            secs / we,
            secs / ce,
            ce * 1e9 / ee as f64,
            we / wb,
            ce / cb
        );
        return;
    }
    let runs = if quick { 1 } else { 3 };

    println!("# fz sim engine benchmark ({runs} runs each, the one with least CPU kept)\n");
    println!("Rates in simulated seconds per second of the event loop, by wall clock and by the thread's CPU time.\n");
    println!("| model | implementation | simulated s | events | loop wall s | sim s per wall s | CPU s | sim s per CPU s | end-to-end mean |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut rates = std::collections::BTreeMap::new();
    for (name, stations, lambda, dur) in [
        ("mm1", 1usize, 900.0, 2000.0),
        ("tandem5", 5, 800.0, 1000.0),
    ] {
        let dur = dur * scale;
        let net = network(name);
        let row = |what: &str, d: f64, ev: u64, wall: f64, c: f64, e2e: Option<f64>| {
            let e = e2e.map_or(String::new(), |x| format!("{:.3} ms", x * 1e3));
            let (cs, cr) = if c.is_nan() {
                ("-".to_string(), "-".to_string())
            } else {
                (format!("{c:.3}"), format!("{:.0}", d / c))
            };
            println!(
                "| {name} | {what} | {d} | {ev} | {wall:.3} | {:.0} | {cs} | {cr} | {e} |",
                d / wall
            );
        };
        let (ev, wall, e2e, c) = best_of(runs, || bare_loop(stations, lambda, 1000.0, dur, 1));
        row("bare binary-heap loop", dur, ev, wall, c, Some(e2e));
        let bare = (dur / wall, dur / c);
        let (ev, wall, e2e, c) = best_of(runs, || fz_engine(&net, dur, 1));
        row("fz engine, 1 thread", dur, ev, wall, c, Some(e2e));
        let eng = (dur / wall, dur / c);
        let arc = Arc::new(net);
        let (ev, wall, _, _) = best_of(runs, || {
            let (e, w) = fz_tokio(&arc, dur, 1, 1, 1);
            (e, w, ())
        });
        let c = f64::NAN; // the loop runs on a tokio worker thread, not this one
        row(
            "fz through the tokio replication runner (1 worker; wall = whole call)",
            dur,
            ev,
            wall,
            c,
            None,
        );
        let tdur: f64 = if quick { 5.0 } else { 30.0 };
        let tdur = tdur.min(dur);
        let (ev, wall, e2e, c) = best_of(1, || tokio_tasks(stations, lambda, 1000.0, tdur, 1));
        row(
            "tokio task per station + channels, paused clock",
            tdur,
            ev,
            wall,
            c,
            Some(e2e),
        );
        let tt = tdur / c;
        let mut py = None;
        if !no_simpy {
            let pdur = if quick {
                10.0
            } else if name == "mm1" {
                80.0
            } else {
                40.0
            };
            if let Some((d, w, ev, c)) = simpy(name, pdur) {
                py = Some((d / w, d / c));
                println!(
                    "| {name} | SimPy 4.1.2 (simpy_net.py; CPU = whole process) | {d} | {ev} | {w:.3} | {:.1} | {c:.3} | {:.1} | |",
                    d / w,
                    d / c
                );
            }
        }
        rates.insert(name, (bare, eng, tt, py));
    }
    println!("\n| model | fz / SimPy (wall) | fz / SimPy (CPU) | bare loop / SimPy (wall) | bare loop / fz (wall) | bare loop / fz (CPU) | fz / tokio-task-per-station (CPU) |");
    println!("|---|---|---|---|---|---|---|");
    for (name, (bare, eng, tt, py)) in &rates {
        let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.0}x"));
        println!(
            "| {name} | {} | {} | {} | {:.2}x | {:.2}x | {:.0}x |",
            f(py.map(|p| eng.0 / p.0)),
            f(py.map(|p| eng.1 / p.1)),
            f(py.map(|p| bare.0 / p.0)),
            bare.0 / eng.0,
            bare.1 / eng.1,
            eng.1 / tt
        );
    }

    // Replications over worker threads (tandem5, 4 replications).
    let net = Arc::new(network("tandem5"));
    let dur = 200.0 * scale;
    println!("\n| replications | worker threads | wall s | sim s per wall s (all replications) |\n|---|---|---|---|");
    for threads in [1usize, 2] {
        let (_, wall) = fz_tokio(&net, dur, 4, threads, 1);
        println!("| 4 | {threads} | {wall:.3} | {:.0} |", 4.0 * dur / wall);
    }

    // Memory against run length: the peak must not grow with simulated time.
    let mm1 = network("mm1");
    let before = peak_rss_kb();
    let _ = fz_engine(&mm1, 100.0 * scale, 2);
    let short = peak_rss_kb();
    let _ = fz_engine(&mm1, 3000.0 * scale, 3);
    let long = peak_rss_kb();
    println!(
        "\nPeak RSS (VmHWM): before {:?} kB, after {} s simulated {:?} kB, after {} s simulated {:?} kB",
        before,
        100.0 * scale,
        short,
        3000.0 * scale,
        long
    );
}
