// switchyard-wasm's public types. The declarations live with the Rust code (wasm/src/types.d.ts,
// wasm/src/lists.d.ts generated from the core, and the functions' attributes).
// scripts/build-wasm copies this file to index.d.cts (for Node's CommonJS entry).
//
// Both entries take their functions and types wholesale from the nodejs build's declarations:
// they are the web build's without wasm-bindgen's init API (`initSync`, the default export,
// `InitInput`, ...), which the ES entry calls itself and does not export, and without DOM types,
// so they also check under Node's lib. Only the constants, made by the entries, are declared here.
export * from "./node/switchyard_wasm.js";
import type {
  AnnouncementTypes,
  Events,
  MeterUnits,
  NotificationTypes,
  TicketPriorities,
  TicketStatuses,
} from "./node/switchyard_wasm.js";

/** The fixed event names (a frozen object). */
export declare const EVENTS: Events;
/** The values of a notification's `type`, in the core's order (a frozen array). */
export declare const NOTIFICATION_TYPES: NotificationTypes;
/** The values of a ticket update's `status`, in the core's order (a frozen array). */
export declare const TICKET_STATUSES: TicketStatuses;
/** The values of a ticket update's `priority`, in the core's order (a frozen array). */
export declare const TICKET_PRIORITIES: TicketPriorities;
/** The values of a meter reading's `unit`, in the core's order (a frozen array). */
export declare const METER_UNITS: MeterUnits;
/** The values of an announcement's `type`, in the core's order (a frozen array). */
export declare const ANNOUNCEMENT_TYPES: AnnouncementTypes;
