//! The event bus over NATS JetStream, used when `NATS_URL` is set (the `nats` cargo
//! feature, on by default); without it the bus runs in process on the store's log.
//!
//! Publish: the event store's committed log is the outbox. One publisher thread reads
//! events after the last published position, publishes each to the subject of its
//! partition (`<stream>.p<N>`, partition = hash of the aggregate, so one aggregate's
//! events stay in order) with `Nats-Msg-Id` set to its position (the broker drops a
//! duplicate within two minutes), waits for every broker ack, and only then records the
//! new position, with the last position of each partition, in
//! `DATA_DIR/nats-<stream>.json` (written to a temporary file, synced, renamed). A crash
//! re-publishes from the recorded position, never skips. While NATS is unreachable the
//! commands keep committing; the publisher retries and catches up when it returns.
//!
//! Consume: each projector has one durable pull consumer per partition
//! (`<projector>_p<N>`, explicit acks, redelivery after 5 s without an ack). Every
//! message carries its position and the position of the previous event of its partition;
//! a projector applies a message only when that previous event is at or below its
//! checkpoint (else it is NAKed and comes again), skips one at or below its checkpoint
//! (a redelivery), and acks once the view has made it durable. Redelivery therefore
//! applies each event exactly once, in order per aggregate. After each batch (at most
//! every 20 ms) the publisher sends a watermark down every partition so that
//! checkpoints of quiet partitions advance.

use std::sync::Arc;

use crate::bus::{Bus, ProjectionError, Projector};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::EventStore;

/// JetStream stream of the events: `NATS_STREAM`, default `<crate>_events`.
pub fn stream_name(config: &Config) -> Result<String, ProjectionError> {
    let name = config
        .nats_stream
        .clone()
        .unwrap_or_else(|| format!("{}_events", env!("CARGO_PKG_NAME")));
    if name.is_empty()
        || name.len() > 200
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ProjectionError::new(
            "bus",
            format!("NATS_STREAM {name:?}: use letters, digits, '_' and '-' only"),
        ));
    }
    Ok(name)
}

/// Starts the bus: over NATS JetStream when `NATS_URL` is set, else in process.
pub fn start_bus(
    config: &Config,
    store: Arc<EventStore>,
    projectors: Vec<Box<dyn Projector>>,
    partitions: usize,
    metrics: Arc<Metrics>,
) -> Result<Bus, ProjectionError> {
    let Some(url) = config.nats_url.clone() else {
        return Bus::start(store, projectors, partitions, metrics);
    };
    let stream = stream_name(config)?;
    #[cfg(feature = "nats")]
    {
        let transport = jetstream::NatsTransport {
            url,
            state_file: config.data_dir.join(format!("nats-{stream}.json")),
            stream,
        };
        Bus::start_on(store, projectors, partitions, metrics, Box::new(transport))
    }
    #[cfg(not(feature = "nats"))]
    {
        let _ = (url, stream, store, projectors, partitions, metrics);
        Err(ProjectionError::new(
            "bus",
            "NATS_URL is set but this build has no `nats` feature (build with the default features, or unset NATS_URL)",
        ))
    }
}

#[cfg(feature = "nats")]
pub mod jetstream {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::mpsc::TrySendError;
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use async_nats::jetstream::consumer::{pull, AckPolicy};
    use async_nats::jetstream::{self as js, stream, AckKind};
    use futures_util::StreamExt;
    use serde::{Deserialize, Serialize};

    use crate::bus::{
        lower_priority, partition_of, Ack, BrokerDelivery, Delivery, Inbox, ProjectionError,
        Transport, TransportContext,
    };
    use crate::metrics::Metrics;
    use crate::store::{EventStore, StoredEvent};

    /// Time the broker waits for an ack before it redelivers a message.
    pub const ACK_WAIT: Duration = Duration::from_secs(5);
    /// Messages a consumer may have delivered and not yet acked.
    pub const MAX_ACK_PENDING: i64 = 20_000;
    /// Shortest time between two rounds of watermarks.
    const WATERMARK_EVERY: Duration = Duration::from_millis(20);
    /// Delay before a NAKed message (one that arrived before an earlier one) comes again.
    const NAK_DELAY: Duration = Duration::from_millis(200);

    /// The transport: connection URL, stream, and where the published position is kept.
    pub struct NatsTransport {
        pub url: String,
        pub stream: String,
        pub state_file: PathBuf,
    }

