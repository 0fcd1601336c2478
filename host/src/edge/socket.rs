//! The Socket.IO edge: handshake authentication, the client events (`subscribe`,
//! `unsubscribe`, `logout`, `refresh`, anything else), and presence on connect and disconnect. Each
//! handler turns wire input into core types, asks the delivery layer, and writes the answer.
//!
//! Handlers are generic over socketioxide's `Adapter` so the same code serves a single node and
//! a cluster. Everything a client can send arrives through `TryData`, so a malformed payload
//! still gets a coded acknowledgement instead of being dropped.
//!
//! All per-socket setup happens in the [`authenticate`] middleware, not in the connect handler:
//! socketioxide sends CONNECT before the handler runs, so a client that emits at once would
//! otherwise race the registration of `on(..)` and lose its first event.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Event, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use switchyard_core::event::names;
use switchyard_core::protocol::{Ack, AckError};
use switchyard_core::{ErrorCode, Input};
use tokio::sync::Notify;

use crate::delivery::Hub;
use crate::metrics::RateKind;
use crate::rate::EventBudget;
use crate::reply::Reply;

#[derive(Deserialize)]
pub(crate) struct AuthPayload {
    token: Option<String>,
    /// Positions to recover the own user room and `broadcast` from (read by the core; a
    /// malformed entry counts as absent).
    since: Option<Input<'static>>,
}

/// The default namespace's connect handler, for the assembly to register with `io.ns("/", …)`.
pub(crate) fn handler<A: Adapter>(hub: &Arc<Hub<A>>) -> impl ConnectHandler<A, (SocketRef<A>,)> {
    let on_auth = {
        let hub = hub.clone();
        move |socket: SocketRef<A>, TryData(auth): TryData<AuthPayload>| {
            authenticate(hub, socket, auth.ok())
        }
    };
    let on_connect = {
        let hub = hub.clone();
        move |socket: SocketRef<A>| welcome(hub, socket)
    };
    on_connect.with(on_auth)
}

/// A refused handshake's `connect_error` message: the code, and nothing more.
pub(crate) struct Refusal(ErrorCode);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Connect middleware: verifies the token, attaches the socket (per-user slot, user room,
/// presence), and registers every handler.
async fn authenticate<A: Adapter>(
    hub: Arc<Hub<A>>,
    socket: SocketRef<A>,
    auth: Option<AuthPayload>,
) -> Result<(), Refusal> {
    let refuse = |code: ErrorCode| {
        hub.metrics.connection_refused(code.as_str());
        Refusal(code)
    };
    if hub.lifecycle.is_shutting_down() {
        return Err(refuse(ErrorCode::ShuttingDown));
    }
    let (token, since) = auth.map_or((None, None), |a| (a.token, a.since));
    let token = token.ok_or_else(|| {
        tracing::debug!(sid = %socket.id, "refused: no token");
        refuse(ErrorCode::Unauthorized)
    })?;
    let user = hub.config.jwt.verify(&token).map_err(|e| {
        tracing::debug!(sid = %socket.id, error = %e, "refused: bad token");
        refuse(ErrorCode::Unauthorized)
    })?;
    // The new socket is attached (and its user announced) before CONNECT reaches the client,
    // so it cannot be in `system_presence` yet and never hears its own arrival.
    hub.attach(&socket, user, since.as_ref())
        .await
        .map_err(|e| {
            tracing::info!(sid = %socket.id, error = %e, "refused");
            refuse(e.code())
        })?;
    on(&hub, &socket);
    Ok(())
}

/// The client events socketioxide routes by name; anything else is answered `unknown_event`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientEvent {
    Subscribe,
    Unsubscribe,
    Logout,
    Refresh,
    Unknown,
}

impl ClientEvent {
    fn of(name: &str) -> Self {
        match name {
            names::SUBSCRIBE => Self::Subscribe,
            names::UNSUBSCRIBE => Self::Unsubscribe,
            names::LOGOUT => Self::Logout,
            names::REFRESH => Self::Refresh,
            _ => Self::Unknown,
        }
    }

    /// Whether the event waits for the events before it: a refresh that narrows the rooms
    /// applies after the subscribes sent before it, and before those sent after it.
    fn in_turn(self) -> bool {
        matches!(self, Self::Subscribe | Self::Unsubscribe | Self::Refresh)
    }

    /// The metrics label, and the name `admit` logs.
    fn label(self) -> &'static str {
        match self {
            Self::Subscribe => names::SUBSCRIBE,
            Self::Unsubscribe => names::UNSUBSCRIBE,
            Self::Logout => names::LOGOUT,
            Self::Refresh => names::REFRESH,
            Self::Unknown => "unknown",
        }
    }
}

