// Contract §3 client -> server events: subscribe, unsubscribe, logout, unknown events, and every
// ack error code (plus limit_exceeded from the decisions file).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, disconnect, waitFor, emitAck, mark, uid, until } from '../lib/server.js';
import { assertAckError, assertNothingBeforeMarker, assertPresenceSubscribed, assertSubscribed } from '../lib/assertions.js';

const MAX_SUBS = 3;
const srv = sharedServer({ args: ['--max-subscriptions-per-socket', String(MAX_SUBS)] });

describe('subscribe', () => {
  test('an exact room allowed by the token: { ok: true, room, epoch, offset }', async () => {
    const sock = await srv.open(uid('s'), ['ticket_1']);
    try {
      assertSubscribed(await emitAck(sock, 'subscribe', { room: 'ticket_1' }), 'ticket_1');
    } finally {
      disconnect(sock);
    }
  });

  test('a prefix pattern allows every room with that prefix', async () => {
    const sock = await srv.open(uid('s'), ['ticket_*', 'meter_4*']);
    try {
      // two subscriptions: stays below the limit of 3, so the refusal below can only be forbidden
      for (const room of ['ticket_B-7', 'meter_42']) {
        assertSubscribed(await emitAck(sock, 'subscribe', { room }), room);
      }
      assertAckError(await emitAck(sock, 'subscribe', { room: 'meter_5' }), 'forbidden');
    } finally {
      disconnect(sock);
    }
  });

  test('the pattern "*" allows every kind of room', async () => {
    const sock = await srv.open(uid('s'), ['*']);
    try {
      // three subscriptions: exactly the limit of this file's server
      for (const room of ['ticket_x', 'meter_y']) {
        assertSubscribed(await emitAck(sock, 'subscribe', { room }), room);
      }
      // system_presence has no stream: its ack is the presence snapshot instead of a position
      assertPresenceSubscribed(await emitAck(sock, 'subscribe', { room: 'system_presence' }), {
        includes: [sock.welcome.userId],
      });
    } finally {
      disconnect(sock);
    }
  });

  test("subscribing to one's own user room is ok", async () => {
    const sub = uid('own');
    const sock = await srv.open(sub);
    try {
      assertSubscribed(await emitAck(sock, 'subscribe', { room: `user_${sub}` }), `user_${sub}`);
    } finally {
      disconnect(sock);
    }
  });

  test('subscribed room delivers its events; the other kinds of room need their own subscription', async () => {
    const sock = await srv.open(uid('s'), ['meter_*']);
    try {
      const meterId = uid('M');
      assert.equal((await emitAck(sock, 'subscribe', { room: `meter_${meterId}` })).ok, true);
      const got = waitFor(sock, 'meter_reading');
      const res = await srv.api('POST', `/api/v1/meters/${meterId}/readings`, {
        reading: 1,
        timestamp: new Date().toISOString(),
        unit: 'Wh',
      });
      assert.equal(res.status, 202, res.text);
      assert.equal((await got).meterId, meterId);
    } finally {
      disconnect(sock);
    }
  });

  describe('forbidden (no matching pattern in the token)', () => {
    const cases = [
      ['another exact ticket', ['ticket_1'], 'ticket_2'],
      ['a meter with only ticket rights', ['ticket_*'], 'meter_1'],
      ["another user's room", ['ticket_*'], 'user_someone-else'],
      ['a system room without a system pattern', ['ticket_*'], 'system_presence'],
      ['a system room not matching the exact pattern', ['system_ops'], 'system_presence'],
      ['any room when the token has no rooms claim', undefined, 'ticket_1'],
      ['any room when the rooms claim is empty', [], 'ticket_1'],
      ['a pattern prefix is not a substring match', ['ticket_12*'], 'ticket_1'],
    ];
    for (const [name, rooms, room] of cases) {
      test(name, async () => {
        const sock = await srv.open(uid('s'), rooms);
        try {
          assertAckError(await emitAck(sock, 'subscribe', { room }), 'forbidden');
        } finally {
          disconnect(sock);
        }
      });
    }

    test('a refused subscription delivers nothing from that room', async () => {
      const sock = await srv.open(uid('s'), ['ticket_1']);
      try {
        assertAckError(await emitAck(sock, 'subscribe', { room: 'ticket_2' }), 'forbidden');
        const from = mark(sock);
        const res = await srv.api('POST', '/api/v1/tickets/2/updates', { status: 'open' });
        assert.equal(res.status, 202, res.text);
        await assertNothingBeforeMarker(srv, sock, 'ticket_updated', from);
      } finally {
        disconnect(sock);
      }
    });
  });

  describe('invalid_room', () => {
    for (const room of ['lobby', 'ticket_', 'ticket_bad id', 'Ticket_1', 'system_UPPER', 'user_', `meter_${'x'.repeat(65)}`, '']) {
      test(JSON.stringify(room), async () => {
        const sock = await srv.open(uid('s'), ['*']);
        try {
          assertAckError(await emitAck(sock, 'subscribe', { room }), 'invalid_room');
        } finally {
          disconnect(sock);
        }
      });
    }
  });

  describe('invalid_payload', () => {
    const payloads = [
      ['an empty object', {}],
      ['room is a number', { room: 42 }],
      ['room is null', { room: null }],
      ['a bare string instead of { room }', 'ticket_1'],
      ['an array', ['ticket_1']],
    ];
    for (const [name, payload] of payloads) {
      test(name, async () => {
        const sock = await srv.open(uid('s'), ['*']);
        try {
          assertAckError(await emitAck(sock, 'subscribe', payload), 'invalid_payload');
        } finally {
          disconnect(sock);
        }
      });
    }
  });

  describe('limit_exceeded', () => {
    test(`exactly --max-subscriptions-per-socket (${MAX_SUBS}) succeed, the next is refused`, async () => {
      const sock = await srv.open(uid('s'), ['ticket_*']);
      try {
        for (let i = 1; i <= MAX_SUBS; i++) {
          assertSubscribed(await emitAck(sock, 'subscribe', { room: `ticket_${i}` }), `ticket_${i}`);
        }
        assertAckError(await emitAck(sock, 'subscribe', { room: `ticket_${MAX_SUBS + 1}` }), 'limit_exceeded');
        // the refused room is not joined
        const from = mark(sock);
        const res = await srv.api('POST', `/api/v1/tickets/${MAX_SUBS + 1}/updates`, { priority: 'low' });
        assert.equal(res.status, 202, res.text);
        await assertNothingBeforeMarker(srv, sock, 'ticket_updated', from);
        // leaving one frees a slot
        assert.deepEqual(await emitAck(sock, 'unsubscribe', { room: 'ticket_1' }), { ok: true, room: 'ticket_1' });
        assertSubscribed(await emitAck(sock, 'subscribe', { room: `ticket_${MAX_SUBS + 1}` }), `ticket_${MAX_SUBS + 1}`);
      } finally {
        disconnect(sock);
      }
    });

    test('the limit is per socket, not per user', async () => {
      const sub = uid('lim');
      const a = await srv.open(sub, ['ticket_*']);
      const b = await srv.open(sub, ['ticket_*']);
      try {
        for (let i = 1; i <= MAX_SUBS; i++) assert.equal((await emitAck(a, 'subscribe', { room: `ticket_a${i}` })).ok, true);
        for (let i = 1; i <= MAX_SUBS; i++) assert.equal((await emitAck(b, 'subscribe', { room: `ticket_b${i}` })).ok, true);
      } finally {
        disconnect(a);
        disconnect(b);
      }
    });
  });
});

