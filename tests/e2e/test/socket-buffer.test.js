// --socket-buffer-events: a socket that does not collect its events gets at most N queued;
// the rest are dropped for that socket only (and counted), instead of growing without bound.
//
// A raw Engine.IO long-polling session is the one client that provably stops reading: between
// two GET polls every packet for it waits in the server's per-socket queue.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, uid } from '../lib/server.js';

const SEP = '\x1e'; // Engine.IO v4 packet separator in polling payloads

async function poll(url, sid) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
  assert.equal(res.status, 200);
  return (await res.text()).split(SEP).filter(Boolean);
}

/** Socket.IO EVENT packets (`42[...]`) of one name among polling packets. */
function events(packets, name) {
  return packets
    .filter((p) => p.startsWith('42'))
    .map((p) => JSON.parse(p.slice(2)))
    .filter(([event]) => event === name);
}

describe('--socket-buffer-events', () => {
  const BUFFER = 5;
  const srv = sharedServer({ args: ['--socket-buffer-events', String(BUFFER)] });

  test(`a socket that stops reading keeps exactly ${BUFFER} queued events; the rest are dropped and counted`, async () => {
    const user = uid('slow');
    const tok = await srv.token({ sub: user });

    const open = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
    const handshake = JSON.parse((await open.text()).slice(1));
    const sid = handshake.sid;
    const post = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: `40${JSON.stringify({ token: tok })}`,
    });
    assert.equal(post.status, 200);

    // Drain until the welcome has been collected, so the queue is empty.
    let welcomed = false;
    for (let i = 0; i < 5 && !welcomed; i++) {
      welcomed = events(await poll(srv.url, sid), 'welcome').length === 1;
    }
    assert.ok(welcomed, 'the welcome arrives over polling');

    // The client now stops polling; the server queues for it.
    const SENT = BUFFER + 3;
    for (let i = 0; i < SENT; i++) {
      const r = await srv.api('POST', `/api/v1/users/${user}/notifications`, { type: 'info', message: `n${i}` });
      assert.equal(r.status, 202, 'the API call itself succeeds: one slow socket does not fail a publish');
    }

    const got = events(await poll(srv.url, sid), 'notification');
    assert.deepEqual(
      got.map(([, n]) => n.message),
      Array.from({ length: BUFFER }, (_, i) => `n${i}`),
      'the first N events, in order, and nothing more',
    );

    const { text: metrics } = await srv.metrics();
    assert.match(metrics, /^switchyard_delivery_failures_total\{event="notification"\} 3$/m);
  });
});
