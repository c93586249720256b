//! Projector {{ p.node }} "{{ p.label }}" and the cache view it builds,
//! {{ v.node }} "{{ v.label }}": one entry per {% match v.key %}{% when Some with (k) %}`{{ k }}`{% when None %}`{{ v.aggregate }}`{% endmatch %} (counts and sums of
{%- if v.redis %}
//! `{{ v.aggregate }}`s). With `REDIS_URL` set (cargo feature `redis`) the view lives in
//! Redis (see `src/redis_view.rs`): durable, it resumes from the checkpoints Redis holds;
//! otherwise it is in memory, rebuilt from the event store on start.
{%- else %}
//! `{{ v.aggregate }}`s), in memory, rebuilt from the event store on start.
{%- endif %}

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{fold, PageRequest};
use crate::bus::{Delivered, ProjectionError, Projector};
use crate::domain::{{ v.aggregate_module }}::{ {{- v.aggregate }}State, EVENT_TYPES};
use crate::error::ApiError;
{%- if v.redis %}
#[cfg(feature = "redis")]
use crate::redis_view::{parse_checkpoints, Keys, Readers, Writer};
#[cfg(feature = "redis")]
use crate::store::EventStore;
#[cfg(feature = "redis")]
use std::sync::atomic::{AtomicBool, Ordering};
{%- endif %}

/// Projector name (checkpoints, metrics).
pub const PROJECTOR: &str = "{{ p.module }}";
/// View name in the query API.
pub const VIEW: &str = "{{ v.slug }}";
{%- if v.redis %}
/// The diagram node of the view (in the errors of the Redis read database).
pub const NODE: &str = "{{ v.node }}";
{%- endif %}

/// An entry of view {{ v.node }} "{{ v.label }}".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct {{ v.entry_type }} {
    /// The key this entry summarises.
    pub id: String,
    /// Number of `{{ v.aggregate }}`s.
    pub count: i64,
{%- for m in v.measures %}
    /// Sum of `{{ m }}`.
    pub {{ m }}: i64,
{%- endfor %}
}

/// A page of view {{ v.node }} "{{ v.label }}".
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct {{ v.page_type }} {
    pub items: Vec<{{ v.entry_type }}>,
    pub offset: u64,
    pub limit: u64,
    pub total: u64,
}

#[derive(Default)]
struct Data {
    members: HashMap<String, (u64, {{ v.aggregate }}State)>,
    entries: BTreeMap<String, {{ v.entry_type }}>,
    checkpoints: Vec<u64>,
}

impl Data {
    #[allow(unused_variables)]
    fn contribute(&mut self, id: &str, s: &{{ v.aggregate }}State, sign: i64) {
        let key = {% match v.key %}{% when Some with (k) %}s.{{ k }}.clone(){% when None %}id.to_string(){% endmatch %};
        let e = self
            .entries
            .entry(key.clone())
            .or_insert_with(|| {{ v.entry_type }} {
                id: key.clone(),
                ..Default::default()
            });
        e.count += sign;
{%- for m in v.measures %}
        e.{{ m }} = e.{{ m }}.saturating_add(sign.saturating_mul(s.{{ m }}));
{%- endfor %}
        if e.count <= 0 {
            self.entries.remove(&key);
        }
    }
}

/// Projector {{ p.node }} "{{ p.label }}".
pub struct {{ p.projector_type }} {
    data: Arc<RwLock<Data>>,
{%- if v.redis %}
    /// With `REDIS_URL`: the view in Redis.
    #[cfg(feature = "redis")]
    redis: Option<RedisSide>,
{%- endif %}
}

/// Read side of view {{ v.node }} "{{ v.label }}".
#[derive(Clone)]
pub struct {{ v.type_name }} {
    data: Arc<RwLock<Data>>,
{%- if v.redis %}
    /// With `REDIS_URL`: the view in Redis.
    #[cfg(feature = "redis")]
    redis: Option<Arc<RedisRead>>,
{%- endif %}
}
{%- if v.redis %}

