// The installed package as a Node user sees it: entries, exports, EVENTS, errors, `now`, and
// how JS values are read (JSON.stringify's rules, NaN kept).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { test } from "node:test";
import { APP, PUBLIC_EXPORTS, installedPackage, vectorFiles } from "../lib/common.js";

const PKG_DIR = installedPackage();
const require = createRequire(join(APP, "package.json"));
const cjs = require("switchyard-wasm");
const esm = await import(pathToFileURL(require.resolve("switchyard-wasm")).href);
const NAMES = PUBLIC_EXPORTS;
const NOW = new Date("2024-01-15T10:00:00Z");

test("require and import give the same named exports, and only the public ones", async () => {
  assert.deepEqual(Object.keys(cjs).sort(), NAMES);
  for (const name of NAMES) assert.equal(esm[name], cjs[name], name);
  // Node's import of the CommonJS entry adds only `default` (module.exports itself).
  assert.deepEqual(Object.keys(esm).filter((n) => n !== "default").sort(), NAMES);
  assert.equal(esm.default, cjs);
});

test("a bare `import 'switchyard-wasm'` from an ES module resolves and works", async () => {
  const { execFileSync } = await import("node:child_process");
  const out = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", `import { meterRoom, EVENTS } from "switchyard-wasm"; console.log(meterRoom("MTR-7"), EVENTS.LOGOUT);`],
    { cwd: APP, encoding: "utf8" },
  );
  assert.equal(out.trim(), "meter_MTR-7 logout");
});

test("package.json: name, version, entries, types and files", () => {
  const pkg = JSON.parse(readFileSync(join(PKG_DIR, "package.json"), "utf8"));
  assert.equal(pkg.name, "switchyard-wasm");
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
  const dot = pkg.exports["."];
  assert.deepEqual(Object.keys(dot), ["node", "types", "browser", "import", "default"]);
  for (const file of [pkg.main, pkg.module, pkg.types, dot.node.types, dot.node.default, dot.default]) {
    assert.ok(statSync(join(PKG_DIR, file)).isFile(), file);
  }
  for (const file of ["web/switchyard_wasm_bg.wasm", "node/switchyard_wasm_bg.wasm", "README.md"]) {
    assert.ok(statSync(join(PKG_DIR, file)).isFile(), file);
  }
});

test("the .wasm stays under the 80 KB gzipped budget", () => {
  const wasm = readFileSync(join(PKG_DIR, "web", "switchyard_wasm_bg.wasm"));
  const gz = gzipSync(wasm, { level: 9 }).length;
  console.log(`switchyard_wasm_bg.wasm: ${wasm.length} bytes raw, ${gz} bytes gzipped`);
  assert.ok(gz < 80 * 1024, `${gz} bytes gzipped`);
});

test("EVENTS: the fixed names, frozen, in the core's order", () => {
  assert.deepEqual(Object.entries(cjs.EVENTS), [
    ["WELCOME", "welcome"],
    ["NOTIFICATION", "notification"],
    ["TICKET_UPDATED", "ticket_updated"],
    ["METER_READING", "meter_reading"],
    ["ANNOUNCEMENT", "announcement"],
    ["USER_ONLINE", "user_online"],
    ["USER_OFFLINE", "user_offline"],
    ["SYSTEM_SHUTDOWN", "system_shutdown"],
    ["SYSTEM_SLOW_CONSUMER", "system_slow_consumer"],
    ["SESSION_EXPIRED", "session_expired"],
    ["SUBSCRIBE", "subscribe"],
    ["UNSUBSCRIBE", "unsubscribe"],
    ["LOGOUT", "logout"],
    ["REFRESH", "refresh"],
  ]);
  assert.ok(Object.isFrozen(cjs.EVENTS));
  assert.throws(() => {
    "use strict";
    cjs.EVENTS.WELCOME = "x";
  }, TypeError);
  for (const name of Object.values(cjs.EVENTS)) assert.ok(cjs.isValidEventName(name), name);
});

// Each enum constant, with the validator and field that take its values.
const VALUE_LISTS = {
  NOTIFICATION_TYPES: { fn: "validateNotification", field: "type", input: (v) => ({ type: v, message: "m" }) },
  TICKET_STATUSES: { fn: "validateTicketUpdate", field: "status", input: (v) => ({ status: v }) },
  TICKET_PRIORITIES: { fn: "validateTicketUpdate", field: "priority", input: (v) => ({ priority: v }) },
  METER_UNITS: { fn: "validateMeterReading", field: "unit", input: (v) => ({ reading: 1, timestamp: "2024-01-15T10:00:00Z", unit: v }) },
  ANNOUNCEMENT_TYPES: { fn: "validateAnnouncement", field: "type", input: (v) => ({ type: v, message: "m" }) },
};

