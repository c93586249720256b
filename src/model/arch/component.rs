//! The vocabulary of the architecture model: what a node, a lane and an edge *is*.
//!
//! One vocabulary covers the six reference designs (the CQRS family, an API gateway, database
//! per service). Every kind has one name, used by `--explain`, the `[components]` override
//! table and JSON; [`FromStr`] reads the same names back.

use std::fmt;
use std::str::FromStr;

use crate::model::roles::ViewKind;

/// A storage engine a label can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreEngine {
    PostgreSql,
    MySql,
    Sqlite,
    MongoDb,
    Redis,
    Elasticsearch,
    OpenSearch,
    Cassandra,
    DynamoDb,
    S3,
}

/// A messaging engine a label can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BusEngine {
    Kafka,
    Nats,
    RabbitMq,
    Pulsar,
    Kinesis,
    Sqs,
    Redis,
}

/// What a data store is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreUse {
    /// The system of record of a command side (rows, aggregates).
    Write,
    /// An append-only event log that is the system of record.
    Event,
    /// A JSON document store owned by a service.
    Document,
    /// A read model: table, cache, cube, search index, or of no named kind.
    Read(ViewKind),
}

/// A gateway concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GatewayConcern {
    Authenticate,
    Authorize,
    RateLimit,
    Route,
    Discovery,
    LoadBalance,
    Aggregate,
}

/// A push channel to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    WebSocket,
    Webhook,
    Email,
    Sse,
    Push,
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// A client, user or UI step (a form, a screen, an optimistic update).
    Client,
    /// Where a user's intent enters (task-based UIs).
    UserIntent,
    /// An entry circle that is none of the above.
    Entry,
    /// An exit circle (a response, an outcome, "done").
    Exit,
    Gateway(GatewayConcern),
    /// A service's API endpoint (REST route, "Command API", "User Service").
    Endpoint,
    /// A generic handler step inside a service.
    Handler,
    /// A command: built from intent, or arriving.
    Command,
    CommandHandler,
    Validator,
    /// A domain aggregate deciding on a command.
    Aggregate,
    /// A duplicate check by command or request id.
    Idempotency,
    Store {
        usage: StoreUse,
        engine: Option<StoreEngine>,
    },
    /// An event bus, broker or topic.
    Bus(Option<BusEngine>),
    Publish,
    Consume,
    /// Routes events (by type, to topics, to subscribers).
    EventRoute,
    /// Partitions and orders events by key.
    Ordering,
    /// Delivers events to every subscriber (fan-out).
    Delivery,
    DeadLetter,
    /// Builds a read model from events.
    Projector,
    /// Replicates changes into a read store (a sync layer consumer).
    Sync,
    /// Watches replication or projection lag.
    LagMonitor,
    /// Compares a read model with its source and repairs drift.
    ConsistencyCheck,
    QueryApi,
    QueryHandler,
    /// Maps a result to a transfer object.
    Dto,
    /// A response to a caller (an acknowledgement, a result, a status code).
    Response,
    /// Pushes a result to a client.
    Notification(Channel),
    /// A diamond: one outgoing edge per outcome.
    Decision,
    /// A processing step of no recognised kind.
    Step,
}

/// A lane's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LaneKind {
    Client,
    Service,
    Infrastructure,
}

/// What an edge is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interaction {
    /// A step inside one service (in-process, synchronous).
    Flow,
    /// A request to another lane that expects a reply.
    Call,
    /// The reply to a call, back into the calling lane.
    Reply,
    /// An asynchronous message (publish, consume, deliver, push).
    Message,
    /// A read of a store by the node it points at (or from).
    Read,
    /// A write into a store.
    Write,
    /// A replication or refresh of a read store from a change stream.
    Replicate,
}

fn engine_name(e: StoreEngine) -> &'static str {
    match e {
        StoreEngine::PostgreSql => "postgresql",
        StoreEngine::MySql => "mysql",
        StoreEngine::Sqlite => "sqlite",
        StoreEngine::MongoDb => "mongodb",
        StoreEngine::Redis => "redis",
        StoreEngine::Elasticsearch => "elasticsearch",
        StoreEngine::OpenSearch => "opensearch",
        StoreEngine::Cassandra => "cassandra",
        StoreEngine::DynamoDb => "dynamodb",
        StoreEngine::S3 => "s3",
    }
}

