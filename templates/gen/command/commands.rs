//! Command side: {{ plan.docs.command_source }} (the HTTP endpoints),
//! {{ plan.docs.command_handler }} (load, validate, append), {{ plan.docs.write_commit }}
//! and {{ plan.docs.event_publisher }} (the append; the committed log is the outbox the
//! event bus reads).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::aggregates::AggregateCache;
use crate::app::AppState;
use crate::domain::DomainError;
use crate::error::{json_object, ApiError, ErrorBody};
use crate::store::{EventStore, NewEvent, StoreError};

/// Answer to an accepted command, once its events are durable.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandAccepted {
    /// Id of the aggregate the command changed.
    pub aggregate_id: String,
    /// Version of the aggregate after the command.
    pub version: u64,
    /// Log position of the last event appended.
    pub position: u64,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(e.to_string())
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::bad_field(&e.field, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => ApiError::conflict(e.to_string()),
            StoreError::Duplicate { .. } => ApiError {
                status: axum::http::StatusCode::CONFLICT,
                field: Some("command_id".to_string()),
                message: e.to_string(),
            },
            other => ApiError::unavailable(other.to_string()),
        }
    }
}

/// The command side's memory of recently used aggregates, one cache a type.
pub struct Aggregates {
{%- for a in plan.aggregates %}
    /// `{{ a.name }}` states by aggregate id.
    pub {{ a.module }}: AggregateCache<crate::domain::{{ a.module }}::{{ a.name }}State>,
{%- endfor %}
}

impl Aggregates {
    /// Caches of about `capacity` aggregates each (0: none).
    pub fn new(capacity: usize) -> Self {
        Aggregates {
{%- for a in plan.aggregates %}
            {{ a.module }}: AggregateCache::new(capacity),
{%- endfor %}
        }
    }
}

