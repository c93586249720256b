//! Domain rules ({{ plan.docs.validator }}).
//!
//! This file is yours: `fz gen` writes it once and never overwrites it.
//! Each function sees the aggregate as loaded and the command, and refuses the
//! command by returning a `DomainError` naming the field at fault.
{% for a in plan.aggregates %}
use super::{{ a.module }}::{ {%- for c in a.commands %}{{ c.name }}, {% endfor %}{{ a.name }}};
{%- endfor %}
use super::DomainError;
{% for a in plan.aggregates %}{% for c in a.commands %}
/// Rules of `{{ c.name }}` on an `{{ a.name }}`.
pub fn {{ c.slug }}(aggregate: &{{ a.name }}, cmd: &{{ c.name }}) -> Result<(), DomainError> {
{%- if c.creates %}
    if aggregate.version > 0 {
        return Err(DomainError::new("{{ a.id_field }}", "already exists"));
    }
{%- else %}
    if aggregate.version == 0 {
        return Err(DomainError::new("{{ a.id_field }}", "does not exist"));
    }
{%- endif %}
{%- for w in c.when %}
    if ![{% for v in w.values %}{{ v }}{% if !loop.last %}, {% endif %}{% endfor %}].contains(&aggregate.state.{{ w.field }}.as_str()) {
        return Err(DomainError::new(
            "{{ a.id_field }}",
            format!("{{ w.field }} is {:?}", aggregate.state.{{ w.field }}),
        ));
    }
{%- endfor %}
{%- for f in c.positive %}
    if cmd.{{ f }} <= 0 {
        return Err(DomainError::new("{{ f }}", "must be positive"));
    }
{%- endfor %}
{%- for f in c.non_negative %}
    if cmd.{{ f }} < 0 {
        return Err(DomainError::new("{{ f }}", "must not be negative"));
    }
{%- endfor %}
    let _ = cmd;
    Ok(())
}
{% endfor %}{% endfor -%}
