//! Assembling and running the server: the router ([`app`]), and [`run`], which serves it on a
//! listener until a shutdown future resolves, then drains.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use socketioxide::adapter::Adapter;
use switchyard_core::routing;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::api;
use crate::config::Config;
use crate::hub::{Switchyard, now};

/// The whole HTTP surface of a hub: Socket.IO, the API, health, metrics, and the demo routes
/// when the hub runs in demo mode.
pub fn app<A: Adapter>(hub: Switchyard<A>) -> Router {
    let api = api::routes(&hub).layer(axum::middleware::from_fn_with_state(
        hub.clone(),
        api::require_api_key::<A>,
    ));
    let mut router = Router::new()
        .route("/healthz", get(healthz::<A>))
        .route("/readyz", get(readyz::<A>))
        .route("/metrics", get(metrics::<A>))
        .nest("/api/v1", api);
    if let Some(demo) = &hub.shared.config.demo {
        router = router.merge(crate::demo::routes(&hub, demo));
    }
    let mut router = router
        .route_layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            api::track::<A>,
        ))
        .with_state(hub.clone());
    if let Some(layer) = hub.socket_layer() {
        router = router.layer(layer);
    }
    if let Some(cors) = cors(&hub.shared.config.cors_origins) {
        router = router.layer(cors);
    }
    router.layer(tower_http::trace::TraceLayer::new_for_http())
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
    if hub.shared.shutting_down.load(Ordering::SeqCst) {
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
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        hub.shared.metrics.render(),
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
    if let Some(demo) = hub.shared.config.demo.clone() {
        tokio::spawn(crate::demo::feed(hub.clone(), demo.feed_interval));
    }
    let app = app(hub.clone());
    let drain = {
        let hub = hub.clone();
        async move {
            shutdown.await;
            drain(&hub).await;
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(drain)
        .await?;
    Ok(())
}

async fn drain<A: Adapter>(hub: &Switchyard<A>) {
    let shared = &hub.shared;
    shared.shutting_down.store(true, Ordering::SeqCst);
    tracing::info!("shutting down: finishing API calls in flight");
    let deadline = Instant::now() + shared.config.shutdown_grace;
    while shared.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = hub.publish(&routing::shutdown(now())).await;
    // Long-polling clients fetch the notice on their next poll; give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Closing the transports (not a namespace disconnect) lets clients reconnect on their own
    // once a server is back.
    hub.get_io().close().await;
    tracing::info!("sockets closed");
}
