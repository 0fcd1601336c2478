// --socket-buffer-events and contract section 8 "Slow sockets": a socket whose queue of N events
// is full is not silently skipped. It is taken out of its
// rooms (so nothing more piles up and no later event overtakes a lost one), has its transport
// closed (a long-polling session is refused from then on, as an unknown one would be: clients
// take that for a lost link and reconnect) and is counted in switchyard_slow_consumers_total;
// what it missed stays in the streams, and a reconnect with its position gets exactly that: a
// slow link costs a reconnect, never a gap. slow-reconnect.test.js does the same over websocket
// with the stock client reconnecting by itself.
//
// A raw Engine.IO long-polling session (lib/polling.js) is the one client that provably stops
// reading: between two GET polls every packet for it waits in the server's per-socket queue.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedServer, sharedServers, uid, until, connect, disconnect, emitAck, streamEvents } from '../lib/server.js';
import { openPolling, eventsOf, ackOf, isClosed } from '../lib/polling.js';
import { assertSubscribed, assertWelcome } from '../lib/assertions.js';

const BUFFER = 5;
const SENT = BUFFER + 3;

/**
 * A raw polling socket of a fresh user, subscribed to a ticket room, that stops reading while
 * SENT notifications are published to its user. Resolves before anything is polled again.
 */
async function overflow(srv) {
  const user = uid('slow');
  const ticketRoom = `ticket_${uid('T')}`;
  const tok = await srv.token({ sub: user, rooms: ['ticket_*'] });
  const session = await openPolling(srv, { token: tok });
  const welcome = eventsOf(session.packets, 'welcome')[0][1];

  // a subscription, so there is a room besides the user room to be taken out of
  await session.send(`421${JSON.stringify(['subscribe', { room: ticketRoom }])}`);
  for (let i = 0; i < 5 && ackOf(session.packets, 1) === undefined; i++) await session.poll();
  assertSubscribed(ackOf(session.packets, 1)?.[0], ticketRoom);
  const before = await listed(srv, session.sid);
  assert.deepEqual(before.rooms, [ticketRoom, `user_${user}`].sort());

  // The client now stops polling; the server queues for it until the queue is full.
  const ids = [];
  for (let i = 0; i < SENT; i++) {
    const r = await srv.api('POST', `/api/v1/users/${user}/notifications`, { type: 'info', message: `n${i}` });
    assert.equal(r.status, 202, 'the API call itself succeeds: one slow socket does not fail a publish');
    ids.push(r.body.id);
  }
  return { user, ticketRoom, session, welcome, ids, seen: session.packets.length };
}

/**
 * A ticket room whose stream holds `missed` updates (u1, u2, ...) that no client has read;
 * resolves with its ticket id, room and the stream's epoch.
 */
async function missedTicket(srv, missed) {
  const ticketId = uid('T');
  const room = `ticket_${ticketId}`;
  const probe = await srv.open(uid('p'), [room]);
  const { epoch } = assertSubscribed(await emitAck(probe, 'subscribe', { room }), room);
  disconnect(probe);
  for (let i = 0; i < missed; i++) await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { message: `u${i + 1}` });
  return { ticketId, room, epoch };
}

/** The offsets of `stream`'s events among what a polling `session` has received, in order. */
const offsetsOf = (session, stream) =>
  eventsOf(session.packets)
    .filter(([, , meta]) => meta?.stream === stream)
    .map(([, , meta]) => meta.offset);

/** The entry of GET /api/v1/sockets for socket `sid` (undefined once it has gone). */
async function listed(srv, sid) {
  const res = await srv.api('GET', '/api/v1/sockets');
  assert.equal(res.status, 200, res.text);
  return res.body.sockets.find((s) => s.id === sid);
}

