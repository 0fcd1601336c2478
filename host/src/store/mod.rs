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
//! - The per-room stream store (positions, history and recovery, contract section 8) goes here
//!   too, beside presence: the delivery layer's publish path appends to it before it emits.
//!
//! One error type for every store and backend ([`StoreError`]), which the edges map to the
//! contract's `unavailable`.

pub mod memory;

use std::future::Future;
use std::pin::Pin;

use socketioxide::socket::Sid;
use switchyard_core::UserId;
use switchyard_core::presence::{PresenceChange, PresenceError};

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
    /// Adds `socket` for `user` unless the user already has `max_per_user` sockets; answers
    /// `Online` when it is the user's first. Adding a known socket changes nothing.
    fn connect(
        &self,
        socket: Sid,
        user: UserId,
        max_per_user: usize,
    ) -> StoreFuture<'_, Result<Option<PresenceChange>, PresenceError>>;

    /// Removes `socket`; answers `Offline` when it was its user's last. An unknown socket
    /// changes nothing.
    fn disconnect(&self, socket: Sid) -> StoreFuture<'_, Option<PresenceChange>>;

    /// The user's sockets, sorted by id.
    fn sockets_of<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Vec<Sid>>;

    /// How many sockets and users there are.
    fn counts(&self) -> StoreFuture<'_, PresenceCounts>;
}
