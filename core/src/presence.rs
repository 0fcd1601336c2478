//! Presence bookkeeping: which sockets each user has, and when a user comes online (first
//! socket) or goes offline (last socket gone). Transitions are returned as values; the host
//! turns them into `user_online` / `user_offline` deliveries.

use std::collections::BTreeMap;

use crate::ids::UserId;
use crate::limit::Limit;

/// A user's presence changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceChange {
    /// The user's first socket connected.
    Online(UserId),
    /// The user's last socket left.
    Offline(UserId),
}

/// Why a socket may not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    /// The user already has the maximum number of sockets.
    #[error("user {user} already has {max} sockets connected")]
    TooManySockets {
        /// Whose.
        user: UserId,
        /// The limit.
        max: Limit,
    },
}

/// Sockets per user, generic over the socket id type `S` (the host uses socketioxide's `Sid`).
#[derive(Debug, Clone)]
pub struct Presence<S> {
    /// A user's sockets, sorted, in a `Vec` sized to them: most users have one or two, and a
    /// `BTreeSet` would give each of them a node of eleven (192 bytes of every connected
    /// user with the host's 16-byte ids, heaptrack).
    by_user: BTreeMap<UserId, Vec<S>>,
    by_socket: BTreeMap<S, UserId>,
}

impl<S> Default for Presence<S> {
    fn default() -> Self {
        Self {
            by_user: BTreeMap::new(),
            by_socket: BTreeMap::new(),
        }
    }
}

impl<S: Ord + Clone> Presence<S> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `socket` for `user` unless the user already has `max_per_user` sockets.
    /// Adding a socket that is already known changes nothing.
    pub fn connect(
        &mut self,
        socket: S,
        user: UserId,
        max_per_user: Limit,
    ) -> Result<Option<PresenceChange>, PresenceError> {
        if self.by_socket.contains_key(&socket) {
            return Ok(None);
        }
        let sockets = self.by_user.get(&user).map_or(0, Vec::len);
        if !max_per_user.admits_one_more(sockets) {
            return Err(PresenceError::TooManySockets {
                user,
                max: max_per_user,
            });
        }
        self.by_socket.insert(socket.clone(), user.clone());
        let set = self.by_user.entry(user.clone()).or_default();
        // `by_socket` did not know it, so it is not in the user's list either.
        let at = set.binary_search(&socket).unwrap_or_else(|at| at);
        crate::small::insert(set, at, socket);
        Ok((set.len() == 1).then_some(PresenceChange::Online(user)))
    }

    /// Removes `socket`; an unknown socket changes nothing.
    pub fn disconnect(&mut self, socket: &S) -> Option<PresenceChange> {
        let user = self.by_socket.remove(socket)?;
        let set = self.by_user.get_mut(&user)?;
        if let Ok(at) = set.binary_search(socket) {
            set.remove(at);
        }
        if set.is_empty() {
            self.by_user.remove(&user);
            Some(PresenceChange::Offline(user))
        } else {
            None
        }
    }

    /// Whether the user has at least one socket.
    pub fn is_online(&self, user: &UserId) -> bool {
        self.by_user.contains_key(user)
    }

    /// The user's sockets, in order.
    pub fn sockets_of(&self, user: &UserId) -> impl Iterator<Item = &S> {
        self.by_user.get(user).into_iter().flatten()
    }

    /// Whose socket this is.
    pub fn user_of(&self, socket: &S) -> Option<&UserId> {
        self.by_socket.get(socket)
    }

    /// How many sockets are known.
    pub fn socket_count(&self) -> usize {
        self.by_socket.len()
    }

    /// How many users are online.
    pub fn user_count(&self) -> usize {
        self.by_user.len()
    }

    /// Every online user.
    pub fn users(&self) -> impl Iterator<Item = &UserId> {
        self.by_user.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        s.parse().unwrap()
    }

    #[test]
    fn first_and_last_socket_transitions() {
        let mut p = Presence::new();
        assert_eq!(
            p.connect(1, u("a"), Limit::new(10)),
            Ok(Some(PresenceChange::Online(u("a"))))
        );
        assert_eq!(p.connect(2, u("a"), Limit::new(10)), Ok(None));
        assert_eq!(
            p.connect(2, u("a"), Limit::new(10)),
            Ok(None),
            "a known socket is a no-op"
        );
        assert_eq!(p.sockets_of(&u("a")).copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(p.disconnect(&1), None);
        assert!(p.is_online(&u("a")));
        assert_eq!(p.disconnect(&2), Some(PresenceChange::Offline(u("a"))));
        assert_eq!(p.disconnect(&2), None);
        assert!(!p.is_online(&u("a")));
        assert_eq!(p.socket_count(), 0);
    }

    proptest::proptest! {
        /// The same answers as a table of `BTreeSet`s, whatever the order of connects and
        /// disconnects: every user's sockets sorted, each once.
        #[test]
        fn agrees_with_a_table_of_sets(ops in proptest::collection::vec((0u8..3, 0u16..40, proptest::bool::ANY), 0..200)) {
            use std::collections::BTreeSet;
            let users = [u("a"), u("b"), u("c")];
            let mut p = Presence::new();
            let mut model: BTreeMap<UserId, BTreeSet<u16>> = BTreeMap::new();
            let mut owner: BTreeMap<u16, UserId> = BTreeMap::new();
            for (user, socket, connect) in ops {
                let user = &users[usize::from(user)];
                if connect {
                    let r = p.connect(socket, user.clone(), Limit::OFF);
                    if let std::collections::btree_map::Entry::Vacant(e) = owner.entry(socket) {
                        e.insert(user.clone());
                        model.entry(user.clone()).or_default().insert(socket);
                    }
                    proptest::prop_assert!(r.is_ok());
                } else {
                    let change = p.disconnect(&socket);
                    let expected = owner.remove(&socket).and_then(|was| {
                        let set = model.get_mut(&was)?;
                        set.remove(&socket);
                        set.is_empty().then(|| {
                            model.remove(&was);
                            PresenceChange::Offline(was)
                        })
                    });
                    proptest::prop_assert_eq!(change, expected);
                }
                for user in &users {
                    let got: Vec<u16> = p.sockets_of(user).copied().collect();
                    let want: Vec<u16> = model.get(user).into_iter().flatten().copied().collect();
                    proptest::prop_assert_eq!(got, want);
                }
                proptest::prop_assert_eq!(p.socket_count(), owner.len());
                proptest::prop_assert_eq!(p.user_count(), model.len());
            }
        }
    }

    #[test]
    fn per_user_limit_boundary() {
        let mut p = Presence::new();
        for s in 0..3 {
            assert!(p.connect(s, u("a"), Limit::new(3)).is_ok());
        }
        assert!(matches!(
            p.connect(3, u("a"), Limit::new(3)),
            Err(PresenceError::TooManySockets { max, .. }) if max == Limit::new(3)
        ));
        assert!(
            p.connect(4, u("b"), Limit::new(3)).is_ok(),
            "the limit is per user"
        );
        p.disconnect(&0);
        assert!(p.connect(3, u("a"), Limit::new(3)).is_ok());
        for s in 10..100 {
            assert!(p.connect(s, u("a"), Limit::OFF).is_ok(), "0 turns it off");
        }
    }
}
