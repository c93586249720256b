//! The domain: aggregates, their commands and events (validated by {{ plan.docs.validator }}).
{% for a in plan.aggregates %}
pub mod {{ a.module }};
{%- endfor %}
pub mod rules;

/// A command refused by a domain rule; answered as HTTP 400 naming the field.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DomainError {
    pub field: String,
    pub message: String,
}

impl DomainError {
    /// A rule violation about `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        DomainError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Appends a word to a space-separated text field.
pub fn append_text(text: &mut String, word: &str) {
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(word);
}

/// What projectors need of an aggregate: its stored type name, how to decode its
/// events and how to fold them into its state.
pub trait Aggregate:
    Default + Clone + serde::Serialize + serde::de::DeserializeOwned + Send + 'static
{
    type Event;
    const TYPE: &'static str;
    fn decode(event_type: &str, payload: &str) -> Result<Option<Self::Event>, serde_json::Error>;
    fn apply(&mut self, event: &Self::Event);
}
