//! Projector {{ p.node }} "{{ p.label }}" and the cache view it builds,
//! {{ v.node }} "{{ v.label }}": one entry per {% match v.key %}{% when Some with (k) %}`{{ k }}`{% when None %}`{{ v.aggregate }}`{% endmatch %} (counts and sums of
//! `{{ v.aggregate }}`s), in memory, rebuilt from the event store on start.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{fold, PageRequest};
use crate::bus::{Delivered, ProjectionError, Projector};
use crate::domain::{{ v.aggregate_module }}::{ {{- v.aggregate }}State, EVENT_TYPES};
use crate::error::ApiError;

/// Projector name (checkpoints, metrics).
pub const PROJECTOR: &str = "{{ p.module }}";
/// View name in the query API.
pub const VIEW: &str = "{{ v.slug }}";

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
}

/// Read side of view {{ v.node }} "{{ v.label }}".
#[derive(Clone)]
pub struct {{ v.type_name }} {
    data: Arc<RwLock<Data>>,
}

/// A new, empty cache and its projector.
pub fn open() -> ({{ p.projector_type }}, {{ v.type_name }}) {
    let data = Arc::new(RwLock::new(Data::default()));
    (
        {{ p.projector_type }} { data: data.clone() },
        {{ v.type_name }} { data },
    )
}

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
        let mut d = self.data.write().map_err(|_| err("lock poisoned"))?;
        d.checkpoints.resize(partitions, 0);
        Ok(d.checkpoints.clone())
    }

    fn apply(
        &mut self,
        events: &[Delivered],
        checkpoints: &[u64],
    ) -> Result<bool, ProjectionError> {
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
        let mut d = self.data.write().map_err(|_| err("lock poisoned"))?;
        *d = Data::default();
        Ok(())
    }

    fn versions(&mut self) -> Result<Option<Vec<(String, u64)>>, ProjectionError> {
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
        let d = self
            .data
            .read()
            .map_err(|_| ApiError::unavailable("cache lock poisoned"))?;
        Ok(d.entries.get(id).cloned())
    }
}
