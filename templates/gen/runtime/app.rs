//! Wiring: opens the store and the views, starts the event bus, builds the router.

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

#[allow(unused_imports)]
use crate::bus::{catch_up, Bus, ProjectionError, Projector};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::projections;
use crate::store::{EventStore, StoreError};
use crate::{commands, query};

/// Failures while starting the service.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error("unknown view {0:?} (known: {1})")]
    UnknownView(String, String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
{%- if plan.uses("authorize") %}
    #[error(transparent)]
    Auth(#[from] crate::auth::SecretTooShort),
{%- endif %}
}

/// Read sides of the views.
pub struct Views {
{%- for p in plan.projectors %}
    /// {{ p.view.node }} "{{ p.view.label }}"
    pub {{ p.view.slug }}: projections::{{ p.module }}::{{ p.view.type_name }},
{%- endfor %}
}

/// State shared by every request handler.
pub struct AppState {
    pub config: Config,
    pub store: Arc<EventStore>,
    pub metrics: Arc<Metrics>,
    /// Aggregates the command side knows, so most commands need no store read.
    pub aggregates: commands::Aggregates,
    pub views: Views,
{%- if plan.uses("authorize") %}
    /// The bearer-token check of the command routes.
    pub auth: crate::auth::Auth,
{%- endif %}
{%- if plan.uses("notification_websocket") %}
    /// Commands waiting for their confirmation on the WebSocket.
    pub notifier: crate::notify::Notifier,
{%- endif %}
    /// Requests to the projectors' threads (read a view's versions, rebuild it).
    pub bus: crate::bus::BusControl,
{%- if plan.uses("consistency_check") %}
    /// Drift found and repaired by the consistency check.
    pub consistency: crate::consistency::Consistency,
{%- endif %}
}

/// Projector names, in wiring order.
pub const PROJECTORS: &[&str] = &[
{%- for p in plan.projectors %}
    projections::{{ p.module }}::PROJECTOR,
{%- endfor %}
];

/// The diagram node of each timed component (`fz_node_seconds{node=...}` in `/metrics`).
pub const NODES: crate::metrics::NodeIds = crate::metrics::NodeIds {
    command_source: "{{ plan.ids.command_source }}",
    command_handler: "{{ plan.ids.command_handler }}",
    validator: "{{ plan.ids.validator }}",
    write_commit: "{{ plan.ids.write_commit }}",
    event_publisher: "{{ plan.ids.event_publisher }}",
    event_router: "{{ plan.ids.event_router }}",
    ordering: "{{ plan.ids.ordering }}",
    delivery: "{{ plan.ids.delivery }}",
    query_api: "{{ plan.ids.query_api }}",
    projectors: &[
{%- for p in plan.projectors %}
        (projections::{{ p.module }}::PROJECTOR, "{{ p.node }}", "{{ p.view.node }}"),
{%- endfor %}
    ],
};

/// States the concurrency each timed node runs with (`fz_node_concurrency`): the
/// request handlers' workers, the single group-commit writer and its batch limit,
/// the router, the partitions, each projector's thread, batch limit and apply interval.
fn concurrency(metrics: &Metrics, config: &Config) {
    let t = &metrics.timings;
    // tokio's multi-threaded runtime runs one worker per core.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    for node in [NODES.command_source, NODES.command_handler, NODES.validator, NODES.query_api] {
        t.set_concurrency(node, "servers", workers);
    }
    // The threads share the machine's cores; the commit mostly waits on its fsync. Stated
    // on the first request station the design has (a read/write separation has no command
    // handler node of its own).
    if let Some(node) = [NODES.command_handler, NODES.validator, NODES.query_api]
        .into_iter()
        .find(|n| !n.is_empty())
    {
        t.set_concurrency(node, "host_cores", workers);
    }
    t.set_concurrency(NODES.write_commit, "off_host", 1);
    t.set_concurrency(NODES.write_commit, "servers", 1);
    t.set_concurrency(NODES.write_commit, "batch", config.max_batch as u64);
    if !config.commit_rest.is_zero() {
        t.set_concurrency(NODES.write_commit, "rest_us", config.commit_rest.as_micros() as u64);
    }
    t.set_concurrency(NODES.event_router, "servers", 1);
    t.set_concurrency(NODES.event_router, "batch", crate::bus::ROUTE_BATCH as u64);
{%- if plan.uses("bus_nats") %}
    // The in-process router rests between reads of the log; the NATS publisher does not.
    if config.nats_url.is_none() {
        t.set_concurrency(NODES.event_router, "interval_us", crate::bus::ROUTE_REST.as_micros() as u64);
    }
{%- else %}
    t.set_concurrency(NODES.event_router, "interval_us", crate::bus::ROUTE_REST.as_micros() as u64);
{%- endif %}
    t.set_concurrency(NODES.ordering, "servers", config.partitions as u64);
    t.set_concurrency(NODES.delivery, "servers", config.partitions as u64);
    for (_, p, v) in NODES.projectors {
        t.set_concurrency(p, "servers", 1);
        t.set_concurrency(p, "batch", crate::bus::APPLY_BATCH as u64);
        t.set_concurrency(p, "interval_us", crate::bus::APPLY_INTERVAL.as_micros() as u64);
        t.set_concurrency(v, "servers", workers);
    }
{%- for p in plan.projectors %}{% if p.view.kind == "search" %}
    // {{ p.view.node }} shows what {{ p.node }} applied only at a commit, at most every REFRESH.
    t.set_concurrency(
        "{{ p.node }}",
        "visible_interval_us",
        projections::{{ p.module }}::REFRESH.as_micros() as u64,
    );
{%- endif %}{% endfor %}
}

