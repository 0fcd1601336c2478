// Shared assertions for the contract's shapes: errors, acks, the welcome, stream positions and meta.

import assert from 'node:assert/strict';
import { SERVER_TIME_RE, isRecentServerTime, uid, connect, waitFor, received } from './server.js';

/** HTTP error: status, JSON content type and `{ error: { code, message, details? } }`. */
export function assertHttpError(res, status, code) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/i, 'error bodies are JSON');
  assert.ok(res.body && typeof res.body === 'object', `error body is a JSON object: ${res.text}`);
  assert.deepEqual(Object.keys(res.body), ['error'], `error body has exactly one key "error": ${res.text}`);
  const err = res.body.error;
  assert.equal(typeof err.code, 'string', `error.code is a string: ${res.text}`);
  assert.equal(typeof err.message, 'string', `error.message is a string: ${res.text}`);
  assert.ok(err.message.length > 0, 'error.message is not empty');
  for (const k of Object.keys(err)) {
    assert.ok(['code', 'message', 'details'].includes(k), `unexpected key error.${k}: ${res.text}`);
  }
  if (code !== undefined) assert.equal(err.code, code, `error.code: ${res.text}`);
  return err;
}

/**
 * 400 validation_failed whose details contain exactly the expected [path, code] pairs (in any
 * order), each with a non-empty message.
 */
export function assertValidation(res, expected) {
  const err = assertHttpError(res, 400, 'validation_failed');
  assert.ok(Array.isArray(err.details), `details is an array: ${res.text}`);
  for (const d of err.details) {
    assert.equal(typeof d.path, 'string', `detail.path is a string: ${JSON.stringify(d)}`);
    assert.equal(typeof d.code, 'string', `detail.code is a string: ${JSON.stringify(d)}`);
    assert.equal(typeof d.message, 'string', `detail.message is a string: ${JSON.stringify(d)}`);
    assert.ok(d.message.length > 0, 'detail.message is not empty');
  }
  const got = err.details.map((d) => `${d.path}:${d.code}`).sort();
  const want = expected.map(([p, c]) => `${p}:${c}`).sort();
  assert.deepEqual(got, want, `validation details (path:code) of ${res.text}`);
  return err.details;
}

/** 400 validation_failed with at least one detail of `code` (path not asserted). */
export function assertValidationHasCode(res, code) {
  const err = assertHttpError(res, 400, 'validation_failed');
  assert.ok(Array.isArray(err.details) && err.details.length > 0, `details present: ${res.text}`);
  assert.ok(
    err.details.some((d) => d.code === code),
    `a detail with code ${code}: ${res.text}`,
  );
  return err.details;
}

