//! JWT authentication: HS256 with the secret of `JWT_SECRET`, RS256 with the keys of
//! `JWT_JWKS_FILE`; `exp`, `nbf`, `aud` and `iss` are checked. A request without a
//! valid bearer token is answered 401 with `WWW-Authenticate`.

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

use crate::config::JwtConfig;

/// The claims the gateway reads and mints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub aud: String,
    pub iss: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default)]
    pub iat: u64,
}

/// The authenticated caller, put in the request's extensions for the layers after this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(pub String);

/// Header the backends receive with the token's subject.
pub const SUBJECT_HEADER: &str = "x-auth-subject";

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed,
    Expired,
    NotYetValid,
    BadAudience,
    BadIssuer,
    BadSignature,
    UnsupportedAlgorithm(String),
    UnknownKey,
    Invalid(String),
}

impl AuthError {
    /// The `error_description` of `WWW-Authenticate` and the body's `reason`.
    pub fn reason(&self) -> String {
        match self {
            AuthError::Missing => "no bearer token".into(),
            AuthError::Malformed => "the Authorization header is not `Bearer <token>`".into(),
            AuthError::Expired => "the token has expired".into(),
            AuthError::NotYetValid => "the token is not valid yet (nbf)".into(),
            AuthError::BadAudience => "the token's audience is not this gateway".into(),
            AuthError::BadIssuer => "the token's issuer is not trusted".into(),
            AuthError::BadSignature => "the token's signature does not verify".into(),
            AuthError::UnsupportedAlgorithm(a) => {
                format!("algorithm {a} is not accepted here")
            }
            AuthError::UnknownKey => "the token's key id (kid) is not in the JWKS".into(),
            AuthError::Invalid(m) => format!("invalid token: {m}"),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let reason = self.reason();
        // RFC 6750: no error code when the request carried no credentials.
        let challenge = if self == AuthError::Missing {
            "Bearer realm=\"gateway\"".to_string()
        } else {
            format!(
                "Bearer realm=\"gateway\", error=\"invalid_token\", error_description=\"{}\"",
                reason.replace('"', "'")
            )
        };
        let mut r = (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "unauthorized", "reason": reason})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

/// Checks tokens against the configured keys.
pub struct Verifier {
    config: JwtConfig,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Verifier {
    pub fn new(config: JwtConfig) -> Verifier {
        Verifier { config }
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.set_audience(&[&self.config.audience]);
        v.set_issuer(&[&self.config.issuer]);
        v.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        v.validate_exp = true;
        v.validate_nbf = true;
        v.leeway = self.config.leeway;
        v
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let head = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        // The key decides the algorithm, never the token: HS256 only with a secret,
        // RS256 only with a JWKS.
        let key = match head.alg {
            Algorithm::HS256 => match &self.config.hs256_secret {
                Some(s) => DecodingKey::from_secret(s),
                None => return Err(AuthError::UnsupportedAlgorithm("HS256".into())),
            },
            Algorithm::RS256 => {
                let Some(set) = &self.config.jwks else {
                    return Err(AuthError::UnsupportedAlgorithm("RS256".into()));
                };
                let jwk = match &head.kid {
                    Some(kid) => set.find(kid),
                    None if set.keys.len() == 1 => set.keys.first(),
                    None => None,
                };
                let jwk = jwk.ok_or(AuthError::UnknownKey)?;
                DecodingKey::from_jwk(jwk).map_err(|e| AuthError::Invalid(e.to_string()))?
            }
            other => return Err(AuthError::UnsupportedAlgorithm(format!("{other:?}"))),
        };
        match jsonwebtoken::decode::<Claims>(token, &key, &self.validation(head.alg)) {
            Ok(t) => Ok(t.claims),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::BadAudience,
                ErrorKind::InvalidIssuer => AuthError::BadIssuer,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidAlgorithm => {
                    AuthError::UnsupportedAlgorithm(format!("{:?}", head.alg))
                }
                ErrorKind::MissingRequiredClaim(c) => {
                    AuthError::Invalid(format!("claim `{c}` is missing"))
                }
                _ => AuthError::Invalid(e.to_string()),
            }),
        }
    }
}

/// The bearer token of an `Authorization` header value.
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

/// The authentication layer (`axum::middleware::from_fn_with_state`).
pub async fn layer(State(v): State<Arc<Verifier>>, mut req: Request, next: Next) -> Response {
    let claims = match bearer(req.headers().get(header::AUTHORIZATION)).and_then(|t| v.verify(t)) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Ok(h) = HeaderValue::from_str(&claims.sub) {
        req.headers_mut().insert(SUBJECT_HEADER, h);
    }
    req.extensions_mut().insert(Subject(claims.sub));
    next.run(req).await
}

/// What `mint-token` signs with.
pub enum SigningKey {
    Hs256(Vec<u8>),
    /// A PEM private key and the `kid` its public half has in the JWKS.
    Rs256 {
        pem: Vec<u8>,
        kid: String,
    },
}

/// Signs a development token for `sub`, valid from now for `ttl_secs`.
pub fn mint(
    key: &SigningKey,
    sub: &str,
    aud: &str,
    iss: &str,
    ttl_secs: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = now();
    let claims = Claims {
        sub: sub.to_string(),
        aud: aud.to_string(),
        iss: iss.to_string(),
        exp: now.saturating_add_signed(ttl_secs),
        nbf: Some(now.saturating_sub(1)),
        iat: now,
    };
    match key {
        SigningKey::Hs256(secret) => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        ),
        SigningKey::Rs256 { pem, kid } => {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some(kid.clone());
            jsonwebtoken::encode(&h, &claims, &EncodingKey::from_rsa_pem(pem)?)
        }
    }
}