impl StoreEngine {
    pub const ALL: [StoreEngine; 10] = [
        StoreEngine::PostgreSql,
        StoreEngine::MySql,
        StoreEngine::Sqlite,
        StoreEngine::MongoDb,
        StoreEngine::Redis,
        StoreEngine::Elasticsearch,
        StoreEngine::OpenSearch,
        StoreEngine::Cassandra,
        StoreEngine::DynamoDb,
        StoreEngine::S3,
    ];
    pub fn as_str(self) -> &'static str {
        engine_name(self)
    }
}

impl BusEngine {
    pub const ALL: [BusEngine; 7] = [
        BusEngine::Kafka,
        BusEngine::Nats,
        BusEngine::RabbitMq,
        BusEngine::Pulsar,
        BusEngine::Kinesis,
        BusEngine::Sqs,
        BusEngine::Redis,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            BusEngine::Kafka => "kafka",
            BusEngine::Nats => "nats",
            BusEngine::RabbitMq => "rabbitmq",
            BusEngine::Pulsar => "pulsar",
            BusEngine::Kinesis => "kinesis",
            BusEngine::Sqs => "sqs",
            BusEngine::Redis => "redis",
        }
    }
}

impl StoreUse {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreUse::Write => "write",
            StoreUse::Event => "event",
            StoreUse::Document => "document",
            StoreUse::Read(ViewKind::Table) => "table",
            StoreUse::Read(ViewKind::Cache) => "cache",
            StoreUse::Read(ViewKind::Cube) => "cube",
            StoreUse::Read(ViewKind::Search) => "search",
            StoreUse::Read(ViewKind::Other) => "read",
        }
    }
    const ALL: [StoreUse; 8] = [
        StoreUse::Write,
        StoreUse::Event,
        StoreUse::Document,
        StoreUse::Read(ViewKind::Table),
        StoreUse::Read(ViewKind::Cache),
        StoreUse::Read(ViewKind::Cube),
        StoreUse::Read(ViewKind::Search),
        StoreUse::Read(ViewKind::Other),
    ];
}

impl GatewayConcern {
    const ALL: [GatewayConcern; 7] = [
        GatewayConcern::Authenticate,
        GatewayConcern::Authorize,
        GatewayConcern::RateLimit,
        GatewayConcern::Route,
        GatewayConcern::Discovery,
        GatewayConcern::LoadBalance,
        GatewayConcern::Aggregate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayConcern::Authenticate => "authenticate",
            GatewayConcern::Authorize => "authorize",
            GatewayConcern::RateLimit => "rate_limit",
            GatewayConcern::Route => "route",
            GatewayConcern::Discovery => "discovery",
            GatewayConcern::LoadBalance => "load_balance",
            GatewayConcern::Aggregate => "aggregate",
        }
    }
}

impl Channel {
    const ALL: [Channel; 5] = [
        Channel::WebSocket,
        Channel::Webhook,
        Channel::Email,
        Channel::Sse,
        Channel::Push,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WebSocket => "websocket",
            Channel::Webhook => "webhook",
            Channel::Email => "email",
            Channel::Sse => "sse",
            Channel::Push => "push",
        }
    }
}

