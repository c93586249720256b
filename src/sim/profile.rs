//! The simulation profile (`NAME.sim.toml`): run settings, sources, stations, edges, loops,
//! reads and role overrides. Every value keeps its place in the file, so that errors found
//! later (an unknown node id, say) still point at the profile's line.

use std::collections::BTreeMap;
use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike};

use crate::model::roles::Role;
use crate::syntax::LineIndex;

use super::dist::{Dist, KeyDist, DIST_CHOICES, KEY_CHOICES};
use super::time::{parse_duration, Nanos};

/// An error in a profile, located in its file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ProfileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A profile value's place in the file.
pub type Span = Range<usize>;

/// Longest warmup used when neither the command line nor the profile gives one.
pub const MAX_DEFAULT_WARMUP: Nanos = 5_000_000_000;

/// The warmup used when neither the command line nor the profile gives one: 10% of the
/// duration, at most [`MAX_DEFAULT_WARMUP`] (so any duration above 0 has a valid default).
pub fn default_warmup(duration: Nanos) -> Nanos {
    (duration / 10).min(MAX_DEFAULT_WARMUP)
}

#[derive(Debug, Clone, Default)]
pub struct RunSection {
    pub duration: Option<Nanos>,
    pub warmup: Option<Nanos>,
    pub seed: Option<u64>,
    pub replications: Option<u32>,
    pub hop_limit: Option<u32>,
    /// How arrivals at a `rate` are spaced (`arrivals = "poisson"`, the default, or `"paced"`).
    pub arrivals: Option<Arrivals>,
}

/// The arrival process of a rate: Poisson (independent arrivals, the open world's users)
/// or paced (the k-th arrival at k / rate, a load generator's open loop: the generated
/// loadgen, wrk2, k6's constant arrival rate). A commit of 0.5 ms that rests 1 ms after
/// each batch delays no command when commands come every 2 ms, and about half of them when
/// they come at random with the same mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    Poisson,
    Paced,
}

/// `[host]`: the machine the stations run on. With `cores = C`, every station that serves
/// on the host (all but those with `host = false`) shares C cores: while n tokens are in
/// service across them, each is served at `min(1, C / n)` of its own speed (processor
/// sharing), so a station's service time is its time alone on a core.
///
/// `client = DIST`: CPU that the clients offering the load spend on the same cores, per
/// request they send (each command and each query): a load generator on the machine it
/// measures takes its share of the cores the service runs on. `client_wakeup = DIST`: CPU
/// added to a request whose client finds no other client work on the cores (its threads
/// were asleep and wake for it): requests sent together, as a closed loop's users answered
/// by one group commit are, share one wake-up.
///
/// `client_threads = N`: the clients' sends run on N threads (a load generator's runtime
/// workers): at most N of them compute on the cores at once, the others wait their turn
/// (first come, first served), rather than each taking a share of the cores of its own.
///
/// `transport = DIST`: time each request spends between its client and the service that
/// is neither one's CPU (the loopback, the two sides' wake-ups, their waits for a core): a
/// delay, off the cores, before the request enters. Needs no cores.
#[derive(Debug, Clone, Default)]
pub struct HostSection {
    pub cores: Option<f64>,
    pub client: Option<Dist>,
    pub client_wakeup: Option<Dist>,
    pub client_threads: Option<u32>,
    pub transport: Option<Dist>,
    /// Where `client` was given (a client needs cores: checked once the profile is whole).
    pub client_span: Option<Span>,
}

#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub service: Option<Dist>,
    pub servers: Option<u32>,
    pub queue: Option<u32>,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct SourceProfile {
    pub node: String,
    pub span: Span,
    pub rate: Option<f64>,
    pub interarrival: Option<Dist>,
    pub key: Option<KeyDist>,
    /// Closed loop: this many users, each waiting for its reply before thinking again.
    pub users: Option<u32>,
    pub think: Option<Dist>,
}