    /// A message on the wire.
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Wire {
        /// Position in the log of the event (or of the watermark).
        pub position: u64,
        /// Position of the previous event of the same partition (0: none).
        pub prev: u64,
        /// `None`: a watermark.
        #[serde(default)]
        pub event: Option<WireEvent>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct WireEvent {
        pub aggregate_type: String,
        pub aggregate_id: String,
        pub version: u64,
        pub event_type: String,
        pub payload: String,
        pub recorded_at_us: i64,
    }

    /// What has been published: kept in `DATA_DIR/nats-<stream>.json`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Outbox {
        stream: String,
        partitions: usize,
        /// Every event at or below this position has been acked by the broker.
        published: u64,
        /// Position of the last published event of each partition.
        last: Vec<u64>,
    }

    fn err(e: impl std::fmt::Display) -> ProjectionError {
        ProjectionError::new("nats", e)
    }

    impl Outbox {
        fn load(path: &std::path::Path, stream: &str, partitions: usize) -> Result<Outbox, ProjectionError> {
            let fresh = Outbox {
                stream: stream.to_string(),
                partitions,
                published: 0,
                last: vec![0; partitions],
            };
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(fresh),
                Err(e) => return Err(err(format!("{}: {e}", path.display()))),
            };
            let o: Outbox = serde_json::from_str(&text)
                .map_err(|e| err(format!("{}: {e}", path.display())))?;
            if o.partitions != partitions || o.last.len() != partitions {
                return Err(err(format!(
                    "{}: events were published to NATS with PARTITIONS={}, now PARTITIONS={partitions}; keep the partition count, or use a new NATS_STREAM and rebuild the views",
                    path.display(),
                    o.partitions
                )));
            }
            Ok(o)
        }