impl Component {
    /// Kinds without parameters, by name.
    const SIMPLE: &'static [(&'static str, Component)] = &[
        ("client", Component::Client),
        ("user_intent", Component::UserIntent),
        ("entry", Component::Entry),
        ("exit", Component::Exit),
        ("endpoint", Component::Endpoint),
        ("handler", Component::Handler),
        ("command", Component::Command),
        ("command_handler", Component::CommandHandler),
        ("validator", Component::Validator),
        ("aggregate", Component::Aggregate),
        ("idempotency", Component::Idempotency),
        ("publish", Component::Publish),
        ("consume", Component::Consume),
        ("event_route", Component::EventRoute),
        ("ordering", Component::Ordering),
        ("delivery", Component::Delivery),
        ("dead_letter", Component::DeadLetter),
        ("projector", Component::Projector),
        ("sync", Component::Sync),
        ("lag_monitor", Component::LagMonitor),
        ("consistency_check", Component::ConsistencyCheck),
        ("query_api", Component::QueryApi),
        ("query_handler", Component::QueryHandler),
        ("dto", Component::Dto),
        ("response", Component::Response),
        ("decision", Component::Decision),
        ("step", Component::Step),
    ];

    /// Every accepted name pattern, for error messages and docs.
    pub fn name_patterns() -> String {
        let mut v: Vec<String> = Self::SIMPLE.iter().map(|(n, _)| n.to_string()).collect();
        v.push(format!(
            "gateway:{{{}}}",
            GatewayConcern::ALL.map(|c| c.as_str()).join("|")
        ));
        v.push(format!(
            "store:{{{}}}[:ENGINE]",
            StoreUse::ALL.map(|c| c.as_str()).join("|")
        ));
        v.push(format!(
            "bus[:{{{}}}]",
            BusEngine::ALL.map(|c| c.as_str()).join("|")
        ));
        v.push(format!(
            "notification:{{{}}}",
            Channel::ALL.map(|c| c.as_str()).join("|")
        ));
        v.push(format!(
            "ENGINE = {}",
            StoreEngine::ALL.map(|c| c.as_str()).join("|")
        ));
        v.join(", ")
    }

    /// The component's name (`store:read:redis`, `gateway:rate_limit`, `projector`).
    pub fn name(self) -> String {
        match self {
            Component::Gateway(c) => format!("gateway:{}", c.as_str()),
            Component::Store { usage, engine } => match engine {
                Some(e) => format!("store:{}:{}", usage.as_str(), e.as_str()),
                None => format!("store:{}", usage.as_str()),
            },
            Component::Bus(Some(e)) => format!("bus:{}", e.as_str()),
            Component::Bus(None) => "bus".to_string(),
            Component::Notification(c) => format!("notification:{}", c.as_str()),
            other => Self::SIMPLE
                .iter()
                .find(|(_, c)| *c == other)
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| "step".to_string()),
        }
    }

    pub fn is_store(self) -> bool {
        matches!(self, Component::Store { .. })
    }

    /// A store that is the system of record of a command side (write or event store).
    pub fn is_write_store(self) -> bool {
        matches!(
            self,
            Component::Store {
                usage: StoreUse::Write | StoreUse::Event | StoreUse::Document,
                ..
            }
        )
    }

    /// A read model (a view).
    pub fn view_kind(self) -> Option<ViewKind> {
        match self {
            Component::Store {
                usage: StoreUse::Read(k),
                ..
            } => Some(k),
            _ => None,
        }
    }

    /// Components that read stores: an edge from a store into one of them is a read.
    pub fn is_reader(self) -> bool {
        matches!(
            self,
            Component::QueryApi
                | Component::QueryHandler
                | Component::ConsistencyCheck
                | Component::LagMonitor
                | Component::Dto
                | Component::Gateway(GatewayConcern::Discovery)
                | Component::Gateway(GatewayConcern::Route)
                | Component::Idempotency
                | Component::Aggregate
                | Component::Validator
        )
    }

    /// Components that build a read model from a change stream.
    pub fn is_projector(self) -> bool {
        matches!(self, Component::Projector | Component::Sync)
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A name that is not in the vocabulary; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown component `{0}`; valid components are {patterns}", patterns = Component::name_patterns())]
pub struct UnknownComponent(pub String);

fn norm(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('-', "_")
}

impl FromStr for Component {
    type Err = UnknownComponent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = norm(s);
        let bad = || UnknownComponent(s.to_string());
        let parts: Vec<&str> = n.split(':').collect();
        match parts.as_slice() {
            [one] => Self::SIMPLE
                .iter()
                .find(|(name, _)| name == one)
                .map(|(_, c)| *c)
                .or_else(|| (*one == "bus").then_some(Component::Bus(None)))
                .or_else(|| {
                    // The CQRS role names of `[roles]` tables keep working here.
                    (*one == "view").then_some(Component::Store {
                        usage: StoreUse::Read(ViewKind::Other),
                        engine: None,
                    })
                })
                .ok_or_else(bad),
            ["gateway", c] => GatewayConcern::ALL
                .into_iter()
                .find(|g| g.as_str() == *c)
                .map(Component::Gateway)
                .ok_or_else(bad),
            ["notification", c] => Channel::ALL
                .into_iter()
                .find(|g| g.as_str() == *c)
                .map(Component::Notification)
                .ok_or_else(bad),
            ["bus", e] => BusEngine::ALL
                .into_iter()
                .find(|g| g.as_str() == *e)
                .map(|e| Component::Bus(Some(e)))
                .ok_or_else(bad),
            ["store", u] | ["store", u, _] => {
                let usage = StoreUse::ALL
                    .into_iter()
                    .find(|x| x.as_str() == *u)
                    .ok_or_else(bad)?;
                let engine = match parts.get(2) {
                    Some(e) => Some(
                        StoreEngine::ALL
                            .into_iter()
                            .find(|x| x.as_str() == *e)
                            .ok_or_else(bad)?,
                    ),
                    None => None,
                };
                Ok(Component::Store { usage, engine })
            }
            ["view", k] => StoreUse::ALL
                .into_iter()
                .find(|x| matches!(x, StoreUse::Read(_)) && x.as_str() == *k)
                .map(|usage| Component::Store {
                    usage,
                    engine: None,
                })
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl LaneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LaneKind::Client => "client",
            LaneKind::Service => "service",
            LaneKind::Infrastructure => "infrastructure",
        }
    }
}

