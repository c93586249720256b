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
