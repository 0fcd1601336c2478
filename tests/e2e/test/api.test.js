// Contract §4: every HTTP API route, success statuses, bodies and the events they cause.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, disconnect, api, waitFor, emitAck, mark, uid, until, closeAllSockets } from '../lib/server.js';
import { assertServerTime, assertId, assertNothingBeforeMarker, assertSubscribed } from '../lib/assertions.js';

const srv = sharedServer();

function assertJson(res) {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/i, 'response is JSON');
}

describe('POST /api/v1/users/{userId}/notifications', () => {
  test('202 { id, online: true }; both devices of the user get the notification', async () => {
    const who = uid('alice');
    const phone = await srv.open(who);
    const laptop = await srv.open(who, undefined, { transports: ['polling'] });
    try {
      const input = { type: 'warning', message: 'Ticket 42 is overdue', data: { ticketId: '42', n: 1.5, tags: ['a'] } };
      const onPhone = waitFor(phone, 'notification');
      const onLaptop = waitFor(laptop, 'notification');
      const res = await srv.api('POST', `/api/v1/users/${who}/notifications`, input);
      assert.equal(res.status, 202, res.text);
      assertJson(res);
      assert.deepEqual(Object.keys(res.body).sort(), ['id', 'online']);
      assertId(res.body.id);
      assert.equal(res.body.online, true);
      for (const n of [await onPhone, await onLaptop]) {
        assertServerTime(n.createdAt, 'createdAt');
        assert.deepEqual(n, { ...input, id: res.body.id, createdAt: n.createdAt });
      }
    } finally {
      disconnect(phone);
      disconnect(laptop);
    }
  });

  test('each notification gets a unique id', async () => {
    const who = uid('ids');
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      const res = await srv.api('POST', `/api/v1/users/${who}/notifications`, { type: 'info', message: `n${i}` });
      assert.equal(res.status, 202, res.text);
      ids.add(res.body.id);
    }
    assert.equal(ids.size, 5);
  });

  test('202 { id, online: false } for a user with no socket', async () => {
    const res = await srv.api('POST', `/api/v1/users/${uid('offline')}/notifications`, { type: 'error', message: 'x' });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['id', 'online']);
    assert.equal(res.body.online, false);
    assertId(res.body.id);
  });

  test('another user does not receive it', async () => {
    const alice = uid('alice');
    const bob = await srv.open(uid('bob'));
    const a = await srv.open(alice);
    try {
      const from = mark(bob);
      const got = waitFor(a, 'notification');
      await srv.notify(alice, 'hi');
      await got;
      await assertNothingBeforeMarker(srv, bob, 'notification', from);
    } finally {
      disconnect(a);
      disconnect(bob);
    }
  });

  test('accepts either configured API key and "application/json; charset=utf-8"', async () => {
    for (const key of srv.apiKeys) {
      const res = await api(srv.url, key, 'POST', `/api/v1/users/${uid('k')}/notifications`, { type: 'info', message: 'k' }, {
        contentType: 'application/json; charset=utf-8',
      });
      assert.equal(res.status, 202, res.text);
    }
  });
});

describe('POST /api/v1/tickets/{ticketId}/updates', () => {
  test('202 { id }; ticket_updated reaches subscribers of ticket_<id> only', async () => {
    const ticketId = uid('T');
    const tech = await srv.open(uid('tech'), ['ticket_*']);
    const other = await srv.open(uid('other'), ['ticket_*']);
    try {
      assert.equal((await emitAck(tech, 'subscribe', { room: `ticket_${ticketId}` })).ok, true);
      assert.equal((await emitAck(other, 'subscribe', { room: `ticket_${uid('T')}` })).ok, true);
      const from = mark(other);
      const input = { status: 'in_progress', assignedTo: 'tech.7', priority: 'high', message: 'on the way', data: { eta: 15 } };
      const got = waitFor(tech, 'ticket_updated');
      const res = await srv.api('POST', `/api/v1/tickets/${ticketId}/updates`, input);
      assert.equal(res.status, 202, res.text);
      assertJson(res);
      assert.deepEqual(Object.keys(res.body), ['id']);
      assertId(res.body.id);
      const ev = await got;
      assertServerTime(ev.updatedAt, 'updatedAt');
      assert.deepEqual(ev, { ...input, ticketId, updatedAt: ev.updatedAt });
      // `other` (subscribed to a different ticket) gets nothing
      await assertNothingBeforeMarker(srv, other, 'ticket_updated', from);
    } finally {
      disconnect(tech);
      disconnect(other);
    }
  });

  test('assignedTo: null (unassign) is delivered as null', async () => {
    const ticketId = uid('T');
    const tech = await srv.open(uid('tech'), [`ticket_${ticketId}`]);
    try {
      assert.equal((await emitAck(tech, 'subscribe', { room: `ticket_${ticketId}` })).ok, true);
      const got = waitFor(tech, 'ticket_updated');
      const res = await srv.api('POST', `/api/v1/tickets/${ticketId}/updates`, { assignedTo: null });
      assert.equal(res.status, 202, res.text);
      const ev = await got;
      assert.deepEqual(ev, { assignedTo: null, ticketId, updatedAt: ev.updatedAt });
    } finally {
      disconnect(tech);
    }
  });

  test('202 with no subscriber at all', async () => {
    const res = await srv.api('POST', `/api/v1/tickets/${uid('T')}/updates`, { status: 'closed' });
    assert.equal(res.status, 202, res.text);
    assertId(res.body.id);
  });
});

