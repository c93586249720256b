//! `fz sim` end to end: determinism, profile errors, semantics (fan-out inference, cycles, hop
//! limit, loops, the CQRS lens), outputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/cqrs-materialized-views.fz"
);
const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sim");

fn fz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fz"))
        .arg("sim")
        .args(args)
        .output()
        .unwrap()
}

/// `fz sim DIAGRAM --profile PROFILE` for 2 s after a 1 s warmup: the profile-error tests.
fn fz_profiled(diagram: &str, profile: &Path) -> Output {
    fz(&[
        diagram,
        "--profile",
        s(profile),
        "--duration",
        "2s",
        "--warmup",
        "1s",
    ])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        stderr(o)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {}", stdout(o)))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn same_seed_same_bytes_for_any_thread_count() {
    let run = |threads: &str| {
        let o = fz(&[
            SEED,
            "--format",
            "json",
            "--stable",
            "--duration",
            "8s",
            "--warmup",
            "1s",
            "--replications",
            "4",
            "--seed",
            "7",
            "--threads",
            threads,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    };
    let one = run("1");
    assert_eq!(one, run("4"));
    assert_eq!(one, run("2"));
    let other = fz(&[
        SEED,
        "--format",
        "json",
        "--stable",
        "--duration",
        "8s",
        "--warmup",
        "1s",
        "--replications",
        "4",
        "--seed",
        "8",
    ]);
    assert_ne!(one, other.stdout, "another seed must give another run");
}

#[test]
fn json_has_the_documented_fields() {
    let v = json(&fz(&[
        &format!("{FIX}/tandem5.fz"),
        "--format",
        "json",
        "--duration",
        "20s",
        "--warmup",
        "2s",
        "--replications",
        "2",
    ]));
    for k in [
        "throughput",
        "utilization",
        "mean_wait",
        "mean_response",
        "p50_response",
        "p99_response",
        "mean_queue",
        "drops",
        "mean_response_ci95",
        "utilization_ci95",
    ] {
        assert!(!v["nodes"]["n2"][k].is_null(), "nodes.n2.{k}");
    }
    for k in ["mean", "p50", "p99", "completed", "mean_ci95"] {
        assert!(!v["sinks"]["n7"][k].is_null(), "sinks.n7.{k}");
        assert!(!v["end_to_end"][k].is_null(), "end_to_end.{k}");
    }
    assert!(v["events"].as_u64().unwrap() > 100_000);
    assert!(v["wall_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["events_per_second"].as_f64().unwrap() > 0.0);
    assert!(v.get("cqrs").is_none(), "no CQRS lens on a plain pipeline");
    let ci = v["nodes"]["n2"]["mean_response_ci95"].as_array().unwrap();
    let m = v["nodes"]["n2"]["mean_response"].as_f64().unwrap();
    assert!(ci[0].as_f64().unwrap() < m && m < ci[1].as_f64().unwrap());
}

#[test]
fn events_count_three_per_visit() {
    // M/M/1 with zero-time entry and exit circles: each token visits three stations.
    let v = json(&fz(&[
        &format!("{FIX}/mm1.fz"),
        "--format",
        "json",
        "--duration",
        "10s",
        "--warmup",
        "1s",
    ]));
    let arrivals: u64 = ["n1", "n2", "n3"]
        .iter()
        .map(|n| v["nodes"][n]["arrivals"].as_f64().unwrap() as u64)
        .sum();
    let events = v["events"].as_u64().unwrap();
    // Whole-run events vs window arrivals: 9 per token, 10/9 of the window.
    let ratio = events as f64 / (arrivals as f64 * 3.0 * 10.0 / 9.0);
    assert!((ratio - 1.0).abs() < 0.02, "{ratio}");
}

#[test]
fn seed_diagram_alone_gives_a_cqrs_report() {
    let o = fz(&[SEED, "--duration", "10s", "--warmup", "1s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "Bottleneck:",
        "CQRS lens",
        "n13",
        "n16",
        "order violations",
        "End to end",
    ] {
        assert!(out.contains(want), "missing {want}: {out}");
    }
    assert!(
        stderr(&o).is_empty(),
        "no progress bar when stderr is not a terminal: {}",
        stderr(&o)
    );
}

#[test]
fn lane_fanout_inference_and_no_infer() {
    let v = json(&fz(&[
        SEED,
        "--format",
        "json",
        "--duration",
        "5s",
        "--warmup",
        "1s",
    ]));
    for p in ["n9", "n10", "n11", "n12"] {
        assert!(
            v["nodes"][p]["arrivals"].as_f64().unwrap() > 1000.0,
            "{p} fed by the inferred fan-out"
        );
    }
    let lags = &v["cqrs"]["views"];
    for view in ["n13", "n14", "n15", "n16"] {
        assert!(lags[view]["lag_mean"].as_f64().unwrap() > 0.0, "{view}");
        assert_eq!(lags[view]["order_violations"], 0, "ordered by key: {view}");
    }
    let v = json(&fz(&[
        SEED,
        "--format",
        "json",
        "--duration",
        "5s",
        "--warmup",
        "1s",
        "--no-infer",
    ]));
    assert!(v["nodes"]["n9"]["arrivals"].as_f64().unwrap() > 1000.0);
    for p in ["n10", "n11", "n12"] {
        assert_eq!(
            v["nodes"][p]["arrivals"].as_f64().unwrap(),
            0.0,
            "{p} without inference"
        );
    }
}

#[test]
fn explain_prints_roles_inferences_and_routing() {
    let o = fz(&[SEED, "--explain", "--duration", "2s", "--warmup", "1s"]);
    let out = stdout(&o);
    for want in [
        "n4     write_commit",
        "lane fan-out: n8 -> n9",
        "n10, n11, n12",
        "Routing table:",
        "copy to each of n9, n10, n11, n12",
        "read edge: n13 -> n17",
    ] {
        assert!(out.contains(want), "missing {want}: {out}");
    }
    // With JSON, the explanation goes to stderr and stdout stays one object.
    let o = fz(&[
        SEED,
        "--explain",
        "--format",
        "json",
        "--duration",
        "2s",
        "--warmup",
        "1s",
    ]);
    json(&o);
    assert!(stderr(&o).contains("Routing table:"));
}

#[test]
fn order_violations_without_ordering_and_none_with_it() {
    let dir = tempfile::tempdir().unwrap();
    // Four servers at every projector: events of a key overtake each other unless an ordering
    // step keys the stations after it.
    let prof = "[source.n1]\nrate = 800\nkey = \"zipf(50, 1.1)\"\n[defaults]\nservice = \"exp(0.5ms)\"\n[node.n9]\nservers = 4\nservice = \"exp(3ms)\"\n[node.n10]\nservers = 4\nservice = \"exp(3ms)\"\n[reads]\nrate = 300\n";
    let with = write(dir.path(), "p.sim.toml", prof);
    let v = json(&fz(&[
        SEED,
        "--profile",
        s(&with),
        "--format",
        "json",
        "--duration",
        "10s",
        "--warmup",
        "1s",
    ]));
    assert_eq!(v["cqrs"]["views"]["n13"]["order_violations"], 0);
    assert_eq!(v["cqrs"]["views"]["n14"]["order_violations"], 0);
    let reads = &v["cqrs"]["reads"];
    assert!(reads["completed"].as_u64().unwrap() > 2000, "{reads}");
    assert!(reads["staleness_mean"].as_f64().unwrap() > 0.0, "{reads}");
    assert!(reads["staleness_p99"].as_f64().unwrap() >= reads["staleness_mean"].as_f64().unwrap());
    // The same with the ordering step demoted by a role override.
    let without = write(
        dir.path(),
        "q.sim.toml",
        &format!("{prof}[roles]\nn7 = \"event_router\"\n"),
    );
    let v = json(&fz(&[
        SEED,
        "--profile",
        s(&without),
        "--format",
        "json",
        "--duration",
        "10s",
        "--warmup",
        "1s",
    ]));
    assert!(
        v["cqrs"]["views"]["n13"]["order_violations"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        v["cqrs"]
    );
    assert!(
        v["cqrs"]["views"]["n14"]["order_violations"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        v["cqrs"]["views"]["n15"]["order_violations"], 0,
        "one server keeps FIFO"
    );
    assert_eq!(v["cqrs"]["ordering"].as_array().unwrap().len(), 0);
}

#[test]
fn profile_errors_name_file_line_and_choices() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[node.n2]\nservise = \"exp(1ms)\"\n",
            2,
            "valid keys: service, servers, queue, branch",
        ),
        (
            "[run]\nseed = 1\n\n[node.n99]\nservers = 2\n",
            4,
            "no node `n99`",
        ),
        ("[node.n2]\nservice = \"gamma(2ms)\"\n", 2, "erlang(k,mean)"),
        (
            "[source.n1]\nrate = 10\n[edge.\"n1->n3\"]\ndelay = \"const(1ms)\"\n",
            3,
            "edges from n1 are \"n1->n2\"",
        ),
        (
            "[node.n2]\nbranch = { n3 = 1.0 }\n",
            1,
            "only diamonds choose a branch",
        ),
        (
            "[run]\nseed = 1\n[host]\nclient_wakeup = \"const(20us)\"\n",
            4,
            "[host] client and client_wakeup need cores",
        ),
        (
            "[host]\ncores = 2\nclient_wake = \"const(20us)\"\n",
            3,
            "valid keys: cores, client, client_wakeup",
        ),
    ];
    for (text, line, want) in cases {
        let p = write(dir.path(), "mm1.sim.toml", text);
        let o = fz(&[
            &format!("{FIX}/mm1.fz"),
            "--profile",
            s(&p),
            "--duration",
            "1s",
            "--warmup",
            "0s",
        ]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{}:{line}:", p.display())),
            "{text}: {err}"
        );
        assert!(err.contains(want), "{text}: {err}");
    }
    let o = fz(&[
        &format!("{FIX}/mm1.fz"),
        "--profile",
        "/nonexistent/x.sim.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = fz(&[
        &format!("{FIX}/mm1.fz"),
        "--duration",
        "1s",
        "--warmup",
        "2s",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn profile_is_found_beside_the_diagram() {
    // tests/fixtures/sim/mm1.sim.toml sets 900/s.
    let v = json(&fz(&[
        &format!("{FIX}/mm1.fz"),
        "--format",
        "json",
        "--duration",
        "20s",
        "--warmup",
        "2s",
    ]));
    let x = v["nodes"]["n2"]["throughput"].as_f64().unwrap();
    assert!((x - 900.0).abs() < 30.0, "{x}");
    let v = json(&fz(&[
        &format!("{FIX}/mm1.fz"),
        "--format",
        "json",
        "--duration",
        "20s",
        "--warmup",
        "2s",
        "--rate",
        "300",
    ]));
    let x = v["nodes"]["n2"]["throughput"].as_f64().unwrap();
    assert!((x - 300.0).abs() < 20.0, "--rate overrides: {x}");
}

#[test]
fn cycles_that_multiply_tokens_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "c.fz", "L { # l\nn1: circle label:\"In\"\nn2: rectangle label:\"A\"\nn3: rectangle label:\"B\"\nn4: circle label:\"Out\"\nn1.handle(right) -> n2.handle(left)\nn2.handle(right) -> n3.handle(left)\nn3.handle(right) -> n2.handle(left)\nn3.handle(bottom) -> n4.handle(top)\n}\n");
    let o = fz(&[s(&d), "--duration", "1s", "--warmup", "0s"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("n2 -> n3 -> n2") && err.contains("multiplies"),
        "{err}"
    );
    // A cycle with no way out at all.
    let d = write(dir.path(), "d.fz", "L { # l\nn1: circle label:\"In\"\nn2: rectangle label:\"A\"\nn3: rectangle label:\"B\"\nn1.handle(right) -> n2.handle(left)\nn2.handle(right) -> n3.handle(left)\nn3.handle(right) -> n2.handle(left)\n}\n");
    let err = stderr(&fz(&[s(&d), "--duration", "1s", "--warmup", "0s"]));
    assert!(err.contains("never lets a token out"), "{err}");
}

#[test]
fn hop_limit_is_reported_when_hit() {
    // The feedback model sends 20% back; with a hop limit of 4 tokens that go round are dropped.
    let v = json(&fz(&[
        &format!("{FIX}/feedback.fz"),
        "--format",
        "json",
        "--duration",
        "10s",
        "--warmup",
        "1s",
        "--hop-limit",
        "4",
    ]));
    let hits = v["hop_limit_hits"].as_u64().unwrap();
    // n1->n2->n3->n4 is 3 hops, ->n5 the 4th; a retry makes 5+: about 20% of 5000 tokens.
    assert!(hits > 700 && hits < 1300, "{hits}");
    assert_eq!(v["hop_limit"], 4);
    let v = json(&fz(&[
        &format!("{FIX}/feedback.fz"),
        "--format",
        "json",
        "--duration",
        "10s",
        "--warmup",
        "1s",
    ]));
    assert_eq!(v["hop_limit_hits"], 0);
}

#[test]
fn loop_repeat_probability() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "l.fz", "L { # l\nn1: circle label:\"In\"\nn2: rectangle label:\"A\"\nn3: rectangle label:\"B\"\nn4: circle label:\"Out\"\nn1.handle(right) -> n2.handle(left)\nn2.handle(right) -> n3.handle(left)\nn3.handle(right) -> n4.handle(left)\nloop [retry] n2 n3\n}\n");
    // Without a profile entry the loop changes nothing.
    let v = json(&fz(&[
        s(&d),
        "--format",
        "json",
        "--duration",
        "20s",
        "--warmup",
        "2s",
        "--rate",
        "200",
    ]));
    let base = v["nodes"]["n2"]["throughput"].as_f64().unwrap();
    assert!((base / 200.0 - 1.0).abs() < 0.05, "{base}");
    // repeat 0.5 up to 2 times: visits per token 1 + 0.5 + 0.25 = 1.75.
    let p = write(
        dir.path(),
        "l.sim.toml",
        "[loop.1]\nrepeat = 0.5\nmax = 2\n",
    );
    let v = json(&fz(&[
        s(&d),
        "--profile",
        s(&p),
        "--format",
        "json",
        "--duration",
        "20s",
        "--warmup",
        "2s",
        "--rate",
        "200",
    ]));
    let x = v["nodes"]["n2"]["throughput"].as_f64().unwrap() / 200.0;
    assert!((x - 1.75).abs() < 0.06, "{x}");
    assert!((v["nodes"]["n4"]["throughput"].as_f64().unwrap() / 200.0 - 1.0).abs() < 0.05);
    let p = write(dir.path(), "m.sim.toml", "[loop.2]\nrepeat = 0.5\n");
    let o = fz(&[s(&d), "--profile", s(&p)]);
    assert!(stderr(&o).contains("declares 1 loop"), "{}", stderr(&o));
}

#[test]
fn queue_capacity_drops_and_edge_delay() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.sim.toml", "[source.n1]\nrate = 1500\n[node.n2]\nservice = \"exp(1ms)\"\nqueue = 5\n[edge.\"n2->n3\"]\ndelay = \"const(7ms)\"\n");
    let v = json(&fz(&[
        &format!("{FIX}/mm1.fz"),
        "--profile",
        s(&p),
        "--format",
        "json",
        "--duration",
        "20s",
        "--warmup",
        "2s",
    ]));
    let n2 = &v["nodes"]["n2"];
    assert!(n2["drops"].as_u64().unwrap() > 5000, "{n2}");
    assert!(n2["mean_queue"].as_f64().unwrap() <= 6.0);
    let e2e = v["end_to_end"]["mean"].as_f64().unwrap();
    let resp = n2["mean_response"].as_f64().unwrap();
    assert!((e2e - resp - 0.007).abs() < 1e-6, "{e2e} {resp}");
    // Unstable offered load is named.
    let v = json(&fz(&[
        &format!("{FIX}/mm1.fz"),
        "--format",
        "json",
        "--duration",
        "5s",
        "--warmup",
        "1s",
        "--rate",
        "1200",
    ]));
    assert_eq!(v["unstable"][0], "n2");
}

#[test]
fn html_report_is_self_contained_with_a_diagram_placeholder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let o = fz(&[
        SEED,
        "--duration",
        "5s",
        "--warmup",
        "1s",
        "--report",
        s(&out),
        "--format",
        "json",
    ]);
    json(&o);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<section id=\"diagram\""));
    let diagram = &html[html.find("<section id=\"diagram\"").unwrap()..];
    let diagram = &diagram[..diagram.find("</section>").unwrap()];
    assert!(
        diagram.contains("<svg") && diagram.contains("bottleneck"),
        "diagram coloured, bottleneck marked"
    );
    assert!(diagram.contains("lag "), "views carry their lag");
    assert!(html.contains("<svg") && html.contains("<polyline"));
    assert!(html.contains("n16") && html.contains("order violations"));
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "nothing fetched at view time"
    );
    assert!(!html.contains("<script src"));
}