#[derive(Debug, Clone)]
pub struct NodeProfile {
    pub node: String,
    pub span: Span,
    pub service: Option<Dist>,
    pub servers: Option<u32>,
    pub queue: Option<u32>,
    /// Diamond branch probabilities by target node id.
    pub branch: Option<Vec<(String, f64, Span)>>,
    /// A join sends on what arrived this long after the first part.
    pub join_timeout: Option<Dist>,
    /// A batch station: each server takes up to this many waiting tokens at once.
    pub batch: Option<u32>,
    /// Added to a batch's service time per token in it (batch stations only).
    pub per_item: Option<Dist>,
    /// Added to a batch's service time per distinct key among its tokens (batch stations
    /// only): a projector that writes each aggregate of a batch once.
    pub per_key: Option<Dist>,
    /// A batch server's rest after each batch (batch stations only).
    pub interval: Option<Dist>,
    /// Serves on the `[host]`'s shared cores (default true); false for work that waits
    /// rather than computes (an fsync, a remote call).
    pub host: Option<bool>,
    /// Its threads' nice value (-20..19, default 0): its share of the host's cores against
    /// other work, as Linux's scheduler weighs it (1.25^-nice).
    pub nice: Option<i32>,
    /// A store's service time for a read (a query's visit); writes take `service`.
    pub read: Option<Dist>,
    /// The time its thread spends waking for work: added to every start from idle (a token
    /// that finds a server free, a batch after a rest), not to a token taken straight from
    /// the queue; on the `[host]`'s cores even for a station with `host = false`.
    pub wakeup: Option<Dist>,
}

#[derive(Debug, Clone)]
pub struct EdgeProfile {
    pub from: String,
    pub to: String,
    pub span: Span,
    pub delay: Dist,
}

#[derive(Debug, Clone)]
pub struct LoopProfile {
    /// 1-based, in the order the diagram declares its loops.
    pub index: usize,
    pub span: Span,
    pub repeat: f64,
    pub max: u16,
}

#[derive(Debug, Clone, Default)]
pub struct ReadsProfile {
    pub rate: f64,
    /// View node ids the reads choose among (default: every view feeding the query API).
    pub views: Option<Vec<(String, Span)>>,
    pub span: Span,
}

/// A parsed profile.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub file: String,
    text: String,
    pub run: RunSection,
    pub host: HostSection,
    pub defaults: Defaults,
    pub sources: Vec<SourceProfile>,
    pub nodes: Vec<NodeProfile>,
    pub edges: Vec<EdgeProfile>,
    pub loops: Vec<LoopProfile>,
    pub reads: Option<ReadsProfile>,
    pub roles: Vec<(String, Role, Span)>,
    /// `[components]` entries: key (node id, lane id or "nA->nB"), value, span of the entry.
    pub components: Vec<(String, String, Span)>,
}

const TOP: &[&str] = &[
    "run",
    "host",
    "defaults",
    "source",
    "node",
    "edge",
    "loop",
    "reads",
    "roles",
    "components",
];
const RUN_KEYS: &[&str] = &[
    "duration",
    "warmup",
    "seed",
    "replications",
    "hop_limit",
    "arrivals",
];
const HOST_KEYS: &[&str] = &[
    "cores",
    "client",
    "client_wakeup",
    "client_threads",
    "transport",
];
const DEFAULT_KEYS: &[&str] = &["service", "servers", "queue", "rate"];
const SOURCE_KEYS: &[&str] = &["rate", "interarrival", "key", "users", "think"];
const NODE_KEYS: &[&str] = &[
    "service",
    "servers",
    "queue",
    "branch",
    "join_timeout",
    "batch",
    "per_item",
    "per_key",
    "interval",
    "host",
    "nice",
    "read",
    "wakeup",
];
const EDGE_KEYS: &[&str] = &["delay"];
const LOOP_KEYS: &[&str] = &["repeat", "max"];
const READ_KEYS: &[&str] = &["rate", "views"];

