// Hostile client: a flood of subscribe / unsubscribe from one socket (issue 10, "Hostile
// clients, end to end"; contract sections 3 and 10). A raw websocket client sends 20,000 of
// them, alternating, over 500 rooms, half with an ack and half without, as fast as the server
// answers (a window of acks in flight, so the flood is never paced by a round trip per event).
// The server stays responsive (a newcomer connects and subscribes mid-flood, the API answers),
// its memory stays bounded, every ack arrives and is one the contract allows, every event is
// counted, and a well-behaved client gets every event published during and after the flood, in
// order.
//
// Written to pass with and without the per-socket event rate limit (--socket-events-per-sec,
// section 10, on its way): an ack is `{ ok: true, room }`, or `rate_limited` (over the limit),
// or `limit_exceeded` (an unsubscribe refused by the rate limit leaves its room subscribed, so
// the socket can reach --max-subscriptions-per-socket). Without a rate limit every ack is `ok`:
// this flood found that socketioxide's one-task-per-handler let a subscribe complete after the
// unsubscribe sent behind it, so the socket kept rooms it had left, until `limit_exceeded`; the
// server now applies one socket's subscribes and unsubscribes in arrival order.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, uid, until, emitAck, streamEvents, disconnect, api, metricValue } from '../lib/server.js';
import { assertSubscribed, assertNothingBeforeMarker } from '../lib/assertions.js';
import { openWs, rssBytes, MiB } from '../lib/raw.js';

const SENT = 20_000;
const ROOMS = 500;
const WINDOW = 256; // acked events in flight
const RSS_BOUND = 64 * MiB;
const ALLOWED = new Set(['rate_limited', 'limit_exceeded']);

