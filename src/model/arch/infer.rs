//! Inference of components, lane kinds and interactions from labels, shapes, lanes and graph
//! position. Rules are tried in a fixed order; the first that matches wins and its reason is
//! kept. Everything here is a pure function of the diagram.

use crate::model::diagram::{Diagram, NodeIx, Shape};
use crate::model::roles::ViewKind;

use super::component::{
    BusEngine, Channel, Component, GatewayConcern, Interaction, LaneKind, StoreEngine, StoreUse,
};

/// Lower-cased text split in words (letters, digits, `/` kept), for rules on whole words.
pub(crate) struct Text {
    pub lower: String,
    pub words: Vec<String>,
}

impl Text {
    pub fn new(s: &str) -> Text {
        let lower = s.to_lowercase();
        let words = lower
            .split(|c: char| !(c.is_alphanumeric() || c == '/'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        Text { lower, words }
    }

    /// The first key contained in the text.
    pub fn has<'k>(&self, keys: &[&'k str]) -> Option<&'k str> {
        keys.iter().copied().find(|k| self.lower.contains(k))
    }

    /// The first key that is a whole word of the text.
    pub fn word<'k>(&self, keys: &[&'k str]) -> Option<&'k str> {
        keys.iter()
            .copied()
            .find(|k| self.words.iter().any(|w| w == k))
    }

    pub fn first(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or("")
    }

    pub fn last(&self) -> &str {
        self.words.last().map(String::as_str).unwrap_or("")
    }
}

const STORE_ENGINES: &[(&[&str], StoreEngine)] = &[
    (&["postgres", "pgsql", "psql"], StoreEngine::PostgreSql),
    (&["mysql", "mariadb", "aurora"], StoreEngine::MySql),
    (&["sqlite"], StoreEngine::Sqlite),
    (&["mongo"], StoreEngine::MongoDb),
    (&["redis", "valkey"], StoreEngine::Redis),
    (&["elasticsearch", "elastic"], StoreEngine::Elasticsearch),
    (&["opensearch"], StoreEngine::OpenSearch),
    (&["cassandra", "scylla"], StoreEngine::Cassandra),
    (&["dynamodb", "dynamo"], StoreEngine::DynamoDb),
    (
        &["s3 ", "(s3)", "s3)", "object storage", "blob storage"],
        StoreEngine::S3,
    ),
];

const BUS_ENGINES: &[(&[&str], BusEngine)] = &[
    (&["kafka", "redpanda"], BusEngine::Kafka),
    (&["nats", "jetstream"], BusEngine::Nats),
    (&["rabbit", "amqp"], BusEngine::RabbitMq),
    (&["pulsar"], BusEngine::Pulsar),
    (&["kinesis"], BusEngine::Kinesis),
    (&["sqs", "sns"], BusEngine::Sqs),
    (&["redis stream", "redis pub"], BusEngine::Redis),
];

/// Words that make a label name a store (as its head noun).
const STORE_NOUNS: &[&str] = &[
    "db",
    "database",
    "databases",
    "store",
    "storage",
    "table",
    "tables",
    "cache",
    "index",
    "cube",
    "repository",
    "collection",
    "bucket",
    "ledger",
    "view",
    "views",
    "model",
    "replica",
    "warehouse",
    "keyspace",
];

/// First words that make a label an action, not a store, even when it names one.
const ACTION_VERBS: &[&str] = &[
    "publish",
    "emit",
    "send",
    "produce",
    "dispatch",
    "deliver",
    "route",
    "validate",
    "check",
    "verify",
    "handle",
    "process",
    "query",
    "fetch",
    "read",
    "load",
    "get",
    "lookup",
    "map",
    "transform",
    "serve",
    "return",
    "notify",
    "push",
    "consume",
    "subscribe",
    "monitor",
    "measure",
    "invalidate",
    "search",
    "scan",
    "poll",
    "replay",
    "rebuild",
    "reserve",
    "apply",
    "update",
    "mark",
];

