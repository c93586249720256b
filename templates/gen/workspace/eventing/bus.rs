//! The bus between the services' outboxes and their consumers.
//!
//! - **NATS JetStream** when `NATS_URL` is set: each producing service's relay publishes
//!   its unpublished outbox rows, oldest first, to `{system}.{service}.{Event}` on the
//!   stream `{SYSTEM}_{SERVICE}` (file storage; the event id is the `Nats-Msg-Id`, so a
//!   row published twice is stored once) and marks them published after the ack. Each
//!   consumer is a durable pull consumer with explicit acks: an event is acked after the
//!   transaction that applied it committed, so one that was not is redelivered.
//! - **Embedded** otherwise: consumers pull from the producing service's outbox over
//!   HTTP (`GET /outbox?after=N`), found in the gateway's registry (`REGISTRY_URL`) or at
//!   `{SOURCE}_URL`. The outbox is the log: nothing else must run, and a consumer's
//!   checkpoint is the outbox position it applied.
//!
//! Either way events of one source arrive in outbox order, and a read model row keeps
//! the position it was written from, so a late duplicate never overwrites a newer row.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;

use crate::{blocking, bump, now_ms, Event, Shared, Spec, Subscription};

/// Which bus, from the environment.
#[derive(Debug, Clone, Default)]
pub struct BusConfig {
    /// `NATS_URL`: NATS JetStream.
    pub nats_url: Option<String>,
    /// `{SOURCE}_URL` per source service, for the embedded bus without a registry.
    pub sources: Vec<(String, String)>,
}

impl BusConfig {
    pub fn from_env(spec: &Spec) -> BusConfig {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        BusConfig {
            nats_url: var("NATS_URL"),
            sources: spec
                .subscriptions
                .iter()
                .filter_map(|s| {
                    var(&format!("{}_URL", s.source.to_uppercase()))
                        .map(|u| (s.source.to_string(), u))
                })
                .collect(),
        }
    }

    /// `nats` or `embedded`.
    pub fn kind(&self) -> &'static str {
        if self.nats_url.is_some() {
            "nats"
        } else {
            "embedded"
        }
    }
}

/// The NATS subject of an event.
pub fn subject(spec: &Spec, source: &str, event: &str) -> String {
    format!("{}.{source}.{event}", spec.system)
}

/// The JetStream stream holding `source`'s events.
pub fn stream_name(spec: &Spec, source: &str) -> String {
    format!("{}_{source}", spec.system)
        .to_uppercase()
        .replace(['-', '.'], "_")
}

/// Starts the relay (NATS only) and one task per consumer.
pub async fn start(st: Shared, registry: Option<String>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    match st.bus.nats_url.clone() {
        Some(url) => {
            let client = match async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .max_reconnects(None)
                .connect(url.as_str())
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{}: NATS at {url}: {e}", st.spec.service);
                    return tasks;
                }
            };
            let js = async_nats::jetstream::new(client);
            if st.spec.records && !st.spec.publishes.is_empty() {
                tasks.push(tokio::spawn(relay(st.clone(), js.clone())));
            }
            for (i, sub) in st.spec.subscriptions.iter().enumerate() {
                tasks.push(tokio::spawn(consume(st.clone(), js.clone(), i, *sub)));
            }
        }
        None => {
            for (i, sub) in st.spec.subscriptions.iter().enumerate() {
                tasks.push(tokio::spawn(pull(st.clone(), registry.clone(), i, *sub)));
            }
        }
    }
    tasks
}

async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    spec: &Spec,
    source: &str,
) -> Result<async_nats::jetstream::stream::Stream, String> {
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: stream_name(spec, source),
        subjects: vec![format!("{}.{source}.>", spec.system)],
        storage: async_nats::jetstream::stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {}: {e}", stream_name(spec, source)))
}