/// View names of the query API, with their projectors.
pub const VIEWS: &[(&str, &str)] = &[
{%- for p in plan.projectors %}
    (projections::{{ p.module }}::VIEW, projections::{{ p.module }}::PROJECTOR),
{%- endfor %}
];

/// The OpenAPI document, generated from the handler and type annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "{{ plan.crate_name }}", description = "Generated by fz gen from a FlowZap diagram."),
    paths(
{%- for a in plan.aggregates %}{% for c in a.commands %}
        commands::{{ c.slug }},
{%- endfor %}{% endfor %}
{%- for p in plan.projectors %}
        query::{{ p.view.slug }}_list,
        query::{{ p.view.slug }}_get,
{%- if p.view.kind == "search" %}
        query::{{ p.view.slug }}_search,
{%- endif %}
{%- endfor %}
        health,
{%- if plan.uses("lag_monitor") %}
        crate::lag::lag,
{%- endif %}
{%- if plan.uses("idempotency") %}
        crate::submit::submit,
{%- endif %}
{%- if plan.uses("consistency_check") %}
        crate::consistency::check,
{%- endif %}
    )
)]
pub struct ApiDoc;

/// A running service: its state and event bus.
pub struct App {
    pub state: Arc<AppState>,
    bus: Option<Bus>,
{%- if plan.uses("notification_websocket") %}
    notifier: Option<std::thread::JoinHandle<()>>,
{%- endif %}
}

impl App {
{%- if plan.uses("authorize") %}
    /// Opens everything under `config.data_dir` and starts the event bus; commands
    /// need a bearer token signed with `JWT_SECRET` (dev mode without it).
    pub fn start(config: Config) -> Result<App, AppError> {
        App::start_with(config, crate::auth::Auth::from_env()?)
    }