describe('POST /api/v1/meters/{meterId}/readings', () => {
  test('202 { id }; meter_reading with meterId and the timestamp normalised to UTC Z', async () => {
    const meterId = uid('M');
    const sock = await srv.open(uid('ops'), ['meter_*']);
    try {
      assert.equal((await emitAck(sock, 'subscribe', { room: `meter_${meterId}` })).ok, true);
      const got = waitFor(sock, 'meter_reading');
      const res = await srv.api('POST', `/api/v1/meters/${meterId}/readings`, {
        reading: 1234.5,
        timestamp: '2024-01-15T12:00:00+02:00',
        unit: 'kWh',
      });
      assert.equal(res.status, 202, res.text);
      assertJson(res);
      assert.deepEqual(Object.keys(res.body), ['id']);
      assertId(res.body.id);
      assert.deepEqual(await got, { reading: 1234.5, timestamp: '2024-01-15T10:00:00.000Z', unit: 'kWh', meterId });
    } finally {
      disconnect(sock);
    }
  });

  test('fractional seconds are normalised to exactly three digits', async () => {
    const meterId = uid('M');
    const sock = await srv.open(uid('ops'), [`meter_${meterId}`]);
    try {
      assert.equal((await emitAck(sock, 'subscribe', { room: `meter_${meterId}` })).ok, true);
      const cases = [
        ['2024-03-01T00:00:00Z', '2024-03-01T00:00:00.000Z'],
        ['2024-03-01T00:00:00.5Z', '2024-03-01T00:00:00.500Z'],
        ['2024-02-29T23:30:00.123-01:00', '2024-03-01T00:30:00.123Z'],
      ];
      for (const [input, expected] of cases) {
        const got = waitFor(sock, 'meter_reading');
        const res = await srv.api('POST', `/api/v1/meters/${meterId}/readings`, { reading: -0.25, timestamp: input, unit: 'm3' });
        assert.equal(res.status, 202, res.text);
        const ev = await got;
        assert.equal(ev.timestamp, expected, `timestamp ${input}`);
        assert.equal(ev.reading, -0.25);
      }
    } finally {
      disconnect(sock);
    }
  });
});

