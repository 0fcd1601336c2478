// switchyard-wasm's public types. The declarations live with the Rust code (wasm/src/types.d.ts
// and the functions' attributes); this file picks the public names. scripts/build-wasm derives
// index.d.cts (for Node's CommonJS entry) from it.
import type { Events } from "./web/switchyard_wasm.js";

/** The fixed event names (a frozen object). */
export declare const EVENTS: Events;

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

export type {
  Announcement,
  AnnouncementInput,
  AnnouncementType,
  DateTimeString,
  ErrorCode,
  EventName,
  Events,
  FieldError,
  JsonObject,
  JsonValue,
  MeterReading,
  MeterReadingInput,
  MeterRoom,
  MeterUnit,
  NewAnnouncement,
  NewMeterReading,
  NewNotification,
  Notification,
  NotificationInput,
  NotificationType,
  ParsedRoom,
  PresenceEvent,
  Room,
  RoomKind,
  SubscribeAck,
  SwitchyardError,
  SystemShutdown,
  SystemRoom,
  TicketChange,
  TicketPriority,
  TicketRoom,
  TicketStatus,
  TicketUpdate,
  TicketUpdateInput,
  UserRoom,
  ValidationResult,
  Welcome,
} from "./web/switchyard_wasm.js";
