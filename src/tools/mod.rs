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
