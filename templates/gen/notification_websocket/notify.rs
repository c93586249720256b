//! Notifications over WebSocket (`GET /ws`).
//!
//! A client subscribes to aggregate ids (`{"subscribe": ["task-1"]}`, or `"*"` for all,
//! `{"unsubscribe": [...]}`). Each accepted command is remembered with the log position
//! of its last event; once every projector building a view of that aggregate has made
//! that position visible to queries, its subscribers receive
//! `{"type": "confirmation", "command_id", "status": "confirmed", "aggregate_id",
//! "position", "view", "item"}` with the read model's entry. A refused command is sent at
//! once as `"status": "rejected"` with the error and the field at fault. Commands sent
//! without an id are announced the same way, with `"command_id": null`.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast;

use crate::app::AppState;

/// Most ids one connection may subscribe to.
pub const MAX_SUBSCRIPTIONS: usize = 10_000;
/// Notices kept for a slow connection before it is told it lagged.
const CHANNEL: usize = 4_096;
/// How often the pending commands are checked against the views while some wait.
const POLL: Duration = Duration::from_millis(2);
const WINDOW: usize = 20_000;

/// One message for the subscribers of an aggregate.
#[derive(Debug)]
pub struct Notice {
    pub aggregate_id: String,
    pub json: String,
}

struct Pending {
    command_id: Option<String>,
    aggregate_type: &'static str,
    aggregate_id: String,
    position: u64,
    accepted: Instant,
}

/// Commands waiting for their confirmation, and the channel to the WebSocket sessions.
pub struct Notifier {
    pending: Mutex<VecDeque<Pending>>,
    wake: Condvar,
    tx: broadcast::Sender<Arc<Notice>>,
    stop: AtomicBool,
    /// Accepted to confirmation sent, seconds (a recent window).
    latency: Mutex<VecDeque<f64>>,
    pub confirmed: AtomicU64,
    pub rejected: AtomicU64,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier {
            pending: Mutex::new(VecDeque::new()),
            wake: Condvar::new(),
            tx: broadcast::channel(CHANNEL).0,
            stop: AtomicBool::new(false),
            latency: Mutex::new(VecDeque::new()),
            confirmed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }
}

impl Notifier {
    /// Remembers an accepted command until the read model has applied `position`.
    pub fn accepted(
        &self,
        command_id: Option<String>,
        aggregate_type: &'static str,
        aggregate_id: &str,
        position: u64,
    ) {
        if let Ok(mut p) = self.pending.lock() {
            p.push_back(Pending {
                command_id,
                aggregate_type,
                aggregate_id: aggregate_id.to_string(),
                position,
                accepted: Instant::now(),
            });
        }
        self.wake.notify_one();
    }

