// Shared paths and helpers for the switchyard-wasm tests.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = resolve(HERE, "../..");
export const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, "target");
/** The scratch project the tarball is installed into, as a user would. */
export const APP = join(HERE, ".scratch", "app");
export const CORPUS = process.env.SWITCHYARD_PARITY_CORPUS || join(TARGET, "wasm-parity", "corpus.json");
/**
 * The package's public surface, the one list of it: both entries (`require`, `import`, the ES
 * entry in a browser) and both type entries (index.d.cts, index.d.ts) must export exactly these
 * values. The entries take them wholesale from the Rust crate, so adding an export there fails
 * the tests until it is added here, on purpose: it is a change of the contract (section 6).
 */
export const PUBLIC_EXPORTS = [
  "ANNOUNCEMENT_TYPES",
  "EVENTS",
  "METER_UNITS",
  "NOTIFICATION_TYPES",
  "StreamTracker",
  "TICKET_PRIORITIES",
  "TICKET_STATUSES",
  "isValidEventName",
  "meterRoom",
  "parseRoom",
  "systemRoom",
  "ticketRoom",
  "userRoom",
  "validateAnnouncement",
  "validateCustomData",
  "validateMeterReading",
  "validateNotification",
  "validateTicketUpdate",
];

/**
 * The package's classes (section 8's StreamTracker) and their vector files: sequences of
 * method calls, kept here (tests/vectors holds one-call vectors only) and run natively
 * against the core by the wasm crate's tests.
 */
export const CLASS_VECTORS = { StreamTracker: join(HERE, "vectors", "tracker.json") };

/** Whether an export is a class (a function written `class …`), not a plain function. */
export function isClass(value) {
  return typeof value === "function" && /^class\b/.test(Function.prototype.toString.call(value));
}

/** `now` for vectors that do not give one (the same default as core/tests/vectors.rs). */
export const DEFAULT_NOW = "2024-01-15T10:00:00.000Z";

/** The packed tarball of the crate's current version. */
export function tarball() {
  const dir = join(TARGET, "npm");
  const version = crateVersion();
  const file = join(dir, `switchyard-wasm-${version}.tgz`);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run scripts/build-wasm first`);
  }
  return file;
}

function crateVersion() {
  const root = readFileSync(join(ROOT, "Cargo.toml"), "utf8");
  const section = root.split("[workspace.package]")[1] ?? "";
  const m = section.match(/^version\s*=\s*"([^"]+)"/m);
  if (!m) throw new Error("no [workspace.package] version in Cargo.toml");
  return m[1];
}

export function sha256(file) {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** The installed package folder, after checking that it is the current tarball's. */
export function installedPackage() {
  const marker = join(APP, ".installed-from");
  if (!existsSync(marker) || readFileSync(marker, "utf8") !== sha256(tarball())) {
    throw new Error("the scratch install is missing or stale: run `node lib/setup.js` (scripts/test-wasm does)");
  }
  return join(APP, "node_modules", "switchyard-wasm");
}

/**
 * Expands the vector macros (see tests/vectors/README.md): {"$nonFinite": "NaN"},
 * {"$repeat": [s, n]}, {"$concat": [...]}. Used as a JSON.parse reviver (bottom-up, so the
 * parts of a $concat are already expanded).
 */
export function reviveMacros(_key, value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0].startsWith("$")) {
      const arg = value[keys[0]];
      switch (keys[0]) {
        case "$nonFinite":
          return { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity }[arg];
        case "$repeat":
          return arg[0].repeat(arg[1]);
        case "$concat":
          return arg.join("");
        default:
          throw new Error(`unknown vector macro ${keys[0]}`);
      }
    }
  }
  return value;
}

/** Every vector file: [{ file, description, vectors }]. */
export function vectorFiles() {
  const dir = join(ROOT, "tests", "vectors");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, ...JSON.parse(readFileSync(join(dir, file), "utf8"), reviveMacros) }));
}

/**
 * Runs one tracker vector case (vectors/tracker.json) on a fresh `StreamTracker` of `pkg`:
 * each step's answer in the file's shape, `{ returns }` (undefined as null) or
 * `{ throws: { code, message } }` for a SwitchyardError. Anything else thrown propagates.
 */
export function runTrackerCase(pkg, steps) {
  const tracker = new pkg.StreamTracker();
  try {
    return steps.map(({ call, args }) => {
      try {
        return { returns: tracker[call](...args) ?? null };
      } catch (e) {
        if (!(e instanceof Error) || e.name !== "SwitchyardError") throw e;
        return { throws: { code: e.code, message: e.message } };
      }
    });
  } finally {
    tracker.free();
  }
}

/**
 * Runs one vector-style call against a package module: the answer in the vectors' shape,
 * `{ ok, value }`, `{ ok: false, errors }` or, for what throws, `{ ok: false, error: { code, message } }`.
 */
export function call(pkg, fn, input, now) {
  const f = pkg[fn];
  if (typeof f !== "function") throw new Error(`the package has no function ${fn}`);
  if (fn.startsWith("validate")) return f(input, now);
  try {
    return { ok: true, value: f(input) };
  } catch (e) {
    if (!(e instanceof Error) || e.name !== "SwitchyardError") throw e;
    return { ok: false, error: { code: e.code, message: e.message } };
  }
}
