// A typed use of switchyard-wasm, compiled with `tsc --noEmit` by test/typecheck.test.js
// (copied next to the installed package, checked with Node's and with bundlers' resolution).
// Each `@ts-expect-error` proves the types refuse something.
import {
  ANNOUNCEMENT_TYPES,
  EVENTS,
  METER_UNITS,
  NOTIFICATION_TYPES,
  TICKET_PRIORITIES,
  TICKET_STATUSES,
  StreamTracker,
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
  type AckErrorCode,
  type Accepted,
  type HandshakeAuth,
  type Meta,
  type PresenceAck,
  type RefreshAck,
  type RefreshRequest,
  type SessionExpired,
  type Since,
  type StreamName,
  type StreamPosition,
  type StreamStatus,
  type SubscribeRequest,
  type SubscribedAck,
  type UnsubscribeAck,
  type Welcome,
  type Announcement,
  type AnnouncementType,
  type ApiErrorCode,
  type ConnectErrorCode,
  type ErrorCode,
  type EventName,
  type FieldError,
  type JsonValue,
  type MeterReading,
  type MeterReadingInput,
  type MeterUnit,
  type NewMeterReading,
  type Notification,
  type ParsedRoom,
  type NotificationType,
  type Room,
  type RoomKind,
  type SubscribeAck,
  type SwitchyardError,
  type SwitchyardErrorCode,
  type TicketChange,
  type TicketPriority,
  type TicketStatus,
  type TicketUpdate,
  type ValidationResult,
} from "switchyard-wasm";

// Rooms are template-literal types.
const user: `user_${string}` = userRoom("tech-42");
const rooms: Room[] = [user, ticketRoom("T-1"), meterRoom("MTR-7"), systemRoom("presence")];
const parsed: ParsedRoom = parseRoom(rooms[1]);
const kind: RoomKind = parsed.kind;
// @ts-expect-error: a user room is not a ticket room
const wrongRoom: `ticket_${string}` = userRoom("tech-42");
// @ts-expect-error: "room" is not a RoomKind
const wrongKind: RoomKind = "room";
const ok: boolean = isValidEventName("job_done");

// EVENTS has literal types and is read-only.
const reading: "meter_reading" = EVENTS.METER_READING;
const event: EventName = EVENTS.WELCOME;
// @ts-expect-error: EVENTS is read-only
EVENTS.WELCOME = "hello";
// @ts-expect-error: no such event
EVENTS.METER_READINGS;

// The enums' values are readonly tuples of literals, in the core's order, and each union is
// exactly its tuple's members.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const unionsAreTheTuples: [true, true, true, true, true] = [
  true satisfies Same<NotificationType, (typeof NOTIFICATION_TYPES)[number]>,
  true satisfies Same<TicketStatus, (typeof TICKET_STATUSES)[number]>,
  true satisfies Same<TicketPriority, (typeof TICKET_PRIORITIES)[number]>,
  true satisfies Same<MeterUnit, (typeof METER_UNITS)[number]>,
  true satisfies Same<AnnouncementType, (typeof ANNOUNCEMENT_TYPES)[number]>,
];
const kwh: "kWh" = METER_UNITS[1];
const unitCount: 10 = METER_UNITS.length;
const inProgress: "in_progress" = TICKET_STATUSES[1];
const firstType: "info" = NOTIFICATION_TYPES[0];
const lastPriority: "urgent" = TICKET_PRIORITIES[3];
const announcementTypes: readonly AnnouncementType[] = ANNOUNCEMENT_TYPES;
// @ts-expect-error: the tuple has ten units, so there is no index 10
METER_UNITS[10];
// @ts-expect-error: the arrays are read-only
METER_UNITS.push("BTU");
// @ts-expect-error: a unit is not a status
const notAStatus: TicketStatus = METER_UNITS[0];
// A form's <select> built from the values gives back a checked union member.
const picked = (value: string): TicketPriority | undefined => TICKET_PRIORITIES.find((p) => p === value);

// Error codes: one union per surface, from the core's list.
const ackCode: AckErrorCode = "limit_exceeded";
// @ts-expect-error: too_many_sockets is a connect_error message, not an ack code
const notAckCode: AckErrorCode = "too_many_sockets";
const connectCode: ConnectErrorCode = "too_many_sockets";
const apiCode: ApiErrorCode = "validation_failed";
// @ts-expect-error: not_finite is a field code, never an API error code
const notApiCode: ApiErrorCode = "not_finite";
// @ts-expect-error: forbidden is not a validation code
const notFieldCode: ErrorCode = "forbidden";
const onAck = (ack: SubscribeAck): string => (ack.ok ? ack.room : ack.error.code satisfies AckErrorCode | string);
// Exhaustive: with a code missing, the function would lack an ending return.
function describe(code: SwitchyardErrorCode): string {
  switch (code) {
    case "invalid_id":
      return "bad id";
    case "invalid_room":
      return "bad room";
    case "invalid_json":
      return "not JSON";
  }
}

