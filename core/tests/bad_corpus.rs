//! The bad-input corpus: every file under `tests/fixtures/bad/` must be refused, with exactly
//! the codes it lists, in order. See `tests/fixtures/bad/README.md` for the file format.
//!
//! A file that is accepted, refused with other codes, or cannot be read fails the test; all
//! problems are reported together.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use switchyard_core::event::{EventName, is_valid_event_name};
use switchyard_core::payload::{
    validate_announcement, validate_custom_data, validate_meter_reading, validate_notification,
    validate_ticket_update,
};
use switchyard_core::stream::read_handshake_since;
use switchyard_core::{
    ErrorCode, Fields, Input, Limit, MeterId, Room, RoomError, RoomGrants, RoomKind, RoomPattern,
    StreamPosition, Subscriptions, Surface, TicketId, Timestamp, UserId, ValidationErrors,
};

const DEFAULT_NOW: &str = "2024-01-15T10:00:00Z";
const DEFAULT_USER: &str = "u1";
const DEFAULT_GRANTS: [&str; 1] = ["ticket_*"];
const DEFAULT_MAX_SUBSCRIPTIONS: Limit = Limit::new(100);

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bad")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
}

/// JSON to [`Input`], reading `{"$nonFinite": "NaN" | "Infinity" | "-Infinity"}` (the same
/// convention as `tests/vectors`) as a non-finite number, which JSON cannot spell.
fn to_input(v: &Value) -> Result<Input<'static>, String> {
    Ok(match v {
        Value::Object(map) if map.len() == 1 && map.contains_key("$nonFinite") => {
            match map["$nonFinite"].as_str() {
                Some("NaN") => Input::NonFinite(f64::NAN),
                Some("Infinity") => Input::NonFinite(f64::INFINITY),
                Some("-Infinity") => Input::NonFinite(f64::NEG_INFINITY),
                other => return Err(format!("bad $nonFinite value {other:?}")),
            }
        }
        Value::Object(map) => Input::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), to_input(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(items) => Input::Array(items.iter().map(to_input).collect::<Result<_, _>>()?),
        other => Input::from(other.clone()),
    })
}

/// What a refusal looked like: the codes in order, and the paths where the kind has them.
struct Refusal {
    codes: Vec<String>,
    paths: Option<Vec<String>>,
}

impl From<ValidationErrors> for Refusal {
    fn from(e: ValidationErrors) -> Self {
        Refusal {
            codes: e.codes().into_iter().map(str::to_owned).collect(),
            paths: Some(e.iter().map(|e| e.path.clone()).collect()),
        }
    }
}

fn single(code: &str) -> Refusal {
    Refusal {
        codes: vec![code.to_owned()],
        paths: None,
    }
}

fn string_input(doc: &Value) -> Result<&str, String> {
    doc["input"]
        .as_str()
        .ok_or_else(|| "this fn takes a string input".to_owned())
}

fn string_list(doc: &Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match doc.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{key} must hold strings"))
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(format!("{key} must be an array of strings")),
    }
}

fn usize_field(doc: &Value, key: &str, default: usize) -> Result<usize, String> {
    match doc.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("{key} must be a non-negative integer")),
    }
}

