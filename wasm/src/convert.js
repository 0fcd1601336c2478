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
//
// `fastValidators` goes further for the validators, which the package exports through it
// (src/tape.rs says why): the tape is copied straight into wasm memory, Rust is called with
// numbers only, and the result comes back as a tape that `result` turns into objects, reusing
// the input's strings (`strs`) wherever the result holds one of them.

// The tape: one tag byte per value. Numbers are f64 little-endian (NaN, ±Infinity and -0
// stay what they are), lengths and counts u32 little-endian, strings UTF-8 after their byte
// length, object members key (a string, tag included) then value. Keep in step with `Tape` in
// src/tape.rs. The result's tape adds REF: a u32 index into `strs`.
const NULL = 0;
const FALSE = 1;
const TRUE = 2;
const NUMBER = 3;
const STRING = 4;
const ARRAY = 5;
const OBJECT = 6;
const REF = 7;

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
// Every string the tape holds, in tape order (keys included): src/tape.rs's REF indexes it.
// (Entries at `nstrs` and beyond are left over from earlier tapes: setting the length costs a
// runtime call per tape.)
const strs = [];
let nstrs = 0;

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
      strs[nstrs++] = s;
      return true;
    }
  }
  if (!s.isWellFormed?.()) return false;
  const { written } = encoder.encodeInto(s, buf.subarray(start));
  view.setUint32(at + 1, written, true);
  at = start + written;
  strs[nstrs++] = s;
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
  // Only an object off the plain prototype can be a boxed primitive (one lookup, not three
  // prototype walks, for the common case).
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && (value instanceof Number || value instanceof String || value instanceof Boolean)) {
    return GIVE_UP;
  }
  const keys = Object.keys(value);
  room(5);
  buf[at] = OBJECT;
  const count = at + 1;
  at += 5;
  let written = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const mark = at;
    const marked = nstrs;
    if (!string(key)) return GIVE_UP;
    const r = read(value[key], key, depth);
    if (r === GIVE_UP) return GIVE_UP;
    if (r === ABSENT) {
      at = mark;
      nstrs = marked;
    } else written++;
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
    nstrs = 0;
    const r = read(value, "", 0);
    if (r === GIVE_UP) return undefined;
    if (r === ABSENT) {
      room(1);
      buf[at++] = NULL;
    }
    // Let go of a large value's strings once smaller values follow.
    if (strs.length > 4 * nstrs + 64) strs.length = nstrs;
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

// ---- The validators' fast path (src/tape.rs) ------------------------------------------------

const decoder = new TextDecoder();
// The result tape being read: wasm memory, where we are in it.
let mem = new Uint8Array(0);
let memView = new DataView(mem.buffer);
let pos = 0;

function u32At() {
  const n = memView.getUint32(pos, true);
  pos += 4;
  return n;
}

// A string the result made (not one of the input's): decoded from UTF-8, short ASCII by hand
// (TextDecoder's call costs more than the loop for a few dozen bytes).
function newString(n) {
  const start = pos;
  pos += n;
  if (n <= 32) {
    let s = "";
    for (let i = start; i < pos; i++) {
      const c = mem[i];
      if (c > 0x7f) return decoder.decode(mem.subarray(start, pos));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(mem.subarray(start, pos));
}

function text() {
  const tag = mem[pos++];
  if (tag === REF) return strs[u32At()];
  return newString(u32At()); // STRING
}

// One value of the result, as JSON.parse would make it of the same JSON.
function value() {
  switch (mem[pos++]) {
    case NULL:
      return null;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case NUMBER: {
      const n = memView.getFloat64(pos, true);
      pos += 8;
      return n;
    }
    case STRING:
      return newString(u32At());
    case REF:
      return strs[u32At()];
    case ARRAY: {
      const n = u32At();
      const a = new Array(n);
      for (let i = 0; i < n; i++) a[i] = value();
      return a;
    }
    default: {
      // OBJECT
      const n = u32At();
      const o = {};
      for (let i = 0; i < n; i++) {
        const k = text();
        const v = value();
        // JSON.parse makes "__proto__" an own property; assigning it would set the prototype.
        if (k === "__proto__") Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
        else o[k] = v;
      }
      return o;
    }
  }
}

// The views of wasm memory, made anew when it has grown (growing detaches the old buffer).
function views(memory) {
  if (mem.buffer !== memory.buffer) {
    mem = new Uint8Array(memory.buffer);
    memView = new DataView(memory.buffer);
  }
}

function seek(memory, start) {
  views(memory);
  pos = start;
}

function done(start, n, v) {
  if (pos !== start + n) throw new Error("switchyard-wasm: a malformed result tape (a bug)");
  return v;
}

// The error codes' strings, by index (src/tape.rs sends them before the first error).
let codes = [];

/** Keeps the error codes' strings, in the order src/tape.rs numbers them. */
export function installCodes(list) {
  codes = list;
}

/** The result in the out tape at `start` (`n` bytes): a verdict byte, then the value or the errors. */
export function result(memory, start, n) {
  seek(memory, start);
  if (mem[pos++] === 0) return done(start, n, { ok: true, value: value() });
  const count = u32At();
  const errors = new Array(count);
  const lengths = new Array(count);
  for (let i = 0; i < count; i++) {
    const path = text();
    const code = codes[mem[pos++]];
    lengths[i] = u32At();
    errors[i] = { path, code, message: "" };
  }
  // Every message in one piece: one decoding, then slices.
  const all = newString(u32At());
  for (let i = 0, at = 0; i < count; i++) errors[i].message = all.slice(at, (at += lengths[i]));
  return done(start, n, { ok: false, errors });
}

/** The value in the out tape at `start` (`n` bytes). */
export function tapeValue(memory, start, n) {
  seek(memory, start);
  return done(start, n, value());
}

/**
 * The package's validator `name`, given wasm-bindgen's module `glue` and the validator's
 * index `kind` among Rust's `__fastKinds()` (scripts/build-wasm writes the calls into
 * public.js): it answers exactly what `glue[name]` answers, by one walk in JS and calls into
 * Rust with numbers only. `glue[name]` answers whatever the tape leaves out. The web build's
 * `glue` is initialised later than this runs, so it is only touched at the first call.
 */
export function fastValidator(glue, name, kind) {
  // Whether it takes a time, from wasm-bindgen's function itself (`(input, now)` or `(input)`).
  const timed = glue[name].length > 1;
  let memory;
  return function (input, now) {
    memory ??= glue.__memory();
    let ms = 0;
    if (timed) {
      ms = millis(now);
      // A bad time throws before the input is read, as the slow path does.
      if (!glue.__nowOk(ms)) return glue[name](input, now);
    }
    const tape = encode(input);
    if (tape === undefined) {
      const t = takeThrown();
      if (t !== undefined) throw t.error;
      return glue[name](input, now);
    }
    const p = glue.__tapeIn(tape.length);
    views(memory);
    mem.set(tape, p);
    const n = glue.__validateTape(kind, ms);
    if (n < 0) return glue[name](input, now);
    return result(memory, glue.__tapeOut(), n);
  };
}
