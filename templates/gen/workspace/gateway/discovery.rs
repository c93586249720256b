//! Service discovery: instances register with a TTL and renew it (heartbeats); the
//! gateway health-checks every instance and takes one out of rotation when it stops
//! answering; static addresses (`<SERVICE_KEY>_URLS`, e.g. DNS names on Kubernetes) are
//! checked the same way but never expire. Registrations live in memory, or in Redis
//! (a sorted set per service scored by expiry) when `REDIS_URL` is set, so several
//! gateways share them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contracts::{topology, Registration};
use serde::{Deserialize, Serialize};

/// One instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub service: String,
    pub id: String,
    pub url: String,
    /// Unix milliseconds; `None` for a static address.
    pub expires_at_ms: Option<u64>,
}

/// A registry failure (Redis unreachable, a bad registration).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Invalid(String),
    #[error("registry store: {0}")]
    Store(String),
}

enum Store {
    Memory(Mutex<HashMap<(String, String), Instance>>),
    Redis(redis::aio::ConnectionManager),
}

#[derive(Debug, Default, Clone, Copy)]
struct Health {
    failures: u32,
}

/// The registry and each instance's health as this gateway sees it.
pub struct Registry {
    store: Store,
    statics: Vec<Instance>,
    health: Mutex<HashMap<String, Health>>,
    next: HashMap<&'static str, AtomicUsize>,
    unhealthy_after: u32,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn redis_key(service: &str) -> String {
    format!("{}:registry:{service}", topology::SYSTEM)
}

#[derive(Serialize, Deserialize)]
struct Member {
    id: String,
    url: String,
}

/// Checks a registration: a known service, an http(s) URL, a sane id and TTL.
pub fn validate(reg: &Registration) -> Result<(), RegistryError> {
    if contracts::service(&reg.service).is_none() {
        let known: Vec<&str> = topology::SERVICES.iter().map(|s| s.key).collect();
        return Err(RegistryError::Invalid(format!(
            "unknown service {:?} (known: {})",
            reg.service,
            known.join(", ")
        )));
    }
    if !(reg.url.starts_with("http://") || reg.url.starts_with("https://"))
        || reg.url.len() > 512
        || reg.url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(RegistryError::Invalid(format!(
            "url {:?} is not an http:// or https:// URL",
            reg.url
        )));
    }
    if reg.instance_id.is_empty()
        || reg.instance_id.len() > 128
        || !reg
            .instance_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(RegistryError::Invalid(
            "instance_id must be 1 to 128 characters of [A-Za-z0-9-_.:]".into(),
        ));
    }
    if !(100..=300_000).contains(&reg.ttl_ms) {
        return Err(RegistryError::Invalid(
            "ttl_ms must be between 100 and 300000".into(),
        ));
    }
    Ok(())
}

impl Registry {
    /// An in-memory registry with these static instances.
    pub fn memory(statics: &[(String, String)], unhealthy_after: u32) -> Registry {
        Registry::with_store(
            Store::Memory(Mutex::new(HashMap::new())),
            statics,
            unhealthy_after,
        )
    }

    /// A registry kept in Redis.
    pub async fn redis(
        url: &str,
        statics: &[(String, String)],
        unhealthy_after: u32,
    ) -> Result<Registry, RegistryError> {
        let client = redis::Client::open(url).map_err(|e| RegistryError::Store(e.to_string()))?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(|e| RegistryError::Store(format!("{url}: {e}")))?;
        Ok(Registry::with_store(
            Store::Redis(conn),
            statics,
            unhealthy_after,
        ))
    }

    fn with_store(store: Store, statics: &[(String, String)], unhealthy_after: u32) -> Registry {
        Registry {
            store,
            statics: statics
                .iter()
                .enumerate()
                .map(|(i, (service, url))| Instance {
                    service: service.clone(),
                    id: format!("static-{i}"),
                    url: url.clone(),
                    expires_at_ms: None,
                })
                .collect(),
            health: Mutex::new(HashMap::new()),
            next: topology::SERVICES
                .iter()
                .map(|s| (s.key, AtomicUsize::new(0)))
                .collect(),
            unhealthy_after: unhealthy_after.max(1),
        }
    }

    /// `memory` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// Adds or renews a registration.
    pub async fn register(&self, reg: &Registration) -> Result<(), RegistryError> {
        validate(reg)?;
        let expires = now_ms().saturating_add(reg.ttl_ms);
        let url = reg.url.trim_end_matches('/').to_string();
        match &self.store {
            Store::Memory(m) => {
                let mut m = m
                    .lock()
                    .map_err(|_| RegistryError::Store("poisoned".into()))?;
                m.insert(
                    (reg.service.clone(), reg.instance_id.clone()),
                    Instance {
                        service: reg.service.clone(),
                        id: reg.instance_id.clone(),
                        url,
                        expires_at_ms: Some(expires),
                    },
                );
                Ok(())
            }
            Store::Redis(c) => {
                let member = serde_json::to_string(&Member {
                    id: reg.instance_id.clone(),
                    url,
                })
                .map_err(|e| RegistryError::Store(e.to_string()))?;
                let mut c = c.clone();
                redis::cmd("ZADD")
                    .arg(redis_key(&reg.service))
                    .arg(expires)
                    .arg(member)
                    .query_async::<()>(&mut c)
                    .await
                    .map_err(|e| RegistryError::Store(e.to_string()))
            }
        }
    }

