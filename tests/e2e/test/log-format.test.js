// --log-format json: every log line on stderr is one JSON object (for log collectors); the
// default stays text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uid } from '../lib/server.js';

test('--log-format json writes one JSON object per line; SWITCHYARD_LOG_FORMAT works too', async () => {
  for (const opts of [{ args: ['--log-format', 'json'] }, { env: { SWITCHYARD_LOG_FORMAT: 'json' } }]) {
    const srv = await startServer({ ...opts, env: { RUST_LOG: 'switchyard_host=debug', ...opts.env } });
    const s = await srv.open(uid('log'));
    s.disconnect();
    await srv.stop();
    const lines = srv.stderr().split('\n').filter(Boolean);
    assert.ok(lines.length > 0, 'something was logged');
    for (const line of lines) {
      const entry = JSON.parse(line);
      assert.equal(typeof entry.level, 'string', line);
      assert.equal(typeof entry.timestamp, 'string', line);
    }
  }
});

test('the default is text, and an unknown format is refused', async () => {
  const srv = await startServer({ env: { RUST_LOG: 'switchyard_host=debug' } });
  await srv.stop();
  assert.throws(() => JSON.parse(srv.stderr().split('\n')[0]));
  await assert.rejects(startServer({ args: ['--log-format', 'xml'] }), /invalid value 'xml'/);
});
