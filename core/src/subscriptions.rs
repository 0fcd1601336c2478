//! A socket's subscriptions: the rooms it joined beyond its own user room, the per-socket limit,
//! and the rule that the own user room is neither counted nor ever left. The host keeps one
//! [`Subscriptions`] per socket and carries out what it answers (joins and leaves the
//! transport's rooms); the rules live here once, for the client's `subscribe` / `unsubscribe`
//! and for the backend's `joinRoom` / `leaveRoom` alike, and which rooms a `refresh` with new
//! grants takes away.

use crate::auth::RoomGrants;
use crate::code::ErrorCode;
use crate::ids::UserId;
use crate::input::Input;
use crate::limit::Limit;
use crate::protocol::{AckError, SubscribeRequest, parse_room_request, parse_subscribe_request};
use crate::room::Room;

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The room is a new subscription.
    New,
    /// The socket was already subscribed; nothing changed.
    Already,
    /// The socket's own user room: always joined, never counted.
    OwnRoom,
}

/// Who put a socket in a room. A room can have both: the backend's join is what keeps it when
/// a `refresh` narrows the client's grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Origin {
    /// The client's `subscribe`, checked against its grants.
    client: bool,
    /// The backend's `joinRoom`, which needs no grant.
    backend: bool,
}

/// The rooms one socket of `user` is subscribed to (its own user room excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    user: UserId,
    /// Sorted by room, one entry each. A `Vec` rather than a `BTreeMap`, whose first leaf holds
    /// eleven entries: about 0.4 KiB of every connected socket with one subscription
    /// (heaptrack), where this is the room and a flag. Inserting shifts the rest, which at the
    /// default limit of 100 is nothing, and with the limit off is still paced by
    /// `--socket-events-per-sec`.
    rooms: Vec<(Room, Origin)>,
}

impl Subscriptions {
    /// No subscriptions yet.
    pub fn new(user: UserId) -> Self {
        Self {
            user,
            rooms: Vec::new(),
        }
    }

    /// Whose socket this is.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// How many subscriptions count against the limit.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Whether the socket is subscribed to `room` (its own user room included).
    pub fn contains(&self, room: &Room) -> bool {
        room.is_user_room_of(&self.user) || self.find(room).is_ok()
    }

    fn find(&self, room: &Room) -> Result<usize, usize> {
        self.rooms.binary_search_by(|(r, _)| r.cmp(room))
    }

    /// The subscriptions, sorted.
    pub fn rooms(&self) -> impl Iterator<Item = &Room> {
        self.rooms.iter().map(|(room, _)| room)
    }

    /// A client's `subscribe { room }`: the payload must name a room that `grants` cover and
    /// that fits within `max` subscriptions ([`Limit::OFF`]: any number). Subscribing twice is not an error. A `since` in
    /// the payload is an unknown field here; [`subscribe_with_since`](Self::subscribe_with_since)
    /// reads it.
    pub fn subscribe(
        &mut self,
        grants: &RoomGrants,
        payload: &Input,
        max: Limit,
    ) -> Result<(Room, Joined), AckError> {
        let room = parse_room_request(payload)?;
        let joined = self.admit(grants, room.clone(), max)?;
        Ok((room, joined))
    }

    /// A client's `subscribe { room, since? }`: the rules of [`subscribe`](Self::subscribe),
    /// and the request's `since` (see [`parse_subscribe_request`]) comes back for the host to
    /// judge with [`recover`](crate::stream::recover). A socket already in the room gets
    /// `Joined::Already` and its `since` all the same: subscribing again replays too.
    pub fn subscribe_with_since(
        &mut self,
        grants: &RoomGrants,
        payload: &Input,
        max: Limit,
    ) -> Result<(SubscribeRequest, Joined), AckError> {
        let request = parse_subscribe_request(payload)?;
        let joined = self.admit(grants, request.room.clone(), max)?;
        Ok((request, joined))
    }

    fn admit(&mut self, grants: &RoomGrants, room: Room, max: Limit) -> Result<Joined, AckError> {
        if !grants.allows(&room) {
            return Err(AckError::new(
                ErrorCode::Forbidden,
                format!("your token grants no access to {room}"),
            ));
        }
        self.insert(
            room,
            max,
            Origin {
                client: true,
                backend: false,
            },
        )
    }

