//! The Socket.IO side: handshake authentication, the client events (`subscribe`,
//! `unsubscribe`, `logout`, anything else), and presence on connect and disconnect.
//!
//! Handlers are generic over socketioxide's `Adapter` so the same code serves a single node and
//! a cluster. Everything a client can send arrives through `TryData`, so a malformed payload
//! still gets a coded acknowledgement instead of being dropped.
//!
//! All per-socket setup happens in the [`authenticate`] middleware, not in the connect handler:
//! socketioxide sends CONNECT before the handler runs, so a client that emits at once would
//! otherwise race the registration of `on(..)` and lose its first event.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;
use switchyard_core::event::names;
use switchyard_core::protocol::{self, Ack, AckError, SubscriptionState, Welcome};
use switchyard_core::{Input, Room, RoomGrants, UserId, routing};

use crate::hub::{Shared, Switchyard, now};

/// Why a handshake was refused: the client's `connect_error` message, and nothing more.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    Unauthorized,
    TooManySockets,
    ShuttingDown,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::TooManySockets => "too_many_sockets",
            Refusal::ShuttingDown => "shutting_down",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
pub(crate) struct AuthPayload {
    token: Option<String>,
}

/// What a socket carries for its lifetime (in socketioxide's extensions, which need `Clone`).
#[derive(Clone)]
pub(crate) struct SocketCtx(Arc<CtxInner>);

struct CtxInner {
    grants: RoomGrants,
    /// Rooms joined beyond the user room; a lock per socket keeps check-and-join atomic when
    /// a client fires several subscribes at once (each runs in its own task).
    subscriptions: Mutex<BTreeSet<Room>>,
}

impl SocketCtx {
    pub(crate) fn user(&self) -> &UserId {
        self.0.grants.user()
    }

    fn subscriptions(&self) -> MutexGuard<'_, BTreeSet<Room>> {
        self.0
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// Connect middleware: verifies the token, claims a per-user slot, joins the user room,
/// registers every handler, and announces the user if this is their first socket.
pub(crate) async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    TryData(auth): TryData<AuthPayload>,
    State(shared): State<Arc<Shared<A>>>,
) -> Result<(), Refusal> {
    let refuse = |r: Refusal| {
        shared.metrics.connection_refused(r.as_str());
        r
    };
    if shared.shutting_down.load(Ordering::Acquire) {
        return Err(refuse(Refusal::ShuttingDown));
    }
    let token = auth.ok().and_then(|a| a.token).ok_or_else(|| {
        tracing::debug!(sid = %socket.id, "refused: no token");
        refuse(Refusal::Unauthorized)
    })?;
    let user = shared.config.jwt.verify(&token).map_err(|e| {
        tracing::debug!(sid = %socket.id, error = %e, "refused: bad token");
        refuse(Refusal::Unauthorized)
    })?;
    let came_online = {
        let mut presence = shared.presence();
        let change = presence.connect(
            socket.id,
            user.user().clone(),
            shared.limits().max_sockets_per_user,
        );
        shared.update_presence_gauges(&presence);
        change.map_err(|e| {
            tracing::info!(sid = %socket.id, error = %e, "refused");
            refuse(Refusal::TooManySockets)
        })?
    };
    socket.join(Room::User(user.user().clone()).to_string());
    socket.extensions.insert(SocketCtx(Arc::new(CtxInner {
        grants: user.grants,
        subscriptions: Mutex::new(BTreeSet::new()),
    })));
    socket.on(names::SUBSCRIBE, on_subscribe::<A>);
    socket.on(names::UNSUBSCRIBE, on_unsubscribe::<A>);
    socket.on(names::LOGOUT, on_logout::<A>);
    socket.on_fallback(on_unknown::<A>);
    socket.on_disconnect(on_disconnect::<A>);
    // Announced here, before CONNECT reaches the client, rather than in the connect handler:
    // the new socket cannot be in `system_presence` yet, so it never hears its own arrival,
    // whatever order its first subscribe and this publish would otherwise race in.
    if let Some(change) = came_online {
        let _ = Switchyard::from_parts(io, shared)
            .publish(&routing::presence(change, now()))
            .await;
    }
    Ok(())
}