    /// [`App::start`] with the given token check.
    pub fn start_with(config: Config, auth: crate::auth::Auth) -> Result<App, AppError> {
{%- else %}
    /// Opens everything under `config.data_dir` and starts the event bus.
    // One push per projector: a diagram with a single view trips `vec_init_then_push`.
    #[allow(clippy::vec_init_then_push)]
    pub fn start(config: Config) -> Result<App, AppError> {
{%- endif %}
        let store = EventStore::open(
            &config.data_dir,
            config.max_batch,
            config.commit_rest,
            config.database_url.as_deref(),
            config.pg_schema.as_deref(),
        )?;
{%- if plan.uses("store_table") %}
        let pg = config.pg();
{%- endif %}
{%- if plan.uses("store_table") || plan.uses("store_cube") || plan.uses("store_search") %}
        let views_dir = config.data_dir.join("views");
{%- endif %}
        let metrics = Arc::new(Metrics::new(PROJECTORS, &NODES));
        let n = config.partitions;
        store.time_with(metrics.clone());
        concurrency(&metrics, &config);
        let mut projectors: Vec<Box<dyn Projector>> = Vec::with_capacity(PROJECTORS.len());
{%- for p in plan.projectors %}

        // {{ p.node }} "{{ p.label }}" -> {{ p.view.node }} "{{ p.view.label }}"
{%- if p.view.kind == "cache" %}
        #[allow(unused_mut)]
{%- if p.view.redis %}
        let (mut p, v_{{ p.module }}) = projections::{{ p.module }}::open(&config, &store)?;
        // In Redis (REDIS_URL): durable, caught up from the checkpoints it holds; in
        // memory: rebuilt from the store.
{%- else %}
        let (mut p, v_{{ p.module }}) = projections::{{ p.module }}::open();
        // In-memory view: rebuilt from the store on start.
{%- endif %}
        catch_up(&store, &mut p, n)?;
        projectors.push(Box::new(p));
{%- else if p.view.kind == "search" %}
        let (p, v_{{ p.module }}) = projections::{{ p.module }}::open(&views_dir)?;
        projectors.push(Box::new(p));
{%- else %}
{%- if p.view.kind == "table" %}
        projectors.push(Box::new(projections::{{ p.module }}::{{ p.projector_type }}::open(&views_dir, pg)?));
        let v_{{ p.module }} = projections::{{ p.module }}::{{ p.view.type_name }}::open(&views_dir, pg)?;
{%- else %}
        projectors.push(Box::new(projections::{{ p.module }}::{{ p.projector_type }}::open(&views_dir)?));
        let v_{{ p.module }} = projections::{{ p.module }}::{{ p.view.type_name }}::open(&views_dir)?;
{%- endif %}
{%- endif %}
{%- endfor %}

{%- if plan.uses("bus_nats") %}
        // NATS JetStream with NATS_URL, else in process.
        let bus = crate::nats::start_bus(&config, store.clone(), projectors, n, metrics.clone())?;
{%- else %}
        let bus = Bus::start(store.clone(), projectors, n, metrics.clone())?;
{%- endif %}
{%- if plan.uses("consistency_check") %}
        let check_every = config.consistency_check_secs;
{%- endif %}
        let state = Arc::new(AppState {
            aggregates: commands::Aggregates::new(config.aggregate_cache),
            config,
            store,
            metrics,
            views: Views {
{%- for p in plan.projectors %}
                {{ p.view.slug }}: v_{{ p.module }},
{%- endfor %}
            },
            bus: bus.control(),
{%- if plan.uses("consistency_check") %}
            consistency: Default::default(),
{%- endif %}
{%- if plan.uses("authorize") %}
            auth,
{%- endif %}
{%- if plan.uses("notification_websocket") %}
            notifier: crate::notify::Notifier::default(),
{%- endif %}
        });
{%- if plan.uses("notification_websocket") %}
        let weak = Arc::downgrade(&state);
        let notifier = std::thread::Builder::new()
            .name("notifier".into())
            .spawn(move || crate::notify::run(weak))?;
{%- endif %}
{%- if plan.uses("consistency_check") %}
        crate::consistency::start(state.clone(), check_every)?;
{%- endif %}
        Ok(App {
            state,
            bus: Some(bus),
{%- if plan.uses("notification_websocket") %}
            notifier: Some(notifier),
{%- endif %}
        })
    }

    /// The HTTP routes.
    pub fn router(&self) -> Router {
        Router::new()
{%- for a in plan.aggregates %}{% for c in a.commands %}
            .route("/commands/{{ c.slug }}", post(commands::{{ c.slug }}))
{%- endfor %}{% endfor %}
{%- if plan.uses("idempotency") %}
            .route("/commands", post(crate::submit::submit))
{%- endif %}
{%- if plan.uses("authorize") %}
            // Only the routes above (the commands) need a token.
            .route_layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                crate::auth::authorize,
            ))
{%- endif %}
{%- if plan.uses("notification_websocket") %}
            .route("/ws", get(crate::notify::ws))
{%- endif %}
{%- if plan.uses("web_ui") %}
            .route("/", get(crate::web::index))
            .route("/app.js", get(crate::web::app_js))
            .route("/app.css", get(crate::web::app_css))
{%- endif %}
{%- for p in plan.projectors %}
            .route("/views/{{ p.view.slug }}", get(query::{{ p.view.slug }}_list))
{%- if p.view.kind == "search" %}
            .route("/views/{{ p.view.slug }}/search", get(query::{{ p.view.slug }}_search))
{%- endif %}
            .route("/views/{{ p.view.slug }}/{id}", get(query::{{ p.view.slug }}_get))
{%- endfor %}
            .route("/health", get(health))
{%- if plan.uses("lag_monitor") %}
            .route("/lag", get(crate::lag::lag))
{%- endif %}
{%- if plan.uses("consistency_check") %}
            .route("/admin/consistency-check", post(crate::consistency::check))
{%- endif %}
            .route("/metrics", get(metrics))
            .route("/openapi.json", get(openapi))
            .with_state(self.state.clone())
    }

    /// Delivers every committed event to the projectors, then stops.
    pub fn shutdown(mut self) {
{%- for p in plan.projectors %}{% if p.view.redis %}
        // A projector still waiting for Redis gives up: it resumes from Redis's checkpoints.
        self.state.views.{{ p.view.slug }}.close();
{%- endif %}{% endfor %}
        if let Some(bus) = self.bus.take() {
            bus.stop();
        }
{%- if plan.uses("notification_websocket") %}
        self.state.notifier.stop();
        if let Some(t) = self.notifier.take() {
            let _ = t.join();
        }
{%- endif %}
        self.state.store.close();
    }
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, body = String)))]
pub async fn health() -> Json<&'static str> {
    Json("ok")
}

