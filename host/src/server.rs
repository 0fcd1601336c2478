//! Assembly: the only module that names every layer. It builds a hub (the Socket.IO instance,
//! the stores, the delivery layer, the socket handlers: [`Switchyard::new`]), its router
//! ([`app`], [`Switchyard::get_server`]), and runs it ([`run`], [`serve`]) until a shutdown
//! future resolves, then drains.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::{ParserConfig, SocketIo};
use switchyard_core::routing;
use tokio::net::TcpListener;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::auth::ApiKeys;
use crate::clock::{now, now_ms};
use crate::config::{Config, Limits};
use crate::conn::{self, ConnInfo, Listener};
use crate::delivery::Hub;
use crate::edge::{api, demo, socket};
use crate::handle::Switchyard;
use crate::store::memory::{MemoryPresence, MemoryStreams};

impl Switchyard<LocalAdapter> {
    /// A single-node hub, in memory.
    pub fn new(config: Config) -> Self {
        let (layer, io) = socket_builder(&config.limits).build_layer();
        let streams = MemoryStreams::new(config.retention);
        let hub = Hub::new(
            config,
            io.clone(),
            layer,
            Box::new(MemoryPresence::new()),
            Box::new(streams),
        );
        io.ns("/", socket::handler(&hub));
        Switchyard(hub)
    }
}

/// The Socket.IO instance with the configured limits (any adapter goes on from here).
fn socket_builder(limits: &Limits) -> socketioxide::SocketIoBuilder<LocalAdapter> {
    let max = limits.max_socket_message_bytes;
    SocketIo::builder()
        .max_payload(u64::try_from(max).unwrap_or(u64::MAX))
        .ws_max_message_size(max)
        .ws_max_frame_size(max)
        .max_buffer_size(limits.socket_buffer_events)
        // The binary attachments of one packet arrive as separate websocket messages, each
        // within the limit above, and socketioxide keeps them until the packet is complete, by
        // default up to 10 MB per session, even one that never authenticates. Switchyard reads
        // no binary data, so a packet with its attachments is held to one message's size.
        .with_parser(ParserConfig::common().max_incoming_binary_buf_size(max))
}

impl<A: Adapter> Switchyard<A> {
    /// `getServer`: an axum router with the Socket.IO endpoint, the HTTP API, health and
    /// metrics (and the demo routes in demo mode). Merge it into your own app or serve it.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let app = axum::Router::new().merge(hub.get_server());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// axum::serve(listener, app).await?;
    /// # Ok(()) }
    /// ```
    pub fn get_server(&self) -> axum::Router {
        app(self.clone())
    }
}

/// The whole HTTP surface of a hub: Socket.IO, the API, health, metrics, and the demo routes
/// when the hub runs in demo mode.
pub fn app<A: Adapter>(hub: Switchyard<A>) -> Router {
    let config = &hub.hub().config;
    let api = api::routes(&hub, Some(ApiKeys::new(&config.api_keys)));
    let mut router = Router::new()
        .route("/healthz", get(healthz::<A>))
        .route("/readyz", get(readyz::<A>))
        .route("/metrics", get(metrics::<A>))
        .nest("/api/v1", api);
    if let Some(d) = &config.demo {
        router = router.merge(demo::routes(&hub, d));
    }
    let mut router = router
        .route_layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            api::track::<A>,
        ))
        .with_state(hub.clone())
        .layer(hub.socket_layer())
        .layer(axum::middleware::from_fn_with_state(
            hub.hub().transports.clone(),
            conn::track,
        ));
    if let Some(cors) = cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    router.layer(tower_http::trace::TraceLayer::new_for_http().on_failure(log_failure))
}

/// A 5xx is logged at ERROR only when it is a failure: a 503 is a refusal the server means to
/// give (shutting down; in cluster mode, a store it cannot reach, which would otherwise flood
/// the log with one line per call), so it goes to DEBUG like every 4xx.
fn log_failure(class: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span) {
    match class {
        ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE) => {
            tracing::debug!(?latency, "refused with 503");
        }
        other => tracing::error!(classification = %other, ?latency, "response failed"),
    }
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    )
}

async fn healthz<A: Adapter>(State(hub): State<Switchyard<A>>) -> Response {
    if hub.hub().lifecycle.is_shutting_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "shutting_down" })),
        )
            .into_response();
    }
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn readyz<A: Adapter>(State(hub): State<Switchyard<A>>) -> Response {
    // A single node has no backend to reach; in cluster mode this will also ping Redis.
    healthz(State(hub)).await
}

async fn metrics<A: Adapter>(State(hub): State<Switchyard<A>>) -> Response {
    let stats = hub.hub().streams().stats();
    hub.hub()
        .metrics
        .set_streams(stats.streams, stats.events, stats.bytes);
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        hub.hub().metrics.render(),
    )
        .into_response()
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listener failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves a hub built from `config` on `listener` until `shutdown` resolves; then refuses new
/// API calls and connections, lets in-flight API calls finish (up to the configured grace),
/// tells every client `system_shutdown`, closes the sockets and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let hub = Switchyard::new(config);
    serve(listener, hub, shutdown).await
}

/// [`run`] for a hub you built yourself.
pub async fn serve<A: Adapter>(
    listener: TcpListener,
    hub: Switchyard<A>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    if let Some(d) = &hub.hub().config.demo {
        tokio::spawn(demo::feed(hub.clone(), d.feed_interval));
    }
    tokio::spawn(sweep_streams(hub.clone()));
    let app = app(hub.clone());
    let drain = {
        let hub = hub.clone();
        async move {
            shutdown.await;
            drain(&hub).await;
        }
    };
    let make = app.into_make_service_with_connect_info::<ConnInfo>();
    axum::serve(Listener::new(listener), make)
        .with_graceful_shutdown(drain)
        .await?;
    Ok(())
}

/// Expiry happens on every access to a stream anyway; this frees what idle streams hold and
/// keeps the retention gauges current.
async fn sweep_streams<A: Adapter>(hub: Switchyard<A>) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if hub.hub().lifecycle.is_shutting_down() {
            return;
        }
        hub.hub().streams().sweep(now_ms());
        hub.hub().transports.sweep();
    }
}

async fn drain<A: Adapter>(hub: &Switchyard<A>) {
    let hub = hub.hub();
    hub.lifecycle.begin_shutdown();
    tracing::info!("shutting down: finishing API calls in flight");
    let deadline = Instant::now() + hub.config.shutdown_grace;
    while hub.lifecycle.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = hub.publish(&routing::shutdown(now()), "").await;
    // Long-polling clients fetch the notice on their next poll; give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Closing the transports (not a namespace disconnect) lets clients reconnect on their own
    // once a server is back.
    hub.io().close().await;
    tracing::info!("sockets closed");
}