/// First words that make a label a write into a store.
const WRITE_VERBS: &[&str] = &[
    "persist", "append", "save", "store", "write", "commit", "insert", "upsert", "record",
];

fn engine_in(t: &Text) -> Option<(StoreEngine, &'static str)> {
    STORE_ENGINES
        .iter()
        .find_map(|(keys, e)| t.has(keys).map(|k| (*e, k)))
}

fn bus_engine_in(t: &Text) -> Option<(BusEngine, &'static str)> {
    BUS_ENGINES
        .iter()
        .find_map(|(keys, e)| t.has(keys).map(|k| (*e, k)))
}

fn view_kind_in(t: &Text) -> Option<(ViewKind, &'static str)> {
    if let Some(k) = t.has(&["search", "elastic", "opensearch", "full-text", "full text"]) {
        return Some((ViewKind::Search, k));
    }
    if let Some(k) = t.word(&["index"]) {
        return Some((ViewKind::Search, k));
    }
    if let Some(k) = t.has(&["cube", "analytic", "olap", "metric", "report"]) {
        return Some((ViewKind::Cube, k));
    }
    if let Some(k) = t.has(&["cache", "redis", "dashboard", "key-value", "key value"]) {
        return Some((ViewKind::Cache, k));
    }
    if let Some(k) = t.has(&["table", "summary", "sql", "postgres", "list"]) {
        return Some((ViewKind::Table, k));
    }
    None
}

/// Explicit use words of a store label: `(use, keyword)`; `None` when only position can tell.
fn store_use_in(t: &Text) -> Option<(StoreUse, &'static str)> {
    if let Some(k) = t.has(&[
        "event store",
        "event log",
        "eventstore",
        "event stream",
        "journal",
    ]) {
        return Some((StoreUse::Event, k));
    }
    if t.first() == "append" {
        if let Some(k) = t.word(&["event", "events"]) {
            return Some((StoreUse::Event, k));
        }
    }
    if let Some(k) = t.has(&["write store", "write db", "write database", "write model"]) {
        return Some((StoreUse::Write, k));
    }
    let read = t.has(&[
        "read model",
        "read store",
        "read db",
        "read database",
        "read replica",
        "replica",
        "replicated",
        "projection",
        "materialized",
        "materialised",
        "query store",
        "query db",
        "view",
    ]);
    if let Some(k) = read {
        let kind = view_kind_in(t).map(|x| x.0).unwrap_or(ViewKind::Other);
        let kind = if kind == ViewKind::Other {
            match engine_in(t).map(|x| x.0) {
                Some(StoreEngine::Redis) => ViewKind::Cache,
                Some(StoreEngine::Elasticsearch | StoreEngine::OpenSearch) => ViewKind::Search,
                Some(StoreEngine::PostgreSql | StoreEngine::MySql | StoreEngine::Sqlite) => {
                    ViewKind::Table
                }
                _ if t.word(&["view", "views"]).is_some() || t.has(&["read model"]).is_some() => {
                    ViewKind::Table
                }
                _ => ViewKind::Other,
            }
        } else {
            kind
        };
        return Some((StoreUse::Read(kind), k));
    }
    if let Some((kind, k)) = view_kind_in(t) {
        if kind != ViewKind::Table {
            return Some((StoreUse::Read(kind), k));
        }
    }
    if let Some(k) = t.has(&["document", "nosql", "mongo"]) {
        return Some((StoreUse::Document, k));
    }
    if WRITE_VERBS.contains(&t.first()) {
        return Some((StoreUse::Write, "a write verb"));
    }
    None
}

/// Words that make a label name an answer to a caller (an ACK, a result, a status code).
pub(crate) const RESPONSE_WORDS: &[&str] = &[
    "response", "reply", "ack", "result", "accepted", "200", "201", "202", "204", "400", "401",
    "403", "404", "409", "429", "500", "502", "503", "504",
];

