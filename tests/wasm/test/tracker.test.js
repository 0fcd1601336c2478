// StreamTracker (contract section 8) through the installed package: the tracker vectors
// (vectors/tracker.json, whose answers wasm/src/tracker.rs checks against the core natively) in
// both builds, what only JavaScript can pass (undefined, NaN, BigInt, non-strings), copies
// rather than views, and the README's "nothing lost" snippet run against a scripted
// socket.io-client stand-in through a disconnect and a recovery.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { builds } from "../lib/builds.js";
import { CLASS_VECTORS, installedPackage, runTrackerCase } from "../lib/common.js";

const pkgs = await builds();
const { cases } = JSON.parse(readFileSync(CLASS_VECTORS.StreamTracker, "utf8"));
const { StreamTracker } = pkgs.node;

for (const [build, pkg] of Object.entries(pkgs)) {
  test(`tracker vectors (${build} build): ${cases.length} cases`, () => {
    const failures = [];
    for (const c of cases) {
      const got = runTrackerCase(pkg, c.steps);
      c.steps.forEach((step, i) => {
        const want = "throws" in step ? { throws: step.throws } : { returns: step.returns };
        try {
          assert.deepStrictEqual(got[i], want);
        } catch (e) {
          failures.push(`${c.name}, step ${i} (${step.call}): ${e.message}`);
        }
      });
    }
    assert.equal(failures.length, 0, failures.slice(0, 5).join("\n\n"));
  });
}

const meta = (offset, more = {}) => ({ stream: "ticket_T-1", epoch: "e", offset, id: `d${offset}`, ...more });
const invalid = (code) => (e) => e instanceof Error && e.name === "SwitchyardError" && e.code === code && e.message.length > 0;

test("what only JavaScript can pass is refused like the server would, and changes nothing", () => {
  const t = new StreamTracker();
  assert.equal(t.accept(meta(1)), "new");
  const bad = [
    undefined,
    meta(NaN),
    meta(Infinity),
    meta(2n),
    meta(1, { id: undefined }), // absent, as JSON.stringify would send it
    meta(new Date(0)), // toJSON: a string offset
    () => 1,
    Symbol("m"),
  ];
  for (const m of bad) assert.throws(() => t.accept(m), invalid("invalid_json"), String(m?.offset ?? typeof m));
  assert.throws(() => t.accept(), invalid("invalid_json"));
  assert.throws(() => t.accept(meta(NaN)), { message: "meta: offset: offset must be a finite integer (not_finite)" });
  assert.throws(() => t.accept(meta(2n)), { message: "a BigInt cannot be sent as JSON" });
  for (const stream of [42, undefined, null, {}, ["ticket_T-1"], true]) {
    assert.throws(() => t.position(stream), invalid("invalid_room"));
    assert.throws(() => t.reset(stream, { epoch: "e", offset: 9 }), invalid("invalid_room"));
  }
  assert.throws(() => t.position(7), { message: "a stream must be a string, got number" });
  assert.throws(() => t.reset("ticket_T-1", { epoch: "e", offset: 0.5 }), invalid("invalid_json"));
  assert.throws(() => t.reset("ticket_T-1"), invalid("invalid_json"));
  assert.deepStrictEqual(t.since(), { "ticket_T-1": { epoch: "e", offset: 1 } });
  // A boxed number is a number, as JSON.stringify writes it; the next offset is new.
  assert.equal(t.accept(meta(new Number(2))), "new");
  t.free();
});

test("position() is undefined (not null) when nothing is known; reset() returns undefined", () => {
  const t = new StreamTracker();
  assert.equal(t.position("ticket_T-1"), undefined);
  assert.equal(t.position("system_presence"), undefined);
  assert.equal(t.reset("ticket_T-1", { epoch: "e", offset: 3 }), undefined);
  assert.deepStrictEqual(t.position("ticket_T-1"), { epoch: "e", offset: 3 });
  t.free();
});

test("answers are copies: plain objects the caller may change", () => {
  const t = new StreamTracker();
  t.accept(meta(4));
  const since = t.since();
  assert.equal(Object.getPrototypeOf(since), Object.prototype);
  assert.deepStrictEqual(since, JSON.parse(JSON.stringify(since)));
  since["ticket_T-1"].offset = 99;
  delete since["ticket_T-1"];
  const position = t.position("ticket_T-1");
  position.epoch = "x";
  assert.deepStrictEqual(t.since(), { "ticket_T-1": { epoch: "e", offset: 4 } });
  assert.notEqual(t.since(), t.since());
  // The caller's meta is read, never kept or changed.
  const m = meta(5);
  t.accept(m);
  m.offset = 1;
  assert.deepStrictEqual(m, { ...meta(5), offset: 1 });
  assert.equal(t.accept(meta(6)), "new");
  t.free();
});