// Validators take precise inputs and narrow on `ok`.
const input: MeterReadingInput = { reading: 12.5, timestamp: new Date(), unit: "kWh" };
const result: ValidationResult<NewMeterReading> = validateMeterReading(input, Date.now());
if (result.ok) {
  const value: NewMeterReading = result.value;
  const unit: MeterUnit = value.unit;
  const ts: string = value.timestamp;
  // @ts-expect-error: a checked reading has no meterId yet
  value.meterId;
} else {
  const errors: FieldError[] = result.errors;
  const codes: ErrorCode[] = errors.map((e) => e.code);
  // @ts-expect-error: value only exists when ok is true
  result.value;
}
// @ts-expect-error: "KWH" is not a MeterUnit (units are case-sensitive)
validateMeterReading({ reading: 1, timestamp: "2024-01-15T10:00:00Z", unit: "KWH" });
// @ts-expect-error: a wrong field is rejected
validateNotification({ type: "info", message: "hello", colour: "red" });
// @ts-expect-error: message is required
validateNotification({ type: "info" });
// @ts-expect-error: now is a Date or a number
validateNotification({ type: "info", message: "m" }, "now");
validateNotification({ type: "warning", message: "m", data: { any: ["json", 1] } }, new Date());

const change = validateTicketUpdate({ assignedTo: null, status: "in_progress" });
if (change.ok) {
  const c: TicketChange = change.value;
  const assignee: string | null | undefined = c.assignedTo;
}
// @ts-expect-error: "done" is not a TicketStatus
validateTicketUpdate({ status: "done" });
validateAnnouncement({ type: "maintenance", message: "m", scheduledTime: new Date() });
const custom: ValidationResult<JsonValue> = validateCustomData({ anything: [1, "two"] });

// Event payload types for socket.io handlers.
const onNotification = (n: Notification) => n.createdAt.length + n.id.length + n.message.length;
const onTicket = (t: TicketUpdate) => t.ticketId + t.updatedAt + (t.status ?? "");
const onReading = (m: MeterReading) => m.meterId + m.reading.toFixed(2);
const onAnnouncement = (a: Announcement) => a.type satisfies "info" | "maintenance" | "outage" | "update";

try {
  userRoom("a b");
} catch (err) {
  const e = err as SwitchyardError;
  const code: "invalid_id" | "invalid_room" | "invalid_json" = e.code;
  const message: string = e.message;
}

// Streams (section 8): the tracker's arguments and answers, and the wire shapes around it.
const tracker = new StreamTracker();
const meta: Meta = { stream: "ticket_T-1", epoch: "e", offset: 1, id: "d1" };
const verdict: Accepted = tracker.accept(meta);
const handle: boolean = verdict === "new" || verdict === "gap";
// @ts-expect-error: accept answers only new, duplicate or gap
const notAnAnswer: boolean = verdict === "missed";
// @ts-expect-error: a meta has an id
tracker.accept({ stream: "broadcast", epoch: "b", offset: 1 });
const where: StreamPosition | undefined = tracker.position("ticket_T-1");
// @ts-expect-error: position() is undefined for a stream not seen yet
const offsetNow: number = tracker.position("broadcast").offset;
const stream: StreamName = "broadcast";
// @ts-expect-error: a stream is a room or "broadcast"
tracker.reset("lobby", { epoch: "b", offset: 0 });
tracker.reset(stream, { epoch: "b", offset: 0 });
const since: Since = tracker.since();
const fromSince: StreamPosition | undefined = since["user_u-1"];
const auth: HandshakeAuth = { token: "jwt", since: tracker.since() };
const request: SubscribeRequest = { room: "ticket_T-1", since: tracker.position("ticket_T-1") };
const onSubscribe = (ack: SubscribeAck): string => {
  if (!ack.ok) return ack.error.code;
  if ("online" in ack) {
    const snapshot: PresenceAck = ack;
    return `${snapshot.count} online${snapshot.truncated ? " (truncated)" : ""}: ${snapshot.online.join(", ")}`;
  }
  const subscribed: SubscribedAck = ack;
  const recovered: boolean | undefined = subscribed.recovered;
  return `${subscribed.room} at ${subscribed.epoch}:${subscribed.offset}${recovered === false ? ", reload" : ""}`;
};
const onUnsubscribe = (ack: UnsubscribeAck): string => (ack.ok ? ack.room : ack.error.code);
const refresh: RefreshRequest = { token: "jwt" };
const onRefresh = (ack: RefreshAck): string => {
  if (!ack.ok) return ack.error.code satisfies AckErrorCode | string;
  const left: Room[] = ack.left;
  return `${refresh.token} until ${ack.exp}, left ${left.join(", ")}`;
};
const refreshRefused: AckErrorCode = "unauthorized";
const expiredAt = (e: SessionExpired): string => e.at;
const refreshEvent: "refresh" = EVENTS.REFRESH;
const expiredEvent: "session_expired" = EVENTS.SESSION_EXPIRED;
const broadcastStatus = (w: Welcome): StreamStatus => w.streams.broadcast;
const inboxStatus = (w: Welcome): StreamStatus | undefined => w.streams["user_u-1"];
// @ts-expect-error: welcome.streams holds only the own user room and broadcast
const notInWelcome = (w: Welcome) => w.streams["ticket_T-1"];
tracker.free();

export { user, kind, ok, reading, event, custom, onNotification, onTicket, onReading, onAnnouncement, wrongRoom, wrongKind };
export { unionsAreTheTuples, kwh, unitCount, inProgress, firstType, lastPriority, announcementTypes, notAStatus, picked };
export { ackCode, notAckCode, connectCode, apiCode, notApiCode, notFieldCode, onAck, describe };
export { handle, notAnAnswer, where, offsetNow, fromSince, auth, request, onSubscribe, onUnsubscribe };
export { broadcastStatus, inboxStatus, notInWelcome };
