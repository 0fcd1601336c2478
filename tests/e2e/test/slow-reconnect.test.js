// Contract section 8, "Slow sockets": a socket whose queue is full "reconnects and recovers by
// position like any other dropped connection, so a slow link costs a reconnect, never a gap".
// The client here is the stock socket.io-client with its own reconnection on: the server must
// close the transport (which the client takes for a lost link and retries), not send a
// namespace DISCONNECT ("io server disconnect", after which the client stays disconnected).
//
// The slow link is real: the client's TCP socket stops being read while a few megabytes are
// published to its user room, so the kernel buffers on both sides fill, then the server's
// per-socket queue. Reading resumes, and the client must end up with every event exactly once,
// in order, over a reconnect it made by itself with `auth.since`.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, uid, until, connect, disconnect } from '../lib/server.js';
import { Tracker } from '../lib/tracker.js';

const BUFFER = 8;
const EVENTS = 400;
const PAD = 'x'.repeat(48 * 1024); // 400 x 48 KiB: far more than loopback's socket buffers hold

describe('a slow websocket client (stock socket.io-client) reconnects and recovers', () => {
  const srv = sharedServer({ args: ['--socket-buffer-events', String(BUFFER)] });

  test('its transport is closed, it reconnects on its own, and it holds every event once, in order', async () => {
    const user = uid('slowws');
    const own = `user_${user}`;
    const tok = await srv.token({ sub: user });
    const tracker = new Tracker();
    const welcomes = [];
    const reasons = [];
    const sock = await connect(srv.url, undefined, {
      // socket.io-client calls this before every (re)connect: the handshake asks for what the
      // tracker has not seen yet.
      auth: (cb) => cb({ token: tok, since: tracker.since([own]) }),
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      setup: (s) => {
        tracker.attach(s);
        s.on('welcome', (w) => welcomes.push(w));
        s.on('disconnect', (reason) => reasons.push(reason));
      },
    });
    try {
      tracker.reset(own, sock.welcome.streams[own]);
      const slowBefore = await srv.metric('switchyard_slow_consumers_total');

      const tcp = sock.io.engine.transport.ws?._socket;
      assert.ok(tcp, 'the websocket transport exposes its TCP socket');
      tcp.pause();
      for (let i = 0; i < EVENTS; i++) {
        const r = await srv.api('POST', `/api/v1/rooms/${own}/events`, { event: 'bulk', data: { i, pad: PAD } });
        assert.equal(r.status, 202, r.text);
      }
      await until(async () => (await srv.metric('switchyard_slow_consumers_total')) > slowBefore, {
        timeoutMs: 10_000,
        message: 'the paused client to be found slow',
      });
      tcp.resume();

      await until(() => tracker.events(own).length === EVENTS, {
        timeoutMs: 20_000,
        message: `all ${EVENTS} events (have ${tracker.events(own).length}, welcomes ${welcomes.length}, reasons ${reasons})`,
      });
      assert.ok(reasons.length >= 1, 'the slow client was disconnected');
      for (const r of reasons) {
        assert.ok(['transport close', 'transport error'].includes(r), `a lost transport, not "${r}"`);
      }
      assert.ok(welcomes.length >= 2, 'it reconnected by itself');
      assert.equal(welcomes.at(-1).streams[own].recovered, true, 'the reconnect recovered by position');
      assert.deepEqual(tracker.gaps, [], 'no gap');
      assert.deepEqual(
        tracker.events(own).map((e) => [e.payload.i, e.meta.offset]),
        Array.from({ length: EVENTS }, (_, i) => [i, i + 1]),
        'every event once, in order',
      );
      assert.ok(sock.connected, 'connected at the end');
    } finally {
      disconnect(sock);
    }
  });
});
