//! Assembly: the only module that names every layer. It builds a hub (the Socket.IO instance,
//! the stores, the delivery layer, the socket handlers: [`Switchyard::new`]), its router
//! ([`app`], [`Switchyard::get_server`]), and runs it ([`run`], [`serve`]) until a shutdown
//! future resolves, then drains.

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
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
use crate::metrics::RateKind;
use crate::store::memory::{MemoryPresence, MemoryStreams};
use crate::store::redis::{ClusterError, RedisCluster, RedisPresence, RedisSettings, RedisStreams};
use crate::store::{Cluster, Incoming};

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
            None,
        );
        io.ns("/", socket::handler(&hub));
        Switchyard(hub)
    }

    /// A cluster node (contract section 9): presence, streams and the node registry in the
    /// Redis at `config.redis_url`, shared with every other node pointed at it. Fails when
    /// Redis cannot be reached or a live node holds `config.node_id`.
    ///
    /// ```no_run
    /// # async fn example(config: switchyard_host::Config) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut config = config;
    /// config.redis_url = Some("redis://127.0.0.1:6379/".into());
    /// let hub = switchyard_host::Switchyard::connect(config).await?;
    /// # let _ = hub; Ok(()) }
    /// ```
    pub async fn connect(config: Config) -> Result<Self, ClusterError> {
        let url = config
            .redis_url
            .clone()
            .ok_or_else(|| ClusterError::Url("no Redis URL given".into()))?;
        let joined = RedisCluster::connect(RedisSettings {
            url,
            node_id: config.node_id.clone(),
            presence_ttl: config.presence_ttl,
            retention: config.retention,
        })
        .await?;
        let cluster = joined.cluster;
        let (layer, io) = socket_builder(&config.limits).build_layer();
        let ttl = config.presence_ttl;
        let hub = Hub::new(
            config,
            io.clone(),
            layer,
            Box::new(RedisPresence(cluster.clone())),
            Box::new(RedisStreams(cluster.clone())),
            Some(cluster as std::sync::Arc<dyn Cluster>),
        );
        io.ns("/", socket::handler(&hub));
        tokio::spawn(cluster_traffic(hub.clone(), joined.incoming));
        for user in joined.offline {
            hub.announce_offline(user).await;
        }
        tokio::spawn(heartbeat(hub.clone(), ttl));
        tracing::info!(node = %hub.config.node_id, "cluster node registered");
        Ok(Switchyard(hub))
    }
}

/// Delivers what the cluster sends, one message at a time, in Redis's order.
async fn cluster_traffic<A: Adapter>(
    hub: std::sync::Arc<Hub<A>>,
    mut incoming: tokio::sync::mpsc::Receiver<Incoming>,
) {
    while let Some(message) = incoming.recv().await {
        hub.deliver_incoming(message).await;
    }
}

/// Refreshes this node's heartbeat every third of the TTL, and every second reaps the nodes
/// that stopped refreshing theirs (announcing their users' departure when this node wins).
async fn heartbeat<A: Adapter>(hub: std::sync::Arc<Hub<A>>, ttl: Duration) {
    let Some(cluster) = hub.cluster().cloned() else {
        return;
    };
    let refresh = (ttl / 3).max(Duration::from_millis(200));
    let mut last = Instant::now();
    let mut every = tokio::time::interval(Duration::from_secs(1).min(refresh));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if hub.lifecycle.is_shutting_down() {
            return;
        }
        if last.elapsed() >= refresh {
            match cluster.heartbeat().await {
                Ok(dropped) => {
                    last = Instant::now();
                    if dropped {
                        tracing::warn!("this node had been reaped; registering its sockets again");
                        hub.deliver_incoming(Incoming::Resync).await;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
            }
        }
        if hub.has_departures() {
            hub.retry_departures().await;
        }
        match cluster.reap().await {
            Ok(reaped) => {
                hub.metrics.reaped(reaped.nodes, reaped.users.len());
                for user in reaped.users {
                    tracing::info!(%user, "reaped a dead node's last socket of this user");
                    hub.announce_offline(user).await;
                }
            }
            Err(e) => tracing::debug!(error = %e, "reaping failed"),
        }
    }
}

/// The Socket.IO instance with the configured limits (any adapter goes on from here).
fn socket_builder(limits: &Limits) -> socketioxide::SocketIoBuilder<LocalAdapter> {
    let max = limits
        .max_socket_message_bytes
        .get()
        .map_or(u64::MAX, |n| n.get());
    let max_usize = usize::try_from(max).unwrap_or(usize::MAX);
    // Off is "longer than any session lives": tokio's timer saturates a far deadline.
    let connect_timeout = if limits.connect_timeout.is_zero() {
        Duration::MAX
    } else {
        limits.connect_timeout
    };
    SocketIo::builder()
        .max_payload(max)
        .ws_max_message_size(max_usize)
        .ws_max_frame_size(max_usize)
        .max_buffer_size(limits.socket_buffer_events)
        .ws_read_buffer_size(WS_READ_BUFFER)
        .connect_timeout(connect_timeout)
        // The binary attachments of one packet arrive as separate websocket messages, each
        // within the limit above, and socketioxide keeps them until the packet is complete, by
        // default up to 10 MB per session, even one that never authenticates. Switchyard reads
        // no binary data, so a packet with its attachments is held to one message's size.
        .with_parser(ParserConfig::common().max_incoming_binary_buf_size(max_usize))
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
        ))
        // Outside the Socket.IO layer (and the transport tracking), so a refused handshake
        // never reaches Engine.IO.
        .layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            limit_handshakes::<A>,
        ));
    if let Some(cors) = cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(tower_http::trace::TraceLayer::new_for_http().on_failure(log_failure))
        // Outermost, so that every answer, the CORS layer's and the handshake limiter's too,
        // says when its connection will close.
        .layer(axum::middleware::from_fn(conn::close_unread))
}

