//! # switchyard-wasm
//!
//! Switchyard's names and payload validation for JavaScript: the npm package
//! `switchyard-wasm` (contract sections 6 and 8), usable from a bundler, a plain browser page
//! and Node. Every answer comes from [`switchyard_core`], the same code the server runs, so a
//! browser can check a payload before sending it and get exactly the server's verdict, and
//! keep stream positions exactly as the server counts them.
//!
//! This crate is a thin binding: one module per exported area ([`names`], [`validate`],
//! [`tracker`] for the `StreamTracker` class, and [`lists`] for the constants), one that
//! converts between JS values and the core's types ([`convert`]), and the byte tapes both
//! ways with the validators' fast entry ([`tape`]). It holds no rule of its own. The TypeScript types are `src/types.d.ts`
//! (written by hand: the shapes) and `src/lists.d.ts` (generated from the core's lists by
//! [`lists::typescript`]: the error codes, the enums' values, rooms, events); the functions
//! refer to them with `unchecked_*_type`, so the generated `.d.ts` has no `any`.
//!
//! ```js
//! import { meterRoom, validateMeterReading, EVENTS } from "switchyard-wasm";
//!
//! meterRoom("MTR-7"); // "meter_MTR-7"
//! const r = validateMeterReading({ reading: 12.5, timestamp: new Date(), unit: "kWh" });
//! if (!r.ok) console.table(r.errors); // [{ path, code, message }, ...]
//! EVENTS.METER_READING; // "meter_reading"
//! ```
//!
//! Build the package with `scripts/build-wasm` (wasm-bindgen `--target web` for browsers and
//! bundlers, `--target nodejs` for Node, wasm-opt from npm `binaryen`).

pub mod convert;
pub mod lists;
pub mod names;
pub mod tape;
pub mod tracker;
pub mod validate;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const LISTS: &str = include_str!("lists.d.ts");

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("types.d.ts");
