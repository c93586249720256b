//! `fz gen` for systems of several services: which diagrams get a workspace, the plan of
//! the API-gateway example, refusals of shapes it cannot generate, rendering safety and
//! regeneration.

use std::path::{Path, PathBuf};

use fz::gen::workspace::{self, WorkspaceError};

use fz::gen::{GenError, GenOptions};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn plan(source: &str) -> Result<Option<workspace::WorkspacePlan>, GenError> {
    workspace::plan_source(source, "test.fz", "shop", None, "")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(example(name)).expect("example")
}

#[test]
fn api_gateway_plan() {
    let p = plan(&read("api-gateway.fz"))
        .expect("plans")
        .expect("a workspace");
    insta::assert_json_snapshot!("api_gateway_plan", p);
}

#[test]
fn api_gateway_routes_and_fan_out() {
    let p = plan(&read("api-gateway.fz")).expect("plans").expect("ws");
    let routes: Vec<(&str, &str)> = p
        .services
        .iter()
        .map(|s| (s.key.as_str(), s.prefix.as_str()))
        .collect();
    assert_eq!(
        routes,
        [
            ("user_service", "/users"),
            ("order_service", "/orders"),
            ("product_service", "/products")
        ]
    );
    assert!(p.authenticate && p.rate_limit && p.discovery);
    let a = p.aggregate.expect("the fan-out at n10 joins at n11");
    assert_eq!((a.fork.as_str(), a.node.as_str()), ("n10", "n11"));
    assert_eq!(a.path, "/aggregate-responses");
    let parts: Vec<(&str, &str)> = a
        .parts
        .iter()
        .map(|x| (x.service.as_str(), x.path.as_str()))
        .collect();
    assert_eq!(
        parts,
        [
            ("user_service", "/users/{id}"),
            ("order_service", "/orders"),
            ("product_service", "/products")
        ]
    );
    assert!(
        p.notes.iter().any(|n| n.contains("consul")),
        "{:?}",
        p.notes
    );
}

#[test]
fn cqrs_designs_stay_single_service() {
    for f in [
        "cqrs-materialized-views.fz",
        "cqrs-event-store.fz",
        "cqrs-read-write-separation.fz",
        "cqrs-task-based-ui.fz",
    ] {
        assert!(
            plan(&read(f)).expect("plans").is_none(),
            "{f} is a single service"
        );
    }
}

#[test]
fn database_per_service_plan_from_the_model() {
    let p = plan(&read("database-per-service.fz"))
        .expect("plans")
        .expect("a workspace");
    let svc: Vec<(&str, &str)> = p
        .services
        .iter()
        .map(|s| (s.key.as_str(), s.prefix.as_str()))
        .collect();
    assert_eq!(
        svc,
        [
            ("order_service", "/orders"),
            ("inventory_service", "/inventory"),
            ("customer_service", "/customer")
        ]
    );
    assert!(
        p.eventing && !p.authenticate,
        "the diagram draws no authentication"
    );
    let by = |k: &str| p.services.iter().find(|s| s.key == k).expect(k);
    let (order, inv, cust) = (
        by("order_service"),
        by("inventory_service"),
        by("customer_service"),
    );
    let db = |s: &workspace::plan::ServicePlan| {
        let d = s.db.clone().expect("a database");
        (d.node, d.drawn, d.records, d.records_kind)
    };
    assert_eq!(
        db(order),
        (
            "n5".into(),
            "PostgreSQL".into(),
            Some("n5".into()),
            "table".into()
        )
    );
    assert_eq!(
        db(inv),
        (
            "n15".into(),
            "MongoDB".into(),
            Some("n15".into()),
            "document".into()
        )
    );
    assert_eq!(
        db(cust),
        ("n19".into(), "PostgreSQL".into(), None, "table".into())
    );
    assert!(inv.db.as_ref().expect("db").used.contains("jsonb"));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("MongoDB") && n.contains("jsonb")),
        "{:?}",
        p.notes
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("Kafka") && n.contains("NATS JetStream")),
        "{:?}",
        p.notes
    );
    let pubs = |s: &workspace::plan::ServicePlan| -> Vec<(String, String)> {
        s.publishes
            .iter()
            .map(|e| (e.node.clone(), e.name.clone()))
            .collect()
    };
    assert_eq!(
        pubs(order),
        [("n6".to_string(), "OrderCreated".to_string())]
    );
    assert_eq!(
        pubs(inv),
        [("n16".to_string(), "StockReserved".to_string())]
    );
    assert!(pubs(cust).is_empty());
    let subs = |s: &workspace::plan::ServicePlan| -> Vec<(String, String, String, String, String)> {
        s.consumes
            .iter()
            .map(|c| {
                (
                    c.node.clone(),
                    c.event.clone(),
                    c.source.clone(),
                    c.target.clone(),
                    c.view.clone(),
                )
            })
            .collect()
    };
    let t = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        (
            a.to_string(),
            b.to_string(),
            c.to_string(),
            d.to_string(),
            e.to_string(),
        )
    };
    assert_eq!(
        subs(inv),
        [t("n13", "OrderCreated", "order_service", "records", "")]
    );
    assert_eq!(
        subs(cust),
        [t(
            "n17",
            "OrderCreated",
            "order_service",
            "view",
            "replicated_order_view"
        )]
    );
    assert_eq!(
        subs(order),
        [t(
            "n7",
            "StockReserved",
            "inventory_service",
            "view",
            "stock_reserved"
        )]
    );
    assert_eq!(cust.consumes[0].via, ["n9", "n10"]);
    assert_eq!(cust.views[0].node, "n18");
    assert_eq!(p.bus.as_ref().map(|b| b.drawn.as_str()), Some("Kafka"));
    let files = workspace::render(&p).expect("renders");
    let arch = files
        .iter()
        .find(|f| f.path == "ARCHITECTURE.md")
        .expect("ARCHITECTURE.md");
    for n in 1..=19 {
        let row = arch
            .contents
            .lines()
            .find(|l| l.starts_with(&format!("| n{n} |")))
            .unwrap_or_else(|| panic!("n{n} mapped in ARCHITECTURE.md"));
        assert!(!row.contains("not generated"), "{row}");
    }
}