        fn save(&self, path: &std::path::Path) -> Result<(), ProjectionError> {
            use std::io::Write;
            let tmp = path.with_extension("json.tmp");
            let text = serde_json::to_vec(self).map_err(err)?;
            let mut f = std::fs::File::create(&tmp).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
            f.write_all(&text)
                .and_then(|_| f.sync_all())
                .map_err(|e| err(format!("{}: {e}", tmp.display())))?;
            std::fs::rename(&tmp, path).map_err(|e| err(format!("{}: {e}", path.display())))
        }
    }

    fn subject(stream: &str, partition: usize) -> String {
        format!("{stream}.p{partition}")
    }

    fn stream_config(name: &str) -> stream::Config {
        stream::Config {
            name: name.to_string(),
            subjects: vec![format!("{name}.*")],
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        }
    }

    /// Prints at most one message every 5 s per place (NATS may be down for a while).
    struct Throttle(Option<Instant>);

    impl Throttle {
        fn say(&mut self, m: impl std::fmt::Display) {
            if self.0.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                eprintln!("{m}");
                self.0 = Some(Instant::now());
            }
        }
    }

    impl Transport for NatsTransport {
        fn start(self: Box<Self>, ctx: TransportContext) -> Result<Vec<JoinHandle<()>>, ProjectionError> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("nats")
                .enable_all()
                .build()
                .map_err(|e| err(format!("cannot start the NATS runtime: {e}")))?;
            let outbox = Outbox::load(&self.state_file, &self.stream, ctx.partitions)?;
            self.url
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| err(format!("NATS_URL {}: {e}", self.url)))?;
            let opts = async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .max_reconnects(None)
                .connection_timeout(Duration::from_secs(2));
            let published = Arc::new(AtomicU64::new(outbox.published));
            let done = Arc::new(AtomicBool::new(false));
            let NatsTransport {
                url,
                stream,
                state_file,
            } = *self;
            let TransportContext {
                store,
                inboxes,
                partitions,
                stop,
                metrics,
                ..
            } = ctx;
            // Connecting happens on this thread: the caller may itself run on a runtime.
            let main = std::thread::Builder::new()
                .name("nats-consumers".into())
                .spawn(move || {
                    lower_priority();
                    // The context spawns its acker task: create it on the runtime.
                    let jet = match rt.block_on(async { opts.connect(url.as_str()).await.map(js::new) }) {
                        Ok(j) => j,
                        Err(e) => {
                            eprintln!("nats: NATS_URL {url}: {e}; the event bus does not run");
                            return;
                        }
                    };
                    let publisher = {
                        let p = Publisher {
                            handle: rt.handle().clone(),
                            jet: jet.clone(),
                            stream: stream.clone(),
                            state_file,
                            store,
                            outbox,
                            metrics: metrics.clone(),
                            published: published.clone(),
                        };
                        let done = done.clone();
                        std::thread::Builder::new()
                            .name("nats-publisher".into())
                            .spawn(move || {
                                lower_priority();
                                p.run(stop);
                                done.store(true, Ordering::SeqCst);
                            })
                    };
                    let publisher = match publisher {
                        Ok(t) => t,
                        Err(e) => {
                            eprintln!("nats: cannot start the publisher: {e}; the event bus does not run");
                            return;
                        }
                    };
                    rt.block_on(async {
                        for inbox in &inboxes {
                            for p in 0..partitions {
                                tokio::spawn(consume(jet.clone(), stream.clone(), inbox.clone(), p));
                            }
                        }
                        drop(inboxes);
                        // On stop: the publisher has published what was committed;
                        // give the projectors a moment to receive it.
                        while !done.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        let target = published.load(Ordering::SeqCst);
                        let deadline = Instant::now() + Duration::from_secs(5);
                        while Instant::now() < deadline && !caught_up(&metrics, target) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    });
                    rt.shutdown_timeout(Duration::from_secs(1));
                    let _ = publisher.join();
                })
                .map_err(|e| err(format!("cannot start the NATS consumers: {e}")))?;
            Ok(vec![main])
        }
    }

    fn caught_up(metrics: &Metrics, target: u64) -> bool {
        metrics
            .projectors
            .iter()
            .all(|p| p.checkpoint.load(Ordering::Relaxed) >= target)
    }

    struct Publisher {
        handle: tokio::runtime::Handle,
        jet: js::Context,
        stream: String,
        state_file: PathBuf,
        store: Arc<EventStore>,
        outbox: Outbox,
        metrics: Arc<Metrics>,
        published: Arc<AtomicU64>,
    }

    impl Publisher {
        fn run(mut self, stop: Arc<AtomicBool>) {
            let head = self.store.head();
            let rt = self.handle.clone();
            let mut warn = Throttle(None);
            let mut ready = false;
            let mut last_watermark = Instant::now();
            let mut watermark_due = true;
            let mut stop_deadline: Option<Instant> = None;
            loop {
                if stop.load(Ordering::SeqCst) && stop_deadline.is_none() {
                    stop_deadline = Some(Instant::now() + Duration::from_secs(10));
                }
                if let Some(d) = stop_deadline {
                    if Instant::now() > d {
                        eprintln!(
                            "nats: stopping with events after position {} not yet published; they are published on the next start",
                            self.outbox.published
                        );
                        return;
                    }
                }
                if !ready {
                    match rt.block_on(self.ensure_stream()) {
                        Ok(()) => ready = true,
                        Err(e) => {
                            warn.say(format!("nats: {e} (retrying)"));
                            std::thread::sleep(Duration::from_millis(200));
                            continue;
                        }
                    }
                }
                let h = head.wait_past(self.outbox.published, Duration::from_millis(50));
                self.metrics.head.store(h, Ordering::Relaxed);
                if h <= self.outbox.published {
                    if watermark_due {
                        match rt.block_on(self.watermarks()) {
                            Ok(()) => {
                                watermark_due = false;
                                last_watermark = Instant::now();
                            }
                            Err(e) => {
                                warn.say(format!("nats: watermarks: {e} (retrying)"));
                                ready = false;
                                std::thread::sleep(Duration::from_millis(200));
                                continue;
                            }
                        }
                    }
                    if stop_deadline.is_some() {
                        return;
                    }
                    continue;
                }
                let events = match self.store.read_after(self.outbox.published, 1_000) {
                    Ok(e) => e,
                    Err(e) => {
                        warn.say(format!("nats: reading the log: {e}"));
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                match rt.block_on(self.publish(&events)) {
                    Ok(next) => {
                        if let Err(e) = next.save(&self.state_file) {
                            // The broker has the events; only the record is behind, so
                            // a restart would publish them again (dropped as duplicates).
                            warn.say(format!("nats: {e}"));
                        }
                        self.outbox = next;
                        self.published.store(self.outbox.published, Ordering::SeqCst);
                        watermark_due = true;
                    }
                    Err(e) => {
                        warn.say(format!(
                            "nats: publishing after position {}: {e} (retrying; commands keep committing)",
                            self.outbox.published
                        ));
                        ready = false;
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                }
                if watermark_due && last_watermark.elapsed() >= WATERMARK_EVERY {
                    if rt.block_on(self.watermarks()).is_ok() {
                        watermark_due = false;
                        last_watermark = Instant::now();
                    } else {
                        ready = false;
                    }
                }
            }
        }

        /// Creates the stream if needed. A stream that lost its messages (recreated,
        /// or a new server) gets every event again.
        async fn ensure_stream(&mut self) -> Result<(), String> {
            let mut s = self
                .jet
                .get_or_create_stream(stream_config(&self.stream))
                .await
                .map_err(|e| format!("stream {}: {e}", self.stream))?;
            let info = s.info().await.map_err(|e| format!("stream {}: {e}", self.stream))?;
            if info.state.last_sequence == 0 && self.outbox.published > 0 {
                eprintln!(
                    "nats: stream {} is empty but positions up to {} were published to it; publishing the log again",
                    self.stream, self.outbox.published
                );
                self.outbox.published = 0;
                self.outbox.last = vec![0; self.outbox.partitions];
            }
            Ok(())
        }

        async fn send(&self, partition: usize, id: String, wire: &Wire) -> Result<js::context::PublishAckFuture, String> {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            let body = serde_json::to_vec(wire).map_err(|e| e.to_string())?;
            self.jet
                .publish_with_headers(subject(&self.stream, partition), headers, body.into())
                .await
                .map_err(|e| e.to_string())
        }

        /// Publishes a batch and waits for every broker ack; the outbox after it.
        async fn publish(&self, events: &[StoredEvent]) -> Result<Outbox, String> {
            let mut next = self.outbox.clone();
            let n = next.partitions;
            let mut acks = Vec::with_capacity(events.len());
            for e in events {
                let p = partition_of(&e.aggregate_type, &e.aggregate_id, n);
                let wire = Wire {
                    position: e.position,
                    prev: next.last[p],
                    event: Some(WireEvent {
                        aggregate_type: e.aggregate_type.clone(),
                        aggregate_id: e.aggregate_id.clone(),
                        version: e.version,
                        event_type: e.event_type.clone(),
                        payload: e.payload.clone(),
                        recorded_at_us: e.recorded_at_us,
                    }),
                };
                acks.push(self.send(p, format!("e-{}", e.position), &wire).await?);
                next.last[p] = e.position;
                next.published = e.position;
            }
            for a in acks {
                a.await.map_err(|e| e.to_string())?;
            }
            Ok(next)
        }

        /// Tells every partition that it has no event after its last one up to the
        /// published position.
        async fn watermarks(&self) -> Result<(), String> {
            let pos = self.outbox.published;
            let mut acks = Vec::new();
            for p in 0..self.outbox.partitions {
                let wire = Wire {
                    position: pos,
                    prev: self.outbox.last[p],
                    event: None,
                };
                acks.push(self.send(p, format!("w-{p}-{pos}"), &wire).await?);
            }
            for a in acks {
                a.await.map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    }

    /// Feeds one projector's inbox from its durable consumer of one partition, forever
    /// (recreating the consumer after a failure) until the projector stops.
    async fn consume(jet: js::Context, stream: String, inbox: Inbox, partition: usize) {
        let durable = format!("{}_p{partition}", inbox.projector);
        let mut warn = Throttle(None);
        loop {
            match consume_once(&jet, &stream, &inbox, partition, &durable).await {
                Ok(()) => return,
                Err(e) => {
                    warn.say(format!("nats: consumer {durable}: {e} (retrying)"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    async fn consume_once(
        jet: &js::Context,
        stream: &str,
        inbox: &Inbox,
        partition: usize,
        durable: &str,
    ) -> Result<(), String> {
        let s = jet
            .get_or_create_stream(stream_config(stream))
            .await
            .map_err(|e| format!("stream {stream}: {e}"))?;
        let consumer: js::consumer::PullConsumer = s
            .get_or_create_consumer(
                durable,
                pull::Config {
                    durable_name: Some(durable.to_string()),
                    filter_subject: subject(stream, partition),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    max_ack_pending: MAX_ACK_PENDING,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(1_000)
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        let handle = tokio::runtime::Handle::current();
        while let Some(m) = messages.next().await {
            let msg = m.map_err(|e| e.to_string())?;
            let wire: Wire = match serde_json::from_slice(&msg.payload) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("nats: consumer {durable}: dropping an undecodable message: {e}");
                    let _ = msg.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            let h = handle.clone();
            let ack: Ack = Box::new(move |ok| {
                h.spawn(async move {
                    let r = if ok {
                        msg.ack().await
                    } else {
                        msg.ack_with(AckKind::Nak(Some(NAK_DELAY))).await
                    };
                    if let Err(e) = r {
                        // Not acked: the broker redelivers it, and it is skipped then.
                        eprintln!("nats: ack: {e}");
                    }
                });
            });
            let event = wire.event.map(|e| {
                Arc::new(StoredEvent {
                    position: wire.position,
                    aggregate_type: e.aggregate_type,
                    aggregate_id: e.aggregate_id,
                    version: e.version,
                    event_type: e.event_type,
                    payload: e.payload,
                    recorded_at_us: e.recorded_at_us,
                })
            });
            let mut d = Delivery::Broker(BrokerDelivery {
                partition,
                position: wire.position,
                prev: wire.prev,
                event,
                ack,
            });
            loop {
                match inbox.tx.try_send(d) {
                    Ok(()) => break,
                    Err(TrySendError::Full(back)) => {
                        d = back;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(TrySendError::Disconnected(_)) => return Ok(()),
                }
            }
        }
        Err("the message stream ended".into())
    }
}
