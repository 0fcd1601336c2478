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
            "Streams with a position",
            m.streams.clone(),
        );
        Metrics { registry, ..m }
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
