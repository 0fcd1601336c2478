// The JS half of src/convert.rs: plumbing only, no rule lives here.
//
// Reading a JS value property by property from Rust costs several wasm/JS crossings per
// value, more than the validation itself. `encode` makes the same walk as src/convert.rs's
// `Reader` (JSON.stringify's, NaN and -0 kept), in the same order (toJSON, arrays, keys), and
// writes what it reads into one byte string that Rust decodes (`Tape` there): one crossing.
// Whatever is rare and has a special answer (a BigInt, a boxed primitive, a string with a lone
// surrogate, nesting deeper than the limit) makes it give up; Rust then reads that value the
// slow way, which gives the answer it always gave. wasm-bindgen copies this file into the
// package (web/snippets/, node/snippets/; scripts/build-wasm makes the Node copy CommonJS).

// The tape: one tag byte per value. Numbers are f64 little-endian (NaN, ±Infinity and -0
// stay what they are), lengths and counts u32 little-endian, strings UTF-8 after their byte
// length, object members key (a string, tag included) then value. Keep in step with `Tape` in src/convert.rs.
const NULL = 0;
const FALSE = 1;
const TRUE = 2;
const NUMBER = 3;
const STRING = 4;
const ARRAY = 5;
const OBJECT = 6;

// src/convert.rs's MAX_DEPTH: deeper values go the slow way, which reports them.
const MAX_DEPTH = 127;

// What `read` and `plain` return: written, left out (undefined, functions, symbols: JSON.stringify
// drops them from objects and writes null in arrays), or given up.
const WRITTEN = 1;
const ABSENT = 0;
const GIVE_UP = -1;

const encoder = new TextEncoder();
let buf = new Uint8Array(4096);
let view = new DataView(buf.buffer);
let at = 0;
let busy = false;
let thrown;

function room(n) {
  if (at + n <= buf.length) return;
  let size = buf.length * 2;
  while (size < at + n) size *= 2;
  const bigger = new Uint8Array(size);
  bigger.set(buf.subarray(0, at));
  buf = bigger;
  view = new DataView(buf.buffer);
}

function u32(n) {
  view.setUint32(at, n, true);
  at += 4;
}

// False for a string Rust must refuse (a lone surrogate), or when the engine cannot tell.
function string(s) {
  const n = s.length;
  room(5 + 3 * n);
  buf[at] = STRING;
  const start = at + 5;
  // Short ASCII strings (keys, codes, most values) are copied by hand: cheaper than a call.
  if (n <= 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      buf[start + i] = c;
    }
    if (i === n) {
      view.setUint32(at + 1, n, true);
      at = start + n;
      return true;
    }
  }
  if (!s.isWellFormed?.()) return false;
  const { written } = encoder.encodeInto(s, buf.subarray(start));
  view.setUint32(at + 1, written, true);
  at = start + written;
  return true;
}

// Reader::read: a property's value, toJSON applied (`key` is its name, or its index).
function read(value, key, depth) {
  switch (typeof value) {
    case "number":
      room(9);
      buf[at] = NUMBER;
      view.setFloat64(at + 1, value, true);
      at += 9;
      return WRITTEN;
    case "string":
      return string(value) ? WRITTEN : GIVE_UP;
    case "object": {
      if (value === null) break;
      const toJSON = value.toJSON;
      if (typeof toJSON === "function") {
        return plain(toJSON.call(value, typeof key === "number" ? String(key) : key), depth);
      }
      return plain(value, depth);
    }
    case "boolean":
      room(1);
      buf[at++] = value ? TRUE : FALSE;
      return WRITTEN;
    case "bigint":
      return GIVE_UP;
    default:
      return ABSENT;
  }
  room(1);
  buf[at++] = NULL;
  return WRITTEN;
}

// Reader::plain: a value after toJSON.
function plain(value, depth) {
  if (typeof value !== "object") return read(value, "", depth);
  if (value === null) return read(value, "", depth);
  if (++depth > MAX_DEPTH) return GIVE_UP;
  if (Array.isArray(value)) {
    const n = value.length;
    room(5);
    buf[at] = ARRAY;
    view.setUint32(at + 1, n, true);
    at += 5;
    for (let i = 0; i < n; i++) {
      const r = read(value[i], i, depth);
      if (r === GIVE_UP) return GIVE_UP;
      if (r === ABSENT) {
        room(1);
        buf[at++] = NULL;
      }
    }
    return WRITTEN;
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return GIVE_UP;
  const keys = Object.keys(value);
  room(5);
  buf[at] = OBJECT;
  const count = at + 1;
  at += 5;
  let written = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const mark = at;
    if (!string(key)) return GIVE_UP;
    const r = read(value[key], key, depth);
    if (r === GIVE_UP) return GIVE_UP;
    if (r === ABSENT) at = mark;
    else written++;
  }
  view.setUint32(count, written, true);
  return WRITTEN;
}

/** The tape of `value` as src/convert.rs's Reader would read it, or undefined (read it there). */
export function encode(value) {
  // A getter or toJSON that validates something itself must not write into this tape.
  if (busy) return undefined;
  busy = true;
  try {
    at = 0;
    const r = read(value, "", 0);
    if (r === GIVE_UP) return undefined;
    if (r === ABSENT) {
      room(1);
      buf[at++] = NULL;
    }
    return buf.subarray(0, at);
  } catch (e) {
    // Kept for `thrown`: catching here is cheaper than wasm-bindgen's `catch` on every call.
    thrown = { error: e };
    return undefined;
  } finally {
    busy = false;
  }
}

/** What a getter or toJSON threw during the last `encode` (once), or undefined. */
export function takeThrown() {
  const t = thrown;
  thrown = undefined;
  return t;
}

/** A validator's `now` in milliseconds (src/convert.rs `now` checks the range). */
export function millis(now) {
  if (now === undefined || now === null) return Date.now();
  if (now instanceof Date) return now.getTime();
  if (typeof now === "number") return now;
  throw new TypeError("now must be a Date or a number of milliseconds");
}

/** `{ ok: true, value }` from the value's JSON. */
export function valid(json) {
  return { ok: true, value: JSON.parse(json) };
}

/**
 * `{ ok: false, errors }` from every error's path, code and message laid end to end in `text`,
 * and their lengths (UTF-16 code units) in `lengths`, three per error.
 */
export function invalid(text, lengths) {
  const errors = [];
  let at = 0;
  for (let i = 0; i < lengths.length; i += 3) {
    const path = text.slice(at, (at += lengths[i]));
    const code = text.slice(at, (at += lengths[i + 1]));
    const message = text.slice(at, (at += lengths[i + 2]));
    errors.push({ path, code, message });
  }
  return { ok: false, errors };
}
