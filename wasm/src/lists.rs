//! The core's fixed lists for JavaScript: at run time the package's constants (`EVENTS`,
//! `NOTIFICATION_TYPES`, `TICKET_STATUSES`, `TICKET_PRIORITIES`, `METER_UNITS`,
//! `ANNOUNCEMENT_TYPES`), and at type level the TypeScript unions in `src/lists.d.ts` (the
//! error codes of each [`Surface`], the payload enums, the room kinds, the event names).
//!
//! Both are rendered from the same tables below, which hold only names: every value is read
//! from [`switchyard_core`]. `src/lists.d.ts` is committed so that reviewers read the types as
//! TypeScript; a native test renders it again and fails on any difference
//! (`UPDATE_TYPES=1 cargo test -p switchyard-wasm` rewrites it).

use js_sys::{Array, Object, Reflect};
use switchyard_core::payload::{
    AnnouncementType, MeterUnit, NotificationType, TicketPriority, TicketStatus,
};
use switchyard_core::{Accepted, ErrorCode, Room, RoomKind, StreamName, Surface, event};
use wasm_bindgen::prelude::*;

/// One payload enum as JavaScript sees it.
struct ValueList {
    /// The runtime constant (a frozen array).
    constant: &'static str,
    /// The constant's type: a readonly tuple of the literals.
    tuple: &'static str,
    /// The union of the literals (what an input or payload field takes).
    union: &'static str,
    /// The field the values are for, for the doc comment.
    field: &'static str,
    names: &'static [&'static str],
}

const VALUE_LISTS: [ValueList; 5] = [
    ValueList {
        constant: "NOTIFICATION_TYPES",
        tuple: "NotificationTypes",
        union: "NotificationType",
        field: "a notification's `type`",
        names: NotificationType::NAMES,
    },
    ValueList {
        constant: "TICKET_STATUSES",
        tuple: "TicketStatuses",
        union: "TicketStatus",
        field: "a ticket update's `status`",
        names: TicketStatus::NAMES,
    },
    ValueList {
        constant: "TICKET_PRIORITIES",
        tuple: "TicketPriorities",
        union: "TicketPriority",
        field: "a ticket update's `priority`",
        names: TicketPriority::NAMES,
    },
    ValueList {
        constant: "METER_UNITS",
        tuple: "MeterUnits",
        union: "MeterUnit",
        field: "a meter reading's `unit` (case-sensitive)",
        names: MeterUnit::NAMES,
    },
    ValueList {
        constant: "ANNOUNCEMENT_TYPES",
        tuple: "AnnouncementTypes",
        union: "AnnouncementType",
        field: "an announcement's `type`",
        names: AnnouncementType::NAMES,
    },
];

/// Every answer of `StreamTracker.accept`, in the core's order of its rules.
const ACCEPTED: [Accepted; 3] = [Accepted::New, Accepted::Duplicate, Accepted::Gap];
// A variant added to the core does not compile here until `ACCEPTED` lists it.
const _: fn(Accepted) = |a| match a {
    Accepted::New | Accepted::Duplicate | Accepted::Gap => {}
};

/// The runtime constant of the fixed event names, and its type.
const EVENTS: &str = "EVENTS";
const EVENTS_TYPE: &str = "Events";

/// The TypeScript union of one surface's codes, and its doc comment. A match rather than a
/// table, so that a surface added to the core does not compile here until it has a name.
fn code_union(surface: Surface) -> (&'static str, &'static str) {
    match surface {
        Surface::Field => (
            "ErrorCode",
            "The validation error codes: `FieldError.code` (contract section 2).",
        ),
        Surface::Ack => (
            "AckErrorCode",
            "The codes of a refused socket acknowledgement (`SubscribeAck`'s or `RefreshAck`'s `error.code`).",
        ),
        Surface::Connect => (
            "ConnectErrorCode",
            "A refused handshake's `connect_error` message (socket.io-client's `err.message`).",
        ),
        Surface::Http => ("ApiErrorCode", "An HTTP API error body's `error.code`."),
        Surface::Throw => (
            "SwitchyardErrorCode",
            "The `code` of a `SwitchyardError` thrown by this package.",
        ),
    }
}

/// The package's constants as one frozen object: `EVENTS` (a frozen object) and each
/// payload enum's values (frozen arrays, in the core's order). The entries (`index.js`,
/// `index.cjs`) export its properties; the `__` prefix keeps it out of their public surface.
#[wasm_bindgen(js_name = __constants, skip_typescript)]
pub fn constants() -> Result<JsValue, JsValue> {
    let all = Object::new();
    let events = Object::new();
    for (constant, name) in event::names::ALL {
        Reflect::set(&events, &constant.into(), &name.into())?;
    }
    Reflect::set(&all, &EVENTS.into(), &Object::freeze(&events))?;
    for list in &VALUE_LISTS {
        let values: Array = list.names.iter().copied().map(JsValue::from_str).collect();
        Reflect::set(&all, &list.constant.into(), &Object::freeze(&values))?;
    }
    Ok(Object::freeze(&all).into())
}

/// A TypeScript string literal.
fn literal(s: &str) -> String {
    // JSON's escaping is valid TypeScript; the core's names are plain ASCII anyway.
    serde_json::Value::from(s).to_string()
}