describe('a flood of subscribe and unsubscribe from one socket', () => {
  const srv = sharedServer({});

  test(`${SENT} alternating subscribe / unsubscribe, half with acks: every ack arrives, others unaffected`, async () => {
    const ticketId = uid('T');
    const room = `ticket_${ticketId}`;
    const good = await srv.open(uid('good'), ['ticket_*']);
    assertSubscribed(await emitAck(good, 'subscribe', { room }), room);
    const published = [];
    const publish = async (message) =>
      published.push((await srv.publish(`/api/v1/tickets/${ticketId}/updates`, { message })).id);

    const before = (await srv.metrics()).text;
    const floodUser = uid('flood');
    const flooder = await openWs(srv, { token: await srv.token({ sub: floodUser, rooms: ['ticket_*'] }) });
    const pid = srv.proc.pid;
    const rssStart = rssBytes(pid);
    let rssMax = rssStart;

    // The acks, by id, as they come (the raw client reads all the time).
    const acks = new Map();
    flooder.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = /^43(\d+)(\[.*)$/s.exec(data.toString('utf8'));
      if (m) acks.set(Number(m[1]), JSON.parse(m[2])[0]);
    });

    let nextAck = 1;
    let acked = 0;
    let newcomer;
    for (let i = 0; i < SENT; ) {
      // one window: WINDOW acked events and as many without an ack
      const waitingFor = [];
      for (let k = 0; k < 2 * WINDOW && i < SENT; k++, i++) {
        const event = i % 2 === 0 ? 'subscribe' : 'unsubscribe';
        const target = `ticket_flood-${(i >> 1) % ROOMS}`;
        const withAck = (i >> 1) % 2 === 0;
        const id = withAck ? nextAck++ : '';
        if (withAck) waitingFor.push(id);
        flooder.send(`42${id}${JSON.stringify([event, { room: target }])}`);
      }
      acked += waitingFor.length;
      await until(() => waitingFor.every((id) => acks.has(id)), {
        timeoutMs: 30_000,
        message: () => `acks ${waitingFor[0]}..${waitingFor.at(-1)} (missing ${waitingFor.filter((id) => !acks.has(id)).length})`,
      });
      rssMax = Math.max(rssMax, rssBytes(pid));
      await publish(`during ${i}`);
      if (newcomer === undefined && i >= SENT / 2) {
        // Mid-flood: the server still takes a new socket, answers its subscribe and the API.
        newcomer = await srv.open(uid('new'), ['ticket_*']);
        assertSubscribed(await emitAck(newcomer, 'subscribe', { room }, 10_000), room);
        assert.equal((await api(srv.url, null, 'GET', '/healthz')).status, 200);
      }
    }
    await publish('after');

    // Every ack arrived, each one the contract allows.
    assert.equal(acks.size, acked, 'one ack per acked event, none for the others');
    const kinds = {};
    for (const ack of acks.values()) {
      const kind = ack.ok === true ? 'ok' : ack.error?.code;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      if (ack.ok === true) {
        assert.match(ack.room, /^ticket_flood-\d+$/);
      } else {
        assert.equal(ack.ok, false, JSON.stringify(ack));
        assert.ok(ALLOWED.has(ack.error?.code), `an allowed refusal: ${JSON.stringify(ack)}`);
        assert.equal(typeof ack.error.message, 'string');
      }
    }
    console.log(`hostile flood: acks ${JSON.stringify(kinds)}; RSS ${(rssStart / MiB).toFixed(1)} → max ${(rssMax / MiB).toFixed(1)} MiB`);
    assert.ok(rssMax - rssStart < RSS_BOUND, `RSS grew by ${((rssMax - rssStart) / MiB).toFixed(1)} MiB`);

    // Every event is counted: handled (client_events) or refused by the rate limit.
    const after = (await srv.metrics()).text;
    const delta = (name, labels) => metricValue(after, name, labels) - metricValue(before, name, labels);
    const handled =
      delta('switchyard_client_events_total', { event: 'subscribe' }) + delta('switchyard_client_events_total', { event: 'unsubscribe' });
    const limited = delta('switchyard_rate_limited_total', { kind: 'socket_event' });
    const newcomerSubscribes = 1;
    assert.ok(handled <= SENT + newcomerSubscribes, `handled ${handled} of ${SENT}`);
    assert.ok(handled >= (kinds.ok ?? 0), 'every ok ack was a handled event');
    assert.ok(handled + limited >= SENT + newcomerSubscribes, `every event counted: ${handled} handled + ${limited} rate-limited`);
    if (limited === 0) {
      assert.equal(handled, SENT + newcomerSubscribes, 'without a rate limit every event is handled');
      assert.equal(kinds.rate_limited, undefined, 'no rate_limited ack without a rate limit');
      // In arrival order: each subscribe is undone by the unsubscribe behind it, so the socket
      // never holds more than a room or two (this caught handlers running out of order).
      assert.equal(kinds.limit_exceeded, undefined, 'no limit_exceeded: every unsubscribe undid its subscribe');
    }

    // The flooder itself is still connected, and holds at most the allowed rooms.
    const listed = (await srv.api('GET', '/api/v1/sockets')).body.sockets.find((s) => s.id === flooder.sid);
    assert.ok(listed, 'the flooder is still connected (a flood costs it refusals, not its session)');
    assert.ok(listed.rooms.length <= 101, `at most 100 rooms beyond its own: ${listed.rooms.length}`);
    if (limited === 0) assert.deepEqual(listed.rooms, [`user_${floodUser}`], 'the last unsubscribe left it in its own room only');

    // The good client got every event published during and after the flood, once each, in order.
    await until(() => streamEvents(good, room).length === published.length, {
      timeoutMs: 10_000,
      message: () => `the good client to get ${published.length} events (has ${streamEvents(good, room).length})`,
    });
    assert.deepEqual(
      streamEvents(good, room).map((e) => [e.meta.offset, e.meta.id]),
      published.map((id, i) => [i + 1, id]),
    );
    const seenByNewcomer = streamEvents(newcomer, room).map((e) => e.meta.id);
    await until(() => streamEvents(newcomer, room).at(-1)?.meta.id === published.at(-1), { message: 'the newcomer to get the last event' });
    assert.ok(seenByNewcomer.every((id, i, all) => i === 0 || published.indexOf(id) === published.indexOf(all[i - 1]) + 1));
    assert.equal(srv.proc.exitCode, null, 'the server is running');
    assert.doesNotMatch(srv.stderr(), /panicked/);
    flooder.ws.terminate();
    disconnect(good);
    disconnect(newcomer);
  });

  test('subscribe then unsubscribe sent back to back (official client): left, and nothing of those rooms arrives', async () => {
    const user = uid('quick');
    const sock = await srv.open(user, ['ticket_*']);
    const ids = Array.from({ length: 50 }, () => uid('T'));
    // Not awaited one by one: the client sends them all at once, as a UI switching fast would.
    const acks = await Promise.all(
      ids.flatMap((id) => [emitAck(sock, 'subscribe', { room: `ticket_${id}` }), emitAck(sock, 'unsubscribe', { room: `ticket_${id}` })]),
    );
    assert.ok(acks.every((a) => a.ok === true || a.error?.code === 'rate_limited'), JSON.stringify(acks.find((a) => !a.ok)));
    const from = sock.__events.length;
    const listed = (await srv.api('GET', '/api/v1/sockets')).body.sockets.find((s) => s.id === sock.id);
    if (acks.every((a) => a.ok)) assert.deepEqual(listed.rooms, [`user_${user}`], 'every room was left');
    for (const id of ids.slice(0, 5)) await srv.publish(`/api/v1/tickets/${id}/updates`, { message: 'x' });
    if (acks.every((a) => a.ok)) await assertNothingBeforeMarker(srv, sock, 'ticket_updated', from);
    disconnect(sock);
  });
});