/// The kind of read model a label names, if any.
pub(crate) fn view_kind_or_other(t: &Text) -> ViewKind {
    match view_kind_in(t) {
        Some((k, _)) => k,
        None if t.has(&["view", "read model"]).is_some() => ViewKind::Table,
        None => ViewKind::Other,
    }
}

/// Is this label a store? `Some(keyword)` when it is.
fn names_store(t: &Text) -> Option<&'static str> {
    const HEADS: &[&str] = &[
        "read model",
        "read store",
        "read db",
        "read database",
        "read replica",
        "read side db",
        "query store",
        "query db",
        "query database",
    ];
    if let Some(k) = HEADS.iter().copied().find(|h| t.lower.starts_with(h)) {
        return Some(k);
    }
    let first = t.first();
    if ACTION_VERBS.contains(&first) {
        return None;
    }
    let noun = STORE_NOUNS
        .iter()
        .copied()
        .find(|n| t.words.iter().any(|w| w == n));
    if WRITE_VERBS.contains(&first)
        && (noun.is_some()
            || engine_in(t).is_some()
            || matches!(
                first,
                "persist" | "append" | "save" | "commit" | "insert" | "upsert"
            ))
    {
        return Some("a write verb");
    }
    if WRITE_VERBS.contains(&first) {
        return None;
    }
    if let Some(k) = t.has(&["event store", "event log", "read model", "write model"]) {
        return Some(k);
    }
    if let Some((_, k)) = engine_in(t) {
        return Some(k);
    }
    STORE_NOUNS
        .iter()
        .copied()
        .find(|n| t.words.iter().any(|w| w == n))
}

