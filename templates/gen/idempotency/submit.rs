//! `POST /commands`: the task-based UI's command endpoint ({{ plan.docs.command_source }}).
//! Every command carries a client-made `command_id`; the id is recorded in the event
//! store in the same transaction as the command's events, so a second submit of the same
//! id (also after a crash or restart) is a 409 and is applied once. The answer, 202
//! Accepted with the command id, is sent after commit.
{%- if plan.uses("notification_websocket") %}
//! A refused command is also announced on the WebSocket (`GET /ws`) as `rejected`; an
//! accepted one is confirmed there once the read model has applied its events.
{%- endif %}

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{json_object, req_str, ApiError, ErrorBody};

/// Longest command id accepted.
pub const MAX_COMMAND_ID: usize = 128;

/// The answer to an accepted command, once its events are durable.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// The client's id of the command.
    pub command_id: String,
    /// `accepted`.
    pub status: String,
    /// Id of the aggregate the command changed.
    pub aggregate_id: String,
    /// Version of the aggregate after the command.
    pub version: u64,
    /// Log position of the command's last event.
    pub position: u64,
}

/// The answer to a refused command.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Refused {
    /// The client's id of the command.
    pub command_id: String,
    /// `duplicate` (409: the id was submitted before and is applied once) or `rejected`
    /// (422: a domain rule refused it; 409: a stale `expected_version`).
    pub status: String,
    /// What went wrong.
    pub error: String,
    /// The field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A command as the UI sends it: `command_id`, `command` and the command's own fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandEnvelope {
    /// Client-made id of the command (1 to 128 of `A-Z a-z 0-9 . _ : -`), e.g. a UUID.
    pub command_id: String,
    /// Which command: {% for a in plan.aggregates %}{% for c in a.commands %}`{{ c.slug }}`{% if !loop.last %}, {% endif %}{% endfor %}{% if !loop.last %}, {% endif %}{% endfor %} (or its name).
    pub command: String,
}

fn command_id_of(s: &str) -> Result<String, ApiError> {
    let ok = !s.is_empty()
        && s.len() <= MAX_COMMAND_ID
        && s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(ApiError::bad_field(
            "command_id",
            "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -",
        ))
    }
}

/// Reads the optional `command_id` of a command body.
pub fn opt_command_id(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<String>, ApiError> {
    match obj.get("command_id") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => command_id_of(s).map(Some),
        Some(_) => Err(ApiError::bad_field("command_id", "must be a string")),
    }
}

fn refused(command_id: String, e: ApiError) -> Response {
    let duplicate = e.status == StatusCode::CONFLICT && e.field.as_deref() == Some("command_id");
    // Every 400 left after parsing is a domain rule's refusal.
    let status = if e.status == StatusCode::BAD_REQUEST {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        e.status
    };
    let body = Refused {
        command_id,
        status: if duplicate { "duplicate" } else { "rejected" }.to_string(),
        error: e.message,
        field: e.field,
    };
    (status, Json(body)).into_response()
}

/// {{ plan.docs.command_source }}: one endpoint for every command; see [`CommandEnvelope`].
#[utoipa::path(post, path = "/commands", tag = "commands",
    request_body = CommandEnvelope,
    responses(
        (status = 202, description = "Accepted and durable", body = Accepted),
        (status = 400, description = "Invalid command (the field is named)", body = ErrorBody),
{%- if plan.uses("authorize") %}
        (status = 401, description = "No valid bearer token", body = ErrorBody),
{%- endif %}
        (status = 409, description = "Duplicate command id, or stale expected_version", body = Refused),
        (status = 422, description = "Refused by a domain rule", body = Refused),
    ))]
pub async fn submit(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    let obj = match json_object(&body) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let command_id = match obj.get("command_id") {
        Some(serde_json::Value::String(s)) => command_id_of(s),
        Some(_) => Err(ApiError::bad_field("command_id", "must be a string")),
        None => Err(ApiError::bad_field("command_id", "is required")),
    };
    let command_id = match command_id {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let name = match req_str(&obj, "command") {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    #[allow(unused_variables)]
    let (aggregate_type, aggregate_id, result) = match name.as_str() {
{%- for a in plan.aggregates %}{% for c in a.commands %}
        "{{ c.slug }}" | "{{ c.name }}" => {
            let cmd = match crate::domain::{{ a.module }}::{{ c.name }}::parse(&obj) {
                Ok(c) => c,
                Err(e) => return e.into_response(),
            };
            let id = cmd.{{ a.id_field }}.clone();
            let r = crate::commands::execute_{{ a.module }}(&app, id.clone(), cmd.expected_version, Some(command_id.clone()), {{ c.creates }}, |a| cmd.decide(a)).await;
            (crate::domain::{{ a.module }}::AGGREGATE_TYPE, id, r)
        }
{%- endfor %}{% endfor %}
        other => {
            return ApiError::bad_field(
                "command",
                format!(
                    "unknown command {other:?} (known: {})",
                    [{% for a in plan.aggregates %}{% for c in a.commands %}"{{ c.slug }}"{% if !loop.last %}, {% endif %}{% endfor %}{% if !loop.last %}, {% endif %}{% endfor %}].join(", ")
                ),
            )
            .into_response()
        }
    };
    match result {
        Ok(Json(a)) => (
            StatusCode::ACCEPTED,
            Json(Accepted {
                command_id,
                status: "accepted".to_string(),
                aggregate_id: a.aggregate_id,
                version: a.version,
                position: a.position,
            }),
        )
            .into_response(),
        Err(e) => {
{%- if plan.uses("notification_websocket") %}
            if !(e.status == StatusCode::CONFLICT && e.field.as_deref() == Some("command_id")) {
                app.notifier
                    .rejected(&command_id, aggregate_type, &aggregate_id, &e.message, e.field.as_deref());
            }
{%- endif %}
            refused(command_id, e)
        }
    }
}
