// A typed use of switchyard-wasm, compiled with `tsc --noEmit` by test/typecheck.test.js
// (copied next to the installed package, checked with Node's and with bundlers' resolution).
// Each `@ts-expect-error` proves the types refuse something.
import {
  EVENTS,
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
  type Announcement,
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
  type Room,
  type RoomKind,
  type SwitchyardError,
  type TicketChange,
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

export { user, kind, ok, reading, event, custom, onNotification, onTicket, onReading, onAnnouncement, wrongRoom, wrongKind };
