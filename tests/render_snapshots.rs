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
    insta::assert_snapshot!(render::render_svg(&checked.diagram, &opts));
}
