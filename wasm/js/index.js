// switchyard-wasm: the ES module entry for browsers and bundlers.
// It loads the WebAssembly once, when first imported (top-level await), so every export is
// ready to call: a module importing this one runs only after the await below has finished.
// Nothing else happens here. The logic is Rust (switchyard-core).
import init, { eventTable } from "./web/switchyard_wasm.js";

await init();

/** The fixed event names (a frozen object). */
export const EVENTS = eventTable();

export {
  isValidEventName,
  meterRoom,
  parseRoom,
  systemRoom,
  ticketRoom,
  userRoom,
  validateAnnouncement,
  validateCustomData,
  validateMeterReading,
  validateNotification,
  validateTicketUpdate,
} from "./web/switchyard_wasm.js";
