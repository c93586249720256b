//! `fz gen`: no label can inject code or escape the output folder.

use fz::gen::{self, plan, templates};
use fz::model::{self, Roles};

const ADVERSARIAL: &str = include_str!("fixtures/gen/adversarial.fz");
const PAYLOADS: &[&str] = &["exit(1)", "evil()", "fn evil"];

fn adversarial_plan(newlines: bool) -> gen::Plan {
    let mut checked = model::check(ADVERSARIAL);
    assert!(!checked.has_errors());
    if newlines {
        // Labels cannot hold newlines in source; models built another way can.
        for ix in checked.diagram.graph.node_indices() {
            for a in &mut checked.diagram.graph[ix].attributes {
                if a.key == "label" {
                    a.value = format!("*/ \"# fn injected() {{}}\r\n\n{}", a.value);
                }
            }
        }
    }
    let roles = Roles::detect(&checked.diagram, &Default::default());
    plan::build(&checked.diagram, &roles, None, "adversarial.fz", "inferred").expect("plans")
}

fn check_files(plan: &gen::Plan) {
    let files = templates::render(plan).expect("renders");
    let mut paths = std::collections::BTreeSet::new();
    for f in &files {
        assert!(paths.insert(f.path.clone()), "duplicate path {}", f.path);
        assert!(
            f.path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c)),
            "odd path {}",
            f.path
        );
        assert!(
            !f.path.split('/').any(|p| p == ".." || p.is_empty()),
            "path escapes: {}",
            f.path
        );
        for (i, line) in f.contents.lines().enumerate() {
            let t = line.trim_start();
            let is_comment = t.starts_with("//")
                || t.starts_with('#')
                || t.starts_with("<!--")
                || f.path.ends_with(".md");
            for p in PAYLOADS.iter().chain(["fn injected"].iter()) {
                if line.contains(p) {
                    assert!(
                        is_comment,
                        "{}:{}: label text outside a comment: {line}",
                        f.path,
                        i + 1
                    );
                }
            }
        }
    }
}

#[test]
fn adversarial_labels_give_valid_unique_names() {
    let plan = adversarial_plan(false);
    let modules: Vec<&str> = plan.projectors.iter().map(|p| p.module.as_str()).collect();
    assert_eq!(modules, ["etc_passwd", "n10", "n11", "search_index", "n19"]);
    let views: Vec<&str> = plan
        .projectors
        .iter()
        .map(|p| p.view.slug.as_str())
        .collect();
    assert_eq!(
        views,
        ["etc_passwd_table", "n14", "self_cube", "n16", "n20"]
    );
    check_files(&plan);
}

#[test]
fn newlines_and_comment_closers_in_labels_stay_in_comments() {
    let plan = adversarial_plan(true);
    for n in &plan.nodes {
        assert!(
            !n.label.contains('\n') && !n.label.contains('\r'),
            "{:?}",
            n.label
        );
    }
    check_files(&plan);
}

#[test]
fn the_writer_refuses_paths_outside_the_output_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in ["../x.rs", "/etc/x", "a/../../x", "a//b", "a\\b", ""] {
        let files = vec![templates::Rendered {
            path: bad.to_string(),
            contents: "x".into(),
            owner: templates::Owner::Generated,
        }];
        assert!(
            gen::writer::write(dir.path(), &files, false).is_err(),
            "{bad:?} accepted"
        );
    }
}