/// The component a label names on its own, with the keyword that decided: `None` when the
/// label alone cannot tell. `lane` is the lane's label.
pub(crate) fn from_label(t: &Text, lane: &Text, shape: Shape) -> Option<(Component, String)> {
    let said = |k: &str| format!("label contains \"{k}\"");
    if shape == Shape::Diamond {
        if let Some(k) = t.has(&["idempot", "dedup", "duplicate"]) {
            return Some((Component::Idempotency, said(k)));
        }
        if let Some(k) = t.has(&["token", "jwt", "authenticat", "logged in", "credential"]) {
            return Some((Component::Gateway(GatewayConcern::Authenticate), said(k)));
        }
        if let Some(k) = t.has(&["authoriz", "permission", "allowed", "role"]) {
            return Some((Component::Gateway(GatewayConcern::Authorize), said(k)));
        }
        if let Some(k) = t.has(&["rate limit", "within limit", "quota", "throttl", "limit"]) {
            return Some((Component::Gateway(GatewayConcern::RateLimit), said(k)));
        }
        return Some((Component::Decision, "a diamond".to_string()));
    }
    if let Some(k) = t.has(&["dead letter", "dead-letter", "dlq", "poison", "parking lot"]) {
        return Some((Component::DeadLetter, said(k)));
    }
    if let Some(k) = t.has(&[
        "lag monitor",
        "monitor lag",
        "replication lag",
        "lag monitoring",
    ]) {
        return Some((Component::LagMonitor, said(k)));
    }
    if t.word(&["lag"]).is_some() && t.has(&["monitor", "measure", "track"]).is_some() {
        return Some((Component::LagMonitor, said("lag")));
    }
    if let Some(k) = t.has(&["consistency check", "reconcil", "checksum", "drift"]) {
        return Some((Component::ConsistencyCheck, said(k)));
    }
    let channels: &[(&[&str], Channel)] = &[
        (
            &["websocket", "web socket", "socket.io"],
            Channel::WebSocket,
        ),
        (&["webhook", "web hook", "callback url"], Channel::Webhook),
        (&["email", "e-mail", "smtp"], Channel::Email),
        (&["server-sent", "server sent", "eventsource"], Channel::Sse),
        (
            &[
                "push notification",
                "notify",
                "notification",
                "subscribe to",
                "subscription",
            ],
            Channel::Push,
        ),
    ];
    for (keys, ch) in channels {
        if let Some(k) = t.has(keys) {
            return Some((Component::Notification(*ch), said(k)));
        }
    }
    if let Some(k) = t.word(&["sse"]) {
        return Some((Component::Notification(Channel::Sse), said(k)));
    }
    if let Some(k) = t.word(&["sms"]) {
        return Some((Component::Notification(Channel::Email), said(k)));
    }
    if matches!(t.last(), "projector" | "projection") {
        return Some((
            Component::Projector,
            format!("label ends with \"{}\"", t.last()),
        ));
    }
    if let Some(k) = t.has(&[
        "project read model",
        "project view",
        "project to",
        "project event",
        "update read model",
        "update view",
        "update projection",
        "build read model",
        "build view",
        "rebuild",
        "materializ",
        "materialis",
        "denormaliz",
        "denormalis",
    ]) {
        return Some((Component::Projector, said(k)));
    }
    if matches!(
        t.first(),
        "sync" | "synchronize" | "synchronise" | "replicate" | "refresh" | "mirror"
    ) {
        return Some((
            Component::Sync,
            format!("label starts with \"{}\"", t.first()),
        ));
    }
    if let Some(k) = t.has(&[
        "sync consumer",
        "sync layer",
        "sync service",
        "sync worker",
        "synchroniz",
        "synchronis",
        "replicator",
        "change data capture",
        "cdc",
    ]) {
        return Some((Component::Sync, said(k)));
    }
    // Gateway concerns (before validation: "Validate JWT" authenticates).
    if let Some(k) = t.has(&[
        "authenticat",
        "jwt",
        "verify token",
        "validate token",
        "check token",
        "oauth",
        "login",
        "sign in",
        "identity",
        "bearer",
    ]) {
        return Some((Component::Gateway(GatewayConcern::Authenticate), said(k)));
    }
    if let Some(k) = t.has(&[
        "authoriz",
        "authoris",
        "permission",
        "rbac",
        "access control",
        "check role",
    ]) {
        return Some((Component::Gateway(GatewayConcern::Authorize), said(k)));
    }
    if let Some(k) = t.has(&[
        "rate limit",
        "rate-limit",
        "ratelimit",
        "throttl",
        "quota",
        "token bucket",
    ]) {
        return Some((Component::Gateway(GatewayConcern::RateLimit), said(k)));
    }
    if let Some(k) = t.has(&[
        "service discovery",
        "discover",
        "service registry",
        "registry",
        "consul",
        "eureka",
        "resolve service",
    ]) {
        return Some((Component::Gateway(GatewayConcern::Discovery), said(k)));
    }
    if let Some(k) = t.has(&["load balanc", "balancer"]) {
        return Some((Component::Gateway(GatewayConcern::LoadBalance), said(k)));
    }
    if t.has(&[
        "aggregat", "compose", "merge", "combine", "gather", "collect",
    ])
    .is_some()
    {
        if let Some(k) = t.has(&["response", "result", "replies", "parts", "data"]) {
            return Some((Component::Gateway(GatewayConcern::Aggregate), said(k)));
        }
    }
    if let Some(k) = t.has(&["scatter", "api gateway", "reverse proxy", "proxy"]) {
        return Some((Component::Gateway(GatewayConcern::Route), said(k)));
    }
    if let Some(k) = t.has(&["idempot", "dedup", "de-dup", "duplicate"]) {
        return Some((Component::Idempotency, said(k)));
    }
    if let Some(k) = t.has(&["dispatch command", "send command", "route command"]) {
        return Some((Component::CommandHandler, said(k)));
    }
    // Consumers and publishers before buses: "Kafka Consumer" consumes.
    if let Some(k) = t.word(&["route", "routing", "router", "routes"]) {
        let eventish = t
            .has(&["event", "message", "topic", "subscriber"])
            .or_else(|| {
                lane.has(&[
                    "bus", "broker", "kafka", "event", "stream", "messag", "nats", "rabbit",
                ])
            });
        return Some(match eventish {
            Some(e) => (
                Component::EventRoute,
                format!("label contains \"{k}\" and \"{e}\" (label or lane) names events"),
            ),
            None => (
                Component::Gateway(GatewayConcern::Route),
                format!("label contains \"{k}\" and nothing names events"),
            ),
        });
    }
    if let Some(k) = t.has(&["offset", "acknowledge event", "ack event", "replay"]) {
        return Some((Component::Consume, said(k)));
    }
    if let Some(k) = t.has(&[
        "consumer",
        "consume",
        "subscriber",
        "listener",
        "event handler",
        "handle event",
        "on event",
        "event processor",
    ]) {
        return Some((Component::Consume, said(k)));
    }
    if let Some(k) = t.has(&[
        "publish",
        "emit",
        "outbox",
        "produce",
        "raise event",
        "send event",
        "fire event",
    ]) {
        return Some((Component::Publish, said(k)));
    }
    if let Some(k) = t.has(&[
        "guarantee order",
        "ordering",
        "partition",
        "sequenc",
        "in order",
    ]) {
        return Some((Component::Ordering, said(k)));
    }
    if let Some(k) = t.has(&[
        "deliver",
        "dispatch",
        "fan-out",
        "fan out",
        "fanout",
        "broadcast",
    ]) {
        return Some((Component::Delivery, said(k)));
    }
    if let Some(k) = names_store(t) {
        let engine = engine_in(t).map(|x| x.0);
        if let Some((usage, u)) = store_use_in(t) {
            let why = if u == k {
                format!("label names a store (\"{k}\")")
            } else {
                format!(
                    "label names a store (\"{k}\") used as {} (\"{u}\")",
                    usage.as_str()
                )
            };
            return Some((Component::Store { usage, engine }, why));
        }
        // The use is decided by position (see `position`); mark it provisional.
        return Some((
            Component::Store {
                usage: StoreUse::Write,
                engine,
            },
            format!("label names a store (\"{k}\")"),
        ));
    }
    if let Some((e, k)) = bus_engine_in(t) {
        return Some((Component::Bus(Some(e)), said(k)));
    }
    if let Some(k) = t.has(&[
        "event bus",
        "message bus",
        "service bus",
        "broker",
        "event stream",
        "topic",
        "message queue",
        "event hub",
        "pub/sub",
        "pubsub",
        "event grid",
    ]) {
        return Some((Component::Bus(None), said(k)));
    }
    if let Some(k) = t.has(&[
        "query api",
        "query service",
        "query endpoint",
        "read api",
        "graphql",
        "get /",
    ]) {
        return Some((Component::QueryApi, said(k)));
    }
    if let Some(k) = t.has(&[
        "query handler",
        "handle query",
        "execute query",
        "fetch",
        "read from",
        "lookup",
        "look up",
        "query",
    ]) {
        return Some((Component::QueryHandler, said(k)));
    }
    if let Some(k) = t.has(&[
        "command api",
        "command endpoint",
        "command service",
        "post /",
        "put /",
        "patch /",
        "delete /",
    ]) {
        return Some((Component::Endpoint, said(k)));
    }
    if let Some(k) = t.has(&["command handler", "handle command", "process command"]) {
        return Some((Component::CommandHandler, said(k)));
    }
    if let Some(k) = t.has(&[
        "validat",
        "check invariant",
        "business rule",
        "verify",
        "sanitiz",
    ]) {
        return Some((Component::Validator, said(k)));
    }
    if let Some(k) = t.has(&["command"]) {
        return Some((Component::Command, said(k)));
    }
    if let Some(k) = t.has(&[
        "dto",
        "transform",
        "map to",
        "mapper",
        "serializ",
        "serialis",
        "format response",
        "view model",
    ]) {
        return Some((Component::Dto, said(k)));
    }
    if let Some(k) = t.has(&["aggregate", "domain model"]) {
        return Some((Component::Aggregate, said(k)));
    }
    if let Some(k) = t.has(&["intent"]) {
        return Some((Component::UserIntent, said(k)));
    }
    if let Some(k) = t.word(RESPONSE_WORDS).or_else(|| t.word(&["acknowledge"])) {
        return Some((Component::Response, said(k)));
    }
    if let Some(k) = t.word(&[
        "api",
        "endpoint",
        "controller",
        "http",
        "rest",
        "grpc",
        "service",
        "microservice",
        "backend",
        "server",
    ]) {
        return Some((Component::Endpoint, said(k)));
    }
    if let Some(k) = t.word(&[
        "ui",
        "form",
        "screen",
        "page",
        "browser",
        "frontend",
        "optimistic",
        "client",
        "user",
        "users",
        "app",
        "mobile",
        "spa",
    ]) {
        return Some((Component::Client, said(k)));
    }
    if let Some(k) = t.word(&["handler", "worker", "processor"]) {
        return Some((Component::Handler, said(k)));
    }
    None
}

