//! Tools that work on a diagram's text: [`fmt`] (canonical layout), [`fix`] (mechanical
//! repairs as text edits) and [`diff`] (structural comparison of two diagrams).

pub mod diff;
pub mod edit;
pub mod fix;
pub mod fmt;

use serde_json::Value;

use crate::model::{self, Diagram};
use crate::syntax::LineIndex;

/// What "the model" of a diagram is for the tools: its JSON export with every span removed.
/// Two sources with equal keys describe the same diagram (ids, lanes, labels, shapes,
/// attributes, handles, edge order and loops), whatever their layout and comments.
pub fn model_key(d: &Diagram, source: &str) -> Value {
    let index = LineIndex::new(source);
    let mut v =
        serde_json::to_value(crate::export::json::graph(d, source, &index)).unwrap_or(Value::Null);
    strip_spans(&mut v);
    v
}

/// A digest of everything [`model_key`] holds (and a little more: attribute order and the
/// lane each loop stands in), computed without building the JSON: what `fz fmt` compares
/// on every run, cheap enough for very large diagrams.
pub fn model_digest(d: &Diagram) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut put = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    put("lanes");
    for l in &d.lanes {
        put(&l.id);
        put(l.display());
    }
    put("nodes");
    for (_, n) in d.nodes() {
        put(&n.id);
        put(&d.lanes[n.lane].id);
        put(n.shape.as_str());
        for a in &n.attributes {
            put(&a.key);
            put(&a.value);
        }
        put("");
    }
    put("edges");
    for (_, s, t, e) in d.edges() {
        put(&d.node(s).id);
        put(&d.node(t).id);
        match &e.label {
            Some(l) => {
                put("label");
                put(l);
            }
            None => put("no label"),
        }
        put(e.source_handle.map_or("", |h| h.as_str()));
        put(e.target_handle.map_or("", |h| h.as_str()));
    }
    put("loops");
    for l in &d.loops {
        put(&l.condition);
        put(&l.lane.map_or(String::new(), |ix| d.lanes[ix].id.clone()));
        for &n in &l.nodes {
            put(&d.node(n).id);
        }
        put("");
    }
    h.finalize().into()
}

/// [`model_key`] of a source, checked first.
pub fn model_key_of(source: &str) -> Value {
    let checked = model::check(source);
    model_key(&checked.diagram, source)
}

fn strip_spans(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("span");
            map.values_mut().for_each(strip_spans);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}