/// The view and its projector: in Redis when `config.redis_url` is set (keys under
/// `<REDIS_PREFIX or crate name>:{{ v.slug }}:`, caught up from the checkpoints Redis
/// holds, from the event store `store` should Redis have lost writes), else a new,
/// empty cache in memory. Redis unreachable at start is an error.
pub fn open(
    config: &crate::config::Config,
    store: &Arc<crate::store::EventStore>,
) -> Result<({{ p.projector_type }}, {{ v.type_name }}), ProjectionError> {
    let data = Arc::new(RwLock::new(Data::default()));
    #[cfg(feature = "redis")]
    if let Some(url) = &config.redis_url {
        let client = crate::redis_view::client(url, NODE).map_err(err)?;
        let prefix = config
            .redis_prefix
            .as_deref()
            .unwrap_or(env!("CARGO_PKG_NAME"));
        let keys = Keys::new(prefix, VIEW);
        let closing = Arc::new(AtomicBool::new(false));
        let readers = Readers::new(client.clone(), crate::redis_view::READERS, NODE);
        let side = RedisSide {
            writer: Writer::new(client, closing.clone(), PROJECTOR, NODE),
            keys: keys.clone(),
            store: store.clone(),
            last: Vec::new(),
        };
        return Ok((
            {{ p.projector_type }} {
                data: data.clone(),
                redis: Some(side),
            },
            {{ v.type_name }} {
                data,
                redis: Some(Arc::new(RedisRead {
                    readers,
                    keys,
                    closing,
                })),
            },
        ));
    }
    #[cfg(not(feature = "redis"))]
    if config.redis_url.is_some() {
        return Err(err(
            "REDIS_URL is set, but this build has no `redis` feature: build with the default features, or unset REDIS_URL for the in-memory cache",
        ));
    }
    let _ = store;
    Ok((
        {{ p.projector_type }} {
            data: data.clone(),
            #[cfg(feature = "redis")]
            redis: None,
        },
        {{ v.type_name }} {
            data,
            #[cfg(feature = "redis")]
            redis: None,
        },
    ))
}
{%- else %}

/// A new, empty cache and its projector.
pub fn open() -> ({{ p.projector_type }}, {{ v.type_name }}) {
    let data = Arc::new(RwLock::new(Data::default()));
    (
        {{ p.projector_type }} { data: data.clone() },
        {{ v.type_name }} { data },
    )
}
{%- endif %}

fn err(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::new(PROJECTOR, e)
}

impl Projector for {{ p.projector_type }} {
    fn name(&self) -> &'static str {
        PROJECTOR
    }

    fn event_types(&self) -> &'static [&'static str] {
        EVENT_TYPES
    }

    fn checkpoints(&mut self, partitions: usize) -> Result<Vec<u64>, ProjectionError> {
{%- if v.redis %}
        #[cfg(feature = "redis")]
        if let Some(r) = &mut self.redis {
            return r.checkpoints(partitions);
        }
{%- endif %}
        let mut d = self.data.write().map_err(|_| err("lock poisoned"))?;
        d.checkpoints.resize(partitions, 0);
        Ok(d.checkpoints.clone())
    }

    fn apply(
        &mut self,
        events: &[Delivered],
        checkpoints: &[u64],
    ) -> Result<bool, ProjectionError> {
{%- if v.redis %}
        #[cfg(feature = "redis")]
        if let Some(r) = &mut self.redis {
            r.apply(events, checkpoints)?;
            return Ok(true);
        }
{%- endif %}
        // Decode and fold under the read lock, so queries go on meanwhile; only this
        // projector writes, so nothing changes before the short write below.
        let changes = {
            let d = self.data.read().map_err(|_| err("lock poisoned"))?;
            fold::<{{ v.aggregate }}State>(PROJECTOR, events, |id| Ok(d.members.get(id).cloned()))?
        };
        let mut d = self.data.write().map_err(|_| err("lock poisoned"))?;
        for c in changes {
            if let Some((_, old)) = &c.old {
                d.contribute(&c.id, old, -1);
            }
            d.contribute(&c.id, &c.new.1, 1);
            d.members.insert(c.id, c.new);
        }
        d.checkpoints = checkpoints.to_vec();
        Ok(true)
    }

    fn reset(&mut self) -> Result<(), ProjectionError> {
{%- if v.redis %}
        #[cfg(feature = "redis")]
        if let Some(r) = &mut self.redis {
            return r.reset();
        }
{%- endif %}
        let mut d = self.data.write().map_err(|_| err("lock poisoned"))?;
        *d = Data::default();
        Ok(())
    }

    fn versions(&mut self) -> Result<Option<Vec<(String, u64)>>, ProjectionError> {
{%- if v.redis %}
        #[cfg(feature = "redis")]
        if let Some(r) = &mut self.redis {
            return r.versions().map(Some);
        }
{%- endif %}
        let d = self.data.read().map_err(|_| err("lock poisoned"))?;
        Ok(Some(
            d.members
                .iter()
                .map(|(id, (version, _))| (id.clone(), *version))
                .collect(),
        ))
    }
}

