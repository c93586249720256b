//! The simulator against queueing theory: the bench models (`tests/fixtures/sim/`) run through
//! the whole pipeline (diagram + profile -> network -> engine -> report) and are held against
//! exact Jackson-network answers computed here from the models' JSON form, independently of the
//! simulator's own lowering. Fixed seeds; each run is long enough that the tolerance is about
//! three standard errors wide, so a wrong engine fails.

use std::collections::BTreeMap;
use std::sync::Arc;

use fz::sim::engine::RunConfig;
use fz::sim::lower::{lower, LowerOptions};
use fz::sim::profile::Profile;
use fz::sim::replicate::run_replications;
use fz::sim::report::{Meta, Report};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sim");

/// Exact per-node answers: (throughput, utilisation, mean response), and the end-to-end mean.
struct Exact {
    nodes: BTreeMap<String, (f64, f64, f64)>,
    end_to_end: f64,
}

fn mmc(lam: f64, mu: f64, c: u32) -> (f64, f64, f64) {
    // (rho, L, W) of an M/M/c queue.
    let a = lam / mu;
    let rho = a / c as f64;
    assert!(rho < 1.0, "unstable");
    let mut head = 0.0;
    let mut term = 1.0;
    for k in 0..c {
        if k > 0 {
            term *= a / k as f64;
        }
        head += term;
    }
    let tail = term * a / c as f64 / (1.0 - rho);
    let p_wait = tail / (head + tail);
    let lq = p_wait * rho / (1.0 - rho);
    let wq = lq / lam;
    (rho, lq + a, wq + 1.0 / mu)
}