    /// Announces a refused command at once.
    pub fn rejected(
        &self,
        command_id: &str,
        aggregate_type: &str,
        aggregate_id: &str,
        error: &str,
        field: Option<&str>,
    ) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let json = json!({
            "type": "confirmation",
            "command_id": command_id,
            "status": "rejected",
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "error": error,
            "field": field,
        })
        .to_string();
        let _ = self.tx.send(Arc::new(Notice {
            aggregate_id: aggregate_id.to_string(),
            json,
        }));
    }

    /// A receiver of every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.tx.subscribe()
    }

    /// Stops [`run`] after its current round.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }

    /// p50 and p99 of the recent confirmation latencies, seconds.
    pub fn latency_quantiles(&self) -> (f64, f64) {
        let mut v: Vec<f64> = self
            .latency
            .lock()
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        if v.is_empty() {
            return (0.0, 0.0);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        (q(0.5), q(0.99))
    }

    /// The notification metrics in Prometheus text.
    pub fn render(&self) -> String {
        let (p50, p99) = self.latency_quantiles();
        let mut out = String::new();
        out.push_str("# HELP command_confirmations_total Commands announced on the WebSocket, by status.\n");
        out.push_str("# TYPE command_confirmations_total counter\n");
        for (status, n) in [("confirmed", &self.confirmed), ("rejected", &self.rejected)] {
            out.push_str(&format!(
                "command_confirmations_total{}status=\"{status}\"{} {}\n",
                '{',
                '}',
                n.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP command_confirmation_seconds Accepted to confirmed (read model applied), recent window.\n");
        out.push_str("# TYPE command_confirmation_seconds summary\n");
        for (q, v) in [("0.5", p50), ("0.99", p99)] {
            out.push_str(&format!(
                "command_confirmation_seconds{}quantile=\"{q}\"{} {v}\n",
                '{', '}'
            ));
        }
        out
    }
}

/// The position up to which every view of an aggregate type answers queries.
fn visible(app: &AppState, aggregate_type: &str) -> u64 {
    let projectors: &[&str] = match aggregate_type {
{%- for a in plan.aggregates %}
        crate::domain::{{ a.module }}::AGGREGATE_TYPE => &[
{%- for p in plan.projectors %}{% if p.view.aggregate == a.name %}
            crate::projections::{{ p.module }}::PROJECTOR,
{%- endif %}{% endfor %}
        ],
{%- endfor %}
        _ => &[],
    };
    projectors
        .iter()
        .filter_map(|p| app.metrics.projector(p))
        .map(|m| m.visible.load(Ordering::Acquire))
        .min()
        .unwrap_or(u64::MAX)
}

/// The read model's entry for an aggregate: its view's name and the entry as JSON.
#[allow(unused_variables)]
fn item(app: &AppState, aggregate_type: &str, id: &str) -> (Option<&'static str>, serde_json::Value) {
{%- for a in plan.aggregates %}
{%- for p in plan.projectors %}{% if p.view.aggregate == a.name && (p.view.kind == "table" || (p.view.kind == "cache" && p.view.key.is_none())) %}
    if aggregate_type == crate::domain::{{ a.module }}::AGGREGATE_TYPE {
        let entry = app.views.{{ p.view.slug }}.get(id).ok().flatten();
        return (
            Some(crate::projections::{{ p.module }}::VIEW),
            serde_json::to_value(entry).unwrap_or(serde_json::Value::Null),
        );
    }
{%- endif %}{% endfor %}
{%- endfor %}
    (None, serde_json::Value::Null)
}

/// Confirms pending commands as the views catch up, until [`Notifier::stop`] (a thread
/// of its own: it reads the views, which may block).
pub fn run(state: Weak<AppState>) {
    loop {
        let Some(app) = state.upgrade() else {
            return;
        };
        let n = &app.notifier;
        if n.stop.load(Ordering::SeqCst) {
            return;
        }
        let ready: Vec<Pending> = {
            let Ok(mut pending) = n.pending.lock() else {
                return;
            };
            if pending.is_empty() {
                pending = match n.wake.wait_timeout(pending, Duration::from_millis(100)) {
                    Ok((p, _)) => p,
                    Err(_) => return,
                };
            }
            let mut ready = Vec::new();
            let mut rest = VecDeque::with_capacity(pending.len());
            for p in pending.drain(..) {
                if p.position <= visible(&app, p.aggregate_type) {
                    ready.push(p);
                } else {
                    rest.push_back(p);
                }
            }
            *pending = rest;
            ready
        };
        for p in &ready {
            let (view, item) = item(&app, p.aggregate_type, &p.aggregate_id);
            let json = json!({
                "type": "confirmation",
                "command_id": p.command_id,
                "status": "confirmed",
                "aggregate_type": p.aggregate_type,
                "aggregate_id": p.aggregate_id,
                "position": p.position,
                "view": view,
                "item": item,
            })
            .to_string();
            let _ = n.tx.send(Arc::new(Notice {
                aggregate_id: p.aggregate_id.clone(),
                json,
            }));
            n.confirmed.fetch_add(1, Ordering::Relaxed);
        }
        if !ready.is_empty() {
            if let Ok(mut q) = n.latency.lock() {
                for p in &ready {
                    if q.len() == WINDOW {
                        q.pop_front();
                    }
                    q.push_back(p.accepted.elapsed().as_secs_f64());
                }
            }
        }
        let waiting = n.pending.lock().map(|p| !p.is_empty()).unwrap_or(false);
        drop(app);
        if waiting {
            std::thread::sleep(POLL);
        }
    }
}

/// What one connection listens to.
#[derive(Default)]
struct Subscription {
    all: bool,
    ids: HashSet<String>,
}

impl Subscription {
    fn wants(&self, id: &str) -> bool {
        self.all || self.ids.contains(id)
    }

    /// Applies a client message; the answer to send back.
    fn handle(&mut self, text: &str) -> serde_json::Value {
        let msg: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return json!({"type": "error", "field": "body", "error": format!("invalid JSON: {e}")}),
        };
        let (field, add) = if msg.get("subscribe").is_some() {
            ("subscribe", true)
        } else if msg.get("unsubscribe").is_some() {
            ("unsubscribe", false)
        } else {
            return json!({"type": "error", "field": "subscribe", "error": "expected {\"subscribe\": [ids] or \"*\"} or {\"unsubscribe\": [ids]}"});
        };
        match &msg[field] {
            serde_json::Value::String(s) if s == "*" => self.all = add,
            serde_json::Value::Array(ids) => {
                for id in ids {
                    let Some(id) = id.as_str().filter(|s| !s.is_empty() && s.len() <= 256) else {
                        return json!({"type": "error", "field": field, "error": "ids must be strings of 1 to 256 bytes"});
                    };
                    if add {
                        if self.ids.len() >= MAX_SUBSCRIPTIONS {
                            return json!({"type": "error", "field": field, "error": format!("at most {MAX_SUBSCRIPTIONS} ids")});
                        }
                        self.ids.insert(id.to_string());
                    } else {
                        self.ids.remove(id);
                    }
                }
            }
            _ => return json!({"type": "error", "field": field, "error": "must be a list of ids or \"*\""}),
        }
        json!({"type": "subscribed", "all": self.all, "ids": self.ids.len()})
    }
}

/// `GET /ws`: the notification WebSocket.
pub async fn ws(State(app): State<Arc<AppState>>, upgrade: WebSocketUpgrade) -> Response {
    let rx = app.notifier.subscribe();
    upgrade.on_upgrade(move |socket| session(socket, rx))
}

async fn session(mut socket: WebSocket, mut rx: broadcast::Receiver<Arc<Notice>>) {
    let mut sub = Subscription::default();
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let answer = sub.handle(t.as_str());
                    if socket.send(Message::Text(answer.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            n = rx.recv() => match n {
                Ok(n) => {
                    if sub.wants(&n.aggregate_id)
                        && socket.send(Message::Text(n.json.clone().into())).await.is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let m = json!({"type": "lagged", "missed": missed}).to_string();
                    if socket.send(Message::Text(m.into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_follow_the_messages_and_refuse_bad_ones() {
        let mut s = Subscription::default();
        assert!(!s.wants("a"));
        assert_eq!(s.handle(r#"{"subscribe": ["a", "b"]}"#)["type"], "subscribed");
        assert!(s.wants("a") && s.wants("b") && !s.wants("c"));
        s.handle(r#"{"unsubscribe": ["a"]}"#);
        assert!(!s.wants("a"));
        s.handle(r#"{"subscribe": "*"}"#);
        assert!(s.wants("c"));
        assert_eq!(s.handle("not json")["field"], "body");
        assert_eq!(s.handle(r#"{"subscribe": 3}"#)["field"], "subscribe");
        assert_eq!(s.handle(r#"{"subscribe": [""]}"#)["type"], "error");
        assert_eq!(s.handle(r#"{"hello": 1}"#)["type"], "error");
    }
}
