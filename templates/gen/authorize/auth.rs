//! Authorization of the command endpoints: a bearer token, an HS256 JWT signed with
//! the secret in `JWT_SECRET` (`exp` and `sub` required, `nbf` checked). A request
//! without a valid token is answered 401 with `WWW-Authenticate` (RFC 6750).
//!
//! Without `JWT_SECRET` the service runs in dev mode: commands are accepted without a
//! token, and the service says so when it starts. No secret is ever part of the code;
//! `cargo run -- mint-token [subject]` prints a token signed with `JWT_SECRET`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::app::AppState;

/// Shortest secret accepted (bytes): HS256 is only as strong as its key.
pub const MIN_SECRET: usize = 32;

/// The claims read from a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default)]
    pub iat: u64,
}

/// The caller of a command, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(pub String);

/// The token check: a secret, or dev mode (none).
#[derive(Clone)]
pub struct Auth {
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Auth")
            .field("dev_mode", &self.secret.is_none())
            .finish()
    }
}

/// `JWT_SECRET` is set but unusable.
#[derive(Debug, thiserror::Error)]
#[error("environment variable JWT_SECRET: must be at least {MIN_SECRET} bytes (unset it for dev mode, without tokens)")]
pub struct SecretTooShort;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Auth {
    /// From `JWT_SECRET`; unset or empty: dev mode.
    pub fn from_env() -> Result<Auth, SecretTooShort> {
        match std::env::var("JWT_SECRET") {
            Ok(s) if !s.is_empty() => Auth::hs256(s.as_bytes()),
            _ => Ok(Auth::dev()),
        }
    }

    /// Tokens signed with `secret` are required.
    pub fn hs256(secret: &[u8]) -> Result<Auth, SecretTooShort> {
        if secret.len() < MIN_SECRET {
            return Err(SecretTooShort);
        }
        Ok(Auth {
            secret: Some(secret.to_vec()),
        })
    }

    /// No token required (dev mode).
    pub fn dev() -> Auth {
        Auth { secret: None }
    }

    /// Whether commands are accepted without a token.
    pub fn is_dev(&self) -> bool {
        self.secret.is_none()
    }

    /// The claims of the request's bearer token (dev mode: a `dev` subject).
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<Claims, AuthError> {
        let Some(secret) = &self.secret else {
            return Ok(Claims {
                sub: "dev".into(),
                exp: u64::MAX,
                nbf: None,
                iat: 0,
            });
        };
        let token = bearer(authorization)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "sub"]);
        v.validate_exp = true;
        v.validate_nbf = true;
        v.validate_aud = false;
        v.leeway = 5;
        match jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &v) {
            Ok(t) => Ok(t.claims),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidAlgorithm => AuthError::Invalid("only HS256 is accepted".into()),
                ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                    AuthError::Malformed
                }
                ErrorKind::MissingRequiredClaim(c) => AuthError::Invalid(format!("claim `{c}` is missing")),
                _ => AuthError::Invalid(e.to_string()),
            }),
        }
    }

    /// A token for `sub`, valid for `ttl_secs` (`None` in dev mode: nothing to sign with).
    pub fn mint(&self, sub: &str, ttl_secs: u64) -> Option<Result<String, jsonwebtoken::errors::Error>> {
        let secret = self.secret.as_ref()?;
        let now = now();
        let claims = Claims {
            sub: sub.to_string(),
            exp: now.saturating_add(ttl_secs),
            nbf: Some(now.saturating_sub(1)),
            iat: now,
        };
        Some(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        ))
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed,
    Expired,
    NotYetValid,
    BadSignature,
    Invalid(String),
}

impl AuthError {
    /// What is wrong, for the body and `error_description`.
    pub fn reason(&self) -> String {
        match self {
            AuthError::Missing => "no bearer token (Authorization: Bearer <token>)".into(),
            AuthError::Malformed => "the bearer token is not a JWT".into(),
            AuthError::Expired => "the token has expired".into(),
            AuthError::NotYetValid => "the token is not valid yet (nbf)".into(),
            AuthError::BadSignature => "the token's signature does not verify".into(),
            AuthError::Invalid(m) => format!("invalid token: {m}"),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let reason = self.reason();
        // RFC 6750: no error code when the request carried no credentials.
        let challenge = if self == AuthError::Missing {
            "Bearer realm=\"{{ plan.crate_name }}\"".to_string()
        } else {
            format!(
                "Bearer realm=\"{{ plan.crate_name }}\", error=\"invalid_token\", error_description=\"{}\"",
                reason.replace(['"', '\\'], "'")
            )
        };
        let mut r = (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": reason, "field": "authorization"})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(value: Option<&HeaderValue>) -> Result<&str, AuthError> {
    let Some(v) = value else {
        return Err(AuthError::Missing);
    };
    let v = v.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = v.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

/// The authorization layer of the command routes (`from_fn_with_state`).
pub async fn authorize(State(app): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    match app.auth.check(req.headers().get(header::AUTHORIZATION)) {
        Ok(claims) => {
            req.extensions_mut().insert(Subject(claims.sub));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";

    #[test]
    fn a_minted_token_passes_and_anything_else_is_refused() {
        let auth = Auth::hs256(SECRET).expect("long enough");
        let token = auth.mint("alice", 60).expect("a secret").expect("signs");
        let header = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        assert_eq!(auth.check(Some(&header)).map(|c| c.sub), Ok("alice".to_string()));
        assert_eq!(auth.check(None), Err(AuthError::Missing));
        let other = Auth::hs256(b"another-secret-that-is-32-bytes-long!").expect("long enough");
        let forged = other.mint("mallory", 60).expect("a secret").expect("signs");
        let header = HeaderValue::from_str(&format!("Bearer {forged}")).expect("header");
        assert_eq!(auth.check(Some(&header)), Err(AuthError::BadSignature));
        let header = HeaderValue::from_static("Basic YWxpY2U6cHc=");
        assert_eq!(auth.check(Some(&header)), Err(AuthError::Malformed));
        let header = HeaderValue::from_static("Bearer not-a-jwt");
        assert_eq!(auth.check(Some(&header)), Err(AuthError::Malformed));
        assert!(Auth::hs256(b"short").is_err());
        assert!(Auth::dev().check(None).is_ok());
        assert!(format!("{auth:?}").contains("dev_mode: false"));
    }
}
