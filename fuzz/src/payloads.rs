//! `input_json`, `validators` and `payload_readers`: untrusted JSON as [`Input`], through every
//! payload validator and every reader of a client's event payload.

use serde_json::Value;
use switchyard_core::payload::{
    validate_announcement, validate_custom_data, validate_meter_reading, validate_notification,
    validate_ticket_update,
};
use switchyard_core::protocol::{
    AckError, TokenRequest, parse_refresh_request, parse_room_request, parse_subscribe_request,
};
use switchyard_core::routing::custom_event;
use switchyard_core::stream::{MAX_EPOCH_CHARS, MAX_OFFSET, read_handshake_since};
use switchyard_core::{
    ErrorCode, Input, Meta, Room, RoomGrants, RoomPattern, StreamPosition, Subscriptions, Surface,
    Target, UserId, ValidationErrors,
};

use crate::{json_input, now_from};

/// JSON text → [`Input`]: it agrees with `serde_json::Value` on what parses and to what, and
/// what parses writes back as JSON that parses to the same value.
pub fn input_json(data: &[u8]) {
    let input = serde_json::from_slice::<Input>(data);
    let value = serde_json::from_slice::<Value>(data);
    let (input, value) = match (input, value) {
        (Ok(i), Ok(v)) => (i, v),
        (Err(_), Err(_)) => return,
        (i, v) => panic!(
            "Input and Value disagree: {:?} vs {:?}",
            i.map(|_| ()),
            v.map(|_| ())
        ),
    };
    assert_eq!(
        input,
        Input::from(value.clone()),
        "Input differs from Value"
    );
    // JSON text holds no non-finite number, so every parsed input converts back.
    let json = input
        .to_json()
        .expect("JSON text holds only finite numbers");
    assert_eq!(json, value);
    let text = serde_json::to_string(&json).expect("a Value serialises");
    let again: Input = serde_json::from_str(&text).expect("written JSON parses");
    assert_eq!(again, input, "{text} does not read back as the same input");
    // And the macro-expanded reading (the other targets' input) never panics either.
    let _ = json_input(data);
}

fn check_field_errors(e: &ValidationErrors) {
    assert!(!e.0.is_empty(), "a refusal lists at least one error");
    for f in e.iter() {
        assert!(
            f.code.appears_on(Surface::Field),
            "{} is not a field error code",
            f.code
        );
        assert!(!f.message.is_empty());
        assert_ne!(
            f.message, "internal validation inconsistency",
            "a validator reached its unreachable branch"
        );
    }
}

fn check_ack_error(e: &AckError) {
    assert!(
        e.code.appears_on(Surface::Ack),
        "{} is not an ack code",
        e.code
    );
    assert!(!e.message.is_empty());
}

/// Every payload validator (contract section 2) and the custom event body; the first byte
/// chooses the validator and "now", the rest is JSON.
pub fn validators(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(input) = json_input(rest) else {
        return;
    };
    let now = now_from(selector >> 3);
    let out = match selector % 6 {
        0 => validate_notification(&input, now)
            .map(|n| serde_json::to_value(n.into_notification("n-1".into(), now))),
        1 => validate_ticket_update(&input, now).map(|t| {
            let id = "T-1".parse().expect("a valid id");
            serde_json::to_value(t.into_update(id, now))
        }),
        2 => validate_meter_reading(&input, now).map(|m| {
            assert!(m.reading_f64().is_finite());
            let id = "M-1".parse().expect("a valid id");
            serde_json::to_value(m.into_reading(id))
        }),
        3 => validate_announcement(&input, now)
            .map(|a| serde_json::to_value(a.into_announcement("a-1".into(), now))),
        4 => validate_custom_data(&input).map(|v| {
            let len = serde_json::to_vec(&v)
                .map(|b| b.len())
                .unwrap_or(usize::MAX);
            assert!(len <= switchyard_core::payload::MAX_CUSTOM_DATA_BYTES);
            Ok(v)
        }),
        _ => custom_event(Target::All, &input).map(|d| {
            assert!(!d.event.is_server_owned());
            serde_json::to_value(&d.payload)
        }),
    };
    match out {
        Ok(json) => {
            json.expect("an accepted payload serialises");
        }
        Err(e) => check_field_errors(&e),
    }
}