/// A lane's kind from its label and id.
pub(crate) fn lane_kind(t: &Text) -> (LaneKind, String) {
    if let Some(k) = t.word(&[
        "client",
        "clients",
        "user",
        "users",
        "ui",
        "frontend",
        "browser",
        "customer",
        "customers",
        "app",
        "mobile",
        "web",
        "consumer",
        "consumers",
        "caller",
        "actor",
    ]) {
        return (LaneKind::Client, format!("lane label contains \"{k}\""));
    }
    if let Some(k) = t.has(&[
        "gateway",
        "bus",
        "broker",
        "kafka",
        "nats",
        "rabbit",
        "infra",
        "database",
        "storage",
        "store",
        "data layer",
        "persistence",
        "registry",
        "platform",
        "messaging",
        "event stream",
        "materialized views",
        "cache",
        "monitoring",
        "observability",
        "notification",
        "realtime",
        "websocket",
    ]) {
        return (
            LaneKind::Infrastructure,
            format!("lane label contains \"{k}\""),
        );
    }
    (
        LaneKind::Service,
        "lane label names no client or infrastructure".to_string(),
    )
}

/// Interaction from an edge label alone.
pub(crate) fn interaction_from_label(t: &Text) -> Option<(Interaction, &'static str)> {
    if let Some(k) = t.has(&["replicat", "refresh", "sync", "cdc", "mirror"]) {
        return Some((Interaction::Replicate, k));
    }
    if let Some(k) = t.word(&[
        "read",
        "reads",
        "query",
        "lookup",
        "fetch",
        "load",
        "get",
        "watch",
        "subscribe",
        "listen",
    ]) {
        return Some((Interaction::Read, k));
    }
    if let Some(k) = t.has(&[
        "response", "reply", "ack", "result", "return", "part ", "200", "201", "202", "401", "403",
        "409", "429", "confirm",
    ]) {
        return Some((Interaction::Reply, k));
    }
    if let Some(k) = t.has(&[
        "publish",
        "event",
        "fan-out",
        "fan out",
        "deliver",
        "emit",
        "notify",
        "push",
        "async",
        "subscribe",
        "broadcast",
        "message",
    ]) {
        return Some((Interaction::Message, k));
    }
    None
}

