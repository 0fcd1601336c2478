// The two ways the package reads a JS value (wasm/src/convert.rs): the one-crossing tape
// (wasm/src/convert.js) and the property walk it leaves the rare values to. A boxed Boolean
// anywhere makes the tape give up, so `[v, new Boolean(true)]` is read the slow way and
// `[v, true]` the fast way; both must give the same answer, in both builds.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { builds, glues } from "../lib/builds.js";
import { installedPackage } from "../lib/common.js";

function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pkgs = await builds();
const glue = await glues();
const NOW = Date.parse("2024-01-15T10:00:00Z");
const VALIDATORS = ["validateNotification", "validateTicketUpdate", "validateMeterReading", "validateAnnouncement", "validateCustomData"];

const fastAndSlow = (pkg, v) => [pkg.validateCustomData([v, true]), pkg.validateCustomData([v, new Boolean(true)])];

test("the tape and the property walk read random values alike", () => {
  const r = rng(Number(process.env.SWITCHYARD_TAPE_SEED ?? 11));
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const strs = ["", "a", "é", "😀", "用户", "\u0000", "\u007f\u0080", "\"\\\n", "x".repeat(64), "y".repeat(65), "é".repeat(70), "😀".repeat(40)];
  const nums = [0, -0, 1, -1, 0.1, 1e21, 5e-324, 2 ** 53 + 2, 2 ** 60, -(2 ** 63), 2 ** 64, NaN, Infinity, -Infinity, Number.MAX_VALUE];
  const leaf = () =>
    pick([
      () => undefined,
      () => null,
      () => r() < 0.5,
      () => pick(nums),
      () => pick(strs),
      () => new Date(Math.floor(r() * 2e12)),
      () => new Date(NaN),
      () => () => 1,
      () => Symbol("s"),
      () => {
        const k = Math.floor(r() * 6);
        return { toJSON: (key) => [key, NaN, -0, { key }, [key], undefined][k] };
      },
    ])();
  const value = (depth) => {
    if (depth === 0 || r() < 0.3) return leaf();
    if (r() < 0.4) {
      const a = Array.from({ length: Math.floor(r() * 5) }, () => value(depth - 1));
      if (r() < 0.2) a.length += 1; // a hole
      return a;
    }
    const o = {};
    for (let i = Math.floor(r() * 5); i > 0; i--) o[pick([...strs, "k", "data", "__proto__x", "1", "0"])] = value(depth - 1);
    return o;
  };
  for (const [build, pkg] of Object.entries(pkgs)) {
    for (let i = 0; i < 1000; i++) {
      const v = value(4);
      const [fast, slow] = fastAndSlow(pkg, v);
      assert.deepStrictEqual(fast, slow, `${build}: case ${i}`);
    }
  }
});

test("plain values take the tape; only the rare ones give up", async () => {
  const dir = join(installedPackage(), "web", "snippets");
  const [file] = readdirSync(dir, { recursive: true }).filter((f) => f.endsWith("convert.js"));
  const { encode } = await import(pathToFileURL(join(dir, file)).href);
  const tag = (v) => encode(v)?.[0];
  for (const v of [null, true, 1, NaN, -0, "s", "é", [1, undefined], { a: new Date(0) }, { toJSON: () => 1 }]) {
    assert.ok(encode(v) instanceof Uint8Array, String(v));
  }
  assert.deepStrictEqual([tag(null), tag(false), tag(true), tag(1), tag("s"), tag([]), tag({})], [0, 1, 2, 3, 4, 5, 6]);
  for (const v of [1n, { n: 1n }, [new Number(1)], new String("s"), { b: new Boolean(false) }, "\ud800", { ["\udc00"]: 1 }]) {
    assert.equal(encode(v), undefined, typeof v);
  }
});

test("large values (the tape's buffer grows), and deep ones at the limit", () => {
  const items = Array.from({ length: 1000 }, (_, i) => ({ id: `item-${i}`, name: "é".repeat(i % 7), qty: i / 3, ok: i % 2 === 0 }));
  let deep = 1;
  for (let i = 0; i < 126; i++) deep = [deep];
  for (const [build, pkg] of Object.entries(pkgs)) {
    const [fast, slow] = fastAndSlow(pkg, { items });
    assert.deepStrictEqual(fast, slow, build);
    assert.equal(fast.ok, true, build);
    assert.deepStrictEqual(fast.value[0].items, JSON.parse(JSON.stringify(items)), build);
    // [v, true] adds a level: 127 in all, the most the server's parser reads.
    assert.equal(pkg.validateCustomData([deep, true]).ok, true, build);
    assert.throws(() => pkg.validateCustomData([[deep], true]), { code: "invalid_json" }, build);
    // A small value after a large one: nothing of the large one is left over.
    assert.deepStrictEqual(pkg.validateCustomData({ a: 1 }), { ok: true, value: { a: 1 } }, build);
  }
});

