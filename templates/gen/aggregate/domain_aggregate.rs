//! Aggregate `{{ a.name }}`: its state, events and commands (validated by {{ plan.docs.validator }}).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[allow(unused_imports)]
use super::{append_text, rules, DomainError};
#[allow(unused_imports)]
use crate::error::{opt_version, req_id, req_int, req_str, ApiError};

/// Aggregate type name as stored with its events.
pub const AGGREGATE_TYPE: &str = {{ a.name_lit }};

/// State of an `{{ a.name }}`, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct {{ a.name }}State {
{%- for f in a.state %}
    pub {{ f.name }}: {{ f.rust_ty }},
{%- endfor %}
}

/// An `{{ a.name }}` as loaded: id, version (number of events) and state.
#[derive(Debug, Clone, Default)]
pub struct {{ a.name }} {
    pub id: String,
    pub version: u64,
    pub state: {{ a.name }}State,
}
{% for e in a.events %}
/// Event `{{ e.name }}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct {{ e.name }} {
{%- for f in e.fields %}
    pub {{ f.name }}: {{ f.rust_ty }},
{%- endfor %}
}
{% endfor %}
/// Every event of an `{{ a.name }}`.
#[derive(Debug, Clone, PartialEq)]
pub enum {{ a.name }}Event {
{%- for e in a.events %}
    {{ e.name }}({{ e.name }}),
{%- endfor %}
}

/// Event type names of `{{ a.name }}`.
pub const EVENT_TYPES: &[&str] = &[{% for e in a.events %}{{ e.name_lit }}{% if !loop.last %}, {% endif %}{% endfor %}];

impl {{ a.name }}Event {
    /// The stored event type name.
    pub fn event_type(&self) -> &'static str {
        match self {
{%- for e in a.events %}
            {{ a.name }}Event::{{ e.name }}(_) => {{ e.name_lit }},
{%- endfor %}
        }
    }

    /// The stored JSON payload.
    pub fn payload(&self) -> Result<String, serde_json::Error> {
        match self {
{%- for e in a.events %}
            {{ a.name }}Event::{{ e.name }}(e) => serde_json::to_string(e),
{%- endfor %}
        }
    }

    /// Decodes a stored event; `Ok(None)` for a type this aggregate does not know.
    pub fn decode(event_type: &str, payload: &str) -> Result<Option<Self>, serde_json::Error> {
        Ok(Some(match event_type {
{%- for e in a.events %}
            {{ e.name_lit }} => {{ a.name }}Event::{{ e.name }}(serde_json::from_str(payload)?),
{%- endfor %}
            _ => return Ok(None),
        }))
    }
}

impl {{ a.name }}State {
    /// Folds one event into the state.
    #[allow(unused_variables)]
    pub fn apply(&mut self, event: &{{ a.name }}Event) {
        match event {
{%- for e in a.events %}
            {{ a.name }}Event::{{ e.name }}(e) => {
{%- for op in e.ops %}
{%- if op.kind == "set" %}
                self.{{ op.target }} = {{ op.value }}.to_string();
{%- else if op.kind == "copy" %}
                self.{{ op.target }} = e.{{ op.target }}{% if !op.is_int %}.clone(){% endif %};
{%- else if op.kind == "add" %}
                self.{{ op.target }} = self.{{ op.target }}.saturating_add(
                    {%- for x in op.factors %}{% if loop.first %}e.{{ x }}{% else %}.saturating_mul(e.{{ x }}){% endif %}{% endfor -%}
                );
{%- else if op.kind == "append" %}
                append_text(&mut self.{{ op.target }}, &e.{{ op.value }});
{%- else if op.kind == "count" %}
                self.{{ op.target }} = self.{{ op.target }}.saturating_add(1);
{%- endif %}
{%- endfor %}
            }
{%- endfor %}
        }
    }
}