/// The readers of a client's payloads: `subscribe`/`unsubscribe` (with the subscription
/// decision), `auth.since`, a position, an event's meta, the demo's token request and
/// `refresh`. The
/// first byte chooses the reader, the rest is JSON.
pub fn payload_readers(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(input) = json_input(rest) else {
        return;
    };
    let user = UserId::parse("u1").expect("a valid id");
    match selector % 7 {
        0 => room_requests(&input),
        1 => subscribe_decision(&user, &input, selector),
        2 => {
            for s in read_handshake_since(Some(&input), &user) {
                if let Some(p) = &s.since {
                    check_position(p, 0);
                }
            }
        }
        3 => match StreamPosition::read(&input) {
            Ok(p) => check_position(&p, 0),
            Err(e) => check_field_errors(&e),
        },
        4 => match Meta::read(&input) {
            Ok(m) => {
                check_position(&m.position(), 1);
                let json = serde_json::to_value(&m).expect("a meta serialises");
                let back = Meta::read(&Input::from(json)).expect("a written meta reads back");
                assert_eq!(back, m);
            }
            Err(e) => check_field_errors(&e),
        },
        5 => match TokenRequest::read(&input) {
            Ok(t) => {
                for p in t.rooms.iter().flatten() {
                    assert_eq!(p.to_string().parse::<RoomPattern>().as_ref(), Ok(p));
                }
            }
            Err(e) => check_field_errors(&e),
        },
        // `refresh { token }` (contract section 10); the token itself is the `jwt` target's.
        _ => match parse_refresh_request(&input) {
            Ok(r) => {
                let Input::Object(fields) = &input else {
                    panic!("a refresh payload that is not an object was read")
                };
                assert_eq!(fields.len(), 1);
                assert_eq!(
                    fields.get("token"),
                    Some(&Input::String(r.token.clone().into()))
                );
                // A token is a credential: its debug print is its length, nothing of it (not
                // "does not contain the token": the fuzzer found a token that is a piece of
                // the print itself).
                assert_eq!(
                    format!("{r:?}"),
                    format!("RefreshRequest {{ token: <{} bytes> }}", r.token.len())
                );
            }
            Err(e) => {
                check_ack_error(&e);
                assert_eq!(e.code, ErrorCode::InvalidPayload);
            }
        },
    }
}

fn check_position(p: &StreamPosition, min_offset: u64) {
    let chars = p.epoch.chars().count();
    assert!(
        (1..=MAX_EPOCH_CHARS).contains(&chars),
        "epoch of {chars} characters"
    );
    assert!(
        (min_offset..=MAX_OFFSET).contains(&p.offset),
        "offset {}",
        p.offset
    );
}

/// `{ room }` and `{ room, since? }`: a payload without `since` reads the same by both, and
/// whatever is refused carries an ack code.
fn room_requests(input: &Input) {
    let plain = parse_room_request(input);
    let with_since = parse_subscribe_request(input);
    if let Err(e) = &plain {
        check_ack_error(e);
    }
    match &with_since {
        Ok(r) => {
            if let Some(p) = &r.since {
                check_position(p, 0);
                assert!(
                    !r.room.is_presence(),
                    "a since for system_presence is dropped"
                );
            }
            assert_eq!(r.room.to_string().parse::<Room>().as_ref(), Ok(&r.room));
        }
        Err(e) => check_ack_error(e),
    }
    let has_since = matches!(input, Input::Object(f) if f.contains_key("since"));
    if !has_since {
        assert_eq!(
            plain.as_ref().map_err(|e| e.code),
            with_since.as_ref().map(|r| &r.room).map_err(|e| e.code),
            "the two room readers disagree"
        );
    }
}

/// The whole `subscribe` decision with a few grant sets and limits.
fn subscribe_decision(user: &UserId, input: &Input, selector: u8) {
    let claims: [&[&str]; 4] = [&[], &["ticket_*"], &["*"], &["meter_site1-*", "system_ops"]];
    let grants = RoomGrants::parse(user.clone(), claims[usize::from(selector >> 3) % 4])
        .expect("valid patterns");
    // 0..=7 rooms; 0 is "no limit", as the flag's 0 is.
    let n = selector >> 5;
    let max = switchyard_core::Limit::new(u64::from(n));
    let mut subs = Subscriptions::new(user.clone());
    let before = subs.len();
    match subs.subscribe_with_since(&grants, input, max) {
        Ok((request, _)) => {
            assert!(grants.allows(&request.room), "joined a room not granted");
            assert!(n == 0 || subs.len() <= usize::from(n).max(before));
            assert!(subs.contains(&request.room));
            // Leaving by the same payload without `since` works (except for the own room).
            let mut plain = input.clone();
            if let Input::Object(f) = &mut plain {
                f.remove("since");
            }
            match subs.unsubscribe(&plain) {
                Ok(room) => assert_eq!(room, request.room),
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::Forbidden);
                    assert!(request.room.is_user_room_of(user));
                }
            }
        }
        Err(e) => {
            check_ack_error(&e);
            assert_eq!(subs.len(), before, "a refused subscribe changed nothing");
        }
    }
}