test("trackers are independent, need `new`, and refuse calls after free()", () => {
  const [a, b] = [new StreamTracker(), new StreamTracker()];
  assert.ok(a instanceof StreamTracker);
  a.accept(meta(1));
  assert.equal(b.position("ticket_T-1"), undefined);
  assert.equal(b.accept(meta(1)), "new", "b has not seen it");
  assert.equal(a.accept(meta(1)), "duplicate");
  assert.throws(() => StreamTracker(), TypeError);
  a.free();
  assert.throws(() => a.since());
  b.free();
});

test("a long random sequence: both builds give the rules' answers (an independent model of them)", () => {
  // The rules of section 8 / core's tracker.rs, written again as the oracle.
  const model = new Map();
  const judge = ({ stream, epoch, offset }) => {
    const last = model.get(stream);
    if (last && last.epoch === epoch && offset <= last.offset) return "duplicate";
    const answer = !last || (last.epoch === epoch && offset === last.offset + 1) ? "new" : "gap";
    model.set(stream, { epoch, offset });
    return answer;
  };
  // A seeded walk over three streams and two epochs: repeats, skips, regressions, resets.
  let seed = 0x5eed;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const trackers = Object.entries(pkgs).map(([build, pkg]) => [build, new pkg.StreamTracker()]);
  const top = { "ticket_T-1": 0, broadcast: 0, "user_u-1": 0 };
  const seen = { new: 0, duplicate: 0, gap: 0 };
  for (let i = 0; i < 3000; i++) {
    const stream = Object.keys(top)[rand(3)];
    const epoch = rand(20) === 0 ? "old" : "cur";
    top[stream] = Math.max(1, top[stream] + [1, 1, 1, 1, 0, -2, 3][rand(7)]);
    if (rand(50) === 0) {
      for (const [, t] of trackers) t.reset(stream, { epoch, offset: top[stream] });
      model.set(stream, { epoch, offset: top[stream] });
    } else {
      const m = { stream, epoch, offset: top[stream], id: String(i) };
      const want = judge(m);
      for (const [build, t] of trackers) assert.equal(t.accept(m), want, `step ${i} (${build}): ${JSON.stringify(m)}`);
      seen[want] += 1;
    }
    for (const [build, t] of trackers) {
      assert.deepStrictEqual(t.since(), Object.fromEntries(model), `step ${i} (${build}): since()`);
    }
  }
  for (const [kind, n] of Object.entries(seen)) assert.ok(n > 100, `${kind}: ${n}`);
  for (const [, t] of trackers) t.free();
});

// ---- the README's snippet ----------------------------------------------------------------

/** The README's "Nothing lost" code block, as a function of what it imports and leaves to the app. */
function readmeSnippet() {
  const readme = readFileSync(join(installedPackage(), "README.md"), "utf8");
  const section = readme.split("## Nothing lost")[1] ?? "";
  const code = section.match(/```js\n([^]*?)```/)?.[1];
  assert.ok(code, "the README has a Nothing lost snippet");
  const imports = [...code.matchAll(/^import \{([^}]*)\} from "([^"]+)";$/gm)].map((m) => [m[2], m[1].split(",").map((s) => s.trim())]);
  assert.deepEqual(imports, [
    ["socket.io-client", ["io"]],
    ["switchyard-wasm", ["EVENTS", "StreamTracker"]],
  ]);
  const body = code.replace(/^import .*$/gm, "");
  const app = ["currentToken", "refetch", "showNotification", "showTicketUpdate", "showReading", "showAnnouncement", "console"];
  return new Function("io", "EVENTS", "StreamTracker", ...app, `${body}\nreturn { tracker, rooms };`);
}

/** A scripted socket.io-client: records what the snippet sends, delivers what the test says. */
function fakeSocketIo() {
  const handlers = new Map();
  const sent = [];
  let options;
  const socket = {
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, []);
      handlers.get(event).push(fn);
      return socket;
    },
    // The wire drops undefined fields (`since: undefined` is no since), as JSON does.
    emit(event, data, ack) {
      sent.push({ event, data: JSON.parse(JSON.stringify(data)), ack });
      return socket;
    },
  };
  return {
    io: (url, opts) => {
      options = opts;
      return socket;
    },
    /** What the auth callback gives for the next connection attempt. */
    handshake: () => new Promise((resolve) => options.auth(resolve)),
    deliver: (event, ...args) => {
      for (const fn of handlers.get(event) ?? []) fn(...structuredClone(args));
    },
    /** The subscribes sent since the last call. */
    subscribes: () => sent.splice(0).filter((s) => s.event === "subscribe"),
  };
}