    /// The backend's `joinRoom`: no grant is needed (the backend is trusted with the room),
    /// but the room counts against `max` like a client's subscription, so no caller can grow a
    /// socket's rooms, and with them its share of every fan-out, without bound.
    pub fn join(&mut self, room: Room, max: Limit) -> Result<Joined, AckError> {
        self.insert(
            room,
            max,
            Origin {
                client: false,
                backend: true,
            },
        )
    }

    fn insert(&mut self, room: Room, max: Limit, by: Origin) -> Result<Joined, AckError> {
        if room.is_user_room_of(&self.user) {
            return Ok(Joined::OwnRoom);
        }
        let at = match self.find(&room) {
            Ok(i) => {
                let origin = &mut self.rooms[i].1;
                origin.client |= by.client;
                origin.backend |= by.backend;
                return Ok(Joined::Already);
            }
            Err(at) => at,
        };
        if !max.admits_one_more(self.rooms.len()) {
            return Err(AckError::new(
                ErrorCode::LimitExceeded,
                format!("a socket may hold at most {max} subscriptions"),
            ));
        }
        crate::small::insert(&mut self.rooms, at, (room, by));
        Ok(Joined::New)
    }

    /// The rooms that `grants` take away, sorted by name: those the client subscribed to that the
    /// grants no longer allow. Never the own user room (not a subscription), and never a room
    /// the backend joined, which was never the token's to give.
    pub fn revoked_by(&self, grants: &RoomGrants) -> Vec<Room> {
        let mut revoked: Vec<Room> = self
            .rooms
            .iter()
            .filter(|(room, origin)| !origin.backend && !grants.allows(room))
            .map(|(room, _)| room.clone())
            .collect();
        // By name, as the client reads them (a `Room` orders by kind first).
        revoked.sort_by_cached_key(Room::to_string);
        revoked
    }

    /// A `refresh` with a new token's `grants`: refused (`forbidden`) when the token is another
    /// user's, since a socket's user never changes; otherwise the rooms
    /// [`revoked_by`](Self::revoked_by) the grants are left and returned, sorted, for the host
    /// to leave too. A room both the client and the backend put the socket in stays.
    pub fn refresh(&mut self, grants: &RoomGrants) -> Result<Vec<Room>, AckError> {
        if grants.user() != &self.user {
            return Err(AckError::new(
                ErrorCode::Forbidden,
                "the new token is for another user; a socket keeps its user",
            ));
        }
        let left = self.revoked_by(grants);
        // The complement of `revoked_by`'s filter, in one pass.
        self.rooms
            .retain(|(room, origin)| origin.backend || grants.allows(room));
        Ok(left)
    }

    /// A client's `unsubscribe { room }`.
    pub fn unsubscribe(&mut self, payload: &Input) -> Result<Room, AckError> {
        let room = parse_room_request(payload)?;
        self.leave(&room)?;
        Ok(room)
    }

    /// Leaves `room`, whoever asks. The own user room cannot be left, since that is where the
    /// user's notifications go; leaving a room the socket is not in changes nothing.
    pub fn leave(&mut self, room: &Room) -> Result<(), AckError> {
        if room.is_user_room_of(&self.user) {
            return Err(AckError::new(
                ErrorCode::Forbidden,
                format!("{room} is this socket's own room and cannot be left"),
            ));
        }
        if let Ok(i) = self.find(room) {
            self.rooms.remove(i);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(s: &str) -> Input<'static> {
        serde_json::from_str(s).unwrap()
    }
    fn grants() -> RoomGrants {
        RoomGrants::parse("u1".parse().unwrap(), ["ticket_*"]).unwrap()
    }
    fn subs() -> Subscriptions {
        Subscriptions::new("u1".parse().unwrap())
    }
    fn room(s: &str) -> Room {
        s.parse().unwrap()
    }
    fn names(s: &Subscriptions) -> Vec<String> {
        let mut names: Vec<String> = s.rooms().map(Room::to_string).collect();
        names.sort();
        names
    }
    fn code<T: std::fmt::Debug>(r: Result<T, AckError>) -> &'static str {
        r.unwrap_err().code.as_str()
    }

