//! The domain file (`--domain FILE`, TOML): aggregates, commands with their fields and
//! the events they emit, how events change state, and what each view keeps.
//! Without one, a minimal domain is inferred from the diagram's labels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::naming;

/// Field types of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// UTF-8 text (`String`, SQL `TEXT`).
    String,
    /// 64-bit signed integer (`i64`, SQL `INTEGER`).
    Int,
}

/// A whole domain file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainFile {
    /// Crate name of the generated project (snake_case).
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub aggregates: Vec<AggregateDef>,
    #[serde(default)]
    pub commands: Vec<CommandDef>,
    #[serde(default)]
    pub events: Vec<EventDef>,
    /// What each view keeps, by view node id.
    #[serde(default)]
    pub views: BTreeMap<String, ViewDef>,
    /// Role overrides, node id → role name (as `fz sim` reads them).
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
    /// Architecture-model overrides: node id, lane id or "nA->nB" → component, lane kind or
    /// interaction (the same table as a sim profile's `[components]`).
    #[serde(default)]
    pub components: BTreeMap<String, String>,
}

/// An aggregate: an id field and the state folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateDef {
    pub name: String,
    /// Name of the id field in commands (e.g. `order_id`).
    pub id: String,
    /// State fields and their types.
    pub state: BTreeMap<String, FieldType>,
}

/// A command: its fields (besides the aggregate id), its rules and the event it emits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandDef {
    pub name: String,
    pub aggregate: String,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldType>,
    pub emits: String,
    /// `true`: the aggregate must not exist yet; `false` (default): it must exist.
    #[serde(default)]
    pub creates: bool,
    /// State field → values it must have (e.g. `status = ["placed"]`).
    #[serde(default)]
    pub when: BTreeMap<String, Vec<String>>,
    /// Int fields that must be > 0.
    #[serde(default)]
    pub positive: Vec<String>,
    /// Int fields that must be >= 0.
    #[serde(default)]
    pub non_negative: Vec<String>,
}

/// An event: its fields (taken from the command's fields of the same name) and how
/// it changes the aggregate's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDef {
    pub name: String,
    pub aggregate: String,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldType>,
    /// State string field → literal value.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Event fields copied into the state field of the same name.
    #[serde(default)]
    pub copy: Vec<String>,
    /// State int field += product of these event int fields.
    #[serde(default)]
    pub add: BTreeMap<String, Vec<String>>,
    /// State string field += " " + this event string field.
    #[serde(default)]
    pub append: BTreeMap<String, String>,
    /// State int fields incremented by one.
    #[serde(default)]
    pub count: Vec<String>,
}

/// What one view keeps (which keys apply depends on the view's kind).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewDef {
    /// Aggregate the view is built from (default: the first one).
    #[serde(default)]
    pub aggregate: Option<String>,
    /// Table: the state fields of each row.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Cache: the state field entries are keyed by.
    #[serde(default)]
    pub key: Option<String>,
    /// Cube: the state fields cells are grouped by.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Cache and cube: the int state fields summed.
    #[serde(default)]
    pub measures: Vec<String>,
    /// Search: the string state fields indexed as full text.
    #[serde(default)]
    pub text: Vec<String>,
}

/// A domain file that cannot be used; the message names the item and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("domain: {0}")]
pub struct DomainError(pub String);

fn bad(msg: impl Into<String>) -> DomainError {
    DomainError(msg.into())
}

