//! The delivery layer: the state every edge and the handle share ([`Hub`]), the one path every
//! event takes to clients ([`Hub::publish`], [`Hub::emit_to_socket`]), per-socket state
//! ([`SocketState`]), and the server's lifecycle ([`Lifecycle`]). It sits over the stores and
//! under the public handle and the edges; it knows nothing of HTTP or of wire input.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;
use switchyard_core::protocol::AckError;
use switchyard_core::routing::{self, Delivery, Target};
use switchyard_core::{ErrorCode, Input, Joined, Room, RoomGrants, Subscriptions, UserId};
use switchyard_core::{PresenceChange, ValidationErrors};

use crate::clock::now;
use crate::config::{Config, Limits};
use crate::metrics::Metrics;
use crate::store::{PresenceStore, StoreError};

/// What a hub call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The payload (or an event name) broke the contract's rules.
    #[error("validation failed: {0}")]
    Validation(#[from] ValidationErrors),
    /// No socket with that id on this node.
    #[error("no connected socket {0:?}")]
    SocketNotFound(String),
    /// A subscription rule refused the change (leaving the own user room: `forbidden`; a
    /// socket at `--max-subscriptions-per-socket`: `limit_exceeded`).
    #[error("{0}")]
    Refused(AckError),
    /// The user already has `--max-sockets-per-user` sockets.
    #[error("user {0} already has the most sockets allowed")]
    TooManySockets(UserId),
    /// The server is shutting down and no longer delivers.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A store could not be reached; nothing was done.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HubError {
    /// The contract's code for this error, the same on every edge.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::SocketNotFound(_) => ErrorCode::NotFound,
            Self::Refused(e) => e.code,
            Self::TooManySockets(_) => ErrorCode::TooManySockets,
            Self::ShuttingDown => ErrorCode::ShuttingDown,
            Self::Store(_) => ErrorCode::Unavailable,
        }
    }
}

/// Whether the server is shutting down, and how many API calls are under way.
///
/// Every access is `SeqCst`: shutdown sets the flag and then reads the count, a call adds to the
/// count and then reads the flag, and only a single total order guarantees that each call is
/// either refused or waited for.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    shutting_down: AtomicBool,
    in_flight: AtomicUsize,
}