    #[test]
    fn subscribe_decisions() {
        let mut s = subs();
        let (r, j) = s
            .subscribe(&grants(), &input(r#"{"room":"ticket_1"}"#), Limit::new(2))
            .unwrap();
        assert_eq!((r.to_string().as_str(), j), ("ticket_1", Joined::New));
        assert_eq!(
            code(s.subscribe(&grants(), &input(r#"{"room":"meter_1"}"#), Limit::new(2))),
            "forbidden"
        );
        for bad in [
            r#"{"room":5}"#,
            r#""ticket_1""#,
            r#"{"room":"ticket_1","x":1}"#,
        ] {
            assert_eq!(
                code(s.subscribe(&grants(), &input(bad), Limit::new(2))),
                "invalid_payload",
                "{bad}"
            );
        }
        assert_eq!(
            code(s.subscribe(&grants(), &input(r#"{"room":"nope"}"#), Limit::new(2))),
            "invalid_room"
        );
        assert_eq!(s.len(), 1, "refusals record nothing");
    }

    #[test]
    fn subscribe_with_since_follows_the_same_rules() {
        use crate::stream::StreamPosition;
        let mut s = subs();
        let at = r#""since":{"epoch":"e","offset":2}"#;
        let (req, j) = s
            .subscribe_with_since(
                &grants(),
                &input(&format!(r#"{{"room":"ticket_1",{at}}}"#)),
                Limit::new(2),
            )
            .unwrap();
        assert_eq!(
            (req.room, req.since, j),
            (
                room("ticket_1"),
                Some(StreamPosition::new("e", 2)),
                Joined::New
            )
        );
        let (req, j) = s
            .subscribe_with_since(
                &grants(),
                &input(&format!(r#"{{"room":"ticket_1",{at}}}"#)),
                Limit::new(2),
            )
            .unwrap();
        assert_eq!(
            (req.since.is_some(), j),
            (true, Joined::Already),
            "again: replays too"
        );
        let (req, j) = s
            .subscribe_with_since(
                &grants(),
                &input(&format!(r#"{{"room":"user_u1",{at}}}"#)),
                Limit::new(0),
            )
            .unwrap();
        assert_eq!(
            (req.since.is_some(), j),
            (true, Joined::OwnRoom),
            "the inbox"
        );
        assert_eq!(
            code(s.subscribe_with_since(
                &grants(),
                &input(&format!(r#"{{"room":"meter_1",{at}}}"#)),
                Limit::new(2)
            )),
            "forbidden"
        );
        assert_eq!(
            code(s.subscribe_with_since(
                &grants(),
                &input(r#"{"room":"ticket_2","since":{}}"#),
                Limit::new(2)
            )),
            "invalid_payload"
        );
        assert_eq!(
            code(s.subscribe_with_since(
                &grants(),
                &input(r#"{"room":"ticket_2"}"#),
                Limit::new(1)
            )),
            "limit_exceeded"
        );
        assert_eq!(
            code(s.subscribe(
                &grants(),
                &input(&format!(r#"{{"room":"ticket_2",{at}}}"#)),
                Limit::new(2)
            )),
            "invalid_payload",
            "the plain reader knows no since"
        );
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn limit_boundary_counts_neither_the_own_room_nor_repeats() {
        let mut s = subs();
        assert_eq!(s.join(room("ticket_1"), Limit::new(2)), Ok(Joined::New));
        assert_eq!(s.join(room("ticket_2"), Limit::new(2)), Ok(Joined::New));
        assert_eq!(
            code(s.join(room("ticket_3"), Limit::new(2))),
            "limit_exceeded"
        );
        assert_eq!(s.join(room("ticket_2"), Limit::new(2)), Ok(Joined::Already));
        assert_eq!(s.join(room("user_u1"), Limit::new(2)), Ok(Joined::OwnRoom));
        let (_, j) = s
            .subscribe(&grants(), &input(r#"{"room":"user_u1"}"#), Limit::new(2))
            .unwrap();
        assert_eq!(j, Joined::OwnRoom);
        assert_eq!(s.len(), 2);
        s.leave(&room("ticket_1")).unwrap();
        assert_eq!(s.join(room("ticket_3"), Limit::new(2)), Ok(Joined::New));
        assert_eq!(
            s.join(room("ticket_4"), Limit::OFF),
            Ok(Joined::New),
            "0 turns the limit off"
        );
        for i in 5..200 {
            assert_eq!(
                s.join(room(&format!("ticket_{i}")), Limit::OFF),
                Ok(Joined::New)
            );
        }
    }

    #[test]
    fn a_refresh_leaves_what_the_new_grants_no_longer_allow() {
        let wide = RoomGrants::parse("u1".parse().unwrap(), ["ticket_*", "meter_*"]).unwrap();
        let mut s = subs();
        for r in ["ticket_2", "meter_9", "ticket_1", "meter_1"] {
            s.subscribe(
                &wide,
                &input(&format!(r#"{{"room":"{r}"}}"#)),
                Limit::new(10),
            )
            .unwrap();
        }
        s.subscribe(&wide, &input(r#"{"room":"user_u1"}"#), Limit::new(10))
            .unwrap();
        // The backend's rooms: one only it joined, one the client subscribed to as well.
        s.join(room("system_ops"), Limit::new(10)).unwrap();
        s.join(room("meter_1"), Limit::new(10)).unwrap();
        let narrow = RoomGrants::parse("u1".parse().unwrap(), ["ticket_1"]).unwrap();
        assert_eq!(
            s.revoked_by(&narrow),
            [room("meter_9"), room("ticket_2")],
            "sorted; not the backend's rooms"
        );
        assert_eq!(s.len(), 5, "revoked_by decides only");
        assert_eq!(
            s.refresh(&narrow),
            Ok(vec![room("meter_9"), room("ticket_2")])
        );
        assert_eq!(names(&s), ["meter_1", "system_ops", "ticket_1"]);
        assert!(s.contains(&room("user_u1")), "the own room stays");
        assert_eq!(s.refresh(&narrow), Ok(vec![]), "nothing more to leave");
        let none = RoomGrants::parse("u1".parse().unwrap(), Vec::<String>::new()).unwrap();
        assert_eq!(s.refresh(&none), Ok(vec![room("ticket_1")]));
        assert_eq!(
            names(&s),
            ["meter_1", "system_ops"],
            "the backend's rooms need no grant"
        );
    }

    #[test]
    fn a_refresh_for_another_user_is_forbidden_and_changes_nothing() {
        let mut s = subs();
        s.subscribe(&grants(), &input(r#"{"room":"ticket_1"}"#), Limit::new(10))
            .unwrap();
        let other = RoomGrants::parse("u2".parse().unwrap(), Vec::<String>::new()).unwrap();
        assert_eq!(code(s.refresh(&other)), "forbidden");
        assert!(s.contains(&room("ticket_1")));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn a_backend_leave_and_a_client_unsubscribe_forget_both_origins() {
        let mut s = subs();
        s.join(room("meter_1"), Limit::new(10)).unwrap();
        s.subscribe(&grants(), &input(r#"{"room":"ticket_1"}"#), Limit::new(10))
            .unwrap();
        s.join(room("ticket_1"), Limit::new(10)).unwrap();
        s.leave(&room("ticket_1")).unwrap();
        // Subscribed again by the client only: a narrower token takes it away now.
        s.subscribe(&grants(), &input(r#"{"room":"ticket_1"}"#), Limit::new(10))
            .unwrap();
        let none = RoomGrants::parse("u1".parse().unwrap(), Vec::<String>::new()).unwrap();
        assert_eq!(s.refresh(&none), Ok(vec![room("ticket_1")]));
        assert_eq!(names(&s), ["meter_1"]);
    }

    #[test]
    fn the_own_room_cannot_be_left() {
        let mut s = subs();
        assert_eq!(
            code(s.unsubscribe(&input(r#"{"room":"user_u1"}"#))),
            "forbidden"
        );
        assert!(s.contains(&room("user_u1")));
        assert_eq!(
            s.unsubscribe(&input(r#"{"room":"user_u2"}"#)),
            Ok(room("user_u2")),
            "leaving a room one is not in is fine"
        );
    }
}