impl {{ v.type_name }} {
    /// A page of entries, ordered by key.
    pub fn list(&self, page: PageRequest) -> Result<{{ v.page_type }}, ApiError> {
{%- if v.redis %}
        #[cfg(feature = "redis")]
        if let Some(r) = &self.redis {
            return r.list(page);
        }
{%- endif %}
        let d = self
            .data
            .read()
            .map_err(|_| ApiError::unavailable("cache lock poisoned"))?;
        let items = d
            .entries
            .values()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(page.limit as usize)
            .cloned()
            .collect();
        Ok({{ v.page_type }} {
            items,
            offset: page.offset,
            limit: page.limit,
            total: d.entries.len() as u64,
        })
    }

    /// One entry by key.
    pub fn get(&self, id: &str) -> Result<Option<{{ v.entry_type }}>, ApiError> {
{%- if v.redis %}
        #[cfg(feature = "redis")]
        if let Some(r) = &self.redis {
            return r.get(id);
        }
{%- endif %}
        let d = self
            .data
            .read()
            .map_err(|_| ApiError::unavailable("cache lock poisoned"))?;
        Ok(d.entries.get(id).cloned())
    }
}
{%- if v.redis %}

impl {{ v.type_name }} {
    /// Whether reads go to Redis (a round trip: the query API runs them on the
    /// blocking pool).
    #[cfg(feature = "redis")]
    pub fn is_remote(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether reads go to Redis (never, without the `redis` feature).
    #[cfg(not(feature = "redis"))]
    pub fn is_remote(&self) -> bool {
        false
    }

    /// At shutdown: a projector waiting for an unreachable Redis stops waiting (the
    /// view resumes from the checkpoints Redis holds on the next start).
    pub fn close(&self) {
        #[cfg(feature = "redis")]
        if let Some(r) = &self.redis {
            r.closing.store(true, Ordering::SeqCst);
        }
    }
}

/// The projector's side of the view in Redis.
#[cfg(feature = "redis")]
struct RedisSide {
    writer: Writer,
    keys: Keys,
    store: Arc<EventStore>,
    /// The checkpoints last written to (or read from) Redis: Redis holding less means
    /// it lost writes (restarted from an older snapshot, or flushed).
    last: Vec<u64>,
}

/// What one write to Redis found.
#[cfg(feature = "redis")]
enum Step {
    /// Applied (or nothing to apply); the checkpoints now in Redis.
    Done(Vec<u64>),
    /// Redis holds checkpoints behind the ones last written: nothing was written.
    Behind(Vec<u64>),
}

#[cfg(feature = "redis")]
fn key_of(id: &str, s: &{{ v.aggregate }}State) -> String {
    let _ = (id, s);
    {% match v.key %}{% when Some with (k) %}s.{{ k }}.clone(){% when None %}id.to_string(){% endmatch %}
}

#[cfg(feature = "redis")]
fn decode_err(what: &str, e: impl std::fmt::Display) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "undecodable value in the Redis read database",
        format!("{what}: {e} (rebuild the view: `cargo run -- rebuild {VIEW}`)"),
    ))
}

