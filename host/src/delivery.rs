//! The delivery layer: the state every edge and the handle share ([`Hub`]), the one path every
//! event takes to clients ([`Hub::publish`], [`Hub::emit_to_socket`]), per-socket state
//! ([`SocketState`]), and the server's lifecycle ([`Lifecycle`]). It sits over the stores and
//! under the public handle and the edges; it knows nothing of HTTP or of wire input.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use std::collections::BTreeMap;

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};
use switchyard_core::event::names;
use switchyard_core::protocol::{
    Ack, AckError, PresenceSnapshot, Resume, SessionExpired, SlowConsumer, StreamStatus, Welcome,
    parse_refresh_request,
};
use switchyard_core::routing::{self, Delivery, Target};
use switchyard_core::stream::{Meta, StreamName, StreamPosition, StreamSince};
use switchyard_core::{
    ErrorCode, Input, Joined, Room, RoomGrants, Subscriptions, Timestamp, UserId,
};
use switchyard_core::{PresenceChange, ValidationErrors};
use tokio::sync::Notify;

use crate::auth::AuthedUser;
use crate::clock::{now, now_ms};
use crate::config::{Config, Limits};
use crate::conn::{self, Transports};
use crate::metrics::Metrics;
use crate::rate::Rates;
use crate::reply::Reply;
use crate::store::{
    Cluster, Incoming, NodeCommand, NodeReply, PresenceStore, StoreError, StoredEvent, StreamLock,
    StreamStore,
};

/// The Socket.IO room every attached socket joins, for deliveries to everyone: a socket joins
/// it only once its `welcome` and replays are out, so no live `broadcast` event can overtake
/// them. No [`Room`] can have this name (every room has a kind prefix).
pub(crate) const EVERYONE: &str = "broadcast";

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
    /// The token's `sub`; a `refresh` can change everything else, never this.
    user: UserId,
    /// The handshake's `auth.since`, read by the middleware and used once by the welcome; None
    /// when the client sent none. Boxed: inline it was 136 of this struct's 344 bytes, for the
    /// socket's whole life.
    since: Mutex<Option<Box<[StreamSince; 2]>>>,
    /// One lock per socket keeps check-and-join atomic when a client fires several subscribes
    /// at once (each runs in its own task), and keeps a `refresh` from interleaving with them.
    session: Mutex<Session>,
    /// Cluster mode: per stream, the last position delivered (or answered) to this socket. An
    /// event read by a replay can also arrive later through the cluster's fan-out; this drops
    /// the second copy.
    delivered: Mutex<BTreeMap<StreamName, (Arc<str>, u64)>>,
}

/// The parts of a socket's state that its token decides, and that a `refresh` replaces.
struct Session {
    grants: RoomGrants,
    subscriptions: Subscriptions,
    /// The current token's `exp`, which the expiry timer is armed for.
    exp: Timestamp,
    /// Where the session's end at `exp` is queued; replaced on refresh, taken out on
    /// disconnect.
    timer: Option<ExpiryKey>,
    /// Expired or disconnected: nothing re-arms the timer, a refresh comes too late.
    ended: bool,
}

