// Isolation between users and rooms. "Nothing arrived" is proven by ordering: after the event
// that must not arrive, a marker is sent to the same socket; once the marker is there, anything
// sent before it would be too (Socket.IO keeps order on one connection). A short extra window
// (300 ms) then catches late, out-of-order deliveries.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedServer, disconnect, waitFor, emitAck, received, mark, uid } from '../lib/server.js';
import { assertAckError } from '../lib/assertions.js';

const srv = sharedServer();

for (const transports of [['websocket'], ['polling']]) {
  describe(`over ${transports[0]}`, () => {
    test("user A never receives user B's notifications", async () => {
      const aId = uid('A');
      const bId = uid('B');
      const a = await srv.open(aId, ['*'], { transports }); // even a token allowing every room
      const b1 = await srv.open(bId, undefined, { transports });
      const b2 = await srv.open(bId, undefined, { transports });
      try {
        const fromA = mark(a);
        const secret = `for B only ${uid('s')}`;
        const onB1 = waitFor(b1, 'notification', 3000, (n) => n?.message === secret);
        const onB2 = waitFor(b2, 'notification', 3000, (n) => n?.message === secret);
        const bNoteId = await srv.notify(bId, secret);
        assert.equal((await onB1).id, bNoteId, 'B (device 1) did receive it');
        assert.equal((await onB2).id, bNoteId, 'B (device 2) did receive it');

        // marker for A, sent after B's notification
        const markerText = `marker ${uid('m')}`;
        const onMarker = waitFor(a, 'notification', 3000, (n) => n?.message === markerText);
        const markerId = await srv.notify(aId, markerText);
        await onMarker;
        await sleep(300);
        const got = received(a, 'notification', fromA);
        assert.deepEqual(
          got.map((n) => n.id),
          [markerId],
          `A received only its own marker, not B's notification: ${JSON.stringify(got)}`,
        );
      } finally {
        [a, b1, b2].forEach(disconnect);
      }
    });
  });
}

test("custom events to user_B do not reach A, and A cannot subscribe to B's room", async () => {
  const aId = uid('A');
  const bId = uid('B');
  const a = await srv.open(aId, ['ticket_*', 'meter_*', 'system_*']);
  const b = await srv.open(bId);
  try {
    assertAckError(await emitAck(a, 'subscribe', { room: `user_${bId}` }), 'forbidden');
    const fromA = mark(a);
    const onB = waitFor(b, 'user_secret');
    const res = await srv.api('POST', `/api/v1/rooms/user_${bId}/events`, { event: 'user_secret', data: { pin: 1234 } });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(await onB, { pin: 1234 });
    const onMarker = waitFor(a, 'notification');
    await srv.notify(aId, 'marker');
    await onMarker;
    await sleep(300);
    assert.deepEqual(received(a, 'user_secret', fromA), []);
  } finally {
    disconnect(a);
    disconnect(b);
  }
});

test('ticket and meter events stay in their rooms', async () => {
  const t1 = uid('T');
  const t2 = uid('T');
  const m1 = uid('M');
  const one = await srv.open(uid('one'), ['ticket_*', 'meter_*']);
  const two = await srv.open(uid('two'), ['ticket_*', 'meter_*']);
  try {
    assert.equal((await emitAck(one, 'subscribe', { room: `ticket_${t1}` })).ok, true);
    assert.equal((await emitAck(one, 'subscribe', { room: `meter_${m1}` })).ok, true);
    assert.equal((await emitAck(two, 'subscribe', { room: `ticket_${t2}` })).ok, true);
    const fromTwo = mark(two);
    const fromOne = mark(one);

    const onTicket = waitFor(one, 'ticket_updated');
    assert.equal((await srv.api('POST', `/api/v1/tickets/${t1}/updates`, { priority: 'urgent' })).status, 202);
    assert.equal((await onTicket).ticketId, t1);
    const onMeter = waitFor(one, 'meter_reading');
    const reading = { reading: 7, timestamp: '2024-01-01T00:00:00Z', unit: 'therm' };
    assert.equal((await srv.api('POST', `/api/v1/meters/${m1}/readings`, reading)).status, 202);
    assert.equal((await onMeter).meterId, m1);

    // `two`'s own ticket update is the marker: it is sent after both
    const onT2 = waitFor(two, 'ticket_updated');
    assert.equal((await srv.api('POST', `/api/v1/tickets/${t2}/updates`, { priority: 'low' })).status, 202);
    assert.equal((await onT2).ticketId, t2);
    await sleep(300);
    assert.deepEqual(received(two, 'ticket_updated', fromTwo).map((e) => e.ticketId), [t2]);
    assert.deepEqual(received(two, 'meter_reading', fromTwo), []);
    assert.deepEqual(received(one, 'ticket_updated', fromOne).map((e) => e.ticketId), [t1], 'one did not get t2');
  } finally {
    disconnect(one);
    disconnect(two);
  }
});