test("the enums' values: frozen arrays, the core's, each one accepted", () => {
  assert.deepEqual(Object.keys(VALUE_LISTS).sort(), NAMES.filter((n) => Array.isArray(cjs[n])).sort());
  // The shared vectors' unknown_value messages list the allowed values in the core's order,
  // and core/tests/vectors.rs checks those messages natively.
  const messages = vectorFiles().flatMap(({ vectors }) =>
    vectors.flatMap((v) => (v.expect.errors ?? []).map((e) => ({ fn: v.fn, ...e }))),
  );
  for (const [name, { fn, field, input }] of Object.entries(VALUE_LISTS)) {
    const values = cjs[name];
    assert.ok(Object.isFrozen(values), name);
    assert.throws(() => {
      "use strict";
      values.push("x");
    }, TypeError);
    const listed = messages
      .filter((e) => e.fn === fn && e.path === field && e.code === "unknown_value")
      .map((e) => e.message.match(/^\w+ must be one of (.*) \(got /)?.[1].split(", "));
    assert.ok(listed.length > 0, `a vector refuses an unknown ${field} for ${fn}`);
    for (const l of listed) assert.deepEqual(values, l, name);
    for (const v of values) assert.equal(cjs[fn](input(v), NOW).ok, true, `${name}: ${v}`);
    assert.equal(cjs[fn](input(values[0].toUpperCase() + "x"), NOW).errors[0].code, "unknown_value");
  }
});

test("the .d.ts declares each constant as its runtime value (readonly tuples, EVENTS' object)", () => {
  const entry = readFileSync(join(PKG_DIR, "index.d.ts"), "utf8");
  const types = readFileSync(join(PKG_DIR, "node", "switchyard_wasm.d.ts"), "utf8");
  const declared = Object.fromEntries([...entry.matchAll(/^export declare const (\w+): (\w+);$/gm)].map((m) => [m[1], m[2]]));
  assert.deepEqual(Object.keys(declared).sort(), NAMES.filter((n) => typeof cjs[n] !== "function"));
  for (const [name, type] of Object.entries(declared)) {
    if (name === "EVENTS") {
      const body = types.match(new RegExp(`^export type ${type} = \\{\n([^}]*)\\};$`, "m"))?.[1];
      assert.ok(body, `${type} is declared`);
      const entries = [...body.matchAll(/^\s+readonly (\w+): ("\w+");$/gm)].map((m) => [m[1], JSON.parse(m[2])]);
      assert.deepEqual(entries, Object.entries(cjs.EVENTS));
    } else {
      const tuple = types.match(new RegExp(`^export type ${type} = readonly (\\[.*\\]);$`, "m"))?.[1];
      assert.ok(tuple, `${type} is a readonly tuple`);
      assert.deepEqual(JSON.parse(tuple), [...cjs[name]], name);
    }
  }
});

test("the README lists the constants' values and the error codes as the package has them", () => {
  const readme = readFileSync(join(PKG_DIR, "README.md"), "utf8");
  const types = readFileSync(join(PKG_DIR, "node", "switchyard_wasm.d.ts"), "utf8");
  const quoted = (text) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  const row = (name) => readme.match(new RegExp(`^ *\\| \`${name}\` \\| ([^|]*) \\| ([^|]*) \\|`, "m"));
  // wasm-bindgen re-indents the custom sections it copies into the .d.ts.
  const union = (name) => {
    const body = types.match(new RegExp(`^export type ${name} =\n((?: *\\| "[^"]+";?\n)+)`, "m"))?.[1] ?? "";
    return [...body.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  };
  for (const name of Object.keys(VALUE_LISTS)) {
    assert.deepEqual(quoted(row(name)?.[1] ?? ""), [...cjs[name]], `README: ${name}`);
  }
  const fieldCodes = readme.match(/^Validation error codes \(`FieldError.code`\): ([^]*?)\.\n/m)?.[1] ?? "";
  assert.deepEqual(quoted(fieldCodes), union("ErrorCode"), "README: validation error codes");
  for (const name of ["AckErrorCode", "ConnectErrorCode", "ApiErrorCode", "SwitchyardErrorCode"]) {
    assert.ok(union(name).length > 0, name);
    assert.deepEqual(quoted(row(name)?.[2] ?? ""), union(name), `README: ${name}`);
  }
});

test("room errors are SwitchyardErrors with a code", () => {
  const cases = [
    [() => cjs.userRoom("a b"), "invalid_id"],
    [() => cjs.ticketRoom(""), "invalid_id"],
    [() => cjs.meterRoom("x".repeat(65)), "invalid_id"],
    [() => cjs.systemRoom("Ops"), "invalid_room"],
    [() => cjs.parseRoom("lobby"), "invalid_room"],
  ];
  for (const [f, code] of cases) {
    assert.throws(f, (e) => e instanceof Error && e.name === "SwitchyardError" && e.code === code && e.message.length > 0);
  }
});

test("non-string arguments are refused, never coerced", () => {
  for (const bad of [42, undefined, null, {}, ["a"], true]) {
    assert.throws(() => cjs.userRoom(bad), { name: "SwitchyardError", code: "invalid_id" });
    assert.throws(() => cjs.systemRoom(bad), { name: "SwitchyardError", code: "invalid_room" });
    assert.throws(() => cjs.parseRoom(bad), { name: "SwitchyardError", code: "invalid_room" });
    assert.equal(cjs.isValidEventName(bad), false);
  }
  assert.throws(() => cjs.userRoom(42), { message: "a user id must be a string, got number" });
});

test("round trip: parseRoom(userRoom(id)) gives the id back", () => {
  for (const [build, kind] of [[cjs.userRoom, "user"], [cjs.ticketRoom, "ticket"], [cjs.meterRoom, "meter"], [cjs.systemRoom, "system"]]) {
    for (const id of ["a", "0", "x".repeat(64), kind === "system" ? "ops-1_a" : "Az09._:@-"]) {
      assert.deepEqual(cjs.parseRoom(build(id)), { kind, id });
    }
  }
});

test("now: a Date, milliseconds, or nothing (the current time)", () => {
  const input = { reading: 1, timestamp: "2024-01-15T10:05:00.000Z", unit: "Wh" };
  assert.equal(cjs.validateMeterReading(input, NOW).ok, true);
  assert.equal(cjs.validateMeterReading(input, NOW.getTime()).ok, true);
  assert.equal(cjs.validateMeterReading(input, NOW.getTime() + 0.9).ok, true, "fractions of a ms are dropped");
  assert.equal(cjs.validateMeterReading(input, NOW.getTime() - 1).errors[0].code, "in_future");
  // Without now, the current time: a reading from 2024 is in the past.
  assert.equal(cjs.validateMeterReading(input).ok, true);
  assert.equal(cjs.validateMeterReading(input, null).ok, true);
  const future = { ...input, timestamp: new Date(Date.now() + 3_600_000).toISOString() };
  assert.equal(cjs.validateMeterReading(future).errors[0].code, "in_future");
  assert.throws(() => cjs.validateMeterReading(input, "2024-01-15"), TypeError);
  assert.throws(() => cjs.validateMeterReading(input, NaN), RangeError);
  assert.throws(() => cjs.validateMeterReading(input, new Date("nope")), RangeError);
  assert.throws(() => cjs.validateMeterReading(input, 1e20), RangeError);
});

// What the validators see: the payload as JSON.stringify would send it, NaN kept.
const sameAsSent = (validate, value, now = NOW) => {
  const sent = JSON.parse(JSON.stringify(value));
  assert.deepStrictEqual(validate(value, now), validate(sent, now));
};

test("undefined properties are absent, as JSON.stringify leaves them out", () => {
  assert.deepStrictEqual(cjs.validateTicketUpdate({ assignedTo: undefined }, NOW).errors[0].code, "empty_update");
  sameAsSent(cjs.validateTicketUpdate, { assignedTo: undefined, status: "open" });
  sameAsSent(cjs.validateNotification, { type: "info", message: "m", data: { a: undefined, b: 1, f() {}, s: Symbol("x") } });
  sameAsSent(cjs.validateNotification, { type: "info", message: "m", data: { list: [undefined, () => 1, Symbol("y"), , 2] } });
  sameAsSent(cjs.validateNotification, { type: "info", message: "m", extra: undefined });
});

test("toJSON is honoured: a Date timestamp is its ISO string", () => {
  const r = cjs.validateMeterReading({ reading: 2, timestamp: new Date("2024-01-15T09:00:00.123Z"), unit: "kWh" }, NOW);
  assert.deepStrictEqual(r, { ok: true, value: { reading: 2, timestamp: "2024-01-15T09:00:00.123Z", unit: "kWh" } });
  sameAsSent(cjs.validateAnnouncement, { type: "outage", message: "m", scheduledTime: new Date("2024-02-01T00:00:00Z") });
  const custom = { toJSON: (key) => ({ key, n: 1 }) };
  sameAsSent(cjs.validateNotification, { type: "info", message: "m", data: { custom, list: [custom] } });
  sameAsSent(cjs.validateCustomData, { when: new Date(0), boxed: [new Number(3), new String("s"), new Boolean(false)] });
  sameAsSent(cjs.validateCustomData, new Map([["a", 1]]));
  sameAsSent(cjs.validateCustomData, new Uint8Array([1, 2]));
});

test("NaN and Infinity are not_finite, not null", () => {
  for (const reading of [NaN, Infinity, -Infinity, new Number(NaN)]) {
    const r = cjs.validateMeterReading({ reading, timestamp: "2024-01-15T10:00:00Z", unit: "kWh" }, NOW);
    assert.deepStrictEqual(r.errors, [{ path: "reading", code: "not_finite", message: "reading must be a finite number" }]);
  }
  assert.equal(cjs.validateCustomData({ a: [1, NaN] }).errors[0].path, "data.a[1]");
});

test("numbers: -0 kept, integers beyond 2^53 read like the server reads them", () => {
  const r = cjs.validateCustomData({ z: -0, big: 2 ** 60, f: 0.1 });
  assert.ok(Object.is(r.value.z, -0));
  assert.equal(r.value.big, 2 ** 60);
  // {"k":"…"} plus an integer written without a fraction: the size is the server's.
  const n = 2 ** 60; // 19 digits
  const s = "x".repeat(16384 - 8 - (`,"n":${n}`).length);
  assert.equal(cjs.validateNotification({ type: "info", message: "m", data: { k: s, n } }, NOW).ok, true);
  assert.equal(cjs.validateNotification({ type: "info", message: "m", data: { k: s + "x", n } }, NOW).ok, false);
});

test("what JSON cannot carry throws invalid_json", () => {
  const invalid = { name: "SwitchyardError", code: "invalid_json" };
  assert.throws(() => cjs.validateCustomData({ n: 1n }), invalid);
  const cycle = { a: 1 };
  cycle.self = cycle;
  assert.throws(() => cjs.validateCustomData(cycle), invalid);
  assert.throws(() => cjs.validateNotification({ type: "info", message: "\ud800" }, NOW), invalid);
  assert.throws(() => cjs.validateCustomData({ ["\udc00"]: 1 }), invalid);
  let deep = 1;
  for (let i = 0; i < 127; i++) deep = [deep];
  assert.equal(cjs.validateCustomData(deep).ok, true, "127 levels are fine");
  assert.throws(() => cjs.validateCustomData([deep]), invalid);
  // A BigInt with a toJSON of its own is what JSON.stringify would send.
  BigInt.prototype.toJSON = function () {
    return this.toString();
  };
  try {
    assert.deepStrictEqual(cjs.validateCustomData({ n: 5n }), { ok: true, value: { n: "5" } });
  } finally {
    delete BigInt.prototype.toJSON;
  }
  // Errors thrown by a getter or toJSON pass through unchanged.
  const boom = new Error("boom");
  assert.throws(() => cjs.validateCustomData({ get x() { throw boom; } }), (e) => e === boom);
});

test("results are plain JSON data: a __proto__ key in data stays an own property", () => {
  const data = JSON.parse('{"__proto__": {"polluted": true}}');
  const r = cjs.validateNotification({ type: "info", message: "m", data }, NOW);
  assert.equal(Object.getPrototypeOf(r.value.data), Object.prototype);
  assert.deepStrictEqual(Object.keys(r.value.data), ["__proto__"]);
  assert.equal({}.polluted, undefined);
  assert.deepStrictEqual(r, JSON.parse(JSON.stringify(r)));
});

test("the README's example works", () => {
  const r = cjs.validateMeterReading({ reading: 12.5, timestamp: "2024-01-15T11:04:59+01:00", unit: "kWh" }, NOW);
  assert.deepStrictEqual(r, { ok: true, value: { reading: 12.5, timestamp: "2024-01-15T10:04:59.000Z", unit: "kWh" } });
  assert.deepStrictEqual(cjs.parseRoom("ticket_T-1001"), { kind: "ticket", id: "T-1001" });
});