/// Publishes the outbox to JetStream, oldest first; a row is marked published only after
/// JetStream acknowledged it, so rows written while the bus is away wait in the outbox.
async fn relay(st: Shared, js: async_nats::jetstream::Context) {
    let spec = st.spec;
    let mut failing = false;
    let mut ready = false;
    loop {
        if !ready {
            match ensure_stream(&js, spec, spec.service).await {
                Ok(_) => ready = true,
                Err(e) => {
                    if !failing {
                        eprintln!("{}: relay: {e}; retrying", spec.service);
                    }
                    failing = true;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        let rows = {
            let st = st.clone();
            blocking(move || st.db.unpublished(500)).await
        };
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}: relay: reading the outbox: {e}", spec.service);
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if rows.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let mut acks = Vec::with_capacity(rows.len());
        let mut done = Vec::with_capacity(rows.len());
        let mut err = None;
        for ev in &rows {
            let body = match serde_json::to_vec(ev) {
                Ok(b) => b,
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            };
            let msg = async_nats::jetstream::message::PublishMessage::build()
                .payload(body.into())
                .message_id(&ev.id);
            match js
                .send_publish(subject(spec, spec.service, &ev.event), msg)
                .await
            {
                Ok(a) => acks.push((ev.seq, a)),
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        for (seq, a) in acks {
            match tokio::time::timeout(Duration::from_secs(5), a).await {
                Ok(Ok(_)) => done.push(seq),
                Ok(Err(e)) => {
                    err = Some(e.to_string());
                    break;
                }
                Err(_) => {
                    err = Some("no ack within 5 s".into());
                    break;
                }
            }
        }
        if !done.is_empty() {
            let n = done.len() as i64;
            let st2 = st.clone();
            if let Err(e) = blocking(move || st2.db.mark_published(&done)).await {
                eprintln!("{}: relay: marking published: {e}", spec.service);
            } else {
                st.published.fetch_add(n, Ordering::Relaxed);
            }
        }
        match err {
            Some(e) => {
                bump(&st.relay_errors);
                if !failing {
                    eprintln!(
                        "{}: relay: publishing to NATS: {e}; the outbox keeps the events",
                        spec.service
                    );
                }
                failing = true;
                ready = false;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            None => {
                if failing {
                    eprintln!("{}: relay: publishing again", spec.service);
                }
                failing = false;
            }
        }
    }
}

/// A durable JetStream consumer: applies each event in a transaction, then acks it.
async fn consume(st: Shared, js: async_nats::jetstream::Context, i: usize, sub: Subscription) {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    let spec = st.spec;
    let mut failing = false;
    loop {
        let consumer: Result<async_nats::jetstream::consumer::Consumer<pull::Config>, String> =
            async {
                let stream = ensure_stream(&js, spec, sub.source).await?;
                stream
                    .get_or_create_consumer(
                        sub.durable,
                        pull::Config {
                            durable_name: Some(sub.durable.to_string()),
                            filter_subject: subject(spec, sub.source, sub.event),
                            ack_policy: AckPolicy::Explicit,
                            ack_wait: Duration::from_secs(10),
                            max_ack_pending: 1000,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| format!("consumer {}: {e}", sub.durable))
            }
            .await;
        let mut consumer = match consumer {
            Ok(c) => c,
            Err(e) => {
                if !failing {
                    eprintln!("{}: {e}; retrying", spec.service);
                }
                failing = true;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if failing {
            eprintln!("{}: consumer {} attached", spec.service, sub.durable);
        }
        failing = false;
        loop {
            let batch = consumer
                .fetch()
                .max_messages(200)
                .expires(Duration::from_millis(500))
                .messages()
                .await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("{}: fetch for {}: {e}", spec.service, sub.durable);
                    break;
                }
            };
            let mut broken = false;
            while let Some(m) = batch.next().await {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        eprintln!("{}: message for {}: {e}", spec.service, sub.durable);
                        broken = true;
                        break;
                    }
                };
                let position = m.info().map(|i| i.stream_sequence as i64).unwrap_or(0);
                let ev: Event = match serde_json::from_slice(&m.payload) {
                    Ok(ev) => ev,
                    Err(e) => {
                        eprintln!(
                            "{}: {}: not an event ({e}); acked and dropped",
                            spec.service, sub.durable
                        );
                        let _ = m.ack().await;
                        continue;
                    }
                };
                if apply(&st, i, sub, &ev, position).await {
                    if let Err(e) = m.ack().await {
                        eprintln!("{}: ack for {}: {e}", spec.service, sub.durable);
                    }
                } else {
                    broken = true;
                    break;
                }
            }
            if let Ok(info) = consumer.info().await {
                let lag = info.num_pending as i64 + info.num_ack_pending as i64;
                st.stats(i).lag_events.store(lag, Ordering::Relaxed);
            }
            if broken {
                tokio::time::sleep(Duration::from_millis(300)).await;
                break;
            }
        }
    }
}

/// Applies one event; `false` if the transaction failed (it will come again).
async fn apply(st: &Shared, i: usize, sub: Subscription, ev: &Event, position: i64) -> bool {
    let (st2, ev2) = (st.clone(), ev.clone());
    let r = blocking(move || st2.db.apply(&sub, Some(&ev2), position, ev2.created_ms)).await;
    let s = st.stats(i);
    match r {
        Ok(fresh) => {
            if fresh {
                bump(&s.applied);
            } else {
                bump(&s.duplicates);
            }
            s.last_event_ms.store(ev.created_ms, Ordering::Relaxed);
            true
        }
        Err(e) => {
            bump(&s.errors);
            eprintln!(
                "{}: applying {} for {}: {e}",
                st.spec.service, ev.id, sub.durable
            );
            false
        }
    }
}

#[derive(Deserialize)]
struct Page {
    head: i64,
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Snapshot {
    services: std::collections::HashMap<String, Vec<Inst>>,
}

#[derive(Deserialize)]
struct Inst {
    url: String,
    healthy: bool,
}

/// Base URLs of `source`'s instances: `{SOURCE}_URL`, else the healthy ones the
/// registry lists.
async fn source_urls(
    st: &Shared,
    client: &reqwest::Client,
    registry: Option<&str>,
    source: &str,
) -> Vec<String> {
    if let Some((_, u)) = st.bus.sources.iter().find(|(s, _)| s == source) {
        return vec![u.trim_end_matches('/').to_string()];
    }
    let Some(reg) = registry else {
        return Vec::new();
    };
    let url = format!("{}/_registry", reg.trim_end_matches('/'));
    let Ok(r) = client.get(&url).send().await else {
        return Vec::new();
    };
    let Ok(all) = r.json::<Snapshot>().await else {
        return Vec::new();
    };
    all.services
        .get(source)
        .map(|v| {
            v.iter()
                .filter(|i| i.healthy)
                .map(|i| i.url.trim_end_matches('/').to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The embedded bus: pulls the source's outbox after the checkpoint.
async fn pull(st: Shared, registry: Option<String>, i: usize, sub: Subscription) {
    let spec = st.spec;
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: http client: {e}", spec.service);
            return;
        }
    };
    let mut failing = false;
    let mut turn = 0usize;
    loop {
        let urls = source_urls(&st, &client, registry.as_deref(), sub.source).await;
        if urls.is_empty() {
            if !failing {
                eprintln!(
                    "{}: {}: no instance of {} (set REGISTRY_URL or {}_URL); waiting",
                    spec.service,
                    sub.durable,
                    sub.source,
                    sub.source.to_uppercase()
                );
            }
            failing = true;
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        turn = turn.wrapping_add(1);
        let base = &urls[turn % urls.len()];
        let st2 = st.clone();
        let after = match blocking(move || st2.db.checkpoint(sub.durable)).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("{}: checkpoint of {}: {e}", spec.service, sub.durable);
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let page = match client
            .get(format!("{base}/outbox?after={after}&limit=500"))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json::<Page>().await.map_err(|e| e.to_string()),
            Ok(r) => Err(format!("{base}/outbox answered {}", r.status())),
            Err(e) => Err(e.to_string()),
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                if !failing {
                    eprintln!("{}: {}: {e}; retrying", spec.service, sub.durable);
                }
                failing = true;
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        failing = false;
        let mut last = after;
        for ev in &page.events {
            let ok = if ev.event == sub.event {
                apply(&st, i, sub, ev, ev.seq).await
            } else {
                let (st2, seq, ms) = (st.clone(), ev.seq, ev.created_ms);
                blocking(move || st2.db.apply(&sub, None, seq, ms))
                    .await
                    .is_ok()
            };
            if !ok {
                break;
            }
            last = ev.seq;
        }
        st.stats(i)
            .lag_events
            .store((page.head - last).max(0), Ordering::Relaxed);
        if page.events.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Seconds between now and when the newest applied event was written (0 when caught up).
pub fn lag_seconds(st: &Shared, i: usize) -> f64 {
    let s = st.stats(i);
    if s.lag_events.load(Ordering::Relaxed) == 0 {
        return 0.0;
    }
    let t = s.last_event_ms.load(Ordering::Relaxed);
    if t == 0 {
        return 0.0;
    }
    ((now_ms() - t).max(0) as f64) / 1000.0
}
