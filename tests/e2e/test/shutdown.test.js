// Contract §5 / decisions: on SIGTERM or SIGINT the server tells every client (system_shutdown
// { at }), stops accepting, finishes in-flight calls and exits 0.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, waitFor, uid, closeAllSockets } from '../lib/server.js';
import { assertNoMeta, assertServerTime } from '../lib/assertions.js';

after(() => closeAllSockets());

describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal}: websocket and polling clients receive system_shutdown, exit code 0`, async (t) => {
      const srv = await startServer();
      t.after(() => srv.terminate('SIGKILL', 1000)); // only if the test failed half-way
      const ws = await srv.open(uid('ws'), undefined, { transports: ['websocket'] });
      const poll = await srv.open(uid('poll'), undefined, { transports: ['polling'] });
      const onWs = waitFor(ws, 'system_shutdown', 10_000);
      const onPoll = waitFor(poll, 'system_shutdown', 10_000);
      const exited = srv.exited();

      srv.proc.kill(signal);
      for (const ev of [await onWs, await onPoll]) {
        assert.ok(ev && typeof ev === 'object' && 'at' in ev, `system_shutdown payload has at: ${JSON.stringify(ev)}`);
        assertServerTime(ev.at, 'system_shutdown.at');
      }
      // system_shutdown is in no stream (contract section 8): no meta
      for (const sock of [ws, poll]) assertNoMeta(sock.__events.find((e) => e.event === 'system_shutdown').args, 'system_shutdown');
      const res = await Promise.race([
        exited,
        new Promise((_, reject) => setTimeout(() => reject(new Error('did not exit within 15 s')), 15_000).unref()),
      ]);
      assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null });
    });
  }

  test('SIGTERM on an idle server exits 0', async () => {
    const srv = await startServer();
    const started = Date.now();
    const { code, signal, killed } = await srv.terminate('SIGTERM', 15_000);
    assert.equal(killed, false, 'exits without needing SIGKILL');
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 15_000);
  });

  test('an API call in flight when SIGTERM arrives still gets its answer', async () => {
    const srv = await startServer();
    try {
      const call = halfSent(srv);
      // the request is in flight (headers and half the body sent) when the signal arrives
      await sleep(300);
      srv.proc.kill('SIGTERM');
      await sleep(300);
      call.finish();
      const res = await call.answer;
      assert.equal(res.status, 202, `in-flight call answered: ${res.text}`);
      const { code } = await srv.exited();
      assert.equal(code, 0);
    } finally {
      await srv.terminate('SIGKILL', 1000);
    }
  });

  test('calls refused while draining get 503 shutting_down, and none is logged as an ERROR', async () => {
    const srv = await startServer();
    try {
      const call = halfSent(srv); // holds the drain open
      await sleep(300);
      srv.proc.kill('SIGTERM');
      await sleep(300);
      for (let i = 0; i < 5; i++) {
        const res = await srv.api('POST', '/api/v1/announcements', { type: 'info', message: 'late' });
        assert.equal(res.status, 503, res.text);
        assert.equal(res.body.error.code, 'shutting_down');
      }
      call.finish();
      assert.equal((await call.answer).status, 202);
      assert.equal((await srv.exited()).code, 0);
      const log = srv.stderr();
      assert.match(log, /shutting down/, 'the log is captured (the INFO line of the drain)');
      const errors = log.split('\n').filter((l) => /\bERROR\b/.test(l));
      assert.deepEqual(errors, [], 'a refusal the server means to give is not an ERROR');
    } finally {
      await srv.terminate('SIGKILL', 1000);
    }
  });
});

/** A notification whose headers and first half are sent; `finish()` sends the rest. */
function halfSent(srv) {
  const body = JSON.stringify({ type: 'info', message: 'the last one' });
  const half = Math.floor(body.length / 2);
  const { hostname, port } = new URL(srv.url);
  let req;
  const answer = new Promise((resolve, reject) => {
    req = http.request(
      {
        host: hostname,
        port,
        method: 'POST',
        path: `/api/v1/users/${uid('inflight')}/notifications`,
        agent: false,
        headers: {
          authorization: `Bearer ${srv.apiKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, half));
  });
  return { answer, finish: () => req.end(body.slice(half)) };
}