describe('POST /api/v1/announcements', () => {
  test('202 { id }; every connected socket gets the announcement', async () => {
    const a = await srv.open(uid('a'));
    const b = await srv.open(uid('b'), undefined, { transports: ['polling'] });
    try {
      const input = {
        type: 'maintenance',
        message: `Planned maintenance ${uid('m')}`,
        scheduledTime: '2030-01-01T12:00:00+02:00',
        data: { durationMinutes: 30 },
      };
      const match = (x) => x?.message === input.message;
      const onA = waitFor(a, 'announcement', 3000, match);
      const onB = waitFor(b, 'announcement', 3000, match);
      const res = await srv.api('POST', '/api/v1/announcements', input);
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(Object.keys(res.body), ['id']);
      assertId(res.body.id);
      for (const ev of [await onA, await onB]) {
        assertServerTime(ev.createdAt, 'createdAt');
        assert.deepEqual(ev, {
          ...input,
          scheduledTime: '2030-01-01T10:00:00.000Z',
          id: res.body.id,
          createdAt: ev.createdAt,
        });
      }
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });
});

describe('POST /api/v1/rooms/{room}/events', () => {
  test('202 { id }; subscribers of the room get the custom event with data as its payload', async () => {
    const ticketId = uid('T');
    const sub = await srv.open(uid('s'), ['ticket_*']);
    const notSub = await srv.open(uid('n'), ['ticket_*']);
    try {
      assert.equal((await emitAck(sub, 'subscribe', { room: `ticket_${ticketId}` })).ok, true);
      const from = mark(notSub);
      for (const data of [{ note: 'parts ordered', n: [1, 2, { x: null }] }, 'a string', 42, [1, 'two'], true]) {
        const got = waitFor(sub, 'ticket_note');
        const res = await srv.api('POST', `/api/v1/rooms/ticket_${ticketId}/events`, { event: 'ticket_note', data });
        assert.equal(res.status, 202, res.text);
        assertJson(res);
        assert.deepEqual(Object.keys(res.body), ['id']);
        assertId(res.body.id);
        assert.deepEqual(await got, data);
      }
      await assertNothingBeforeMarker(srv, notSub, 'ticket_note', from);
    } finally {
      disconnect(sub);
      disconnect(notSub);
    }
  });

  test('a user room reaches every socket of that user', async () => {
    const who = uid('u');
    const a = await srv.open(who);
    const b = await srv.open(who);
    try {
      const onA = waitFor(a, 'user_ping');
      const onB = waitFor(b, 'user_ping');
      const res = await srv.api('POST', `/api/v1/rooms/user_${who}/events`, { event: 'user_ping', data: { k: 'v' } });
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(await onA, { k: 'v' });
      assert.deepEqual(await onB, { k: 'v' });
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });
});

describe('POST /api/v1/broadcast', () => {
  test('202 { id }; every socket gets the event', async () => {
    const a = await srv.open(uid('a'));
    const b = await srv.open(uid('b'), ['ticket_*']);
    try {
      const data = { marker: uid('bc') };
      const match = (d) => d?.marker === data.marker;
      const onA = waitFor(a, 'system_notice', 3000, match);
      const onB = waitFor(b, 'system_notice', 3000, match);
      const res = await srv.api('POST', '/api/v1/broadcast', { event: 'system_notice', data });
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(Object.keys(res.body), ['id']);
      assertId(res.body.id);
      assert.deepEqual(await onA, data);
      assert.deepEqual(await onB, data);
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });
});

describe('GET /api/v1/sockets', () => {
  test('200 { count, sockets: [{ id, userId, rooms }] } with the current rooms', async () => {
    const who = uid('lister');
    const a = await srv.open(who, ['ticket_*']);
    const b = await srv.open(uid('other'));
    try {
      assert.equal((await emitAck(a, 'subscribe', { room: 'ticket_77' })).ok, true);
      const res = await srv.api('GET', '/api/v1/sockets');
      assert.equal(res.status, 200, res.text);
      assertJson(res);
      assert.deepEqual(Object.keys(res.body).sort(), ['count', 'sockets']);
      assert.equal(res.body.count, res.body.sockets.length);
      for (const s of res.body.sockets) assert.deepEqual(Object.keys(s).sort(), ['id', 'rooms', 'userId']);
      const mine = res.body.sockets.find((s) => s.id === a.id);
      assert.ok(mine, `socket ${a.id} is listed: ${res.text}`);
      assert.equal(mine.userId, who);
      assert.deepEqual([...mine.rooms].sort(), [`user_${who}`, 'ticket_77'].sort());
      const theirs = res.body.sockets.find((s) => s.id === b.id);
      assert.ok(theirs, `socket ${b.id} is listed`);
      assert.deepEqual(theirs.rooms, [`user_${b.welcome.userId}`]);
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });

  test('count follows connects and disconnects', async () => {
    const count = async () => {
      const res = await srv.api('GET', '/api/v1/sockets');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.count, res.body.sockets.length);
      return res.body;
    };
    // every earlier test in this file closed its sockets; wait for the server to catch up
    closeAllSockets();
    await until(async () => (await count()).count === 0, { message: 'no socket left from earlier tests' });
    const a = await srv.open(uid('c'));
    const b = await srv.open(uid('c'));
    const two = await count();
    assert.equal(two.count, 2);
    assert.deepEqual(two.sockets.map((s) => s.id).sort(), [a.id, b.id].sort());
    disconnect(a);
    await until(async () => (await count()).count === 1, { message: 'the count to drop to 1' });
    assert.deepEqual((await count()).sockets.map((s) => s.id), [b.id]);
    disconnect(b);
    await until(async () => (await count()).count === 0, { message: 'the count to return to 0' });
  });
});

describe('PUT / DELETE /api/v1/sockets/{socketId}/rooms/{room}', () => {
  test('PUT -> 204 and the socket receives the room; DELETE -> 204 and it stops', async () => {
    const who = uid('joiner');
    const sock = await srv.open(who); // no room rights in the token: the backend may still join it
    const meterId = uid('M');
    const room = `meter_${meterId}`;
    const path = `/api/v1/sockets/${encodeURIComponent(sock.id)}/rooms/${room}`;
    try {
      const put = await srv.api('PUT', path);
      assert.equal(put.status, 204, put.text);
      assert.equal(put.text, '', '204 has no body');

      const listed = (await srv.api('GET', '/api/v1/sockets')).body.sockets.find((s) => s.id === sock.id);
      assert.deepEqual([...listed.rooms].sort(), [room, `user_${who}`].sort());

      const got = waitFor(sock, 'meter_reading');
      const reading = { reading: 3, timestamp: '2024-05-05T05:05:05.005Z', unit: 'kW' };
      assert.equal((await srv.api('POST', `/api/v1/meters/${meterId}/readings`, reading)).status, 202);
      assert.deepEqual(await got, { ...reading, meterId });

      const del = await srv.api('DELETE', path);
      assert.equal(del.status, 204, del.text);
      assert.equal(del.text, '', '204 has no body');
      const from = mark(sock);
      assert.equal((await srv.api('POST', `/api/v1/meters/${meterId}/readings`, reading)).status, 202);
      await assertNothingBeforeMarker(srv, sock, 'meter_reading', from);
      const after = (await srv.api('GET', '/api/v1/sockets')).body.sockets.find((s) => s.id === sock.id);
      assert.deepEqual(after.rooms, [`user_${who}`]);
    } finally {
      disconnect(sock);
    }
  });

  test('PUT twice is still 204 (idempotent)', async () => {
    const sock = await srv.open(uid('idem'));
    try {
      const path = `/api/v1/sockets/${encodeURIComponent(sock.id)}/rooms/ticket_9`;
      assert.equal((await srv.api('PUT', path)).status, 204);
      assert.equal((await srv.api('PUT', path)).status, 204);
    } finally {
      disconnect(sock);
    }
  });
});

describe('GET /api/v1/users/{userId}/presence', () => {
  test('200 { userId, online, sockets }', async () => {
    const who = uid('p');
    const sock = await srv.open(who);
    try {
      const res = await srv.api('GET', `/api/v1/users/${who}/presence`);
      assert.equal(res.status, 200, res.text);
      assertJson(res);
      assert.deepEqual(res.body, { userId: who, online: true, sockets: [sock.id] });
    } finally {
      disconnect(sock);
    }
    const off = uid('p');
    assert.deepEqual((await srv.api('GET', `/api/v1/users/${off}/presence`)).body, { userId: off, online: false, sockets: [] });
  });
});

describe('DELETE /api/v1/users/{userId}/sockets', () => {
  test('200 { disconnected: n } and every socket of the user is disconnected', async () => {
    const who = uid('bye');
    const a = await srv.open(who);
    const b = await srv.open(who, undefined, { transports: ['polling'] });
    const bystander = await srv.open(uid('stays'));
    try {
      const goneA = waitFor(a, 'disconnect');
      const goneB = waitFor(b, 'disconnect');
      const res = await srv.api('DELETE', `/api/v1/users/${who}/sockets`);
      assert.equal(res.status, 200, res.text);
      assertJson(res);
      assert.deepEqual(res.body, { disconnected: 2 });
      assert.equal(await goneA, 'io server disconnect');
      assert.equal(await goneB, 'io server disconnect');
      assert.equal(bystander.connected, true);
      await until(async () => (await srv.presence(who)).online === false, {
        message: 'the user to be offline',
      });
      const again = await srv.api('DELETE', `/api/v1/users/${who}/sockets`);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, { disconnected: 0 });
      // the bystander still works
      const own = `user_${bystander.welcome.userId}`;
      assertSubscribed(await emitAck(bystander, 'subscribe', { room: own }), own);
    } finally {
      disconnect(a);
      disconnect(b);
      disconnect(bystander);
    }
  });
});
