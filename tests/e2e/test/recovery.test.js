// Contract section 8, "nothing lost", under load: a client whose transport is killed again and
// again while the API publishes at full speed ends up with every event exactly once, in order,
// by recovering from its positions (auth.since for its own room and broadcast, subscribe
// { since } for the rest) on each reconnect. Then the ordering rules of a resubscribe while
// events keep coming, and subscribing again to a room the socket is already in.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, connect, disconnect, emitAckAt, uid, until, metricValue, streamEvents } from '../lib/server.js';
import { assertMeta, assertNothingBeforeMarker, assertSubscribed, assertWelcome } from '../lib/assertions.js';
import { Tracker } from '../lib/tracker.js';

const TICKETS = 10_000; // ticket updates per transport
const IN_FLIGHT = 20; // concurrent API requests
const NOTE_EVERY = 50; // a notification to the client's user after every 50th ticket update
const ANNOUNCE_EVERY = 500; // and an announcement (stream "broadcast") after every 500th
// Transport kills, by the number of ticket updates published so far: mid-stream, so each
// reconnect has missed something
const KILL_AT = [1500, 3500, 5500, 7500, 9000];

describe(`${TICKETS} ticket updates at full speed while the transport is killed ${KILL_AT.length} times`, () => {
  const srv = sharedServer({
    args: [
      '--history-size', '20000',
      '--recovery-max-events', '20000',
      // large enough that the client is never a slow consumer: this test is about recovery
      // from dropped transports, not about slow sockets
      '--socket-buffer-events', '100000',
    ],
  });

  for (const transports of [['websocket'], ['polling']]) {
    test(`over ${transports[0]}: every event exactly once, in order, every recovery recovered`, { timeout: 120_000 }, async (t) => {
      const user = uid('rec');
      const own = `user_${user}`;
      const room = `ticket_${uid('T')}`;
      const ticketId = room.slice('ticket_'.length);
      const tok = await srv.token({ sub: user, rooms: ['ticket_*'] });
      const metricsBefore = await recoveryMetrics(srv);

      const tracker = new Tracker();
      const welcomes = []; // { since, welcome, index } per connection
      const acks = []; // { since, ack, at } per subscribe: `at` = log length when the ack came
      let handshakeSince; // what the latest handshake asked for
      let sock;
      const connected = connect(srv.url, undefined, {
        transports,
        reconnection: true,
        reconnectionDelay: 20,
        reconnectionDelayMax: 100,
        reconnectionAttempts: 50, // bounded: a server that keeps refusing fails the test
        // A function, so every reconnect's handshake carries the tracker's latest positions.
        auth: (cb) => {
          handshakeSince = tracker.since([own, 'broadcast']);
          cb(Object.keys(handshakeSince).length ? { token: tok, since: handshakeSince } : { token: tok });
        },
        setup(s) {
          sock = s;
          tracker.attach(s);
          s.on('welcome', (welcome) => {
            // the event log's onAny ran first: the welcome is the last entry
            welcomes.push({ since: handshakeSince, welcome, index: s.__events.length - 1 });
            // the first connection starts where the two streams stand
            if (!tracker.position(own)) tracker.reset(own, welcome.streams[own]);
            if (!tracker.position('broadcast')) tracker.reset('broadcast', welcome.streams.broadcast);
          });
          // On every (re)connect: (re)subscribe to the ticket room from where the tracker is.
          s.on('connect', () => {
            const since = tracker.position(room);
            const entry = { since };
            acks.push(entry);
            emitAckAt(s, 'subscribe', since ? { room, since } : { room }, 10_000).then(
              ({ ack, at }) => {
                Object.assign(entry, { ack, at });
                if (!since && ack?.ok) tracker.reset(room, ack);
              },
              (err) => {
                entry.error = err.message;
              },
            );
          });
        },
      });
      await connected;
      try {
        await until(() => acks[0]?.ack, { message: 'the first subscribe ack' });
        assertSubscribed(acks[0].ack, room);
        assert.equal(acks[0].ack.offset, 0, 'a fresh ticket room starts at 0');

        // Publish at full speed, killing the transport at the KILL_AT points.
        const published = { tickets: new Map(), notes: [], announcements: [] }; // seq -> id
        let next = 0;
        let done = 0;
        const kills = [];
        const worker = async () => {
          while (next < TICKETS) {
            const seq = next++;
            const { id } = await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { message: `seq ${seq}` });
            published.tickets.set(seq, id);
            const n = ++done; // this worker's count: `done` moves on while it awaits
            if (n % NOTE_EVERY === 0) published.notes.push(await srv.notify(user, `note ${n}`));
            if (n % ANNOUNCE_EVERY === 0) {
              const a = await srv.publish('/api/v1/announcements', { type: 'info', message: `ann ${uid('a')}` });
              published.announcements.push(a.id);
            }
            if (kills.length < KILL_AT.length && n >= KILL_AT[kills.length]) {
              // only a client that is back and resubscribed is killed again, so every
              // subscribe gets its answer
              const ready = sock.connected && acks.at(-1).ack !== undefined;
              kills.push({ at: n, ready });
              // the transport dies under the client (as a dropped mobile link would)
              if (ready) sock.io.engine.close();
            }
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

        const want = { tickets: TICKETS, notes: published.notes.length, ann: published.announcements.length };
        // (a gap ends the wait at once: the events before it are not coming any more)
        await until(
          () =>
            tracker.gaps.length > 0 ||
            (sock.connected &&
            acks.at(-1).ack &&
            tracker.events(room).length >= want.tickets &&
            tracker.events(own).length >= want.notes &&
            tracker.events('broadcast').length >= want.ann),
          {
            timeoutMs: 60_000,
            intervalMs: 100,
            message: () =>
              `all events (tickets ${tracker.events(room).length}/${want.tickets}, notes ` +
              `${tracker.events(own).length}/${want.notes}, announcements ${tracker.events('broadcast').length}/${want.ann})`,
          },
        );

        // The transport really was killed mid-stream, and the client came back each time.
        const reconnects = acks.length - 1;
        const killed = kills.filter((k) => k.ready).length;
        assert.ok(killed >= 3, `at least 3 kills of a connected client: ${JSON.stringify(kills)}`);
        assert.equal(reconnects, killed, 'one reconnect per kill');
        assert.equal(welcomes.length, acks.length, 'one welcome per connection');

        // The kills cost events that had to be recovered (else this test proves nothing).
        const replays = acks.slice(1).map(({ since, ack }) => ack.offset - since.offset);
        assert.ok(replays.reduce((a, b) => a + b, 0) > 0, `ticket events replayed per reconnect: ${replays}`);
        t.diagnostic(`kills at ${JSON.stringify(kills)}; ticket events replayed per reconnect: ${replays}`);

        // Every recovery was a recovery: the resubscribes' acks and the welcomes' streams.
        for (const [i, { since, ack, error, at }] of acks.entries()) {
          assert.equal(error, undefined, `subscribe ${i} answered`);
          if (i === 0) continue;
          const pos = assertSubscribed(ack, room, { recovered: true });
          assert.equal(pos.epoch, since.epoch, 'same epoch: the server did not restart');
          assert.ok(pos.offset >= since.offset, `ack ${i} is at or after its since`);
          // the missed events came before the ack, every later one after it
          const before = tracker.events(room).filter((e) => e.meta.offset > since.offset && e.meta.offset <= pos.offset);
          assert.equal(before.length, pos.offset - since.offset, `ack ${i}: every missed event was replayed`);
          assert.ok(before.every((e) => e.index < at), `ack ${i}: the replay arrives before the ack`);
          const after = tracker.events(room).filter((e) => e.index >= at && (i + 1 === acks.length || e.index < acks[i + 1].at));
          assert.ok(after.every((e) => e.meta.offset > pos.offset), `ack ${i}: only later events after the ack`);
        }
        for (const [i, { since, welcome, index }] of welcomes.entries()) {
          if (i === 0) {
            assertWelcome(welcome, user);
            continue;
          }
          const streams = assertWelcome(welcome, user, { recovered: { own: true, broadcast: true } });
          for (const [name, pos] of [[own, streams.own], ['broadcast', streams.broadcast]]) {
            assert.equal(pos.epoch, since[name].epoch, `welcome ${i}: ${name} kept its epoch`);
            const missed = tracker.events(name).filter((e) => e.meta.offset > since[name].offset && e.meta.offset <= pos.offset);
            assert.equal(missed.length, pos.offset - since[name].offset, `welcome ${i}: every missed ${name} event`);
            assert.ok(missed.every((e) => e.index > index), `welcome ${i}: ${name}'s replay follows the welcome`);
          }
        }

        // What the client holds: each stream exactly once, in order, consecutive from 1, with
        // the API's ids. A new connection only ever gets what it asked for, so there is not
        // even a duplicate for the tracker to drop.
        assert.deepEqual(tracker.gaps, [], 'no gap in any stream');
        assert.deepEqual(tracker.duplicates, [], 'no event delivered twice');
        const epoch = acks[0].ack.epoch;
        const tickets = tracker.events(room);
        assert.equal(tickets.length, TICKETS);
        const idOf = new Map([...published.tickets].map(([seq, id]) => [id, seq]));
        const seqs = new Set();
        tickets.forEach(({ event, payload, meta }, i) => {
          if (meta.offset !== i + 1 || meta.epoch !== epoch || event !== 'ticket_updated') {
            assert.fail(`ticket event ${i}: ${event} ${JSON.stringify(meta)} (want offset ${i + 1} of epoch ${epoch})`);
          }
          const seq = idOf.get(meta.id);
          if (seq === undefined || payload.message !== `seq ${seq}` || payload.ticketId !== ticketId) {
            assert.fail(`ticket event ${i} is not one the API accepted: ${JSON.stringify([payload, meta])}`);
          }
          seqs.add(seq);
        });
        assert.equal(seqs.size, TICKETS, 'each published update once');
        assertStream(tracker.events(own), published.notes, 'notification', welcomes[0].welcome.streams[own]);
        assertStream(tracker.events('broadcast'), published.announcements, 'announcement', welcomes[0].welcome.streams.broadcast);

        // The server counted each recovery (three streams per reconnect) and each replayed event.
        const metricsAfter = await recoveryMetrics(srv);
        assert.equal(metricsAfter.recovered - metricsBefore.recovered, 3 * reconnects, 'switchyard_recoveries_total{outcome="recovered"}');
        let replayed = 0;
        for (const { since, ack } of acks.slice(1)) replayed += ack.offset - since.offset;
        for (const { since, welcome } of welcomes.slice(1)) {
          replayed += welcome.streams[own].offset - since[own].offset;
          replayed += welcome.streams.broadcast.offset - since.broadcast.offset;
        }
        assert.equal(metricsAfter.replayed - metricsBefore.replayed, replayed, 'switchyard_stream_events_replayed_total');
      } finally {
        disconnect(sock);
      }
    });
  }
});

/** The accepted events of a stream are exactly `ids`, in publish order, consecutive from `start`. */
function assertStream(events, ids, event, start) {
  assert.deepEqual(
    events.map((e) => [e.event, e.meta.offset, e.meta.id, e.payload.id]),
    ids.map((id, i) => [event, start.offset + i + 1, id, id]),
    `${event}s: each once, in order, payload id = meta id = the API's id`,
  );
  for (const e of events) assertMeta([e.payload, e.meta], { epoch: start.epoch }, event);
}

async function recoveryMetrics(srv) {
  const { text } = await srv.metrics();
  return {
    recovered: metricValue(text, 'switchyard_recoveries_total', { outcome: 'recovered' }),
    replayed: metricValue(text, 'switchyard_stream_events_replayed_total'),
  };
}

// Resubscribing with `since` to a room the socket is already in, while events keep coming. What
// the contract fixes, and this asserts, for each ack:
// - the ack comes after the replay of every event after `since.offset`, in order;
// - its offset is that of the last event of the stream delivered before it;
// - every event after it has a higher offset (live events published during the replay come
//   after it, once);
// - through the tracker, the client holds every event once, offsets consecutive.
// Events already on their way when the client asked are also in the replay (the client's
// `since` did not include them yet): those are the duplicates a tracker exists to drop, and
// they can only come before the ack.
describe('resubscribing with since while the API publishes continuously', () => {
  const srv = sharedServer();
  const RESUBSCRIBES = 8;
  const OLDER = 3; // this resubscribe asks from 30 events back on purpose: "a since replays"
  const MAX_EVENTS = 20_000; // bound of the publishing loop

  for (const transports of [['websocket'], ['polling']]) {
    test(`over ${transports[0]}: replay before the ack, nothing at or below the ack after it, no gap`, { timeout: 60_000 }, async (t) => {
      const user = uid('resub');
      const room = `ticket_${uid('T')}`;
      const ticketId = room.slice('ticket_'.length);
      const tracker = new Tracker();
      const sock = await connect(srv.url, await srv.token({ sub: user, rooms: ['ticket_*'] }), {
        transports,
        setup: (s) => tracker.attach(s),
      });
      try {
        const first = await emitAckAt(sock, 'subscribe', { room });
        tracker.reset(room, assertSubscribed(first.ack, room));

        // the publishing loop: 4 in flight until the resubscribes are done
        const ids = [];
        let stop = false;
        const publisher = async () => {
          while (!stop && ids.length < MAX_EVENTS) {
            ids.push((await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { priority: 'normal' })).id);
          }
        };
        const publishing = Promise.all([publisher(), publisher(), publisher(), publisher()]);

        const resubs = [];
        try {
          for (let i = 0; i < RESUBSCRIBES; i++) {
            const seen = tracker.events(room).length;
            await until(() => tracker.events(room).length >= seen + 100, { timeoutMs: 20_000, message: '100 more events' });
            const pos = tracker.position(room);
            const since = i === OLDER ? { epoch: pos.epoch, offset: pos.offset - 30 } : pos;
            const emitted = sock.__events.length; // events from here on may be live or replayed
            const { ack, at } = await emitAckAt(sock, 'subscribe', { room, since }, 10_000);
            resubs.push({ since, ack, at, emitted });
          }
        } finally {
          stop = true;
          await publishing;
        }
        await until(() => tracker.events(room).length >= ids.length, {
          timeoutMs: 20_000,
          message: () => `all ${ids.length} events (have ${tracker.events(room).length})`,
        });

        const raw = sock.__events
          .map((e, index) => ({ index, meta: e.args[1] }))
          .filter((e) => e.meta?.stream === room);
        for (const [i, { since, ack, at, emitted }] of resubs.entries()) {
          const pos = assertSubscribed(ack, room, { recovered: true });
          assert.equal(pos.epoch, since.epoch);
          const before = raw.filter((e) => e.index < at);
          assert.equal(before.at(-1)?.meta.offset, pos.offset, `ack ${i}: offset = the last event delivered before it`);
          // after the ack: only events above its offset, until the next resubscribe's window
          const next = resubs[i + 1]?.emitted ?? Infinity;
          const after = raw.filter((e) => e.index >= at && e.index < next).map((e) => e.meta.offset);
          assert.ok(after.every((o) => o > pos.offset), `ack ${i} (offset ${pos.offset}): later events only, got ${after.slice(0, 5)}`);
          // between the request and the ack: live events already under way, then the whole
          // replay since.offset+1 .. ack.offset, in order, last
          const window = raw.filter((e) => e.index >= emitted && e.index < at).map((e) => e.meta.offset);
          const replay = Array.from({ length: pos.offset - since.offset }, (_, k) => since.offset + 1 + k);
          assert.deepEqual(window.slice(window.length - replay.length), replay, `ack ${i}: the replay, in order, right before the ack`);
          const live = window.slice(0, window.length - replay.length);
          assert.ok(live.every((o, k) => k === 0 || o === live[k - 1] + 1), `ack ${i}: live events before the replay are in order`);
        }
        // every duplicate was in a replay window, i.e. before its ack
        const windows = resubs.map((r) => [r.emitted, r.at]);
        for (const d of tracker.duplicates) {
          assert.ok(windows.some(([a, b]) => d.index >= a && d.index < b), `duplicate ${JSON.stringify(d.meta)} outside a replay window`);
        }
        assert.ok(tracker.duplicates.length >= 30, 'the deliberately older since replayed what the client had (dropped)');
        t.diagnostic(`${ids.length} events, ${tracker.duplicates.length} duplicates dropped by the tracker`);

        // through the tracker: every event once, consecutive, in the order the stream gave them
        assert.deepEqual(tracker.gaps, []);
        const held = tracker.events(room);
        assert.equal(held.length, ids.length);
        held.forEach((e, i) => {
          if (e.meta.offset !== i + 1) assert.fail(`event ${i} has offset ${e.meta.offset}`);
        });
        assert.deepEqual(new Set(held.map((e) => e.meta.id)), new Set(ids), 'exactly the events the API accepted');
      } finally {
        disconnect(sock);
      }
    });
  }
});

