//! Projector {{ p.node }} "{{ p.label }}" and the search index it builds,
//! {{ v.node }} "{{ v.label }}": full-text search over `{{ v.aggregate }}`s with tantivy.
//!
//! Documents are committed at most every 200 ms (a search engine's refresh
//! interval); the checkpoints travel in the commit's payload, so the index and
//! its checkpoints can never disagree.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, QueryParser, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, Value, STORED, STRING, TEXT};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use utoipa::ToSchema;

use super::{fold, PageRequest};
use crate::bus::{Delivered, ProjectionError, Projector};
use crate::domain::{{ v.aggregate_module }}::{ {{- v.aggregate }}State, EVENT_TYPES};
use crate::error::ApiError;

/// Projector name (checkpoints, metrics).
pub const PROJECTOR: &str = "{{ p.module }}";
/// View name in the query API.
pub const VIEW: &str = "{{ v.slug }}";
const FOLDER: &str = "{{ p.module }}";
/// Most states the projector keeps in memory (see `pending`).
const KNOWN_STATES: usize = 100_000;
pub const REFRESH: Duration = Duration::from_millis(200);

/// A document of view {{ v.node }} "{{ v.label }}".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct {{ v.entry_type }} {
    /// Id of the `{{ v.aggregate }}`.
    pub id: String,
    /// Version of the `{{ v.aggregate }}` this document reflects.
    pub version: u64,
    /// Relevance score (0 outside searches).
    pub score: f32,
{%- for f in v.fields %}
    pub {{ f.name }}: String,
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

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    version: Field,
    state: Field,
{%- for f in v.fields %}
    {{ f.name }}: Field,
{%- endfor %}
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        version: b.add_u64_field("version", STORED),
        state: b.add_text_field("state", STORED),
{%- for f in v.fields %}
        {{ f.name }}: b.add_text_field("{{ f.name }}", TEXT | STORED),
{%- endfor %}
    };
    (b.build(), f)
}

fn err(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::new(PROJECTOR, e)
}

fn open_index(dir: &Path) -> Result<(Index, Fields), ProjectionError> {
    let path = dir.join(FOLDER);
    std::fs::create_dir_all(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let (schema, fields) = schema();
    let directory = tantivy::directory::MmapDirectory::open(&path).map_err(err)?;
    let index = Index::open_or_create(directory, schema).map_err(err)?;
    Ok((index, fields))
}

/// Projector {{ p.node }} "{{ p.label }}".
pub struct {{ p.projector_type }} {
    index: Index,
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    /// States written to the index (committed or not; the reader sees only the
    /// committed), so an aggregate's next event needs no search for its prior state.
    /// Cleared past `KNOWN_STATES` entries; a state not here is read from the index.
    pending: HashMap<String, (u64, {{ v.aggregate }}State)>,
    pending_checkpoints: Option<Vec<u64>>,
    last_commit: Instant,
}

/// Read side of view {{ v.node }} "{{ v.label }}".
#[derive(Clone)]
pub struct {{ v.type_name }} {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

/// Opens the index under `dir`: its projector and its read side.
pub fn open(dir: &Path) -> Result<({{ p.projector_type }}, {{ v.type_name }}), ProjectionError> {
    let (index, fields) = open_index(dir)?;
    // The writer's indexing and merge threads inherit the priority of the thread
    // that starts them: background work, like the rest of the bus.
    let writer = std::thread::scope(|s| {
        s.spawn(|| {
            crate::bus::lower_priority();
            index.writer_with_num_threads(1, 32_000_000)
        })
        .join()
    })
    .map_err(|_| err("the index writer thread panicked"))?
    .map_err(err)?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(err)?;
    let read = {{ v.type_name }} {
        index: index.clone(),
        reader: reader.clone(),
        fields,
    };
    Ok((
        {{ p.projector_type }} {
            index,
            writer,
            reader,
            fields,
            pending: HashMap::new(),
            pending_checkpoints: None,
            last_commit: Instant::now(),
        },
        read,
    ))
}

fn stored_state(
    searcher: &tantivy::Searcher,
    f: &Fields,
    id: &str,
) -> Result<Option<(u64, {{ v.aggregate }}State)>, ProjectionError> {
    let q = TermQuery::new(Term::from_field_text(f.id, id), IndexRecordOption::Basic);
    let top = searcher
        .search(&q, &TopDocs::with_limit(1).order_by_score())
        .map_err(err)?;
    let Some((_, addr)) = top.first() else {
        return Ok(None);
    };
    let d: TantivyDocument = searcher.doc(*addr).map_err(err)?;
    let version = d.get_first(f.version).and_then(|v| v.as_u64()).unwrap_or(0);
    let state = d
        .get_first(f.state)
        .and_then(|v| v.as_str())
        .unwrap_or("{}");
    Ok(Some((version, serde_json::from_str(state).map_err(err)?)))
}

impl {{ p.projector_type }} {
    /// Commits pending documents; returns whether everything is now visible.
    fn commit(&mut self) -> Result<bool, ProjectionError> {
        let Some(cps) = self.pending_checkpoints.take() else {
            return Ok(true);
        };
        let payload = serde_json::to_string(&cps).map_err(err)?;
        let mut prepared = self.writer.prepare_commit().map_err(err)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(err)?;
        self.reader.reload().map_err(err)?;
        // The states stay known after the commit, so the next event of an aggregate
        // needs no search of the index for its prior state (bounded like the
        // command side's cache).
        if self.pending.len() > KNOWN_STATES {
            self.pending.clear();
        }
        self.last_commit = Instant::now();
        Ok(true)
    }
}

impl Projector for {{ p.projector_type }} {
    fn name(&self) -> &'static str {
        PROJECTOR
    }

    fn event_types(&self) -> &'static [&'static str] {
        EVENT_TYPES
    }

    fn checkpoints(&mut self, partitions: usize) -> Result<Vec<u64>, ProjectionError> {
        let metas = self.index.load_metas().map_err(err)?;
        let mut cps: Vec<u64> = match metas.payload {
            Some(p) => serde_json::from_str(&p).map_err(err)?,
            None => Vec::new(),
        };
        cps.resize(partitions, 0);
        Ok(cps)
    }

    fn apply(
        &mut self,
        events: &[Delivered],
        checkpoints: &[u64],
    ) -> Result<bool, ProjectionError> {
        let searcher = self.reader.searcher();
        let fields = self.fields;
        let pending = &self.pending;
        let changes = fold::<{{ v.aggregate }}State>(PROJECTOR, events, |id| match pending.get(id) {
            Some(s) => Ok(Some(s.clone())),
            None => stored_state(&searcher, &fields, id),
        })?;
        for c in changes {
            let (version, s) = &c.new;
            let f = &self.fields;
            // No prior state (neither known nor in the index) means no document to
            // replace: a delete would cost a lookup in every segment at the commit.
            if c.old.is_some() {
                self.writer.delete_term(Term::from_field_text(f.id, &c.id));
            }
            let state = serde_json::to_string(s).map_err(err)?;
            let mut doc = TantivyDocument::new();
            doc.add_text(f.id, &c.id);
            doc.add_u64(f.version, *version);
            doc.add_text(f.state, &state);
{%- for x in v.fields %}
            doc.add_text(f.{{ x.name }}, &s.{{ x.name }});
{%- endfor %}
            self.writer.add_document(doc).map_err(err)?;
            self.pending.insert(c.id, c.new);
        }
        self.pending_checkpoints = Some(checkpoints.to_vec());
        if self.last_commit.elapsed() >= REFRESH {
            return self.commit();
        }
        Ok(false)
    }

    fn flush(&mut self, _checkpoints: &[u64]) -> Result<bool, ProjectionError> {
        self.commit()
    }

    fn reset(&mut self) -> Result<(), ProjectionError> {
        self.writer.delete_all_documents().map_err(err)?;
        self.pending.clear();
        self.pending_checkpoints = Some(Vec::new());
        self.commit().map(|_| ())
    }
}

