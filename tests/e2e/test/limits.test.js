// Contract section 10, against the real binary with the official client: the per-socket event
// rate limit, thousands of handshakes from one address (--connects-per-sec), and --connect-timeout
// closing Engine.IO sessions that never complete the Socket.IO CONNECT (and returning their
// memory).
//
// Rates are small (2 to 5 per second, bursts of twice that) so a burst is spent long before one
// token refills, and every "allowed again" waits past a full refill.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { sharedServer, startServer, uid, until, disconnect, emitAck } from '../lib/server.js';
import { assertAckError, assertHttpError } from '../lib/assertions.js';

/** The socket.io handshake URL of a server (a request that opens an Engine.IO session). */
function handshakeUrl(srv, transport = 'polling') {
  const u = new URL(`${srv.url}/socket.io/`);
  u.searchParams.set('EIO', '4');
  u.searchParams.set('transport', transport);
  if (transport === 'websocket') u.protocol = 'ws:';
  return u.toString();
}

function retryAfter(res) {
  const v = res.headers.get('retry-after');
  assert.match(v ?? '', /^\d+$/, `Retry-After is whole seconds: ${v}`);
  const secs = Number(v);
  assert.ok(secs >= 1, `Retry-After ${secs} is at least 1`);
  return secs;
}

describe('--socket-events-per-sec 2 (bursts of 4)', () => {
  const srv = sharedServer({ args: ['--socket-events-per-sec', '2'] });

  test('the fifth event is refused with rate_limited; one without an ack is dropped and counted; another socket is not affected', async () => {
    const a = await srv.open(uid('rl'));
    const b = await srv.open(uid('rl'));
    try {
      const before = await srv.metric('switchyard_rate_limited_total', { kind: 'socket_event' });
      // Every client event counts: subscribe, unsubscribe and an unknown event.
      assertAckError(await emitAck(a, 'subscribe', { room: 'ticket_x' }), 'forbidden');
      assert.equal((await emitAck(a, 'unsubscribe', { room: 'ticket_x' })).ok, true);
      assertAckError(await emitAck(a, 'shout', {}), 'unknown_event');
      assertAckError(await emitAck(a, 'shout', {}), 'unknown_event');
      assertAckError(await emitAck(a, 'subscribe', { room: 'ticket_x' }), 'rate_limited');
      assertAckError(await emitAck(a, 'logout'), 'rate_limited');
      assert.equal(a.connected, true, 'a refused logout does not disconnect');
      a.emit('shout', {}); // no ack: dropped
      assertAckError(await emitAck(b, 'shout', {}), 'unknown_event');
      await until(async () => (await srv.metric('switchyard_rate_limited_total', { kind: 'socket_event' })) === before + 3, {
        message: 'three refusals counted',
      });
      // A token refills every 500 ms.
      await sleep(800);
      assertAckError(await emitAck(a, 'shout', {}), 'unknown_event');
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });
});

describe('--connects-per-sec 1 (bursts of 2): 2000 handshakes from one address', () => {
  // One token a second, so a spent budget stays spent for the few milliseconds between two
  // checks below even on a loaded machine.
  const srv = sharedServer({ args: ['--connects-per-sec', '1', '--connect-timeout', '1s'] });

  test('refused handshakes get 429 rate_limited with Retry-After, the server stays up, and others connect after the refill', { timeout: 120_000 }, async () => {
    const ATTEMPTS = 2000;
    const started = Date.now();
    let ok = 0;
    let refused = 0;
    let retry = 0;
    const one = async () => {
      const res = await fetch(handshakeUrl(srv));
      const text = await res.text();
      if (res.status === 200) {
        ok++;
        assert.match(text, /^0\{"sid":/, 'an Engine.IO open packet');
        return;
      }
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      assertHttpError({ status: res.status, headers: res.headers, text, body }, 429, 'rate_limited');
      retry = Math.max(retry, retryAfter(res));
      refused++;
    };
    for (let i = 0; i < ATTEMPTS; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, ATTEMPTS - i) }, one));
    }
    const elapsed = (Date.now() - started) / 1000;
    assert.equal(ok + refused, ATTEMPTS);
    // GCRA allows the burst plus what refilled meanwhile, and nothing more.
    assert.ok(ok >= 2, `the burst of 2 is allowed (${ok})`);
    assert.ok(ok <= 2 + Math.ceil(elapsed) + 1, `${ok} allowed in ${elapsed} s`);
    assert.ok(retry >= 1);
    // alive, and every refusal counted
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    const counted = await srv.metric('switchyard_rate_limited_total', { kind: 'connect' });
    assert.equal(counted, refused, 'every refusal counted');
    assert.equal(await srv.metric('switchyard_rate_limiter_keys', { kind: 'connect' }), 1, 'one address, one key');

    // The websocket transport's handshake is refused the same way, before any upgrade (the
    // budget spent again first: a token may have refilled meanwhile).
    await Promise.all(Array.from({ length: 3 }, () => fetch(handshakeUrl(srv)).then((r) => r.text())));
    const status = await new Promise((resolve) => {
      const ws = new WebSocket(handshakeUrl(srv, 'websocket'));
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode);
        ws.terminate();
      });
      ws.on('open', () => {
        resolve('open');
        ws.close();
      });
      ws.on('error', () => {});
    });
    assert.equal(status, 429);

    // After a full refill (2 s), the official client connects.
    await sleep(2500);
    const s = await srv.open(uid('after'));
    assert.equal(s.connected, true);
    disconnect(s);
  });

  test('the limiter forgets idle addresses', { timeout: 30_000 }, async () => {
    // The sweep runs every 5 s and drops keys whose budget is full again.
    await until(async () => (await srv.metric('switchyard_rate_limiter_keys', { kind: 'connect' })) === 0, {
      timeoutMs: 15_000,
      intervalMs: 250,
      message: 'the connect limiter to hold no key',
    });
  });
});