test("getters and toJSON that validate, or throw, while the value is read", () => {
  for (const [build, pkg] of Object.entries(pkgs)) {
    let inner;
    const v = {
      get a() {
        inner = pkg.validateCustomData({ b: [1, "x"] });
        return 2;
      },
      c: { toJSON: () => pkg.validateNotification({ type: "loud", message: "m" }).errors[0].code },
    };
    assert.deepStrictEqual(pkg.validateCustomData(v), { ok: true, value: { a: 2, c: "unknown_value" } }, build);
    assert.deepStrictEqual(inner, { ok: true, value: { b: [1, "x"] } }, build);
    const boom = new Error("boom");
    assert.throws(() => pkg.validateCustomData({ x: [1, { toJSON() { throw boom; } }] }), (e) => e === boom, build);
    // Whatever is thrown, undefined included, and only once.
    let calls = 0;
    assert.throws(() => pkg.validateCustomData({ get x() { calls++; throw undefined; } }), (e) => e === undefined, build);
    assert.equal(calls, 1, build);
    assert.deepStrictEqual(pkg.validateCustomData({ x: 1 }), { ok: true, value: { x: 1 } }, build);
    // A lone surrogate in a key or a long value: the slow way refuses it, as before.
    assert.throws(() => pkg.validateCustomData({ ["k\ud800"]: 1 }), { code: "invalid_json" }, build);
    assert.throws(() => pkg.validateCustomData({ k: "x".repeat(100) + "\udc00" }), { code: "invalid_json" }, build);
  }
});

// The package's validators go through convert.js's fastValidator: the value's tape copied into
// wasm memory, the result built from a tape that reuses the input's strings. wasm-bindgen's own
// functions (`glue`) are the fallback, and must give the same answer for every input.
test("the package's validators answer what wasm-bindgen's functions answer", () => {
  const r = rng(Number(process.env.SWITCHYARD_TAPE_SEED ?? 12));
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  // Shaped like the payloads, so that many are valid and the rest fail in every way.
  const fields = {
    type: ["info", "success", "warning", "error", "maintenance", "outage", "loud", "", 3, null],
    message: ["m", "Truck arrives at 10:00", "   ", "é".repeat(30), "x".repeat(1001), "用户 😀", 7],
    data: [undefined, { a: 1 }, { ticket: "T-1001", eta: 15 }, [1], "s", { n: NaN }, JSON.parse('{"__proto__":{"p":1},"q":[-0]}')],
    status: ["open", "in_progress", "resolved", "closed", "done", 1],
    assignedTo: [null, "tech-42", "a b", "", 5],
    priority: ["low", "medium", "high", "critical", "urgent"],
    reading: [12.5, -0, 0, 1e21, NaN, Infinity, "12", 2 ** 53 + 2],
    timestamp: ["2024-01-15T11:04:59+01:00", "2024-01-15T10:00:00.123456Z", "2024-01-15T10:06:00Z", "soon", new Date(NOW), 5],
    unit: ["kWh", "m3", "KWH", "", null],
    scheduledTime: ["2024-01-16T02:00:00Z", "tomorrow", null],
    extra: [undefined, 1, "x"],
  };
  const names = Object.keys(fields);
  for (const [build, pkg] of Object.entries(pkgs)) {
    for (let i = 0; i < 3000; i++) {
      const v = {};
      for (const k of names) if (r() < 0.45) v[k] = pick(fields[k]);
      const name = pick(VALIDATORS);
      const fast = pkg[name](v, NOW);
      const slow = glue[build][name](v, NOW);
      assert.deepStrictEqual(fast, slow, `${build} ${name} case ${i}: ${JSON.stringify(v)}`);
      // Key order too, which deepStrictEqual does not look at.
      assert.equal(JSON.stringify(fast), JSON.stringify(slow), `${build} ${name} case ${i}`);
    }
  }
});

// The core keeps an object's keys sorted (by their UTF-8 bytes, as Rust orders strings), as
// the server does; JS then lists integer-like keys first, as for any object.
const sorted = (v) => {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== "object") return v;
  const o = {};
  for (const k of Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    Object.defineProperty(o, k, { value: sorted(v[k]), enumerable: true, writable: true, configurable: true });
  }
  return o;
};

test("a valid result is the JSON of the value, keys in order, strings whole", () => {
  const r = rng(Number(process.env.SWITCHYARD_TAPE_SEED ?? 13));
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  // What JSON.stringify round-trips exactly: no NaN, no -0, no undefined.
  const strs = ["", "a", "é", "😀", "用户", "\u0000", "\"\\\n", "x".repeat(33), "é".repeat(70), "k", "1", "0", "__proto__"];
  const leaf = () => pick([() => null, () => r() < 0.5, () => pick([0, 1, -1, 0.1, 1e21, 5e-324, 2 ** 60]), () => pick(strs)])();
  const value = (depth) => {
    if (depth === 0 || r() < 0.3) return leaf();
    if (r() < 0.4) return Array.from({ length: Math.floor(r() * 5) }, () => value(depth - 1));
    const o = {};
    for (let i = Math.floor(r() * 5); i > 0; i--) {
      Object.defineProperty(o, pick(strs), { value: value(depth - 1), enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  for (const [build, pkg] of Object.entries(pkgs)) {
    for (let i = 0; i < 1000; i++) {
      const v = value(4);
      const got = pkg.validateCustomData(v);
      assert.equal(got.ok, true, `${build} case ${i}`);
      assert.equal(JSON.stringify(got.value), JSON.stringify(sorted(v)), `${build} case ${i}`);
      assert.deepStrictEqual(got.value, JSON.parse(JSON.stringify(v)), `${build} case ${i}`);
    }
    // A result's strings are taken from the input wherever it holds the same text, whatever
    // field it came from.
    const n = pkg.validateNotification({ type: "info", message: "info" }, NOW);
    assert.deepStrictEqual(n, { ok: true, value: { type: "info", message: "info" } }, build);
  }
});