fn choices(list: &[&str]) -> String {
    list.join(", ")
}

struct Cx<'a> {
    file: &'a str,
    text: &'a str,
    index: LineIndex,
}

impl Cx<'_> {
    fn err(&self, span: &Span, message: impl Into<String>) -> ProfileError {
        let lc = self.index.line_col(self.text, span.start);
        ProfileError {
            file: self.file.to_string(),
            line: lc.line,
            column: lc.column,
            message: message.into(),
        }
    }
}

fn item_span(key: Option<&toml_edit::Key>, item: &Item) -> Span {
    item.span()
        .or_else(|| key.and_then(|k| k.span()))
        .unwrap_or(0..0)
}

fn key_span(key: &toml_edit::Key, item: &Item) -> Span {
    key.span().or_else(|| item.span()).unwrap_or(0..0)
}

/// `(key, key span, item, value span)` of a table's entries, in file order.
fn entries(t: &dyn TableLike) -> Vec<(&str, Span, &Item, Span)> {
    t.iter()
        .filter_map(|(k, _)| t.get_key_value(k))
        .map(|(k, item)| (k.get(), key_span(k, item), item, item_span(Some(k), item)))
        .collect()
}

impl Profile {
    /// Parse a profile's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Profile, ProfileError> {
        let cx = Cx {
            file,
            text,
            index: LineIndex::new(text),
        };
        let doc = ImDocument::parse(text.to_string()).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            cx.err(&span, format!("invalid TOML: {}", e.message()))
        })?;
        let mut p = Profile {
            file: file.to_string(),
            text: text.to_string(),
            ..Profile::default()
        };
        for (key, kspan, item, _) in entries(doc.as_table()) {
            let table = item.as_table_like().ok_or_else(|| {
                cx.err(
                    &kspan,
                    format!("`{key}` must be a table; valid tables: {}", choices(TOP)),
                )
            })?;
            match key {
                "run" => p.run = parse_run(&cx, table)?,
                "host" => p.host = parse_host(&cx, table)?,
                "defaults" => p.defaults = parse_defaults(&cx, table)?,
                "source" => {
                    for (node, span, item, _) in entries(table) {
                        let t = sub_table(&cx, "source", node, &span, item)?;
                        p.sources.push(parse_source(&cx, node, span, t)?);
                    }
                }
                "node" => {
                    for (node, span, item, _) in entries(table) {
                        let t = sub_table(&cx, "node", node, &span, item)?;
                        p.nodes.push(parse_node(&cx, node, span, t)?);
                    }
                }
                "edge" => {
                    for (name, span, item, _) in entries(table) {
                        let t = sub_table(&cx, "edge", name, &span, item)?;
                        p.edges.push(parse_edge(&cx, name, span, t)?);
                    }
                }
                "loop" => {
                    for (name, span, item, _) in entries(table) {
                        let t = sub_table(&cx, "loop", name, &span, item)?;
                        p.loops.push(parse_loop(&cx, name, span, t)?);
                    }
                }
                "reads" => p.reads = Some(parse_reads(&cx, kspan, table)?),
                "roles" => {
                    for (node, span, item, vspan) in entries(table) {
                        let s = str_value(&cx, "roles", node, item, &vspan)?;
                        let role: Role =
                            s.parse().map_err(|e: crate::model::roles::UnknownRole| {
                                cx.err(&vspan, format!("[roles] {node}: {e}"))
                            })?;
                        p.roles.push((node.to_string(), role, span));
                    }
                }
                "components" => {
                    for (key, span, item, vspan) in entries(table) {
                        let v = str_value(&cx, "components", key, item, &vspan)?;
                        p.components.push((key.to_string(), v.to_string(), vspan));
                        let _ = span;
                    }
                }
                other => {
                    return Err(cx.err(
                        &kspan,
                        format!("unknown table `[{other}]`; valid tables: {}", choices(TOP)),
                    ))
                }
            }
        }
        Ok(p)
    }

    /// An error at `span` of this profile.
    pub fn error_at(&self, span: &Span, message: impl Into<String>) -> ProfileError {
        let cx = Cx {
            file: &self.file,
            text: &self.text,
            index: LineIndex::new(&self.text),
        };
        cx.err(span, message)
    }

    /// Role overrides for [`Roles::detect`](crate::model::roles::Roles::detect).
    pub fn role_overrides(&self) -> BTreeMap<String, Role> {
        self.roles.iter().map(|(n, r, _)| (n.clone(), *r)).collect()
    }
}

