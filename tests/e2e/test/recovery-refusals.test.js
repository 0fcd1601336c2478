// Contract section 8, "could not recover": every reason a since cannot be honoured gets its
// answer and nothing is replayed, never a partial or wrong replay:
// - wrong epoch, since ahead of the top, history trimmed (more than --history-size missed), more
//   than --recovery-max-events missed: `recovered: false` with the current top, then live
//   events from there, and switchyard_recoveries_total{outcome} counts the reason;
// - a malformed since: `invalid_payload`, the room is not joined, nothing counted;
// - a server restart: a new epoch, so a position from before it is never replayed against the
//   new history.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, startServer, connect, disconnect, emitAck, waitFor, streamEvents, uid, until, metricValue } from '../lib/server.js';
import { assertAckError, assertMeta, assertNothingBeforeMarker, assertSubscribed, assertWelcome } from '../lib/assertions.js';

const HISTORY = 10; // --history-size
const MAX_REPLAY = 5; // --recovery-max-events
const PUBLISHED = 15; // events per room: offsets 1..15, of which 6..15 are retained
const OUTCOMES = ['recovered', 'wrong_epoch', 'ahead', 'trimmed', 'too_many'];

async function outcomes(srv) {
  const { text } = await srv.metrics();
  return Object.fromEntries(OUTCOMES.map((o) => [o, metricValue(text, 'switchyard_recoveries_total', { outcome: o })]));
}

/** A fresh ticket room with PUBLISHED updates; resolves with { room, ticketId, top, ids }. */
async function filledRoom(srv) {
  const ticketId = uid('T');
  const ids = [];
  for (let i = 1; i <= PUBLISHED; i++) ids.push((await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { message: `u${i}` })).id);
  return { room: `ticket_${ticketId}`, ticketId, ids };
}