fn count(app: &AppState, result: &Result<Json<CommandAccepted>, ApiError>) {
    let counter = match result {
        Ok(_) => &app.metrics.commands_accepted,
        Err(e) if e.status == axum::http::StatusCode::CONFLICT => &app.metrics.commands_conflicted,
        Err(_) => &app.metrics.commands_rejected,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}
{% for a in plan.aggregates %}
/// Loads an `{{ a.name }}` from its latest snapshot and the events after it.
pub fn load_{{ a.module }}(store: &EventStore, id: &str) -> Result<crate::domain::{{ a.module }}::{{ a.name }}, ApiError> {
    use crate::domain::{{ a.module }}::{self as m, {{ a.name }}Event, {{ a.name }}State};
    let stream = store.load(m::AGGREGATE_TYPE, id)?;
    let (mut version, mut state) = match stream.snapshot {
        Some((v, s)) => (v, serde_json::from_str::<{{ a.name }}State>(&s).map_err(internal)?),
        None => (0, {{ a.name }}State::default()),
    };
    for e in &stream.events {
        if let Some(ev) = {{ a.name }}Event::decode(&e.event_type, &e.payload).map_err(internal)? {
            state.apply(&ev);
        }
        version = e.version;
    }
    Ok(m::{{ a.name }} {
        id: id.to_string(),
        version,
        state,
    })
}

/// {{ plan.docs.command_handler }} for `{{ a.name }}`: load, validate (decide),
/// append with the loaded version as the expected one, answer after commit.
pub(crate) async fn execute_{{ a.module }}(
    app: &AppState,
    id: String,
    expected: Option<u64>,
{%- if plan.uses("idempotency") %}
    command_id: Option<String>,
{%- endif %}
    creates: bool,
    decide: impl Fn(&crate::domain::{{ a.module }}::{{ a.name }}) -> Result<Vec<crate::domain::{{ a.module }}::{{ a.name }}Event>, DomainError>,
) -> Result<Json<CommandAccepted>, ApiError> {
    let t = &app.metrics.timings;
    let start = std::time::Instant::now();
    let result = async {
{%- if plan.uses("idempotency") %}
        // A command id seen before is a duplicate: answered before any rule runs
        // (the append checks again, in its transaction, for a racing twin).
        if let Some(cid) = &command_id {
            let known = if app.store.is_pg() {
                let store = app.store.clone();
                let cid = cid.clone();
                crate::store::on_pool(move || store.command_position(&cid))
                    .await
                    .map_err(internal)??
            } else {
                app.store.command_position(cid)?
            };
            if let Some(position) = known {
                return Err(StoreError::Duplicate {
                    command_id: cid.clone(),
                    position,
                }
                .into());
            }
        }
{%- endif %}
        let cache = &app.aggregates.{{ a.module }};
        // A creating command on an aggregate the cache does not know first assumes a
        // new one: the append expects version 0, and only if the store already has the
        // stream (a conflict) is it loaded and the command decided again.
        let mut assume_new = creates && expected.unwrap_or(0) == 0;
        loop {
            // A known aggregate needs no read; otherwise a short indexed read (SQLite)
            // is cheaper inline than through the blocking pool, while PostgreSQL round
            // trips wait on the blocking pool.
            let aggregate = if let Some((version, state)) = cache.get(&id) {
                crate::domain::{{ a.module }}::{{ a.name }} {
                    id: id.clone(),
                    version,
                    state,
                }
            } else if assume_new {
                crate::domain::{{ a.module }}::{{ a.name }} {
                    id: id.clone(),
                    ..Default::default()
                }
            } else if app.store.is_pg() {
                let store = app.store.clone();
                let load_id = id.clone();
                crate::store::on_pool(move || load_{{ a.module }}(&store, &load_id))
                    .await
                    .map_err(internal)??
            } else {
                load_{{ a.module }}(&app.store, &id)?
            };
            if let Some(expected) = expected {
                if expected != aggregate.version {
                    cache.forget(&id);
                    return Err(ApiError::conflict(format!(
                        "expected version {expected}, found {}",
                        aggregate.version
                    )));
                }
            }
            let decide_start = std::time::Instant::now();
            let events = decide(&aggregate);
            let decide_ns = decide_start.elapsed().as_nanos() as u64;
            t.validate.time.record(decide_ns);
            let events = events?;
            let mut state = aggregate.state;
            let mut new = Vec::with_capacity(events.len());
            for e in &events {
                state.apply(e);
                new.push(NewEvent {
                    event_type: e.event_type(),
                    payload: e.payload().map_err(internal)?,
                });
            }
            let version = aggregate.version + events.len() as u64;
            let every = app.config.snapshot_every;
            let snapshot = if version / every != aggregate.version / every {
                Some(serde_json::to_string(&state).map_err(internal)?)
            } else {
                None
            };
            // The handler's own work: load or cache lookup and encoding (decide is n3's).
            t.handle
                .time
                .record((start.elapsed().as_nanos() as u64).saturating_sub(decide_ns));
            let commit_start = std::time::Instant::now();
            let appended = app
                .store
{%- if plan.uses("idempotency") %}
                .append_command(crate::domain::{{ a.module }}::AGGREGATE_TYPE, id.clone(), aggregate.version, new, snapshot, command_id.clone())
{%- else %}
                .append(crate::domain::{{ a.module }}::AGGREGATE_TYPE, id.clone(), aggregate.version, new, snapshot)
{%- endif %}
                .await;
            t.commit.time.since(commit_start);
            let appended = match appended {
                Ok(appended) => appended,
                Err(StoreError::Conflict { expected: 0, .. }) if assume_new && aggregate.version == 0 => {
                    // The aggregate exists after all: decide again on its real state.
                    assume_new = false;
                    continue;
                }
                Err(e) => {
                    cache.forget(&id);
                    return Err(e.into());
                }
            };
            cache.put(&id, appended.version, state);
{%- if plan.uses("notification_websocket") %}
            // Confirmed on the WebSocket once the read model has applied the events.
            app.notifier.accepted(
{%- if plan.uses("idempotency") %}
                command_id,
{%- else %}
                None,
{%- endif %}
                crate::domain::{{ a.module }}::AGGREGATE_TYPE,
                &id,
                appended.position,
            );
{%- endif %}
            app.metrics
                .events_appended
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            return Ok(Json(CommandAccepted {
                aggregate_id: id,
                version: appended.version,
                position: appended.position,
            }));
        }
    }
    .await;
    count(app, &result);
    result
}
{% for c in a.commands %}
/// {{ plan.docs.command_source }}: command `{{ c.name }}` on an `{{ a.name }}`.
#[utoipa::path(post, path = "/commands/{{ c.slug }}", tag = "commands",
    request_body = crate::domain::{{ a.module }}::{{ c.name }},
    responses(
        (status = 200, description = "Accepted and durable", body = CommandAccepted),
        (status = 400, description = "Invalid command", body = ErrorBody),
        (status = 409, description = "Version conflict", body = ErrorBody),
    ))]
pub async fn {{ c.slug }}(
    State(app): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<CommandAccepted>, ApiError> {
{%- if plan.uses("idempotency") %}
    let start = std::time::Instant::now();
    let obj = json_object(&body)?;
    let cmd = crate::domain::{{ a.module }}::{{ c.name }}::parse(&obj);
    app.metrics.timings.command.time.since(start);
    let cmd = cmd?;
    let command_id = crate::submit::opt_command_id(&obj)?;
    execute_{{ a.module }}(&app, cmd.{{ a.id_field }}.clone(), cmd.expected_version, command_id, {{ c.creates }}, |a| cmd.decide(a)).await
{%- else %}
    let start = std::time::Instant::now();
    let cmd = crate::domain::{{ a.module }}::{{ c.name }}::parse(&json_object(&body)?);
    app.metrics.timings.command.time.since(start);
    let cmd = cmd?;
    execute_{{ a.module }}(&app, cmd.{{ a.id_field }}.clone(), cmd.expected_version, {{ c.creates }}, |a| cmd.decide(a)).await
{%- endif %}
}
{% endfor %}{% endfor -%}