/** Resident memory of a process, in bytes (Linux). */
function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

describe('--connect-timeout 1s', () => {
  test('6 x 500 websocket sessions that never complete CONNECT are closed, and their memory is returned', { timeout: 120_000 }, async () => {
    const srv = await startServer({ args: ['--connect-timeout', '1s', '--connects-per-sec', '0'] });
    try {
      const N = 500;
      const pid = srv.proc.pid;
      const open = (sendBadConnect) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(handshakeUrl(srv, 'websocket'));
          const s = { ws, opened: false, closed: false, refused: false };
          s.closedP = new Promise((res) => ws.on('close', () => {
            s.closed = true;
            res();
          }));
          ws.on('message', (data) => {
            const text = data.toString();
            if (text.startsWith('0{')) {
              s.opened = true;
              // Half of them try a bad token: the refusal must not keep the session either.
              if (sendBadConnect) ws.send('40{"token":"not-a-token"}');
              resolve(s);
            } else if (text.startsWith('44')) {
              s.refused = true;
            }
          });
          ws.on('error', reject);
        });
      // Warm up (allocator arenas, tokio workers), then measure.
      const warm = await Promise.all(Array.from({ length: 50 }, () => open(false)));
      await Promise.all(warm.map((s) => s.closedP));
      await sleep(500);
      const baseline = rss(pid);

      // Rounds of N sessions: memory that is freed is reused by the next round, so the
      // resident size levels off (measured: after about 2 rounds' worth, as the allocator keeps
      // what it once took), while sessions that leaked would add a round's worth each time.
      const ROUNDS = Number(process.env.ROUNDS ?? 6);
      const peaks = [];
      const afters = [];
      for (let round = 0; round < ROUNDS; round++) {
        const sessions = [];
        for (let i = 0; i < N; i += 100) {
          sessions.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => open((i + k) % 2 === 1)))));
        }
        peaks.push(rss(pid));
        assert.equal(sessions.filter((s) => s.opened).length, N);
        // Every session is closed by the server (the client sees the close).
        await Promise.all(sessions.map((s) => s.closedP));
        assert.equal(sessions.filter((s) => s.closed).length, N);
        assert.equal(sessions.filter((s) => s.refused).length, N / 2, 'every bad CONNECT was answered first');
        // The hub never counted any of them as a socket.
        assert.equal((await srv.api('GET', '/api/v1/sockets')).body.count, 0);
        await sleep(300);
        afters.push(rss(pid));
      }
      const mib = (n) => (n / 1048576).toFixed(1);
      console.log(
        `# connect-timeout: RSS baseline ${mib(baseline)} MiB; per round of ${N} sessions, open ${peaks.map(mib).join(' / ')} MiB, ` +
          `after close ${afters.map(mib).join(' / ')} MiB`,
      );
      const round = Math.max(peaks[0] - baseline, 1048576);
      const kept = afters.at(-1) - baseline;
      assert.ok(
        kept <= (ROUNDS / 2) * round,
        `after ${ROUNDS} rounds RSS is ${mib(kept)} MiB over the baseline; one round's sessions took ${mib(round)} MiB`,
      );
    } finally {
      await srv.stop();
    }
  });
});
