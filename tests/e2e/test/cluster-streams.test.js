// Contract section 9, streams across nodes: three `switchyard serve` nodes on one real Redis.
// A publish on any node reaches the room's sockets on every node once; two nodes publishing to
// one room at once still give every client strictly consecutive offsets; a client that drops
// off one node recovers (section 8) on another; epochs survive restarting every node.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, disconnect, emitAck, uid, until, streamEvents } from '../lib/server.js';
import { Tracker } from '../lib/tracker.js';
import { assertSubscribed } from '../lib/assertions.js';
import { redisMissing, sharedCluster, startCluster } from '../lib/cluster.js';

const skip = redisMissing();

/** Offsets of `stream` on `sock`, asserting each event once and in order from `first`. */
function assertConsecutive(sock, stream, first, count, what) {
  const offsets = streamEvents(sock, stream).map((e) => e.meta.offset);
  assert.deepEqual(offsets, Array.from({ length: count }, (_, i) => first + i), `${what}: offsets of ${stream}`);
}

describe('streams across three nodes', { skip }, () => {
  const c = sharedCluster(3, { args: ['--history-size', '5000', '--recovery-max-events', '5000'] });

  test('a ticket update published on node A reaches subscribers on A, B and C once, with its meta', async () => {
    const room = `ticket_${uid('T')}`;
    const socks = await Promise.all(c.nodes.map((n) => n.open(uid('u'), ['ticket_*'])));
    const acks = await Promise.all(socks.map((s) => emitAck(s, 'subscribe', { room })));
    for (const ack of acks) assertSubscribed(ack, room);
    assert.equal(new Set(acks.map((a) => a.epoch)).size, 1, 'one epoch for the stream on every node');
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await c.nodes[0].publish(`/api/v1/tickets/${room.slice(7)}/updates`, { status: 'open' })).id);
    }
    for (const [i, s] of socks.entries()) {
      await until(() => streamEvents(s, room).length >= 5, { message: `5 events on node ${i}` });
    }
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would arrive now
    for (const [i, s] of socks.entries()) {
      const events = streamEvents(s, room);
      assertConsecutive(s, room, 1, 5, `node ${i}`);
      assert.deepEqual(events.map((e) => e.meta.id), ids);
      assert.ok(events.every((e) => e.event === 'ticket_updated' && e.meta.epoch === acks[0].epoch));
    }
    socks.forEach(disconnect);
  });

  test('a notification, an announcement, emitToAll and a room event from nodes A and B reach a client on node C', async () => {
    const user = uid('u');
    const sock = await c.nodes[2].open(user, []);
    const note = await c.nodes[1].notify(user, 'from B');
    const ann = await c.nodes[1].publish('/api/v1/announcements', { type: 'info', message: 'all nodes' });
    const all = await c.nodes[0].publish('/api/v1/broadcast', { event: 'shift_change', data: { shift: 'night' } });
    await c.nodes[1].publish(`/api/v1/rooms/user_${user}/events`, { event: 'custom_thing', data: { x: 1 } });
    await until(() => sock.__events.some((e) => e.event === 'custom_thing'), { message: 'custom event' });
    const shifts = sock.__events.filter((e) => e.event === 'shift_change');
    assert.equal(shifts.length, 1, 'emitToAll through node A reaches a client on node C once');
    assert.deepEqual(shifts[0].args[0], { shift: 'night' });
    assert.equal(shifts[0].args[1].id, all.id);
    assert.equal(shifts[0].args[1].stream, 'broadcast');
    const notes = sock.__events.filter((e) => e.event === 'notification');
    assert.equal(notes.length, 1);
    assert.equal(notes[0].args[1].id, note);
    assert.equal(notes[0].args[1].stream, `user_${user}`);
    assert.equal(sock.__events.filter((e) => e.event === 'announcement' && e.args[1].id === ann.id).length, 1);
    disconnect(sock);
  });

  test('two nodes publishing to one room at once: every client on every node sees 1..N once, in order', { timeout: 60_000 }, async () => {
    const room = `ticket_${uid('T')}`;
    const ticket = room.slice(7);
    const socks = await Promise.all(c.nodes.map((n) => n.open(uid('u'), ['ticket_*'])));
    await Promise.all(socks.map((s) => emitAck(s, 'subscribe', { room })));
    const PER = 300;
    const IN_FLIGHT = 10;
    async function publisher(node) {
      let next = 0;
      const worker = async () => {
        while (next < PER) {
          next += 1;
          await node.publish(`/api/v1/tickets/${ticket}/updates`, { status: 'in_progress' });
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    }
    await Promise.all([publisher(c.nodes[0]), publisher(c.nodes[1])]);
    for (const [i, s] of socks.entries()) {
      await until(() => streamEvents(s, room).length >= 2 * PER, { timeoutMs: 10_000, message: `all events on node ${i}` });
    }
    await new Promise((r) => setTimeout(r, 200));
    for (const [i, s] of socks.entries()) assertConsecutive(s, room, 1, 2 * PER, `node ${i}`);
    socks.forEach(disconnect);
  });

  test('a client that leaves node A recovers on node B with since: recovered, every missed event once, then live', async () => {
    const room = `ticket_${uid('T')}`;
    const ticket = room.slice(7);
    const user = uid('u');
    const a = await c.nodes[0].open(user, ['ticket_*']);
    assertSubscribed(await emitAck(a, 'subscribe', { room }), room);
    for (let i = 0; i < 3; i++) await c.nodes[2].publish(`/api/v1/tickets/${ticket}/updates`, { status: 'open' });
    await until(() => streamEvents(a, room).length === 3, { message: 'the first three' });
    const last = streamEvents(a, room).at(-1).meta;
    disconnect(a);
    // Missed while away, published through two different nodes.
    for (let i = 0; i < 4; i++) await c.nodes[i % 2 === 0 ? 0 : 2].publish(`/api/v1/tickets/${ticket}/updates`, { status: 'open' });
    const b = await c.nodes[1].open(user, ['ticket_*']);
    const ack = await emitAck(b, 'subscribe', { room, since: { epoch: last.epoch, offset: last.offset } });
    assertSubscribed(ack, room, { recovered: true });
    assert.equal(ack.offset, 7);
    await c.nodes[0].publish(`/api/v1/tickets/${ticket}/updates`, { status: 'closed' });
    await until(() => streamEvents(b, room).length >= 5, { message: 'the live event after the replay' });
    await new Promise((r) => setTimeout(r, 200));
    assertConsecutive(b, room, 4, 5, 'replay then live on B');

    // The offline inbox: notifications while no socket is connected, recovered by auth.since
    // on yet another node.
    const own = `user_${user}`;
    const pos = b.welcome.streams[own];
    disconnect(b);
    for (let i = 0; i < 3; i++) await c.nodes[0].notify(user, `missed ${i}`);
    const tok = await c.nodes[2].token({ sub: user, rooms: ['ticket_*'] });
    const back = await c.nodes[2].connect(undefined, { auth: { token: tok, since: { [own]: pos } } });
    assert.equal(back.welcome.streams[own].recovered, true);
    await until(() => streamEvents(back, own).length === 3, { message: 'the inbox replay' });
    assertConsecutive(back, own, pos.offset + 1, 3, 'inbox on C');
    disconnect(back);
  });
});

