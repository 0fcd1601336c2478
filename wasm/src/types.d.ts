// The package's TypeScript types (contract sections 1, 2, 6 and 8), written by hand: the shapes.
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
 * `invalid_id` (userRoom, ticketRoom, meterRoom), `invalid_room` (systemRoom, parseRoom, and a
 * `StreamTracker` stream that is not a room or "broadcast"), or `invalid_json`: from a
 * validator, a value JSON cannot carry (a BigInt, a lone surrogate, nesting deeper than 127
 * levels or a cycle); from a `StreamTracker`, a meta or position that is not the wire shape.
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
  /** Where the own user room's stream and `broadcast` stand (contract section 8). */
  streams: WelcomeStreams;
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
/** A refused acknowledgement: the server's code (or a code the client reports itself). */
export interface AckRefusal {
  ok: false;
  error: { code: AckErrorCode | (string & {}); message: string };
}
/**
 * The acknowledgement of `subscribe`: a room with a stream answers its position
 * (`SubscribedAck`), `system_presence` the presence snapshot (`PresenceAck`).
 */
export type SubscribeAck = SubscribedAck | PresenceAck | AckRefusal;
/** The acknowledgement of `unsubscribe`. */
export type UnsubscribeAck = { ok: true; room: Room } | AckRefusal;

// ---- Token lifetime (contract section 10) --------------------------------------------------

/** What a client sends with `refresh`: a new token for the same user (`sub`). */
export interface RefreshRequest {
  token: string;
}
/**
 * The acknowledgement of `refresh`. Accepted: `exp` is the new token's expiry (the socket is now
 * disconnected then), `left` the subscriptions the new token's `rooms` no longer grant, which
 * the socket has left, sorted (`[]` when none). Refused (nothing changed): `unauthorized` (a
 * bad, expired or not-yet-valid token), `forbidden` (another user's token) or `invalid_payload`.
 */
export type RefreshAck = { ok: true; exp: DateTimeString; left: Room[] } | AckRefusal;
/** The `session_expired` event's payload: the token expired at `at` (its `exp`); the disconnect follows. */
export interface SessionExpired {
  at: DateTimeString;
}

// ---- Streams and recovery (contract section 8) ---------------------------------------------

/** A place in a stream: after event `offset` (1, 2, 3…; 0 for none) of the stream's life `epoch`. */
export interface StreamPosition {
  /** Names one life of the stream; offsets of two epochs are never compared. */
  epoch: string;
  offset: number;
}
/** The second argument of every stream event. */
export interface Meta extends StreamPosition {
  /** The room's name, or "broadcast". */
  stream: StreamName;
  /** The delivery id the API returned (a notification's or an announcement's own `id`). */
  id: string;
}
/** Positions by stream: `StreamTracker.since()`, and the handshake's `auth.since`. */
export type Since = { [S in StreamName]?: StreamPosition };
/** Where a stream stands for one socket: a subscribe ack's stream fields, a `welcome.streams` entry. */
export interface StreamStatus extends StreamPosition {
  /** Whether the `since` given for it was recovered; absent when none was given. */
  recovered?: boolean;
}
/** `welcome.streams`: the own user room's stream and `broadcast`. */
export interface WelcomeStreams {
  broadcast: StreamStatus;
  [room: UserRoom]: StreamStatus;
}
/**
 * `subscribe` to a room with a stream: `offset` is the last event delivered before the ack (the
 * top when nothing was missed). With a `since`: `recovered: true` after every missed event was
 * delivered, `recovered: false` when none could be (refetch, then `StreamTracker.reset`).
 */
export interface SubscribedAck extends StreamStatus {
  ok: true;
  room: Room;
}
/** `subscribe` to `system_presence`: who is online now (no stream, so no position). */
export interface PresenceAck {
  ok: true;
  room: PresenceRoom;
  /** Every online user id, sorted, at most 1000. */
  online: string[];
  count: number;
  /** Present (true) only when `online` leaves users out. */
  truncated?: true;
}
/** What a client sends with `subscribe`. */
export interface SubscribeRequest {
  room: Room;
  since?: StreamPosition;
}
/** The handshake's `auth` (socket.io-client's `auth` option, or what its callback passes on). */
export interface HandshakeAuth {
  token: string;
  /** The server reads the own user room's and `broadcast`'s entries and ignores the rest. */
  since?: Since;
}