impl SocketState {
    pub(crate) fn user(&self) -> &UserId {
        &self.0.user
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        self.0.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the socket is at `offset` of `stream`; false when it already got it (the
    /// same epoch, an offset no later than the recorded one).
    fn advance(&self, stream: &StreamName, epoch: &str, offset: u64) -> bool {
        let mut d = self.0.delivered.lock().unwrap_or_else(|e| e.into_inner());
        match d.get_mut(stream) {
            Some((e, o)) if &**e == epoch => {
                if offset <= *o {
                    return false;
                }
                *o = offset;
            }
            _ => {
                d.insert(stream.clone(), (epoch.into(), offset));
            }
        }
        true
    }

    /// The socket's position in `stream`, if it has one.
    fn position(&self, stream: &StreamName) -> Option<(Arc<str>, u64)> {
        let d = self.0.delivered.lock().unwrap_or_else(|e| e.into_inner());
        d.get(stream).cloned()
    }

    /// Sets the socket's position in `stream` (after a replay's answer).
    fn answered(&self, stream: &StreamName, epoch: &str, offset: u64) {
        let mut d = self.0.delivered.lock().unwrap_or_else(|e| e.into_inner());
        d.insert(stream.clone(), (epoch.into(), offset));
    }
}

/// How often a replay that found its socket's queue full looks again.
const REPLAY_POLL: std::time::Duration = std::time::Duration::from_millis(2);

/// Tries `send` until the socket's queue takes it or `deadline` passes.
async fn paced(
    deadline: tokio::time::Instant,
    mut send: impl FnMut() -> Result<(), SendError>,
) -> Result<(), SendError> {
    loop {
        match send() {
            Err(SendError::Socket(SocketError::InternalChannelFull))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(REPLAY_POLL).await;
            }
            done => return done,
        }
    }
}

/// The shared state of one hub: configuration, metrics, stores, lifecycle and the Socket.IO
/// instance. The handle, the socket handlers and the HTTP API all hold an `Arc` of it.
pub(crate) struct Hub<A: Adapter> {
    pub(crate) config: Config,
    pub(crate) metrics: Metrics,
    pub(crate) lifecycle: Lifecycle,
    /// The per-API-key and per-address limiters (`--api-requests-per-sec`, `--connects-per-sec`).
    pub(crate) rates: Rates,
    presence: Box<dyn PresenceStore>,
    streams: Box<dyn StreamStore>,
    /// Cluster mode's traffic and registry (None: a single node).
    cluster: Option<Arc<dyn Cluster>>,
    /// Cluster mode: sockets that left while Redis was unreachable.
    departed: Mutex<Vec<Sid>>,
    io: SocketIo<A>,
    /// Kept to hand out the endpoint to routers (`get_server`, `socket_layer`).
    layer: SocketIoLayer<A>,
    /// The connections under the sockets, to cut a slow one's transport.
    pub(crate) transports: Arc<Transports>,
    /// Every socket's token expiry.
    expiries: Arc<Expiries>,
}

impl<A: Adapter> Hub<A> {
    pub(crate) fn new(
        config: Config,
        io: SocketIo<A>,
        layer: SocketIoLayer<A>,
        presence: Box<dyn PresenceStore>,
        streams: Box<dyn StreamStore>,
        cluster: Option<Arc<dyn Cluster>>,
    ) -> Arc<Self> {
        let mut metrics = Metrics::new();
        if let Some(c) = &cluster {
            metrics.register_cluster(c.node_id());
        }
        let rates = Rates::new(
            config.limits.api_requests_per_sec,
            config.limits.connects_per_sec,
        );
        Arc::new(Self {
            config,
            metrics,
            lifecycle: Lifecycle::default(),
            rates,
            presence,
            streams,
            cluster,
            departed: Mutex::new(Vec::new()),
            io,
            layer,
            transports: Arc::default(),
            expiries: Arc::default(),
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

    pub(crate) fn streams(&self) -> &dyn StreamStore {
        &*self.streams
    }

    pub(crate) fn cluster(&self) -> Option<&Arc<dyn Cluster>> {
        self.cluster.as_ref()
    }

    // -----------------------------------------------------------------------------------------
    // The one path to clients

    /// Sends a delivery to its target. A stream event is appended to its stream first and
    /// carries its `meta`; the answer is its position (None for an event with no stream).
    pub(crate) async fn publish(
        &self,
        d: &Delivery,
        id: &str,
    ) -> Result<Option<StreamPosition>, HubError> {
        let room = match &d.target {
            Target::Room(room) => room.to_string(),
            Target::All => EVERYONE.to_owned(),
        };
        let event = d.event.as_str();
        // The shutdown notice is this node's own news; everything else goes to every node
        // (also once this node has closed its sockets: their users' `user_offline`).
        if let Some(cluster) = &self.cluster
            && event != names::SYSTEM_SHUTDOWN
        {
            return self.publish_cluster(&**cluster, d, &room, id).await;
        }
        // `of` is None once the server has closed its namespaces; `to`/`emit` would panic.
        let ops = self.io.of("/").ok_or(HubError::ShuttingDown)?;
        let Some(stream) = d.stream() else {
            if let Err(e) = ops.to(room).emit(event, &d.payload).await {
                // Some sockets were closing; the others got it.
                tracing::debug!(event, target = %d.target, error = %e, "delivery incomplete");
                self.metrics.delivery_failed(event);
            }
            self.metrics.event_sent(event);
            return Ok(None);
        };
        // Serialised once, before the lock: the text that is kept is the text that is sent.
        let payload = serde_json::value::to_raw_value(&d.payload).map_err(internal)?;
        let at_ms = now_ms();
        let mut lock = self.streams.lock(&stream, at_ms).await?;
        let top = lock.top();
        let position = StreamPosition::new(top.epoch, top.offset + 1);
        let meta = Meta::new(stream.clone(), position.clone(), id);
        let stored = Arc::new(StoredEvent {
            offset: position.offset,
            event: event.to_owned(),
            payload,
            meta: serde_json::value::to_raw_value(&meta).map_err(internal)?,
            at_ms,
        });
        lock.append(stored.clone()).await?;
        self.metrics.stream_appended();
        // Each socket's queue is tried on its own, under the stream's lock (so every socket
        // gets the stream in offset order): one that is full is a slow consumer, disconnected
        // so it recovers by position, never silently skipped.
        let mut failed = false;
        for socket in ops.to(room).sockets() {
            failed |= !self.send_stored(&socket, &stored);
        }
        if failed {
            self.metrics.delivery_failed(event);
        }
        self.metrics.event_sent(event);
        drop(lock);
        Ok(Some(position))
    }

    /// Cluster mode's publish: a stream event is appended and fanned out by Redis in one step
    /// (every node, this one included, delivers it when it comes back through
    /// [`Hub::deliver_incoming`]), so all nodes see a stream in offset order; an event with no
    /// stream is only fanned out.
    async fn publish_cluster(
        &self,
        cluster: &dyn Cluster,
        d: &Delivery,
        room: &str,
        id: &str,
    ) -> Result<Option<StreamPosition>, HubError> {
        let event = d.event.as_str();
        let payload = serde_json::value::to_raw_value(&d.payload).map_err(internal)?;
        let position = match d.stream() {
            Some(stream) => {
                let p = cluster
                    .publish_stream(&stream, event, &payload, id, now_ms())
                    .await?;
                self.metrics.stream_appended();
                Some(p)
            }
            None => {
                cluster.broadcast(room, event, &payload).await?;
                None
            }
        };
        self.metrics.event_sent(event);
        Ok(position)
    }

    /// Acts on one message from the cluster, in the order Redis fanned them out.
    pub(crate) async fn deliver_incoming(self: &Arc<Self>, incoming: Incoming) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let Some(ops) = self.io.of("/") else { return };
        match incoming {
            Incoming::Stream {
                stream,
                epoch,
                event,
            } => {
                // Under this node's order for the stream: a replay under way finishes (and
                // records where its socket is) before this event is looked at.
                let _order = cluster.hold(&stream).await;
                let mut failed = false;
                for socket in ops.to(stream.to_string()).sockets() {
                    let fresh = socket
                        .extensions
                        .get::<SocketState>()
                        .is_none_or(|s| s.advance(&stream, &epoch, event.offset));
                    if fresh {
                        failed |= !self.send_stored(&socket, &event);
                    }
                }
                if failed {
                    self.metrics.delivery_failed(&event.event);
                }
            }
            Incoming::Broadcast {
                room,
                event,
                payload,
            } => {
                if let Err(e) = ops.to(room).emit(&event, &payload).await {
                    tracing::debug!(event, error = %e, "delivery incomplete");
                    self.metrics.delivery_failed(&event);
                }
            }
            Incoming::Request { from, rid, command } => {
                // Answered in its own task: a request must not hold up the stream traffic.
                let hub = self.clone();
                tokio::spawn(async move {
                    let reply = hub.run_command(command).await;
                    if let Err(e) = cluster.reply(&from, &rid, reply).await {
                        tracing::warn!(error = %e, "cluster reply not sent");
                    }
                });
            }
            Incoming::Resync => {
                let mut n = 0usize;
                for socket in self.sockets() {
                    if let Some(user) = Self::user_of(&socket) {
                        match cluster
                            .register(socket.id, &user, Self::rooms_of(&socket))
                            .await
                        {
                            Ok(()) => n += 1,
                            Err(e) => tracing::warn!(error = %e, "socket not registered again"),
                        }
                    }
                }
                tracing::info!(sockets = n, "registered this node's sockets again");
                self.retry_departures().await;
                self.catch_up().await;
            }
        }
    }

    /// After the cluster's traffic was cut off: sends each local socket what its streams gained
    /// meanwhile (read back from Redis, under each stream's order), so a lost pubsub
    /// connection costs a delay, not a gap. Events that also arrive through the fan-out are
    /// dropped by the per-socket positions. A stream whose epoch changed (Redis lost it) or
    /// whose missed events are trimmed cannot be caught up: its next event shows the client the
    /// jump, and the client recovers by position.
    async fn catch_up(&self) {
        let mut by_stream: BTreeMap<StreamName, Vec<SocketRef<A>>> = BTreeMap::new();
        for socket in self.sockets() {
            for room in socket.rooms() {
                if let Ok(stream) = room.parse::<StreamName>() {
                    by_stream.entry(stream).or_default().push(socket.clone());
                }
            }
        }
        let mut sent = 0usize;
        for (stream, sockets) in by_stream {
            let lock = match self.streams.lock(&stream, now_ms()).await {
                Ok(lock) => lock,
                Err(e) => {
                    tracing::warn!(%stream, error = %e, "cannot catch up");
                    continue;
                }
            };
            let top = lock.top();
            let first = lock.retained().first();
            for socket in sockets {
                let Some(state) = socket.extensions.get::<SocketState>() else {
                    continue;
                };
                let Some((epoch, at)) = state.position(&stream) else {
                    continue;
                };
                if *epoch != *top.epoch || at >= top.offset || at + 1 < first {
                    continue;
                }
                let Ok(events) = lock.read(at + 1, top.offset).await else {
                    continue;
                };
                for e in events {
                    if state.advance(&stream, &top.epoch, e.offset) {
                        if !self.send_stored(&socket, &e) {
                            break;
                        }
                        sent += 1;
                    }
                }
            }
        }
        if sent > 0 {
            tracing::info!(events = sent, "caught up on what the fan-out missed");
        }
    }

    /// Carries out another node's request on a socket of this node.
    pub(crate) async fn run_command(&self, command: NodeCommand) -> NodeReply {
        let result = match command {
            NodeCommand::Join { sid, room } => match room.parse::<Room>() {
                Ok(room) => match self.socket(&sid) {
                    Ok(s) => self.join(&s, room).map(|_| s).map_err(HubError::Refused),
                    Err(e) => Err(e),
                },
                Err(e) => Err(HubError::Refused(AckError::new(
                    ErrorCode::InvalidRoom,
                    e.to_string(),
                ))),
            },
            NodeCommand::Leave { sid, room } => match room.parse::<Room>() {
                Ok(room) => match self.socket(&sid) {
                    Ok(s) => self.leave(&s, &room).map(|()| s).map_err(HubError::Refused),
                    Err(e) => Err(e),
                },
                Err(e) => Err(HubError::Refused(AckError::new(
                    ErrorCode::InvalidRoom,
                    e.to_string(),
                ))),
            },
            NodeCommand::Disconnect { sid } => self.socket(&sid).and_then(|s| {
                s.clone()
                    .disconnect()
                    .map(|()| s)
                    .map_err(|_| HubError::SocketNotFound(sid.clone()))
            }),
        };
        match result {
            Ok(socket) => {
                self.sync_rooms(&socket).await;
                NodeReply { error: None }
            }
            Err(e) => NodeReply {
                error: Some((e.code(), e.to_string())),
            },
        }
    }

    /// Cluster mode: records a socket's rooms for the cluster-wide socket list.
    pub(crate) async fn sync_rooms(&self, socket: &SocketRef<A>) {
        if let Some(cluster) = &self.cluster
            && socket.connected()
            && let Err(e) = cluster.set_rooms(socket.id, Self::rooms_of(socket)).await
        {
            tracing::debug!(sid = %socket.id, error = %e, "rooms not recorded");
        }
    }

    /// The same, from a handler that cannot wait.
    pub(crate) fn sync_rooms_later(self: &Arc<Self>, socket: &SocketRef<A>) {
        if self.cluster.is_some() {
            let (hub, socket) = (self.clone(), socket.clone());
            tokio::spawn(async move { hub.sync_rooms(&socket).await });
        }
    }

    /// Sends one stream event to one socket; false if the socket could not take it (then it
    /// has been told and disconnected, or was closing anyway).
    fn send_stored(&self, socket: &SocketRef<A>, stored: &StoredEvent) -> bool {
        match socket.emit(&stored.event, &stored.args()) {
            Ok(()) => true,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                self.slow_consumer(socket);
                false
            }
            Err(e) => {
                tracing::debug!(sid = %socket.id, error = %e, "event not sent");
                false
            }
        }
    }

    /// A socket whose queue is full: a last word if it still fits, then a disconnect, so the
    /// client reconnects and recovers what it missed instead of silently losing it.
    fn slow_consumer(&self, socket: &SocketRef<A>) {
        tracing::info!(sid = %socket.id, "slow consumer: disconnecting");
        self.metrics.slow_consumer();
        let notice = SlowConsumer {
            at: now(),
            limit: self.limits().socket_buffer_events,
        };
        // Out of every room at once: whatever it misses from here on stays in the streams,
        // and nothing more piles up behind its full queue.
        socket.leave_all();
        let _ = socket.emit(names::SYSTEM_SLOW_CONSUMER, &notice);
        self.cut(socket);
    }

    /// A socket whose `welcome` could not be completed (the store failed after its handshake
    /// was accepted): it must not stay connected without one, waiting for ever. Out of its
    /// rooms, its transport is cut; its client reconnects with its backoff and is greeted, or
    /// refused with `unavailable`, afresh.
    pub(crate) fn welcome_failed(&self, socket: &SocketRef<A>) {
        socket.leave_all();
        self.cut(socket);
    }

    /// Closes the socket's transport, not its namespace: a stock socket.io-client reconnects on
    /// its own after "transport close", but not after a server DISCONNECT (see `conn`).
    fn cut(&self, socket: &SocketRef<A>) {
        let direct = conn::direct_websocket(socket.req_parts());
        if !self.transports.cut(socket.id.as_str(), direct) {
            tracing::debug!(sid = %socket.id, "no websocket connection to cut");
        }
        // Closes the socket on the server's side at once when the cut has not (a long-polling
        // session, or a router served without the cutting listener).
        disconnect_when_it_fits(socket.clone());
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

    /// Carries out the core's answer for one stream of one socket (under that stream's lock):
    /// sends the missed events, waiting for room in the socket's queue until `deadline`, and
    /// counts the outcome. False when the socket could not take them all: it is a slow consumer
    /// being disconnected, and must not join anything after.
    async fn replay(
        &self,
        socket: &SocketRef<A>,
        lock: &dyn StreamLock,
        resume: &Resume,
        deadline: tokio::time::Instant,
    ) -> Result<bool, HubError> {
        match resume {
            Resume::Live => {}
            Resume::Replay(replay) => {
                self.metrics.recovery("recovered");
                let events = lock.read(replay.after() + 1, replay.to()).await?;
                let mut sent = 0;
                for e in &events {
                    if let Err(err) = paced(deadline, || socket.emit(&e.event, &e.args())).await {
                        // A socket that cannot take its replay is a slow consumer: it has been
                        // disconnected and will ask again from where it got to.
                        self.unsent(socket, &err);
                        self.metrics.replayed(sent);
                        return Ok(false);
                    }
                    sent += 1;
                }
                self.metrics.replayed(sent);
            }
            Resume::NotRecovered(why) => self.metrics.recovery(why.as_str()),
        }
        Ok(true)
    }

    /// When a replay must be out by: a replay comes in one burst, often larger than the
    /// socket's queue, so it waits for the transport to take it, but only so long, since the
    /// stream's publishes wait behind it (`--recovery-max-wait`).
    fn replay_deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.config.retention.recovery_max_wait
    }

    /// A packet a socket's queue would not take: a full queue makes it a slow consumer (never
    /// a silent loss); a closed one is a socket already going.
    fn unsent(&self, socket: &SocketRef<A>, err: &SendError) {
        match err {
            SendError::Socket(SocketError::InternalChannelFull) => self.slow_consumer(socket),
            err => tracing::debug!(sid = %socket.id, error = %err, "not sent"),
        }
    }

    /// Answers a client event, once: a socket whose queue has no room for its answer is a
    /// slow consumer, as it would be for an event.
    pub(crate) fn answer(&self, socket: &SocketRef<A>, reply: &Reply<A>, ack: &Ack) {
        if let Err(err) = reply.try_send(ack) {
            self.unsent(socket, &err);
        }
    }

    /// Resumes one stream for one socket, under the stream's lock: decides with the core what
    /// the socket gets for its `since`, sends the missed events, then lets `then` run (join the
    /// room) and sends its answer before any later event of the stream can be sent. After a
    /// replay the answer waits for room as the replay did, within the same
    /// `--recovery-max-wait`.
    async fn resume(
        &self,
        socket: &SocketRef<A>,
        stream: &StreamName,
        since: Option<&StreamPosition>,
        reply: &Reply<A>,
        then: impl FnOnce(StreamStatus) -> Ack,
    ) -> Result<(), HubError> {
        let lock = self.streams.lock(stream, now_ms()).await?;
        let max = self.config.retention.recovery_max_events;
        let (mut status, resume) = StreamStatus::answer(&lock.retained(), since, max);
        // Cluster mode, a socket already in the room asking for no replay: events up to the
        // top may still be on their way to it through the fan-out (they come after this
        // answer), so the answer is where the socket is, not the top; they then follow it.
        if self.cluster.is_some()
            && matches!(resume, Resume::Live)
            && socket.rooms().contains(&stream.to_string().into())
            && let Some(state) = socket.extensions.get::<SocketState>()
            && let Some((epoch, at)) = state.position(stream)
            && *epoch == *status.epoch
            && at < status.offset
        {
            status.offset = at;
        }
        // Only a replay is worth waiting for: a socket whose queue is full without one is
        // simply slow, and must not hold up the stream's publishes.
        let deadline = match resume {
            Resume::Replay(_) => self.replay_deadline(),
            _ => tokio::time::Instant::now(),
        };
        // A socket that could not take its replay gets neither the room nor the answer.
        if self.replay(socket, &*lock, &resume, deadline).await? {
            self.record_answer(socket, stream, &status);
            let ack = then(status);
            if let Err(err) = paced(deadline, || reply.try_send(&ack)).await {
                self.unsent(socket, &err);
            }
        }
        drop(lock);
        Ok(())
    }

    /// Cluster mode: where the socket stands in `stream` once it has its answer, so events at
    /// or before it that arrive later through the fan-out are not sent twice.
    fn record_answer(&self, socket: &SocketRef<A>, stream: &StreamName, status: &StreamStatus) {
        if self.cluster.is_some()
            && let Some(state) = socket.extensions.get::<SocketState>()
        {
            state.answered(stream, &status.epoch, status.offset);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Sockets and presence

    /// Registers a verified socket: claims its per-user slot, gives it its subscriptions, and
    /// announces the user if this is their first socket. It joins its user room and everyone's
    /// in [`Hub::welcome`], once it is connected.
    pub(crate) async fn attach(
        &self,
        socket: &SocketRef<A>,
        token: AuthedUser,
        since: Option<&Input<'_>>,
    ) -> Result<(), HubError> {
        let AuthedUser { grants, exp } = token;
        let user = grants.user().clone();
        let change = self
            .presence
            .connect(socket.id, user.clone(), self.limits().max_sockets_per_user)
            .await?
            .map_err(|_| HubError::TooManySockets(user.clone()))?;
        let since = since.map(|since| {
            Box::new(switchyard_core::stream::read_handshake_since(
                Some(since),
                &user,
            ))
        });
        socket.extensions.insert(SocketState(Arc::new(SocketInner {
            user: user.clone(),
            since: Mutex::new(since),
            session: Mutex::new(Session {
                grants,
                subscriptions: Subscriptions::new(user),
                exp,
                timer: None,
                ended: false,
            }),
            delivered: Mutex::new(BTreeMap::new()),
        })));
        self.announce(change).await;
        Ok(())
    }

    /// Greets a connected socket: `welcome` first (with where its two streams stand), then what
    /// it missed of its own user room and of `broadcast` since `auth.since`, and only then does
    /// it join those rooms, each under its stream's lock, so no live event overtakes either.
    pub(crate) async fn welcome(self: &Arc<Self>, socket: &SocketRef<A>) -> Result<(), HubError> {
        let state = Self::state(socket).map_err(HubError::Refused)?;
        // Armed first, so that nothing below (a store that fails, a slow consumer) can leave a
        // socket connected past its token's `exp`.
        {
            let mut session = state.session();
            let exp = session.exp;
            self.arm_expiry(&mut session, socket, exp);
        }
        let user = state.user().clone();
        let since = state
            .0
            .since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let [own, everyone] = since.map_or_else(
            || switchyard_core::stream::read_handshake_since(None, &user),
            |since| *since,
        );
        // Locks are taken one stream at a time everywhere else, so holding two here, always in
        // this order, cannot deadlock.
        let own_lock = self.streams.lock(&own.stream, now_ms()).await?;
        let all_lock = self.streams.lock(&everyone.stream, now_ms()).await?;
        let max = self.config.retention.recovery_max_events;
        let answers = [
            (
                &own,
                StreamStatus::answer(&own_lock.retained(), own.since.as_ref(), max),
            ),
            (
                &everyone,
                StreamStatus::answer(&all_lock.retained(), everyone.since.as_ref(), max),
            ),
        ];
        let streams: BTreeMap<StreamName, StreamStatus> = answers
            .iter()
            .map(|(s, (status, _))| (s.stream.clone(), status.clone()))
            .collect();
        for (s, (status, _)) in &answers {
            self.record_answer(socket, &s.stream, status);
        }
        let welcome = Welcome::new(socket.id.to_string(), user.clone(), now(), streams);
        self.emit_to_socket(socket, names::WELCOME, &welcome);
        // One bound for both replays together, as for one: the client waits for all of it.
        let deadline = self.replay_deadline();
        for ((_, (_, resume)), lock) in answers.iter().zip([&own_lock, &all_lock]) {
            if !self.replay(socket, &**lock, resume, deadline).await? {
                // A slow consumer, being disconnected: joining now would deliver live events
                // after the gap its queue made.
                return Ok(());
            }
        }
        socket.join(Room::User(user).to_string());
        socket.join(EVERYONE);
        drop(all_lock);
        drop(own_lock);
        self.sync_rooms(socket).await;
        Ok(())
    }

    /// Ends a socket's session as it disconnects: its expiry timer is stopped, so that the
    /// timer's hold on the socket goes with it, and nothing re-arms it.
    pub(crate) fn end_session(&self, socket: &SocketRef<A>) {
        if let Ok(state) = Self::state(socket) {
            let mut session = state.session();
            session.ended = true;
            if let Some(timer) = session.timer.take() {
                self.expiries.remove(&timer);
            }
        }
    }

    /// Forgets a socket that has gone, and announces its user's going if it was the last.
    pub(crate) async fn detach(&self, socket: Sid) {
        self.transports.forget(socket.as_str());
        match self.presence.disconnect(socket).await {
            Ok(change) => {
                self.announce(change).await;
            }
            Err(e) => {
                tracing::warn!(sid = %socket, error = %e, "presence not updated");
                // Cluster mode: Redis is unreachable; the departure is recorded once it is back
                // (else the user would stay online for ever).
                if self.cluster.is_some() {
                    self.lock_departed().push(socket);
                }
            }
        }
    }

    fn lock_departed(&self) -> MutexGuard<'_, Vec<Sid>> {
        self.departed.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn has_departures(&self) -> bool {
        !self.lock_departed().is_empty()
    }

    /// Cluster mode: records the departures Redis could not take when they happened.
    pub(crate) async fn retry_departures(&self) {
        let departed = std::mem::take(&mut *self.lock_departed());
        for sid in departed {
            self.detach(sid).await;
        }
    }

    /// A reaped node's user with no socket left anywhere.
    pub(crate) async fn announce_offline(&self, user: UserId) {
        self.announce(Some(PresenceChange::Offline(user))).await;
    }

    async fn announce(&self, change: Option<PresenceChange>) {
        if let Some(change) = change {
            // A presence event that cannot go out (shutting down) is nobody's error to report.
            let _ = self.publish(&routing::presence(change, now()), "").await;
        }
    }

    /// Sets the presence gauges, when /metrics is scraped (never per connect or disconnect:
    /// in cluster mode that count made a connect storm quadratic, 60 % of a 16,700-socket
    /// node's CPU). A single node reads its presence store; a cluster node counts its own
    /// sockets (the cluster's totals are in the API).
    pub(crate) async fn refresh_presence_gauges(&self) {
        if self.cluster.is_some() {
            let sockets = self.sockets();
            let users: std::collections::BTreeSet<UserId> =
                sockets.iter().filter_map(Self::user_of).collect();
            self.metrics.set_presence(sockets.len(), users.len());
        } else if let Ok(c) = self.presence.counts().await {
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
        let mut rooms: Vec<String> = socket
            .rooms()
            .into_iter()
            .filter(|r| r != EVERYONE)
            .map(|r| r.into_owned())
            .collect();
        rooms.sort();
        rooms
    }

    // -----------------------------------------------------------------------------------------
    // Subscriptions: core decides, the transport's rooms follow

    /// A client's `subscribe` payload, judged against the socket's token grants, and answered
    /// through `reply`: a stream room's answer carries where its stream stands, after any
    /// replay its `since` asked for and before any later event of the stream;
    /// `system_presence`'s carries the presence snapshot.
    pub(crate) async fn subscribe(
        &self,
        socket: &SocketRef<A>,
        payload: &Input<'_>,
        reply: &Reply<A>,
    ) {
        let state = match Self::state(socket) {
            Ok(state) => state,
            Err(e) => return self.answer(socket, reply, &Ack::err(e)),
        };
        let decided = {
            let mut session = state.session();
            let Session {
                grants,
                subscriptions,
                ..
            } = &mut *session;
            subscriptions.subscribe_with_since(
                grants,
                payload,
                self.limits().max_subscriptions_per_socket,
            )
        };
        let request = match decided {
            Ok((request, _)) => request,
            Err(e) => return self.answer(socket, reply, &Ack::err(e)),
        };
        let room = request.room;
        let Some(stream) = StreamName::of_room(&room) else {
            if let Err(e) = Self::join_if_still_subscribed(&state, socket, &room) {
                return self.answer(socket, reply, &Ack::err(e));
            }
            // Joined first, so a presence change is either in the snapshot or delivered after.
            let ack = match self.presence.online_users().await {
                Ok(users) => Ack::ok_room(room).with_presence(PresenceSnapshot::new(users)),
                Err(e) => Ack::err(AckError::new(ErrorCode::Unavailable, e.to_string())),
            };
            self.answer(socket, reply, &ack);
            self.sync_rooms(socket).await;
            return;
        };
        let answered = self
            .resume(socket, &stream, request.since.as_ref(), reply, |status| {
                match Self::join_if_still_subscribed(&state, socket, &room) {
                    Ok(()) => Ack::ok_room(room.clone()).with_stream(status),
                    Err(e) => Ack::err(e),
                }
            })
            .await;
        // Failing before its answer (the store): the answer is that.
        if let Err(e) = answered {
            let unavailable = AckError::new(ErrorCode::Unavailable, e.to_string());
            self.answer(socket, reply, &Ack::err(unavailable));
        }
        self.sync_rooms(socket).await;
    }

    /// Joins the transport's room only if the subscription still stands: a `refresh` (or an
    /// `unsubscribe`) that came while a subscribe was replaying has taken it away, and joining
    /// then would deliver a room the socket's token no longer grants. Both run under the
    /// session's lock, so one of them sees the other's result.
    fn join_if_still_subscribed(
        state: &SocketState,
        socket: &SocketRef<A>,
        room: &Room,
    ) -> Result<(), AckError> {
        let session = state.session();
        if !session.subscriptions.contains(room) {
            return Err(AckError::new(
                ErrorCode::Forbidden,
                format!("the subscription to {room} was withdrawn while it was being made"),
            ));
        }
        socket.join(room.to_string());
        Ok(())
    }

    /// A client's `unsubscribe` payload.
    pub(crate) fn unsubscribe(
        &self,
        socket: &SocketRef<A>,
        payload: &Input<'_>,
    ) -> Result<Room, AckError> {
        let state = Self::state(socket)?;
        let mut session = state.session();
        let room = session.subscriptions.unsubscribe(payload)?;
        socket.leave(room.to_string());
        Ok(room)
    }

    /// The backend's `joinRoom`: no grant needed, the same per-socket limit.
    pub(crate) fn join(&self, socket: &SocketRef<A>, room: Room) -> Result<Joined, AckError> {
        let state = Self::state(socket)?;
        let mut session = state.session();
        let joined = session
            .subscriptions
            .join(room.clone(), self.limits().max_subscriptions_per_socket)?;
        socket.join(room.to_string());
        Ok(joined)
    }

    /// The backend's `leaveRoom`: the own user room cannot be left.
    pub(crate) fn leave(&self, socket: &SocketRef<A>, room: &Room) -> Result<(), AckError> {
        let state = Self::state(socket)?;
        let mut session = state.session();
        session.subscriptions.leave(room)?;
        socket.leave(room.to_string());
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Token lifetime: the session ends at the token's `exp`, unless a `refresh` moves it

    /// A client's `refresh { token }`: the new token is verified like the handshake's, must be
    /// the same user's (`forbidden` otherwise), and then replaces the old one: its `exp` re-arms
    /// the timer, its grants apply, and the subscriptions they no longer allow are left (the
    /// core decides which; see [`Subscriptions::refresh`]). A refused refresh changes nothing.
    pub(crate) fn refresh(
        self: &Arc<Self>,
        socket: &SocketRef<A>,
        payload: &Input<'_>,
    ) -> Result<Ack, AckError> {
        let request = parse_refresh_request(payload)?;
        let token = self.config.jwt.verify(&request.token).map_err(|e| {
            tracing::debug!(sid = %socket.id, error = %e, "refresh refused");
            AckError::new(
                ErrorCode::Unauthorized,
                "the token is invalid, expired or not yet valid",
            )
        })?;
        let state = Self::state(socket)?;
        let mut session = state.session();
        if session.ended {
            return Err(AckError::new(
                ErrorCode::Unauthorized,
                "the session has already expired",
            ));
        }
        let left = session.subscriptions.refresh(&token.grants)?;
        // Under the session's lock, like every join, so no subscribe in flight rejoins them.
        for room in &left {
            socket.leave(room.to_string());
        }
        session.grants = token.grants;
        self.arm_expiry(&mut session, socket, token.exp);
        tracing::debug!(sid = %socket.id, exp = %token.exp, left = left.len(), "token refreshed");
        Ok(Ack::refreshed(token.exp, left))
    }

    /// (Re)arms the socket's expiry timer for `exp`, replacing the one before.
    fn arm_expiry(self: &Arc<Self>, session: &mut Session, socket: &SocketRef<A>, exp: Timestamp) {
        if let Some(old) = session.timer.take() {
            self.expiries.remove(&old);
        }
        session.exp = exp;
        if session.ended {
            return;
        }
        let wait = u64::try_from(exp.unix_millis().saturating_sub(now_ms())).unwrap_or(0);
        let now = tokio::time::Instant::now();
        // A token valid for centuries is not an overflow: it waits "for ever" (30 years).
        let at = now
            .checked_add(Duration::from_millis(wait))
            .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
        let (key, start) = self.expiries.insert(at, socket.id, exp);
        session.timer = Some(key);
        if start {
            // Weak, so the queue of long-lived tokens does not keep a stopped hub alive.
            tokio::spawn(serve_expiries(Arc::downgrade(self), self.expiries.clone()));
        }
    }

    pub(crate) fn state(socket: &SocketRef<A>) -> Result<SocketState, AckError> {
        // Handlers are registered only after `attach` has stored the state, so this is a
        // socket caught between its handshake and its registration.
        socket.extensions.get::<SocketState>().ok_or_else(|| {
            AckError::new(ErrorCode::Unavailable, "the socket is not ready yet; retry")
        })
    }
}

/// Every socket's token expiry, in one queue served by one task, rather than a task and a
/// timer of its own per socket (0.38 KiB of every connected socket, heaptrack). The task runs
/// while the queue holds anything; the next arm after it has finished starts another.
#[derive(Default)]
struct Expiries {
    queue: Mutex<ExpiryQueue>,
    /// Woken when an arm puts its deadline before every other.
    sooner: Notify,
}

#[derive(Default)]
struct ExpiryQueue {
    /// The socket by id, not by reference: a queued expiry keeps nothing alive, and one whose
    /// socket has gone finds nothing to end.
    due: BTreeMap<ExpiryKey, (Sid, Timestamp)>,
    next_seq: u64,
    running: bool,
}

/// A queued expiry: its deadline, and a sequence number that tells equal deadlines apart.
type ExpiryKey = (tokio::time::Instant, u64);

impl Expiries {
    fn queue(&self) -> MutexGuard<'_, ExpiryQueue> {
        // A panic while holding this lock cannot leave the map inconsistent (single calls).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues the end of `sid`'s session at `at`; also says whether the serving task must be
    /// started.
    fn insert(&self, at: tokio::time::Instant, sid: Sid, exp: Timestamp) -> (ExpiryKey, bool) {
        let mut q = self.queue();
        q.next_seq += 1;
        let key = (at, q.next_seq);
        let soonest = q
            .due
            .first_key_value()
            .is_none_or(|(first, _)| key < *first);
        q.due.insert(key, (sid, exp));
        let start = !std::mem::replace(&mut q.running, true);
        drop(q);
        if soonest && !start {
            self.sooner.notify_one();
        }
        (key, start)
    }

    fn remove(&self, key: &ExpiryKey) {
        self.queue().due.remove(key);
    }
}

/// The task behind [`Expiries`]: ends each queued session when its deadline comes, sleeping
/// until the soonest one (or an arm that comes sooner), and finishes when the queue is empty.
async fn serve_expiries<A: Adapter>(hub: Weak<Hub<A>>, expiries: Arc<Expiries>) {
    loop {
        let sooner = expiries.sooner.notified();
        tokio::pin!(sooner);
        // Registered before the queue is read: an arm made after it still wakes this task.
        sooner.as_mut().enable();
        let now = tokio::time::Instant::now();
        let (fired, next) = {
            let mut q = expiries.queue();
            let mut fired = Vec::new();
            while let Some(entry) = q.due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                fired.push(entry.remove());
            }
            let next = q.due.first_key_value().map(|(key, _)| key.0);
            if fired.is_empty() && next.is_none() {
                // Under the lock: an arm from here on starts a new task.
                q.running = false;
                return;
            }
            (fired, next)
        };
        if !fired.is_empty() {
            let Some(hub) = hub.upgrade() else { return };
            for (sid, exp) in fired {
                expire(&hub, sid, exp);
            }
            continue;
        }
        if let Some(at) = next {
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = &mut sooner => {}
            }
        }
    }
}

/// A session's end at its token's `exp`: unless a refresh has moved `exp` meanwhile, the socket
/// leaves every room (so not one more delivery reaches it, even if its queue holds up the
/// disconnect), is told `session_expired { at }` and is disconnected.
fn expire<A: Adapter>(hub: &Hub<A>, sid: Sid, exp: Timestamp) {
    let Some(socket) = hub.io.of("/").and_then(|ops| ops.get_socket(sid)) else {
        return;
    };
    let Ok(state) = Hub::state(&socket) else {
        return;
    };
    {
        let mut session = state.session();
        if session.ended || session.exp != exp {
            return;
        }
        session.ended = true;
        session.timer = None;
    }
    tracing::debug!(sid = %socket.id, %exp, "token expired: disconnecting");
    socket.leave_all();
    hub.emit_to_socket(&socket, names::SESSION_EXPIRED, &SessionExpired { at: exp });
    disconnect_when_it_fits(socket);
}

/// Disconnects a socket, now if its queue has room. socketioxide can only disconnect by
/// queueing a DISCONNECT packet, which a full queue refuses, so this retries until the queue has
/// room; a reader that never reads again is closed by Engine.IO's heartbeat instead (no pong
/// within its timeout).
fn disconnect_when_it_fits<A: Adapter>(socket: SocketRef<A>) {
    match socket.clone().disconnect() {
        Err(SocketError::InternalChannelFull) => {}
        _ => return,
    }
    tokio::spawn(async move {
        for _ in 0..600 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match socket.clone().disconnect() {
                Err(SocketError::InternalChannelFull) => {}
                _ => return,
            }
        }
    });
}

fn internal(e: serde_json::Error) -> HubError {
    HubError::Store(StoreError::Unavailable(format!(
        "cannot serialise an event: {e}"
    )))
}