/// The client events of one attached socket, in one handler that dispatches on the event's
/// name. socketioxide gives every socket a map of its handlers, each boxed: four named ones
/// cost about 0.6 KiB of every connection (heaptrack), and a fallback alone costs one box.
/// Every event starts with [`Events::admit`], in arrival order.
fn on<A: Adapter>(hub: &Arc<Hub<A>>, socket: &SocketRef<A>) {
    let events = Events::new(EventBudget::new(hub.config.limits.socket_events_per_sec));
    let h = hub.clone();
    socket.on_fallback(
        move |s: SocketRef<A>,
              Event(name): Event,
              TryData(data): TryData<Input<'static>>,
              ack: Reply<A>| {
            let event = ClientEvent::of(&name);
            // Admitted (or refused) in arrival order, before the event waits for its turn.
            let admitted = events.admit(&h, &s, event.label());
            let turn = event.in_turn().then(|| events.take());
            // A logout is answered at once (see `logout`); its task has nothing left to do.
            let admitted = if event == ClientEvent::Logout {
                logout(&h, &s, &ack, admitted);
                None
            } else {
                Some(admitted)
            };
            let h = h.clone();
            async move {
                let Some(admitted) = admitted else { return };
                // Refused ones wait their turn too: a turn given up early would let the next
                // event overtake one still running (see `Turn`'s drop).
                if let Some(turn) = &turn {
                    turn.wait().await;
                }
                let result = match (event, admitted) {
                    (ClientEvent::Subscribe, Err(e)) => {
                        h.answer(&s, &ack, &Ack::err(e));
                        return;
                    }
                    (_, Err(e)) => Err(e),
                    (ClientEvent::Subscribe, Ok(())) => {
                        h.metrics.client_event(names::SUBSCRIBE);
                        h.subscribe(&s, &payload(data), &ack).await;
                        return;
                    }
                    (ClientEvent::Unsubscribe, Ok(())) => {
                        h.unsubscribe(&s, &payload(data)).map(Ack::ok_room)
                    }
                    (ClientEvent::Refresh, Ok(())) => h.refresh(&s, &payload(data)),
                    // A logout returned above.
                    (ClientEvent::Unknown | ClientEvent::Logout, Ok(())) => {
                        Err(AckError::unknown_event(&name))
                    }
                };
                if event == ClientEvent::Unsubscribe {
                    h.sync_rooms_later(&s);
                }
                answer(h, event.label(), &s, ack, result).await;
            }
        },
    );
    let h = hub.clone();
    socket.on_disconnect(
        move |s: SocketRef<A>, reason: DisconnectReason| async move {
            tracing::debug!(sid = %s.id, %reason, "disconnected");
            h.metrics.disconnected(reason_label(reason));
            h.end_session(&s);
            h.detach(s.id).await;
        },
    );
}

/// `logout`, answered while socketioxide calls the handler: the acknowledgement is queued before
/// the disconnect packet, so the client gets both in order. Not `Hub::answer`: a full queue must
/// not make a logging-out socket a slow consumer, whose cut transport the client would
/// reconnect after.
fn logout<A: Adapter>(
    hub: &Hub<A>,
    socket: &SocketRef<A>,
    ack: &Reply<A>,
    admitted: Result<(), AckError>,
) {
    if let Err(e) = admitted {
        hub.answer(socket, ack, &Ack::err(e));
        return;
    }
    hub.metrics.client_event(names::LOGOUT);
    let _ = ack.try_send(&Ack::ok());
    let _ = socket.clone().disconnect();
}

/// One socket's event state: its budget of client events, and the order of its subscribes,
/// unsubscribes and refreshes. One allocation per socket, shared by its handler's clones.
#[derive(Clone)]
struct Events(Arc<EventsInner>);

struct EventsInner {
    /// `--socket-events-per-sec`; None when the limit is off.
    budget: Option<EventBudget>,
    turns: TurnsInner,
}

/// Subscribes and unsubscribes applied in the order they arrived. socketioxide runs every event
/// handler in a task of its own, and a subscribe waits for its stream, so without this a
/// `subscribe` then `unsubscribe` of one room could end subscribed (found by a flood: the socket
/// filled up to `limit_exceeded` with rooms it had left). A handler takes its turn while
/// socketioxide calls it, which is in arrival order, and waits for it in its task.
#[derive(Default)]
struct TurnsInner {
    next: AtomicU64,
    /// The ticket whose turn it is.
    serving: AtomicU64,
    /// Woken whenever `serving` moves. A `Notify` rather than a `watch` channel, whose shared
    /// state was 352 bytes of every connected socket (heaptrack); this is a few words.
    moved: Notify,
}

impl Events {
    fn new(budget: Option<EventBudget>) -> Self {
        Self(Arc::new(EventsInner {
            budget,
            turns: TurnsInner::default(),
        }))
    }

