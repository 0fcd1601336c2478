"use strict";
// switchyard-wasm: the Node entry (CommonJS; `import` from ES modules works too).
// wasm-bindgen's nodejs build loads the WebAssembly synchronously on require.
//
// The names stay visible to Node's static scan of this file (cjs-module-lexer), which is what
// lets an ES module `import { meterRoom, EVENTS } from "switchyard-wasm"`: it follows the
// spread `require` into ./node/public.js (every public function, written by scripts/build-wasm
// without the crate's `__` helpers) and reads the constants' names below.
const { EVENTS, NOTIFICATION_TYPES, TICKET_STATUSES, TICKET_PRIORITIES, METER_UNITS, ANNOUNCEMENT_TYPES } =
  require("./node/switchyard_wasm.js").__constants();

module.exports = {
  ...require("./node/public.js"),
  EVENTS,
  NOTIFICATION_TYPES,
  TICKET_STATUSES,
  TICKET_PRIORITIES,
  METER_UNITS,
  ANNOUNCEMENT_TYPES,
};