    /// Every unexpired instance of `service`, static ones first, healthy or not.
    pub async fn instances(&self, service: &str) -> Result<Vec<Instance>, RegistryError> {
        let now = now_ms();
        let mut out: Vec<Instance> = self
            .statics
            .iter()
            .filter(|i| i.service == service)
            .cloned()
            .collect();
        match &self.store {
            Store::Memory(m) => {
                let mut m = m
                    .lock()
                    .map_err(|_| RegistryError::Store("poisoned".into()))?;
                m.retain(|_, i| i.expires_at_ms.is_none_or(|e| e > now));
                let mut v: Vec<Instance> = m
                    .values()
                    .filter(|i| i.service == service)
                    .cloned()
                    .collect();
                v.sort_by(|a, b| a.id.cmp(&b.id));
                out.extend(v);
            }
            Store::Redis(c) => {
                let key = redis_key(service);
                let mut c = c.clone();
                let (members,): (Vec<(String, f64)>,) = redis::pipe()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&key)
                    .arg("-inf")
                    .arg(now)
                    .ignore()
                    .cmd("ZRANGEBYSCORE")
                    .arg(&key)
                    .arg(now + 1)
                    .arg("+inf")
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
                    .map_err(|e| RegistryError::Store(e.to_string()))?;
                let mut seen = std::collections::HashSet::new();
                // Highest expiry first, so a re-registered id keeps its newest URL.
                for (m, score) in members.into_iter().rev() {
                    if let Ok(m) = serde_json::from_str::<Member>(&m) {
                        if seen.insert(m.id.clone()) {
                            out.push(Instance {
                                service: service.to_string(),
                                id: m.id,
                                url: m.url,
                                expires_at_ms: Some(score as u64),
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn healthy(&self, url: &str) -> bool {
        self.health
            .lock()
            .map(|h| h.get(url).is_none_or(|x| x.failures < self.unhealthy_after))
            .unwrap_or(true)
    }

    /// The instances requests may go to, rotated one step per call (round robin).
    pub async fn live(&self, service: &str) -> Result<Vec<Instance>, RegistryError> {
        let mut v: Vec<Instance> = self
            .instances(service)
            .await?
            .into_iter()
            .filter(|i| self.healthy(&i.url))
            .collect();
        if v.len() > 1 {
            let n = self
                .next
                .get(service)
                .map(|c| c.fetch_add(1, Ordering::Relaxed))
                .unwrap_or(0);
            let k = n % v.len();
            v.rotate_left(k);
        }
        Ok(v)
    }

    /// Records a failed request or health check of the instance at `url`.
    pub fn failed(&self, url: &str) {
        if let Ok(mut h) = self.health.lock() {
            let e = h.entry(url.to_string()).or_default();
            e.failures = e.failures.saturating_add(1);
        }
    }

    /// Records a passed health check: the instance is back in rotation.
    pub fn passed(&self, url: &str) {
        if let Ok(mut h) = self.health.lock() {
            h.remove(url);
        }
    }

    /// One round of health checks over every instance of every service, concurrently.
    pub async fn check_all(&self, client: &reqwest::Client, timeout: Duration) {
        let mut all = Vec::new();
        for s in topology::SERVICES {
            if let Ok(v) = self.instances(s.key).await {
                all.extend(v);
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for i in &all {
            let c = client.clone();
            let url = i.url.clone();
            set.spawn(async move {
                let ok = matches!(
                    c.get(format!("{url}/health")).timeout(timeout).send().await,
                    Ok(r) if r.status().is_success()
                );
                (url, ok)
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok((url, ok)) = r {
                if ok {
                    self.passed(&url);
                } else {
                    self.failed(&url);
                }
            }
        }
        // Forget the health of instances that are gone.
        if let Ok(mut h) = self.health.lock() {
            h.retain(|url, _| all.iter().any(|i| &i.url == url));
        }
    }

    /// Every instance with its state, for `GET /_registry`.
    pub async fn snapshot(&self) -> Result<serde_json::Value, RegistryError> {
        let mut out = serde_json::Map::new();
        for s in topology::SERVICES {
            let v: Vec<serde_json::Value> = self
                .instances(s.key)
                .await?
                .into_iter()
                .map(|i| {
                    serde_json::json!({
                        "id": i.id,
                        "url": i.url,
                        "expires_at_ms": i.expires_at_ms,
                        "healthy": self.healthy(&i.url),
                    })
                })
                .collect();
            out.insert(s.key.to_string(), serde_json::Value::Array(v));
        }
        Ok(serde_json::Value::Object(out))
    }
}
