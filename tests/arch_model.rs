//! The architecture model on the six reference designs (`examples/`): what each node, lane and
//! edge is, snapshotted with its reasons; and `fz sim` on each design with no profile gives a
//! report with no artefact (nothing unstable at the default rate, the right lens, every
//! default listed), with `--explain` naming a component for every node.

use std::process::{Command, Output};

use fz::model::arch::{Architecture, InferOptions, Overrides};
use fz::model::{Component, Interaction};

const EX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// (file, lens line the text report must have, or none)
const DESIGNS: &[(&str, Option<&str>)] = &[
    ("cqrs-event-store", Some("CQRS lens")),
    ("cqrs-materialized-views", Some("CQRS lens")),
    ("cqrs-read-write-separation", Some("CQRS lens")),
    ("cqrs-task-based-ui", Some("CQRS lens")),
    ("api-gateway", Some("Gateway lens")),
    ("database-per-service", Some("Replication lens")),
];

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{EX}/{name}.fz")).unwrap()
}

fn arch(src: &str) -> (fz::model::Checked, Architecture) {
    let c = fz::model::check(src);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let a = Architecture::infer(&c.diagram, &Overrides::default(), InferOptions::default());
    (c, a)
}

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fz"))
        .arg("sim")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_design_explained() {
    for (name, _) in DESIGNS {
        let (c, a) = arch(&read(name));
        for (ix, _) in c.diagram.nodes() {
            assert!(
                !a.components[ix.index()].reason.is_empty(),
                "{name}: {} has no reason",
                c.diagram.node(ix).id
            );
        }
        insta::assert_snapshot!(format!("arch_{name}"), a.explain(&c.diagram));
    }
}

#[test]
fn the_components_each_design_needs() {
    let comp = |name: &str, id: &str| {
        let (c, a) = arch(&read(name));
        a.component(c.diagram.node_index(id).unwrap()).name()
    };
    // Event store: append is the event store, the handler consumes, the projector updates.
    assert_eq!(comp("cqrs-event-store", "n8"), "store:event");
    assert_eq!(comp("cqrs-event-store", "n12"), "bus:kafka");
    assert_eq!(comp("cqrs-event-store", "n14"), "consume");
    assert_eq!(comp("cqrs-event-store", "n15"), "projector");
    assert_eq!(comp("cqrs-event-store", "n17"), "consistency_check");
    // Read/write separation: PostgreSQL writes, Redis reads, a sync layer and a lag monitor.
    assert_eq!(
        comp("cqrs-read-write-separation", "n7"),
        "store:write:postgresql"
    );
    assert_eq!(
        comp("cqrs-read-write-separation", "n12"),
        "store:cache:redis"
    );
    assert_eq!(comp("cqrs-read-write-separation", "n11"), "sync");
    assert_eq!(comp("cqrs-read-write-separation", "n13"), "lag_monitor");
    // Task-based UI.
    assert_eq!(comp("cqrs-task-based-ui", "n1"), "user_intent");
    assert_eq!(comp("cqrs-task-based-ui", "n10"), "idempotency");
    assert_eq!(comp("cqrs-task-based-ui", "n18"), "notification:websocket");
    // Gateway.
    assert_eq!(comp("api-gateway", "n5"), "gateway:authenticate");
    assert_eq!(comp("api-gateway", "n7"), "gateway:rate_limit");
    assert_eq!(comp("api-gateway", "n11"), "gateway:aggregate");
    // Database per service: polyglot stores.
    assert_eq!(comp("database-per-service", "n5"), "store:write:postgresql");
    assert_eq!(
        comp("database-per-service", "n15"),
        "store:document:mongodb"
    );
}

#[test]
fn scatter_gather_gets_its_join_and_replies() {
    let (c, a) = arch(&read("api-gateway"));
    let id = |ix: fz::model::NodeIx| c.diagram.node(ix).id.clone();
    let joins: Vec<(String, String, usize)> = a
        .joins
        .iter()
        .map(|(f, j, p)| (id(*f), id(*j), *p))
        .collect();
    assert_eq!(joins, [("n10".to_string(), "n11".to_string(), 3)]);
    for (e, s, t, _) in c.diagram.edges() {
        let want = match (id(s).as_str(), id(t).as_str()) {
            ("n13" | "n14" | "n15", "n11") | ("n11", "n4") | ("n6", "n2") => Interaction::Reply,
            ("n10", "n13" | "n14" | "n15") | ("n1", "n5") => Interaction::Call,
            _ => continue,
        };
        assert_eq!(a.interaction(e), want, "{}->{}", id(s), id(t));
    }
}

#[test]
fn overrides_change_nodes_lanes_and_edges() {
    let src = read("cqrs-materialized-views");
    let c = fz::model::check(&src);
    let mut o = Overrides::default();
    o.add(&c.diagram, "n13", "store:read:postgresql").unwrap();
    o.add(&c.diagram, "Views", "service").unwrap();
    o.add(&c.diagram, "n13->n17", "flow").unwrap();
    let a = Architecture::infer(&c.diagram, &o, InferOptions::default());
    let n13 = c.diagram.node_index("n13").unwrap();
    assert_eq!(a.component(n13).name(), "store:read:postgresql");
    assert_eq!(
        a.components[n13.index()].reason,
        "set in the [components] table"
    );
    assert_eq!(a.lanes[3].value.as_str(), "service");
    let e = c
        .diagram
        .edges()
        .find(|(_, s, t, _)| *s == n13 && c.diagram.node(*t).id == "n17")
        .unwrap()
        .0;
    assert_eq!(a.interaction(e), Interaction::Flow);
    // Unknown keys and values say what is valid.
    let e = o.add(&c.diagram, "n99", "projector").unwrap_err();
    assert!(e.to_string().contains("neither a node id"), "{e}");
    let e = o.add(&c.diagram, "n13", "database").unwrap_err();
    assert!(e.to_string().contains("valid components are"), "{e}");
    let e = o.add(&c.diagram, "n1->n9", "read").unwrap_err();
    assert!(e.to_string().contains("n1->n9"), "{e}");
    assert!(matches!(
        "store:event:sqlite".parse::<Component>(),
        Ok(Component::Store { .. })
    ));
}

