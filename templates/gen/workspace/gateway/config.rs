//! The gateway's configuration, from the environment (every variable is in README.md).

use std::num::NonZeroU32;
use std::time::Duration;

use contracts::topology;

/// A variable that is set but cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Rate and burst of one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests allowed at once.
    pub burst: NonZeroU32,
}

/// How tokens are checked.
#[derive(Debug, Clone, Default)]
pub struct JwtConfig {
    /// HS256 shared secret (`JWT_SECRET`).
    pub hs256_secret: Option<Vec<u8>>,
    /// RS256 public keys (`JWT_JWKS_FILE`, a JWKS document).
    pub jwks: Option<jsonwebtoken::jwk::JwkSet>,
    pub issuer: String,
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway: u64,
}

/// Everything the gateway reads at start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub port: u16,
    /// `None`: the diagram draws no authentication.
    pub jwt: Option<JwtConfig>,
    /// Per client (token subject, else IP); `None`: off.
    pub per_client: Option<Limit>,
    /// Over all clients; `None`: off.
    pub global: Option<Limit>,
    /// Timeout of one attempt to a backend.
    pub upstream_timeout: Duration,
    /// Timeout of each part of an aggregated response.
    pub aggregate_timeout: Duration,
    /// Further attempts (on another instance) for idempotent requests.
    pub retries: u32,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    /// Failed health checks in a row that take an instance out of rotation.
    pub unhealthy_after: u32,
    /// Addresses that need no registration (`<SERVICE_KEY>_URLS`, comma-separated).
    pub static_instances: Vec<(String, String)>,
    /// Keeps the registry in Redis instead of memory.
    pub redis_url: Option<String>,
    /// When set, registrations must carry it; when not, only loopback peers may register.
    pub registry_token: Option<String>,
    /// Largest request body forwarded, bytes.
    pub max_body: usize,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn num<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name}={v:?} is not a valid number"))),
    }
}

fn nonzero(name: &str, v: u32) -> Result<NonZeroU32, ConfigError> {
    NonZeroU32::new(v).ok_or_else(|| {
        ConfigError(format!(
            "{name} must be at least 1 (0 turns the limit off: use RATE_LIMIT=off)"
        ))
    })
}

impl GatewayConfig {
    /// Defaults for tests and embedding: no auth secret, limits on, short timeouts.
    pub fn new(jwt: Option<JwtConfig>) -> GatewayConfig {
        GatewayConfig {
            port: topology::GATEWAY_PORT,
            jwt,
            per_client: Some(Limit {
                per_second: NonZeroU32::MIN.saturating_add(49),
                burst: NonZeroU32::MIN.saturating_add(99),
            }),
            global: Some(Limit {
                per_second: NonZeroU32::MIN.saturating_add(4999),
                burst: NonZeroU32::MIN.saturating_add(4999),
            }),
            upstream_timeout: Duration::from_millis(2000),
            aggregate_timeout: Duration::from_millis(1000),
            retries: 2,
            health_interval: Duration::from_millis(1000),
            health_timeout: Duration::from_millis(500),
            unhealthy_after: 1,
            static_instances: Vec::new(),
            redis_url: None,
            registry_token: None,
            max_body: 2 * 1024 * 1024,
        }
    }

    /// Reads the environment.
    pub fn from_env() -> Result<GatewayConfig, ConfigError> {
        let jwt = if topology::AUTHENTICATE {
            Some(JwtConfig::from_env()?)
        } else {
            None
        };
        let mut c = GatewayConfig::new(jwt);
        c.port = num("PORT", topology::GATEWAY_PORT)?;
        let off = var("RATE_LIMIT").is_some_and(|v| v.eq_ignore_ascii_case("off"));
        if !topology::RATE_LIMIT || off {
            c.per_client = None;
            c.global = None;
        } else {
            let rate = num("RATE_LIMIT_PER_CLIENT", 50u32)?;
            let burst = num("RATE_LIMIT_BURST", rate.saturating_mul(2))?;
            c.per_client = Some(Limit {
                per_second: nonzero("RATE_LIMIT_PER_CLIENT", rate)?,
                burst: nonzero("RATE_LIMIT_BURST", burst)?,
            });
            let g = num("RATE_LIMIT_GLOBAL", 5000u32)?;
            let gb = num("RATE_LIMIT_GLOBAL_BURST", g)?;
            c.global = Some(Limit {
                per_second: nonzero("RATE_LIMIT_GLOBAL", g)?,
                burst: nonzero("RATE_LIMIT_GLOBAL_BURST", gb)?,
            });
        }
        c.upstream_timeout = Duration::from_millis(num("UPSTREAM_TIMEOUT_MS", 2000u64)?);
        c.aggregate_timeout = Duration::from_millis(num("AGGREGATE_TIMEOUT_MS", 1000u64)?);
        c.retries = num("RETRIES", 2u32)?;
        c.health_interval = Duration::from_millis(num("HEALTH_INTERVAL_MS", 1000u64)?.max(10));
        c.health_timeout = Duration::from_millis(num("HEALTH_TIMEOUT_MS", 500u64)?.max(10));
        c.unhealthy_after = num("UNHEALTHY_AFTER", 1u32)?.max(1);
        c.max_body = num("MAX_BODY_BYTES", c.max_body)?;
        for s in topology::SERVICES {
            let name = format!("{}_URLS", s.key.to_ascii_uppercase());
            if let Some(v) = var(&name) {
                for url in v.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(ConfigError(format!(
                            "{name}: {url:?} is not an http:// or https:// URL"
                        )));
                    }
                    c.static_instances
                        .push((s.key.to_string(), url.trim_end_matches('/').to_string()));
                }
            }
        }
        c.redis_url = var("REDIS_URL");
        c.registry_token = var("REGISTRY_TOKEN");
        Ok(c)
    }
}

impl JwtConfig {
    /// `JWT_SECRET` (HS256) and/or `JWT_JWKS_FILE` (RS256); at least one is required.
    pub fn from_env() -> Result<JwtConfig, ConfigError> {
        let mut j = JwtConfig {
            hs256_secret: var("JWT_SECRET").map(|s| s.into_bytes()),
            jwks: None,
            issuer: var("JWT_ISSUER").unwrap_or_else(|| topology::SYSTEM.to_string()),
            audience: var("JWT_AUDIENCE").unwrap_or_else(|| topology::SYSTEM.to_string()),
            leeway: num("JWT_LEEWAY_SECS", 30u64)?,
        };
        if let Some(s) = &j.hs256_secret {
            if s.len() < 16 {
                return Err(ConfigError(
                    "JWT_SECRET must be at least 16 bytes long".to_string(),
                ));
            }
        }
        if let Some(path) = var("JWT_JWKS_FILE") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError(format!("JWT_JWKS_FILE {path}: {e}")))?;
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text).map_err(|e| {
                ConfigError(format!("JWT_JWKS_FILE {path}: not a JWKS document: {e}"))
            })?;
            j.jwks = Some(set);
        }
        if j.hs256_secret.is_none() && j.jwks.is_none() {
            return Err(ConfigError(
                "the gateway authenticates requests: set JWT_SECRET (HS256, 16 bytes or more) or JWT_JWKS_FILE (RS256 public keys); `cargo run -p dev` sets a random one"
                    .to_string(),
            ));
        }
        Ok(j)
    }
}
