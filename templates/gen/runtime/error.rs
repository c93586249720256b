//! HTTP errors: every failure is a JSON body naming the offending field.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub field: Option<String>,
    pub message: String,
}

impl ApiError {
    /// 400 naming the field at fault.
    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            field: None,
            message: message.into(),
        }
    }
    /// 409: the aggregate changed since it was read.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            field: Some("expected_version".to_string()),
            message: message.into(),
        }
    }
    /// 503: a component is unavailable (the request may be retried).
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            field: None,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            field: self.field,
        };
        (self.status, Json(body)).into_response()
    }
}

/// Reads a required string field of a JSON object.
pub fn req_str(
    obj: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<String, ApiError> {
    match obj.get(field) {
        Some(serde_json::Value::String(s)) if s.len() > 4096 => {
            Err(ApiError::bad_field(field, "must be at most 4096 bytes"))
        }
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::bad_field(field, "must be a string")),
        None => Err(ApiError::bad_field(field, "is required")),
    }
}

/// Reads a required identifier: a non-empty string of at most 256 bytes.
pub fn req_id(
    obj: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<String, ApiError> {
    let s = req_str(obj, field)?;
    if s.is_empty() || s.len() > 256 {
        return Err(ApiError::bad_field(field, "must be 1 to 256 bytes"));
    }
    Ok(s)
}

/// Reads a required integer field of a JSON object.
pub fn req_int(
    obj: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<i64, ApiError> {
    match obj.get(field) {
        Some(v) => v
            .as_i64()
            .filter(|n| (-1_000_000_000_000..=1_000_000_000_000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_field(field, "must be an integer between -10^12 and 10^12")
            }),
        None => Err(ApiError::bad_field(field, "is required")),
    }
}

/// Reads the optional `expected_version` of a command.
pub fn opt_version(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<u64>, ApiError> {
    match obj.get("expected_version") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= i64::MAX as u64)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_field("expected_version", "must be a non-negative integer")
            }),
    }
}

/// Parses a request body as a JSON object.
pub fn json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_field("body", "must be a JSON object")),
        Err(e) => Err(ApiError::bad_field("body", format!("invalid JSON: {e}"))),
    }
}
