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
//! One error type for every store and backend ([`StoreError`]), which the edges map to the
//! contract's `unavailable`.

pub mod memory;

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
    /// Streams with a position (with or without retained events).
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
