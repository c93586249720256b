//! Snapshots of the SVG for a few small diagrams of our own, in both views and both themes.
//! A change here is a change in what people see: look at the picture before accepting it
//! (`fz render FILE -o out.png`).

use fz::model;
use fz::render::{self, NodeStyle, RenderOptions, Theme, View};

/// A decision that branches down (same lane) and across lanes, a loop back, a taskbox.
const ORDER: &str = r#"Shop { # Web Shop
n1: circle label:"Order placed"
n2: rectangle label:"Reserve stock"
n3: diamond label:"In stock?"
n4: rectangle label:"Back-order"
n1.handle(right) -> n2.handle(left)
n2.handle(right) -> n3.handle(left) [label="Check"]
n3.handle(bottom) -> n4.handle(top) [label="No"]
n3.handle(right) -> Pay.n5.handle(left) [label="Yes"]
n4.handle(right) -> Pay.n5.handle(top) [label="Later"]
}
Pay { # Payments
n5: rectangle label:"Charge card"
n6: taskbox owner:"Finance" description:"Review refund" system:"ERP"
n7: circle label:"Done"
n5.handle(right) -> n6.handle(left) [label="Declined"]
n5.handle(bottom) -> n7.handle(top)
n6.handle(top) -> Shop.n2.handle(bottom) [label="Retry"]
loop [until charged] n5 n6
}
"#;

/// Long and CJK labels that must wrap inside their shapes.
const WRAP: &str = r#"Write { # 写入模型 Write Model
n1: rectangle label:"命令处理器接收并验证所有传入的命令请求"
n2: diamond label:"Is this a very long decision label that must wrap?"
n3: circle label:"Supercalifragilisticexpialidocious"
n1.handle(right) -> n2.handle(left) [label="事件总线"]
n2.handle(right) -> n3.handle(left) [label="A fairly long edge label"]
}
"#;

fn svg(src: &str, view: View, theme: Theme) -> String {
    let checked = model::check(src);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    render::render_svg(
        &checked.diagram,
        &RenderOptions {
            view,
            theme,
            ..RenderOptions::default()
        },
    )
}

#[test]
fn order_workflow() {
    insta::assert_snapshot!(svg(ORDER, View::Workflow, Theme::Light));
}

#[test]
fn order_sequence() {
    insta::assert_snapshot!(svg(ORDER, View::Sequence, Theme::Light));
}

#[test]
fn wrap_workflow_dark() {
    insta::assert_snapshot!(svg(WRAP, View::Workflow, Theme::Dark));
}

#[test]
fn styled_nodes() {
    let checked = model::check(ORDER);
    let mut opts = RenderOptions::default();
    opts.node_style.insert(
        "n5".into(),
        NodeStyle {
            fill: Some("#fca5a5".into()),
            stroke: Some("#b91c1c".into()),
            badge: Some("util 97%".into()),
        },
    );
    opts.node_style.insert(
        "n6".into(),
        NodeStyle {
            fill: None,
            stroke: None,
            badge: Some("lag 1.2 s".into()),
        },
    );
    if let Some(dir) = std::env::var_os("FZ_RENDER_PNG_DIR") {
        // Look at it: FZ_RENDER_PNG_DIR=/tmp cargo test --test render_snapshots
        let png = render::render_png(&checked.diagram, &opts).unwrap();
        std::fs::write(std::path::Path::new(&dir).join("styled_nodes.png"), png).unwrap();
    }
    insta::assert_snapshot!(render::render_svg(&checked.diagram, &opts));
}

#[test]
fn heat_styles_from_figures() {
    let checked = model::check(ORDER);
    let utilisation = [("n2", 0.35), ("n5", 0.97), ("n6", 0.72)]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let notes = [("n4".to_string(), "lag 1.2 s".to_string())].into();
    let opts = RenderOptions {
        node_style: render::annotate::heat_styles(&utilisation, Some("n5"), &notes),
        ..RenderOptions::default()
    };
    let svg = render::render_svg(&checked.diagram, &opts);
    assert!(svg.contains(">bottleneck · 97%<"));
    assert!(svg.contains(">lag 1.2 s<"));
    if let Some(dir) = std::env::var_os("FZ_RENDER_PNG_DIR") {
        let png = render::render_png(&checked.diagram, &opts).unwrap();
        std::fs::write(std::path::Path::new(&dir).join("heat.png"), png).unwrap();
    }
}