impl Lifecycle {
    /// Whether shutdown has begun.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Counts a call in until the guard drops (also when its client goes away mid-request).
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(&self.in_flight)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// One call in flight; see [`Lifecycle::enter`].
pub(crate) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a socket carries for its lifetime (in socketioxide's extensions, which need `Clone`).
#[derive(Clone)]
pub(crate) struct SocketState(Arc<SocketInner>);

struct SocketInner {
    grants: RoomGrants,
    /// A lock per socket keeps check-and-join atomic when a client fires several subscribes at
    /// once (each runs in its own task).
    subscriptions: Mutex<Subscriptions>,
}

impl SocketState {
    pub(crate) fn user(&self) -> &UserId {
        self.0.grants.user()
    }

    fn subscriptions(&self) -> MutexGuard<'_, Subscriptions> {
        self.0
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// The shared state of one hub: configuration, metrics, stores, lifecycle and the Socket.IO
/// instance. The handle, the socket handlers and the HTTP API all hold an `Arc` of it.
pub(crate) struct Hub<A: Adapter> {
    pub(crate) config: Config,
    pub(crate) metrics: Metrics,
    pub(crate) lifecycle: Lifecycle,
    presence: Box<dyn PresenceStore>,
    io: SocketIo<A>,
    /// Kept to hand out the endpoint to routers (`get_server`, `socket_layer`).
    layer: SocketIoLayer<A>,
}

impl<A: Adapter> Hub<A> {
    pub(crate) fn new(
        config: Config,
        io: SocketIo<A>,
        layer: SocketIoLayer<A>,
        presence: Box<dyn PresenceStore>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            metrics: Metrics::new(),
            lifecycle: Lifecycle::default(),
            presence,
            io,
            layer,
        })
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.config.limits
    }

    pub(crate) fn io(&self) -> &SocketIo<A> {
        &self.io
    }

    pub(crate) fn layer(&self) -> &SocketIoLayer<A> {
        &self.layer
    }

    pub(crate) fn presence(&self) -> &dyn PresenceStore {
        &*self.presence
    }

    // -----------------------------------------------------------------------------------------
    // The one path to clients

    /// Sends a delivery to its target, serialised once for every recipient.
    pub(crate) async fn publish(&self, d: &Delivery) -> Result<(), HubError> {
        // `of` is None once the server has closed its namespaces; `to`/`emit` would panic.
        let ops = self.io.of("/").ok_or(HubError::ShuttingDown)?;
        let ops = match &d.target {
            Target::Room(room) => ops.to(room.to_string()),
            Target::All => ops,
        };
        let event = d.event.as_str();
        // Streams (contract section 8) append here, once per broadcast, before the emit.
        if let Err(e) = ops.emit(event, &d.payload).await {
            // Some sockets had full buffers or were closing; the others got it.
            tracing::warn!(event, target = %d.target, error = %e, "delivery incomplete");
            self.metrics.delivery_failed(event);
        }
        self.metrics.event_sent(event);
        Ok(())
    }

    /// Sends one event to one socket (its `welcome`).
    pub(crate) fn emit_to_socket(
        &self,
        socket: &SocketRef<A>,
        event: &str,
        payload: &impl Serialize,
    ) {
        if let Err(e) = socket.emit(event, payload) {
            tracing::warn!(sid = %socket.id, event, error = %e, "event not sent");
            self.metrics.delivery_failed(event);
        }
        self.metrics.event_sent(event);
    }

    // -----------------------------------------------------------------------------------------
    // Sockets and presence

    /// Registers a verified socket: claims its per-user slot, joins its user room, gives it its
    /// subscriptions, and announces the user if this is their first socket.
    pub(crate) async fn attach(
        &self,
        socket: &SocketRef<A>,
        grants: RoomGrants,
    ) -> Result<(), HubError> {
        let user = grants.user().clone();
        let change = self
            .presence
            .connect(socket.id, user.clone(), self.limits().max_sockets_per_user)
            .await?
            .map_err(|_| HubError::TooManySockets(user.clone()))?;
        self.update_presence_gauges().await;
        socket.join(Room::User(user.clone()).to_string());
        socket.extensions.insert(SocketState(Arc::new(SocketInner {
            grants,
            subscriptions: Mutex::new(Subscriptions::new(user)),
        })));
        self.announce(change).await;
        Ok(())
    }

    /// Forgets a socket that has gone, and announces its user's going if it was the last.
    pub(crate) async fn detach(&self, socket: Sid) {
        match self.presence.disconnect(socket).await {
            Ok(change) => {
                self.update_presence_gauges().await;
                self.announce(change).await;
            }
            Err(e) => tracing::warn!(sid = %socket, error = %e, "presence not updated"),
        }
    }

    async fn announce(&self, change: Option<PresenceChange>) {
        if let Some(change) = change {
            // A presence event that cannot go out (shutting down) is nobody's error to report.
            let _ = self.publish(&routing::presence(change, now())).await;
        }
    }

    async fn update_presence_gauges(&self) {
        if let Ok(c) = self.presence.counts().await {
            self.metrics.set_presence(c.sockets, c.users);
        }
    }

    /// The sockets connected to this node.
    pub(crate) fn sockets(&self) -> Vec<SocketRef<A>> {
        self.io.of("/").map(|ops| ops.sockets()).unwrap_or_default()
    }

    /// The socket with this id, if it is connected to this node.
    pub(crate) fn socket(&self, socket_id: &str) -> Result<SocketRef<A>, HubError> {
        let not_found = || HubError::SocketNotFound(socket_id.to_owned());
        let sid: Sid = socket_id.parse().map_err(|_| not_found())?;
        self.io
            .of("/")
            .and_then(|ops| ops.get_socket(sid))
            .ok_or_else(not_found)
    }

    /// The user whose socket this is (None before it has been attached).
    pub(crate) fn user_of(socket: &SocketRef<A>) -> Option<UserId> {
        socket
            .extensions
            .get::<SocketState>()
            .map(|s| s.user().clone())
    }

    /// The socket's rooms, sorted.
    pub(crate) fn rooms_of(socket: &SocketRef<A>) -> Vec<String> {
        let mut rooms: Vec<String> = socket.rooms().into_iter().map(|r| r.into_owned()).collect();
        rooms.sort();
        rooms
    }

    // -----------------------------------------------------------------------------------------
    // Subscriptions: core decides, the transport's rooms follow

    /// A client's `subscribe` payload, judged against the socket's token grants.
    pub(crate) fn subscribe(
        &self,
        socket: &SocketRef<A>,
        payload: &Input,
    ) -> Result<Room, AckError> {
        let state = Self::state(socket)?;
        let (room, _) = state.subscriptions().subscribe(
            &state.0.grants,
            payload,
            self.limits().max_subscriptions_per_socket,
        )?;
        socket.join(room.to_string());
        Ok(room)
    }

    /// A client's `unsubscribe` payload.
    pub(crate) fn unsubscribe(
        &self,
        socket: &SocketRef<A>,
        payload: &Input,
    ) -> Result<Room, AckError> {
        let state = Self::state(socket)?;
        let room = state.subscriptions().unsubscribe(payload)?;
        socket.leave(room.to_string());
        Ok(room)
    }

    /// The backend's `joinRoom`: no grant needed, the same per-socket limit.
    pub(crate) fn join(&self, socket: &SocketRef<A>, room: Room) -> Result<Joined, AckError> {
        let state = Self::state(socket)?;
        let joined = state
            .subscriptions()
            .join(room.clone(), self.limits().max_subscriptions_per_socket)?;
        socket.join(room.to_string());
        Ok(joined)
    }

    /// The backend's `leaveRoom`: the own user room cannot be left.
    pub(crate) fn leave(&self, socket: &SocketRef<A>, room: &Room) -> Result<(), AckError> {
        Self::state(socket)?.subscriptions().leave(room)?;
        socket.leave(room.to_string());
        Ok(())
    }

    fn state(socket: &SocketRef<A>) -> Result<SocketState, AckError> {
        // Handlers are registered only after `attach` has stored the state, so this is a
        // socket caught between its handshake and its registration.
        socket.extensions.get::<SocketState>().ok_or_else(|| {
            AckError::new(ErrorCode::Unavailable, "the socket is not ready yet; retry")
        })
    }
}
