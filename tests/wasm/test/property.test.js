// The random parity corpus: seeded random inputs with the core's native answers, written by
// core/tests/vectors.rs (`parity_corpus`, SWITCHYARD_PARITY_CORPUS=<file>; scripts/test-wasm
// does it). Every case through both builds, compared field for field.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { builds } from "../lib/builds.js";
import { CORPUS, call, reviveMacros } from "../lib/common.js";

test("random inputs: the package answers what the core answers", async () => {
  assert.ok(existsSync(CORPUS), `${CORPUS} is missing: run scripts/test-wasm (it writes the corpus)`);
  const corpus = JSON.parse(readFileSync(CORPUS, "utf8"), reviveMacros);
  assert.equal(corpus.cases.length, corpus.count);
  const pkgs = await builds();
  const started = performance.now();
  const failures = [];
  const seen = {};
  for (const [i, c] of corpus.cases.entries()) {
    seen[c.fn] = (seen[c.fn] ?? 0) + 1;
    for (const [build, pkg] of Object.entries(pkgs)) {
      try {
        assert.deepStrictEqual(call(pkg, c.fn, c.input, new Date(c.now)), c.expect);
      } catch (e) {
        failures.push(`case ${i} ${c.fn} (${build}): ${e.message.slice(0, 1500)}`);
      }
    }
  }
  const ms = Math.round(performance.now() - started);
  console.log(`seed ${corpus.seed}: ${corpus.cases.length} cases x 2 builds in ${ms} ms; per function: ${JSON.stringify(seen)}`);
  assert.equal(failures.length, 0, `${failures.length} differences:\n${failures.slice(0, 5).join("\n\n")}`);
  assert.ok(Object.keys(seen).length >= 8, "the corpus covers the functions");
});

// A small seeded generator (mulberry32) for JS-only values.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("random JS values are read as JSON.stringify sends them (NaN and -0 aside)", async () => {
  const { node } = await builds();
  const r = rng(Number(process.env.SWITCHYARD_JS_PROPERTY_SEED ?? 7));
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const str = () => pick(["", "a", "é", "😀", "用户", "tech-42", "2024-01-15T10:00:00Z", " ", "\n", "x".repeat(20)]);
  const num = () => pick([0, 1, -1, 0.5, 1e21, 2 ** 53, 2 ** 60, -(2 ** 63), 2 ** 64, 123.456, 1e-7, Number.MAX_VALUE]);
  const leaf = () =>
    pick([
      () => undefined,
      () => null,
      () => r() < 0.5,
      num,
      str,
      () => new Date(Math.floor(r() * 2e12)),
      () => () => 1,
      () => Symbol("s"),
      () => new Number(num()),
      () => new String(str()),
      () => new Boolean(r() < 0.5),
      () => {
        const s = str();
        return { toJSON: () => s };
      },
    ])();
  const value = (depth) => {
    if (depth === 0 || r() < 0.4) return leaf();
    if (r() < 0.4) {
      const a = Array.from({ length: Math.floor(r() * 4) }, () => value(depth - 1));
      if (r() < 0.2) a.length += 1; // a hole
      return a;
    }
    const o = {};
    for (let i = Math.floor(r() * 4); i > 0; i--) o[pick(["type", "message", "data", "reading", "timestamp", "unit", "status", "assignedTo", "k", "x"])] = value(depth - 1);
    return o;
  };
  const fields = {
    validateNotification: () => ({ type: pick(["info", "error", undefined]), message: pick([str(), new String("m"), undefined]), data: value(3) }),
    validateTicketUpdate: () => ({ status: pick(["open", undefined, null]), assignedTo: pick(["tech-42", undefined, null]), message: leaf(), data: value(3) }),
    validateMeterReading: () => ({ reading: pick([num(), new Number(2), undefined]), timestamp: pick([new Date(1705312800000), "2024-01-15T10:00:00Z", undefined]), unit: pick(["kWh", new String("Wh"), undefined]) }),
    validateAnnouncement: () => ({ type: "info", message: "m", scheduledTime: pick([new Date(1705312800000), undefined, null]), data: value(2) }),
    validateCustomData: () => value(4),
  };
  const now = new Date("2024-01-15T10:00:00Z");
  let n = 0;
  for (let i = 0; i < 400; i++) {
    for (const [fn, make] of Object.entries(fields)) {
      const v = make();
      const text = JSON.stringify(v);
      const sent = text === undefined ? null : JSON.parse(text);
      assert.deepStrictEqual(node[fn](v, now), node[fn](sent, now), `${fn}(${text})`);
      n++;
    }
  }
  assert.equal(n, 2000);
});
