// The package's TypeScript types (contract sections 1, 2 and 6), written by hand: the shapes.
// Every list of the core's values (error codes, enum values, room kinds, event names) is in
// src/lists.d.ts, generated from the core; nothing here repeats one. wasm-bindgen copies both
// files into the generated .d.ts; the functions' signatures refer to these names.

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object: the type of every `data` field. */
export type JsonObject = { [key: string]: JsonValue };

/** One problem with one field: `path` is dotted from the payload's top (`""` for the payload itself). */
export interface FieldError {
  path: string;
  code: ErrorCode;
  message: string;
}

/** What every validator returns: the normalised value, or every error found. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/**
 * What the room builders and `parseRoom` throw (an `Error` with `name` "SwitchyardError"):
 * `invalid_id` (userRoom, ticketRoom, meterRoom), `invalid_room` (systemRoom, parseRoom), or,
 * from a validator, `invalid_json` for a value JSON cannot carry (a BigInt, a lone surrogate,
 * nesting deeper than 127 levels or a cycle).
 */
export interface SwitchyardError extends Error {
  name: "SwitchyardError";
  code: SwitchyardErrorCode;
}

/** `parseRoom`'s answer. */
export interface ParsedRoom {
  kind: RoomKind;
  id: string;
}

/** One of the fixed event names. */
export type EventName = Events[keyof Events];

/** An RFC 3339 date-time; what the server writes is UTC with milliseconds: `2024-01-15T10:00:00.123Z`. */
export type DateTimeString = string;

// ---- Notification --------------------------------------------------------------------------

/** What `validateNotification` takes. A `null` optional field counts as absent. */
export interface NotificationInput {
  type: NotificationType;
  /** 1–1000 characters, not blank. */
  message: string;
  /** Free-form extension slot: a JSON object, at most 16 KiB as JSON. */
  data?: Record<string, unknown> | null;
}
/** A checked notification (`validateNotification`'s value). */
export interface NewNotification {
  type: NotificationType;
  message: string;
  data?: JsonObject;
}
/** The `notification` event's payload. */
export interface Notification extends NewNotification {
  id: string;
  createdAt: DateTimeString;
}

// ---- Ticket update -------------------------------------------------------------------------

/** What `validateTicketUpdate` takes: at least one field. */
export interface TicketUpdateInput {
  status?: TicketStatus | null;
  /** A user id, or `null` to unassign. */
  assignedTo?: string | null;
  priority?: TicketPriority | null;
  /** At most 1000 characters. */
  message?: string | null;
  data?: Record<string, unknown> | null;
}
/** A checked ticket update: the fields that change (`validateTicketUpdate`'s value). */
export interface TicketChange {
  status?: TicketStatus;
  /** `null`: unassigned. */
  assignedTo?: string | null;
  priority?: TicketPriority;
  message?: string;
  data?: JsonObject;
}
/** The `ticket_updated` event's payload. */
export interface TicketUpdate extends TicketChange {
  ticketId: string;
  updatedAt: DateTimeString;
}

// ---- Meter reading -------------------------------------------------------------------------

/** What `validateMeterReading` takes. */
export interface MeterReadingInput {
  /** A finite number (NaN and ±Infinity give `not_finite`). */
  reading: number;
  /** RFC 3339 (any offset), or a Date; at most 5 minutes after `now`. */
  timestamp: DateTimeString | Date;
  unit: MeterUnit;
}
/** A checked meter reading (`validateMeterReading`'s value); `timestamp` is normalised to UTC. */
export interface NewMeterReading {
  reading: number;
  timestamp: DateTimeString;
  unit: MeterUnit;
}
/** The `meter_reading` event's payload. */
export interface MeterReading extends NewMeterReading {
  meterId: string;
}

// ---- Announcement --------------------------------------------------------------------------

/** What `validateAnnouncement` takes. */
export interface AnnouncementInput {
  type: AnnouncementType;
  /** 1–2000 characters, not blank. */
  message: string;
  /** RFC 3339 (any offset), or a Date. */
  scheduledTime?: DateTimeString | Date | null;
  data?: Record<string, unknown> | null;
}
/** A checked announcement (`validateAnnouncement`'s value); `scheduledTime` is normalised to UTC. */
export interface NewAnnouncement {
  type: AnnouncementType;
  message: string;
  scheduledTime?: DateTimeString;
  data?: JsonObject;
}
/** The `announcement` event's payload. */
export interface Announcement extends NewAnnouncement {
  id: string;
  createdAt: DateTimeString;
}

// ---- Other server events -------------------------------------------------------------------

/** The `welcome` event's payload. */
export interface Welcome {
  socketId: string;
  userId: string;
  serverTime: DateTimeString;
  rooms: Room[];
}
/** The `user_online` / `user_offline` events' payload. */
export interface PresenceEvent {
  userId: string;
  at: DateTimeString;
}
/** The `system_shutdown` event's payload: the server is stopping; clients reconnect on their own. */
export interface SystemShutdown {
  at: DateTimeString;
  reconnect: boolean;
}
/** The acknowledgement of `subscribe` / `unsubscribe`. */
export type SubscribeAck =
  | { ok: true; room: Room }
  | { ok: false; error: { code: AckErrorCode | (string & {}); message: string } };