/// Outcome labels that mean a failure or rejection: a decision's default branch probability
/// gives them a small share.
pub(crate) fn is_failure_outcome(t: &Text) -> Option<&'static str> {
    const FAILURES: &[&str] = &[
        "no",
        "false",
        "invalid",
        "denied",
        "deny",
        "reject",
        "rejected",
        "fail",
        "failed",
        "failure",
        "error",
        "duplicate",
        "unauthorized",
        "unauthorised",
        "forbidden",
        "exceeded",
        "expired",
        "conflict",
        "timeout",
        "retry",
        "400",
        "401",
        "403",
        "404",
        "409",
        "422",
        "429",
        "500",
        "502",
        "503",
        "504",
        "miss",
    ];
    t.lower
        .split(|c: char| !c.is_alphanumeric())
        .find_map(|w| FAILURES.iter().copied().find(|f| *f == w))
}

/// The node's own text: label, and for taskboxes description and system too.
pub(crate) fn node_text(d: &Diagram, ix: NodeIx) -> Text {
    let n = d.node(ix);
    let mut s = n.display().to_string();
    if n.shape == Shape::Taskbox {
        for k in ["description", "system"] {
            if let Some(v) = n.attr(k) {
                s.push(' ');
                s.push_str(v);
            }
        }
    }
    Text::new(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(label: &str) -> Option<String> {
        from_label(&Text::new(label), &Text::new("Service"), Shape::Rectangle)
            .map(|(c, _)| c.name())
    }

    #[test]
    fn labels_of_the_six_designs() {
        let cases = [
            ("Update Read Model", "projector"),
            ("Project Read Model", "projector"),
            ("Event Handler", "consume"),
            ("Write Database (PostgreSQL)", "store:write:postgresql"),
            ("Sync Read Model", "sync"),
            ("Read Database (Redis)", "store:cache:redis"),
            ("Orders DB (PostgreSQL)", "store:write:postgresql"),
            ("Inventory DB (MongoDB)", "store:document:mongodb"),
            ("Event Bus (Kafka)", "bus:kafka"),
            ("Append to Event Store", "store:event"),
            ("Persist to Write Store", "store:write"),
            ("Emit Domain Event", "publish"),
            ("Authenticate JWT", "gateway:authenticate"),
            ("Validate JWT", "gateway:authenticate"),
            ("Rate Limit", "gateway:rate_limit"),
            ("Service Discovery", "gateway:discovery"),
            ("Aggregate Responses", "gateway:aggregate"),
            ("Validate Against Aggregate", "validator"),
            ("WebSocket Push", "notification:websocket"),
            ("Replication Lag Monitor", "lag_monitor"),
            ("Query Handler", "query_handler"),
            ("Query API", "query_api"),
            ("Transform to DTO", "dto"),
            ("Build Command DTO", "command"),
            ("Command API", "endpoint"),
            ("User Service", "endpoint"),
            ("Task Form", "client"),
            ("Elasticsearch Index", "store:search:elasticsearch"),
            ("Analytics Cube", "store:cube"),
            ("Customer Dashboard Cache", "store:cache"),
            ("Replicated Order View", "store:table"),
            ("Consistency Check", "consistency_check"),
            ("Rebuild Read Model", "projector"),
            ("Order Summary Projector", "projector"),
            ("Kafka Consumer", "consume"),
            ("Publish to Kafka", "publish"),
            ("Write Validator", "validator"),
            ("Route Event", "event_route"),
            ("Route Request", "gateway:route"),
            ("Dead Letter Queue", "dead_letter"),
        ];
        for (label, want) in cases {
            assert_eq!(c(label).as_deref(), Some(want), "{label}");
        }
        assert_eq!(c("Do the thing"), None);
    }

    #[test]
    fn diamonds_are_decisions_or_checks() {
        let d = |l: &str| {
            from_label(&Text::new(l), &Text::new("x"), Shape::Diamond).map(|(c, _)| c.name())
        };
        assert_eq!(d("Read or Write?").as_deref(), Some("decision"));
        assert_eq!(d("Token Valid?").as_deref(), Some("gateway:authenticate"));
        assert_eq!(d("Within Limit?").as_deref(), Some("gateway:rate_limit"));
        assert_eq!(d("Idempotency Check").as_deref(), Some("idempotency"));
    }
}