describe('--socket-buffer-events (slow consumers)', () => {
  const srv = sharedServer({ args: ['--socket-buffer-events', String(BUFFER)] });

  test(`a socket whose ${BUFFER} queued events are not collected is taken out of its rooms, disconnected and counted`, async () => {
    const slowBefore = await srv.metric('switchyard_slow_consumers_total');
    const { user, session, ids, seen } = await overflow(srv);

    // Before it reads anything: still connected, but already out of every room, its own user
    // room included, so nothing more is queued behind the full queue.
    const entry = await listed(srv, session.sid);
    assert.ok(entry, 'the socket is still connected while its queue is full');
    assert.deepEqual(entry.rooms, [], 'the slow socket has left all its rooms');
    assert.equal(await srv.metric('switchyard_slow_consumers_total'), slowBefore + 1, 'counted once as a slow consumer');

    // Reading again: the session is refused as Engine.IO refuses an unknown one, which a client
    // takes for a lost transport and reconnects after. What was queued for it is dropped, and
    // no DISCONNECT ever reaches it: a stock socket.io-client would not reconnect after one.
    const first = await session.poll();
    assert.equal(first.status, 400, 'the slow session is cut');
    assert.deepEqual(first.packets, [], 'nothing of the cut session reaches the client');
    const again = await session.poll();
    assert.equal(again.status, 400, 'and it stays cut');
    assert.ok(!isClosed(session.packets.slice(seen)), 'no DISCONNECT (it would stop the client from reconnecting)');
    assert.ok(ids.length === SENT, 'every publish was accepted');

    await until(async () => (await srv.presence(user)).online === false, { message: 'the slow user to be offline' });
    assert.equal(await listed(srv, session.sid), undefined, 'the socket is gone');
  });

  test('the disconnected slow socket reconnects with its position and gets exactly what it missed', async () => {
    const { user, session, ids, welcome, seen } = await overflow(srv);
    assert.equal((await session.poll()).status, 400, 'the slow session is cut');
    assert.deepEqual(eventsOf(session.packets.slice(seen), 'notification'), [], 'none of the queued events got through');

    // It reconnects from the last position it holds: the welcome's (nothing of the stream read).
    const own = `user_${user}`;
    const from = welcome.streams[own];
    const sock = await connect(srv.url, undefined, {
      auth: { token: await srv.token({ sub: user }), since: { [own]: { epoch: from.epoch, offset: from.offset } } },
    });
    try {
      const streams = assertWelcome(sock.welcome, user, { socketId: sock.id, recovered: { own: true } });
      assert.equal(streams.own.epoch, from.epoch, 'the same life of the stream');
      assert.equal(streams.own.offset, from.offset + SENT, 'the top: every notification was kept in the stream');
      await until(() => streamEvents(sock, own).length === SENT, { message: 'the missed notifications' });
      const replayed = streamEvents(sock, own);
      assert.deepEqual(
        replayed.map((e) => [e.payload.message, e.meta.offset, e.meta.id]),
        ids.map((id, i) => [`n${i}`, from.offset + i + 1, id]),
        'all of them, once each, in order, right after the welcome',
      );
      assert.ok(replayed[0].index > 0, 'after the welcome');
    } finally {
      disconnect(sock);
    }
  });

  for (const [event, packet] of [
    ['unsubscribe', (room) => `422${JSON.stringify(['unsubscribe', { room }])}`],
    ['subscribe', () => `422${JSON.stringify(['subscribe', { room: `ticket_${uid('T2')}` }])}`],
  ]) {
    test(`an answer (${event}) that finds the queue full is not dropped: the socket is a slow consumer, cut, and reconnects`, async () => {
      const user = uid('full');
      const ticketRoom = `ticket_${uid('T')}`;
      const session = await openPolling(srv, { token: await srv.token({ sub: user, rooms: ['ticket_*'] }) });
      await session.send(`421${JSON.stringify(['subscribe', { room: ticketRoom }])}`);
      for (let i = 0; i < 5 && ackOf(session.packets, 1) === undefined; i++) await session.poll();
      assertSubscribed(ackOf(session.packets, 1)?.[0], ticketRoom);
      const slowBefore = await srv.metric('switchyard_slow_consumers_total');
      // Exactly a queue's worth: full, not yet over.
      for (let i = 0; i < BUFFER; i++) {
        assert.equal((await srv.api('POST', `/api/v1/users/${user}/notifications`, { type: 'info', message: `n${i}` })).status, 202);
      }
      assert.equal(await srv.metric('switchyard_slow_consumers_total'), slowBefore, 'a full queue alone is not slow');
      assert.deepEqual((await listed(srv, session.sid))?.rooms, [ticketRoom, `user_${user}`].sort());
      // The answer has no room: it is not silently lost.
      await session.send(packet(ticketRoom));
      await until(async () => (await srv.metric('switchyard_slow_consumers_total')) > slowBefore, {
        message: 'the socket whose answer did not fit to be a slow consumer',
      });
      assert.deepEqual((await listed(srv, session.sid))?.rooms ?? [], [], 'out of its rooms');
      assert.equal((await session.poll()).status, 400, 'and cut, so the client reconnects');
    });
  }
});