fn sub_table<'t>(
    cx: &Cx<'_>,
    section: &str,
    name: &str,
    span: &Span,
    item: &'t Item,
) -> Result<&'t dyn TableLike, ProfileError> {
    item.as_table_like().ok_or_else(|| {
        cx.err(
            span,
            format!("[{section}.{name}] must be a table, e.g. [{section}.{name}] ..."),
        )
    })
}

fn unknown(cx: &Cx<'_>, section: &str, key: &str, span: &Span, valid: &[&str]) -> ProfileError {
    cx.err(
        span,
        format!(
            "unknown key `{key}` in [{section}]; valid keys: {}",
            choices(valid)
        ),
    )
}

fn str_value<'i>(
    cx: &Cx<'_>,
    section: &str,
    key: &str,
    item: &'i Item,
    span: &Span,
) -> Result<&'i str, ProfileError> {
    item.as_str().ok_or_else(|| {
        cx.err(
            span,
            format!(
                "[{section}] {key} must be a string, found {}",
                item.type_name()
            ),
        )
    })
}

fn number(
    cx: &Cx<'_>,
    section: &str,
    key: &str,
    item: &Item,
    span: &Span,
) -> Result<f64, ProfileError> {
    let v = item
        .as_float()
        .or_else(|| item.as_integer().map(|i| i as f64))
        .ok_or_else(|| {
            cx.err(
                span,
                format!(
                    "[{section}] {key} must be a number, found {}",
                    item.type_name()
                ),
            )
        })?;
    if !v.is_finite() || v < 0.0 {
        return Err(cx.err(
            span,
            format!("[{section}] {key} must be a non-negative number"),
        ));
    }
    Ok(v)
}

fn integer(
    cx: &Cx<'_>,
    section: &str,
    key: &str,
    item: &Item,
    span: &Span,
    min: i64,
    max: i64,
) -> Result<i64, ProfileError> {
    match item.as_integer() {
        Some(i) if (min..=max).contains(&i) => Ok(i),
        Some(i) => Err(cx.err(
            span,
            format!("[{section}] {key} = {i} is out of range {min}..={max}"),
        )),
        None => Err(cx.err(
            span,
            format!(
                "[{section}] {key} must be an integer, found {}",
                item.type_name()
            ),
        )),
    }
}

fn duration(
    cx: &Cx<'_>,
    section: &str,
    key: &str,
    item: &Item,
    span: &Span,
) -> Result<Nanos, ProfileError> {
    if let Some(s) = item.as_str() {
        return parse_duration(s).ok_or_else(|| {
            cx.err(span, format!("[{section}] {key} = \"{s}\" is not a duration; write a number with ns, us, ms or s, e.g. \"60s\""))
        });
    }
    let secs = number(cx, section, key, item, span)?;
    Ok((secs * 1e9).round() as Nanos)
}

fn dist(
    cx: &Cx<'_>,
    section: &str,
    key: &str,
    item: &Item,
    span: &Span,
) -> Result<Dist, ProfileError> {
    let s = item.as_str().ok_or_else(|| {
        cx.err(
            span,
            format!(
                "[{section}] {key} must be a string such as \"exp(1ms)\"; valid: {DIST_CHOICES}"
            ),
        )
    })?;
    Dist::parse(s).map_err(|e| cx.err(span, format!("[{section}] {key}: {e}")))
}