impl DomainFile {
    /// Parses a domain file.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let d: DomainFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if d.overrides_only() {
            d.validate_service()?;
        } else {
            d.validate()?;
        }
        Ok(d)
    }

    /// No aggregates, commands or events: the file only names the service, views or
    /// overrides, and the domain is inferred from the labels (then validated).
    pub fn overrides_only(&self) -> bool {
        self.aggregates.is_empty() && self.commands.is_empty() && self.events.is_empty()
    }

    /// The aggregate named `name`.
    pub fn aggregate(&self, name: &str) -> Option<&AggregateDef> {
        self.aggregates.iter().find(|a| a.name == name)
    }

    /// The event named `name`.
    pub fn event(&self, name: &str) -> Option<&EventDef> {
        self.events.iter().find(|e| e.name == name)
    }

    /// Checks every name and every reference, so that nothing from the file reaches
    /// generated code except validated identifiers and escaped string literals.
    /// The crate name, when given, is a snake_case identifier.
    pub fn validate_service(&self) -> Result<(), DomainError> {
        if let Some(s) = &self.service {
            if !naming::is_snake_ident(s) {
                return Err(bad(format!("service {s:?} is not a snake_case name")));
            }
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(s) = &self.service {
            if !naming::is_snake_ident(s) {
                return Err(bad(format!("service {s:?} is not a snake_case name")));
            }
        }
        if self.aggregates.is_empty() {
            return Err(bad("no [[aggregates]]"));
        }
        let mut types = std::collections::BTreeSet::new();
        let pascal = |what: &str, s: &str| {
            if naming::is_pascal_ident(s) {
                Ok(())
            } else {
                Err(bad(format!("{what} {s:?} is not a PascalCase name (ASCII letters and digits, not a reserved name)")))
            }
        };
        let snake = |what: &str, s: &str| {
            if naming::is_snake_ident(s) {
                Ok(())
            } else {
                Err(bad(format!("{what} {s:?} is not a snake_case name (a-z, 0-9, _; not a keyword or reserved name)")))
            }
        };
        for a in &self.aggregates {
            pascal("aggregate", &a.name)?;
            let module = naming::words(&a.name)
                .map(|w| naming::snake(&w))
                .unwrap_or_default();
            if !naming::is_snake_ident(&module) {
                return Err(bad(format!(
                    "aggregate {}: its module name {module:?} is a keyword or reserved",
                    a.name
                )));
            }
            for suffix in ["State", "Event"] {
                types.insert(format!("{}{suffix}", a.name));
            }
            snake(&format!("aggregate {} id", a.name), &a.id)?;
            if !types.insert(a.name.clone()) {
                return Err(bad(format!("aggregate {} is defined twice", a.name)));
            }
            if a.state.is_empty() {
                return Err(bad(format!("aggregate {} has no state fields", a.name)));
            }
            for f in a.state.keys() {
                snake(&format!("aggregate {} state field", a.name), f)?;
            }
        }
        for e in &self.events {
            pascal("event", &e.name)?;
            if !types.insert(e.name.clone()) {
                return Err(bad(format!("name {} is used twice", e.name)));
            }
            let a = self.aggregate(&e.aggregate).ok_or_else(|| {
                bad(format!(
                    "event {}: unknown aggregate {:?}",
                    e.name, e.aggregate
                ))
            })?;
            for f in e.fields.keys() {
                snake(&format!("event {} field", e.name), f)?;
            }
            let state = |f: &str, ty: Option<FieldType>| -> Result<(), DomainError> {
                match a.state.get(f) {
                    None => Err(bad(format!(
                        "event {}: {f:?} is not a state field of {}",
                        e.name, a.name
                    ))),
                    Some(t) if ty.is_some_and(|ty| ty != *t) => Err(bad(format!(
                        "event {}: state field {f} has the wrong type",
                        e.name
                    ))),
                    Some(_) => Ok(()),
                }
            };
            let field = |f: &str, ty: FieldType| -> Result<(), DomainError> {
                match e.fields.get(f) {
                    Some(t) if *t == ty => Ok(()),
                    Some(_) => Err(bad(format!(
                        "event {}: field {f} has the wrong type",
                        e.name
                    ))),
                    None => Err(bad(format!(
                        "event {}: {f:?} is not one of its fields",
                        e.name
                    ))),
                }
            };
            for (f, v) in &e.set {
                state(f, Some(FieldType::String))?;
                if v.len() > 200 {
                    return Err(bad(format!("event {}: value of {f} is too long", e.name)));
                }
            }
            for f in &e.copy {
                let ty = *e.fields.get(f).ok_or_else(|| {
                    bad(format!(
                        "event {}: copy {f:?} is not one of its fields",
                        e.name
                    ))
                })?;
                state(f, Some(ty))?;
            }
            for (f, factors) in &e.add {
                state(f, Some(FieldType::Int))?;
                if factors.is_empty() {
                    return Err(bad(format!("event {}: add {f} names no fields", e.name)));
                }
                for x in factors {
                    field(x, FieldType::Int)?;
                }
            }
            for (f, x) in &e.append {
                state(f, Some(FieldType::String))?;
                field(x, FieldType::String)?;
            }
            for f in &e.count {
                state(f, Some(FieldType::Int))?;
            }
        }
        for c in &self.commands {
            pascal("command", &c.name)?;
            if !types.insert(c.name.clone()) {
                return Err(bad(format!("name {} is used twice", c.name)));
            }
            let a = self.aggregate(&c.aggregate).ok_or_else(|| {
                bad(format!(
                    "command {}: unknown aggregate {:?}",
                    c.name, c.aggregate
                ))
            })?;
            for f in c.fields.keys() {
                snake(&format!("command {} field", c.name), f)?;
                if *f == a.id {
                    return Err(bad(format!(
                        "command {}: {f} is the aggregate id; leave it out of fields",
                        c.name
                    )));
                }
            }
            let e = self.event(&c.emits).ok_or_else(|| {
                bad(format!(
                    "command {}: emits unknown event {:?}",
                    c.name, c.emits
                ))
            })?;
            if e.aggregate != c.aggregate {
                return Err(bad(format!(
                    "command {}: event {} belongs to another aggregate",
                    c.name, e.name
                )));
            }
            for (f, t) in &e.fields {
                if c.fields.get(f) != Some(t) {
                    return Err(bad(format!(
                        "command {}: event {} needs field {f} ({t:?}), which the command does not have",
                        c.name, e.name
                    )));
                }
            }
            for (f, values) in &c.when {
                if a.state.get(f) != Some(&FieldType::String) {
                    return Err(bad(format!(
                        "command {}: when {f:?} is not a string state field",
                        c.name
                    )));
                }
                if values.iter().any(|v| v.len() > 200) {
                    return Err(bad(format!(
                        "command {}: a value of when {f} is too long",
                        c.name
                    )));
                }
            }
            for f in c.positive.iter().chain(&c.non_negative) {
                if c.fields.get(f) != Some(&FieldType::Int) {
                    return Err(bad(format!(
                        "command {}: {f:?} is not an int field of the command",
                        c.name
                    )));
                }
            }
        }
        for a in &self.aggregates {
            if !self
                .commands
                .iter()
                .any(|c| c.aggregate == a.name && c.creates)
            {
                return Err(bad(format!(
                    "aggregate {}: no command creates it (set creates = true on one)",
                    a.name
                )));
            }
        }
        for (node, v) in &self.views {
            if let Some(a) = &v.aggregate {
                if self.aggregate(a).is_none() {
                    return Err(bad(format!("view {node}: unknown aggregate {a:?}")));
                }
            }
        }
        Ok(())
    }
}

