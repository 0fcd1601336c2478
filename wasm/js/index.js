// switchyard-wasm: the ES module entry for browsers and bundlers.
// It loads the WebAssembly once, when first imported (top-level await), so every export is
// ready to call: a module importing this one runs only after the await below has finished.
// Nothing else happens here. The logic is Rust (switchyard-core).
import init, { __constants } from "./web/switchyard_wasm.js";

await init();

// Every public function, wholesale. `export *` of ./web/switchyard_wasm.js itself would also
// hand out wasm-bindgen's `initSync` and the crate's `__` helpers, so scripts/build-wasm
// writes ./web/public.js: that module's exports less those.
export * from "./web/public.js";

// The core's fixed lists, frozen: the event names and each payload enum's values. ES exports
// need their names here; their values and order come from the core.
export const { EVENTS, NOTIFICATION_TYPES, TICKET_STATUSES, TICKET_PRIORITIES, METER_UNITS, ANNOUNCEMENT_TYPES } =
  __constants();
