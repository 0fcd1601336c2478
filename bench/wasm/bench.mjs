// Validations per second in Node: the switchyard-wasm validators against the same meter-reading
// and notification rules hand-written in plain JS (here only, for comparison; the package has
// no JS logic). Not a test. Build the package first (scripts/build-wasm), then:
//
//   node bench/wasm/bench.mjs            # about 1 s per case
//   BENCH_MS=3000 node bench/wasm/bench.mjs
//   BENCH_CLOCK=cpu node bench/wasm/bench.mjs   # per CPU-second (process.cpuUsage): on a
//                                               # loaded machine wall time mostly measures the load
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const wasm = createRequire(import.meta.url)(join(ROOT, "wasm/pkg/index.cjs"));
const MS = Number(process.env.BENCH_MS ?? 1000);
const CPU = process.env.BENCH_CLOCK === "cpu";
// Milliseconds, of wall time or of this process's CPU time.
const clock = CPU
  ? () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    }
  : () => performance.now();
const NOW = Date.parse("2024-01-15T10:00:00Z");

// ---- The same rules in plain JS --------------------------------------------------------------

const UNITS = ["Wh", "kWh", "MWh", "kW", "kVArh", "m3", "L", "gal", "ft3", "therm"];
const TYPES = ["info", "success", "warning", "error"];
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const typeName = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

function parseTime(s) {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${(m[7] ?? "").slice(0, 4)}${m[8].toUpperCase()}`);
  return Number.isNaN(ms) ? null : ms;
}

function jsValidateMeterReading(input, now = Date.now()) {
  if (typeName(input) !== "object") {
    return { ok: false, errors: [{ path: "", code: "type", message: `a meter reading must be a JSON object, got ${typeName(input)}` }] };
  }
  const errors = [];
  const err = (path, code, message) => errors.push({ path, code, message });
  const { reading, timestamp, unit } = input;
  if (reading == null) err("reading", "required", "reading is required");
  else if (typeof reading !== "number") err("reading", "type", `reading must be a number, got ${typeName(reading)}`);
  else if (!Number.isFinite(reading)) err("reading", "not_finite", "reading must be a finite number");
  let ts = null;
  if (timestamp == null) err("timestamp", "required", "timestamp is required");
  else if (typeof timestamp !== "string") err("timestamp", "type", `timestamp must be a string, got ${typeName(timestamp)}`);
  else if ((ts = parseTime(timestamp)) === null) err("timestamp", "invalid_format", `${JSON.stringify(timestamp)} is not an RFC 3339 date-time`);
  else if (ts > now + 5 * 60 * 1000) err("timestamp", "in_future", `timestamp is more than 5 minutes after the server's time`);
  if (unit == null) err("unit", "required", "unit is required");
  else if (typeof unit !== "string") err("unit", "type", `unit must be a string, got ${typeName(unit)}`);
  else if (!UNITS.includes(unit)) err("unit", "unknown_value", `unit must be one of ${UNITS.join(", ")} (got ${JSON.stringify(unit)})`);
  for (const k of Object.keys(input).sort()) {
    if (k !== "reading" && k !== "timestamp" && k !== "unit") err(k, "unknown_field", `unknown field ${JSON.stringify(k)}`);
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { reading, timestamp: new Date(ts).toISOString(), unit } };
}

function jsValidateNotification(input) {
  if (typeName(input) !== "object") {
    return { ok: false, errors: [{ path: "", code: "type", message: `a notification must be a JSON object, got ${typeName(input)}` }] };
  }
  const errors = [];
  const err = (path, code, message) => errors.push({ path, code, message });
  const { type, message, data } = input;
  if (type == null) err("type", "required", "type is required");
  else if (typeof type !== "string") err("type", "type", `type must be a string, got ${typeName(type)}`);
  else if (!TYPES.includes(type)) err("type", "unknown_value", `type must be one of ${TYPES.join(", ")} (got ${JSON.stringify(type)})`);
  if (message == null) err("message", "required", "message is required");
  else if (typeof message !== "string") err("message", "type", `message must be a string, got ${typeName(message)}`);
  else if (message.trim() === "") err("message", "empty", "message must not be empty or blank");
  else {
    let n = 0;
    for (const _ of message) n++;
    if (n > 1000) err("message", "too_long", `message has ${n} characters; at most 1000 are allowed`);
  }
  let out;
  if (data != null) {
    if (typeName(data) !== "object") err("data", "type", `data must be a JSON object, got ${typeName(data)}`);
    else {
      const json = JSON.stringify(data);
      const size = Buffer.byteLength(json);
      if (size > 16384) err("data", "too_large", `data is ${size} bytes as JSON; at most 16384 are allowed`);
      else out = JSON.parse(json);
    }
  }
  for (const k of Object.keys(input).sort()) {
    if (k !== "type" && k !== "message" && k !== "data") err(k, "unknown_field", `unknown field ${JSON.stringify(k)}`);
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: out === undefined ? { type, message } : { type, message, data: out } };
}

// ---- Cases -----------------------------------------------------------------------------------

const cases = [
  ["meter reading, valid", wasm.validateMeterReading, jsValidateMeterReading,
    { reading: 12.5, timestamp: "2024-01-15T11:04:59+01:00", unit: "kWh" }],
  ["meter reading, 3 errors", wasm.validateMeterReading, jsValidateMeterReading,
    { reading: NaN, timestamp: "soon", unit: "KWH" }],
  ["notification, valid", wasm.validateNotification, jsValidateNotification,
    { type: "info", message: "Truck arrives at 10:00", data: { ticket: "T-1001", eta: 15 } }],
  ["notification, 2 errors", wasm.validateNotification, jsValidateNotification,
    { type: "loud", message: "   " }],
  ["notification, 4 KiB data", wasm.validateNotification, jsValidateNotification,
    { type: "info", message: "m", data: { items: Array.from({ length: 100 }, (_, i) => ({ id: `item-${i}`, qty: i, ok: true })) } }],
];

function rate(f, input) {
  for (let i = 0; i < 2000; i++) f(input, NOW); // warm up
  let n = 0;
  const start = clock();
  let elapsed = 0;
  while (elapsed < MS) {
    for (let i = 0; i < 200; i++) f(input, NOW);
    n += 200;
    elapsed = clock() - start;
  }
  return (n / elapsed) * 1000;
}

const fmt = (x) => Math.round(x).toLocaleString("en-US");
const rows = [];
for (const [name, w, js, input] of cases) {
  // Same verdict and codes before timing.
  const a = w(input, NOW);
  const b = js(input, NOW);
  if (a.ok !== b.ok || (!a.ok && a.errors.map((e) => e.code).join() !== b.errors.map((e) => e.code).join())) {
    throw new Error(`${name}: wasm and JS disagree: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  const rw = rate(w, input);
  const rj = rate(js, input);
  rows.push([name, fmt(rw), fmt(rj), `${(rj / rw).toFixed(1)}x`]);
}
const names = [["meterRoom", () => wasm.meterRoom("MTR-7")], ["parseRoom", () => wasm.parseRoom("ticket_T-1001")]];
for (const [name, f] of names) rows.push([`${name} (wasm only)`, fmt(rate(f)), "", ""]);

const head = ["case", "wasm ops/s", "plain JS ops/s", "JS / wasm"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(`switchyard-wasm bench: Node ${process.version}, ${MS} ms of ${CPU ? "CPU" : "wall"} time per case, per ${CPU ? "CPU-" : ""}second`);
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