/// `src/lists.d.ts`: the TypeScript declarations of the core's lists (see the module docs).
pub fn typescript() -> String {
    let mut ts = String::from(
        "// GENERATED by switchyard_wasm::lists::typescript() from switchyard-core's lists. Do not\n\
         // edit: `cargo test -p switchyard-wasm` fails when this file and the core differ, and\n\
         // `UPDATE_TYPES=1 cargo test -p switchyard-wasm` rewrites it. wasm-bindgen copies it\n\
         // into the generated .d.ts beside src/types.d.ts.\n",
    );
    let mut line = |s: String| {
        ts.push_str(&s);
        ts.push('\n');
    };

    line(String::new());
    line(section("Error codes, one union per surface"));
    for surface in Surface::ALL {
        let (name, doc) = code_union(surface);
        line(String::new());
        line(format!("/** {doc} */"));
        line(format!("export type {name} ="));
        let codes: Vec<_> = ErrorCode::on(surface)
            .map(|c| literal(c.as_str()))
            .collect();
        let last = codes.len().saturating_sub(1);
        for (i, code) in codes.iter().enumerate() {
            line(format!("  | {code}{}", if i == last { ";" } else { "" }));
        }
    }

    line(String::new());
    line(section("Allowed values of the payload enums"));
    for list in &VALUE_LISTS {
        let values: Vec<_> = list.names.iter().map(|n| literal(n)).collect();
        line(String::new());
        line(format!(
            "/** The values of {}, in the core's order (the type of `{}`). */",
            list.field, list.constant
        ));
        line(format!(
            "export type {} = readonly [{}];",
            list.tuple,
            values.join(", ")
        ));
        line(format!(
            "/** {}: one of `{}`. */",
            capitalised(list.field),
            list.constant
        ));
        line(format!(
            "export type {} = {}[number];",
            list.union, list.tuple
        ));
    }

    line(String::new());
    line(section("Rooms and events"));
    line(String::new());
    line("/** The four kinds of room. */".into());
    let kinds: Vec<_> = RoomKind::ALL.iter().map(|k| literal(k.as_str())).collect();
    line(format!("export type RoomKind = {};", kinds.join(" | ")));
    let mut rooms = Vec::new();
    for kind in RoomKind::ALL {
        let name = room_type(kind);
        line(format!(
            "export type {name} = `{}${{string}}`;",
            kind.prefix()
        ));
        rooms.push(name);
    }
    line("/** A room name. */".into());
    line(format!("export type Room = {};", rooms.join(" | ")));
    line(String::new());
    line(format!(
        "/** The fixed event names (the type of `{EVENTS}`). */"
    ));
    line(format!("export type {EVENTS_TYPE} = {{"));
    for (constant, name) in event::names::ALL {
        line(format!("  readonly {constant}: {};", literal(name)));
    }
    line("};".into());

    line(String::new());
    line(section("Streams"));
    line(String::new());
    line(
        "/** The one room without a stream (its subscribe ack carries the presence snapshot). */"
            .into(),
    );
    line(format!(
        "export type PresenceRoom = {};",
        literal(&Room::presence().to_string())
    ));
    line("/** The stream of everything sent to everyone. */".into());
    line(format!(
        "export type BroadcastStream = {};",
        literal(StreamName::BROADCAST)
    ));
    line(
        "/** A stream's name (`Meta.stream`): a room's (every room but `PresenceRoom`) or `BroadcastStream`. */"
            .into(),
    );
    line("export type StreamName = Room | BroadcastStream;".into());
    line("/** What `StreamTracker.accept` makes of an event. */".into());
    let accepted: Vec<_> = ACCEPTED.iter().map(|a| literal(a.as_str())).collect();
    line(format!("export type Accepted = {};", accepted.join(" | ")));
    ts
}

/// `UserRoom` for [`RoomKind::User`]: the kind's name, capitalised, and `Room`.
fn room_type(kind: RoomKind) -> String {
    format!("{}Room", capitalised(kind.as_str()))
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A section heading as `src/types.d.ts` writes them: `// ---- Title ---…`, 95 columns wide.
fn section(title: &str) -> String {
    let head = format!("// ---- {title} ");
    let dashes = 95usize.saturating_sub(head.chars().count());
    format!("{head}{}", "-".repeat(dashes))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::Path;

    use super::*;

    /// The committed `src/lists.d.ts` is exactly what the core's lists render to today.
    #[test]
    fn lists_d_ts_is_generated_from_the_core() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lists.d.ts");
        let want = typescript();
        if std::env::var_os("UPDATE_TYPES").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have == want {
            return;
        }
        let (have_lines, want_lines): (Vec<_>, Vec<_>) =
            (have.lines().collect(), want.lines().collect());
        let mut diff = String::new();
        for i in 0..have_lines.len().max(want_lines.len()) {
            let (h, w) = (have_lines.get(i), want_lines.get(i));
            if h != w {
                let _ = writeln!(
                    diff,
                    "line {}:\n  file: {}\n  core: {}",
                    i + 1,
                    h.unwrap_or(&"(none)"),
                    w.unwrap_or(&"(none)")
                );
            }
        }
        panic!(
            "{} differs from what the core's lists render to \
             (UPDATE_TYPES=1 cargo test -p switchyard-wasm rewrites it):\n{diff}",
            path.display()
        );
    }

    #[test]
    fn every_surface_has_its_own_union_name() {
        let mut names: Vec<_> = Surface::ALL.iter().map(|s| code_union(*s).0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Surface::ALL.len());
    }

    #[test]
    fn room_type_names() {
        let names: Vec<_> = RoomKind::ALL.into_iter().map(room_type).collect();
        assert_eq!(names, ["UserRoom", "TicketRoom", "MeterRoom", "SystemRoom"]);
    }
}