fn parse_run(cx: &Cx<'_>, t: &dyn TableLike) -> Result<RunSection, ProfileError> {
    let mut r = RunSection::default();
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "duration" => r.duration = Some(duration(cx, "run", key, item, &vs)?),
            "warmup" => r.warmup = Some(duration(cx, "run", key, item, &vs)?),
            "seed" => r.seed = Some(integer(cx, "run", key, item, &vs, 0, i64::MAX)? as u64),
            "replications" => {
                r.replications = Some(integer(cx, "run", key, item, &vs, 1, 10_000)? as u32)
            }
            "hop_limit" => {
                r.hop_limit = Some(integer(cx, "run", key, item, &vs, 1, u32::MAX as i64)? as u32)
            }
            "arrivals" => {
                r.arrivals = Some(match str_value(cx, "run", key, item, &vs)? {
                    "poisson" => Arrivals::Poisson,
                    "paced" => Arrivals::Paced,
                    other => {
                        return Err(cx.err(
                            &vs,
                            format!(
                                "[run] arrivals must be \"poisson\" or \"paced\", not {other:?}"
                            ),
                        ))
                    }
                })
            }
            _ => return Err(unknown(cx, "run", key, &kspan, RUN_KEYS)),
        }
    }
    Ok(r)
}

fn parse_host(cx: &Cx<'_>, t: &dyn TableLike) -> Result<HostSection, ProfileError> {
    let mut h = HostSection::default();
    let mut client_at = None;
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "cores" => {
                let c = number(cx, "host", key, item, &vs)?;
                if !(c > 0.0 && c <= 1e6) {
                    return Err(cx.err(
                        &vs,
                        format!("[host] cores = {c}: the host needs more than 0 cores (at most 1000000); leave [host] out for stations that do not share cores"),
                    ));
                }
                h.cores = Some(c);
            }
            "client" => {
                h.client = Some(dist(cx, "host", key, item, &vs)?);
                client_at = Some(vs.clone());
            }
            "client_wakeup" => {
                h.client_wakeup = Some(dist(cx, "host", key, item, &vs)?);
                client_at = client_at.or(Some(vs.clone()));
            }
            "transport" => h.transport = Some(dist(cx, "host", key, item, &vs)?),
            "client_threads" => {
                let n = number(cx, "host", key, item, &vs)?;
                if !((1.0..=1e6).contains(&n) && n.fract() == 0.0) {
                    return Err(cx.err(
                        &vs,
                        format!("[host] client_threads = {n}: the clients send on a whole number of threads, at least 1 (at most 1000000)"),
                    ));
                }
                h.client_threads = Some(n as u32);
            }
            _ => return Err(unknown(cx, "host", key, &kspan, HOST_KEYS)),
        }
    }
    h.client_span = client_at;
    Ok(h)
}

fn parse_defaults(cx: &Cx<'_>, t: &dyn TableLike) -> Result<Defaults, ProfileError> {
    let mut d = Defaults::default();
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "service" => d.service = Some(dist(cx, "defaults", key, item, &vs)?),
            "servers" => {
                d.servers = Some(integer(cx, "defaults", key, item, &vs, 1, 1_000_000)? as u32)
            }
            "queue" => {
                d.queue = Some(integer(cx, "defaults", key, item, &vs, 0, u32::MAX as i64)? as u32)
            }
            "rate" => d.rate = Some(number(cx, "defaults", key, item, &vs)?),
            _ => return Err(unknown(cx, "defaults", key, &kspan, DEFAULT_KEYS)),
        }
    }
    Ok(d)
}