impl super::Aggregate for {{ a.name }}State {
    type Event = {{ a.name }}Event;
    const TYPE: &'static str = AGGREGATE_TYPE;
    fn decode(event_type: &str, payload: &str) -> Result<Option<{{ a.name }}Event>, serde_json::Error> {
        {{ a.name }}Event::decode(event_type, payload)
    }
    fn apply(&mut self, event: &{{ a.name }}Event) {
        {{ a.name }}State::apply(self, event)
    }
}
{% for c in a.commands %}
/// Command `{{ c.name }}` (request body of `POST /commands/{{ c.slug }}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct {{ c.name }} {
    /// Id of the `{{ a.name }}`.
    #[schema(min_length = 1, max_length = 256)]
    pub {{ a.id_field }}: String,
{%- for f in c.fields %}
{%- if f.is_int %}
    #[schema(minimum = -1000000000000i64, maximum = 1000000000000i64)]
{%- else %}
    #[schema(max_length = 4096)]
{%- endif %}
    pub {{ f.name }}: {{ f.rust_ty }},
{%- endfor %}
    /// Version the client last saw; a different current version is a 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 9223372036854775807i64)]
    pub expected_version: Option<u64>,
}

impl {{ c.name }} {
    /// Reads the command from a JSON object, naming the field at fault.
    pub fn parse(obj: &serde_json::Map<String, serde_json::Value>) -> Result<Self, ApiError> {
        Ok({{ c.name }} {
            {{ a.id_field }}: req_id(obj, "{{ a.id_field }}")?,
{%- for f in c.fields %}
            {{ f.name }}: {{ f.parse }}(obj, "{{ f.name }}")?,
{%- endfor %}
            expected_version: opt_version(obj)?,
        })
    }

    /// Validates against the aggregate and decides the events.
    pub fn decide(&self, aggregate: &{{ a.name }}) -> Result<Vec<{{ a.name }}Event>, DomainError> {
        rules::{{ c.slug }}(aggregate, self)?;
        Ok(vec![{{ a.name }}Event::{{ c.emits }}({{ c.emits }} {
{%- for f in c.event_fields %}
            {{ f.name }}: self.{{ f.name }}{% if !f.is_int %}.clone(){% endif %},
{%- endfor %}
        })])
    }
}
{% endfor %}
#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the command sequence on a fresh aggregate, folding each decision in.
    #[test]
    fn command_sequence_folds_into_state() {
        let mut agg = {{ a.name }} {
            id: "unit-1".to_string(),
            ..Default::default()
        };
{%- for c in a.commands %}
        let cmd = {{ c.name }} {
            {{ a.id_field }}: "unit-1".to_string(),
{%- for f in c.fields %}
            {{ f.name }}: {% if f.is_int %}1{% else %}{{ f.sample }}.to_string(){% endif %},
{%- endfor %}
            expected_version: None,
        };
        let events = cmd.decide(&agg).expect("{{ c.name }} is accepted");
        for e in &events {
            agg.state.apply(e);
            let decoded = {{ a.name }}Event::decode(e.event_type(), &e.payload().expect("encodes"))
                .expect("decodes")
                .expect("known type");
            assert_eq!(&decoded, e);
        }
        agg.version += events.len() as u64;
{%- endfor %}
        assert_eq!(agg.version, {{ a.commands.len() }});
    }
{%- for c in a.commands %}
{%- if c.creates %}

    #[test]
    fn {{ c.slug }}_is_refused_on_an_existing_aggregate() {
        let agg = {{ a.name }} {
            id: "unit-1".to_string(),
            version: 1,
            ..Default::default()
        };
        let cmd = {{ c.name }} {
            {{ a.id_field }}: "unit-1".to_string(),
{%- for f in c.fields %}
            {{ f.name }}: {% if f.is_int %}1{% else %}{{ f.sample }}.to_string(){% endif %},
{%- endfor %}
            expected_version: None,
        };
        assert!(cmd.decide(&agg).is_err());
    }
{%- else %}

    #[test]
    fn {{ c.slug }}_is_refused_on_a_missing_aggregate() {
        let agg = {{ a.name }}::default();
        let cmd = {{ c.name }} {
            {{ a.id_field }}: "unit-1".to_string(),
{%- for f in c.fields %}
            {{ f.name }}: {% if f.is_int %}1{% else %}{{ f.sample }}.to_string(){% endif %},
{%- endfor %}
            expected_version: None,
        };
        assert!(cmd.decide(&agg).is_err());
    }
{%- endif %}
{%- endfor %}
}