impl FromStr for LaneKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match norm(s).as_str() {
            "client" => Ok(LaneKind::Client),
            "service" => Ok(LaneKind::Service),
            "infrastructure" | "infra" => Ok(LaneKind::Infrastructure),
            _ => Err(format!(
                "unknown lane kind `{s}`; valid lane kinds are client, service, infrastructure"
            )),
        }
    }
}

impl Interaction {
    pub const ALL: [Interaction; 7] = [
        Interaction::Flow,
        Interaction::Call,
        Interaction::Reply,
        Interaction::Message,
        Interaction::Read,
        Interaction::Write,
        Interaction::Replicate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Interaction::Flow => "flow",
            Interaction::Call => "call",
            Interaction::Reply => "reply",
            Interaction::Message => "message",
            Interaction::Read => "read",
            Interaction::Write => "write",
            Interaction::Replicate => "replicate",
        }
    }
}

impl FromStr for Interaction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = norm(s);
        Interaction::ALL
            .into_iter()
            .find(|i| i.as_str() == n)
            .ok_or_else(|| {
                format!(
                    "unknown interaction `{s}`; valid interactions are {}",
                    Interaction::ALL.map(|i| i.as_str()).join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let mut all: Vec<Component> = Component::SIMPLE.iter().map(|(_, c)| *c).collect();
        all.extend(GatewayConcern::ALL.map(Component::Gateway));
        all.extend(Channel::ALL.map(Component::Notification));
        all.push(Component::Bus(None));
        all.extend(BusEngine::ALL.map(|e| Component::Bus(Some(e))));
        for usage in StoreUse::ALL {
            all.push(Component::Store {
                usage,
                engine: None,
            });
            for e in StoreEngine::ALL {
                all.push(Component::Store {
                    usage,
                    engine: Some(e),
                });
            }
        }
        for c in all {
            assert_eq!(c.name().parse::<Component>(), Ok(c), "{}", c.name());
        }
        assert_eq!(
            "view:cache".parse::<Component>().map(|c| c.view_kind()),
            Ok(Some(ViewKind::Cache))
        );
        let e = "store:read:oracle".parse::<Component>().unwrap_err();
        assert!(e.to_string().contains("store:{write|event|document"), "{e}");
        assert!("gatewayx".parse::<Component>().is_err());
    }
}