// A socket found slow while the server replays to it must stay out of its rooms: joining after
// the replay (the subscribe's answer, the welcome's joins) would hand it live events that come
// after the ones it lost, a gap on one connection, which section 8 rules out ("not silently
// skipped ... never a gap"; "strictly consecutive offsets"). These caught exactly that bug.
describe('a socket found slow during its replay', () => {
  // --recovery-max-wait 0s: a replay that does not fit is found slow at once, the boundary of
  // the wait (the default 2 s would pace it; see the next describe).
  const srv = sharedServer({ args: ['--socket-buffer-events', String(BUFFER), '--recovery-max-wait', '0s'] });
  const MISSED = 20; // far more than the queue holds

  /**
   * Read `session` until its end, publishing one live event (`publishLive`) as soon as the
   * first read has drained the queue; resolves with the offsets of `stream` received.
   */
  async function drainWithLiveEvent(session, stream, publishLive) {
    const from = session.packets.length;
    for (let i = 0; i < 6 && !isClosed(session.packets.slice(from)); i++) {
      const { status } = await session.poll();
      if (status !== 200) break;
      if (i === 0) await publishLive();
    }
    return offsetsOf(session, stream);
  }

  const consecutiveFromOne = (offsets) => offsets.every((o, i) => o === i + 1);

  test('subscribe { since } whose replay overflows: out of the room, and no live event after the gap', async () => {
    const { ticketId, room, epoch } = await missedTicket(srv, MISSED);

    const slowBefore = await srv.metric('switchyard_slow_consumers_total');
    const session = await openPolling(srv, { token: await srv.token({ sub: uid('slow'), rooms: ['ticket_*'] }) });
    await session.send(`421${JSON.stringify(['subscribe', { room, since: { epoch, offset: 0 } }])}`);
    await until(async () => (await srv.metric('switchyard_slow_consumers_total')) > slowBefore, {
      message: 'the replay to overflow the queue (a slow consumer counted)',
    });
    const roomsWhenSlow = (await listed(srv, session.sid))?.rooms ?? [];

    const offsets = await drainWithLiveEvent(session, room, () =>
      srv.publish(`/api/v1/tickets/${ticketId}/updates`, { message: 'live' }),
    );
    assert.ok(isClosed(session.packets) || offsets.length === 0, 'the slow socket is disconnected');
    assert.ok(consecutiveFromOne(offsets), `offsets on the slow connection have no gap: got ${offsets}`);
    assert.deepEqual(roomsWhenSlow, [], 'once found slow, the socket is out of its rooms (it was put back into the room)');
    const ack = ackOf(session.packets, 1)?.[0];
    if (ack?.ok) assert.equal(ack.offset, offsets.at(-1), 'an ack, if it gets through, is at the last event delivered before it');
  });

  test('auth.since whose replay overflows: out of its rooms, and no live event after the gap', async () => {
    const user = uid('slow');
    const own = `user_${user}`;
    const probe = await srv.open(user);
    const { epoch } = probe.welcome.streams[own];
    disconnect(probe);
    await until(async () => (await srv.presence(user)).online === false, { message: 'the probe to be gone' });
    for (let i = 0; i < MISSED; i++) await srv.notify(user, `n${i + 1}`);

    const slowBefore = await srv.metric('switchyard_slow_consumers_total');
    const session = await openPolling(
      srv,
      { token: await srv.token({ sub: user }), since: { [own]: { epoch, offset: 0 } } },
      { waitWelcome: false }, // the welcome and its replay overflow the queue before any read
    );
    await until(async () => (await srv.metric('switchyard_slow_consumers_total')) > slowBefore, {
      message: 'the replay to overflow the queue (a slow consumer counted)',
    });
    const roomsWhenSlow = (await listed(srv, session.sid))?.rooms ?? [];

    const offsets = await drainWithLiveEvent(session, own, () => srv.notify(user, 'live'));
    assert.ok(consecutiveFromOne(offsets), `offsets on the slow connection have no gap: got ${offsets}`);
    assert.deepEqual(roomsWhenSlow, [], 'once found slow, the socket is out of its rooms (it was put back into its user room)');
  });
});

