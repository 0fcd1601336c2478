// Contract section 8, "Connect with positions" and "Retention": the user room is an offline
// inbox. Notifications sent while a user has no socket are kept (--inbox-ttl, default 24h,
// instead of --history-ttl) and a reconnect with auth.since gets them, after the welcome and in
// order; past the TTL the answer is recovered: false and nothing is replayed.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedServer, connect, disconnect, emitAck, waitFor, streamEvents, uid, until } from '../lib/server.js';
import { assertMeta, assertNothingBeforeMarker, assertSubscribed, assertWelcome } from '../lib/assertions.js';

/** Connect `user` to `srv` with `since` in auth (undefined = none). */
async function reconnect(srv, user, since, opts = {}) {
  const tok = await srv.token({ sub: user, rooms: ['ticket_*'] });
  return connect(srv.url, undefined, { ...opts, auth: since ? { token: tok, since } : { token: tok } });
}

/** Disconnect `sock` and wait until the server says its user is offline. */
async function goOffline(srv, sock) {
  disconnect(sock);
  await until(async () => (await srv.presence(sock.welcome.userId)).online === false, { message: 'the user to be offline' });
}

/** POST `n` notifications to an offline user; each 202 says online: false. Resolves with the ids. */
async function notifyOffline(srv, user, n, prefix = 'offline') {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const res = await srv.publish(`/api/v1/users/${user}/notifications`, { type: 'info', message: `${prefix} ${i}` });
    assert.equal(res.online, false, 'sent while the user has no socket');
    ids.push(res.id);
  }
  return ids;
}

// These tests let time pass beyond a TTL of 2 s. Waiting longer only makes the history older, so
// the sleep decides nothing by itself: the assertions hold for any wait over the TTL.
const TTL_ARGS = '2s';
const PAST_TTL_MS = 3000;

describe('offline inbox', () => {
  const srv = sharedServer();

  for (const transports of [['websocket'], ['polling']]) {
    test(`over ${transports[0]}: 5 notifications sent while offline arrive on reconnect, after the welcome, in order`, async () => {
      const user = uid('inbox');
      const own = `user_${user}`;
      // An earlier session: the client keeps the position of the last event it got (its meta).
      const s1 = await reconnect(srv, user, undefined, { transports });
      const first = assertWelcome(s1.welcome, user, { socketId: s1.id });
      const got = waitFor(s1, 'notification');
      const seenId = await srv.notify(user, 'seen online');
      await got;
      const seen = assertMeta(s1.__events.at(-1).args, { stream: own, id: seenId, epoch: first.own.epoch, offset: first.own.offset + 1 });
      await goOffline(srv, s1);

      const ids = await notifyOffline(srv, user, 5);

      const s2 = await reconnect(srv, user, { [own]: { epoch: seen.epoch, offset: seen.offset } }, { transports });
      try {
        // recovered only for the stream a since was given for
        const streams = assertWelcome(s2.welcome, user, { socketId: s2.id, recovered: { own: true } });
        assert.deepEqual(streams.own, { epoch: seen.epoch, offset: seen.offset + 5 }, 'the top, in the same epoch');
        await until(() => streamEvents(s2, own).length >= 5, { message: 'the 5 notifications' });
        assert.equal(s2.__events[0].event, 'welcome', 'welcome is the first event');
        const inbox = streamEvents(s2, own);
        assert.deepEqual(
          inbox.map((e) => [e.event, e.payload.message, e.payload.id, e.meta.offset]),
          ids.map((id, i) => ['notification', `offline ${i}`, id, seen.offset + 1 + i]),
          'each missed notification once, in order, with its own id',
        );
        inbox.forEach((e, i) => assertMeta([e.payload, e.meta], { stream: own, epoch: seen.epoch, id: ids[i] }, `replayed ${i}`));
        // nothing else of the stream: the marker is the next one
        await assertNothingBeforeMarker(srv, s2, 'notification', inbox.at(-1).index + 1);
      } finally {
        disconnect(s2);
      }
    });
  }

  test('auth.since also recovers the broadcast stream; other keys in since are ignored', async () => {
    const user = uid('bcast');
    const own = `user_${user}`;
    // another user's inbox, which a since naming it must not open
    const other = uid('other');
    const o1 = await reconnect(srv, other);
    const otherStart = assertWelcome(o1.welcome, other).own;
    await goOffline(srv, o1);
    await notifyOffline(srv, other, 2, 'private');
    const s1 = await reconnect(srv, user);
    const first = assertWelcome(s1.welcome, user);
    await goOffline(srv, s1);
    const ann = [];
    for (let i = 0; i < 3; i++) ann.push((await srv.publish('/api/v1/announcements', { type: 'update', message: `while away ${i}` })).id);

    const s2 = await reconnect(srv, user, {
      [own]: first.own,
      broadcast: first.broadcast,
      ticket_ignored: { epoch: 'x', offset: 1 }, // not one of the two streams: ignored
      [`user_${other}`]: otherStart, // not this user's room: ignored, nothing of it replayed
    });
    try {
      const streams = assertWelcome(s2.welcome, user, { recovered: { own: true, broadcast: true } });
      assert.deepEqual(streams.own, first.own, 'nothing was sent to the user');
      assert.deepEqual(streams.broadcast, { epoch: first.broadcast.epoch, offset: first.broadcast.offset + 3 });
      await until(() => streamEvents(s2, 'broadcast').length >= 3, { message: 'the 3 announcements' });
      assert.deepEqual(
        streamEvents(s2, 'broadcast').map((e) => [e.event, e.payload.id, e.meta.id, e.meta.offset]),
        ann.map((id, i) => ['announcement', id, id, first.broadcast.offset + 1 + i]),
      );
      assert.deepEqual(streamEvents(s2, `user_${other}`), [], "nothing of the other user's inbox");
      await assertNothingBeforeMarker(srv, s2, 'notification', 0);
    } finally {
      disconnect(s2);
    }
  });

  test('a malformed entry in auth.since is ignored (as if absent): the connection succeeds, no recovered for it', async () => {
    const user = uid('badsince');
    const own = `user_${user}`;
    const s1 = await reconnect(srv, user);
    const first = assertWelcome(s1.welcome, user);
    await goOffline(srv, s1);
    await notifyOffline(srv, user, 2);
    const s2 = await reconnect(srv, user, { [own]: { epoch: first.own.epoch, offset: 'zero' }, broadcast: first.broadcast });
    try {
      const streams = assertWelcome(s2.welcome, user, { recovered: { broadcast: true } });
      assert.equal(streams.own.offset, first.own.offset + 2, 'the own room still answers its top');
      await assertNothingBeforeMarker(srv, s2, 'notification', 0);
    } finally {
      disconnect(s2);
    }
  });
});