async fn metrics(
    axum::extract::State(app): axum::extract::State<Arc<AppState>>,
) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        {
            #[allow(unused_mut)]
            let mut text = app.metrics.render();
{%- if plan.uses("lag_monitor") %}
            text += &crate::lag::render(&app.metrics);
{%- endif %}
{%- if plan.uses("notification_websocket") %}
            text += &app.notifier.render();
{%- endif %}
{%- if plan.uses("consistency_check") %}
            text += &crate::consistency::render(&app.consistency);
{%- endif %}
            text
        },
    )
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Serves HTTP on `config.port` until Ctrl-C, then shuts down cleanly.
pub async fn serve(config: Config) -> Result<(), AppError> {
    let port = config.port;
    let app = tokio::task::spawn_blocking(move || App::start(config))
        .await
        .map_err(|e| AppError::Io(std::io::Error::other(e)))??;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
{%- if plan.uses("authorize") %}
    if app.state.auth.is_dev() {
        eprintln!(
            "JWT_SECRET is not set: dev mode, commands are accepted without a bearer token. \
             Set JWT_SECRET (at least {} bytes) to require an HS256 token; \
             `{{ plan.crate_name }} mint-token <subject>` prints one.",
            crate::auth::MIN_SECRET
        );
    }
{%- endif %}
    // Answers leave at once: without TCP_NODELAY a response written while the
    // previous one is unacknowledged waits for the client's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let routes = app
        .router()
        .layer(axum::middleware::from_fn(crate::metrics::count_request));
    axum::serve(listener, routes)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    tokio::task::spawn_blocking(move || app.shutdown())
        .await
        .map_err(|e| AppError::Io(std::io::Error::other(e)))?;
    Ok(())
}

/// Rebuilds one view from the event store (`cargo run -- rebuild <view>`).
pub fn rebuild(config: &Config, view: &str) -> Result<u64, AppError> {
    let Some((_, projector)) = VIEWS.iter().find(|(v, p)| *v == view || *p == view) else {
        let known: Vec<&str> = VIEWS.iter().map(|(v, _)| *v).collect();
        return Err(AppError::UnknownView(view.to_string(), known.join(", ")));
    };
    let store = EventStore::open(
        &config.data_dir,
        config.max_batch,
        config.commit_rest,
        config.database_url.as_deref(),
        config.pg_schema.as_deref(),
    )?;
    #[allow(unused_variables)]
    let dir = config.data_dir.join("views");
    #[allow(unused_variables)]
    let pg = config.pg();
    let mut p: Box<dyn Projector> = match *projector {
{%- for p in plan.projectors %}
{%- if p.view.kind == "cache" %}
{%- if p.view.redis %}
        projections::{{ p.module }}::PROJECTOR => Box::new(projections::{{ p.module }}::open(config, &store)?.0),
{%- else %}
        projections::{{ p.module }}::PROJECTOR => Box::new(projections::{{ p.module }}::open().0),
{%- endif %}
{%- else if p.view.kind == "search" %}
        projections::{{ p.module }}::PROJECTOR => Box::new(projections::{{ p.module }}::open(&dir)?.0),
{%- else if p.view.kind == "table" %}
        projections::{{ p.module }}::PROJECTOR => Box::new(projections::{{ p.module }}::{{ p.projector_type }}::open(&dir, pg)?),
{%- else %}
        projections::{{ p.module }}::PROJECTOR => Box::new(projections::{{ p.module }}::{{ p.projector_type }}::open(&dir)?),
{%- endif %}
{%- endfor %}
        other => return Err(AppError::UnknownView(other.to_string(), String::new())),
    };
    p.reset()?;
    let n = catch_up(&store, p.as_mut(), config.partitions)?;
    store.close();
    Ok(n)
}