    /// The prologue of every client event: spends one event of the socket's budget
    /// (`--socket-events-per-sec`, every client event counted). Over it the event is refused
    /// with `rate_limited` and counted; the handler answers that in its ack, or, when the
    /// client asked for none, the event is simply dropped.
    fn admit<A: Adapter>(
        &self,
        hub: &Hub<A>,
        socket: &SocketRef<A>,
        event: &'static str,
    ) -> Result<(), AckError> {
        let Some(budget) = &self.0.budget else {
            return Ok(());
        };
        budget.check().map_err(|wait| {
            hub.metrics.rate_limited(RateKind::SocketEvent);
            tracing::debug!(sid = %socket.id, event, "client event over the rate limit");
            AckError::new(
                ErrorCode::RateLimited,
                format!(
                    "more than {} events per second; retry in {} ms",
                    hub.config.limits.socket_events_per_sec,
                    wait.0.as_millis().max(1)
                ),
            )
        })
    }

    fn take(&self) -> Turn {
        Turn {
            ticket: self.0.turns.next.fetch_add(1, Ordering::Relaxed),
            events: self.clone(),
        }
    }
}

/// A place in the order; dropping it (the handler is done) lets the next one go.
struct Turn {
    ticket: u64,
    events: Events,
}

impl Turn {
    async fn wait(&self) {
        let inner = &self.events.0.turns;
        loop {
            let moved = inner.moved.notified();
            tokio::pin!(moved);
            // Registered before the check: a move between the check and the await still
            // wakes this one.
            moved.as_mut().enable();
            if inner.serving.load(Ordering::Acquire) >= self.ticket {
                return;
            }
            moved.await;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // `max`: a turn dropped before it came (its task was cancelled, the socket is going)
        // never holds up the rest. Every handler waits for its turn before it finishes, so
        // this does not let a later event overtake an earlier one that is still running.
        let inner = &self.events.0.turns;
        inner.serving.fetch_max(self.ticket + 1, Ordering::AcqRel);
        inner.moved.notify_waiters();
    }
}

/// Counts the client event and acknowledges it.
fn answer<A: Adapter>(
    hub: Arc<Hub<A>>,
    event: &'static str,
    socket: &SocketRef<A>,
    ack: Reply<A>,
    result: Result<Ack, AckError>,
) -> std::future::Ready<()> {
    hub.metrics.client_event(event);
    hub.answer(socket, &ack, &result.unwrap_or_else(Ack::err));
    std::future::ready(())
}

/// Connect handler: the socket is connected; greet it (and recover what it asked for).
async fn welcome<A: Adapter>(hub: Arc<Hub<A>>, socket: SocketRef<A>) {
    if let Err(e) = hub.welcome(&socket).await {
        tracing::warn!(sid = %socket.id, error = %e, "welcome not completed: cutting the transport");
        hub.welcome_failed(&socket);
    }
}

/// The metrics label of a disconnect reason: a fixed set, so a hostile client that gets its
/// session closed for a malformed packet shows as `packet_parsing_error`.
fn reason_label(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::TransportClose => "transport_close",
        DisconnectReason::MultipleHttpPollingError => "multiple_http_polling",
        DisconnectReason::PacketParsingError => "packet_parsing_error",
        DisconnectReason::TransportError => "transport_error",
        DisconnectReason::HeartbeatTimeout => "heartbeat_timeout",
        DisconnectReason::ClientNSDisconnect => "client_disconnect",
        DisconnectReason::ServerNSDisconnect => "server_disconnect",
        DisconnectReason::ClosingServer => "closing_server",
    }
}

fn payload(data: Result<Input<'static>, impl fmt::Display>) -> Input<'static> {
    // No argument, or one that is not JSON-like, is simply not a valid `{ room }`.
    data.unwrap_or(Input::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Turns taken in one order run in that order, whichever task is polled first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_run_in_the_order_they_were_taken() {
        let turns = Events::new(None);
        let ran = Arc::new(Mutex::new(Vec::new()));
        let taken: Vec<Turn> = (0..20).map(|_| turns.take()).collect();
        let mut tasks = Vec::new();
        // spawned last-first, so without the turns the later ones would tend to run first
        for (i, turn) in taken.into_iter().enumerate().rev() {
            let ran = ran.clone();
            tasks.push(tokio::spawn(async move {
                turn.wait().await;
                tokio::task::yield_now().await;
                ran.lock().map(|mut r| r.push(i)).ok();
            }));
        }
        for t in tasks {
            t.await.ok();
        }
        let ran = ran.lock().map(|r| r.clone()).unwrap_or_default();
        assert_eq!(ran, (0..20).collect::<Vec<_>>());
    }

    /// A turn dropped before it came does not hold up the ones behind it.
    #[tokio::test]
    async fn a_dropped_turn_lets_the_next_go() {
        let turns = Events::new(None);
        let first = turns.take();
        let second = turns.take();
        let third = turns.take();
        drop(second);
        drop(first);
        third.wait().await;
    }
}
