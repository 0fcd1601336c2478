// Contract section 8, "Meta": every stream event arrives with a second argument
// `{ stream, epoch, offset, id }` (stream: the room, or "broadcast" for events to everyone; id:
// the API's id, which for a notification or an announcement is also the payload's id), while the
// first argument stays the payload. Events in no stream (welcome, presence) have no second
// argument.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, disconnect, emitAck, waitFor, uid, until, streamEvents } from '../lib/server.js';
import { assertMeta, assertNoMeta, assertPresenceSubscribed, assertSubscribed, assertWelcome } from '../lib/assertions.js';

const srv = sharedServer();

for (const transports of [['websocket'], ['polling']]) {
  describe(`over ${transports[0]}`, () => {
    test('each kind of stream event carries { stream, epoch, offset, id } with the right stream and the API\'s id', async () => {
      const user = uid('meta');
      const own = `user_${user}`;
      const ticketId = uid('T');
      const meterId = uid('M');
      const rooms = { ticket: `ticket_${ticketId}`, meter: `meter_${meterId}`, system: `system_${uid('ops').toLowerCase()}` };
      const sock = await srv.open(user, ['*'], { transports });
      try {
        // where each stream starts: the welcome for the own room and broadcast, acks for the rest
        const start = assertWelcome(sock.welcome, user, { socketId: sock.id });
        const epochs = { [own]: start.own.epoch, broadcast: start.broadcast.epoch };
        for (const room of Object.values(rooms)) {
          const pos = assertSubscribed(await emitAck(sock, 'subscribe', { room }), room);
          assert.equal(pos.offset, 0, `${room} is new`);
          epochs[room] = pos.epoch;
        }

        const at = new Date().toISOString();
        // [event name, stream, API path, body, payload carries the id?]
        const sends = [
          ['notification', own, `/api/v1/users/${user}/notifications`, { type: 'info', message: 'hi' }, true],
          ['ticket_updated', rooms.ticket, `/api/v1/tickets/${ticketId}/updates`, { status: 'open' }, false],
          ['meter_reading', rooms.meter, `/api/v1/meters/${meterId}/readings`, { reading: 1.5, timestamp: at, unit: 'kWh' }, false],
          ['user_ping', own, `/api/v1/rooms/${own}/events`, { event: 'user_ping', data: { n: 1 } }, false],
          ['ticket_note', rooms.ticket, `/api/v1/rooms/${rooms.ticket}/events`, { event: 'ticket_note', data: 'text' }, false],
          ['meter_note', rooms.meter, `/api/v1/rooms/${rooms.meter}/events`, { event: 'meter_note', data: [1, 2] }, false],
          ['system_note', rooms.system, `/api/v1/rooms/${rooms.system}/events`, { event: 'system_note', data: null }, false],
          ['announcement', 'broadcast', '/api/v1/announcements', { type: 'maintenance', message: 'tonight' }, true],
          ['system_notice', 'broadcast', '/api/v1/broadcast', { event: 'system_notice', data: { all: true } }, false],
        ];
        const expected = [];
        const next = {}; // stream -> next offset
        for (const [event, stream, path, body, payloadHasId] of sends) {
          const { id } = await srv.publish(path, body);
          next[stream] = (next[stream] ?? (stream === own ? start.own.offset : stream === 'broadcast' ? start.broadcast.offset : 0)) + 1;
          expected.push({ event, stream, id, offset: next[stream], payloadHasId });
        }
        await until(() => sock.__events.length >= 1 + sends.length, { message: `the ${sends.length} events` });

        const got = sock.__events.slice(1);
        assert.deepEqual(got.map((e) => e.event), sends.map(([event]) => event), 'each event once, in order');
        for (const [i, e] of got.entries()) {
          const want = expected[i];
          assertMeta(e.args, { stream: want.stream, epoch: epochs[want.stream], offset: want.offset, id: want.id }, e.event);
          if (want.payloadHasId) assert.equal(e.args[0].id, want.id, `${e.event}: meta.id is the payload's id`);
        }
        // the first argument is the payload alone, as before streams existed
        assert.deepEqual(got[3].args[0], { n: 1 });
        assert.equal(got[4].args[0], 'text');
        assert.equal(got[6].args[0], null);
      } finally {
        disconnect(sock);
      }
    });

    test('welcome, user_online, user_offline and events to system_presence have no second argument', async () => {
      const observer = await srv.open(uid('obs'), ['system_presence'], { transports });
      try {
        assertNoMeta(observer.__events[0].args, 'welcome');
        assertPresenceSubscribed(await emitAck(observer, 'subscribe', { room: 'system_presence' }), { includes: [observer.welcome.userId] });
        const who = uid('who');
        const online = waitFor(observer, 'user_online', 3000, (p) => p?.userId === who);
        const s = await srv.open(who);
        await online;
        const offline = waitFor(observer, 'user_offline', 3000, (p) => p?.userId === who);
        disconnect(s);
        await offline;
        for (const event of ['user_online', 'user_offline']) {
          const entries = observer.__events.filter((e) => e.event === event && e.args[0]?.userId === who);
          assert.equal(entries.length, 1);
          assertNoMeta(entries[0].args, event);
        }
        // system_presence has no stream, so even a custom event sent to it carries no meta
        const custom = waitFor(observer, 'system_check');
        await srv.publish('/api/v1/rooms/system_presence/events', { event: 'system_check', data: { ok: 1 } });
        await custom;
        assertNoMeta(observer.__events.at(-1).args, 'system_check to system_presence');
        assert.deepEqual(streamEvents(observer, 'system_presence'), [], 'system_presence is no stream');
      } finally {
        disconnect(observer);
      }
    });
  });
}