/// Runs one corpus entry: `Ok(None)` if the input was accepted (a corpus failure).
fn run(doc: &Value) -> Result<Option<Refusal>, String> {
    let now = doc
        .get("now")
        .map_or(Some(DEFAULT_NOW), Value::as_str)
        .ok_or("now must be a string")?;
    let now = Timestamp::parse_rfc3339(now).map_err(|e| e.to_string())?;
    let input = to_input(doc.get("input").ok_or("no input")?)?;
    let func = doc["fn"].as_str().ok_or("fn must be a string")?;
    Ok(match func {
        "notification" => validate_notification(&input, now).err().map(Refusal::from),
        "ticket_update" => validate_ticket_update(&input, now).err().map(Refusal::from),
        "meter_reading" => validate_meter_reading(&input, now).err().map(Refusal::from),
        "announcement" => validate_announcement(&input, now).err().map(Refusal::from),
        "custom_data" => validate_custom_data(&input).err().map(Refusal::from),
        "room" => {
            let s = string_input(doc)?;
            match s.parse::<Room>() {
                Ok(_) => None,
                Err(e) => {
                    check_room_error(s, &e)?;
                    Some(single(RoomError::CODE.as_str()))
                }
            }
        }
        "event_name" => {
            let s = string_input(doc)?;
            match (EventName::parse(s), is_valid_event_name(s)) {
                (Ok(_), _) | (_, true) => None,
                // The API reports a bad event name as `invalid_format` at path `event`.
                (Err(e), false) => {
                    if e.value != s || e.to_string().is_empty() {
                        return Err(format!("the error does not name the value: {e}"));
                    }
                    match switchyard_core::routing::custom_event_name(s) {
                        Ok(_) => None,
                        Err(fe) => Some(Refusal {
                            codes: vec![fe.code.as_str().to_owned()],
                            paths: Some(vec![fe.path]),
                        }),
                    }
                }
            }
        }
        "user_id" => {
            let s = string_input(doc)?;
            // One id rule for users, tickets and meters, and for the id inside a room.
            let refused = [
                UserId::parse(s).is_err(),
                TicketId::parse(s).is_err(),
                MeterId::parse(s).is_err(),
                Room::new(RoomKind::User, s).is_err(),
                Room::new(RoomKind::Ticket, s).is_err(),
                Room::new(RoomKind::Meter, s).is_err(),
            ];
            if refused.iter().all(|r| *r) {
                Some(single("invalid_id"))
            } else if refused.iter().any(|r| *r) {
                return Err(format!("the id rules disagree: {refused:?}"));
            } else {
                None
            }
        }
        "room_pattern" => {
            let s = string_input(doc)?;
            // A token whose `rooms` claim holds it is refused as a whole.
            let claim = RoomGrants::parse(DEFAULT_USER.parse().unwrap(), ["ticket_*", s]);
            match (s.parse::<RoomPattern>(), claim) {
                (Err(e), Err(_)) if e.value == s => Some(single(ErrorCode::InvalidFormat.as_str())),
                (Err(e), Err(_)) => return Err(format!("the error names {:?}", e.value)),
                (Ok(_), Ok(_)) => None,
                _ => return Err("pattern and claim parsing disagree".to_owned()),
            }
        }
        "subscribe" => {
            let user: UserId = doc
                .get("user")
                .map_or(Some(DEFAULT_USER), Value::as_str)
                .ok_or("user must be a string")?
                .parse()
                .map_err(|e| format!("bad user: {e}"))?;
            let grants = string_list(doc, "grants")?
                .unwrap_or_else(|| DEFAULT_GRANTS.map(str::to_owned).to_vec());
            let grants = RoomGrants::parse(user, grants).map_err(|e| e.to_string())?;
            let subscriptions = usize_field(doc, "subscriptions", 0)?;
            let max = match doc.get("maxSubscriptions") {
                None => DEFAULT_MAX_SUBSCRIPTIONS,
                Some(_) => Limit::new(
                    u64::try_from(usize_field(doc, "maxSubscriptions", 0)?).unwrap_or(u64::MAX),
                ),
            };
            let mut subs = Subscriptions::new(grants.user().clone());
            for i in 0..subscriptions {
                let room: Room = format!("system_fill-{i}")
                    .parse()
                    .map_err(|e| format!("{e}"))?;
                subs.join(room, Limit::OFF).map_err(|e| e.to_string())?;
            }
            let with_since = subs
                .clone()
                .subscribe_with_since(&grants, &input, max)
                .err()
                .map(|e| e.code);
            // Without a `since`, the reader of `{ room }` must decide exactly the same.
            let has_since = matches!(&input, Input::Object(f) if f.contains_key("since"));
            if !has_since {
                let plain = subs.subscribe(&grants, &input, max).err().map(|e| e.code);
                if plain != with_since {
                    return Err(format!(
                        "subscribe readers disagree: {plain:?} vs {with_since:?}"
                    ));
                }
            }
            with_since.map(|c| single(c.as_str()))
        }
        "since" => {
            let refusal = StreamPosition::read(&input).err();
            // The same value in a subscribe payload is `invalid_payload`, and in `auth.since`
            // it is ignored.
            let user: UserId = DEFAULT_USER.parse().unwrap();
            let grants = RoomGrants::parse(user.clone(), DEFAULT_GRANTS).unwrap();
            let payload = Input::Object(Fields::from([
                ("room".into(), Input::String("ticket_1".into())),
                ("since".into(), input.clone()),
            ]));
            let ack = Subscriptions::new(user.clone())
                .subscribe_with_since(&grants, &payload, DEFAULT_MAX_SUBSCRIPTIONS)
                .err()
                .map(|e| e.code);
            let auth = Input::Object(Fields::from([
                (format!("user_{user}").into(), input.clone()),
                ("broadcast".into(), input.clone()),
            ]));
            let recovered = read_handshake_since(Some(&auth), &user)
                .iter()
                .filter(|s| s.since.is_some())
                .count();
            match (&refusal, ack, recovered) {
                (Some(_), Some(ErrorCode::InvalidPayload), 0) | (None, None, 2) => {}
                (_, ack, n) => {
                    return Err(format!(
                        "the since readers disagree: subscribe {ack:?}, auth.since kept {n}"
                    ));
                }
            }
            refusal.map(Refusal::from)
        }
        "refresh" => switchyard_core::protocol::parse_refresh_request(&input)
            .err()
            .map(|e| single(e.code.as_str())),
        other => return Err(format!("unknown fn {other:?}")),
    })
}

