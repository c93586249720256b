//! The description of the domain the generated web UI (`web_ui` pack) builds its task
//! forms and optimistic updates from: one JSON document, embedded in `static/app.js`.

use serde_json::{json, Value};

use super::domain::{DomainFile, FieldType};
use super::plan::{AggregatePlan, ProjectorPlan};

/// The UI's spec as JSON: per aggregate its id field, state, the view listing it and
/// every command with its fields and the state changes its event makes. JSON is valid
/// JavaScript, and every label-derived text in it is a JSON string.
pub fn spec(
    crate_name: &str,
    domain: &DomainFile,
    aggregates: &[AggregatePlan],
    projectors: &[ProjectorPlan],
) -> String {
    let aggs: Vec<Value> = aggregates
        .iter()
        .map(|a| {
            let view = projectors
                .iter()
                .find(|p| {
                    p.view.aggregate == a.name
                        && (p.view.kind == "table" || (p.view.kind == "cache" && p.view.key.is_none()))
                })
                .map(|p| {
                    json!({
                        "slug": p.view.slug,
                        "kind": p.view.kind,
                        "fields": p.view.fields.iter().map(|f| f.name.clone())
                            .chain(p.view.measures.iter().cloned()).collect::<Vec<_>>(),
                    })
                });
            let commands: Vec<Value> = domain
                .commands
                .iter()
                .filter(|c| c.aggregate == a.name)
                .zip(&a.commands)
                .map(|(c, plan)| {
                    let mut ops = Vec::new();
                    if let Some(e) = domain.event(&c.emits) {
                        for (t, v) in &e.set {
                            ops.push(json!({"kind": "set", "target": t, "value": v}));
                        }
                        for f in &e.copy {
                            ops.push(json!({"kind": "copy", "target": f, "from": f}));
                        }
                        for (t, fs) in &e.add {
                            ops.push(json!({"kind": "add", "target": t, "factors": fs}));
                        }
                        for (t, f) in &e.append {
                            ops.push(json!({"kind": "append", "target": t, "from": f}));
                        }
                        for t in &e.count {
                            ops.push(json!({"kind": "count", "target": t}));
                        }
                    }
                    json!({
                        "name": c.name,
                        "slug": plan.slug,
                        "creates": c.creates,
                        "fields": c.fields.iter().map(|(n, t)| json!({"name": n, "int": *t == FieldType::Int})).collect::<Vec<_>>(),
                        "when": c.when,
                        "ops": ops,
                    })
                })
                .collect();
            json!({
                "name": a.name,
                "type": a.name,
                "id": a.id_field,
                "state": a.state.iter().map(|f| json!({"name": f.name, "int": f.is_int})).collect::<Vec<_>>(),
                "view": view,
                "commands": commands,
            })
        })
        .collect();
    let spec = json!({"service": crate_name, "aggregates": aggs});
    // `</` cannot close a script element anywhere the text ends up.
    serde_json::to_string_pretty(&spec)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/")
}