fn parse_source(
    cx: &Cx<'_>,
    node: &str,
    span: Span,
    t: &dyn TableLike,
) -> Result<SourceProfile, ProfileError> {
    let sec = format!("source.{node}");
    let mut s = SourceProfile {
        node: node.to_string(),
        span,
        rate: None,
        interarrival: None,
        key: None,
        users: None,
        think: None,
    };
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "rate" => s.rate = Some(number(cx, &sec, key, item, &vs)?),
            "interarrival" => s.interarrival = Some(dist(cx, &sec, key, item, &vs)?),
            "users" => s.users = Some(integer(cx, &sec, key, item, &vs, 1, 10_000_000)? as u32),
            "think" => s.think = Some(dist(cx, &sec, key, item, &vs)?),
            "key" => {
                let v = str_value(cx, &sec, key, item, &vs)?;
                s.key =
                    Some(KeyDist::parse(v).map_err(|e| cx.err(&vs, format!("[{sec}] key: {e}")))?);
            }
            _ => return Err(unknown(cx, &sec, key, &kspan, SOURCE_KEYS)),
        }
    }
    if s.rate.is_some() && s.interarrival.is_some() {
        return Err(cx.err(
            &s.span,
            format!("[{sec}] gives both rate and interarrival; give one"),
        ));
    }
    if s.users.is_some() && (s.rate.is_some() || s.interarrival.is_some()) {
        return Err(cx.err(
            &s.span,
            format!(
                "[{sec}] gives users (a closed loop) and an arrival rate (an open one); give one"
            ),
        ));
    }
    if s.think.is_some() && s.users.is_none() {
        return Err(cx.err(
            &s.span,
            format!("[{sec}] gives think without users; think is the time each of `users` waits between a reply and its next request"),
        ));
    }
    Ok(s)
}

fn parse_node(
    cx: &Cx<'_>,
    node: &str,
    span: Span,
    t: &dyn TableLike,
) -> Result<NodeProfile, ProfileError> {
    let sec = format!("node.{node}");
    let mut n = NodeProfile {
        node: node.to_string(),
        span,
        service: None,
        servers: None,
        queue: None,
        branch: None,
        join_timeout: None,
        batch: None,
        per_item: None,
        per_key: None,
        interval: None,
        host: None,
        nice: None,
        read: None,
        wakeup: None,
    };
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "service" => n.service = Some(dist(cx, &sec, key, item, &vs)?),
            "host" => {
                n.host = Some(item.as_bool().ok_or_else(|| {
                    cx.err(
                        &vs,
                        format!(
                            "[{sec}] host must be true or false, found {}",
                            item.type_name()
                        ),
                    )
                })?)
            }
            "join_timeout" => n.join_timeout = Some(dist(cx, &sec, key, item, &vs)?),
            "nice" => n.nice = Some(integer(cx, &sec, key, item, &vs, -20, 19)? as i32),
            "batch" => n.batch = Some(integer(cx, &sec, key, item, &vs, 1, 1_000_000_000)? as u32),
            "per_item" => n.per_item = Some(dist(cx, &sec, key, item, &vs)?),
            "per_key" => n.per_key = Some(dist(cx, &sec, key, item, &vs)?),
            "read" => n.read = Some(dist(cx, &sec, key, item, &vs)?),
            "wakeup" => n.wakeup = Some(dist(cx, &sec, key, item, &vs)?),
            "interval" => n.interval = Some(dist(cx, &sec, key, item, &vs)?),
            "servers" => n.servers = Some(integer(cx, &sec, key, item, &vs, 1, 1_000_000)? as u32),
            "queue" => {
                n.queue = Some(integer(cx, &sec, key, item, &vs, 0, u32::MAX as i64)? as u32)
            }
            "branch" => {
                let bt = item.as_table_like().ok_or_else(|| {
                    cx.err(&vs, format!("[{sec}] branch must be a table of target node ids to probabilities, e.g. {{ n4 = 0.8, n5 = 0.2 }}"))
                })?;
                let mut v = Vec::new();
                for (to, tspan, pitem, pspan) in entries(bt) {
                    let p = number(cx, &format!("{sec}.branch"), to, pitem, &pspan)?;
                    if p > 1.0 {
                        return Err(cx.err(
                            &pspan,
                            format!("[{sec}] branch {to} = {p}: a probability is at most 1"),
                        ));
                    }
                    v.push((to.to_string(), p, tspan));
                }
                let total: f64 = v.iter().map(|(_, p, _)| p).sum();
                if total > 1.0 + 1e-9 {
                    return Err(cx.err(
                        &vs,
                        format!("[{sec}] branch probabilities sum to {total}, more than 1"),
                    ));
                }
                n.branch = Some(v);
            }
            _ => return Err(unknown(cx, &sec, key, &kspan, NODE_KEYS)),
        }
    }
    if n.per_item.is_some() && n.batch.is_none() {
        return Err(cx.err(
            &n.span,
            format!("[{sec}] gives per_item without batch; per_item is the time each token adds to a batch's service (set batch = B, the most tokens served at once)"),
        ));
    }
    if n.per_key.is_some() && n.batch.is_none() {
        return Err(cx.err(
            &n.span,
            format!("[{sec}] gives per_key without batch; per_key is the time each distinct key adds to a batch's service (set batch = B, the most tokens served at once)"),
        ));
    }
    if n.interval.is_some() && n.batch.is_none() {
        return Err(cx.err(
            &n.span,
            format!("[{sec}] gives interval without batch; interval is a batch server's rest after each batch (set batch = B, the most tokens served at once)"),
        ));
    }
    Ok(n)
}

