//! The in-memory stores: one node, nothing shared, nothing kept across a restart.

use std::sync::{Mutex, MutexGuard};

use socketioxide::socket::Sid;
use switchyard_core::presence::{PresenceChange, PresenceError};
use switchyard_core::{Presence, UserId};

use super::{PresenceCounts, PresenceStore, StoreFuture};

/// Presence in this process: core's [`Presence`] table under a lock.
#[derive(Default)]
pub struct MemoryPresence {
    table: Mutex<Presence<Sid>>,
}

impl MemoryPresence {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A poisoned lock only means another task panicked mid-update of a table whose every
    /// update is a few map operations, so the data is still usable.
    fn table(&self) -> MutexGuard<'_, Presence<Sid>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl PresenceStore for MemoryPresence {
    fn connect(
        &self,
        socket: Sid,
        user: UserId,
        max_per_user: usize,
    ) -> StoreFuture<'_, Result<Option<PresenceChange>, PresenceError>> {
        ready(self.table().connect(socket, user, max_per_user))
    }

    fn disconnect(&self, socket: Sid) -> StoreFuture<'_, Option<PresenceChange>> {
        ready(self.table().disconnect(&socket))
    }

    fn sockets_of<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Vec<Sid>> {
        ready(self.table().sockets_of(user).copied().collect())
    }

    fn counts(&self) -> StoreFuture<'_, PresenceCounts> {
        let t = self.table();
        ready(PresenceCounts {
            sockets: t.socket_count(),
            users: t.user_count(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn transitions_limit_and_counts() {
        let store = MemoryPresence::new();
        let (a, b) = (Sid::new(), Sid::new());
        assert_eq!(
            store.connect(a, u("x"), 2).await.unwrap(),
            Ok(Some(PresenceChange::Online(u("x"))))
        );
        assert_eq!(store.connect(b, u("x"), 2).await.unwrap(), Ok(None));
        assert!(matches!(
            store.connect(Sid::new(), u("x"), 2).await.unwrap(),
            Err(PresenceError::TooManySockets { max: 2, .. })
        ));
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(store.sockets_of(&u("x")).await.unwrap(), both);
        assert_eq!(
            store.counts().await.unwrap(),
            PresenceCounts {
                sockets: 2,
                users: 1
            }
        );
        assert_eq!(store.disconnect(a).await.unwrap(), None);
        assert_eq!(
            store.disconnect(b).await.unwrap(),
            Some(PresenceChange::Offline(u("x")))
        );
        assert_eq!(store.counts().await.unwrap(), PresenceCounts::default());
    }
}
