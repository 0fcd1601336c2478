//! Prometheus metrics. Label values come from fixed sets (the contract's fixed event names with
//! every custom event counted as `custom`, route templates, refusal codes), never from client
//! or backend input, to keep cardinality bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use switchyard_core::event::names;

/// The classic Prometheus text content type, for clients that do not ask for OpenMetrics.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

/// The label for an event: its name if it is one of the contract's fixed names, else
/// `custom` (custom event names come from API callers and must not grow the registry).
fn event_label(event: &str) -> &'static str {
    names::ALL
        .iter()
        .find_map(|(_, name)| (*name == event).then_some(*name))
        .unwrap_or("custom")
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// What a rate limit refused (the `kind` label of `switchyard_rate_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKind {
    /// A client event over `--socket-events-per-sec`.
    SocketEvent,
    /// An API call over `--api-requests-per-sec`.
    Api,
    /// An Engine.IO handshake over `--connects-per-sec`.
    Connect,
}

impl RateKind {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SocketEvent => "socket_event",
            Self::Api => "api",
            Self::Connect => "connect",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    connected_sockets: Gauge,
    online_users: Gauge,
    events_sent: Family<EventLabels, Counter>,
    deliveries_failed: Family<EventLabels, Counter>,
    client_events: Family<EventLabels, Counter>,
    api_requests: Family<RequestLabels, Counter>,
    connections_refused: Family<ReasonLabels, Counter>,
    stream_events_appended: Counter,
    stream_events_replayed: Counter,
    recoveries: Family<OutcomeLabels, Counter>,
    slow_consumers: Counter,
    disconnects: Family<ReasonLabels, Counter>,
    retained_events: Gauge,
    retained_bytes: Gauge,
    streams: Gauge,
    // Cluster mode only (registered by `register_cluster`).
    node_info: Family<NodeLabels, Gauge>,
    redis_up: Gauge,
    redis_errors: Counter,
    redis_ping_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    reaped_users: Counter,
    reaped_nodes: Counter,
    rate_limited: Family<KindLabels, Counter>,
    rate_limiter_keys: Family<KindLabels, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            connected_sockets: Gauge::default(),
            online_users: Gauge::default(),
            events_sent: Family::default(),
            deliveries_failed: Family::default(),
            client_events: Family::default(),
            api_requests: Family::default(),
            connections_refused: Family::default(),
            stream_events_appended: Counter::default(),
            stream_events_replayed: Counter::default(),
            recoveries: Family::default(),
            slow_consumers: Counter::default(),
            disconnects: Family::default(),
            retained_events: Gauge::default(),
            retained_bytes: Gauge::default(),
            streams: Gauge::default(),
            node_info: Family::default(),
            redis_up: Gauge::default(),
            redis_errors: Counter::default(),
            redis_ping_seconds: Gauge::default(),
            reaped_users: Counter::default(),
            reaped_nodes: Counter::default(),
            rate_limited: Family::default(),
            rate_limiter_keys: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "switchyard_connected_sockets",
            "Sockets connected to this node",
            m.connected_sockets.clone(),
        );
        registry.register(
            "switchyard_online_users",
            "Users with at least one socket on this node",
            m.online_users.clone(),
        );
        registry.register(
            "switchyard_events_sent",
            "Events emitted, by event name (one per broadcast)",
            m.events_sent.clone(),
        );
        registry.register(
            "switchyard_delivery_failures",
            "Broadcasts that some socket could not take (full buffer or closed), by event name",
            m.deliveries_failed.clone(),
        );
        registry.register(
            "switchyard_client_events",
            "Events received from clients, by event",
            m.client_events.clone(),
        );
        registry.register(
            "switchyard_api_requests",
            "HTTP API requests, by route template and status",
            m.api_requests.clone(),
        );
        registry.register(
            "switchyard_connections_refused",
            "Socket.IO connections refused, by reason",
            m.connections_refused.clone(),
        );
        registry.register(
            "switchyard_stream_events_appended",
            "Events appended to a stream (one per broadcast)",
            m.stream_events_appended.clone(),
        );
        registry.register(
            "switchyard_stream_events_replayed",
            "Events sent again to a reconnecting or resubscribing socket",
            m.stream_events_replayed.clone(),
        );
        registry.register(
            "switchyard_recoveries",
            "Requests with a since, by outcome (recovered, wrong_epoch, ahead, trimmed, too_many)",
            m.recoveries.clone(),
        );
        registry.register(
            "switchyard_slow_consumers",
            "Sockets disconnected because their queue was full",
            m.slow_consumers.clone(),
        );
        registry.register(
            "switchyard_disconnects",
            "Connected sockets that went away, by reason (e.g. packet_parsing_error: the client \
             sent what the server could not parse, and its session was closed)",
            m.disconnects.clone(),
        );
        registry.register(
            "switchyard_retained_events",
            "Events held in stream history",
            m.retained_events.clone(),
        );
        registry.register(
            "switchyard_retained_bytes",
            "Bytes held in stream history (as counted against --history-max-bytes)",
            m.retained_bytes.clone(),
        );
        registry.register(
            "switchyard_streams",
            "Streams held (in memory mode: those published to and not yet forgotten)",
            m.streams.clone(),
        );
        registry.register(
            "switchyard_rate_limited",
            "Requests refused by a rate limit, by kind (socket_event, api, connect)",
            m.rate_limited.clone(),
        );
        registry.register(
            "switchyard_rate_limiter_keys",
            "Keys a rate limiter remembers (API keys, client addresses), by kind",
            m.rate_limiter_keys.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Adds cluster mode's metrics, with this node's id as `switchyard_node_info{node}`.
    pub fn register_cluster(&mut self, node: &str) {
        let r = &mut self.registry;
        r.register(
            "switchyard_node_info",
            "This node's id (always 1)",
            self.node_info.clone(),
        );
        self.node_info
            .get_or_create(&NodeLabels {
                node: node.to_owned(),
            })
            .set(1);
        r.register(
            "switchyard_redis_up",
            "1 while Redis answers and the node is subscribed to the cluster's traffic",
            self.redis_up.clone(),
        );
        r.register(
            "switchyard_redis_errors",
            "Redis commands that failed",
            self.redis_errors.clone(),
        );
        r.register(
            "switchyard_redis_ping_seconds",
            "Round-trip time of the last PING to Redis",
            self.redis_ping_seconds.clone(),
        );
        r.register(
            "switchyard_reaped_nodes",
            "Dead nodes this node removed from the registry",
            self.reaped_nodes.clone(),
        );
        r.register(
            "switchyard_reaped_users",
            "Users announced offline because their last socket was on a dead node this node reaped",
            self.reaped_users.clone(),
        );
    }

    /// Cluster mode: Redis's state as the node sees it (`errors`: the running total).
    pub fn set_redis(&self, up: bool, errors: u64, ping: Option<std::time::Duration>) {
        self.redis_up.set(i64::from(up));
        let seen = self.redis_errors.get();
        if errors > seen {
            self.redis_errors.inc_by(errors - seen);
        }
        if let Some(p) = ping {
            self.redis_ping_seconds.set(p.as_secs_f64());
        }
    }

    /// Cluster mode: one reap removed `nodes` dead nodes and announced `users` offline.
    pub fn reaped(&self, nodes: usize, users: usize) {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        self.reaped_nodes.inc_by(n(nodes));
        self.reaped_users.inc_by(n(users));
    }

    /// Sets the socket and user gauges.
    pub fn set_presence(&self, sockets: usize, users: usize) {
        self.connected_sockets
            .set(i64::try_from(sockets).unwrap_or(i64::MAX));
        self.online_users
            .set(i64::try_from(users).unwrap_or(i64::MAX));
    }

    /// One broadcast of `event` went out (a custom event counts as `custom`).
    pub fn event_sent(&self, event: &str) {
        self.events_sent
            .get_or_create(&EventLabels {
                event: event_label(event),
            })
            .inc();
    }

    /// A broadcast of `event` could not reach some sockets.
    pub fn delivery_failed(&self, event: &str) {
        self.deliveries_failed
            .get_or_create(&EventLabels {
                event: event_label(event),
            })
            .inc();
    }

    /// A client sent `event` (one of the handled names, or `unknown`).
    pub fn client_event(&self, event: &'static str) {
        self.client_events
            .get_or_create(&EventLabels { event })
            .inc();
    }

    /// An API request finished.
    pub fn api_request(&self, route: &str, status: u16) {
        self.api_requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// A connection was refused.
    pub fn connection_refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// One event was appended to its stream.
    pub fn stream_appended(&self) {
        self.stream_events_appended.inc();
    }

    /// `n` events were replayed to one socket.
    pub fn replayed(&self, n: usize) {
        self.stream_events_replayed
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// A request with a `since` was answered (`recovered`, or why not).
    pub fn recovery(&self, outcome: &'static str) {
        self.recoveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// A socket was disconnected as a slow consumer.
    pub fn slow_consumer(&self) {
        self.slow_consumers.inc();
    }

    /// A connected socket went away (`reason`: one of a fixed set named by the edge).
    pub fn disconnected(&self, reason: &'static str) {
        self.disconnects
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// What the streams hold now.
    pub fn set_streams(&self, streams: usize, events: usize, bytes: usize) {
        let g = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.streams.set(g(streams));
        self.retained_events.set(g(events));
        self.retained_bytes.set(g(bytes));
    }

    /// A rate limit refused one request or event.
    pub fn rate_limited(&self, kind: RateKind) {
        self.rate_limited
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// How many keys the limiter of `kind` remembers now.
    pub fn set_rate_limiter_keys(&self, kind: RateKind, keys: usize) {
        self.rate_limiter_keys
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .set(i64::try_from(keys).unwrap_or(i64::MAX));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_names_and_labels() {
        let m = Metrics::new();
        m.set_presence(2, 1);
        m.event_sent("notification");
        m.event_sent("job_done");
        m.event_sent("ticket_comment");
        m.api_request("/api/v1/broadcast", 202);
        m.disconnected("packet_parsing_error");
        let text = m.render();
        assert!(
            text.contains("switchyard_disconnects_total{reason=\"packet_parsing_error\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("switchyard_connected_sockets 2\n"), "{text}");
        assert!(
            text.contains("switchyard_events_sent_total{event=\"notification\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("switchyard_events_sent_total{event=\"custom\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("job_done"), "{text}");
        assert!(
            text.contains(
                "switchyard_api_requests_total{route=\"/api/v1/broadcast\",status=\"202\"} 1\n"
            ),
            "{text}"
        );
    }
}