describe(`subscribe { room, since } refused (--history-size ${HISTORY}, --recovery-max-events ${MAX_REPLAY})`, () => {
  const srv = sharedServer({ args: ['--history-size', String(HISTORY), '--recovery-max-events', String(MAX_REPLAY)] });

  for (const transports of [['websocket'], ['polling']]) {
    describe(`over ${transports[0]}`, () => {
      // [name, since(epoch) for a room whose stream holds 6..15 of 15, outcome]
      const refusals = [
        ['a wrong epoch', (epoch) => ({ epoch: `${epoch}x`, offset: 12 }), 'wrong_epoch'],
        ['an epoch of 64 characters (the longest accepted) that is not the stream\'s', () => ({ epoch: 'e'.repeat(64), offset: 12 }), 'wrong_epoch'],
        ['a since ahead of the top', (epoch) => ({ epoch, offset: PUBLISHED + 1 }), 'ahead'],
        ['a since far ahead (the largest safe integer)', (epoch) => ({ epoch, offset: Number.MAX_SAFE_INTEGER }), 'ahead'],
        [`more than --history-size missed (from 0)`, (epoch) => ({ epoch, offset: 0 }), 'trimmed'],
        ['the event right after since was trimmed (from 4: 5 is gone)', (epoch) => ({ epoch, offset: PUBLISHED - HISTORY - 1 }), 'trimmed'],
        [`more than --recovery-max-events missed (from 5: 10 retained events)`, (epoch) => ({ epoch, offset: PUBLISHED - HISTORY }), 'too_many'],
      ];
      for (const [name, makeSince, outcome] of refusals) {
        test(`${name}: recovered: false at the top, nothing replayed, then live events; counted as ${outcome}`, async () => {
          const { room, ticketId } = await filledRoom(srv);
          const sock = await srv.open(uid('r'), ['ticket_*'], { transports });
          try {
            const before = await outcomes(srv);
            // the stream's epoch, as a client that was here before would know it
            const probe = await srv.open(uid('p'), ['ticket_*']);
            const { epoch } = assertSubscribed(await emitAck(probe, 'subscribe', { room }), room);
            disconnect(probe);

            const ack = await emitAck(sock, 'subscribe', { room, since: makeSince(epoch) });
            assert.deepEqual(assertSubscribed(ack, room, { recovered: false }), { epoch, offset: PUBLISHED }, 'the current top');
            await assertNothingBeforeMarker(srv, sock, 'ticket_updated', 0);
            const after = await outcomes(srv);
            assert.deepEqual(after, { ...before, [outcome]: before[outcome] + 1 }, `only ${outcome} counted`);

            // subscribed all the same: live events from the returned position on
            const live = waitFor(sock, 'ticket_updated');
            const { id } = await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { status: 'open' });
            await live;
            assertMeta(sock.__events.at(-1).args, { stream: room, epoch, offset: PUBLISHED + 1, id });
          } finally {
            disconnect(sock);
          }
        });
      }

      test(`the largest recoverable gap (exactly --recovery-max-events, all retained) is replayed`, async () => {
        const { room, ids } = await filledRoom(srv);
        const sock = await srv.open(uid('r'), ['ticket_*'], { transports });
        try {
          const before = await outcomes(srv);
          const probe = await srv.open(uid('p'), ['ticket_*']);
          const { epoch } = assertSubscribed(await emitAck(probe, 'subscribe', { room }), room);
          disconnect(probe);
          const since = { epoch, offset: PUBLISHED - MAX_REPLAY };
          const ack = await emitAck(sock, 'subscribe', { room, since });
          assert.deepEqual(assertSubscribed(ack, room, { recovered: true }), { epoch, offset: PUBLISHED });
          assert.deepEqual(
            streamEvents(sock, room).map((e) => [e.meta.offset, e.meta.id]),
            ids.slice(-MAX_REPLAY).map((id, i) => [since.offset + 1 + i, id]),
            'replayed before the ack, in order',
          );
          assert.deepEqual(await outcomes(srv), { ...before, recovered: before.recovered + 1 });
        } finally {
          disconnect(sock);
        }
      });

      test('a since does not get around the grants: forbidden, nothing replayed', async () => {
        const { room } = await filledRoom(srv);
        const probe = await srv.open(uid('p'), ['ticket_*']);
        const { epoch } = assertSubscribed(await emitAck(probe, 'subscribe', { room }), room);
        disconnect(probe);
        const sock = await srv.open(uid('nosy'), ['meter_*'], { transports });
        try {
          const before = await outcomes(srv);
          assertAckError(await emitAck(sock, 'subscribe', { room, since: { epoch, offset: 0 } }), 'forbidden');
          await assertNothingBeforeMarker(srv, sock, 'ticket_updated', 0);
          assert.deepEqual(await outcomes(srv), before);
        } finally {
          disconnect(sock);
        }
      });

      // Malformed: the subscribe is refused as a whole.
      const malformed = [
        ['offset as a string', (epoch) => ({ epoch, offset: '12' })],
        ['a negative offset', (epoch) => ({ epoch, offset: -1 })],
        ['a fractional offset', (epoch) => ({ epoch, offset: 12.5 })],
        ['an offset above the largest safe integer', (epoch) => ({ epoch, offset: 2 ** 53 })],
        ['no epoch', () => ({ offset: 12 })],
        ['no offset', (epoch) => ({ epoch })],
        ['an empty epoch', () => ({ epoch: '', offset: 12 })],
        ['an epoch that is a number', () => ({ epoch: 7, offset: 12 })],
        ['an epoch of 65 characters', () => ({ epoch: 'e'.repeat(65), offset: 12 })],
        ['an extra field', (epoch) => ({ epoch, offset: 12, extra: true })],
        ['a string instead of a position', (epoch) => `${epoch}:12`],
        ['an array', (epoch) => [epoch, 12]],
      ];
      for (const [name, makeSince] of malformed) {
        test(`malformed since (${name}): invalid_payload, not subscribed, nothing replayed or counted`, async () => {
          const { room, ticketId } = await filledRoom(srv);
          const sock = await srv.open(uid('m'), ['ticket_*'], { transports });
          try {
            const probe = await srv.open(uid('p'), ['ticket_*']);
            const { epoch } = assertSubscribed(await emitAck(probe, 'subscribe', { room }), room);
            disconnect(probe);
            const before = await outcomes(srv);
            assertAckError(await emitAck(sock, 'subscribe', { room, since: makeSince(epoch) }), 'invalid_payload');
            // not in the room: a later update does not arrive either
            await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { status: 'closed' });
            await assertNothingBeforeMarker(srv, sock, 'ticket_updated', 0);
            assert.deepEqual(await outcomes(srv), before, 'no recovery outcome counted');
          } finally {
            disconnect(sock);
          }
        });
      }
    });
  }

  describe('through auth.since (the own user room)', () => {
    // [name, since(top position), outcome]
    const refusals = [
      ['a wrong epoch', (top) => ({ epoch: `${top.epoch}x`, offset: 12 }), 'wrong_epoch'],
      ['ahead of the top', (top) => ({ epoch: top.epoch, offset: top.offset + 1 }), 'ahead'],
      ['trimmed', (top) => ({ epoch: top.epoch, offset: 0 }), 'trimmed'],
      ['too many', (top) => ({ epoch: top.epoch, offset: top.offset - HISTORY }), 'too_many'],
    ];
    for (const [name, makeSince, outcome] of refusals) {
      test(`${name}: welcome.streams says recovered: false at the top, nothing replayed`, async () => {
        const user = uid('w');
        const own = `user_${user}`;
        for (let i = 0; i < PUBLISHED; i++) await srv.notify(user, `while away ${i}`);
        const probe = await srv.open(user);
        const top = assertWelcome(probe.welcome, user).own;
        disconnect(probe);
        assert.equal(top.offset, PUBLISHED);

        const before = await outcomes(srv);
        const sock = await connect(srv.url, undefined, { auth: { token: await srv.token({ sub: user }), since: { [own]: makeSince(top) } } });
        try {
          assert.deepEqual(assertWelcome(sock.welcome, user, { recovered: { own: false } }).own, top);
          await assertNothingBeforeMarker(srv, sock, 'notification', 0);
          assert.deepEqual(await outcomes(srv), { ...before, [outcome]: before[outcome] + 1 });
        } finally {
          disconnect(sock);
        }
      });
    }
  });
});

