//! Property tests of streams and recovery (contract section 8): the decision follows its four
//! rules exactly, and a simulated client that reconnects by position with the tracker never
//! sees an event twice as new, never sees a gap, and loses nothing unless it was told
//! `recovered: false`.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use switchyard_core::stream::{MAX_OFFSET, read_handshake_since};
use switchyard_core::{
    Accepted, Input, Meta, NotRecovered, Retained, StreamName, StreamPosition, StreamTracker,
    UserId, recover,
};

/// The rules, written independently of `recover`: every event after `since` is retained, in
/// the same epoch, and there are at most `max` of them.
fn oracle(epoch: &str, first: u64, top: u64, since: &StreamPosition, max: u64) -> bool {
    let first = first.max(1);
    since.epoch == epoch
        && since.offset <= top
        && (since.offset == top || first <= since.offset + 1)
        && top - since.offset <= max
}

fn check_decision(
    epoch: &str,
    first: u64,
    top: u64,
    since: &StreamPosition,
    max: u64,
) -> Result<(), TestCaseError> {
    let retained = Retained::new(epoch, first, top);
    let decision = recover(&retained, since, max);
    prop_assert_eq!(decision.is_ok(), oracle(epoch, first, top, since, max));
    match decision {
        Ok(replay) => {
            prop_assert_eq!(replay.after(), since.offset);
            prop_assert_eq!(replay.to(), top);
            prop_assert!(replay.len() <= max);
            prop_assert_eq!(replay.is_empty(), since.offset == top);
            // Retention is a contiguous range, so its two ends prove every offset between.
            if let Some(a) = replay.offsets().next() {
                prop_assert_eq!(a, since.offset + 1);
                prop_assert!(retained.contains(a) && retained.contains(replay.to()));
            }
        }
        Err(reason) => {
            let same_epoch = since.epoch == epoch;
            let holds = match reason {
                NotRecovered::WrongEpoch => !same_epoch,
                NotRecovered::Ahead => same_epoch && since.offset > top,
                NotRecovered::Trimmed => {
                    same_epoch && since.offset < top && !retained.contains(since.offset + 1)
                }
                NotRecovered::TooMany => {
                    same_epoch
                        && since.offset < top
                        && retained.contains(since.offset + 1)
                        && top - since.offset > max
                }
            };
            prop_assert!(holds, "{} does not hold", reason.as_str());
        }
    }
    Ok(())
}

proptest! {
    /// Small windows, so every boundary is hit often.
    #[test]
    fn the_decision_follows_its_rules(
        epoch in prop::sample::select(vec!["a", "b"]),
        since_epoch in prop::sample::select(vec!["a", "b"]),
        top in 0u64..40,
        first in 0u64..45,
        since in 0u64..45,
        max in 0u64..30,
    ) {
        let since = StreamPosition::new(since_epoch, since);
        check_decision(epoch, first, top, &since, max)?;
        // Every offset of a replay is retained, one by one.
        if let Ok(replay) = recover(&Retained::new(epoch, first, top), &since, max) {
            let retained = Retained::new(epoch, first, top);
            prop_assert!(replay.offsets().all(|o| retained.contains(o)));
            prop_assert_eq!(replay.offsets().count() as u64, replay.len());
        }
    }

    /// Offsets anywhere up to the largest a client may send.
    #[test]
    fn the_decision_follows_its_rules_at_any_scale(
        top in 0u64..=MAX_OFFSET,
        kept in 0u64..3000,
        behind in 0u64..3000,
        ahead in any::<bool>(),
        max in 0u64..2000,
    ) {
        let first = top.saturating_sub(kept) + 1;
        let since = if ahead { top + 1 + behind } else { top.saturating_sub(behind) };
        check_decision("e", first, top, &StreamPosition::new("e", since), max)?;
    }

    /// `auth.since` never fails, and takes only the two streams of the handshake.
    #[test]
    fn handshake_since_takes_only_its_two_streams(
        entries in prop::collection::btree_map(
            prop::sample::select(vec!["user_u1", "user_u2", "broadcast", "ticket_1", "x"]),
            prop_oneof![
                (any::<u64>(), "[a-z]{0,3}").prop_map(|(o, e)| serde_json::json!({"epoch": e, "offset": o})),
                any::<i64>().prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
            ],
            0..5,
        ),
    ) {
        let json = serde_json::Value::Object(
            entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        );
        let since = Input::from(json);
        let user: UserId = "u1".parse().unwrap();
        let [own, all] = read_handshake_since(Some(&since), &user);
        prop_assert_eq!(own.stream.to_string(), "user_u1");
        prop_assert_eq!(&all.stream, &StreamName::Broadcast);
        for s in [own, all] {
            let given = entries
                .get(s.stream.to_string().as_str())
                .and_then(|v| StreamPosition::read(&Input::from(v.clone())).ok());
            prop_assert_eq!(s.since, given);
        }
    }
}

// -------------------------------------------------------------------------------------------
// A stream, a client and a flaky connection