impl {{ v.type_name }} {
    fn to_doc(&self, d: &TantivyDocument, score: f32) -> {{ v.entry_type }} {
        let f = &self.fields;
        let text = |field: Field| {
            d.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        {{ v.entry_type }} {
            id: text(f.id),
            version: d.get_first(f.version).and_then(|v| v.as_u64()).unwrap_or(0),
            score,
{%- for x in v.fields %}
            {{ x.name }}: text(f.{{ x.name }}),
{%- endfor %}
        }
    }

    fn page(
        &self,
        query: &dyn tantivy::query::Query,
        page: PageRequest,
        scored: bool,
    ) -> Result<{{ v.page_type }}, ApiError> {
        let searcher = self.reader.searcher();
        let fail = |e: tantivy::TantivyError| ApiError::unavailable(format!("search failed: {e}"));
        let total = if scored {
            searcher
                .search(query, &tantivy::collector::Count)
                .map_err(fail)? as u64
        } else {
            searcher.num_docs()
        };
        let offset = usize::try_from(page.offset)
            .unwrap_or(usize::MAX)
            .min(total as usize);
        let limit = (page.limit as usize).max(1);
        let top = searcher
            .search(
                query,
                &TopDocs::with_limit(limit)
                    .and_offset(offset)
                    .order_by_score(),
            )
            .map_err(fail)?;
        let mut items = Vec::new();
        if page.limit > 0 {
            for (score, addr) in top {
                let d: TantivyDocument = searcher.doc(addr).map_err(fail)?;
                items.push(self.to_doc(&d, if scored { score } else { 0.0 }));
            }
        }
        Ok({{ v.page_type }} {
            items,
            offset: page.offset,
            limit: page.limit,
            total,
        })
    }

    /// A page of documents.
    pub fn list(&self, page: PageRequest) -> Result<{{ v.page_type }}, ApiError> {
        self.page(&AllQuery, page, false)
    }

    /// One document by id.
    pub fn get(&self, id: &str) -> Result<Option<{{ v.entry_type }}>, ApiError> {
        let q = TermQuery::new(
            Term::from_field_text(self.fields.id, id),
            IndexRecordOption::Basic,
        );
        Ok(self
            .page(
                &q,
                PageRequest {
                    offset: 0,
                    limit: 1,
                },
                false,
            )?
            .items
            .into_iter()
            .next())
    }

    /// Full-text search over {% for x in v.fields %}`{{ x.name }}`{% if !loop.last %}, {% endif %}{% endfor %}.
    pub fn search(&self, q: &str, page: PageRequest) -> Result<{{ v.page_type }}, ApiError> {
        if q.trim().is_empty() {
            return Err(ApiError::bad_field("q", "must not be empty"));
        }
        if q.len() > 1024 {
            return Err(ApiError::bad_field("q", "must be at most 1024 bytes"));
        }
        let f = &self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![{% for x in v.fields %}f.{{ x.name }}{% if !loop.last %}, {% endif %}{% endfor %}]);
        parser.set_conjunction_by_default();
        let (query, _errors) = parser.parse_query_lenient(q);
        self.page(query.as_ref(), page, true)
    }

    /// Makes the documents committed so far visible to queries.
    pub fn refresh(&self) -> Result<(), ApiError> {
        self.reader
            .reload()
            .map_err(|e| ApiError::unavailable(format!("search reload failed: {e}")))
    }
}