// --recovery-max-wait: a replay larger than the socket's queue goes out at the pace the client
// reads it, waiting for room up to that long in total; only a client that does not read within
// it is a slow consumer. (0s, never wait, is the boundary tested above.)
describe('--recovery-max-wait (a replay larger than the queue)', () => {
  const MISSED = 4 * BUFFER;
  const [patient, brief] = sharedServers(
    { args: ['--socket-buffer-events', String(BUFFER), '--recovery-max-wait', '60s'] },
    { args: ['--socket-buffer-events', String(BUFFER), '--recovery-max-wait', '1500ms'] },
  );

  test(`a client that keeps reading gets a replay ${MISSED / BUFFER} times its queue, whole, then its answer, and stays connected`, async () => {
    const srv = patient;
    const { ticketId, room, epoch } = await missedTicket(srv, MISSED);
    const slowBefore = await srv.metric('switchyard_slow_consumers_total');
    const session = await openPolling(srv, { token: await srv.token({ sub: uid('reader'), rooms: ['ticket_*'] }) });
    await session.send(`421${JSON.stringify(['subscribe', { room, since: { epoch, offset: 0 } }])}`);
    for (let i = 0; i < 4 * MISSED && ackOf(session.packets, 1) === undefined; i++) {
      assert.equal((await session.poll()).status, 200, 'the reading session is never cut');
    }
    const pos = assertSubscribed(ackOf(session.packets, 1)?.[0], room, { recovered: true });
    assert.deepEqual([pos.epoch, pos.offset], [epoch, MISSED], 'the answer is at the top');
    assert.deepEqual(offsetsOf(session, room), Array.from({ length: MISSED }, (_, i) => i + 1), 'every missed event, once, in order');
    const ackAt = session.packets.findIndex((p) => p.startsWith('431['));
    const lastEventAt = session.packets.findLastIndex((p) => p.startsWith('42') && p.includes(`"offset":${MISSED}`));
    assert.ok(lastEventAt < ackAt, 'the answer comes after the replay');
    assert.equal(await srv.metric('switchyard_slow_consumers_total'), slowBefore, 'not a slow consumer');
    assert.deepEqual((await listed(srv, session.sid))?.rooms.includes(room), true, 'in the room after the replay');

    // And it is live from there: the next update follows at once, consecutive.
    await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { message: 'live' });
    for (let i = 0; i < 5 && offsetsOf(session, room).length === MISSED; i++) await session.poll();
    assert.deepEqual(offsetsOf(session, room).slice(MISSED), [MISSED + 1], 'the live event follows the replay');
    assert.ok(!isClosed(session.packets), 'still connected');
  });

  test('a client that stops reading is found slow once the wait is over, not before', async () => {
    const srv = brief;
    const { room, epoch } = await missedTicket(srv, MISSED);
    const slowBefore = await srv.metric('switchyard_slow_consumers_total');
    const session = await openPolling(srv, { token: await srv.token({ sub: uid('stalled'), rooms: ['ticket_*'] }) });
    const sent = Date.now();
    await session.send(`421${JSON.stringify(['subscribe', { room, since: { epoch, offset: 0 } }])}`);
    // Well inside the 1.5 s it may wait: the replay is waiting for room, not given up.
    await sleep(500);
    if (Date.now() - sent < 1400) {
      assert.equal(await srv.metric('switchyard_slow_consumers_total'), slowBefore, 'not slow while the wait lasts');
    }
    await until(async () => (await srv.metric('switchyard_slow_consumers_total')) > slowBefore, {
      timeoutMs: 10_000,
      message: 'the stalled replay to make it a slow consumer',
    });
    assert.ok(Date.now() - sent >= 1500, 'found slow no sooner than --recovery-max-wait');
    assert.deepEqual((await listed(srv, session.sid))?.rooms ?? [], [], 'out of its rooms');
    assert.equal((await session.poll()).status, 400, 'and cut');
  });
});
