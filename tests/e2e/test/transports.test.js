// Contract §3: the official client must work unmodified over WebSocket and over HTTP long-polling.
// The main flows run once per transport (and once with the client's default: polling, then upgrade).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, disconnect, token, randomSecret, waitFor, emitAck, uid, until } from '../lib/server.js';
import { assertAckError, assertServerTime, assertSubscribed, assertUnauthorized, assertWelcome } from '../lib/assertions.js';

const srv = sharedServer();

const variants = [
  { name: 'websocket', transports: ['websocket'], expect: 'websocket' },
  { name: 'polling', transports: ['polling'], expect: 'polling' },
  { name: 'polling then upgrade (client default)', transports: null, expect: 'websocket' },
];

for (const v of variants) {
  describe(`over ${v.name}`, () => {
    const open = (sub, rooms) => srv.open(sub, rooms, { transports: v.transports });

    test('connects, gets the welcome and uses the expected transport', async () => {
      const sub = uid('t');
      const sock = await open(sub);
      try {
        assertWelcome(sock.welcome, sub, { socketId: sock.id });
        await until(() => sock.io.engine?.transport?.name === v.expect, {
          message: `transport to be ${v.expect} (is ${sock.io.engine?.transport?.name})`,
        });
      } finally {
        disconnect(sock);
      }
    });

    test('bad token is refused with "unauthorized"', async () => {
      await assertUnauthorized(srv.url, await token(randomSecret(), { sub: 'alice' }), { transports: v.transports });
    });

    test('subscribe ack, then ticket_updated from the API', async () => {
      const sock = await open(uid('tech'), ['ticket_*']);
      try {
        const ticketId = uid('T');
        const ack = await emitAck(sock, 'subscribe', { room: `ticket_${ticketId}` });
        assertSubscribed(ack, `ticket_${ticketId}`);
        const got = waitFor(sock, 'ticket_updated');
        const res = await srv.api('POST', `/api/v1/tickets/${ticketId}/updates`, { status: 'resolved' });
        assert.equal(res.status, 202, res.text);
        const ev = await got;
        assert.equal(ev.ticketId, ticketId);
        assert.equal(ev.status, 'resolved');
        assertServerTime(ev.updatedAt, 'updatedAt');
      } finally {
        disconnect(sock);
      }
    });

    test('notification reaches the user', async () => {
      const sub = uid('n');
      const sock = await open(sub);
      try {
        const got = waitFor(sock, 'notification');
        const res = await srv.api('POST', `/api/v1/users/${sub}/notifications`, { type: 'success', message: 'done' });
        assert.equal(res.status, 202, res.text);
        assert.equal(res.body.online, true);
        const n = await got;
        assert.equal(n.id, res.body.id);
        assert.equal(n.message, 'done');
        assert.equal(n.type, 'success');
      } finally {
        disconnect(sock);
      }
    });

    test('announcement reaches the socket without any subscription', async () => {
      const sock = await open(uid('a'));
      try {
        const msg = `ann ${uid('m')}`;
        const got = waitFor(sock, 'announcement', 3000, (a) => a?.message === msg);
        const res = await srv.api('POST', '/api/v1/announcements', { type: 'info', message: msg });
        assert.equal(res.status, 202, res.text);
        const a = await got;
        assert.equal(a.id, res.body.id);
      } finally {
        disconnect(sock);
      }
    });

    test('an unknown event with an ack gets unknown_event', async () => {
      const sock = await open(uid('u'));
      try {
        assertAckError(await emitAck(sock, 'frobnicate', { x: 1 }), 'unknown_event');
      } finally {
        disconnect(sock);
      }
    });

    test('a 32 KiB custom event payload is delivered intact', async () => {
      const sub = uid('big');
      const sock = await open(sub);
      try {
        const chunks = Array.from({ length: 4 }, (_, i) => `${i}`.repeat(8 * 1024));
        const got = waitFor(sock, 'user_bulk');
        const res = await srv.api('POST', `/api/v1/rooms/user_${sub}/events`, { event: 'user_bulk', data: { chunks } });
        assert.equal(res.status, 202, res.text);
        assert.deepEqual(await got, { chunks });
      } finally {
        disconnect(sock);
      }
    });

    test('logout acks { ok: true } and then the server disconnects the socket', async () => {
      const sub = uid('out');
      const sock = await open(sub);
      const gone = waitFor(sock, 'disconnect');
      const ack = await emitAck(sock, 'logout');
      assert.deepEqual(ack, { ok: true });
      assert.equal(await gone, 'io server disconnect');
      await until(async () => (await srv.presence(sub)).online === false, {
        message: 'the user to be offline after logout',
      });
    });
  });
}