#[test]
fn each_design_simulates_with_no_artefact() {
    for (name, lens) in DESIGNS {
        let path = format!("{EX}/{name}.fz");
        let o = sim(&[&path, "--duration", "20s", "--warmup", "2s"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !out.contains("UNSTABLE"),
            "{name} unstable at the default rate:\n{out}"
        );
        if let Some(l) = lens {
            assert!(out.contains(l), "{name}: no {l}:\n{out}");
        }
        assert!(out.contains("Assumptions"), "{name}: {out}");
        assert!(
            out.contains("(the default"),
            "{name}: defaults not listed: {out}"
        );
        // --explain names a component for every node.
        let o = sim(&[&path, "--explain", "--duration", "2s", "--warmup", "1s"]);
        let out = String::from_utf8_lossy(&o.stdout);
        let (c, _) = arch(&read(name));
        let comps = out
            .split("Components:")
            .nth(1)
            .and_then(|s| s.split("Interactions:").next())
            .unwrap_or("");
        for (_, n) in c.diagram.nodes() {
            assert!(
                comps
                    .lines()
                    .any(|l| l.split_whitespace().next() == Some(&n.id)),
                "{name}: {} missing from --explain:\n{out}",
                n.id
            );
        }
    }
}

#[test]
fn lenses_measure_what_each_design_is_about() {
    let json = |name: &str| -> serde_json::Value {
        let path = format!("{EX}/{name}.fz");
        let o = sim(&[
            &path,
            "--duration",
            "20s",
            "--warmup",
            "2s",
            "--format",
            "json",
            "--stable",
        ]);
        assert!(o.status.success());
        serde_json::from_slice(&o.stdout).unwrap()
    };
    // Gateway: a share for every outcome, the accepted one the largest.
    let g = json("api-gateway");
    let outs = &g["requests"]["n1"]["outcomes"];
    for id in ["n2", "n3", "n4"] {
        assert!(outs[id]["share"].as_f64().unwrap() > 0.0, "{id}: {outs}");
    }
    assert!(outs["n4"]["share"].as_f64().unwrap() > 0.85);
    // The aggregator joined one token per request.
    assert!(g["joins"]["n11"]["joined"].as_u64().unwrap() > 5000);
    // Task-based UI: submit to confirmation is measured, and later than the commit.
    let t = json("cqrs-task-based-ui");
    let confirm = t["cqrs"]["confirmation"]["mean"].as_f64().unwrap();
    let command = t["cqrs"]["command_latency"]["mean"].as_f64().unwrap();
    assert!(confirm > command, "{confirm} {command}");
    // Database per service: lag of every replicated read model.
    let r = json("database-per-service");
    assert_eq!(r["cqrs"]["lens"], "replication");
    for v in ["n15", "n18", "n19"] {
        assert!(
            r["cqrs"]["views"][v]["lag_mean"].as_f64().unwrap() > 0.0,
            "{v}"
        );
    }
    // Read/write separation: the write ACK answers after commit, reads see staleness.
    let rw = json("cqrs-read-write-separation");
    assert!(
        rw["requests"]["n1"]["outcomes"]["n3"]["mean"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(
        rw["cqrs"]["reads"]["staleness_mean"].is_null()
            || rw["cqrs"]["views"]["n12"]["lag_mean"].as_f64().unwrap() > 0.0
    );
    // ... and a read comes back: past the read database (n16 -> n12 -> n17) it is an
    // ordinary flow again, so the DTO step's reply reaches "Query Response" (n4) for the
    // diamond's share of the requests (0.5 by default), not only the writes' ACK.
    let read = &rw["requests"]["n1"]["outcomes"]["n4"];
    let share = read["share"].as_f64().unwrap_or(0.0);
    assert!((share - 0.5).abs() < 0.05, "read share {share}: {read}");
    let n4 = &rw["nodes"]["n4"];
    assert!(n4["arrivals"].as_f64().unwrap_or(0.0) > 0.0, "{n4}");
    // Three stations at 1 ms / 0.5 ms / 1 ms mean service: a read takes at least 2.5 ms.
    assert!(read["mean"].as_f64().unwrap() > 2.5e-3, "{read}");
}

#[test]
fn html_report_has_assumptions_outcomes_and_joins() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    let path = format!("{EX}/api-gateway.fz");
    let o = sim(&[
        &path,
        "--duration",
        "5s",
        "--warmup",
        "1s",
        "--report",
        page.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    for want in [
        "Assumptions (defaults this run used",
        "Gateway lens: requests by entry point and outcome",
        "Fork-join (fork to join)",
        "429 Too Many Requests",
        "decision n6",
    ] {
        assert!(html.contains(want), "missing {want}");
    }
}