describe('--history-size 0 (positions only, nothing to replay)', () => {
  const srv = sharedServer({ args: ['--history-size', '0'] });

  test('since at the top is recovered (nothing missed); any earlier since is trimmed', async () => {
    const ticketId = uid('T');
    const room = `ticket_${ticketId}`;
    const sock = await srv.open(uid('h0'), ['ticket_*']);
    try {
      const { epoch } = assertSubscribed(await emitAck(sock, 'subscribe', { room }), room);
      for (let i = 0; i < 2; i++) await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { status: 'open' });
      await until(() => streamEvents(sock, room).length === 2, { message: 'the 2 live updates' });
      // positions still count, so a client at the top has missed nothing
      assert.deepEqual(assertSubscribed(await emitAck(sock, 'subscribe', { room, since: { epoch, offset: 2 } }), room, { recovered: true }), { epoch, offset: 2 });
      assert.deepEqual(assertSubscribed(await emitAck(sock, 'subscribe', { room, since: { epoch, offset: 1 } }), room, { recovered: false }), { epoch, offset: 2 });
      assert.equal(streamEvents(sock, room).length, 2, 'nothing replayed');
      assert.equal(await srv.metric('switchyard_retained_events'), 0);
    } finally {
      disconnect(sock);
    }
  });
});

describe('a server restart', () => {
  for (const transports of [['websocket'], ['polling']]) {
    test(`over ${transports[0]}: a new epoch and recovered: false, never a replay of the new life's events`, async (t) => {
      const a = await startServer();
      t.after(() => a.stop());
      const user = uid('restart');
      const own = `user_${user}`;
      const ticketId = uid('T');
      const room = `ticket_${ticketId}`;

      // First life: the client holds positions in its own room, broadcast and a ticket room.
      const s1 = await a.open(user, ['ticket_*'], { transports });
      const w1 = assertWelcome(s1.welcome, user);
      assertSubscribed(await emitAck(s1, 'subscribe', { room }), room);
      for (let i = 0; i < 3; i++) await a.publish(`/api/v1/tickets/${ticketId}/updates`, { message: `old ${i}` });
      await a.notify(user, 'old');
      await until(() => streamEvents(s1, room).length === 3 && streamEvents(s1, own).length === 1, { message: 'the first life\'s events' });
      const held = {
        [room]: streamEvents(s1, room).at(-1).meta,
        [own]: streamEvents(s1, own).at(-1).meta,
        broadcast: w1.broadcast,
      };
      disconnect(s1);
      await a.stop();

      // Second life, same keys, another port: more events than the client held, so a server
      // that kept its epochs would replay the wrong ones.
      const b = await startServer({ secret: a.secret, apiKeys: a.apiKeys });
      t.after(() => b.stop());
      for (let i = 0; i < 5; i++) await b.publish(`/api/v1/tickets/${ticketId}/updates`, { message: `new ${i}` });
      for (let i = 0; i < 3; i++) await b.notify(user, `new ${i}`);
      await b.publish('/api/v1/announcements', { type: 'info', message: 'new life' });

      const pos = (m) => ({ epoch: m.epoch, offset: m.offset });
      const s2 = await connect(b.url, undefined, {
        transports,
        auth: { token: await b.token({ sub: user, rooms: ['ticket_*'] }), since: { [own]: pos(held[own]), broadcast: pos(held.broadcast) } },
      });
      try {
        const w2 = assertWelcome(s2.welcome, user, { recovered: { own: false, broadcast: false } });
        assert.notEqual(w2.own.epoch, held[own].epoch, 'the user room has a new epoch');
        assert.notEqual(w2.broadcast.epoch, held.broadcast.epoch, 'broadcast has a new epoch');
        assert.equal(w2.own.offset, 3, 'the top of the new life');
        assert.equal(w2.broadcast.offset, 1);
        const ack = assertSubscribed(await emitAck(s2, 'subscribe', { room, since: pos(held[room]) }), room, { recovered: false });
        assert.notEqual(ack.epoch, held[room].epoch, 'the ticket room has a new epoch');
        assert.equal(ack.offset, 5);
        await assertNothingBeforeMarker(b, s2, ['ticket_updated', 'notification', 'announcement'], 0);
        assert.equal(await b.metric('switchyard_recoveries_total', { outcome: 'wrong_epoch' }), 3);
        assert.equal(await b.metric('switchyard_stream_events_replayed_total'), 0);
      } finally {
        disconnect(s2);
      }
    });
  }
});