fn parse_edge(
    cx: &Cx<'_>,
    name: &str,
    span: Span,
    t: &dyn TableLike,
) -> Result<EdgeProfile, ProfileError> {
    let sec = format!("edge.\"{name}\"");
    let (from, to) = name.split_once("->").ok_or_else(|| {
        cx.err(&span, format!("[edge.\"{name}\"]: an edge is named \"FROM->TO\" by node ids, e.g. [edge.\"n5->n6\"]"))
    })?;
    let mut e = EdgeProfile {
        from: from.trim().to_string(),
        to: to.trim().to_string(),
        span,
        delay: Dist::ZERO,
    };
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "delay" => e.delay = dist(cx, &sec, key, item, &vs)?,
            _ => return Err(unknown(cx, &sec, key, &kspan, EDGE_KEYS)),
        }
    }
    Ok(e)
}

fn parse_loop(
    cx: &Cx<'_>,
    name: &str,
    span: Span,
    t: &dyn TableLike,
) -> Result<LoopProfile, ProfileError> {
    let sec = format!("loop.{name}");
    let index: usize = name.parse().ok().filter(|&i| i >= 1).ok_or_else(|| {
        cx.err(&span, format!("[loop.{name}]: loops are numbered from 1 in the order the diagram declares them, e.g. [loop.1]"))
    })?;
    let mut l = LoopProfile {
        index,
        span,
        repeat: 0.0,
        max: 1,
    };
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "repeat" => {
                let p = number(cx, &sec, key, item, &vs)?;
                if p > 1.0 {
                    return Err(cx.err(
                        &vs,
                        format!("[{sec}] repeat = {p}: a probability is at most 1"),
                    ));
                }
                l.repeat = p;
            }
            "max" => l.max = integer(cx, &sec, key, item, &vs, 0, u16::MAX as i64)? as u16,
            _ => return Err(unknown(cx, &sec, key, &kspan, LOOP_KEYS)),
        }
    }
    Ok(l)
}

