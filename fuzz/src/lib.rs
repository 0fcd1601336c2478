//! The bodies of Switchyard's fuzz targets, one `pub fn(&[u8])` each. `fuzz_targets/<name>.rs`
//! hands libFuzzer's input to the function of the same name; `tests/replay.rs` runs every file
//! of `corpus/<name>/` through it with plain `cargo test`, so a committed input stays a
//! regression test without a fuzzing toolchain.
//!
//! Every target checks more than "no panic": what parses must print back to the same string
//! and parse to the same value, and every refusal must carry a code of the right surface. A
//! failed check panics, which libFuzzer reports as a crash with the input that caused it.

mod jwt;
mod names;
mod payloads;
mod streams;

pub use jwt::jwt;
pub use names::names;
pub use payloads::{input_json, payload_readers, validators};
pub use streams::{recover, tracker};

use switchyard_core::{Input, Timestamp};

/// A target's body: any bytes in, a panic when a property fails.
pub type Target = fn(&[u8]);

/// Every target, by name, for the replay test.
pub const TARGETS: [(&str, Target); 7] = [
    ("names", names),
    ("input_json", input_json),
    ("validators", validators),
    ("payload_readers", payload_readers),
    ("tracker", tracker),
    ("recover", recover),
    ("jwt", jwt),
];

/// JSON text as an [`Input`], reading `{"$nonFinite": "NaN" | "Infinity" | "-Infinity"}` as a
/// non-finite number (the convention of `tests/vectors` and `tests/fixtures/bad`), so the
/// fuzzer can reach the `not_finite` paths that JSON text alone cannot spell, and the bad-input
/// corpus files work as seeds as they are.
pub fn json_input(data: &[u8]) -> Option<Input<'static>> {
    serde_json::from_slice::<Input<'static>>(data)
        .ok()
        .map(expand)
}

fn expand(v: Input<'static>) -> Input<'static> {
    match v {
        Input::Object(map) => {
            if map.len() == 1
                && let Some(Input::String(s)) = map.get("$nonFinite")
            {
                match s.as_ref() {
                    "NaN" => return Input::NonFinite(f64::NAN),
                    "Infinity" => return Input::NonFinite(f64::INFINITY),
                    "-Infinity" => return Input::NonFinite(f64::NEG_INFINITY),
                    _ => {}
                }
            }
            Input::Object(map.into_iter().map(|(k, v)| (k, expand(v))).collect())
        }
        Input::Array(items) => Input::Array(items.into_iter().map(expand).collect()),
        other => other,
    }
}

/// A "now" chosen by one byte: the corpus's usual instant, the epoch, the last representable
/// millisecond, or an instant derived from the byte; the meter reading's skew check compares
/// with it.
pub fn now_from(b: u8) -> Timestamp {
    let default = Timestamp::from_unix_millis(1_705_312_800_000).unwrap_or(Timestamp::UNIX_EPOCH);
    match b % 4 {
        0 => default,
        1 => Timestamp::UNIX_EPOCH,
        // 9999-12-31T23:59:59.999Z, the latest instant RFC 3339 writes.
        2 => Timestamp::from_unix_millis(253_402_300_799_999).unwrap_or(default),
        _ => default.plus_millis(i64::from(b) * 7_919_000 - 1_000_000_000),
    }
}
