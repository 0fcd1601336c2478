//! `tracker` and `recover`: the two stream decisions, driven by structured input (`arbitrary`)
//! and compared with a plain model of the rules in their module docs.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use switchyard_core::protocol::{Resume, StreamStatus};
use switchyard_core::stream::{MAX_OFFSET, NotRecovered, Retained};
use switchyard_core::{Accepted, Input, Meta, StreamName, StreamPosition, StreamTracker};

use crate::json_input;

const STREAMS: [&str; 4] = ["broadcast", "user_u1", "ticket_T-1", "system_ops"];
const EPOCHS: [&str; 3] = ["e1", "e2", "0195f6f2-7c1e-7a4b-9a51-3c2d1e0f9a8b"];

/// Offsets around the interesting places: small, near `MAX_OFFSET` (the JavaScript limit),
/// near `u64::MAX`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Offset {
    Small(u8),
    NearMax(u8),
    NearU64Max(u8),
    Any(u64),
}

impl Offset {
    fn get(self) -> u64 {
        match self {
            Offset::Small(n) => u64::from(n),
            Offset::NearMax(n) => MAX_OFFSET.saturating_sub(u64::from(n)),
            Offset::NearU64Max(n) => u64::MAX - u64::from(n),
            Offset::Any(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Accept {
        stream: u8,
        epoch: u8,
        offset: Offset,
    },
    Reset {
        stream: u8,
        epoch: u8,
        offset: Offset,
    },
    Forget {
        stream: u8,
    },
    /// A meta as the browser receives it, JSON text through `Meta::read` first.
    AcceptJson(Vec<u8>),
}

fn stream(i: u8) -> StreamName {
    STREAMS[usize::from(i) % STREAMS.len()]
        .parse()
        .expect("a valid stream")
}

fn epoch(i: u8) -> &'static str {
    EPOCHS[usize::from(i) % EPOCHS.len()]
}

/// The tracker's rules, written the obvious way.
fn model_accept(model: &mut BTreeMap<StreamName, StreamPosition>, meta: &Meta) -> Accepted {
    let Some(last) = model.get(&meta.stream).cloned() else {
        model.insert(meta.stream.clone(), meta.position());
        return Accepted::New;
    };
    if last.epoch != meta.epoch {
        model.insert(meta.stream.clone(), meta.position());
        return Accepted::Gap;
    }
    if meta.offset <= last.offset {
        return Accepted::Duplicate;
    }
    model.insert(meta.stream.clone(), meta.position());
    if u128::from(meta.offset) == u128::from(last.offset) + 1 {
        Accepted::New
    } else {
        Accepted::Gap
    }
}

/// A sequence of accepts, resets and forgets on any positions (offsets up to `u64::MAX`, which
/// `Meta::read` would refuse but a caller of the tracker can still pass) never panics and
/// follows the rules.
pub fn tracker(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut tracker = StreamTracker::new();
    let mut model = BTreeMap::new();
    // Bounded, so one input cannot run for long; `arbitrary` would go on with zeroes once the
    // input is used up, so stop there.
    for _ in 0..64 {
        if u.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        match op {
            Op::Accept {
                stream: s,
                epoch: e,
                offset,
            } => {
                let meta = Meta::new(stream(s), StreamPosition::new(epoch(e), offset.get()), "id");
                accept(&mut tracker, &mut model, &meta);
            }
            Op::AcceptJson(bytes) => {
                let Some(input) = json_input(&bytes) else {
                    continue;
                };
                if let Ok(meta) = Meta::read(&input) {
                    assert!((1..=MAX_OFFSET).contains(&meta.offset));
                    accept(&mut tracker, &mut model, &meta);
                }
            }
            Op::Reset {
                stream: s,
                epoch: e,
                offset,
            } => {
                let p = StreamPosition::new(epoch(e), offset.get());
                tracker.reset(stream(s), p.clone());
                model.insert(stream(s), p);
            }
            Op::Forget { stream: s } => {
                assert_eq!(tracker.forget(&stream(s)), model.remove(&stream(s)));
            }
        }
        assert_eq!(tracker.since(), &model);
    }
    // What the tracker holds is what the handshake sends back as `auth.since`.
    let since = serde_json::to_value(tracker.since()).expect("positions serialise");
    let back = Input::from(since);
    let Input::Object(entries) = back else {
        panic!("auth.since is an object")
    };
    assert_eq!(entries.len(), tracker.since().len());
}

fn accept(
    tracker: &mut StreamTracker,
    model: &mut BTreeMap<StreamName, StreamPosition>,
    meta: &Meta,
) {
    let before = tracker.position(&meta.stream).cloned();
    let got = tracker.accept(meta);
    assert_eq!(got, model_accept(model, meta), "{meta:?} after {before:?}");
    let after = tracker.position(&meta.stream).cloned();
    match got {
        Accepted::Duplicate => assert_eq!(after, before),
        Accepted::New | Accepted::Gap => assert_eq!(after, Some(meta.position())),
    }
}

#[derive(Arbitrary, Debug)]
struct Case {
    same_epoch: bool,
    first: Offset,
    top: Offset,
    since: Offset,
    max_events: Offset,
}

/// The recovery decision on any retained range and any `since` never panics, names the first
/// rule that fails, and a replay covers exactly the missed events, all of them retained.
pub fn recover(data: &[u8]) {
    let mut u = Unstructured::new(data);
    for _ in 0..64 {
        if u.is_empty() {
            break;
        }
        let Ok(case) = Case::arbitrary(&mut u) else {
            break;
        };
        one_recovery(&case);
    }
}

fn one_recovery(case: &Case) {
    let (first, top, max) = (case.first.get(), case.top.get(), case.max_events.get());
    let retained = Retained::new("e1", first, top);
    assert!(retained.first() >= 1 && retained.first() <= top.saturating_add(1));
    assert_eq!(retained.top(), top);
    let since = StreamPosition::new(if case.same_epoch { "e1" } else { "e2" }, case.since.get());

    let expected = if !case.same_epoch {
        Err(NotRecovered::WrongEpoch)
    } else if since.offset > top {
        Err(NotRecovered::Ahead)
    } else if since.offset < top && !retained.contains(since.offset + 1) {
        Err(NotRecovered::Trimmed)
    } else if top - since.offset > max {
        Err(NotRecovered::TooMany)
    } else {
        Ok(())
    };
    let got = switchyard_core::recover(&retained, &since, max);
    assert_eq!(got.map(|_| ()), expected, "{case:?}");
    if let Ok(replay) = got {
        assert_eq!((replay.after(), replay.to()), (since.offset, top));
        assert_eq!(replay.len(), top - since.offset);
        assert_eq!(replay.is_empty(), replay.to() == replay.after());
        // Only the first few offsets: a replay may be long.
        for (i, o) in replay.offsets().take(3).enumerate() {
            assert_eq!(o, since.offset + 1 + i as u64);
            assert!(retained.contains(o), "replays {o}, which is not retained");
        }
        if !replay.is_empty() {
            assert!(retained.contains(top));
        }
    }

    let (status, resume) = StreamStatus::answer(&retained, Some(&since), max);
    assert_eq!((status.epoch.as_str(), status.offset), ("e1", top));
    match resume {
        Resume::Replay(r) => {
            assert_eq!(status.recovered, Some(true));
            assert_eq!(Ok(r), got);
        }
        Resume::NotRecovered(why) => {
            assert_eq!(status.recovered, Some(false));
            assert_eq!(Err(why), got);
        }
        Resume::Live => panic!("a since was given"),
    }
    let (live, resume) = StreamStatus::answer(&retained, None, max);
    assert_eq!(
        (live.offset, live.recovered, resume),
        (top, None, Resume::Live)
    );
}
