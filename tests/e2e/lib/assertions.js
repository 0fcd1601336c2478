// Shared assertions for the contract's error shapes.

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
 * Proves `sock` received no `event` since log index `from`, by ordering rather than by waiting:
 * a marker notification is sent to the socket's own user room after whatever must NOT arrive;
 * Socket.IO keeps order on one connection, so anything sent earlier would be in the log by the
 * time the marker is. The marker itself is excluded.
 */
export async function assertNothingBeforeMarker(srv, sock, event, from) {
  const marker = `marker ${uid('m')}`;
  const got = waitFor(sock, 'notification', 3000, (n) => n?.message === marker);
  await srv.notify(sock.welcome.userId, marker);
  await got;
  const extra = received(sock, event, from).filter((p) => !(event === 'notification' && p?.message === marker));
  assert.deepEqual(extra, [], `no "${event}" may arrive (checked up to an ordered marker)`);
}
