//! The client's side of streams: [`StreamTracker`] remembers the last position seen in each
//! stream, so a front end drops the duplicates a replay can overlap with, notices a gap, and
//! reconnects with `auth.since` / `subscribe { since }` from where it was. The browser runs
//! this same code through `switchyard-wasm`.
//!
//! # The rules
//!
//! For an event's [`Meta`], compared with the stream's last position:
//! - an unknown stream: [`Accepted::New`], and its position becomes the event's;
//! - the same epoch and the next offset: [`Accepted::New`], the position moves on;
//! - the same epoch and an offset already passed: [`Accepted::Duplicate`], nothing changes;
//! - the same epoch and an offset further on, or another epoch: [`Accepted::Gap`], and the
//!   position moves to the event's.
//!
//! After a gap the tracker keeps the event's position, not the old one: the event is real and
//! the application handles it, and the missed ones cannot be asked for by position any more
//! (a replay from the old position would deliver this event a second time). A gap means what
//! `recovered: false` means: refetch the state from the backend.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stream::{Meta, StreamName, StreamPosition};

/// What [`StreamTracker::accept`] made of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accepted {
    /// The next event of its stream (or the first one seen): handle it.
    New,
    /// Seen already (a replay overlapping live traffic, a redelivery): drop it.
    Duplicate,
    /// Events before this one were missed: handle it, and refetch the state.
    Gap,
}

impl Accepted {
    /// `"new"`, `"duplicate"` or `"gap"`, as the wasm package returns it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Duplicate => "duplicate",
            Self::Gap => "gap",
        }
    }
}

/// The last position seen in each stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamTracker {
    positions: BTreeMap<StreamName, StreamPosition>,
}

impl StreamTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Judges one event by its meta and moves the stream's position (see the
    /// [module rules](self)).
    pub fn accept(&mut self, meta: &Meta) -> Accepted {
        let Some(last) = self.positions.get_mut(&meta.stream) else {
            self.positions.insert(meta.stream.clone(), meta.position());
            return Accepted::New;
        };
        if last.epoch != meta.epoch {
            *last = meta.position();
            return Accepted::Gap;
        }
        if meta.offset <= last.offset {
            return Accepted::Duplicate;
        }
        // `last.offset < meta.offset`, so `last.offset + 1` cannot overflow.
        let next = last.offset + 1;
        last.offset = meta.offset;
        if meta.offset == next {
            Accepted::New
        } else {
            Accepted::Gap
        }
    }

    /// The last position seen in `stream`.
    pub fn position(&self, stream: &StreamName) -> Option<&StreamPosition> {
        self.positions.get(stream)
    }

    /// Every stream's position, keyed by stream name. Serialised, it is the handshake's
    /// `auth.since` (the server reads only the own user room and `broadcast`); one entry is a
    /// `subscribe`'s `since`.
    pub fn since(&self) -> &BTreeMap<StreamName, StreamPosition> {
        &self.positions
    }

    /// Sets `stream`'s position: to the ack's `{ epoch, offset }` after `recovered: false` (or
    /// after a subscribe without `since`), so the next live event counts as new.
    pub fn reset(&mut self, stream: StreamName, position: StreamPosition) {
        self.positions.insert(stream, position);
    }

    /// Forgets `stream` (after an unsubscribe), so it is no longer sent in `since`.
    pub fn forget(&mut self, stream: &StreamName) -> Option<StreamPosition> {
        self.positions.remove(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(stream: &str, epoch: &str, offset: u64) -> Meta {
        Meta::new(
            stream.parse().unwrap(),
            StreamPosition::new(epoch, offset),
            format!("{stream}-{offset}"),
        )
    }
    fn name(s: &str) -> StreamName {
        s.parse().unwrap()
    }

    #[test]
    fn each_rule() {
        let mut t = StreamTracker::new();
        assert_eq!(
            t.accept(&meta("ticket_1", "e", 5)),
            Accepted::New,
            "first seen"
        );
        assert_eq!(t.accept(&meta("ticket_1", "e", 6)), Accepted::New);
        assert_eq!(t.accept(&meta("ticket_1", "e", 6)), Accepted::Duplicate);
        assert_eq!(t.accept(&meta("ticket_1", "e", 1)), Accepted::Duplicate);
        assert_eq!(
            t.position(&name("ticket_1")),
            Some(&StreamPosition::new("e", 6))
        );
        assert_eq!(t.accept(&meta("ticket_1", "e", 8)), Accepted::Gap);
        assert_eq!(
            t.position(&name("ticket_1")),
            Some(&StreamPosition::new("e", 8)),
            "a gap moves to the event"
        );
        assert_eq!(t.accept(&meta("ticket_1", "e", 9)), Accepted::New);
        assert_eq!(
            t.accept(&meta("ticket_1", "f", 1)),
            Accepted::Gap,
            "a new epoch"
        );
        assert_eq!(
            t.accept(&meta("ticket_1", "e", 10)),
            Accepted::Gap,
            "the old one back"
        );
        assert_eq!(
            t.position(&name("ticket_1")),
            Some(&StreamPosition::new("e", 10))
        );
        assert_eq!(
            t.accept(&meta("broadcast", "b", 1)),
            Accepted::New,
            "streams apart"
        );
        assert_eq!(t.position(&name("meter_1")), None);
    }

    #[test]
    fn reset_and_since() {
        let mut t = StreamTracker::new();
        t.reset(name("user_u1"), StreamPosition::new("e", 3));
        assert_eq!(t.accept(&meta("user_u1", "e", 4)), Accepted::New);
        t.reset(name("broadcast"), StreamPosition::new("b", 0));
        assert_eq!(t.accept(&meta("broadcast", "b", 1)), Accepted::New);
        assert_eq!(
            serde_json::to_value(t.since()).unwrap(),
            serde_json::json!({
                "broadcast": {"epoch": "b", "offset": 1},
                "user_u1": {"epoch": "e", "offset": 4},
            })
        );
        assert_eq!(
            t.forget(&name("broadcast")),
            Some(StreamPosition::new("b", 1))
        );
        assert_eq!(t.since().len(), 1);
        let at_max = Meta::new(name("ticket_1"), StreamPosition::new("e", u64::MAX), "x");
        t.reset(name("ticket_1"), at_max.position());
        assert_eq!(
            t.accept(&at_max),
            Accepted::Duplicate,
            "no overflow at the top"
        );
    }

    #[test]
    fn labels() {
        assert_eq!(
            [Accepted::New, Accepted::Duplicate, Accepted::Gap].map(Accepted::as_str),
            ["new", "duplicate", "gap"]
        );
        assert_eq!(serde_json::to_value(Accepted::Gap).unwrap(), "gap");
    }
}