#[test]
fn a_gateway_with_no_service_is_refused() {
    let src = "Gateway { # API Gateway\nn1: rectangle label:\"Rate Limit\"\nn2: rectangle label:\"Route Request\"\nn1.handle(right) -> n2.handle(left)\n}\n";
    let e = plan(src).expect_err("no service");
    assert!(
        matches!(e, GenError::Workspace(WorkspaceError::NoService { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("no backend service"), "{e}");
}

#[test]
fn hostile_labels_stay_in_comments_and_literals() {
    let src = "Client { # Client\nn1: circle label:\"Request\"\nn1.handle(right) -> Gateway.n2.handle(left)\n}\nGateway { # Gateway\nn2: rectangle label:\"Route Request\"\nn2.handle(bottom) -> Svc.n3.handle(top) [label=\"GET /a\\\"b/../x\"]\nn2.handle(bottom) -> Svc.n4.handle(top) [label=\"GET /items\"]\n}\nSvc { # Backend\nn3: rectangle label:\"Evil \\\"*/ Service\"\nn4: rectangle label:\"Item Service\"\n}\n";
    let p = plan(src).expect("plans").expect("ws");
    let evil = &p.services[0];
    assert_eq!(evil.key, "evil_service");
    assert_eq!(evil.prefix, "/evil", "a label path with quotes is not used");
    assert_eq!(evil.name_lit, "\"Evil \\\"*/ Service\"");
    let files = workspace::render(&p).expect("renders");
    for f in &files {
        assert!(
            !f.contents.contains("{{ ") && !f.contents.contains("{%"),
            "{}: unrendered template",
            f.path
        );
        for line in f.contents.lines() {
            if line.contains("Evil") && f.path.ends_with(".rs") {
                let t = line.trim_start();
                assert!(
                    t.starts_with("//") || t.starts_with("name: \"Evil \\\""),
                    "{}: {line}",
                    f.path
                );
            }
        }
    }
}

#[test]
fn renders_the_workspace_layout_with_no_secret() {
    let p = plan(&read("api-gateway.fz")).expect("plans").expect("ws");
    let files = workspace::render(&p).expect("renders");
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for want in [
        "Cargo.toml",
        "README.md",
        "ARCHITECTURE.md",
        "contracts/src/topology.rs",
        "gateway/src/auth.rs",
        "gateway/tests/gateway.rs",
        "services/user-service/src/lib.rs",
        "services/order-service/Cargo.toml",
        "dev/src/main.rs",
    ] {
        assert!(paths.contains(&want), "{want} in {paths:?}");
    }
    for f in &files {
        assert!(
            !f.contents.contains("JWT_SECRET=\"") && !f.contents.contains("secret = \""),
            "{} holds a secret",
            f.path
        );
    }
    let arch = files
        .iter()
        .find(|f| f.path == "ARCHITECTURE.md")
        .expect("ARCHITECTURE.md");
    for n in 1..=15 {
        assert!(
            arch.contents.contains(&format!("| n{n} |")),
            "n{n} mapped in ARCHITECTURE.md"
        );
    }
}

#[test]
fn regeneration_writes_nothing_the_second_time_and_keeps_edits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("shop");
    let opts = GenOptions {
        diagram: example("api-gateway.fz"),
        out: out.clone(),
        domain: None,
        force: false,
        rustfmt: false,
    };
    let first = workspace::generate_if_multi_service(&opts)
        .expect("generates")
        .expect("ws");
    assert!(!first.report.written.is_empty());
    let second = workspace::generate_if_multi_service(&opts)
        .expect("generates")
        .expect("ws");
    assert!(
        second.report.written.is_empty(),
        "{:?}",
        second.report.written
    );
    let lib = out.join("gateway/src/proxy.rs");
    let edited = std::fs::read_to_string(&lib).expect("read") + "\n// mine\n";
    std::fs::write(&lib, &edited).expect("write");
    let main = out.join("services/user-service/src/main.rs");
    std::fs::write(&main, "fn main() {}\n").expect("write");
    let third = workspace::generate_if_multi_service(&opts)
        .expect("generates")
        .expect("ws");
    assert_eq!(third.report.fz_new, ["gateway/src/proxy.rs"]);
    assert_eq!(std::fs::read_to_string(&lib).expect("read"), edited);
    assert_eq!(
        std::fs::read_to_string(&main).expect("read"),
        "fn main() {}\n"
    );
}