/** Socket ack refusal: exactly `{ ok: false, error: { code, message } }`. */
export function assertAckError(ack, code) {
  assert.ok(ack && typeof ack === 'object', `ack is an object: ${JSON.stringify(ack)}`);
  assert.equal(ack.ok, false, `ack.ok is false: ${JSON.stringify(ack)}`);
  assert.deepEqual(Object.keys(ack).sort(), ['error', 'ok'], `ack keys: ${JSON.stringify(ack)}`);
  assert.equal(ack.error.code, code, `ack.error.code: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error.message, 'string', `ack.error.message is a string: ${JSON.stringify(ack)}`);
  assert.ok(ack.error.message.length > 0, 'ack.error.message is not empty');
}

/**
 * connect(url, tok, opts) is refused with connect_error "unauthorized", and the refusal carries
 * nothing else (no `data`): a client must not learn why its token was refused.
 */
export async function assertUnauthorized(url, tok, opts) {
  await assert.rejects(connect(url, tok, opts), (err) => {
    assert.equal(err.message, 'unauthorized', `connect_error message (got "${err.message}")`);
    assert.equal(err.data, undefined, 'the refusal reveals nothing beyond the message');
    return true;
  });
}

/** A time the server wrote: RFC 3339 UTC with 3 fractional digits and Z, near now. */
export function assertServerTime(value, what = 'time') {
  assert.match(String(value), SERVER_TIME_RE, `${what} is RFC 3339 UTC with 3 fraction digits and Z`);
  assert.ok(isRecentServerTime(value), `${what} (${value}) is within a minute of now`);
}

/** A non-empty string id. */
export function assertId(value, what = 'id') {
  assert.equal(typeof value, 'string', `${what} is a string`);
  assert.ok(value.length > 0, `${what} is not empty`);
}

/**
 * Proves `sock` received no `event` (a name, or a list of names) since log index `from`, by
 * ordering rather than by waiting: a marker notification is sent to the socket's own user room
 * after whatever must NOT arrive; Socket.IO keeps order on one connection, so anything sent
 * earlier would be in the log by the time the marker is. The marker itself is excluded.
 */
export async function assertNothingBeforeMarker(srv, sock, event, from) {
  const marker = `marker ${uid('m')}`;
  const got = waitFor(sock, 'notification', 3000, (n) => n?.message === marker);
  await srv.notify(sock.welcome.userId, marker);
  await got;
  for (const name of [event].flat()) {
    const extra = received(sock, name, from).filter((p) => !(name === 'notification' && p?.message === marker));
    assert.deepEqual(extra, [], `no "${name}" may arrive (checked up to an ordered marker)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Streams (contract section 8)

/** Offsets are JavaScript-safe non-negative integers (a new stream's top is 0). */
function assertOffset(value, what, min = 0) {
  assert.ok(Number.isSafeInteger(value) && value >= min, `${what} is an integer >= ${min} (got ${JSON.stringify(value)})`);
}

/**
 * A stream position `{ epoch, offset }`, optionally with `recovered`: exactly those keys, a
 * non-empty string epoch and an integer offset. `recovered`: undefined = the key must be absent,
 * true / false = it must be present with that value.
 */
export function assertPosition(pos, { recovered, what = 'position' } = {}) {
  assert.ok(pos && typeof pos === 'object' && !Array.isArray(pos), `${what} is an object: ${JSON.stringify(pos)}`);
  const keys = recovered === undefined ? ['epoch', 'offset'] : ['epoch', 'offset', 'recovered'];
  assert.deepEqual(Object.keys(pos).sort(), keys, `${what} keys: ${JSON.stringify(pos)}`);
  assert.equal(typeof pos.epoch, 'string', `${what}.epoch is a string: ${JSON.stringify(pos)}`);
  assert.ok(pos.epoch.length > 0, `${what}.epoch is not empty`);
  assertOffset(pos.offset, `${what}.offset`);
  if (recovered !== undefined) assert.equal(pos.recovered, recovered, `${what}.recovered: ${JSON.stringify(pos)}`);
  return { epoch: pos.epoch, offset: pos.offset };
}

/**
 * The ack of a successful `subscribe` to a stream room: exactly
 * `{ ok: true, room, epoch, offset }`, plus `recovered` when the subscribe carried a `since`
 * (pass the expected value; undefined = the key must be absent). Returns `{ epoch, offset }`.
 */
export function assertSubscribed(ack, room, { recovered } = {}) {
  assert.ok(ack && typeof ack === 'object', `ack is an object: ${JSON.stringify(ack)}`);
  assert.equal(ack.ok, true, `subscribe to ${room} succeeded: ${JSON.stringify(ack)}`);
  assert.equal(ack.room, room, `ack.room: ${JSON.stringify(ack)}`);
  const { ok, room: _room, ...pos } = ack;
  return assertPosition(pos, { recovered, what: `subscribe ack of ${room}` });
}

/**
 * The ack of `subscribe { room: "system_presence" }`: exactly `{ ok: true, room, online, count }`
 * (no stream position: presence has no stream), `online` sorted and unique, holding every id of
 * `includes` and none of `excludes`; `truncated` only when there are more than 1000.
 * Returns the ack.
 */
export function assertPresenceSubscribed(ack, { includes = [], excludes = [] } = {}) {
  assert.ok(ack && typeof ack === 'object', `ack is an object: ${JSON.stringify(ack)}`);
  assert.equal(ack.ok, true, `subscribe to system_presence succeeded: ${JSON.stringify(ack)}`);
  assert.equal(ack.room, 'system_presence');
  const truncated = ack.count > 1000;
  const keys = truncated ? ['count', 'ok', 'online', 'room', 'truncated'] : ['count', 'ok', 'online', 'room'];
  assert.deepEqual(Object.keys(ack).sort(), keys, `presence ack keys: ${JSON.stringify(ack)}`);
  assert.ok(Array.isArray(ack.online), 'online is an array');
  assert.ok(ack.online.every((u) => typeof u === 'string'), 'online holds user ids');
  const sorted = [...new Set(ack.online)].sort();
  assert.deepEqual(ack.online, sorted, 'online is sorted, without duplicates');
  assertOffset(ack.count, 'count');
  if (truncated) {
    assert.equal(ack.truncated, true);
    assert.equal(ack.online.length, 1000, 'a truncated snapshot lists 1000 users');
  } else {
    assert.equal(ack.count, ack.online.length, 'count is the number of online users');
  }
  for (const u of includes) assert.ok(ack.online.includes(u), `${u} is online in ${JSON.stringify(ack.online)}`);
  for (const u of excludes) assert.ok(!ack.online.includes(u), `${u} is not online in ${JSON.stringify(ack.online)}`);
  return ack;
}

/**
 * The welcome: exactly `{ socketId, userId, serverTime, rooms: ["user_<sub>"], streams }`, with
 * `streams` holding exactly the own user room and "broadcast". `recovered`: the expected
 * `recovered` of each of the two (`{ own, broadcast }`; undefined = absent: no since was given).
 * Returns `{ own, broadcast }`, the two positions.
 */
export function assertWelcome(welcome, sub, { socketId, recovered = {} } = {}) {
  assert.ok(welcome && typeof welcome === 'object', `welcome is an object: ${JSON.stringify(welcome)}`);
  assert.deepEqual(Object.keys(welcome).sort(), ['rooms', 'serverTime', 'socketId', 'streams', 'userId']);
  if (socketId !== undefined) assert.equal(welcome.socketId, socketId, 'socketId is the id the client sees');
  assert.equal(welcome.userId, sub);
  assertServerTime(welcome.serverTime, 'serverTime');
  assert.deepEqual(welcome.rooms, [`user_${sub}`]);
  const own = `user_${sub}`;
  assert.ok(welcome.streams && typeof welcome.streams === 'object', 'welcome.streams is an object');
  assert.deepEqual(Object.keys(welcome.streams).sort(), ['broadcast', own].sort(), 'welcome.streams has exactly two keys');
  return {
    own: assertPosition(welcome.streams[own], { recovered: recovered.own, what: `welcome.streams.${own}` }),
    broadcast: assertPosition(welcome.streams.broadcast, { recovered: recovered.broadcast, what: 'welcome.streams.broadcast' }),
  };
}

/**
 * The arguments of a stream event: `[payload, meta]` with meta exactly
 * `{ stream, epoch, offset, id }`; `expected` may pin any of those. Returns the meta.
 */
export function assertMeta(args, expected = {}, what = 'event') {
  assert.ok(Array.isArray(args) && args.length === 2, `${what} has exactly two arguments: ${JSON.stringify(args)}`);
  const meta = args[1];
  assert.ok(meta && typeof meta === 'object', `${what}: meta is an object`);
  assert.deepEqual(Object.keys(meta).sort(), ['epoch', 'id', 'offset', 'stream'], `${what}: meta keys ${JSON.stringify(meta)}`);
  assert.equal(typeof meta.stream, 'string');
  assert.equal(typeof meta.epoch, 'string');
  assert.ok(meta.epoch.length > 0, `${what}: meta.epoch is not empty`);
  assertOffset(meta.offset, `${what}: meta.offset`, 1);
  assertId(meta.id, `${what}: meta.id`);
  for (const [k, v] of Object.entries(expected)) assert.equal(meta[k], v, `${what}: meta.${k} in ${JSON.stringify(meta)}`);
  return meta;
}

/** The arguments of an event that is in no stream (presence, welcome, system_*): the payload alone. */
export function assertNoMeta(args, what = 'event') {
  assert.ok(Array.isArray(args) && args.length === 1, `${what} has exactly one argument (no meta): ${JSON.stringify(args)}`);
}