// "Subscribing again to a room the socket is already in applies the same rules (a since
// replays, no since only answers the top)."
describe('subscribing again to a room the socket is in', () => {
  const srv = sharedServer();

  /** A socket subscribed to a fresh ticket room that has received `n` live updates. */
  async function withUpdates(n, transports) {
    const ticketId = uid('T');
    const room = `ticket_${ticketId}`;
    const sock = await srv.open(uid('again'), ['ticket_*'], { transports });
    const { epoch } = assertSubscribed((await emitAckAt(sock, 'subscribe', { room })).ack, room);
    const ids = [];
    for (let i = 0; i < n; i++) ids.push((await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { status: 'open' })).id);
    await until(() => streamEvents(sock, room).length === n, { message: `${n} updates` });
    return { sock, room, ticketId, epoch, ids };
  }

  for (const transports of [['websocket'], ['polling']]) {
    test(`over ${transports[0]}: without since, only the top; with since, exactly the events after it, then live events once`, async () => {
      const { sock, room, ticketId, epoch, ids } = await withUpdates(3, transports);
      try {
        // no since: the top, nothing replayed (a replay would come before the ack)
        const plain = await emitAckAt(sock, 'subscribe', { room });
        assert.deepEqual(assertSubscribed(plain.ack, room), { epoch, offset: 3 });
        assert.equal(streamEvents(sock, room).length, 3, 'nothing replayed without a since');

        // since 1: events 2 and 3 again, before the ack
        const again = await emitAckAt(sock, 'subscribe', { room, since: { epoch, offset: 1 } });
        assert.deepEqual(assertSubscribed(again.ack, room, { recovered: true }), { epoch, offset: 3 });
        const replayed = streamEvents(sock, room).slice(3);
        assert.deepEqual(replayed.map((e) => [e.meta.offset, e.meta.id]), [[2, ids[1]], [3, ids[2]]]);
        assert.ok(replayed.every((e) => e.index < again.at), 'the replay comes before the ack');

        // still in the room once: the next event arrives once, after the ack
        const { id } = await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { status: 'closed' });
        await until(() => streamEvents(sock, room).some((e) => e.meta.id === id), { message: 'the live update' });
        const from = streamEvents(sock, room).at(-1).index;
        await assertNothingBeforeMarker(srv, sock, 'ticket_updated', from + 1);
        assert.equal(streamEvents(sock, room).filter((e) => e.meta.id === id).length, 1, 'delivered once');
        assert.equal(streamEvents(sock, room).at(-1).meta.offset, 4);
      } finally {
        disconnect(sock);
      }
    });
  }

  test('the own user room: subscribe { since } replays the inbox to a connected socket', async () => {
    const user = uid('own');
    const own = `user_${user}`;
    const sock = await srv.open(user);
    try {
      const start = sock.welcome.streams[own];
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(await srv.notify(user, `n${i}`));
      await until(() => streamEvents(sock, own).length === 3, { message: '3 notifications' });
      const { ack, at } = await emitAckAt(sock, 'subscribe', { room: own, since: start });
      assert.deepEqual(assertSubscribed(ack, own, { recovered: true }), { epoch: start.epoch, offset: start.offset + 3 });
      const again = streamEvents(sock, own).slice(3);
      assert.deepEqual(again.map((e) => e.payload.id), ids, 'the three again, in order');
      assert.ok(again.every((e) => e.index < at));
    } finally {
      disconnect(sock);
    }
  });
});