#[derive(Debug, Clone)]
enum Op {
    /// The hub publishes to stream `i % 2`; a connected client gets it live.
    Publish(usize),
    /// The hub publishes, and the client's full queue costs it its connection (slow consumer):
    /// that event is not delivered.
    Drop(usize),
    /// An event the client has already seen arrives again (a replay overlapping live traffic).
    Redeliver(usize, u64),
    /// The connection drops.
    Disconnect,
    /// The client reconnects, asking each stream from `tracker.since()`.
    Reconnect,
    /// The server restarts: new epochs, empty histories, every connection gone.
    Restart,
    /// The oldest events of stream `i % 2` expire (history TTL).
    Trim(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => any::<usize>().prop_map(Op::Publish),
        2 => any::<usize>().prop_map(Op::Drop),
        2 => (any::<usize>(), any::<u64>()).prop_map(|(i, o)| Op::Redeliver(i, o)),
        2 => Just(Op::Disconnect),
        3 => Just(Op::Reconnect),
        1 => Just(Op::Restart),
        1 => (any::<usize>(), 1usize..4).prop_map(|(i, n)| Op::Trim(i, n)),
    ]
}

/// The hub's side of one stream.
struct Stream {
    name: StreamName,
    epoch: String,
    top: u64,
    history: VecDeque<u64>,
}

impl Stream {
    fn retained(&self) -> Retained<'_> {
        match self.history.front() {
            Some(first) => Retained::new(&self.epoch, *first, self.top),
            None => Retained::empty(&self.epoch, self.top),
        }
    }

    fn meta(&self, offset: u64) -> Meta {
        Meta::new(
            self.name.clone(),
            StreamPosition::new(self.epoch.clone(), offset),
            format!("{}-{}-{offset}", self.name, self.epoch),
        )
    }
}

type EpochKey = (StreamName, String);

struct Sim {
    streams: [Stream; 2],
    history_size: usize,
    max_events: u64,
    restarts: u32,
    connected: bool,
    tracker: StreamTracker,
    /// Every (stream, epoch, offset) the tracker called new.
    new: BTreeSet<(StreamName, String, u64)>,
    /// The last top of every epoch of every stream.
    tops: BTreeMap<EpochKey, u64>,
    /// Epochs in which the client was told it lost events (`recovered: false`, or a first
    /// subscribe without `since` after events were published).
    lossy: BTreeSet<EpochKey>,
    recoveries: usize,
}

impl Sim {
    fn new(history_size: usize, max_events: u64) -> Self {
        let stream = |name: &str| Stream {
            name: name.parse().unwrap(),
            epoch: "e0".to_owned(),
            top: 0,
            history: VecDeque::new(),
        };
        Sim {
            streams: [stream("ticket_1"), stream("broadcast")],
            history_size,
            max_events,
            restarts: 0,
            connected: false,
            tracker: StreamTracker::new(),
            new: BTreeSet::new(),
            tops: BTreeMap::new(),
            lossy: BTreeSet::new(),
            recoveries: 0,
        }
    }

    fn deliver(&mut self, meta: &Meta, expected: Accepted) -> Result<(), TestCaseError> {
        let got = self.tracker.accept(meta);
        prop_assert_eq!(got, expected, "{:?}", meta);
        if got == Accepted::New {
            let key = (meta.stream.clone(), meta.epoch.clone(), meta.offset);
            prop_assert!(self.new.insert(key), "new twice: {:?}", meta);
        }
        Ok(())
    }

