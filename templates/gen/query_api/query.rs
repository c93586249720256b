//! {{ plan.docs.query_api }}: reads served from the views only, never from the event
//! store, answered as {{ plan.docs.read_response }}.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::Json;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::projections::PageRequest;

/// Runs a read and records its latency. Reads of a view in PostgreSQL or Redis (`remote`)
/// wait on the blocking pool, so a request handler's thread never blocks on a
/// round trip; reads of a local view answer inline in microseconds.
async fn timed<T: Send + 'static>(
    app: &Arc<AppState>,
    view: &'static str,
    remote: bool,
    f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    let start = Instant::now();
    let r = if remote {
        let state = app.clone();
        crate::store::on_pool(move || f(&state))
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?
    } else {
        f(app)
    };
    let elapsed = start.elapsed();
    app.metrics.observe_query(elapsed.as_secs_f64());
    let ns = elapsed.as_nanos() as u64;
    app.metrics.timings.query.time.record(ns);
    if let Some(p) = app.metrics.timings.projector(view) {
        p.query.time.record(ns);
    }
    r.map(Json)
}

fn found<T>(v: Option<T>, view: &str, id: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::not_found(format!("{view}: no entry {id:?}")))
}
{% for p in plan.projectors %}
/// List view {{ p.view.node }} "{{ p.view.label }}".
#[utoipa::path(get, path = "/views/{{ p.view.slug }}", tag = "views",
    params(("offset" = Option<u64>, Query, description = "Entries to skip"),
           ("limit" = Option<u64>, Query, description = "Entries to return (at most 1000)")),
    responses((status = 200, body = crate::projections::{{ p.module }}::{{ p.view.page_type }}), (status = 400, body = ErrorBody)))]
pub async fn {{ p.view.slug }}_list(
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<crate::projections::{{ p.module }}::{{ p.view.page_type }}>, ApiError> {
    let page = PageRequest::parse(&q)?;
    timed(&app, crate::projections::{{ p.module }}::PROJECTOR, {% if p.view.kind == "table" %}app.store.is_pg(){% else if p.view.redis %}app.views.{{ p.view.slug }}.is_remote(){% else %}false{% endif %}, move |app| app.views.{{ p.view.slug }}.list(page)).await
}

/// One entry of view {{ p.view.node }} "{{ p.view.label }}".
#[utoipa::path(get, path = "/views/{{ p.view.slug }}/{id}", tag = "views",
    params(("id" = String, Path, description = "Entry id")),
    responses((status = 200, body = crate::projections::{{ p.module }}::{{ p.view.entry_type }}), (status = 404, body = ErrorBody)))]
pub async fn {{ p.view.slug }}_get(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<crate::projections::{{ p.module }}::{{ p.view.entry_type }}>, ApiError> {
    timed(&app, crate::projections::{{ p.module }}::PROJECTOR, {% if p.view.kind == "table" %}app.store.is_pg(){% else if p.view.redis %}app.views.{{ p.view.slug }}.is_remote(){% else %}false{% endif %}, move |app| {
        found(app.views.{{ p.view.slug }}.get(&id)?, crate::projections::{{ p.module }}::VIEW, &id)
    })
    .await
}
{%- if p.view.kind == "search" %}

/// Full-text search in view {{ p.view.node }} "{{ p.view.label }}".
#[utoipa::path(get, path = "/views/{{ p.view.slug }}/search", tag = "views",
    params(("q" = String, Query, description = "Query text"),
           ("offset" = Option<u64>, Query, description = "Hits to skip"),
           ("limit" = Option<u64>, Query, description = "Hits to return (at most 1000)")),
    responses((status = 200, body = crate::projections::{{ p.module }}::{{ p.view.page_type }}), (status = 400, body = ErrorBody)))]
pub async fn {{ p.view.slug }}_search(
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<crate::projections::{{ p.module }}::{{ p.view.page_type }}>, ApiError> {
    let page = PageRequest::parse(&q)?;
    let text = q
        .get("q")
        .ok_or_else(|| ApiError::bad_field("q", "is required"))?
        .clone();
    timed(&app, crate::projections::{{ p.module }}::PROJECTOR, {% if p.view.kind == "table" %}app.store.is_pg(){% else if p.view.redis %}app.views.{{ p.view.slug }}.is_remote(){% else %}false{% endif %}, move |app| app.views.{{ p.view.slug }}.search(&text, page)).await
}
{%- endif %}
{% endfor -%}
