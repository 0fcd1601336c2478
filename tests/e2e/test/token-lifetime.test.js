// Contract §10, token lifetime: a socket is disconnected when its token's `exp` passes, after a
// `session_expired { at }` event, unless it sent `refresh { token }` before. `refresh` acks
// `{ ok: true, exp, left }` or `unauthorized` / `forbidden` / `invalid_payload`; the new token's
// `rooms` apply, and the rooms it no longer grants are left (never the own user room, never a
// room the backend joined).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedServer, disconnect, waitFor, emitAck, received, token, uid } from '../lib/server.js';
import { assertAckError, assertSubscribed } from '../lib/assertions.js';

const srv = sharedServer();

const nowSecs = () => Math.floor(Date.now() / 1000);
/** A token's exp as the server writes it: RFC 3339 UTC with milliseconds. */
const iso = (exp) => new Date(exp * 1000).toISOString();
/** Sleeps until `ms` after the instant `exp` (seconds). */
const sleepPast = (exp, ms = 0) => sleep(Math.max(0, exp * 1000 + ms - Date.now()));

async function openUntil(sub, exp, rooms) {
  return srv.connect(await srv.token({ sub, rooms, exp }));
}

/** The `{ ok: true, exp, left }` ack of an accepted refresh. */
function assertRefreshed(ack, exp, left = []) {
  assert.deepEqual(ack, { ok: true, exp: iso(exp), left }, JSON.stringify(ack));
}

/** Waits for `session_expired`, then the disconnect; checks their order and `at`. */
async function assertExpires(sock, exp) {
  const expired = waitFor(sock, 'session_expired', (exp - nowSecs() + 5) * 1000);
  const gone = waitFor(sock, 'disconnect', (exp - nowSecs() + 5) * 1000);
  const payload = await expired;
  assert.ok(Date.now() >= exp * 1000, 'not before the exp');
  assert.deepEqual(payload, { at: iso(exp) });
  assert.equal(await gone, 'io server disconnect');
  const names = sock.__events.map((e) => e.event);
  assert.equal(names.at(-1), 'session_expired', `session_expired is the last event: ${names}`);
}

async function socketRooms(sid) {
  const res = await srv.api('GET', '/api/v1/sockets');
  assert.equal(res.status, 200, res.text);
  return res.body.sockets.find((s) => s.id === sid)?.rooms;
}

describe('expiry', () => {
  test('a 2-second token gets session_expired { at: exp } and is disconnected at exp', async () => {
    const sub = uid('exp');
    const exp = nowSecs() + 2;
    const sock = await openUntil(sub, exp);
    try {
      // Still served before the exp.
      const got = waitFor(sock, 'notification');
      await srv.notify(sub, 'before the exp');
      assert.equal((await got).message, 'before the exp');
      await assertExpires(sock, exp);
      // Gone on the server too: it is no longer listed, and the user is offline.
      assert.equal(await socketRooms(sock.id), undefined);
      assert.equal((await srv.presence(sub)).online, false);
    } finally {
      disconnect(sock);
    }
  });

  test('a refreshed socket stays connected past the first exp and expires at the new one', async () => {
    const sub = uid('ref');
    const first = nowSecs() + 2;
    const sock = await openUntil(sub, first);
    try {
      const second = first + 2;
      assertRefreshed(await emitAck(sock, 'refresh', { token: await srv.token({ sub, exp: second }) }), second);
      await sleepPast(first, 500);
      assert.ok(sock.connected, 'connected past the first exp');
      const got = waitFor(sock, 'notification');
      await srv.notify(sub, 'after the first exp');
      assert.equal((await got).message, 'after the first exp');
      assert.deepEqual(received(sock, 'session_expired'), []);
      await assertExpires(sock, second);
    } finally {
      disconnect(sock);
    }
  });

  test('a refresh may also shorten the session', async () => {
    const sub = uid('short');
    const sock = await openUntil(sub, nowSecs() + 600);
    try {
      const exp = nowSecs() + 1;
      assertRefreshed(await emitAck(sock, 'refresh', { token: await srv.token({ sub, exp }) }), exp);
      await assertExpires(sock, exp);
    } finally {
      disconnect(sock);
    }
  });
});