/// Jackson network from the bench JSON form: traffic equations, then M/M/c per node.
fn jackson(model: &serde_json::Value) -> Exact {
    let nodes: Vec<String> = model["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let k = nodes.len();
    let idx = |n: &str| nodes.iter().position(|x| x == n).unwrap();
    let mut a = vec![vec![0.0; k + 1]; k];
    for (i, row) in a.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let gamma = model["arrival"]["rate"].as_f64().unwrap();
    a[idx(model["arrival"]["node"].as_str().unwrap())][k] = gamma;
    for e in model["edges"].as_array().unwrap() {
        let (f, t) = (
            idx(e["from"].as_str().unwrap()),
            idx(e["to"].as_str().unwrap()),
        );
        a[t][f] -= e["p"].as_f64().unwrap();
    }
    for c in 0..k {
        let piv = (c..k)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, piv);
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (x, y) in row.iter_mut().zip(&pivot) {
                    *x -= f * y;
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut l_total = 0.0;
    for (i, n) in nodes.iter().enumerate() {
        let lam = a[i][k] / a[i][i];
        let spec = &model["nodes"][n];
        let c = spec["servers"].as_u64().unwrap_or(1) as u32;
        let (rho, l, w) = mmc(lam, 1.0 / spec["service_mean"].as_f64().unwrap(), c);
        l_total += l;
        out.insert(n.clone(), (lam, rho, w));
    }
    Exact {
        nodes: out,
        end_to_end: l_total / gamma,
    }
}

fn simulate(name: &str, duration_s: u64, reps: usize, seed: u64) -> Report {
    let fz_text = std::fs::read_to_string(format!("{DIR}/{name}.fz")).unwrap();
    let checked = fz::model::check(&fz_text);
    assert!(!checked.has_errors(), "{name}: {:?}", checked.diagnostics);
    let ptext = std::fs::read_to_string(format!("{DIR}/{name}.sim.toml")).unwrap();
    let profile = Profile::parse(name, &ptext).unwrap();
    let lowered = lower(&checked.diagram, &profile, &LowerOptions::default()).unwrap();
    let warmup = 20_000_000_000;
    let cfg = RunConfig {
        duration: duration_s * 1_000_000_000 + warmup,
        warmup,
        series_points: 0,
    };
    let net = Arc::new(lowered.network);
    let reps_out = run_replications(Arc::clone(&net), &cfg, seed, reps, Some(2), None).unwrap();
    let meta = Meta {
        model: name.into(),
        seed,
        duration: cfg.duration,
        warmup,
        warmup_default: false,
        stable: true,
        ..Meta::default()
    };
    Report::build(&net, &reps_out, &meta)
}

fn rel(sim: f64, exact: f64) -> f64 {
    (sim - exact) / exact
}

fn check(name: &str, r: &Report, exact: &Exact) {
    let mut failures = Vec::new();
    for (id, (lam, rho, w)) in &exact.nodes {
        let n = r
            .nodes
            .iter()
            .find(|n| &n.id == id)
            .unwrap_or_else(|| panic!("{name}: no node {id}"));
        let e_w = rel(n.response.mean.v(), *w);
        let e_u = rel(n.utilization.v(), *rho);
        let e_x = rel(n.throughput.v(), *lam);
        eprintln!(
            "{name} {id}: W {:.4}ms vs {:.4}ms ({:+.2}%), util {:.4} vs {:.4} ({:+.2}%), X {:+.2}%",
            n.response.mean.v() * 1e3,
            w * 1e3,
            e_w * 100.0,
            n.utilization.v(),
            rho,
            e_u * 100.0,
            e_x * 100.0
        );
        if e_w.abs() > 0.02 {
            failures.push(format!("{id} mean response {:+.2}%", e_w * 100.0));
        }
        if e_u.abs() > 0.01 {
            failures.push(format!("{id} utilisation {:+.2}%", e_u * 100.0));
        }
        if e_x.abs() > 0.01 {
            failures.push(format!("{id} throughput {:+.2}%", e_x * 100.0));
        }
    }
    let e = rel(r.end_to_end.mean.v(), exact.end_to_end);
    eprintln!(
        "{name} end to end: {:.4}ms vs {:.4}ms ({:+.2}%)",
        r.end_to_end.mean.v() * 1e3,
        exact.end_to_end * 1e3,
        e * 100.0
    );
    if e.abs() > 0.02 {
        failures.push(format!("end to end {:+.2}%", e * 100.0));
    }
    assert!(failures.is_empty(), "{name}: {}", failures.join("; "));
}

fn model(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/{name}.json")).unwrap()).unwrap()
}

#[test]
fn mm1_mean_p99_and_utilisation() {
    let r = simulate("mm1", 4000, 4, 11);
    check("mm1", &r, &jackson(&model("mm1")));
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let p99 = 100f64.ln() / (1000.0 - 900.0);
    let e = rel(n2.response.p99.unwrap(), p99);
    eprintln!(
        "mm1 p99 {:.3}ms vs {:.3}ms ({:+.2}%)",
        n2.response.p99.unwrap() * 1e3,
        p99 * 1e3,
        e * 100.0
    );
    assert!(e.abs() < 0.03, "p99 {:+.2}%", e * 100.0);
    // Little's law at the station: L = lambda W.
    let l = n2.mean_queue.v();
    assert!(rel(l, 9.0).abs() < 0.03, "L = {l}");
}

#[test]
fn tandem5() {
    let r = simulate("tandem5", 1200, 2, 12);
    check("tandem5", &r, &jackson(&model("tandem5")));
}

#[test]
fn fanout_random_split_and_merge() {
    let r = simulate("fanout", 3500, 2, 13);
    check("fanout", &r, &jackson(&model("fanout")));
}

#[test]
fn feedback_loop() {
    let r = simulate("feedback", 1500, 2, 14);
    check("feedback", &r, &jackson(&model("feedback")));
}

#[test]
fn copy_fanout_each_branch_sees_every_token() {
    let r = simulate("copyfanout", 1500, 2, 15);
    // Each station is an M/M/1 fed at 800/s (Burke): see the profile's comment.
    let nodes: BTreeMap<String, (f64, f64, f64)> = [("n2", 2000.0), ("n3", 1000.0), ("n4", 1250.0)]
        .into_iter()
        .map(|(id, mu)| (id.to_string(), (800.0, 800.0 / mu, 1.0 / (mu - 800.0))))
        .collect();
    let w = |id: &str| nodes[id].2;
    // End to end over both sinks: half the completions go each way.
    let exact = Exact {
        end_to_end: (w("n2") * 2.0 + w("n3") + w("n4")) / 2.0,
        nodes: nodes.clone(),
    };
    check("copyfanout", &r, &exact);
    for (sink, path) in [("n5", w("n2") + w("n3")), ("n6", w("n2") + w("n4"))] {
        let l = &r.sinks.iter().find(|(id, _)| id == sink).unwrap().1;
        let e = rel(l.mean.v(), path);
        assert!(e.abs() < 0.02, "sink {sink}: {:+.2}%", e * 100.0);
    }
}

/// MVA for a closed network of single-server exponential stations with think time `z`:
/// (throughput, per-station mean response).
fn mva(users: u32, z: f64, demands: &[f64]) -> (f64, Vec<f64>) {
    let mut q = vec![0.0; demands.len()];
    let mut x = 0.0;
    let mut r = vec![0.0; demands.len()];
    for n in 1..=users {
        for (i, d) in demands.iter().enumerate() {
            r[i] = d * (1.0 + q[i]);
        }
        x = n as f64 / (z + r.iter().sum::<f64>());
        for i in 0..demands.len() {
            q[i] = x * r[i];
        }
    }
    (x, r)
}

#[test]
fn forkjoin_waits_for_every_part() {
    // Two exp(1 ms) servers behind a fork at 500/s: each an M/M/1 at rho 0.5 (W = 2 ms), and
    // fork to join (12 - rho)/8 / (mu - lambda) = 2.875 ms (exact for two servers).
    let r = simulate("forkjoin2", 800, 2, 21);
    let (lam, mu) = (500.0, 1000.0);
    let rho: f64 = lam / mu;
    let exact = (12.0 - rho) / 8.0 / (mu - lam);
    assert!((exact - 0.002875).abs() < 1e-12);
    let j = r.joins.iter().find(|j| j.id == "n5").expect("n5 joins");
    let e = rel(j.fork_join.mean.v(), exact);
    assert!(e.abs() < 0.02, "fork to join {:+.2}%", e * 100.0);
    // The aggregator sees one token per request, not one per part.
    let n5 = r.nodes.iter().find(|n| n.id == "n5").unwrap();
    let e = rel(n5.throughput.v(), lam);
    assert!(e.abs() < 0.02, "join throughput {:+.2}%", e * 100.0);
    let e = rel(r.end_to_end.mean.v(), exact);
    assert!(e.abs() < 0.02, "end to end {:+.2}%", e * 100.0);
    for id in ["n3", "n4"] {
        let n = r.nodes.iter().find(|n| n.id == id).unwrap();
        let e = rel(n.response.mean.v(), 1.0 / (mu - lam));
        assert!(e.abs() < 0.02, "{id} {:+.2}%", e * 100.0);
    }
    assert_eq!(j.partial, 0);
}

#[test]
fn closed_loop_matches_mva() {
    // 10 users thinking exp(10 ms), then n2 exp(1 ms) and n3 exp(0.5 ms).
    let r = simulate("closed2", 600, 2, 22);
    let (x, resp) = mva(10, 0.010, &[0.001, 0.0005]);
    assert!((x - 750.87).abs() < 0.01, "{x}");
    let req = r
        .requests
        .iter()
        .find(|q| q.id == "n1")
        .expect("n1 requests");
    let e = rel(req.cycles_per_s.v(), x);
    assert!(e.abs() < 0.01, "throughput {:+.2}%", e * 100.0);
    for (id, want) in [("n2", resp[0]), ("n3", resp[1])] {
        let n = r.nodes.iter().find(|n| n.id == id).unwrap();
        let e = rel(n.response.mean.v(), want);
        assert!(e.abs() < 0.02, "{id} response {:+.2}%", e * 100.0);
        let e = rel(n.throughput.v(), x);
        assert!(e.abs() < 0.01, "{id} throughput {:+.2}%", e * 100.0);
    }
}

/// A greedy bulk server with no batch limit and constant service S per batch (M/D^inf/1),
/// exactly: busy periods are geometric runs of services (each goes on when an arrival came
/// during the previous one, probability 1 - e^(-lS)), idle periods exponential, so the busy
/// fraction is e^(lS) S / (1/l + e^(lS) S); an arrival during a busy period (PASTA: with that
/// probability) waits the rest of the current service, S/2 on average, then one service.
#[test]
fn batch_station_greedy_bulk_service_is_exact() {
    let r = simulate("batch_greedy", 2000, 2, 21);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let (lam, s): (f64, f64) = (1000.0, 1e-3);
    let busy = (lam * s).exp() * s / (1.0 / lam + (lam * s).exp() * s);
    let w = s + busy * s / 2.0;
    let (eu, ew, et) = (
        rel(n2.utilization.v(), busy),
        rel(n2.response.mean.v(), w),
        rel(n2.throughput.v(), lam),
    );
    eprintln!(
        "batch_greedy: utilisation {:.4} vs {busy:.4} ({:+.2}%), mean response {:.4}ms vs {:.4}ms ({:+.2}%), throughput {:+.2}%",
        n2.utilization.v(),
        eu * 100.0,
        n2.response.mean.v() * 1e3,
        w * 1e3,
        ew * 100.0,
        et * 100.0
    );
    assert!(eu.abs() < 0.01, "utilisation {:+.2}%", eu * 100.0);
    assert!(ew.abs() < 0.01, "mean response {:+.2}%", ew * 100.0);
    assert!(et.abs() < 0.01, "throughput {:+.2}%", et * 100.0);
    // Nobody waits more than one service, nobody is served in less than one.
    assert!(n2.wait.max.unwrap() <= s + 1e-9);
    assert!(n2.response.p50.unwrap() >= s * 0.99);
    assert!(r.unstable.is_empty());
}

/// Overloaded, a batch server always serves full batches: with batches of B = 10 taking
/// 1 ms + 10 x 100 us = 2 ms, the throughput is B / S(B) = 5000/s exactly, and the station is
/// flagged unstable (its offered load counts full batches: 20000/s x 0.2 ms = 4).
#[test]
fn batch_station_saturates_at_b_over_s() {
    let r = simulate("batch_full", 200, 2, 22);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let et = rel(n2.throughput.v(), 5000.0);
    eprintln!(
        "batch_full: throughput {:.1}/s vs 5000/s ({:+.3}%), drops {}",
        n2.throughput.v(),
        et * 100.0,
        n2.drops
    );
    assert!(et.abs() < 0.001, "throughput {:+.3}%", et * 100.0);
    assert!(rel(n2.utilization.v(), 1.0).abs() < 1e-3);
    assert!(rel(n2.offered_load.v(), 4.0).abs() < 0.01);
    assert!(r.unstable.contains(&"n2".to_string()));
    assert!(n2.drops > 0);
    // Every batch is full: each token's service is the whole 2 ms batch.
    assert!(rel(n2.response.mean.v() - n2.wait.mean.v(), 2e-3).abs() < 1e-3);
}

/// M/G/1 with an empirical service time (the distribution `fz calibrate` writes from a
/// histogram): the mean response against Pollaczek-Khinchine, E[S] + l E[S^2] / (2 (1 - rho)),
/// the moments computed here from the piecewise-uniform CDF.
#[test]
fn mg1_with_an_empirical_service_matches_pollaczek_khinchine() {
    let r = simulate("mg1_empirical", 2000, 2, 31);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    // (lo, hi, mass) in seconds.
    let parts = [(1e-4, 5e-4, 0.2), (5e-4, 1e-3, 0.5), (1e-3, 3e-3, 0.3)];
    let es: f64 = parts.iter().map(|(a, b, m)| m * (a + b) / 2.0).sum();
    let es2: f64 = parts
        .iter()
        .map(|(a, b, m)| m * (a * a + a * b + b * b) / 3.0)
        .sum();
    let lam = 700.0;
    let rho = lam * es;
    let w = es + lam * es2 / (2.0 * (1.0 - rho));
    let (eu, ew) = (rel(n2.utilization.v(), rho), rel(n2.response.mean.v(), w));
    eprintln!(
        "mg1_empirical: utilisation {:.4} vs {rho:.4} ({:+.2}%), mean response {:.4}ms vs {:.4}ms ({:+.2}%)",
        n2.utilization.v(),
        eu * 100.0,
        n2.response.mean.v() * 1e3,
        w * 1e3,
        ew * 100.0
    );
    assert!(eu.abs() < 0.01, "utilisation {:+.2}%", eu * 100.0);
    assert!(ew.abs() < 0.02, "mean response {:+.2}%", ew * 100.0);
}

/// A batch server resting T after each batch, service ~0, no limit: after an idle spell
/// (mean 1/l) the first arrival is served at once and starts a run of rests, each followed
/// by another while some arrival came during it (probability 1 - e^(-lT)), so a run has
/// e^(lT) rests on average and the server is resting a fraction
/// f = e^(lT) T / (1/l + e^(lT) T) of the time. An arrival that finds it resting (PASTA:
/// probability f) waits the rest's remainder, T/2 on average: mean response f T / 2.
#[test]
fn batch_station_with_an_interval_rests_between_batches() {
    let r = simulate("batch_interval", 2000, 2, 41);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let (lam, t): (f64, f64) = (300.0, 5e-3);
    let f = (lam * t).exp() * t / (1.0 / lam + (lam * t).exp() * t);
    let w = f * t / 2.0;
    let (eu, ew) = (rel(n2.utilization.v(), f), rel(n2.response.mean.v(), w));
    eprintln!(
        "batch_interval: resting {:.4} vs {f:.4} ({:+.2}%), mean response {:.4}ms vs {:.4}ms ({:+.2}%)",
        n2.utilization.v(),
        eu * 100.0,
        n2.response.mean.v() * 1e3,
        w * 1e3,
        ew * 100.0
    );
    assert!(eu.abs() < 0.01, "resting fraction {:+.2}%", eu * 100.0);
    assert!(ew.abs() < 0.02, "mean response {:+.2}%", ew * 100.0);
    assert!(
        n2.wait.max.unwrap() <= t + 1e-6,
        "nobody waits more than one rest"
    );
}

/// A batch's `per_key` is paid once per distinct key among its tokens. Tokens every 1 ms, a
/// batch after each 100 ms rest: a batch takes every token since the last one began, the
/// cycle's C = 100 ms + s of them, each waiting C/2 on average and then the service s, so the
/// mean response is C/2 + s. With every token its own key, s = 0.1 ms x C/1 ms: s = 11.11 ms,
/// 66.67 ms. With keys four tokens long (`sequence(4)`), the C tokens hold C/4 keys plus 3/4 of
/// one for the key a batch's edge splits: s = 0.1 ms x (C/4 + 0.75), s = 2.641 ms, 53.96 ms.
#[test]
fn a_batch_pays_per_key_once_for_each_distinct_key() {
    for (name, s) in [
        ("batch_per_key_unique", 0.1e-3 * 100.0 / 0.9),
        ("batch_per_key", 2.575e-3 / 0.975),
    ] {
        let r = simulate(name, 500, 2, 29);
        let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
        let w = (100e-3 + s) / 2.0 + s;
        let e = rel(n2.response.mean.v(), w);
        eprintln!(
            "{name}: mean response {:.3}ms vs {:.3}ms ({:+.2}%)",
            n2.response.mean.v() * 1e3,
            w * 1e3,
            e * 100.0
        );
        assert!(e.abs() < 0.01, "{name}: {:+.2}%", e * 100.0);
    }
}

/// A batcher that rests between batches is busy (resting or serving) whenever an item waits
/// at the end of its rest, at any load above a few per rest; it is unstable only when full
/// batches cannot keep up (10 items per 5 ms is 2,000/s, against 3,000/s offered).
#[test]
fn a_resting_batcher_is_unstable_only_when_full_batches_cannot_keep_up() {
    let busy = simulate("batch_rest_busy", 200, 1, 43);
    let n2 = busy.nodes.iter().find(|n| n.id == "n2").unwrap();
    assert!(n2.utilization.v() > 0.999, "busy {}", n2.utilization.v());
    assert!(busy.unstable.is_empty(), "{:?}", busy.unstable);
    // Every item waits at most one rest: 5 ms.
    assert!(n2.wait.max.unwrap() <= 5e-3 + 1e-6);
    let full = simulate("batch_rest_full", 200, 1, 43);
    assert_eq!(full.unstable, vec!["n2".to_string()]);
}

/// Stations sharing a host's cores are processor-sharing queues: M/G/1-PS has the mean
/// response S / (1 - rho) whatever the service distribution (5 ms here, where FCFS M/D/1
/// would give 3 ms and a core per thread 1 ms).
#[test]
fn threads_sharing_one_core_are_processor_sharing() {
    let r = simulate("ps_one_core", 1000, 2, 51);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let (lam, s): (f64, f64) = (800.0, 1e-3);
    let w = s / (1.0 - lam * s);
    let ew = rel(n2.response.mean.v(), w);
    eprintln!(
        "ps_one_core: mean response {:.4}ms vs {:.4}ms ({:+.2}%)",
        n2.response.mean.v() * 1e3,
        w * 1e3,
        ew * 100.0
    );
    assert!(ew.abs() < 0.03, "mean response {:+.2}%", ew * 100.0);
    // No request is served faster than its work alone on a core.
    assert!(n2.response.p50.unwrap() >= s * 0.99);
    assert_eq!(
        n2.wait.max.unwrap(),
        0.0,
        "a thread per request: nobody queues"
    );
}

/// Weighted processor sharing, as CFS weighs nice values: a request (4 ms of work, nice 0)
/// and an event (4 ms, nice 10: weight 1.25^-10 = 0.107) arrive together every 10 ms on one
/// core. Together the request gets 1 / 1.107 = 90.3% of it and is done at 4.430 ms; the
/// event then has the core to itself and is done at 8 ms, when all 8 ms of work are. Shared
/// equally, both would be done at 8 ms.
#[test]
fn a_nice_thread_gets_its_weight_of_a_shared_core() {
    let r = simulate("ps_nice", 200, 1, 3);
    let mean = |id: &str| {
        r.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap()
            .response
            .mean
            .v()
    };
    let request = 4e-3 * (1.0 + 1.25f64.powi(-10));
    let (e2, e5) = (rel(mean("n2"), request), rel(mean("n5"), 8e-3));
    eprintln!(
        "ps_nice: request {:.4}ms vs {:.4}ms ({:+.3}%), event {:.4}ms vs 8ms ({:+.3}%)",
        mean("n2") * 1e3,
        request * 1e3,
        e2 * 100.0,
        mean("n5") * 1e3,
        e5 * 100.0
    );
    assert!(e2.abs() < 0.001 && e5.abs() < 0.001, "{e2} {e5}");
}

/// Exponential work on 2 shared cores: the number in service falls at min(n, 2) x mu, the
/// M/M/2 birth-death chain, so the mean response is M/M/2's.
#[test]
fn threads_sharing_two_cores_match_mm2() {
    let r = simulate("ps_two_cores", 1000, 2, 52);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let (_, _, w) = mmc(1600.0, 1000.0, 2);
    let ew = rel(n2.response.mean.v(), w);
    eprintln!(
        "ps_two_cores: mean response {:.4}ms vs M/M/2 {:.4}ms ({:+.2}%)",
        n2.response.mean.v() * 1e3,
        w * 1e3,
        ew * 100.0
    );
    assert!(ew.abs() < 0.03, "mean response {:+.2}%", ew * 100.0);
}

/// Two stations visited in turn on one core form one multiclass PS node (BCMP): each visit's
/// mean response is its own S_i / (1 - rho) with rho the core's whole load; a station off the
/// host (`host = false`) is a pure delay.
#[test]
fn stations_on_one_core_share_it_and_a_wait_off_the_host_does_not() {
    let r = simulate("ps_shared", 1000, 2, 53);
    let rho: f64 = 1000.0 * 0.8e-3;
    let mut failures = Vec::new();
    for (id, want) in [
        ("n2", 0.4e-3 / (1.0 - rho)),
        ("n3", 0.4e-3 / (1.0 - rho)),
        ("n4", 2e-3),
    ] {
        let n = r.nodes.iter().find(|n| n.id == id).unwrap();
        let e = rel(n.response.mean.v(), want);
        eprintln!(
            "ps_shared {id}: mean response {:.4}ms vs {:.4}ms ({:+.2}%)",
            n.response.mean.v() * 1e3,
            want * 1e3,
            e * 100.0
        );
        if e.abs() >= 0.03 {
            failures.push(format!("{id} {:+.2}%", e * 100.0));
        }
    }
    let e2e = rel(r.end_to_end.mean.v(), 2.0 * 0.4e-3 / (1.0 - rho) + 2e-3);
    assert!(e2e.abs() < 0.03, "end to end {:+.2}%", e2e * 100.0);
    assert!(failures.is_empty(), "{failures:?}");
}

/// A server that pays a wake-up when a request finds it idle, and none for a request taken
/// straight from its queue, is M/G/1 with an exceptional first service (Welch, 1964): with
/// S0 = S + w, the server is idle P0 = (1 - rho) / (1 - rho + l E[S0]) of the time and the
/// mean wait is l E[S^2] / (2 (1 - rho)) + l (E[S0^2] - E[S^2]) / (2 (1 - rho + l E[S0])).
/// Charging every request the wake-up instead would give 0.75 utilisation and 3.5 ms.
#[test]
fn a_wakeup_from_idle_is_an_exceptional_first_service() {
    let r = simulate("wakeup_first_service", 2000, 2, 61);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let (lam, es, w): (f64, f64, f64) = (500.0, 1e-3, 0.5e-3);
    let (rho, es2) = (lam * es, 2.0 * es * es);
    let (es0, es02) = (es + w, es2 + 2.0 * w * es + w * w);
    let p0 = (1.0 - rho) / (1.0 - rho + lam * es0);
    let wq = lam * es2 / (2.0 * (1.0 - rho)) + lam * (es02 - es2) / (2.0 * (1.0 - rho + lam * es0));
    let resp = wq + p0 * es0 + (1.0 - p0) * es;
    let (eu, ew) = (
        rel(n2.utilization.v(), 1.0 - p0),
        rel(n2.response.mean.v(), resp),
    );
    eprintln!(
        "wakeup_first_service: utilisation {:.4} vs {:.4} ({:+.2}%), mean response {:.4}ms vs {:.4}ms ({:+.2}%)",
        n2.utilization.v(),
        1.0 - p0,
        eu * 100.0,
        n2.response.mean.v() * 1e3,
        resp * 1e3,
        ew * 100.0
    );
    assert!(eu.abs() < 0.01, "utilisation {:+.2}%", eu * 100.0);
    assert!(ew.abs() < 0.02, "mean response {:+.2}%", ew * 100.0);
}

/// A station off the host (an fsync) whose thread wakes on the host's core: the wake-ups
/// are work on the core that no token waits for, so the stations on it see the core's whole
/// load (BCMP: S_i / (1 - rho), rho = 0.3 + 0.3 + 0.1), and the station itself is a delay of
/// its wait plus the wake-up.
#[test]
fn an_off_host_wakeup_loads_the_shared_core() {
    let r = simulate("wakeup_off_host", 1000, 2, 62);
    let rho: f64 = 0.7;
    let mut failures = Vec::new();
    for (id, want) in [
        ("n2", 0.3e-3 / (1.0 - rho)),
        ("n3", 0.3e-3 / (1.0 - rho)),
        ("n4", 2.1e-3),
    ] {
        let n = r.nodes.iter().find(|n| n.id == id).unwrap();
        let e = rel(n.response.mean.v(), want);
        eprintln!(
            "wakeup_off_host {id}: mean response {:.4}ms vs {:.4}ms ({:+.2}%)",
            n.response.mean.v() * 1e3,
            want * 1e3,
            e * 100.0
        );
        if e.abs() >= 0.03 {
            failures.push(format!("{id} {:+.2}%", e * 100.0));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// A batch off the host (a group commit) runs its items' CPU on the shared cores first, then
/// waits off them: beside a thread that keeps the one core busy, 1 ms of inserts takes 2 ms
/// (processor sharing of two jobs), so a commit of one item takes 2 + 2 = 4 ms, not the
/// 3 ms it takes alone.
#[test]
fn an_off_host_batch_shares_the_cores_for_its_items_cpu() {
    let r = simulate("batch_off_host_cpu", 1000, 2, 71);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let e = rel(n2.response.mean.v(), 4e-3);
    eprintln!(
        "batch_off_host_cpu: mean response {:.4}ms vs 4ms ({:+.2}%)",
        n2.response.mean.v() * 1e3,
        e * 100.0
    );
    assert!(e.abs() < 0.02, "{:+.2}%", e * 100.0);
}

/// A client on the host's cores (`[host] client`): each request first takes its client's
/// CPU on the shared core, then the service's; two processor-sharing visits to one core
/// (BCMP), so the service's response is S / (1 - rho) with rho the core's whole load:
/// 1 ms / 0.4 = 2.5 ms, where the service alone would take 1 ms / 0.7 = 1.43 ms.
#[test]
fn a_client_on_the_host_shares_its_cores() {
    let r = simulate("ps_client", 1000, 2, 63);
    let n2 = r.nodes.iter().find(|n| n.id == "n2").unwrap();
    let want = 1e-3 / (1.0 - 0.6);
    let e = rel(n2.response.mean.v(), want);
    eprintln!(
        "ps_client: mean response {:.4}ms vs {:.4}ms ({:+.2}%)",
        n2.response.mean.v() * 1e3,
        want * 1e3,
        e * 100.0
    );
    assert!(e.abs() < 0.03, "mean response {:+.2}%", e * 100.0);
}

/// A client's wake-up (`[host] client_wakeup`) is paid by a send that finds the client
/// asleep: paced 10 ms apart, every request pays it (1.5 ms from arrival to done: 100 us
/// of the client's CPU, its 400 us wake-up, the 1 ms handler); in a closed loop that keeps
/// 50 sends on the core, none does, and the core serves one request per 100 us of the
/// client's CPU alone.
#[test]
fn a_client_wakes_only_for_a_send_that_finds_it_asleep() {
    let paced = simulate("client_wake_paced", 100, 1, 81);
    let e = rel(paced.end_to_end.mean.v(), 1.5e-3);
    eprintln!(
        "client_wake_paced: end to end {:.4}ms vs 1.5ms ({:+.3}%)",
        paced.end_to_end.mean.v() * 1e3,
        e * 100.0
    );
    assert!(e.abs() < 1e-3, "paced: {:+.3}%", e * 100.0);
    let closed = simulate("client_wake_closed", 20, 1, 82);
    let n2 = closed.nodes.iter().find(|n| n.id == "n2").unwrap();
    let e = rel(n2.throughput.v(), 10_000.0);
    eprintln!(
        "client_wake_closed: {:.1}/s vs 10,000/s ({:+.3}%)",
        n2.throughput.v(),
        e * 100.0
    );
    assert!(e.abs() < 0.005, "closed: {:+.3}%", e * 100.0);
}

/// A client that sends on one thread (`[host] client_threads = 1`) uses one core at most:
/// 50 closed-loop users at 100 us of client CPU a request do 10,000/s, and the handler
/// (50 us) has the other core to itself. Each waiting send a job of its own on the cores
/// instead, the client takes more than one core (13,333/s here) and the handler, one job
/// among 51, answers 70 times slower.
#[test]
fn a_clients_sends_share_its_threads_not_the_cores() {
    let one = simulate("client_threads", 20, 1, 93);
    let n2 = one.nodes.iter().find(|n| n.id == "n2").unwrap();
    let e = rel(n2.throughput.v(), 10_000.0);
    eprintln!(
        "client_threads: {:.1}/s vs 10,000/s ({:+.3}%), handler response {:.2}us vs 50us",
        n2.throughput.v(),
        e * 100.0,
        n2.response.mean.v() * 1e6
    );
    assert!(e.abs() < 0.005, "one thread: {:+.3}%", e * 100.0);
    assert!((n2.response.mean.v() - 50e-6).abs() < 0.5e-6);
    let unbounded = simulate("client_threads_unbounded", 20, 1, 94);
    let n2 = unbounded.nodes.iter().find(|n| n.id == "n2").unwrap();
    eprintln!(
        "client_threads_unbounded: {:.1}/s, handler response {:.2}us",
        n2.throughput.v(),
        n2.response.mean.v() * 1e6
    );
    assert!(
        n2.response.mean.v() > 20.0 * 50e-6,
        "{}",
        n2.response.mean.v()
    );
    assert!(n2.throughput.v() > 11_000.0, "{}", n2.throughput.v());
}

/// A request's transit between client and service (`[host] transport`) is a delay off the
/// cores before it enters: in front of a Poisson stream it leaves the station an M/M/1
/// (response 2 ms at utilisation 0.5) and adds its mean to end to end (2.5 ms); in a closed
/// loop it is part of each user's cycle (10 users, 4 ms + 1 ms: 2,000/s).
#[test]
fn a_requests_transit_delays_it_off_the_cores() {
    let open = simulate("transport_mm1", 400, 2, 91);
    let n2 = open.nodes.iter().find(|n| n.id == "n2").unwrap();
    let (e_station, e_total) = (
        rel(n2.response.mean.v(), 2e-3),
        rel(open.end_to_end.mean.v(), 2.5e-3),
    );
    eprintln!(
        "transport_mm1: station {:.4}ms vs 2ms ({:+.2}%), end to end {:.4}ms vs 2.5ms ({:+.2}%)",
        n2.response.mean.v() * 1e3,
        e_station * 100.0,
        open.end_to_end.mean.v() * 1e3,
        e_total * 100.0
    );
    assert!(e_station.abs() < 0.02, "station {:+.2}%", e_station * 100.0);
    assert!(e_total.abs() < 0.02, "end to end {:+.2}%", e_total * 100.0);
    let closed = simulate("transport_closed", 20, 1, 92);
    let n2 = closed.nodes.iter().find(|n| n.id == "n2").unwrap();
    let e = rel(n2.throughput.v(), 2_000.0);
    eprintln!(
        "transport_closed: {:.1}/s vs 2,000/s ({:+.3}%)",
        n2.throughput.v(),
        e * 100.0
    );
    assert!(e.abs() < 0.005, "closed: {:+.3}%", e * 100.0);
}

/// Paced arrivals (a load generator's open loop: the k-th at k / rate) against Poisson ones
/// at the same rate, into a commit of 0.5 ms that rests 1 ms after each batch: paced every
/// 2 ms, no arrival meets the 1.5 ms of work and rest, so none waits and every response is
/// the 0.5 ms commit; at random, those that come within it wait.
#[test]
fn paced_arrivals_meet_no_rest_that_random_ones_wait_for() {
    let paced = simulate("rest_paced", 100, 1, 44);
    let n2 = paced.nodes.iter().find(|n| n.id == "n2").unwrap();
    assert_eq!(n2.wait.max.unwrap(), 0.0, "paced: nobody waits");
    assert!((n2.response.mean.v() - 5e-4).abs() < 1e-9);
    assert!((n2.throughput.v() - 500.0).abs() < 1.0);
    let random = simulate("rest_poisson", 100, 1, 44);
    let n2 = random.nodes.iter().find(|n| n.id == "n2").unwrap();
    // An arrival waits when it comes within the 1.5 ms after a batch starts: at 500/s,
    // 1 - e^(-0.75) = 53% of gaps are shorter, so the mean wait is well above 0.2 ms.
    assert!(
        n2.wait.mean.v() > 2e-4,
        "random: mean wait {}",
        n2.wait.mean.v()
    );
    assert!(n2.wait.max.unwrap() > 1e-3);
}