#[cfg(feature = "redis")]
impl RedisSide {
    fn checkpoints(&mut self, partitions: usize) -> Result<Vec<u64>, ProjectionError> {
        let key = self.keys.cp.clone();
        let stored: HashMap<String, u64> = self.writer.run(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        self.last = parse_checkpoints(stored, partitions);
        Ok(self.last.clone())
    }

    /// Applies `events` once: only those past the checkpoint Redis holds for their
    /// partition, with the rows, the members and the checkpoints in one MULTI/EXEC
    /// (retried should another client change the checkpoints meanwhile).
    fn apply(&mut self, events: &[Delivered], next: &[u64]) -> Result<(), ProjectionError> {
        loop {
            match self.write(events, next)? {
                Step::Done(cps) => {
                    self.last = cps;
                    return Ok(());
                }
                Step::Behind(stored) => {
                    eprintln!(
                        "projector {PROJECTOR}: Redis read database ({NODE}) holds checkpoints {stored:?}, behind the {:?} written (it lost writes): catching up from the event store",
                        self.last
                    );
                    self.last = stored;
                    self.replay()?;
                }
            }
        }
    }

    /// Replays the event store into Redis from the checkpoints it holds, up to the head.
    fn replay(&mut self) -> Result<(), ProjectionError> {
        'again: loop {
            let mut cps = self.last.clone();
            let mut position = cps.iter().copied().min().unwrap_or(0);
            loop {
                let events = self.store.read_after(position, 5_000).map_err(err)?;
                let Some(last) = events.last().map(|e| e.position) else {
                    return Ok(());
                };
                let mut batch = Vec::new();
                for e in events {
                    let part = crate::bus::partition_of(&e.aggregate_type, &e.aggregate_id, cps.len());
                    if e.position > cps.get(part).copied().unwrap_or(0) && EVENT_TYPES.contains(&e.event_type.as_str()) {
                        batch.push(Delivered {
                            partition: part,
                            event: Arc::new(e),
                        });
                    }
                }
                for cp in cps.iter_mut() {
                    *cp = (*cp).max(last);
                }
                match self.write(&batch, &cps)? {
                    Step::Done(written) => {
                        self.last = written.clone();
                        cps = written;
                    }
                    Step::Behind(stored) => {
                        self.last = stored;
                        continue 'again;
                    }
                }
                position = last;
            }
        }
    }