/// Connect handler: the socket is connected; greet it.
pub(crate) async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    State(shared): State<Arc<Shared<A>>>,
) {
    let Some(ctx) = socket.extensions.get::<SocketCtx>() else {
        return;
    };
    let welcome = Welcome::new(socket.id.to_string(), ctx.user().clone(), now());
    if let Err(e) = socket.emit(names::WELCOME, &welcome) {
        tracing::warn!(sid = %socket.id, error = %e, "welcome not sent");
    }
    shared.metrics.event_sent(names::WELCOME);
}

fn payload(data: Result<Input, impl fmt::Display>) -> Input {
    // No argument, or one that is not JSON-like, is simply not a valid `{ room }`.
    data.unwrap_or(Input::Null)
}

async fn on_subscribe<A: Adapter>(
    socket: SocketRef<A>,
    TryData(data): TryData<Input>,
    ack: AckSender<A>,
    State(shared): State<Arc<Shared<A>>>,
) {
    shared.metrics.client_event(names::SUBSCRIBE);
    let Some(ctx) = socket.extensions.get::<SocketCtx>() else {
        return;
    };
    let max = shared.limits().max_subscriptions_per_socket;
    let result = {
        let mut subs = ctx.subscriptions();
        protocol::decide_subscribe(&ctx.0.grants, &payload(data), |room| SubscriptionState {
            already_in: subs.contains(room),
            subscriptions: subs.len(),
            max_subscriptions: max,
        })
        .inspect(|room| {
            if !room.is_user_room_of(ctx.user()) {
                subs.insert(room.clone());
            }
            socket.join(room.to_string());
        })
    };
    let _ = ack.send(&Ack::from(result));
}

async fn on_unsubscribe<A: Adapter>(
    socket: SocketRef<A>,
    TryData(data): TryData<Input>,
    ack: AckSender<A>,
    State(shared): State<Arc<Shared<A>>>,
) {
    shared.metrics.client_event(names::UNSUBSCRIBE);
    let Some(ctx) = socket.extensions.get::<SocketCtx>() else {
        return;
    };
    let result = protocol::decide_unsubscribe(ctx.user(), &payload(data)).inspect(|room| {
        ctx.subscriptions().remove(room);
        socket.leave(room.to_string());
    });
    let _ = ack.send(&Ack::from(result));
}

async fn on_logout<A: Adapter>(
    socket: SocketRef<A>,
    ack: AckSender<A>,
    State(shared): State<Arc<Shared<A>>>,
) {
    shared.metrics.client_event(names::LOGOUT);
    // The acknowledgement is queued before the disconnect packet, so the client gets both in order.
    let _ = ack.send(&Ack::ok());
    let _ = socket.disconnect();
}

async fn on_unknown<A: Adapter>(
    Event(event): Event,
    ack: AckSender<A>,
    State(shared): State<Arc<Shared<A>>>,
) {
    shared.metrics.client_event("unknown");
    let _ = ack.send(&Ack::err(AckError::unknown_event(&event)));
}

async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    reason: DisconnectReason,
    io: SocketIo<A>,
    State(shared): State<Arc<Shared<A>>>,
) {
    let change = {
        let mut presence = shared.presence();
        let change = presence.disconnect(&socket.id);
        shared.update_presence_gauges(&presence);
        change
    };
    tracing::debug!(sid = %socket.id, %reason, "disconnected");
    if let Some(change) = change {
        let hub = Switchyard::from_parts(io, shared);
        let _ = hub.publish(&routing::presence(change, now())).await;
    }
}

/// Joins `room` on the backend's behalf (no grant check); it counts as a subscription.
pub(crate) fn join<A: Adapter>(socket: &SocketRef<A>, room: &Room) {
    if let Some(ctx) = socket.extensions.get::<SocketCtx>()
        && !room.is_user_room_of(ctx.user())
    {
        ctx.subscriptions().insert(room.clone());
    }
    socket.join(room.to_string());
}

/// Leaves `room`; a socket's own user room cannot be left.
pub(crate) fn leave<A: Adapter>(socket: &SocketRef<A>, room: &Room) -> Result<(), AckError> {
    if let Some(ctx) = socket.extensions.get::<SocketCtx>() {
        protocol::check_leave(ctx.user(), room)?;
        ctx.subscriptions().remove(room);
    }
    socket.leave(room.to_string());
    Ok(())
}

/// The socket's rooms, sorted.
pub(crate) fn rooms<A: Adapter>(socket: &SocketRef<A>) -> Vec<String> {
    let mut rooms: Vec<String> = socket.rooms().into_iter().map(|r| r.into_owned()).collect();
    rooms.sort();
    rooms
}
