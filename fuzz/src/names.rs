//! `names`: every string parser of the core on one string (rooms, event names, ids, stream
//! names, room patterns, timestamps), and, when the input holds a newline, a pattern (before
//! it) matched against a room (after it).

use std::str::FromStr;

use switchyard_core::event::{EventScope, MAX_EVENT_NAME_LEN, is_valid_event_name};
use switchyard_core::ids::MAX_ID_LEN;
use switchyard_core::routing::custom_event_name;
use switchyard_core::{
    ErrorCode, EventName, Id, MeterId, Room, RoomGrants, RoomKind, RoomPattern, StreamName,
    SystemName, TicketId, Timestamp, UserId,
};

pub fn names(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    rooms(s);
    event_names(s);
    ids(s);
    streams(s);
    patterns(s);
    timestamps(s);
    if let Some((pattern, room)) = s.split_once('\n') {
        pattern_matches(pattern, room);
    }
}

/// `T::from_str(s)`, and if it parses, that it prints back as `s` and parses again to itself.
fn round_trip<T>(s: &str) -> Option<T>
where
    T: FromStr + ToString + PartialEq + std::fmt::Debug,
{
    let v = s.parse::<T>().ok()?;
    let printed = v.to_string();
    assert_eq!(
        printed, s,
        "{v:?} does not print as the string it came from"
    );
    match printed.parse::<T>() {
        Ok(again) => assert_eq!(again, v, "{s:?} parses to another value the second time"),
        Err(_) => panic!("{s:?} parsed once and not again"),
    }
    Some(v)
}

fn rooms(s: &str) {
    match s.parse::<Room>() {
        Ok(_) => {
            let room = round_trip::<Room>(s).expect("parsed above");
            assert_eq!(Room::new(room.kind(), room.id()).as_ref(), Ok(&room));
            assert_eq!(RoomKind::split(s), Some((room.kind(), room.id())));
            let json = serde_json::to_string(&room).expect("a room serialises");
            let back: Room = serde_json::from_str(&json).expect("a serialised room reads back");
            assert_eq!(back, room);
            assert_eq!(StreamName::of_room(&room).is_none(), room.is_presence());
        }
        Err(e) => {
            assert_eq!(e.value, s, "a room error names the refused string");
            assert!(!e.reason.is_empty());
            // A string that is not a room does not become one through serde either.
            let json = serde_json::to_string(s).expect("a string serialises");
            assert!(serde_json::from_str::<Room>(&json).is_err());
        }
    }
}

fn event_names(s: &str) {
    let valid = is_valid_event_name(s);
    match EventName::parse(s) {
        Ok(_) => {
            assert!(valid);
            let name = round_trip::<EventName>(s).expect("parsed above");
            assert!(s.len() <= MAX_EVENT_NAME_LEN && s.is_ascii());
            if let EventScope::Kind(kind) = name.scope() {
                assert!(s.starts_with(kind.prefix()) && s.len() > kind.prefix().len());
            }
            match custom_event_name(s) {
                Ok(custom) => assert!(!custom.is_server_owned() && custom == name),
                Err(e) => {
                    assert!(name.is_server_owned());
                    assert_eq!(
                        (e.code, e.path.as_str()),
                        (ErrorCode::InvalidFormat, "event")
                    );
                }
            }
        }
        Err(e) => {
            assert!(!valid);
            assert_eq!(e.value, s);
            let refused = custom_event_name(s).expect_err("an invalid name is no custom event");
            assert_eq!(refused.code, ErrorCode::InvalidFormat);
        }
    }
}

fn ids(s: &str) {
    // One id rule for users, tickets, meters and generic ids, and for the id inside a room.
    let id = round_trip::<Id>(s).map(|v| v.into_string());
    let user = round_trip::<UserId>(s).map(|v| v.into_string());
    let ticket = round_trip::<TicketId>(s).map(|v| v.into_string());
    let meter = round_trip::<MeterId>(s).map(|v| v.into_string());
    assert!(
        id == user && user == ticket && ticket == meter,
        "the id rules disagree on {s:?}"
    );
    for kind in [RoomKind::User, RoomKind::Ticket, RoomKind::Meter] {
        assert_eq!(Room::new(kind, s).is_ok(), id.is_some());
    }
    if id.is_some() {
        assert!(!s.is_empty() && s.len() <= MAX_ID_LEN && s.is_ascii());
    }
    let system = round_trip::<SystemName>(s);
    assert_eq!(Room::new(RoomKind::System, s).is_ok(), system.is_some());
    if system.is_some() {
        // Every system name is also a valid id (a-z 0-9 _ - is a subset).
        assert!(id.is_some(), "system name {s:?} is not an id");
    }
    // serde reads ids by the same rule as parsing.
    let json = serde_json::to_string(s).expect("a string serialises");
    assert_eq!(serde_json::from_str::<UserId>(&json).is_ok(), id.is_some());
    assert_eq!(
        serde_json::from_str::<SystemName>(&json).is_ok(),
        system.is_some()
    );
}

fn streams(s: &str) {
    let Some(stream) = round_trip::<StreamName>(s) else {
        assert_ne!(s, StreamName::BROADCAST);
        return;
    };
    match stream.room() {
        Some(room) => {
            assert!(!room.is_presence(), "system_presence has no stream");
            assert_eq!(s.parse::<Room>().as_ref(), Ok(room));
        }
        None => assert_eq!(s, StreamName::BROADCAST),
    }
    let json = serde_json::to_string(&stream).expect("a stream name serialises");
    let back: StreamName = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, stream);
}

fn patterns(s: &str) {
    let parsed = round_trip::<RoomPattern>(s);
    if parsed.is_none() {
        let e = s.parse::<RoomPattern>().expect_err("refused above");
        assert_eq!(e.value, s);
    }
    // A claim is refused as a whole when one entry is bad.
    let user = UserId::parse("fuzz-user").expect("a valid id");
    let claim = RoomGrants::parse(user.clone(), ["ticket_*", s]);
    assert_eq!(claim.is_ok(), parsed.is_some());
    if let Ok(grants) = claim {
        assert!(
            grants.allows(&Room::User(user)),
            "the own room is always granted"
        );
        assert_eq!(grants.patterns().len(), 2);
    }
}

fn timestamps(s: &str) {
    let Ok(t) = Timestamp::parse_rfc3339(s) else {
        return;
    };
    // The canonical form (UTC, milliseconds, Z) reads back as the same instant.
    let printed = t.to_string();
    assert_eq!(
        Timestamp::parse_rfc3339(&printed),
        Ok(t),
        "{s:?} printed as {printed:?}"
    );
    assert_eq!(printed.len(), "2024-01-15T10:00:00.000Z".len());
    assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Ok(t));
}

/// A pattern covers a room exactly when the room's name is the pattern, or starts with the
/// pattern's text before its `*` (the room prefixes are distinct, so the kind follows).
fn pattern_matches(pattern: &str, room: &str) {
    let (Ok(p), Ok(r)) = (pattern.parse::<RoomPattern>(), room.parse::<Room>()) else {
        return;
    };
    let by_text = pattern == room
        || pattern
            .strip_suffix('*')
            .is_some_and(|pre| room.starts_with(pre));
    assert_eq!(p.matches(&r), by_text, "{pattern:?} against {room:?}");
    let user = UserId::parse("fuzz-user").expect("a valid id");
    let grants = RoomGrants::parse(user.clone(), [pattern]).expect("parsed above");
    assert_eq!(grants.allows(&r), by_text || r.is_user_room_of(&user));
}
