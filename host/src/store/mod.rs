//! The stores under the delivery layer, each behind a small trait shaped by what the hub asks
//! of it, not by a database. The in-memory implementations are the embedded default and the
//! reference; a Redis implementation (cluster mode) goes beside each one, is chosen once at
//! start-up, and no edge ever names which one runs.
//!
//! - [`PresenceStore`]: which sockets each user has, the first-socket / last-socket
//!   transitions (`user_online` / `user_offline`), and the per-user socket limit. In memory:
//!   [`memory::MemoryPresence`]. In cluster mode the same questions are answered for every node
//!   at once, with a node's entries expiring when it stops refreshing them, so the trait's
//!   methods are asynchronous and can fail with [`StoreError`].
//! - [`StreamStore`]: every stream's epoch, top offset and retained events (contract section 8).
//!   The delivery layer takes a stream's [`StreamLock`] around "append, then emit" and around
//!   "replay, join, ack", so a stream's events reach every socket in offset order and a replay
//!   never interleaves with live events. In memory: [`memory::MemoryStreams`].
//!
//! - [`Cluster`]: what only cluster mode has (contract section 9): one append-and-fan-out step
//!   per stream event (so every node delivers a stream in offset order), broadcasts to every
//!   node, requests to the node that holds a socket, the cluster-wide socket list, and the node
//!   registry with its heartbeats. In Redis: [`redis::RedisCluster`]; a single node has none.
//!
//! One error type for every store and backend ([`StoreError`]), which the edges map to the
//! contract's `unavailable`.

pub mod memory;
pub mod redis;

use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use serde_json::value::RawValue;
use socketioxide::socket::Sid;
use switchyard_core::UserId;
use switchyard_core::presence::{PresenceChange, PresenceError};
use switchyard_core::stream::{Retained, StreamName, StreamPosition};

/// Why a store could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached (or answered garbage); nothing was changed or read.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// What a store call resolves to. Boxed, so stores can be trait objects chosen at start-up.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// How many sockets and users a presence store knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PresenceCounts {
    /// Connected sockets.
    pub sockets: usize,
    /// Users with at least one socket.
    pub users: usize,
}

/// Sockets per user, with the online/offline transitions decided atomically by the store (in a
/// cluster, two nodes must never both announce the same user).
pub trait PresenceStore: Send + Sync + 'static {
    /// Adds `socket` for `user` unless the user already has `max_per_user` sockets (none when
    /// [`Limit::OFF`](switchyard_core::Limit::OFF)); answers
    /// `Online` when it is the user's first. Adding a known socket changes nothing.
    fn connect(
        &self,
        socket: Sid,
        user: UserId,
        max_per_user: switchyard_core::Limit,
    ) -> StoreFuture<'_, Result<Option<PresenceChange>, PresenceError>>;

    /// Removes `socket`; answers `Offline` when it was its user's last. An unknown socket
    /// changes nothing.
    fn disconnect(&self, socket: Sid) -> StoreFuture<'_, Option<PresenceChange>>;

    /// The user's sockets, sorted by id.
    fn sockets_of<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Vec<Sid>>;

    /// How many sockets and users there are.
    fn counts(&self) -> StoreFuture<'_, PresenceCounts>;

    /// Every online user, sorted.
    fn online_users(&self) -> StoreFuture<'_, Vec<UserId>>;
}

/// One event as its stream keeps it: exactly the arguments that were emitted live, so a replay
/// sends the same bytes.
#[derive(Debug)]
pub struct StoredEvent {
    /// Its offset in the stream's epoch.
    pub offset: u64,
    /// The event name.
    pub event: String,
    /// The first argument, serialised once when it was published.
    pub payload: Box<RawValue>,
    /// The second argument, `{ stream, epoch, offset, id }`.
    pub meta: Box<RawValue>,
    /// When it was appended (Unix milliseconds), for `--history-ttl` / `--inbox-ttl`.
    pub at_ms: i64,
}