    fn write(&mut self, events: &[Delivered], next: &[u64]) -> Result<Step, ProjectionError> {
        let keys = &self.keys;
        let last = &self.last;
        let r = self.writer.run(|c| loop {
            let (stored,): (HashMap<String, u64>,) = redis::pipe()
                .cmd("WATCH")
                .arg(&keys.cp)
                .ignore()
                .cmd("HGETALL")
                .arg(&keys.cp)
                .query(c)?;
            let stored = parse_checkpoints(stored, next.len());
            if stored.iter().zip(last.iter()).any(|(s, l)| s < l) {
                redis::cmd("UNWATCH").query::<()>(c)?;
                return Ok(Ok(Step::Behind(stored)));
            }
            // The idempotent consumer: what Redis already holds is not applied again.
            let batch: Vec<Delivered> = events
                .iter()
                .filter(|d| d.event.position > stored.get(d.partition).copied().unwrap_or(0))
                .cloned()
                .collect();
            let cps: Vec<u64> = next
                .iter()
                .zip(stored.iter())
                .map(|(n, s)| (*n).max(*s))
                .collect();
            if batch.is_empty() && cps == stored {
                redis::cmd("UNWATCH").query::<()>(c)?;
                return Ok(Ok(Step::Done(cps)));
            }
            // The members of the batch, as Redis holds them.
            let mut ids: Vec<&str> = batch
                .iter()
                .filter(|d| d.event.aggregate_type == <{{ v.aggregate }}State as crate::domain::Aggregate>::TYPE)
                .map(|d| d.event.aggregate_id.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let mut members: HashMap<String, (u64, {{ v.aggregate }}State)> = HashMap::new();
            if !ids.is_empty() {
                let found: Vec<Option<String>> = redis::cmd("HMGET").arg(&keys.members).arg(&ids).query(c)?;
                for (id, json) in ids.iter().zip(found) {
                    if let Some(json) = json {
                        let m = serde_json::from_str(&json).map_err(|e| decode_err(&format!("member {id:?}"), e))?;
                        members.insert(id.to_string(), m);
                    }
                }
            }
            let changes = match fold::<{{ v.aggregate }}State>(PROJECTOR, &batch, |id| Ok(members.remove(id))) {
                Ok(c) => c,
                Err(e) => {
                    redis::cmd("UNWATCH").query::<()>(c)?;
                    return Ok(Err(e));
                }
            };
            // The entries those members count in, before and after.
            let mut affected: Vec<String> = Vec::new();
            for ch in &changes {
                if let Some((_, old)) = &ch.old {
                    affected.push(key_of(&ch.id, old));
                }
                affected.push(key_of(&ch.id, &ch.new.1));
            }
            affected.sort_unstable();
            affected.dedup();
            let mut d = Data::default();
            if !affected.is_empty() {
                let found: Vec<Option<String>> = redis::cmd("HMGET").arg(&keys.entries).arg(&affected).query(c)?;
                for (k, json) in affected.iter().zip(found) {
                    if let Some(json) = json {
                        let e = serde_json::from_str(&json).map_err(|e| decode_err(&format!("entry {k:?}"), e))?;
                        d.entries.insert(k.clone(), e);
                    }
                }
            }
            for ch in &changes {
                if let Some((_, old)) = &ch.old {
                    d.contribute(&ch.id, old, -1);
                }
                d.contribute(&ch.id, &ch.new.1, 1);
            }
            let mut tx = redis::pipe();
            tx.atomic();
            if !changes.is_empty() {
                let mut hset = redis::cmd("HSET");
                hset.arg(&keys.members);
                for ch in &changes {
                    let json = serde_json::to_string(&ch.new).map_err(|e| decode_err("member", e))?;
                    hset.arg(&ch.id).arg(json);
                }
                tx.add_command(hset).ignore();
            }
            for k in &affected {
                match d.entries.get(k) {
                    Some(e) => {
                        let json = serde_json::to_string(e).map_err(|e| decode_err("entry", e))?;
                        tx.cmd("HSET").arg(&keys.entries).arg(k).arg(json).ignore();
                        tx.cmd("ZADD").arg(&keys.order).arg(0).arg(k).ignore();
                    }
                    None => {
                        tx.cmd("HDEL").arg(&keys.entries).arg(k).ignore();
                        tx.cmd("ZREM").arg(&keys.order).arg(k).ignore();
                    }
                }
            }
            let mut hset = redis::cmd("HSET");
            hset.arg(&keys.cp);
            for (p, pos) in cps.iter().enumerate() {
                hset.arg(p).arg(*pos);
            }
            tx.add_command(hset).ignore();
            // EXEC answers nil when the checkpoints changed since WATCH: read again.
            if tx.query::<Option<()>>(c)?.is_some() {
                return Ok(Ok(Step::Done(cps)));
            }
        })?;
        r
    }

    fn reset(&mut self) -> Result<(), ProjectionError> {
        let keys = self.keys.clone();
        self.writer.run(|c| redis::cmd("DEL").arg(&keys.all()[..]).query::<()>(c))?;
        self.last.clear();
        Ok(())
    }

    fn versions(&mut self) -> Result<Vec<(String, u64)>, ProjectionError> {
        let key = self.keys.members.clone();
        let members: HashMap<String, String> = self.writer.run(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        members
            .into_iter()
            .map(|(id, json)| match serde_json::from_str::<(u64, serde::de::IgnoredAny)>(&json) {
                Ok((version, _)) => Ok((id, version)),
                Err(e) => Err(err(format!("member {id:?} in Redis: {e}"))),
            })
            .collect()
    }
}

/// The queries' side of the view in Redis.
#[cfg(feature = "redis")]
struct RedisRead {
    readers: Readers,
    keys: Keys,
    closing: Arc<AtomicBool>,
}

#[cfg(feature = "redis")]
impl RedisRead {
    fn list(&self, page: PageRequest) -> Result<{{ v.page_type }}, ApiError> {
        let start = i64::try_from(page.offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let (keys, total): (Vec<String>, u64) = if limit == 0 {
            (Vec::new(), self.readers.with(|c| redis::cmd("ZCARD").arg(&self.keys.order).query(c))?)
        } else {
            self.readers.with(|c| {
                redis::pipe()
                    .cmd("ZRANGE")
                    .arg(&self.keys.order)
                    .arg(start)
                    .arg(start.saturating_add(limit - 1))
                    .cmd("ZCARD")
                    .arg(&self.keys.order)
                    .query(c)
            })?
        };
        let mut items = Vec::with_capacity(keys.len());
        if !keys.is_empty() {
            let found: Vec<Option<String>> = self
                .readers
                .with(|c| redis::cmd("HMGET").arg(&self.keys.entries).arg(&keys).query(c))?;
            for json in found.into_iter().flatten() {
                items.push(self.readers.decode(&json)?);
            }
        }
        Ok({{ v.page_type }} {
            items,
            offset: page.offset,
            limit: page.limit,
            total,
        })
    }

    fn get(&self, id: &str) -> Result<Option<{{ v.entry_type }}>, ApiError> {
        let json: Option<String> = self
            .readers
            .with(|c| redis::cmd("HGET").arg(&self.keys.entries).arg(id).query(c))?;
        json.map(|j| self.readers.decode(&j)).transpose()
    }
}
{%- endif %}
