//! `fz calibrate` end to end: a profile written from a saved `/metrics` of the seed's
//! generated service (snapshot, and `fz sim` runs it), and every error naming where and why.

use std::path::Path;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SEED: &str = "examples/cqrs-materialized-views.fz";
const METRICS: &str = "tests/fixtures/calibrate/seed-1000.metrics";

fn fz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fz"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_saved_metrics_file_gives_the_profile() {
    let o = fz(&["calibrate", SEED, "--from", METRICS]);
    assert!(o.status.success(), "{}", stderr(&o));
    let profile = String::from_utf8(o.stdout).unwrap();
    insta::assert_snapshot!("calibrated_seed_profile", profile);
}

#[test]
fn the_written_profile_runs_and_predicts_the_measured_commit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.sim.toml");
    let o = fz(&[
        "calibrate",
        SEED,
        "--from",
        METRICS,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("16 nodes calibrated, 2 without code of their own"),
        "{}",
        stderr(&o)
    );
    let o = fz(&[
        "sim",
        SEED,
        "--profile",
        out.to_str().unwrap(),
        "--rate",
        "1000",
        "--set",
        "reads.rate=1000",
        "--duration",
        "10s",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // A station serves in the time the service measured for that node (a heavy-tailed
    // sample of 10 s: within 15%).
    let n2 = &r["nodes"]["n2"];
    let text = std::fs::read_to_string(Path::new(ROOT).join(METRICS)).unwrap();
    let sum = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    let handle_mean = sum("fz_node_seconds_sum{node=\"n2\",stage=\"handle\"}")
        / sum("fz_node_seconds_count{node=\"n2\",stage=\"handle\"}");
    let sim_mean = n2["mean_response"].as_f64().unwrap() - n2["mean_wait"].as_f64().unwrap();
    assert!(
        (sim_mean - handle_mean).abs() / handle_mean < 0.15,
        "n2 service: simulated {sim_mean}, measured {handle_mean}"
    );
    assert!(r["cqrs"]["command_latency"]["p50"].as_f64().unwrap() > 0.0);
}

#[test]
fn errors_say_where_and_why_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.metrics");
    std::fs::write(
        &plain,
        "# TYPE commands_total counter\ncommands_total{result=\"accepted\"} 3\n",
    )
    .unwrap();
    let other = dir.path().join("other.metrics");
    std::fs::write(
        &other,
        "fz_node_concurrency{node=\"n1\",kind=\"servers\"} 2\nfz_node_concurrency{node=\"n99\",kind=\"servers\"} 1\n",
    )
    .unwrap();
    let html = dir.path().join("page.html");
    std::fs::write(&html, "<html><body>Not Found</body></html>\n").unwrap();
    // A port of this helper's range nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = format!("http://127.0.0.1:{port}/metrics");
    let cases: Vec<(String, String)> = vec![
        (
            "ftp://host/metrics".into(),
            "`ftp://` is not supported".into(),
        ),
        (
            "http://127.0.0.1:70000/metrics".into(),
            "the port `70000` is not a number".into(),
        ),
        (
            unreachable.clone(),
            format!("--from {unreachable}: cannot connect to 127.0.0.1:{port}"),
        ),
        (
            "no/such/file.metrics".into(),
            "--from no/such/file.metrics: cannot read".into(),
        ),
        (
            plain.display().to_string(),
            format!(
                "{}: no fz_node_seconds or fz_node_concurrency series with a node label",
                plain.display()
            ),
        ),
        (
            other.display().to_string(),
            format!(
                "{}:2: node \"n99\" is not in {SEED}; its nodes are n1, n2,",
                other.display()
            ),
        ),
        (
            html.display().to_string(),
            format!("{}:1: ", html.display()),
        ),
    ];
    for (from, want) in cases {
        let o = fz(&["calibrate", SEED, "--from", &from]);
        assert_eq!(o.status.code(), Some(2), "{from}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&want),
            "{from}: want {want:?} in {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "{from}: nothing on stdout");
    }
}

#[test]
fn a_diagram_with_errors_is_refused_before_reading_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.fz");
    std::fs::write(
        &bad,
        "L { # L\nn1: circle label:\"a\"\nn1.handle(right) -> n9.handle(left)\n}\n",
    )
    .unwrap();
    let o = fz(&[
        "calibrate",
        bad.to_str().unwrap(),
        "--from",
        "http://127.0.0.1:1/metrics",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("has errors; nothing calibrated"),
        "{}",
        stderr(&o)
    );
}

/// loadgen's closed loop waits for the HTTP answer, which the service sends at the commit:
/// the simulated closed loop does the same, so a slow projection (n12 at 50 ms, 20/s at
/// most) does not hold the users back. Waiting for every copy, 16 users would manage
/// at most 20 commands/s.
#[test]
fn a_closed_loop_user_is_answered_at_the_commit() {
    let o = fz(&[
        "sim",
        SEED,
        "--duration",
        "5s",
        "--warmup",
        "1s",
        "--format",
        "json",
        "--set",
        "defaults.service=exp(10us)",
        "--set",
        "node.n12.service=const(50ms)",
        "--set",
        "source.n1.users=16",
        "--set",
        "source.n1.think=const(1ms)",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let thr = r["requests"]["n1"]["throughput"].as_f64().unwrap();
    assert!(thr > 5000.0, "16 users with 1 ms think: {thr}/s");
}

const AT_3S: &str = "tests/fixtures/calibrate/seed-1000-at-3s.metrics";
const AT_15S: &str = "tests/fixtures/calibrate/seed-1000-at-15s.metrics";

/// `per_item` of `[node.ID]` in a profile, in µs (`const(17.56us)`).
fn per_item_us(profile: &str, id: &str) -> f64 {
    let section = profile
        .split(&format!("[node.{id}]\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no [node.{id}] in\n{profile}"));
    let section = section.split("\n[").next().unwrap();
    let line = section
        .lines()
        .find(|l| l.starts_with("per_item = "))
        .unwrap_or_else(|| panic!("no per_item in [node.{id}]:\n{section}"));
    let v = line
        .trim_start_matches("per_item = \"const(")
        .trim_end_matches(")\"");
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix("ns") {
        (n, 1e-3)
    } else {
        panic!("per_item {v}")
    };
    num.parse::<f64>().unwrap() * scale
}

/// Two reads of one run of the seed's service at 1,000 commands/s (3 s and 15 s into it).
/// Counted from the start, the first batches of a fresh store (a few of 8 to 13 commits
/// costing 6 to 7 ms of CPU each) set the group commit's CPU slope at about 42 µs an
/// append; over the window between the reads it is the steady cost, under 25 µs (the
/// service measured 10 µs an append at 20,000/s).
#[test]
fn since_an_earlier_read_the_fit_leaves_out_the_services_start() {
    let whole = fz(&["calibrate", SEED, "--from", AT_15S]);
    assert!(whole.status.success(), "{}", stderr(&whole));
    let window = fz(&["calibrate", SEED, "--from", AT_15S, "--since", AT_3S]);
    assert!(window.status.success(), "{}", stderr(&window));
    let (whole, window) = (
        String::from_utf8(whole.stdout).unwrap(),
        String::from_utf8(window.stdout).unwrap(),
    );
    let (w, s) = (per_item_us(&whole, "n4"), per_item_us(&window, "n4"));
    assert!(
        w > 35.0 && s < 25.0,
        "since the start {w} µs, the window {s} µs"
    );
    assert!(
        window.contains("# commit_batch: 8066 batches"),
        "the window's batches only:\n{window}"
    );
    assert!(
        window.starts_with(&format!(
            "# Profile of {SEED} fitted by `fz calibrate` to {AT_15S}, less {AT_3S}."
        )),
        "{window}"
    );
}

#[test]
fn reads_in_the_wrong_order_or_from_two_runs_are_refused() {
    let o = fz(&["calibrate", SEED, "--from", AT_3S, "--since", AT_15S]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "error: {AT_3S}:2: commands_total is 2954 here but was 15000 in {AT_15S}"
        )) && e.contains("wrong order"),
        "{e}"
    );
    assert!(o.stdout.is_empty());
    // The same read twice: nothing happened between them.
    let o = fz(&["calibrate", SEED, "--from", AT_3S, "--since", AT_3S]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no node timed anything between the two reads"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_window_needs_a_running_service_and_a_duration() {
    let o = fz(&["calibrate", SEED, "--from", AT_15S, "--window", "5s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("--window 5.000s reads --from twice, so it needs a running service's URL"),
        "{}",
        stderr(&o)
    );
    let o = fz(&["calibrate", SEED, "--from", AT_15S, "--window", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`soon` is not a duration"),
        "{}",
        stderr(&o)
    );
    let o = fz(&[
        "calibrate",
        SEED,
        "--from",
        AT_15S,
        "--since",
        AT_3S,
        "--window",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}

/// `--window` against a live service: the fit is to what it did between its two reads,
/// the same profile as the two saved copies give.
#[test]
fn a_window_on_a_running_service_fits_what_it_did_between_two_reads() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = [AT_3S, AT_15S].map(|f| std::fs::read(Path::new(ROOT).join(f)).unwrap());
    let server = std::thread::spawn(move || {
        for body in bodies {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                req.extend_from_slice(&buf[..n]);
            }
            assert!(req.starts_with(b"GET /metrics HTTP/1.1\r\n"));
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(&body).unwrap();
        }
    });
    let url = format!("http://127.0.0.1:{port}/metrics");
    let o = fz(&["calibrate", SEED, "--from", &url, "--window", "200ms"]);
    server.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("read {url}; reading it again in 200.000ms")),
        "{}",
        stderr(&o)
    );
    let live = String::from_utf8(o.stdout).unwrap();
    let saved = fz(&["calibrate", SEED, "--from", AT_15S, "--since", AT_3S]);
    let saved = String::from_utf8(saved.stdout).unwrap();
    let body = |p: &str| p.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&live), body(&saved));
}