#[test]
fn realtime_paces_against_the_wall_clock() {
    let t = std::time::Instant::now();
    let o = fz(&[
        &format!("{FIX}/mm1.fz"),
        "--duration",
        "2s",
        "--warmup",
        "0.5s",
        "--realtime",
        "4",
    ]);
    let took = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(took >= 0.45, "2 s at 4x takes half a second: {took}");
    assert!(stderr(&o).contains("[realtime x4] t="), "{}", stderr(&o));
    assert!(stdout(&o).contains("n2"));
}

#[test]
fn default_warmup_fits_the_duration_and_is_printed() {
    // No --warmup and no profile: 10% of the duration.
    let o = fz(&[SEED, "--duration", "1s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines().next().unwrap_or("").contains(
            "1.000s simulated (100.000ms warmup, the default: 10% of the duration, at most 5s)"
        ),
        "{out}"
    );
    let v = json(&fz(&[SEED, "--format", "json", "--duration", "1s"]));
    assert_eq!(v["warmup"].as_f64(), Some(0.1));
    // At most 5 s.
    let v = json(&fz(&[SEED, "--format", "json", "--duration", "80s"]));
    assert_eq!(v["warmup"].as_f64(), Some(5.0));
    // A warmup that was given is used as given, and the header says nothing of a default.
    let o = fz(&[SEED, "--duration", "1s", "--warmup", "0.5s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let head = stdout(&o).lines().next().unwrap_or("").to_string();
    assert!(
        head.contains("1.000s simulated (500.000ms warmup), seed 42"),
        "{head}"
    );
    // A given warmup that does not fit is still an error, naming where it came from.
    let o = fz(&[SEED, "--duration", "1s", "--warmup", "2s"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: the warmup (--warmup), 2.000s, must be shorter than the duration, 1.000s\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.sim.toml", "[run]\nwarmup = \"5s\"\n");
    let o = fz(&[SEED, "--profile", s(&p), "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: the warmup (the profile's), 5.000s, must be shorter than the duration, 1.000s\n"
    );
    let o = fz(&[SEED, "--duration", "0s"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "error: the duration must be above 0\n");
}

#[test]
fn explain_comes_before_the_run_settings_are_checked() {
    // The command: a short run with the default warmup explains, then runs.
    let o = fz(&[SEED, "--explain", "--duration", "1s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let table = out.find("Routing table:").expect("routing table");
    let report = out.find("1.000s simulated").expect("report");
    assert!(table < report, "{out}");
    // Run settings that cannot work: the explanation still prints, then the error.
    let o = fz(&[SEED, "--explain", "--duration", "1s", "--warmup", "2s"]);
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    for want in [
        "n4     write_commit",
        "Routing table:",
        "copy to each of n9, n10, n11, n12",
    ] {
        assert!(out.contains(want), "missing {want}: {out}");
    }
    assert!(!out.contains("simulated"), "no run: {out}");
    assert!(
        stderr(&o).contains("must be shorter than the duration"),
        "{}",
        stderr(&o)
    );
    // With JSON the explanation goes to stderr, before the error.
    let o = fz(&[SEED, "--explain", "--format", "json", "--duration", "0s"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let table = err.find("Routing table:").expect("routing table on stderr");
    let error = err
        .find("error: the duration must be above 0")
        .expect("error");
    assert!(table < error, "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn cqrs_commits_and_completed_commands_count_the_same_window() {
    for reps in ["1", "3"] {
        let o = fz(&[
            SEED,
            "--duration",
            "10s",
            "--warmup",
            "5s",
            "--replications",
            reps,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        let number_after = |key: &str| -> u64 {
            let i = out.find(key).unwrap_or_else(|| panic!("no {key}: {out}")) + key.len();
            out[i..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("no number after {key}: {out}"))
        };
        let commits = number_after("CQRS lens (");
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with("command latency"))
            .unwrap_or_else(|| panic!("{out}"));
        let completed: u64 = line
            .rsplit("completed ")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(commits, completed, "{out}");
        // 500 commands/s over the 5 s window (not the 10 s run) in each replication.
        let per_rep = commits as f64 / reps.parse::<f64>().unwrap();
        assert!((2300.0..2700.0).contains(&per_rep), "{out}");
        assert!(out.contains("commits in the measured window"), "{out}");
    }
    let v = json(&fz(&[
        SEED,
        "--format",
        "json",
        "--duration",
        "10s",
        "--warmup",
        "5s",
    ]));
    let commits = v["cqrs"]["commits"].as_u64().unwrap();
    assert!((2300..2700).contains(&commits), "{commits}");
}

#[test]
fn join_timeout_sends_on_what_arrived_and_counts_partials() {
    let dir = tempfile::tempdir().unwrap();
    let fzf = format!("{FIX}/forkjoin2.fz");
    let p = write(
        dir.path(),
        "p.sim.toml",
        "[source.n1]\nrate = 50\n[node.n3]\nservice = \"const(1ms)\"\n[node.n4]\nservice = \"const(40ms)\"\n[node.n5]\nservice = \"const(0ms)\"\njoin_timeout = \"const(5ms)\"\n",
    );
    let v = json(&fz(&[
        &fzf,
        "--profile",
        s(&p),
        "--duration",
        "20s",
        "--warmup",
        "1s",
        "--format",
        "json",
    ]));
    let j = &v["joins"]["n5"];
    let joined = j["joined"].as_u64().unwrap();
    assert!(joined > 800, "{j}");
    assert_eq!(
        j["partial"].as_u64().unwrap(),
        joined,
        "every join timed out: {j}"
    );
    // The timeout (5 ms after the first part, which takes 1 ms), not the slow part, ends
    // the wait; late parts are absorbed, not sent on.
    let fj = j["mean"].as_f64().unwrap();
    assert!((fj - 0.006).abs() < 0.0005, "{fj}");
    let n6 = v["nodes"]["n6"]["arrivals"].as_f64().unwrap();
    let n1 = v["nodes"]["n1"]["arrivals"].as_f64().unwrap();
    assert!(
        (n6 - n1).abs() <= 2.0,
        "one token per request leaves the join: {n6} vs {n1}"
    );
    // A timeout on a node that gathers nothing is an error naming the joins.
    let p = write(
        dir.path(),
        "q.sim.toml",
        "[node.n3]\njoin_timeout = \"const(5ms)\"\n",
    );
    let o = fz_profiled(&fzf, &p);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("n3 gathers no fan-out (joins: n5)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn closed_loop_profile_errors_and_components_table() {
    let dir = tempfile::tempdir().unwrap();
    let fzf = format!("{FIX}/closed2.fz");
    let p = write(
        dir.path(),
        "a.sim.toml",
        "[source.n1]\nusers = 5\nrate = 100\n",
    );
    let o = fz_profiled(&fzf, &p);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("a.sim.toml:1:9"), "{}", stderr(&o));
    assert!(stderr(&o).contains("closed loop"), "{}", stderr(&o));
    let p = write(
        dir.path(),
        "b.sim.toml",
        "[source.n1]\nthink = \"exp(1ms)\"\n",
    );
    let o = fz_profiled(&fzf, &p);
    assert!(stderr(&o).contains("think without users"), "{}", stderr(&o));
    // [components]: a bad value names the valid ones, a bad key the nodes.
    let p = write(dir.path(), "c.sim.toml", "[components]\nn2 = \"databse\"\n");
    let o = fz_profiled(&fzf, &p);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("c.sim.toml:2:6"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("valid components are"),
        "{}",
        stderr(&o)
    );
    let p = write(
        dir.path(),
        "d.sim.toml",
        "[components]\nn9 = \"projector\"\n",
    );
    let o = fz_profiled(&fzf, &p);
    assert!(
        stderr(&o).contains("its nodes are n1, n4, n2, n3"),
        "{}",
        stderr(&o)
    );
    // A good one shows in --explain with its reason.
    let p = write(
        dir.path(),
        "e.sim.toml",
        "[components]\nn2 = \"store:write:postgresql\"\nBackend = \"infrastructure\"\n",
    );
    let o = fz(&[
        &fzf,
        "--profile",
        s(&p),
        "--explain",
        "--duration",
        "2s",
        "--warmup",
        "1s",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("n2     store:write:postgresql       set in the [components] table"),
        "{out}"
    );
    assert!(
        out.contains("Backend        infrastructure  set in the [components] table"),
        "{out}"
    );
}

// --- capacity questions: --set, --sweep, --find -------------------------------------------

const SHORT: &[&str] = &["--duration", "4s", "--warmup", "1s", "--seed", "5"];

fn fz_short(args: &[&str]) -> Output {
    let mut a: Vec<&str> = vec![SEED];
    a.extend_from_slice(SHORT);
    a.extend_from_slice(args);
    fz(&a)
}

#[test]
fn set_overrides_profile_keys_and_the_report_says_so() {
    let v = json(&fz_short(&[
        "--format",
        "json",
        "--stable",
        "--set",
        "node.n4.service=const(2ms)",
        "--set",
        "source.n1.rate=200",
    ]));
    assert_eq!(v["set"]["node.n4.service"], "const(2ms)");
    assert_eq!(v["set"]["source.n1.rate"], "200");
    let n4 = &v["nodes"]["n4"];
    assert!(n4["mean_response"].as_f64().unwrap() >= 0.002, "{n4}");
    assert!(n4["p50_wait"].as_f64().unwrap() < 0.002, "{n4}");
    let thru = v["nodes"]["n2"]["throughput"].as_f64().unwrap();
    assert!((150.0..250.0).contains(&thru), "rate 200 gave {thru}/s");

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let o = fz_short(&["--set", "node.n4.servers=3", "--report", s(&html)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Set on the command line: node.n4.servers = 3"));
    assert!(stdout(&o).contains("n4     Persist to Write Store"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Set on the command line:</b> <code>node.n4.servers = 3</code>"));

    // A set on top of a profile: the profile's other keys stay, the set wins.
    let p = write(
        dir.path(),
        "p.sim.toml",
        "[source.n1]\ninterarrival = \"exp(10ms)\"\n[node.n4]\nservice = \"const(3ms)\"\n",
    );
    let v = json(&fz_short(&[
        "--profile",
        s(&p),
        "--format",
        "json",
        "--set",
        "source.n1.rate=50",
    ]));
    let n4 = &v["nodes"]["n4"];
    assert!(n4["mean_response"].as_f64().unwrap() >= 0.003, "{n4}");
    let thru = v["nodes"]["n2"]["throughput"].as_f64().unwrap();
    assert!(
        (30.0..70.0).contains(&thru),
        "rate 50 (replacing interarrival) gave {thru}/s"
    );
}

#[test]
fn set_errors_name_the_key_and_the_choices() {
    let cases: &[(&str, &str)] = &[
        ("node.n4.speed=3", "--set node.n4.speed=3: unknown key `speed` in [node.n4]; valid keys: service, servers, queue, branch, join_timeout, batch, per_item"),
        ("node.n99.service=1ms", "--set node.n99.service: no node `n99` in the diagram; its nodes are n1, n2,"),
        ("node.n4.service=gamma(2)", "valid: const(x), exp(mean)"),
        ("nodes.n4.service=1ms", "`nodes.n4.service` is not a profile key; write run.KEY, defaults.KEY, source.ID.KEY, node.ID.KEY"),
        ("node.n4.servers=two", "[node.n4] servers must be an integer, found string"),
        ("node.n4.service", "write KEY=VALUE"),
        ("node.n4.per_item=soon", "[node.n4] per_item: "),
        ("run.duration=soon", "is not a duration"),
    ];
    for (arg, want) in cases {
        let o = fz_short(&["--set", arg]);
        assert_eq!(o.status.code(), Some(2), "{arg}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{arg}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn sweep_tabulates_each_point_with_intervals_knee_and_plots() {
    let args = [
        "--sweep",
        "rate=300..1200:4",
        "--replications",
        "3",
        "--format",
        "json",
        "--stable",
    ];
    let o = fz_short(&args);
    let v = json(&o);
    assert_eq!(o.stdout, fz_short(&args).stdout, "a sweep is deterministic");
    assert_eq!(v["sweep"]["key"], "rate");
    assert_eq!(v["replications"], 3);
    let pts = v["points"].as_array().unwrap();
    let xs: Vec<f64> = pts.iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(xs, [300.0, 600.0, 900.0, 1200.0]);
    let metrics: Vec<&str> = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(metrics.contains(&"command.p99") && metrics.contains(&"view.n13.lag_p99"));
    let p99 = |p: &serde_json::Value| p["metrics"]["command.p99"]["value"].as_f64().unwrap();
    assert!(p99(&pts[0]) < p99(&pts[2]), "latency grows with load");
    let ci = pts[1]["metrics"]["command.p99"]["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= ci[1].as_f64().unwrap());
    // Above the stations' capacity (1000/s at exp(1ms)) the point is unstable.
    assert!(pts[0]["unstable"].as_array().unwrap().is_empty());
    assert!(!pts[3]["unstable"].as_array().unwrap().is_empty());
    assert!(v["knee"]["command.p99"].as_f64().is_some());

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("sweep.html");
    let o = fz_short(&[
        "--sweep",
        "rate=300..1200:4",
        "--replications",
        "3",
        "--report",
        s(&html),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("sweep of rate over 4 points, 3 replications"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("1200") && l.contains("UNSTABLE")),
        "{text}"
    );
    assert!(text.contains("Knee (the first point where a metric exceeds twice its low-load value)"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("data-metric=\"command.p99\""));
    assert!(page.contains("class=\"ci95\"") && page.contains("class=\"knee\""));
    assert!(!page.contains("<script"));

    // Integer steps of any key.
    let v = json(&fz_short(&[
        "--sweep",
        "node.n9.servers=1..3",
        "--rate",
        "900",
        "--replications",
        "2",
        "--format",
        "json",
    ]));
    let xs: Vec<f64> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(xs, [1.0, 2.0, 3.0]);

    let o = fz_short(&["--sweep", "rate=500..800"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("give the number of points, e.g. rate=500..800:10"),
        "{}",
        stderr(&o)
    );
    let o = fz_short(&["--sweep", "roles.n3=1..2"]);
    assert!(stderr(&o).contains("cannot be swept"), "{}", stderr(&o));
}

#[test]
fn find_rate_bisects_to_the_largest_rate_meeting_the_slo() {
    let args = [
        "--find",
        "rate",
        "--slo",
        "command.p99<40ms",
        "--replications",
        "3",
        "--format",
        "json",
        "--stable",
    ];
    let o = fz_short(&args);
    let v = json(&o);
    assert_eq!(
        o.stdout,
        fz_short(&args).stdout,
        "a search is deterministic"
    );
    let ans = v["answer"].as_f64().unwrap();
    let iv: Vec<f64> = v["interval"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!((500.0..1000.0).contains(&ans), "answer {ans}");
    assert!(iv[0] <= ans && ans <= iv[1], "{iv:?} around {ans}");
    assert_eq!(
        v["rule"],
        "a point passes when every objective's 95% upper bound meets it"
    );
    // The answer passes with its upper bound; every evaluation above the interval fails.
    for e in v["evaluations"].as_array().unwrap() {
        let x = e["value"].as_f64().unwrap();
        let up = e["passes"]["upper"].as_bool().unwrap();
        if x == ans {
            assert!(up);
            let m = &e["metrics"]["command.p99"];
            assert!(m["ci95"][1].as_f64().unwrap() < 0.04, "{m}");
        }
        if x > iv[1] {
            assert!(!e["passes"]["lower"].as_bool().unwrap(), "{e}");
        }
    }
    let o = fz_short(&[
        "--find",
        "rate",
        "--slo",
        "command.p99<40ms",
        "--replications",
        "3",
    ]);
    let text = stdout(&o);
    assert!(
        text.contains("largest rate meeting command.p99<40.000ms"),
        "{text}"
    );
    assert!(
        text.contains("(a point passes when every objective's 95% upper bound meets it)"),
        "{text}"
    );
    assert!(text.contains("95% interval: "), "{text}");
}

#[test]
fn find_setting_gives_the_smallest_integer_meeting_the_slo() {
    let v = json(&fz_short(&[
        "--find",
        "node.n4.servers",
        "--rate",
        "1500",
        "--set",
        "defaults.servers=2",
        "--set",
        "node.n4.service=exp(2ms)",
        "--slo",
        "command.p99<100ms",
        "--replications",
        "2",
        "--format",
        "json",
    ]));
    // At 1500/s with 2 ms service n4 needs more than 3 servers for stability; 4 is fine.
    assert_eq!(v["answer"], 4.0, "{v}");
    assert_eq!(v["rate"], 1500.0);
    assert_eq!(v["set"]["defaults.servers"], "2");
}

#[test]
fn slo_errors_list_the_valid_metrics() {
    let o = fz_short(&["--find", "rate", "--slo", "command.p98<50ms"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("--slo: unknown metric `command.p98`; valid metrics: end_to_end.mean"),
        "{e}"
    );
    assert!(
        e.contains("command.p99")
            && e.contains("view.n13.lag_p99")
            && e.contains("node.ID.{mean_response,p50_response,p99_response,mean_wait,p50_wait,p99_wait,utilization,throughput} for ID in n1, n2,"),
        "{e}"
    );
    // The seed's writes end at views (lag, not end-to-end): without reads end_to_end is empty.
    let o = fz_short(&["--find", "rate", "--slo", "end_to_end.p99<20ms"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`end_to_end.p99` has no samples at any point tried"),
        "{}",
        stderr(&o)
    );
    let o = fz_short(&["--find", "rate", "--slo", "command.p99>5ms"]);
    assert!(stderr(&o).contains("write METRIC<VALUE"), "{}", stderr(&o));
    let o = fz_short(&["--find", "rate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--slo"));
}

#[test]
fn batch_station_by_set_and_its_companion_check() {
    // per_item needs batch: given together they run, alone the whole profile says why not.
    let v = json(&fz_short(&[
        "--set",
        "node.n9.batch=16",
        "--set",
        "node.n9.service=const(1ms)",
        "--set",
        "node.n9.per_item=const(10us)",
        "--rate",
        "900",
        "--format",
        "json",
    ]));
    let n9 = &v["nodes"]["n9"];
    // One batch server at 900/s: batches of many, each 1 ms + 10 us per item, far from busy.
    assert!(n9["utilization"].as_f64().unwrap() < 0.7, "{n9}");
    assert!(n9["mean_response"].as_f64().unwrap() >= 0.00101, "{n9}");
    let o = fz_short(&["--set", "node.n9.per_item=const(10us)"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[node.n9] gives per_item without batch"),
        "{}",
        stderr(&o)
    );
    // per_key likewise; with batch, and keys in sequences of four, the run says it.
    let o = fz_short(&["--set", "node.n9.per_key=const(10us)"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[node.n9] gives per_key without batch"),
        "{}",
        stderr(&o)
    );
    let v = json(&fz_short(&[
        "--set",
        "node.n9.batch=16",
        "--set",
        "node.n9.per_key=const(10us)",
        "--set",
        "source.n1.key=sequence(4, 8)",
        "--rate",
        "900",
        "--format",
        "json",
    ]));
    assert!(
        v["nodes"]["n9"]["utilization"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    let o = fz_short(&["--set", "source.n1.key=sequence(0)"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("key: sequence: m = `0` must be an integer >= 1"),
        "{}",
        stderr(&o)
    );
}

/// A view's `read` is what a query's visit takes there; the projector's writes still take
/// `service`, so the read time moves the query latency and leaves the projection lag alone.
#[test]
fn a_view_read_time_charges_queries_not_writes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |read: Option<&str>| {
        let p = write(
            dir.path(),
            "read.sim.toml",
            &format!(
                "[reads]\nrate = 200\nviews = [\"n13\"]\n\n[node.n13]\nservice = \"const(0)\"\nservers = 100\n{}",
                read.map(|r| format!("read = \"{r}\"\n")).unwrap_or_default()
            ),
        );
        json(&fz(&[
            SEED,
            "--profile",
            s(&p),
            "--duration",
            "30s",
            "--warmup",
            "1s",
            "--seed",
            "7",
            "--format",
            "json",
        ]))
    };
    let (plain, slow) = (run(None), run(Some("const(20ms)")));
    let p50 = |v: &serde_json::Value| v["cqrs"]["reads"]["p50"].as_f64().unwrap();
    let lag = |v: &serde_json::Value| v["cqrs"]["views"]["n13"]["lag_mean"].as_f64().unwrap();
    assert!(
        p50(&plain) < 0.005,
        "reads without a read time: {}",
        p50(&plain)
    );
    assert!(
        p50(&slow) >= 0.020 && p50(&slow) < 0.020 + p50(&plain) + 0.002,
        "reads with read = 20 ms: {} (without: {})",
        p50(&slow),
        p50(&plain)
    );
    let (a, b) = (lag(&plain), lag(&slow));
    assert!(
        (a - b).abs() <= 0.05 * a,
        "the lag is the writes': {a} vs {b}"
    );
}

/// Projection lag counts from the start of the event's commit (where the generated service
/// stamps `recorded_at`, before its inserts and fsync), so a slow commit shows in the lag as
/// it does in the service's own figure; the command's latency ends with the commit.
#[test]
fn the_lag_counts_from_the_commits_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "lag.sim.toml",
        "[defaults]\nservice = \"0\"\nservers = 100\n\n[source.n1]\nrate = 10\n\n\
         [node.n4]\nservice = \"const(3ms)\"\n\n[node.n9]\nservice = \"const(2ms)\"\n",
    );
    let v = json(&fz(&[
        SEED,
        "--profile",
        s(&p),
        "--duration",
        "20s",
        "--warmup",
        "1s",
        "--format",
        "json",
    ]));
    let command = v["cqrs"]["command_latency"]["p50"].as_f64().unwrap();
    let lag = v["cqrs"]["views"]["n13"]["lag_p50"].as_f64().unwrap();
    let other = v["cqrs"]["views"]["n14"]["lag_p50"].as_f64().unwrap();
    // Nothing queues at 10/s on 100 servers: the command is its 3 ms commit, the lag of
    // n13 the commit and its projector (3 + 2 ms), of n14 the commit alone.
    assert!((command - 3e-3).abs() < 1e-4, "command p50 {command}");
    assert!((lag - 5e-3).abs() < 1e-4, "n13 lag p50 {lag}");
    assert!((other - 3e-3).abs() < 1e-4, "n14 lag p50 {other}");
}
