//! The system the diagram draws: its services, the gateway's concerns and the
//! aggregation endpoint. Generated from {{ plan.diagram }}; regenerate rather than edit.

/// One backend service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Key used in URLs of the registry, metrics and aggregated responses.
    pub key: &'static str,
    /// The diagram's label.
    pub name: &'static str,
    /// Crate (and binary) name.
    pub crate_name: &'static str,
    /// The diagram node (or lane) it comes from.
    pub node: &'static str,
    /// Requests under this path prefix go to this service.
    pub prefix: &'static str,
    /// Port of its first instance in `cargo run -p dev`.
    pub default_port: u16,
    /// `memory`, or `sql`: its own database (SQLite, PostgreSQL with `DATABASE_URL`).
    pub store: &'static str,
    /// Whether it takes writes under its prefix (a service that only keeps read models
    /// does not).
    pub records: bool,
    /// Its read models, served under `{prefix}/views/{name}` (a service with a database).
    pub views: &'static [&'static str],
}

/// One part of the aggregation fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregatePart {
    /// Service key.
    pub service: &'static str,
    /// Path called on it; `{name}` is taken from the aggregate request's query string.
    pub path: &'static str,
}

/// The aggregation endpoint: the diagram's fan-out and the node that joins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregate {
    pub path: &'static str,
    /// The join node.
    pub node: &'static str,
    pub parts: &'static [AggregatePart],
}

/// Name of the system (the output folder); the default JWT audience and issuer.
pub const SYSTEM: &str = "{{ plan.system }}";

/// Gateway concerns the diagram draws.
pub const AUTHENTICATE: bool = {{ plan.authenticate }};
pub const RATE_LIMIT: bool = {{ plan.rate_limit }};
pub const DISCOVERY: bool = {{ plan.discovery }};

/// Port of the gateway in `cargo run -p dev`.
pub const GATEWAY_PORT: u16 = {{ plan.gateway_port }};

pub const SERVICES: &[ServiceInfo] = &[
{%- for s in plan.services %}
    // {{ s.node }}: {{ s.label }}
    ServiceInfo {
        key: "{{ s.key }}",
        name: {{ s.name_lit }},
        crate_name: "{{ s.crate_name }}",
        node: "{{ s.node }}",
        prefix: "{{ s.prefix }}",
        default_port: {{ s.port }},
        store: "{{ s.store }}",
        records: {% match s.db %}{% when Some with (db) %}{{ db.records.is_some() }}{% when None %}true{% endmatch %},
        views: &[{% for v in s.views %}"{{ v.name }}"{% if !loop.last %}, {% endif %}{% endfor %}],
    },
{%- endfor %}
];

{% match plan.aggregate -%}
{%- when Some with (a) -%}
/// {{ a.node }}: {{ a.label }}
pub const AGGREGATE: Option<Aggregate> = Some(Aggregate {
    path: "{{ a.path }}",
    node: "{{ a.node }}",
    parts: &[
{%- for p in a.parts %}
        AggregatePart {
            service: "{{ p.service }}",
            path: "{{ p.path }}",
        },
{%- endfor %}
    ],
});
{%- when None -%}
/// The diagram has no fan-out joined by an aggregation step.
pub const AGGREGATE: Option<Aggregate> = None;
{%- endmatch %}