test("the README's snippet: first connect, live events, a drop, recovery by position", async () => {
  const wire = fakeSocketIo();
  const shown = [];
  const refetched = [];
  const show = (kind) => (p) => shown.push(`${kind} ${p.n}`);
  const warnings = [];
  const { tracker, rooms } = readmeSnippet()(
    wire.io,
    pkgs.node.EVENTS,
    StreamTracker,
    () => "jwt",
    (stream) => refetched.push(stream),
    show("notification"),
    show("ticket"),
    show("reading"),
    show("announcement"),
    { warn: (w) => warnings.push(w) },
  );
  assert.deepEqual(rooms, ["ticket_T-100", "meter_MTR-7"]);
  const ev = (stream, epoch, offset) => [{ n: `${stream}#${offset}` }, { stream, epoch, offset, id: `id-${offset}` }];

  // First connect: nothing to recover yet.
  assert.deepStrictEqual(await wire.handshake(), { token: "jwt", since: {} });
  wire.deliver("connect");
  wire.deliver("welcome", { socketId: "s1", userId: "u-1", streams: { "user_u-1": { epoch: "u", offset: 3 }, broadcast: { epoch: "b", offset: 7 } } });
  let subs = wire.subscribes();
  assert.deepStrictEqual(subs.map((s) => s.data), [{ room: "ticket_T-100" }, { room: "meter_MTR-7" }]);
  subs[0].ack({ ok: true, room: "ticket_T-100", epoch: "t", offset: 10 });
  subs[1].ack({ ok: true, room: "meter_MTR-7", epoch: "m", offset: 0 });
  wire.deliver("ticket_updated", ...ev("ticket_T-100", "t", 11));
  wire.deliver("notification", ...ev("user_u-1", "u", 4));

  // The connection drops while four more notifications, two ticket updates and an
  // announcement are published; the server restarted the broadcast stream (a new epoch) and
  // trimmed the meter's history. The next attempt sends where every stream was, including the
  // two that had no event yet (from the welcome's and the ack's positions).
  assert.deepStrictEqual((await wire.handshake()).since, {
    broadcast: { epoch: "b", offset: 7 },
    "user_u-1": { epoch: "u", offset: 4 },
    "ticket_T-100": { epoch: "t", offset: 11 },
    "meter_MTR-7": { epoch: "m", offset: 0 },
  });
  wire.deliver("connect");
  wire.deliver("welcome", {
    socketId: "s2",
    userId: "u-1",
    streams: { "user_u-1": { epoch: "u", offset: 8, recovered: true }, broadcast: { epoch: "b2", offset: 1, recovered: false } },
  });
  for (const offset of [5, 6, 7, 8]) wire.deliver("notification", ...ev("user_u-1", "u", offset));
  subs = wire.subscribes();
  assert.deepStrictEqual(subs.map((s) => s.data), [
    { room: "ticket_T-100", since: { epoch: "t", offset: 11 } },
    { room: "meter_MTR-7", since: { epoch: "m", offset: 0 } },
  ]);
  // The ticket's replay overlaps an event the page had (11): it is dropped.
  for (const offset of [11, 12, 13]) wire.deliver("ticket_updated", ...ev("ticket_T-100", "t", offset));
  subs[0].ack({ ok: true, room: "ticket_T-100", recovered: true, epoch: "t", offset: 13 });
  subs[1].ack({ ok: true, room: "meter_MTR-7", recovered: false, epoch: "m", offset: 40 });
  wire.deliver("meter_reading", ...ev("meter_MTR-7", "m", 41));
  wire.deliver("announcement", ...ev("broadcast", "b2", 2));
  // A refusal is reported, not thrown; an ack without a position (as system_presence's) is left alone.
  wire.deliver("connect");
  subs = wire.subscribes();
  subs[0].ack({ ok: false, error: { code: "forbidden", message: "no" } });
  subs[1].ack({ ok: true, room: "meter_MTR-7", online: ["u-1"], count: 1 });

  assert.deepEqual(shown, [
    "ticket ticket_T-100#11",
    "notification user_u-1#4",
    "notification user_u-1#5",
    "notification user_u-1#6",
    "notification user_u-1#7",
    "notification user_u-1#8",
    "ticket ticket_T-100#12",
    "ticket ticket_T-100#13",
    "reading meter_MTR-7#41",
    "announcement broadcast#2",
  ]);
  assert.deepEqual(refetched, ["broadcast", "meter_MTR-7"], "exactly the streams that could not be recovered");
  assert.deepEqual(warnings, ["subscribe ticket_T-100: forbidden"]);
  assert.deepStrictEqual(tracker.since(), {
    broadcast: { epoch: "b2", offset: 2 },
    "user_u-1": { epoch: "u", offset: 8 },
    "ticket_T-100": { epoch: "t", offset: 13 },
    "meter_MTR-7": { epoch: "m", offset: 41 },
  });
});
