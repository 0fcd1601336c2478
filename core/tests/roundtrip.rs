//! Property tests: names round-trip exactly, and parsing never panics on any string.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use switchyard_core::{EventName, Room, RoomKind, RoomPattern};

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:@-]{1,64}"
}

fn room() -> impl Strategy<Value = Room> {
    prop_oneof![
        id().prop_map(|i| Room::new(RoomKind::User, &i).unwrap()),
        id().prop_map(|i| Room::new(RoomKind::Ticket, &i).unwrap()),
        id().prop_map(|i| Room::new(RoomKind::Meter, &i).unwrap()),
        "[a-z0-9_-]{1,64}".prop_map(|n| Room::new(RoomKind::System, &n).unwrap()),
    ]
}

proptest! {
    #[test]
    fn room_format_parse_round_trips(r in room()) {
        let s = r.to_string();
        prop_assert_eq!(s.parse::<Room>().unwrap(), r.clone());
        prop_assert_eq!(s.parse::<Room>().unwrap().to_string(), s);
    }

    #[test]
    fn room_parse_format_round_trips_on_any_string(s in "\\PC{0,80}") {
        if let Ok(r) = s.parse::<Room>() {
            prop_assert_eq!(r.to_string(), s);
        }
    }

    #[test]
    fn room_like_strings(kind in prop::sample::select(vec!["user_", "ticket_", "meter_", "system_", "User_", "x_"]), rest in "[A-Za-z0-9._:@ é-]{0,70}") {
        let s = format!("{kind}{rest}");
        if let Ok(r) = s.parse::<Room>() {
            prop_assert_eq!(r.to_string(), s);
            prop_assert!(r.id().len() <= 64 && !r.id().is_empty());
        }
    }

    #[test]
    fn event_names_round_trip(s in "[a-z][a-z0-9_]{0,63}") {
        let e = EventName::parse(s.clone());
        prop_assert_eq!(e.is_ok(), !switchyard_core::event::RESERVED.contains(&s.as_str()));
        if let Ok(e) = e { prop_assert_eq!(e.as_str(), s); }
    }

    #[test]
    fn event_names_never_panic(s in "\\PC{0,80}") {
        let _ = EventName::parse(s);
    }

    #[test]
    fn patterns_round_trip(s in "\\PC{0,40}") {
        if let Ok(p) = s.parse::<RoomPattern>() {
            prop_assert_eq!(p.to_string(), s);
        }
    }
}