describe('refused refreshes change nothing', () => {
  test("another user's token is forbidden, and the socket keeps its old expiry", async () => {
    const sub = uid('own');
    const exp = nowSecs() + 2;
    const sock = await openUntil(sub, exp);
    try {
      const other = await srv.token({ sub: uid('other'), exp: nowSecs() + 600 });
      assertAckError(await emitAck(sock, 'refresh', { token: other }), 'forbidden');
      await assertExpires(sock, exp);
    } finally {
      disconnect(sock);
    }
  });

  test('an expired, a not-yet-valid, a forged or a garbage token is unauthorized', async () => {
    const sub = uid('bad');
    const sock = await srv.open(sub, ['ticket_*']);
    try {
      assertSubscribed(await emitAck(sock, 'subscribe', { room: 'ticket_1' }), 'ticket_1');
      const now = nowSecs();
      const cases = {
        expired: await srv.token({ sub, exp: now - 10 }),
        'nbf in the future': await srv.token({ sub, exp: now + 3600, claims: { nbf: now + 600 } }),
        'another secret': await token('some-other-secret', { sub }),
        garbage: 'not.a.jwt',
        empty: '',
      };
      for (const [why, tok] of Object.entries(cases)) {
        const ack = await emitAck(sock, 'refresh', { token: tok });
        assertAckError(ack, 'unauthorized');
        assert.ok(tok === '' || !ack.error.message.includes(tok), `${why}: the message does not echo the token`);
      }
      // The old grants and subscriptions still stand.
      const got = waitFor(sock, 'ticket_updated');
      await srv.publish('/api/v1/tickets/1/updates', { priority: 'high' });
      assert.equal((await got).priority, 'high');
      assertSubscribed(await emitAck(sock, 'subscribe', { room: 'ticket_2' }), 'ticket_2');
    } finally {
      disconnect(sock);
    }
  });

  test('a malformed refresh payload is invalid_payload', async () => {
    const sub = uid('mal');
    const sock = await srv.open(sub);
    try {
      const tok = await srv.token({ sub });
      for (const payload of [undefined, null, tok, [tok], {}, { token: null }, { token: 5 }, { token: tok, rooms: [] }]) {
        assertAckError(await emitAck(sock, 'refresh', payload), 'invalid_payload');
      }
      assertRefreshed(await emitAck(sock, 'refresh', { token: tok }), JSON.parse(Buffer.from(tok.split('.')[1], 'base64url')).exp);
    } finally {
      disconnect(sock);
    }
  });
});

describe('a narrower rooms claim', () => {
  test('leaves the rooms it no longer grants, sorted in `left`; the own room and the backend-joined rooms stay', async () => {
    const sub = uid('narrow');
    const exp = nowSecs() + 600;
    const sock = await srv.connect(await srv.token({ sub, exp, rooms: ['ticket_*', 'meter_*', 'system_*'] }));
    try {
      for (const room of ['ticket_A', 'ticket_B', 'meter_M', 'system_ops']) {
        assertSubscribed(await emitAck(sock, 'subscribe', { room }), room);
      }
      // The backend joins one room the new token will not grant, and one the client holds too.
      for (const room of ['meter_K', 'ticket_B']) {
        const res = await srv.api('PUT', `/api/v1/sockets/${sock.id}/rooms/${room}`);
        assert.equal(res.status, 204, res.text);
      }
      const next = exp + 60;
      const ack = await emitAck(sock, 'refresh', { token: await srv.token({ sub, exp: next, rooms: ['ticket_A'] }) });
      // Sorted by name (meter < system), whatever the kinds.
      assertRefreshed(ack, next, ['meter_M', 'system_ops']);
      assert.deepEqual(await socketRooms(sock.id), ['meter_K', 'ticket_A', 'ticket_B', `user_${sub}`]);

      // What was left is no longer delivered; what stays is, in the order it was published.
      const reading = { reading: 1, timestamp: new Date().toISOString(), unit: 'Wh' };
      await srv.publish('/api/v1/meters/M/readings', reading);
      await srv.publish('/api/v1/rooms/system_ops/events', { event: 'system_ping', data: {} });
      await srv.publish('/api/v1/meters/K/readings', reading);
      await srv.publish('/api/v1/tickets/B/updates', { priority: 'low' });
      const last = waitFor(sock, 'notification');
      await srv.publish('/api/v1/tickets/A/updates', { priority: 'high' });
      await srv.notify(sub, 'barrier');
      await last;
      assert.deepEqual(received(sock, 'meter_reading').map((r) => r.meterId), ['K']);
      assert.deepEqual(received(sock, 'ticket_updated').map((t) => t.ticketId), ['B', 'A']);
      assert.deepEqual(received(sock, 'system_ping'), []);

      // The new grants are the socket's grants now.
      assertAckError(await emitAck(sock, 'subscribe', { room: 'meter_M' }), 'forbidden');
      assertSubscribed(await emitAck(sock, 'subscribe', { room: `user_${sub}` }), `user_${sub}`);
      // Nothing more to leave the second time.
      assertRefreshed(await emitAck(sock, 'refresh', { token: await srv.token({ sub, exp: next, rooms: ['ticket_A'] }) }), next);
    } finally {
      disconnect(sock);
    }
  });
});