/// The websocket transport's read buffer, per connection, resident for every connected client
/// (engineioxide's default is 4 KiB). Clients send small packets: a pong is one byte, a
/// subscribe well under 100; only a `refresh` carries a token of a few hundred bytes. A larger
/// message is still read whole, in more reads. 512 rather than 1024 bytes: 11.45 → 10.85 KiB
/// per connection (5,000 clients, bench/leads.md).
const WS_READ_BUFFER: usize = 512;

/// Where socketioxide serves Engine.IO (its default request path).
const SOCKET_IO_PATH: &str = "/socket.io";

/// `--connects-per-sec`: an Engine.IO handshake (a request to the Socket.IO path without a
/// `sid`, which opens a session, on either transport) spends one of its client address's
/// budget; over it the request is answered 429 `rate_limited` with `Retry-After` before any
/// session exists. The requests of an open session (polls, the websocket upgrade) carry their
/// `sid` and are not counted.
async fn limit_handshakes<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    req: Request,
    next: Next,
) -> Response {
    let h = hub.hub();
    let Some(limiter) = &h.rates.connects else {
        return next.run(req).await;
    };
    if !is_handshake(&req) {
        return next.run(req).await;
    }
    // No address (a router served without connect info, and no trusted header): nothing to
    // key on, so not limited.
    let Some(ip) = client_ip(&req, h.config.limits.trust_proxy_headers) else {
        return next.run(req).await;
    };
    match limiter.check(&rate_key(ip)) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            h.metrics.rate_limited(RateKind::Connect);
            tracing::debug!(%ip, "handshake over the rate limit");
            api::rate_limited(
                format!(
                    "more than {} new connections per second from this address",
                    h.config.limits.connects_per_sec
                ),
                wait,
            )
        }
    }
}

/// Whether a request opens a new Engine.IO session (a GET, for either transport: the websocket
/// upgrade is a GET too).
fn is_handshake(req: &Request) -> bool {
    req.method() == Method::GET
        && req.uri().path().starts_with(SOCKET_IO_PATH)
        && conn::engine_param(req.uri(), "sid").is_none()
}

/// The client's address: the first `X-Forwarded-For` entry when proxy headers are trusted
/// (falling back to the peer when it is missing or not an address), else the peer's.
fn client_ip(req: &Request, trust_proxy_headers: bool) -> Option<IpAddr> {
    if trust_proxy_headers {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|first| first.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    // `serve` gives every request its connection (ConnInfo); a router served by its owner
    // with `into_make_service_with_connect_info::<SocketAddr>()` has the bare address.
    let ext = req.extensions();
    ext.get::<ConnectInfo<ConnInfo>>()
        .map(|ConnectInfo(conn)| conn.addr.ip())
        .or_else(|| {
            ext.get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip())
        })
}

/// The limiter's key for an address: IPv4 as is, IPv6 by its /64 (one host usually holds a
/// whole /64, so keying by full address would give it billions of budgets).
fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
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
    // A single node has no backend to reach; a cluster node needs Redis to answer and its
    // pubsub connection to be subscribed.
    if let Some(cluster) = hub.hub().cluster()
        && !cluster.is_ready()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "unavailable" })),
        )
            .into_response();
    }
    healthz(State(hub)).await
}

async fn metrics<A: Adapter>(State(hub): State<Switchyard<A>>) -> Response {
    if let Some(cluster) = hub.hub().cluster() {
        let h = cluster.health();
        hub.hub().metrics.set_redis(h.up, h.errors, h.ping);
    }
    hub.hub().refresh_presence_gauges().await;
    let (api_keys, addresses) = hub.hub().rates.key_counts();
    let m = &hub.hub().metrics;
    m.set_rate_limiter_keys(RateKind::Api, api_keys);
    m.set_rate_limiter_keys(RateKind::Connect, addresses);
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

/// Why the server stopped with an error. Serving itself cannot fail: a failed accept is
/// logged and retried ([`Listener`]), a failed connection ends only that connection.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Cluster mode could not start.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Serves a hub built from `config` on `listener` until `shutdown` resolves; then refuses new
/// API calls and connections, lets in-flight API calls finish (up to the configured grace),
/// tells every client `system_shutdown`, closes the sockets and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    if config.redis_url.is_some() {
        let hub = Switchyard::connect(config).await?;
        return serve(listener, hub, shutdown).await;
    }
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
    // With the peer's address in each request (ConnInfo), for --connects-per-sec too.
    let head = hub.hub().config.limits.header_read_timeout;
    conn::serve(Listener::new(listener), app, head, drain).await;
    Ok(())
}

/// Expiry happens on every access to a stream anyway; this frees what idle streams hold and
/// keeps the retention gauges current. It also drops the rate limiters' idle keys.
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
        // Keys whose budget has refilled are forgotten, so the limiters' memory follows the
        // clients active in the last seconds, not every address ever seen.
        hub.hub().rates.retain_recent();
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
    if let Some(cluster) = hub.cluster() {
        // The sockets' own departures race this; each one is dropped (and its user announced)
        // by whichever gets to it first.
        match cluster.leave().await {
            Ok(users) => {
                for user in users {
                    hub.announce_offline(user).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not leave the cluster's registry"),
        }
    }
}