describe('unsubscribe', () => {
  test('{ ok: true, room } and the room stops delivering', async () => {
    const sock = await srv.open(uid('s'), ['ticket_*']);
    try {
      const ticketId = uid('T');
      const room = `ticket_${ticketId}`;
      assert.equal((await emitAck(sock, 'subscribe', { room })).ok, true);
      const got = waitFor(sock, 'ticket_updated');
      assert.equal((await srv.api('POST', `/api/v1/tickets/${ticketId}/updates`, { status: 'open' })).status, 202);
      await got;

      assert.deepEqual(await emitAck(sock, 'unsubscribe', { room }), { ok: true, room });
      const from = mark(sock);
      assert.equal((await srv.api('POST', `/api/v1/tickets/${ticketId}/updates`, { status: 'closed' })).status, 202);
      await assertNothingBeforeMarker(srv, sock, 'ticket_updated', from);
    } finally {
      disconnect(sock);
    }
  });

  test('the own user room cannot be left (forbidden) and keeps delivering', async () => {
    const sub = uid('stay');
    const sock = await srv.open(sub, ['*']);
    try {
      assertAckError(await emitAck(sock, 'unsubscribe', { room: `user_${sub}` }), 'forbidden');
      const got = waitFor(sock, 'notification');
      await srv.notify(sub, 'still here');
      assert.equal((await got).message, 'still here');
    } finally {
      disconnect(sock);
    }
  });

  test('an invalid room is refused with invalid_room', async () => {
    const sock = await srv.open(uid('s'), ['*']);
    try {
      assertAckError(await emitAck(sock, 'unsubscribe', { room: 'not a room' }), 'invalid_room');
    } finally {
      disconnect(sock);
    }
  });

  test('a malformed payload is refused with invalid_payload', async () => {
    const sock = await srv.open(uid('s'), ['*']);
    try {
      assertAckError(await emitAck(sock, 'unsubscribe', { room: 7 }), 'invalid_payload');
    } finally {
      disconnect(sock);
    }
  });
});

describe('logout', () => {
  test('acks { ok: true }, then only that socket is disconnected', async () => {
    const sub = uid('lo');
    const a = await srv.open(sub);
    const b = await srv.open(sub);
    try {
      const gone = waitFor(a, 'disconnect');
      assert.deepEqual(await emitAck(a, 'logout'), { ok: true });
      assert.equal(await gone, 'io server disconnect');
      assert.equal(a.connected, false);
      await until(
        async () => {
          const { sockets } = await srv.presence(sub);
          return sockets.length === 1 && sockets[0] === b.id;
        },
        { message: 'presence to list only the remaining socket' },
      );
      assert.equal(b.connected, true, 'the other device stays connected');
      assertSubscribed(await emitAck(b, 'subscribe', { room: `user_${sub}` }), `user_${sub}`);
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });
});

describe('unknown events', () => {
  for (const event of ['frobnicate', 'join', 'notification', 'welcome', 'emit_to_room']) {
    test(`"${event}" with an ack -> unknown_event`, async () => {
      const sock = await srv.open(uid('s'), ['*']);
      try {
        assertAckError(await emitAck(sock, event, { room: 'ticket_1' }), 'unknown_event');
      } finally {
        disconnect(sock);
      }
    });
  }

  test('an unknown event without an ack is ignored and the socket stays usable', async () => {
    const sock = await srv.open(uid('s'), ['*']);
    try {
      sock.emit('frobnicate', { x: 1 });
      assertSubscribed(await emitAck(sock, 'subscribe', { room: 'ticket_ok' }), 'ticket_ok');
      assert.equal(sock.connected, true);
    } finally {
      disconnect(sock);
    }
  });
});