/// A room error names the value it refused and says why.
fn check_room_error(s: &str, e: &RoomError) -> Result<(), String> {
    if e.value != s || e.reason.is_empty() {
        return Err(format!("room error does not name the value: {e:?}"));
    }
    Ok(())
}

#[test]
fn every_bad_input_is_refused_with_its_codes() {
    let mut files = Vec::new();
    json_files(&corpus_dir(), &mut files);
    assert!(
        files.len() >= 60,
        "the corpus has only {} files; is {} there?",
        files.len(),
        corpus_dir().display()
    );

    let mut failures = Vec::new();
    let mut codes_seen = BTreeSet::new();
    let mut per_fn: BTreeMap<String, usize> = BTreeMap::new();
    for path in &files {
        let name = path.strip_prefix(corpus_dir()).unwrap_or(path).display();
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = match serde_json::from_str(&text) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("{name}: not JSON: {e}"));
                continue;
            }
        };
        let expected = match string_list(&doc, "codes") {
            Ok(Some(c)) if !c.is_empty() => c,
            _ => {
                failures.push(format!(
                    "{name}: `codes` must be a non-empty list of strings"
                ));
                continue;
            }
        };
        *per_fn
            .entry(doc["fn"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
        match run(&doc) {
            Err(e) => failures.push(format!("{name}: bad fixture: {e}")),
            Ok(None) => failures.push(format!("{name}: ACCEPTED, expected {expected:?}")),
            Ok(Some(got)) => {
                if got.codes != expected {
                    failures.push(format!(
                        "{name}: codes {:?}, expected {expected:?}",
                        got.codes
                    ));
                }
                match (string_list(&doc, "paths"), got.paths) {
                    (Ok(None), _) => {}
                    (Ok(Some(want)), Some(paths)) if want == paths => {}
                    (Ok(Some(want)), paths) => {
                        failures.push(format!("{name}: paths {paths:?}, expected {want:?}"))
                    }
                    (Err(e), _) => failures.push(format!("{name}: {e}")),
                }
                codes_seen.extend(got.codes);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );

    // The corpus covers every code of the contract, and every function.
    // Every code a payload can be refused with: not `unknown_event` (the fallback handler's,
    // which no payload reaches), `unavailable` (a store's state, not the input's),
    // `unauthorized` (a refresh token's verdict, which takes the server's keys and clock) nor
    // `rate_limited` (how often, not what, a client sends).
    let not_of_a_payload = [
        ErrorCode::UnknownEvent,
        ErrorCode::Unavailable,
        ErrorCode::Unauthorized,
        ErrorCode::RateLimited,
    ];
    let every_code: Vec<&str> = ErrorCode::on(Surface::Field)
        .chain(ErrorCode::on(Surface::Ack).filter(|c| !not_of_a_payload.contains(c)))
        .map(ErrorCode::as_str)
        .collect();
    let missing: Vec<_> = every_code
        .iter()
        .filter(|c| !codes_seen.contains(**c))
        .collect();
    assert!(
        missing.is_empty(),
        "no corpus file refuses with {missing:?}"
    );
    for f in [
        "notification",
        "ticket_update",
        "meter_reading",
        "announcement",
        "custom_data",
        "room",
        "event_name",
        "user_id",
        "room_pattern",
        "subscribe",
        "since",
        "refresh",
    ] {
        assert!(per_fn.contains_key(f), "no corpus file for fn {f}");
    }
}

/// The corpus reader itself must not be lenient: a valid input is reported as accepted.
#[test]
fn the_runner_reports_acceptance() {
    let cases = [
        serde_json::json!({"fn": "notification", "input": {"type": "info", "message": "m"}}),
        serde_json::json!({"fn": "ticket_update", "input": {"assignedTo": null}}),
        serde_json::json!({"fn": "meter_reading", "input": {"reading": 1, "timestamp": "2024-01-15T10:05:00Z", "unit": "Wh"}}),
        serde_json::json!({"fn": "announcement", "input": {"type": "outage", "message": "m"}}),
        serde_json::json!({"fn": "custom_data", "input": [1, "two", null]}),
        serde_json::json!({"fn": "room", "input": "system_presence"}),
        serde_json::json!({"fn": "event_name", "input": "job_done"}),
        serde_json::json!({"fn": "user_id", "input": "tech-42@site.a:b"}),
        serde_json::json!({"fn": "room_pattern", "input": "meter_site1-*"}),
        serde_json::json!({"fn": "subscribe", "input": {"room": "ticket_1"}}),
        serde_json::json!({"fn": "subscribe", "input": {"room": "user_u1"}, "subscriptions": 2, "maxSubscriptions": 2}),
        serde_json::json!({"fn": "subscribe", "input": {"room": "ticket_1", "since": {"epoch": "e", "offset": 0}}}),
        serde_json::json!({"fn": "subscribe", "input": {"room": "ticket_1", "since": null}}),
        serde_json::json!({"fn": "since", "input": {"epoch": "e", "offset": 9_007_199_254_740_991_u64}}),
        serde_json::json!({"fn": "since", "input": {"epoch": "e", "offset": 3.0}}),
    ];
    for doc in cases {
        assert!(
            matches!(run(&doc), Ok(None)),
            "{doc} should be accepted by the runner"
        );
    }
    assert!(run(&serde_json::json!({"fn": "nope", "input": 1})).is_err());
    assert!(run(&serde_json::json!({"fn": "room", "input": 1})).is_err());
}

fn nest_with(key: &str, depth: usize, leaf: Input<'static>) -> Input<'static> {
    (0..depth).fold(leaf, |inner, _| {
        Input::Object(Fields::from([(key.to_owned().into(), inner)]))
    })
}

fn nest(depth: usize, leaf: Input<'static>) -> Input<'static> {
    nest_with("a", depth, leaf)
}

fn notification_with(data: Input<'static>) -> Input<'static> {
    Input::Object(Fields::from([
        ("type".into(), Input::String("info".into())),
        ("message".into(), Input::String("m".into())),
        ("data".into(), data),
    ]))
}

/// Nesting 1000 levels deep cannot be written as a fixture: serde_json refuses JSON text
/// nested more than 128 levels at parse time, which is also why the HTTP API answers such a
/// body with 400 `invalid_json` and never reaches the validators. Values built in code (or
/// handed over from JavaScript by the wasm package) can be that deep, so the validators are
/// checked here: no stack overflow, and the usual codes.
#[test]
fn nesting_1000_levels_deep() {
    let now = Timestamp::parse_rfc3339(DEFAULT_NOW).unwrap();

    // As text, it is refused before validation.
    let text = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
    assert!(serde_json::from_str::<Input>(&text).is_err());

    // Deep but small and finite: free-form data is allowed to be deep.
    let ok = notification_with(nest(1000, Input::Null));
    assert!(validate_notification(&ok, now).is_ok());

    // A non-finite leaf is found, with its full path.
    let bad = notification_with(nest(1000, Input::NonFinite(f64::NAN)));
    let e = validate_notification(&bad, now).unwrap_err();
    assert_eq!(e.codes(), ["not_finite"]);
    let path = &e.0[0].path;
    assert_eq!(path.len(), "data".len() + 1000 * ".a".len(), "{path}");

    // Too large to fit: {"<20 chars>": … } is 25 bytes a level, over 16 KiB at 1000 levels,
    // and a 100-character key is over 64 KiB.
    let key = "k".repeat(20);
    let big = notification_with(nest_with(&key, 1000, Input::Null));
    assert_eq!(
        validate_notification(&big, now).unwrap_err().codes(),
        ["too_large"]
    );
    let big_custom = nest_with(&"k".repeat(100), 1000, Input::Null);
    assert_eq!(
        validate_custom_data(&big_custom).unwrap_err().codes(),
        ["too_large"]
    );
    // Deep values as ticket-update data and as the whole payload of every validator.
    let update = Input::Object(Fields::from([("data".into(), nest(1000, Input::Null))]));
    assert!(validate_ticket_update(&update, now).is_ok());
    for (name, result) in [
        (
            "notification",
            validate_notification(&nest(1000, Input::Null), now).map(|_| ()),
        ),
        (
            "meter_reading",
            validate_meter_reading(&nest(1000, Input::Null), now).map(|_| ()),
        ),
        (
            "announcement",
            validate_announcement(&nest(1000, Input::Null), now).map(|_| ()),
        ),
    ] {
        let codes = result.unwrap_err().codes();
        assert!(
            codes.contains(&"unknown_field") && codes.contains(&"required"),
            "{name}: {codes:?}"
        );
    }
    // Dropping these values is recursive too; reaching this line means it did not overflow.
    drop((ok, bad, big, big_custom));
}
