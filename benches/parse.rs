//! Parse + validate throughput on generated diagrams of 1, 10 and 100 MB.
//!
//! `cargo bench --bench parse` (or `-- 1 10` to choose sizes in MB). Prints MB/s per size,
//! the time of each phase, and the linearity ratio time(10x) / time(x). "diagnostics" is
//! `model::diagnostics`, what `fz check` runs (no diagram built); "check" is `model::check`,
//! what the other commands run (diagnostics and the diagram).

use std::time::Instant;

use fz::model;

/// A large valid diagram of about `target` bytes: lanes of 200 nodes, a chain inside each lane,
/// a labelled edge every third, a cross-lane handoff to the next lane and back, one loop a lane,
/// taskboxes and decisions mixed in (the shape `gen_big_fz.py` writes, with return edges).
fn generate(target: usize) -> String {
    let shapes = ["rectangle", "rectangle", "diamond", "rectangle", "taskbox"];
    let mut out = String::with_capacity(target + 4096);
    let mut lane = 0usize;
    let mut nid = 1usize;
    while out.len() < target {
        let first = nid;
        out.push_str(&format!("Lane{lane} {{ # Service number {lane}\n"));
        for k in 0..200 {
            let shape = if k == 0 || k == 199 {
                "circle"
            } else {
                shapes[k % 5]
            };
            if shape == "taskbox" {
                out.push_str(&format!("n{nid}: taskbox owner:\"Team {lane}\" description:\"Process item {nid}\" system:\"Svc{lane}\"\n"));
            } else {
                out.push_str(&format!(
                    "n{nid}: {shape} label:\"Step {nid} of lane {lane}\"\n"
                ));
            }
            nid += 1;
        }
        for k in first..nid - 1 {
            let label = if k % 3 == 0 {
                format!(" [label=\"to {}\"]", k + 1)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "n{k}.handle(right) -> n{}.handle(left){label}\n",
                k + 1
            ));
        }
        if lane > 0 {
            out.push_str(&format!(
                "n{}.handle(top) -> Lane{}.n{}.handle(bottom) [label=\"ack\"]\n",
                first + 1,
                lane - 1,
                first - 2
            ));
        }
        out.push_str(&format!(
            "n{}.handle(bottom) -> Lane{}.n{}.handle(top) [label=\"handoff\"]\n",
            nid - 2,
            lane + 1,
            nid + 1
        ));
        out.push_str(&format!(
            "loop [retry until done] n{} n{} n{}\n}}\n",
            first + 1,
            first + 2,
            first + 3
        ));
        lane += 1;
    }
    out.push_str(&format!("Lane{lane} {{ # Sink\nn{nid}: circle label:\"Back\"\nn{}: circle label:\"End\"\nn{nid}.handle(right) -> n{}.handle(left)\nn{}.handle(top) -> Lane{}.n{}.handle(bottom) [label=\"ack\"]\n}}\n", nid + 1, nid + 1, nid + 1, lane - 1, nid - 2));
    out
}

/// CPU time of this thread, in seconds: on a shared, loaded machine it measures the work
/// done, where wall time also counts the time other processes held the core.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Best (wall, cpu) seconds over `runs`.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..runs {
        let t = Instant::now();
        let c = thread_cpu();
        let out = f();
        let cpu = thread_cpu() - c;
        best = (best.0.min(t.elapsed().as_secs_f64()), best.1.min(cpu));
        drop(out);
    }
    best
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1, 10, 100]
    } else {
        sizes
    };
    let mut previous: Option<(usize, f64)> = None;
    println!("| size | bytes | parse, pest only (cpu s) | parse (cpu s) | diagnostics (wall / cpu s) | MB/s wall | MB/s cpu | check with diagram (cpu s) | MB/s pest only (cpu) | errors | warnings | cpu time ratio to previous size |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for mb in sizes {
        let src = generate(mb * 1_000_000);
        let runs = if mb >= 100 { 2 } else { 5 };
        let parse = best_of(runs, || fz::syntax::parse(&src).diagnostics.len());
        let pest_only = best_of(runs.min(2), || {
            fz::syntax::parse_with_grammar_only(&src).diagnostics.len()
        });
        let mut errs = (0, 0);
        let full = best_of(runs, || {
            let d = model::diagnostics(&src);
            let e = d.iter().filter(|d| d.is_error()).count();
            errs = (e, d.len() - e);
        });
        let with_diagram = best_of(runs, || model::check(&src).diagnostics.len());
        let mbps = |t: f64| src.len() as f64 / 1e6 / t;
        let ratio = previous
            .map(|(pmb, pt)| format!("{:.2}x for {}x input", full.1 / pt, mb / pmb.max(1)))
            .unwrap_or_else(|| "-".into());
        println!(
            "| {mb} MB | {} | {:.3} | {:.3} | {:.3} / {:.3} | {:.1} | {:.1} | {:.3} | {:.1} | {} | {} | {ratio} |",
            src.len(),
            pest_only.1,
            parse.1,
            full.0,
            full.1,
            mbps(full.0),
            mbps(full.1),
            with_diagram.1,
            mbps(pest_only.1),
            errs.0,
            errs.1
        );
        previous = Some((mb, full.1));
    }
}