    fn publish(&mut self, i: usize) -> Meta {
        let history_size = self.history_size;
        let s = &mut self.streams[i % 2];
        s.top += 1;
        s.history.push_back(s.top);
        while s.history.len() > history_size {
            s.history.pop_front();
        }
        self.tops.insert((s.name.clone(), s.epoch.clone()), s.top);
        s.meta(s.top)
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Publish(i) => {
                let meta = self.publish(*i);
                if self.connected {
                    self.deliver(&meta, Accepted::New)?;
                }
            }
            Op::Drop(i) => {
                self.publish(*i);
                self.connected = false;
            }
            Op::Redeliver(i, o) => {
                let s = &self.streams[i % 2];
                let seen = self.tracker.position(&s.name).cloned();
                if let Some(at) =
                    seen.filter(|p| self.connected && p.epoch == s.epoch && p.offset > 0)
                {
                    let meta = s.meta(1 + o % at.offset);
                    self.deliver(&meta, Accepted::Duplicate)?;
                }
            }
            Op::Disconnect => self.connected = false,
            Op::Reconnect => {
                if !self.connected {
                    self.reconnect()?;
                }
            }
            Op::Restart => {
                self.restarts += 1;
                for s in &mut self.streams {
                    s.epoch = format!("e{}", self.restarts);
                    s.top = 0;
                    s.history.clear();
                }
                self.connected = false;
            }
            Op::Trim(i, n) => {
                let s = &mut self.streams[i % 2];
                for _ in 0..*n {
                    s.history.pop_front();
                }
            }
        }
        Ok(())
    }

    fn reconnect(&mut self) -> Result<(), TestCaseError> {
        for i in 0..2 {
            let s = &self.streams[i];
            let (name, epoch, top) = (s.name.clone(), s.epoch.clone(), s.top);
            let since = self.tracker.since().get(&name).cloned();
            let decision = since
                .as_ref()
                .map(|since| recover(&s.retained(), since, self.max_events));
            match (since, decision) {
                // A first subscribe: the ack's position is where the client starts.
                (None, _) | (_, None) => {
                    if top > 0 {
                        self.lossy.insert((name.clone(), epoch.clone()));
                    }
                    self.tracker.reset(name, StreamPosition::new(epoch, top));
                }
                (Some(_), Some(Ok(replay))) => {
                    self.recoveries += 1;
                    let metas: Vec<Meta> = replay.offsets().map(|o| s.meta(o)).collect();
                    for meta in &metas {
                        prop_assert!(s.history.contains(&meta.offset), "replayed a trimmed event");
                    }
                    for meta in &metas {
                        self.deliver(meta, Accepted::New)?;
                    }
                    prop_assert_eq!(
                        self.tracker.position(&name),
                        Some(&StreamPosition::new(epoch, top))
                    );
                }
                (Some(since), Some(Err(_))) => {
                    // `recovered: false` covers every epoch from the client's to the current
                    // one (epochs in between lived and died while it was away).
                    let from: u32 = since.epoch[1..].parse().unwrap();
                    for n in from..=self.restarts {
                        self.lossy.insert((name.clone(), format!("e{n}")));
                    }
                    self.tracker.reset(name, StreamPosition::new(epoch, top));
                }
            }
        }
        self.connected = true;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), TestCaseError> {
        if !self.connected {
            self.reconnect()?;
        }
        for s in &self.streams {
            prop_assert_eq!(
                self.tracker.position(&s.name),
                Some(&StreamPosition::new(s.epoch.clone(), s.top))
            );
        }
        // Nothing lost: in every epoch the client was never told about a loss, it saw each
        // event exactly once.
        for ((name, epoch), top) in &self.tops {
            if self.lossy.contains(&(name.clone(), epoch.clone())) {
                continue;
            }
            let seen: Vec<u64> = self
                .new
                .iter()
                .filter(|(n, e, _)| n == name && e == epoch)
                .map(|(_, _, o)| *o)
                .collect();
            prop_assert_eq!(seen, (1..=*top).collect::<Vec<_>>(), "{} {}", name, epoch);
        }
        Ok(())
    }
}

fn simulate(history_size: usize, max_events: u64, ops: &[Op]) -> Result<Sim, TestCaseError> {
    let mut sim = Sim::new(history_size, max_events);
    sim.reconnect()?;
    for op in ops {
        sim.step(op)?;
    }
    sim.finish()?;
    Ok(sim)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reconnecting_by_position_loses_nothing_and_repeats_nothing(
        history_size in 1usize..25,
        max_events in 0u64..20,
        ops in prop::collection::vec(op(), 0..200),
    ) {
        simulate(history_size, max_events, &ops)?;
    }
}

/// With history and `max_events` large enough, every reconnect recovers, and the client sees
/// every event of the epoch once, whatever the drops.
#[test]
fn generous_retention_always_recovers() {
    let mut ops = Vec::new();
    for i in 0..300 {
        ops.push(match i % 7 {
            0..=2 => Op::Publish(i),
            3 => Op::Drop(i),
            4 => Op::Publish(i + 1),
            5 => Op::Reconnect,
            _ => Op::Redeliver(i, i as u64),
        });
    }
    let sim = simulate(1000, 1000, &ops).unwrap();
    assert!(sim.lossy.is_empty(), "{:?}", sim.lossy);
    assert!(sim.recoveries > 40, "{} recoveries", sim.recoveries);
    assert_eq!(
        sim.new.len() as u64,
        sim.streams[0].top + sim.streams[1].top
    );
}

/// A gap the tracker reports is exactly a missed event, and after it the client goes on.
#[test]
fn a_silent_drop_is_a_gap() {
    let name: StreamName = "ticket_1".parse().unwrap();
    let meta = |o| Meta::new(name.clone(), StreamPosition::new("e", o), "d");
    let mut t = StreamTracker::new();
    assert_eq!(t.accept(&meta(1)), Accepted::New);
    assert_eq!(t.accept(&meta(3)), Accepted::Gap);
    assert_eq!(t.accept(&meta(4)), Accepted::New);
    // What the client asks from: the gap's event, since 2 cannot be had by position.
    assert_eq!(t.since()[&name], StreamPosition::new("e", 4));
}

/// An epoch that lived and died while the client was away: its events are covered by the one
/// `recovered: false` the client gets for its own, older epoch.
#[test]
fn an_epoch_lost_while_away_is_reported_once() {
    let sim = simulate(1, 0, &[Op::Restart, Op::Publish(0), Op::Restart]).unwrap();
    let lossy: Vec<_> = sim.lossy.iter().map(|(n, e)| format!("{n} {e}")).collect();
    assert_eq!(
        lossy,
        [
            "broadcast e0",
            "broadcast e1",
            "broadcast e2",
            "ticket_1 e0",
            "ticket_1 e1",
            "ticket_1 e2"
        ]
    );
    assert!(sim.new.is_empty(), "e1's event was never delivered");
}