fn parse_reads(cx: &Cx<'_>, span: Span, t: &dyn TableLike) -> Result<ReadsProfile, ProfileError> {
    let mut r = ReadsProfile {
        span,
        ..ReadsProfile::default()
    };
    for (key, kspan, item, vs) in entries(t) {
        match key {
            "rate" => r.rate = number(cx, "reads", key, item, &vs)?,
            "views" => {
                let arr = item.as_array().ok_or_else(|| {
                    cx.err(
                        &vs,
                        "[reads] views must be an array of view node ids, e.g. [\"n13\", \"n14\"]",
                    )
                })?;
                let mut v = Vec::new();
                for x in arr.iter() {
                    let xs = x.span().unwrap_or(vs.clone());
                    let s = x.as_str().ok_or_else(|| {
                        cx.err(&xs, "[reads] views: each entry is a node id string")
                    })?;
                    v.push((s.to_string(), xs));
                }
                r.views = Some(v);
            }
            _ => return Err(unknown(cx, "reads", key, &kspan, READ_KEYS)),
        }
    }
    Ok(r)
}

/// The valid-key lists, for documentation and tests.
pub fn valid_keys() -> [(&'static str, &'static [&'static str]); 7] {
    [
        ("run", RUN_KEYS),
        ("defaults", DEFAULT_KEYS),
        ("source.ID", SOURCE_KEYS),
        ("node.ID", NODE_KEYS),
        ("edge.\"A->B\"", EDGE_KEYS),
        ("loop.N", LOOP_KEYS),
        ("reads", READ_KEYS),
    ]
}

/// The key distributions accepted by `[source.ID] key`.
pub const KEYS_HELP: &str = KEY_CHOICES;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let text = r#"
[run]
duration = "60s"
warmup = "5s"
seed = 42
replications = 2
[defaults]
service = "exp(1ms)"
servers = 1
[source.n1]
rate = 900
key = "zipf(1000, 1.1)"
[node.n2]
service = "lognormal(2ms, 1ms)"
servers = 4
queue = 1000
[node.n3]
branch = { n4 = 0.8, n5 = 0.2 }
[edge."n5->n6"]
delay = "const(2ms)"
[loop.1]
repeat = 0.1
max = 3
[reads]
rate = 200
[roles]
n7 = "ordering"
"#;
        let p = Profile::parse("x.sim.toml", text).unwrap();
        assert_eq!(p.run.duration, Some(60_000_000_000));
        assert_eq!(p.run.replications, Some(2));
        assert_eq!(p.sources[0].rate, Some(900.0));
        assert_eq!(p.nodes.len(), 2);
        assert_eq!(p.nodes[1].branch.as_ref().unwrap().len(), 2);
        assert_eq!(p.edges[0].from, "n5");
        assert_eq!(p.loops[0].max, 3);
        assert_eq!(p.reads.as_ref().unwrap().rate, 200.0);
        assert_eq!(p.roles[0].1, Role::Ordering);
    }

    fn err(text: &str) -> ProfileError {
        Profile::parse("p.sim.toml", text).unwrap_err()
    }

    #[test]
    fn errors_carry_line_and_choices() {
        let e = err("[run]\nduration = \"60s\"\nspeed = 3\n");
        assert_eq!((e.line, e.file.as_str()), (3, "p.sim.toml"));
        assert!(
            e.message.contains("valid keys: duration, warmup"),
            "{}",
            e.message
        );

        let e = err("[node.n2]\nservice = \"gamma(1ms)\"\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("erlang(k,mean)"), "{}", e.message);

        let e = err("[nodes.n2]\nservice = \"exp(1ms)\"\n");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("valid tables"), "{}", e.message);

        let e = err("\n[roles]\nn3 = \"boss\"\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("write_commit"), "{}", e.message);

        let e = err("[run]\nduration = \"1 fortnight\"\n");
        assert_eq!(e.line, 2);

        let e = err("[run]\nseed = 1\narrivals = \"uniform\"\n");
        assert_eq!(e.line, 3);
        assert!(
            e.message
                .contains("[run] arrivals must be \"poisson\" or \"paced\", not \"uniform\""),
            "{}",
            e.message
        );

        let e = err("[node.n3]\nbranch = { n4 = 0.8, n5 = 0.8 }\n");
        assert!(e.message.contains("sum to"), "{}", e.message);
        assert!(err("[run\n").message.contains("invalid TOML"));
    }
}
