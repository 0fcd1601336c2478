// Contract §5: start-up, configuration by flags and by environment, refusals.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runToExit, randomSecret, randomApiKey, api, uid, closeAllSockets } from '../lib/server.js';

after(() => closeAllSockets());

describe('start-up', () => {
  test('serve prints "switchyard listening on http://127.0.0.1:PORT" with the real port', async (t) => {
    const srv = await startServer();
    t.after(() => srv.stop());
    const m = /^http:\/\/127\.0\.0\.1:(\d+)$/.exec(srv.url);
    assert.ok(m, `listening URL ${srv.url}`);
    assert.notEqual(Number(m[1]), 0, 'the printed port is the bound one, not 0');
    const res = await fetch(`${srv.url}/healthz`);
    assert.equal(res.status, 200);
  });

  test('refuses to start without a JWT key (non-zero exit, one-line reason on stderr)', async () => {
    const r = await runToExit(['serve', '--addr', '127.0.0.1:0', '--api-keys', randomApiKey()]);
    assert.equal(r.listening, false, 'must not start listening');
    assert.notEqual(r.code, 0, `exit code is non-zero (got ${r.code}, signal ${r.signal})`);
    assert.equal(r.signal, null, 'exits by itself, not by a signal');
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    assert.ok(lines.length >= 1, 'writes a reason to stderr');
    assert.ok(
      lines.some((l) => /jwt|secret|public[-_ ]?key/i.test(l)),
      `a stderr line names the missing JWT key:\n${r.stderr}`,
    );
    assert.ok(!/switchyard listening on/.test(r.stdout), 'no listening line');
  });

  test('refuses to start without an API key (non-zero exit, one-line reason on stderr)', async () => {
    const r = await runToExit(['serve', '--addr', '127.0.0.1:0', '--jwt-secret', randomSecret()]);
    assert.equal(r.listening, false, 'must not start listening');
    assert.notEqual(r.code, 0, `exit code is non-zero (got ${r.code}, signal ${r.signal})`);
    assert.equal(r.signal, null, 'exits by itself, not by a signal');
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    assert.ok(lines.length >= 1, 'writes a reason to stderr');
    assert.ok(
      lines.some((l) => /api[-_ ]?keys?/i.test(l)),
      `a stderr line names the missing API key:\n${r.stderr}`,
    );
  });

  test('takes its configuration from SWITCHYARD_* environment variables', async (t) => {
    const srv = await startServer({ via: 'env' });
    t.after(() => srv.stop());
    // the JWT secret from SWITCHYARD_JWT_SECRET is the one used for verification
    const sub = uid('env');
    const sock = await srv.open(sub);
    t.after(() => sock.disconnect());
    assert.equal(sock.welcome.userId, sub);
    // both keys from SWITCHYARD_API_KEYS are accepted, another one is not
    for (const key of srv.apiKeys) {
      const res = await api(srv.url, key, 'GET', '/api/v1/sockets');
      assert.equal(res.status, 200, `key from the environment is accepted: ${res.text}`);
    }
    const bad = await api(srv.url, randomApiKey(), 'GET', '/api/v1/sockets');
    assert.equal(bad.status, 401);
  });

  test('demo-only routes do not exist in serve mode', async (t) => {
    const srv = await startServer();
    t.after(() => srv.stop());
    const res = await fetch(`${srv.url}/demo/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'alice' }),
    });
    assert.equal(res.status, 404, 'POST /demo/token is 404 outside demo mode');
    await res.arrayBuffer();
  });
});
