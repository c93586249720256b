//! The command side's memory of aggregates: the state and version of every
//! aggregate recently loaded or changed, so a command on a known aggregate needs no
//! read of the event store.
//!
//! An entry is written only after the append that produced it is durable, and never
//! replaces a newer version; a conflict or a failed append drops the entry, so the
//! next command loads the aggregate again from its snapshot and events. The event
//! store still checks every append's expected version, so a stale entry can only
//! cost a 409, never a lost update. Bounded: a shard that grows past its share of
//! `AGGREGATE_CACHE` entries is emptied (0 turns the cache off).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

const SHARDS: usize = 16;

/// Recently used aggregates of one type: id -> (version, state).
pub struct AggregateCache<S> {
    shards: Vec<Mutex<HashMap<String, (u64, S)>>>,
    hasher: RandomState,
    per_shard: usize,
}

impl<S: Clone> AggregateCache<S> {
    /// A cache holding about `capacity` aggregates (0: caches nothing).
    pub fn new(capacity: usize) -> Self {
        AggregateCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, id: &str) -> &Mutex<HashMap<String, (u64, S)>> {
        &self.shards[(self.hasher.hash_one(id) as usize) % SHARDS]
    }

    /// The cached version and state of `id`.
    pub fn get(&self, id: &str) -> Option<(u64, S)> {
        if self.per_shard == 0 {
            return None;
        }
        self.shard(id).lock().ok()?.get(id).cloned()
    }

    /// Records `id` at `version` after a durable append, unless a newer one is known.
    pub fn put(&self, id: &str, version: u64, state: S) {
        if self.per_shard == 0 {
            return;
        }
        let Ok(mut shard) = self.shard(id).lock() else {
            return;
        };
        if let Some(entry) = shard.get_mut(id) {
            if entry.0 < version {
                *entry = (version, state);
            }
            return;
        }
        if shard.len() >= self.per_shard {
            shard.clear();
        }
        shard.insert(id.to_string(), (version, state));
    }

    /// Forgets `id` (after a conflict or a failed append).
    pub fn forget(&self, id: &str) {
        if let Ok(mut shard) = self.shard(id).lock() {
            shard.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AggregateCache;

    #[test]
    fn keeps_the_newest_version() {
        let c = AggregateCache::new(100);
        c.put("a", 2, "two");
        c.put("a", 1, "one");
        assert_eq!(c.get("a"), Some((2, "two")));
        c.put("a", 3, "three");
        assert_eq!(c.get("a"), Some((3, "three")));
        c.forget("a");
        assert_eq!(c.get("a"), None);
    }

    #[test]
    fn stays_bounded_and_can_be_off() {
        let c = AggregateCache::new(32);
        for i in 0..10_000u64 {
            c.put(&i.to_string(), 1, i);
        }
        let held: usize = c
            .shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum();
        assert!(held <= 32, "{held} entries held");
        let off = AggregateCache::new(0);
        off.put("a", 1, 1);
        assert_eq!(off.get("a"), None);
    }
}