/// The domain inferred from labels when no domain file is given: one aggregate per
/// entity named in the projector and view labels (`Order Summary …` → `Order`), each
/// with a create and an update command.
pub fn infer(labels: &[String]) -> (DomainFile, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    const GENERIC: &[&str] = &[
        "summary",
        "dashboard",
        "analytics",
        "search",
        "index",
        "table",
        "cache",
        "cube",
        "view",
        "projector",
        "projection",
        "elasticsearch",
        "read",
        "model",
        "query",
        "api",
        "materialized",
        "report",
        "list",
        "detail",
        "details",
        "stats",
        "statistics",
        "metrics",
        "store",
        "data",
        "full",
        "text",
    ];
    for l in labels {
        if let Some(w) = naming::words(l) {
            if let Some(first) = w.first() {
                if !GENERIC.contains(&first.as_str()) {
                    let name = naming::pascal(std::slice::from_ref(first));
                    if naming::is_pascal_ident(&name)
                        && naming::is_snake_ident(first)
                        && !names.contains(&name)
                    {
                        names.push(name);
                    }
                }
            }
        }
    }
    if names.is_empty() {
        names.push("Item".to_string());
    }
    let mut d = DomainFile::default();
    let mut notes = Vec::new();
    for n in &names {
        let id = format!("{}_id", n.to_ascii_lowercase());
        let state: BTreeMap<String, FieldType> = [
            ("name".to_string(), FieldType::String),
            ("status".to_string(), FieldType::String),
            ("updates".to_string(), FieldType::Int),
        ]
        .into_iter()
        .collect();
        d.aggregates.push(AggregateDef {
            name: n.clone(),
            id: id.clone(),
            state,
        });
        let fields: BTreeMap<String, FieldType> = [("name".to_string(), FieldType::String)]
            .into_iter()
            .collect();
        for (verb, past, creates, status) in [
            ("Create", "Created", true, "created"),
            ("Update", "Updated", false, "updated"),
        ] {
            d.commands.push(CommandDef {
                name: format!("{verb}{n}"),
                aggregate: n.clone(),
                fields: fields.clone(),
                emits: format!("{n}{past}"),
                creates,
                when: BTreeMap::new(),
                positive: Vec::new(),
                non_negative: Vec::new(),
            });
            d.events.push(EventDef {
                name: format!("{n}{past}"),
                aggregate: n.clone(),
                fields: fields.clone(),
                set: [("status".to_string(), status.to_string())]
                    .into_iter()
                    .collect(),
                copy: vec!["name".to_string()],
                add: BTreeMap::new(),
                append: BTreeMap::new(),
                count: if creates {
                    Vec::new()
                } else {
                    vec!["updates".to_string()]
                },
            });
        }
        notes.push(format!(
            "aggregate {n} (id {id}; state name, status, updates) with commands Create{n} and Update{n}"
        ));
    }
    (d, notes)
}
