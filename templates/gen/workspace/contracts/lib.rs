//! Types every crate of the workspace shares: the topology drawn in the diagram, the
//! registration a service sends to the registry, the loop that sends it, and the HTTP
//! contract as OpenAPI ([`openapi`]).

pub mod openapi;
pub mod topology;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use topology::{AggregatePart, ServiceInfo, AGGREGATE, SERVICES};

/// One instance of a service, as it registers itself with the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The service key (`user_service`), one of [`SERVICES`].
    pub service: String,
    /// Unique per running instance.
    pub instance_id: String,
    /// Base URL the gateway reaches the instance at (`http://127.0.0.1:8081`).
    pub url: String,
    /// The registration expires unless renewed within this many milliseconds.
    pub ttl_ms: u64,
}

/// Where a service registers, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// The registry's base URL (the gateway's), e.g. `http://127.0.0.1:8080`.
    pub url: Option<String>,
    /// Sent as `x-registry-token` when the gateway sets `REGISTRY_TOKEN`.
    pub token: Option<String>,
    /// How long a registration lives unless renewed.
    pub ttl: Duration,
}

/// The service of that key.
pub fn service(key: &str) -> Option<&'static ServiceInfo> {
    SERVICES.iter().find(|s| s.key == key)
}

/// Header carrying the registry token (when the gateway sets `REGISTRY_TOKEN`).
pub const REGISTRY_TOKEN_HEADER: &str = "x-registry-token";

/// Registers `reg` at `registry_url` now and every `ttl / 3` from then on (the heartbeat),
/// until the task is dropped. Failures are printed and retried at the next beat.
pub async fn heartbeat(registry_url: String, token: Option<String>, reg: Registration) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("registry client: {e}");
            return;
        }
    };
    let url = format!("{}/_registry/register", registry_url.trim_end_matches('/'));
    let every = Duration::from_millis((reg.ttl_ms / 3).max(50));
    let mut failing = false;
    loop {
        let mut req = client.post(&url).json(&reg);
        if let Some(t) = &token {
            req = req.header(REGISTRY_TOKEN_HEADER, t);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                if failing {
                    eprintln!("{}: registered again at {url}", reg.service);
                }
                failing = false;
            }
            Ok(r) => {
                if !failing {
                    eprintln!("{}: registry at {url} answered {}", reg.service, r.status());
                }
                failing = true;
            }
            Err(e) => {
                if !failing {
                    eprintln!(
                        "{}: registry at {url} unreachable ({e}); retrying",
                        reg.service
                    );
                }
                failing = true;
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// A process-unique id: the pid and the start time.
pub fn instance_id(service: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{service}-{}-{:x}", std::process::id(), nanos & 0xffff_ffff)
}
