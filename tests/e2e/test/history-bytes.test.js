// --history-max-bytes at its boundary (contract section 8, "Retention": all streams together,
// the oldest events go first; an event is dropped when the bound passes it). Each retained event
// counts its payload JSON + its meta JSON + its event name + 128 bytes, the JSON as the server
// serialises it (compact), which is what the client receives: JSON.stringify of each argument
// gives it back byte for byte.
//
// N events of identical size S (same ticket, same payload, offsets of one digit, ids and times of
// fixed length): with a budget of exactly N×S all N are recoverable from offset 0; with N×S − 1
// the oldest is gone and only it.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, disconnect, emitAckAt, uid, until, streamEvents } from '../lib/server.js';
import { assertSubscribed } from '../lib/assertions.js';

const N = 5; // offsets 1..5: one digit each, so every meta has the same length
const TICKET = 'bytes-1';
const ROOM = `ticket_${TICKET}`;
const UPDATE = { message: 'x'.repeat(100) };
const EVENT = 'ticket_updated';

/** What one retained event counts against --history-max-bytes. */
function retainedSize({ payload, meta }) {
  return Buffer.byteLength(JSON.stringify(payload)) + Buffer.byteLength(JSON.stringify(meta)) + Buffer.byteLength(EVENT) + 128;
}

/**
 * A server with `args`, a client that subscribed to ROOM before N updates were published and
 * got them live. Resolves with { srv, epoch, sizes }; `cleanup(fn)` registers the teardown.
 */
async function serverWithHistory(cleanup, args = []) {
  const srv = await startServer({ args });
  cleanup(() => srv.stop());
  const live = await srv.open(uid('live'), [ROOM]);
  cleanup(() => disconnect(live));
  const { epoch } = assertSubscribed((await emitAckAt(live, 'subscribe', { room: ROOM })).ack, ROOM);
  for (let i = 0; i < N; i++) await srv.publish(`/api/v1/tickets/${TICKET}/updates`, UPDATE);
  await until(() => streamEvents(live, ROOM).length === N, { message: `the ${N} updates` });
  return { srv, epoch, sizes: streamEvents(live, ROOM).map(retainedSize) };
}

/** A second client asks ROOM from `offset` on; resolves with { pos, replayed } (replayed: offsets). */
async function recoverFrom(srv, epoch, offset, recovered) {
  const sock = await srv.open(uid('late'), [ROOM]);
  try {
    const { ack, at } = await emitAckAt(sock, 'subscribe', { room: ROOM, since: { epoch, offset } });
    const pos = assertSubscribed(ack, ROOM, { recovered });
    // a replay comes before its ack: the log up to the ack holds all of it
    return { pos, replayed: streamEvents(sock, ROOM).filter((e) => e.index < at).map((e) => e.meta.offset) };
  } finally {
    disconnect(sock);
  }
}

describe('--history-max-bytes at its boundary', () => {
  // Measured first, on a server with the default budget: the sizes of the N events, and what
  // that server's gauges say about them (nothing else is in any stream there).
  let calibration;
  let S;
  before(async () => {
    const teardown = [];
    try {
      const { srv, sizes } = await serverWithHistory((fn) => teardown.push(fn));
      calibration = {
        sizes,
        events: await srv.metric('switchyard_retained_events'),
        bytes: await srv.metric('switchyard_retained_bytes'),
      };
      S = sizes[0];
    } finally {
      for (const fn of teardown.reverse()) await fn();
    }
  });

  test(`${N} identical events have one size, and the server's retained bytes are exactly their sum`, () => {
    assert.equal(new Set(calibration.sizes).size, 1, `the ${N} events have one size: ${calibration.sizes}`);
    assert.equal(calibration.events, N);
    assert.equal(calibration.bytes, N * S, 'payload JSON + meta JSON + event name + 128, per event');
  });

  test(`a budget of exactly ${N}×size keeps all ${N}: recovered from offset 0`, async (t) => {
    const { srv, epoch, sizes } = await serverWithHistory((fn) => t.after(fn), ['--history-max-bytes', String(N * S)]);
    assert.deepEqual(sizes, Array(N).fill(S), 'the events have the measured size on this server too');
    const { pos, replayed } = await recoverFrom(srv, epoch, 0, true);
    assert.deepEqual(pos, { epoch, offset: N });
    assert.deepEqual(replayed, [1, 2, 3, 4, 5]);
    assert.equal(await srv.metric('switchyard_retained_bytes'), N * S);
  });

  test(`a budget of ${N}×size − 1 drops the oldest, and only it`, async (t) => {
    const { srv, epoch, sizes } = await serverWithHistory((fn) => t.after(fn), ['--history-max-bytes', String(N * S - 1)]);
    assert.deepEqual(sizes, Array(N).fill(S));
    const fromStart = await recoverFrom(srv, epoch, 0, false);
    assert.deepEqual(fromStart.pos, { epoch, offset: N }, 'recovered: false at the top');
    assert.deepEqual(fromStart.replayed, [], 'all or nothing: none of the retained ones either');
    assert.equal(await srv.metric('switchyard_recoveries_total', { outcome: 'trimmed' }), 1);
    // the other four are still there
    const fromOne = await recoverFrom(srv, epoch, 1, true);
    assert.deepEqual(fromOne.replayed, [2, 3, 4, 5]);
    assert.equal(await srv.metric('switchyard_retained_events'), N - 1);
    assert.equal(await srv.metric('switchyard_retained_bytes'), (N - 1) * S);
  });
});