describe('epochs in Redis', { skip }, () => {
  test('survive restarting every node; a since from before the restart recovers', { timeout: 60_000 }, async () => {
    const c = await startCluster(2);
    try {
      const room = `meter_${uid('M')}`;
      const meter = room.slice(6);
      const s = await c.nodes[0].open(uid('u'), ['meter_*']);
      const first = await emitAck(s, 'subscribe', { room });
      const reading = () => ({ reading: 1.5, timestamp: new Date().toISOString(), unit: 'kWh' });
      await c.nodes[1].publish(`/api/v1/meters/${meter}/readings`, reading());
      await until(() => streamEvents(s, room).length === 1, { message: 'one reading' });
      disconnect(s);
      await Promise.all(c.nodes.map((n) => n.stop()));
      await c.startNode(0);
      await c.startNode(1);
      await c.nodes[0].publish(`/api/v1/meters/${meter}/readings`, reading());
      const again = await c.nodes[1].open(uid('u'), ['meter_*']);
      const ack = await emitAck(again, 'subscribe', { room, since: { epoch: first.epoch, offset: 1 } });
      assertSubscribed(ack, room, { recovered: true });
      assert.equal(ack.epoch, first.epoch, 'the same epoch after every node restarted');
      assert.equal(ack.offset, 2);
      assertConsecutive(again, room, 2, 1, 'the reading published after the restart');
    } finally {
      await c.stop();
    }
  });
});