describe('auth.since that is not an object', () => {
  const srv = sharedServer();
  for (const since of ['user_x:3', 5, ['user_x', 3], null]) {
    test(`since = ${JSON.stringify(since)}: the connection succeeds as if there were none`, async () => {
      const user = uid('odd');
      const sock = await connect(srv.url, undefined, { auth: { token: await srv.token({ sub: user }), since } });
      try {
        assertWelcome(sock.welcome, user, { socketId: sock.id }); // no `recovered` anywhere
      } finally {
        disconnect(sock);
      }
    });
  }
});

describe(`--inbox-ttl ${TTL_ARGS}`, () => {
  const srv = sharedServer({ args: ['--inbox-ttl', TTL_ARGS] });

  test('reconnecting after the TTL: recovered: false and no replayed event', async (t) => {
    const user = uid('late');
    const own = `user_${user}`;
    const s1 = await reconnect(srv, user);
    const first = assertWelcome(s1.welcome, user);
    await goOffline(srv, s1);
    await notifyOffline(srv, user, 5);
    const trimmedBefore = await srv.metric('switchyard_recoveries_total', { outcome: 'trimmed' });
    const wrongBefore = await srv.metric('switchyard_recoveries_total', { outcome: 'wrong_epoch' });
    await sleep(PAST_TTL_MS);

    const s2 = await reconnect(srv, user, { [own]: first.own });
    try {
      const streams = assertWelcome(s2.welcome, user, { recovered: { own: false } });
      // The counter outlives the events for at least --inbox-ttl; past it the stream may start
      // a new life (a new epoch). Either way: never a position that goes back in one epoch.
      t.diagnostic(`epoch kept past the TTL: ${streams.own.epoch === first.own.epoch}`);
      if (streams.own.epoch === first.own.epoch) {
        assert.equal(streams.own.offset, first.own.offset + 5, 'same epoch: the counter kept counting');
        assert.equal(await srv.metric('switchyard_recoveries_total', { outcome: 'trimmed' }), trimmedBefore + 1);
      } else {
        assert.equal(await srv.metric('switchyard_recoveries_total', { outcome: 'wrong_epoch' }), wrongBefore + 1);
      }
      await assertNothingBeforeMarker(srv, s2, 'notification', 0);
    } finally {
      disconnect(s2);
    }
  });
});

describe(`--history-ttl ${TTL_ARGS} (--inbox-ttl left at 24h)`, () => {
  const srv = sharedServer({ args: ['--history-ttl', TTL_ARGS] });

  test('past the TTL a ticket room is trimmed (its counter kept), while the user room is still recovered', async () => {
    const user = uid('ttl');
    const own = `user_${user}`;
    const room = `ticket_${uid('T')}`;
    const s1 = await reconnect(srv, user);
    const first = assertWelcome(s1.welcome, user);
    const start = assertSubscribed(await emitAck(s1, 'subscribe', { room }), room);
    await goOffline(srv, s1);
    for (let i = 0; i < 3; i++) await srv.publish(`/api/v1/tickets/${room.slice(7)}/updates`, { status: 'open' });
    const ids = await notifyOffline(srv, user, 2);
    const trimmedBefore = await srv.metric('switchyard_recoveries_total', { outcome: 'trimmed' });
    await sleep(PAST_TTL_MS);

    const s2 = await reconnect(srv, user, { [own]: first.own });
    try {
      // the inbox: --inbox-ttl (24h) replaces --history-ttl for user rooms
      assertWelcome(s2.welcome, user, { recovered: { own: true } });
      await until(() => streamEvents(s2, own).length >= 2, { message: 'the 2 notifications' });
      assert.deepEqual(streamEvents(s2, own).map((e) => e.meta.id), ids);
      // the ticket room: its events are gone, its position counter is not
      const ack = await emitAck(s2, 'subscribe', { room, since: start });
      assert.deepEqual(assertSubscribed(ack, room, { recovered: false }), { epoch: start.epoch, offset: start.offset + 3 });
      assert.equal(await srv.metric('switchyard_recoveries_total', { outcome: 'trimmed' }), trimmedBefore + 1);
      await assertNothingBeforeMarker(srv, s2, 'ticket_updated', 0);
    } finally {
      disconnect(s2);
    }
  });
});