impl StoredEvent {
    /// What it costs to retain, counted against `--history-max-bytes`.
    pub fn size(&self) -> usize {
        // The two argument texts, the name, and the bookkeeping around them.
        self.payload.get().len() + self.meta.get().len() + self.event.len() + EVENT_OVERHEAD
    }

    /// The socket.io arguments: `(payload, meta)`.
    pub fn args(&self) -> (&RawValue, &RawValue) {
        (&self.payload, &self.meta)
    }
}

/// The bytes a retained event holds beyond its texts (the struct, its boxes, the queue slots).
pub const EVENT_OVERHEAD: usize = 128;

/// What the streams hold, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamStats {
    /// Streams held: with a position above 0 (with or without retained events), or locked.
    pub streams: usize,
    /// Retained events.
    pub events: usize,
    /// Their [`StoredEvent::size`], summed.
    pub bytes: usize,
}

/// Streams: positions that outlive their events, and bounded history.
pub trait StreamStore: Send + Sync + 'static {
    /// Takes the stream's order (waiting for whoever holds it); a stream that does not exist yet
    /// starts at offset 0 of a fresh epoch. `now_ms` is the time for expiry.
    fn lock<'a>(
        &'a self,
        stream: &'a StreamName,
        now_ms: i64,
    ) -> StoreFuture<'a, Box<dyn StreamLock + 'a>>;

    /// Drops what expiry and the bounds have passed, in every stream, and forgets streams idle
    /// for longer than their positions must live.
    fn sweep(&self, now_ms: i64);

    /// What is retained now.
    fn stats(&self) -> StreamStats;
}

/// A stream, held: nobody else appends to it or reads it for a replay until this is dropped.
pub trait StreamLock: Send + Sync {
    /// The stream's position now (`offset` 0 for a stream with no event yet).
    fn top(&self) -> StreamPosition;

    /// What the stream retains, for [`switchyard_core::stream::recover`].
    fn retained(&self) -> Retained<'_>;

    /// Appends an event, whose offset must be `top().offset + 1`.
    fn append(&mut self, event: Arc<StoredEvent>) -> StoreFuture<'_, ()>;

    /// The retained events with offsets `from..=to`, in order.
    fn read(&self, from: u64, to: u64) -> StoreFuture<'_, Vec<Arc<StoredEvent>>>;
}

/// One socket anywhere in the cluster, as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSocket {
    /// Socket id.
    pub id: String,
    /// Whose socket.
    pub user: UserId,
    /// The node that holds it.
    pub node: String,
    /// Its rooms, sorted, as its node last recorded them.
    pub rooms: Vec<String>,
}

/// What one reap removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reaped {
    /// Dead nodes removed.
    pub nodes: usize,
    /// Their users left with no socket anywhere.
    pub users: Vec<UserId>,
}

/// The backend as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterHealth {
    /// Reachable, and this node receives cluster traffic.
    pub up: bool,
    /// Failed commands so far.
    pub errors: u64,
    /// The last ping's round trip.
    pub ping: Option<std::time::Duration>,
}

/// One live node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its `--node-id`.
    pub id: String,
    /// How many sockets it holds.
    pub sockets: usize,
    /// Its last heartbeat (Unix milliseconds).
    pub seen_ms: i64,
}

/// What one node asks another to do to a socket it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NodeCommand {
    /// `joinRoom`.
    Join {
        /// Socket id.
        sid: String,
        /// Room name.
        room: String,
    },
    /// `leaveRoom`.
    Leave {
        /// Socket id.
        sid: String,
        /// Room name.
        room: String,
    },
    /// One socket of `handleUserLogout`.
    Disconnect {
        /// Socket id.
        sid: String,
    },
}

/// The answer to a [`NodeCommand`]: done, or refused with a contract code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeReply {
    /// None when the change has taken effect.
    pub error: Option<(switchyard_core::ErrorCode, String)>,
}