describe('10,000 ticket updates from publishers on two nodes while the client hops between nodes', { skip }, () => {
  const c = sharedCluster(3, {
    args: ['--history-size', '20000', '--recovery-max-events', '20000', '--socket-buffer-events', '100000'],
  });
  const TICKETS = 10_000;
  const IN_FLIGHT = 10; // per publishing node
  const NOTE_EVERY = 50;
  const KILL_AT = [1500, 3500, 5500, 7500, 9000];

  test('every event exactly once, in order; every recovery on the next node recovered', { timeout: 180_000 }, async (t) => {
    const user = uid('hop');
    const own = `user_${user}`;
    const room = `ticket_${uid('T')}`;
    const ticket = room.slice(7);
    const tok = await c.nodes[0].token({ sub: user, rooms: ['ticket_*'] });
    const tracker = new Tracker();
    const hops = []; // { node, welcome, since, ack }
    let sock;
    let joining = null;

    async function join(node) {
      const since = tracker.since([own]);
      const s = await connect(c.nodes[node].url, undefined, {
        auth: Object.keys(since).length ? { token: tok, since } : { token: tok },
        setup: (x) => tracker.attach(x),
      });
      if (!tracker.position(own)) tracker.reset(own, s.welcome.streams[own]);
      const pos = tracker.position(room);
      const ack = await emitAck(s, 'subscribe', pos ? { room, since: pos } : { room }, 15_000);
      if (!pos) tracker.reset(room, ack);
      hops.push({ node, welcome: s.welcome, since: { own: since[own], room: pos }, ack });
      sock = s;
    }
    await join(0);

    const publishers = [c.nodes[1], c.nodes[2]];
    const published = { tickets: new Set(), notes: [] };
    let next = 0;
    let done = 0;
    const kills = [];
    const worker = (node) => async () => {
      while (next < TICKETS) {
        next += 1;
        const { id } = await node.publish(`/api/v1/tickets/${ticket}/updates`, { status: 'in_progress' });
        published.tickets.add(id);
        const n = ++done;
        if (n % NOTE_EVERY === 0) published.notes.push(await node.notify(user, `note ${n}`));
        if (kills.length < KILL_AT.length && n >= KILL_AT[kills.length] && !joining) {
          kills.push(n);
          // The transport dies under the client; it comes back on the next node.
          sock.io.engine.close();
          joining = join(kills.length % c.nodes.length).finally(() => {
            joining = null;
          });
        }
      }
    };
    await Promise.all(publishers.flatMap((node) => Array.from({ length: IN_FLIGHT }, worker(node))));
    if (joining) await joining;
    await until(
      () => tracker.gaps.length > 0 || (tracker.events(room).length >= TICKETS && tracker.events(own).length >= published.notes.length),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        message: () => `all events (tickets ${tracker.events(room).length}/${TICKETS}, notes ${tracker.events(own).length}/${published.notes.length})`,
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    t.diagnostic(`kills at ${kills}; replayed per hop: ${hops.slice(1).map((h) => h.ack.offset - h.since.room.offset)}`);
    assert.equal(hops.length, KILL_AT.length + 1, 'one hop per kill');
    for (const [i, h] of hops.entries()) {
      if (i === 0) continue;
      assertSubscribed(h.ack, room, { recovered: true });
      assert.equal(h.ack.epoch, h.since.room.epoch);
      assert.equal(h.welcome.streams[own].recovered, true, `hop ${i}: the inbox recovered`);
    }
    assert.ok(hops.slice(1).some((h) => h.ack.offset > h.since.room.offset), 'some hop had events to recover');
    assert.deepEqual(tracker.gaps, [], 'no gap');
    assert.deepEqual(tracker.duplicates, [], 'no duplicate');
    const tickets = tracker.events(room);
    assert.equal(tickets.length, TICKETS);
    tickets.forEach((e, i) => {
      if (e.meta.offset !== i + 1) assert.fail(`ticket event ${i} has offset ${e.meta.offset}`);
    });
    assert.equal(new Set(tickets.map((e) => e.meta.id)).size, TICKETS);
    assert.ok(tickets.every((e) => published.tickets.has(e.meta.id)), 'only what the API accepted');
    const notes = tracker.events(own);
    assert.equal(notes.length, published.notes.length, 'every notification once');
    assert.deepEqual(new Set(notes.map((e) => e.meta.id)), new Set(published.notes));
    const start = hops[0].welcome.streams[own].offset;
    notes.forEach((e, i) => assert.equal(e.meta.offset, start + i + 1));
    disconnect(sock);
  });
});

describe('subscribing again (no since) to a room the socket is in, while another node publishes', { skip }, () => {
  // Hundreds of subscribes in a few seconds: over the default --socket-events-per-sec.
  const c = sharedCluster(2, { args: ['--socket-events-per-sec', '0'] });
  test('each ack is at the last offset the socket got before it; nothing is skipped', { timeout: 60_000 }, async () => {
    const room = `ticket_${uid('T')}`;
    const s = await c.nodes[0].open(uid('u'), ['ticket_*']);
    const tracker = new Tracker().attach(s);
    tracker.reset(room, await emitAck(s, 'subscribe', { room }));
    const N = 400;
    let published = 0;
    const publishing = (async () => {
      while (published < N) {
        published += 1;
        await c.nodes[1].publish(`/api/v1/tickets/${room.slice(7)}/updates`, { status: 'open' });
      }
    })();
    const mismatches = [];
    let acks = 0;
    while (published < N) {
      await new Promise((resolve) => {
        s.emit('subscribe', { room }, (ack) => {
          // Runs as the ack is decoded: everything sent before it has been seen.
          const pos = tracker.position(room);
          if (ack.offset !== pos.offset) mismatches.push({ ack: ack.offset, had: pos.offset });
          acks += 1;
          resolve();
        });
      });
    }
    await publishing;
    await until(() => tracker.events(room).length >= N || tracker.gaps.length, { timeoutMs: 10_000, message: 'every event' });
    assert.deepEqual(mismatches, [], `${acks} acks`);
    assert.deepEqual(tracker.gaps, []);
    assert.equal(tracker.events(room).length, N);
    disconnect(s);
  });
});