/// What arrives from the other nodes (and from this one, through Redis), in the order Redis
/// fanned it out.
#[derive(Debug)]
pub enum Incoming {
    /// A stream event, appended: deliver it to this node's sockets in the room.
    Stream {
        /// Its stream.
        stream: StreamName,
        /// The stream's epoch.
        epoch: Arc<str>,
        /// The event, with its meta.
        event: Arc<StoredEvent>,
    },
    /// An event with no stream (presence) to this node's sockets in `room`.
    Broadcast {
        /// Socket.IO room.
        room: String,
        /// Event name.
        event: String,
        /// First argument.
        payload: Box<RawValue>,
    },
    /// Another node asks this one to act on one of its sockets; answer with
    /// [`Cluster::reply`].
    Request {
        /// The asking node.
        from: String,
        /// The request's id.
        rid: String,
        /// What to do.
        command: NodeCommand,
    },
    /// The node's registration may have been lost (Redis came back empty, or the node was
    /// reaped while it could not reach Redis): register every local socket again.
    Resync,
}

/// Cluster mode's shared state and traffic. Every method can fail with
/// [`StoreError::Unavailable`] while the backend is unreachable.
pub trait Cluster: Send + Sync + 'static {
    /// This node's id.
    fn node_id(&self) -> &str;

    /// Whether the backend answers and this node receives cluster traffic.
    fn is_ready(&self) -> bool;

    /// Appends an event to its stream and fans it out to every node in one step, so that
    /// every node receives a stream's events in offset order. Returns its position.
    fn publish_stream<'a>(
        &'a self,
        stream: &'a StreamName,
        event: &'a str,
        payload: &'a RawValue,
        id: &'a str,
        at_ms: i64,
    ) -> StoreFuture<'a, StreamPosition>;

    /// Sends an event with no stream to `room` on every node.
    fn broadcast<'a>(
        &'a self,
        room: &'a str,
        event: &'a str,
        payload: &'a RawValue,
    ) -> StoreFuture<'a, ()>;

    /// Takes this node's order for one stream: incoming events of the stream wait while a
    /// replay, join and ack hold it.
    fn hold<'a>(
        &'a self,
        stream: &'a StreamName,
    ) -> Pin<Box<dyn Future<Output = tokio::sync::OwnedMutexGuard<()>> + Send + 'a>>;

    /// Records the rooms of a socket of this node, for the cluster-wide socket list.
    fn set_rooms(&self, socket: Sid, rooms: Vec<String>) -> StoreFuture<'_, ()>;

    /// Registers a socket of this node again (after [`Incoming::Resync`]); no transition is
    /// announced.
    fn register<'a>(
        &'a self,
        socket: Sid,
        user: &'a UserId,
        rooms: Vec<String>,
    ) -> StoreFuture<'a, ()>;

    /// Every socket of the cluster, sorted by id.
    fn sockets(&self) -> StoreFuture<'_, Vec<ClusterSocket>>;

    /// The node that holds `socket`, if any does.
    fn node_of<'a>(&'a self, socket: &'a str) -> StoreFuture<'a, Option<String>>;

    /// Asks `node` to act on one of its sockets and waits for its answer.
    fn request<'a>(&'a self, node: &'a str, command: NodeCommand) -> StoreFuture<'a, NodeReply>;

    /// Answers a request of another node.
    fn reply<'a>(&'a self, to: &'a str, rid: &'a str, reply: NodeReply) -> StoreFuture<'a, ()>;

    /// The live nodes, sorted by id.
    fn nodes(&self) -> StoreFuture<'_, Vec<NodeInfo>>;

    /// Refreshes this node's heartbeat; true when the node had been dropped from the registry
    /// (reaped) and must [`Incoming::Resync`].
    fn heartbeat(&self) -> StoreFuture<'_, bool>;

    /// Removes the nodes whose heartbeat is older than `--presence-ttl`, with their sockets;
    /// answers the users left with no socket (for `user_offline`, announced by the caller:
    /// exactly one node gets each).
    fn reap(&self) -> StoreFuture<'_, Reaped>;

    /// The backend's state, for metrics.
    fn health(&self) -> ClusterHealth;

    /// Leaves the registry on a clean shutdown, with every socket still registered; answers
    /// the users left with none (for `user_offline`).
    fn leave(&self) -> StoreFuture<'_, Vec<UserId>>;
}
