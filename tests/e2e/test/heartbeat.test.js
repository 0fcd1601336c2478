// Engine.IO's heartbeat, end to end: the server pings every session and closes one that has not
// answered within the pingTimeout its open packet announces; one that answers stays, ping after
// ping. Switchyard builds a patched engineioxide whose websocket sessions run the heartbeat in
// their connection task rather than in a task of their own (vendor/README.md), so these are the
// tests that would catch that patch breaking it, on each way a session can start: a websocket
// at once, long-polling, and polling upgraded to a websocket by the official client.
//
// They wait for the real timers (the defaults: a ping at once, pingTimeout 20 s, pingInterval
// 25 s), all sessions at the same time, so the file takes about half a minute.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, uid, until, waitFor } from '../lib/server.js';
import { openWs, within } from '../lib/raw.js';
import { openPolling, isClosed } from '../lib/polling.js';

const SLACK_MS = 5000;

describe('the Engine.IO heartbeat', () => {
  const srv = sharedServer();

  test('a silent session is closed after pingTimeout and goes offline; a live one stays through the next ping', async () => {
    const silentUser = uid('silent');
    const liveUser = uid('live');
    const upgradedUser = uid('upgraded');
    const pollingUser = uid('polling');

    const silent = await openWs(srv, { token: await srv.token({ sub: silentUser }) }, { answerPings: false });
    const live = await openWs(srv, { token: await srv.token({ sub: liveUser }) });
    const upgraded = await srv.open(upgradedUser, undefined, { transports: ['polling', 'websocket'] });
    const polling = await openPolling(srv, { token: await srv.token({ sub: pollingUser }) });
    const { pingInterval, pingTimeout } = JSON.parse(silent.packets[0].slice(1));
    assert.ok(pingInterval > 0 && pingTimeout > 0, `the open packet announces the heartbeat: ${silent.packets[0]}`);
    assert.equal((await srv.presence(silentUser)).online, true);

    // The silent websocket: pinged, never answers, closed once pingTimeout has passed.
    const code = await within(silent.closed, pingTimeout + pingInterval + SLACK_MS);
    assert.notEqual(code, 'timeout', 'the silent session was not closed');
    const closedAt = Date.now();
    assert.ok(silent.pings.length >= 1, 'the silent session was pinged');
    const lastPing = silent.pings[silent.pings.length - 1];
    assert.ok(closedAt - lastPing >= pingTimeout - 1000, `closed ${closedAt - lastPing} ms after the ping, before pingTimeout (${pingTimeout} ms)`);
    assert.ok(closedAt - lastPing <= pingTimeout + SLACK_MS, `closed ${closedAt - lastPing} ms after the ping`);
    assert.equal(typeof code, 'number');
    // The socket's disconnect ran: its user is offline (the server's own bookkeeping, not the TCP close).
    await until(async () => (await srv.presence(silentUser)).online === false, { message: `${silentUser} offline` });

    // The long-polling session that stopped polling was closed by the same rule.
    const after = await polling.poll();
    assert.ok(after.status !== 200 || isClosed(after.packets), `the polling session is gone: ${after.status} ${after.packets}`);

    // The live ones answered and are still there after the next ping.
    await until(() => live.pings.length >= 2, { timeoutMs: pingInterval + SLACK_MS, message: 'a second ping to the live session' });
    assert.equal(live.closeCode, undefined, 'the live websocket is still open');
    assert.equal(upgraded.connected, true, 'the upgraded client is still connected');
    assert.equal(upgraded.io.engine.transport.name, 'websocket', 'the official client upgraded to a websocket');
    assert.equal((await srv.presence(liveUser)).online, true);

    // And they still get their events.
    await srv.notify(liveUser, 'still here');
    await live.waitFor((p) => typeof p === 'string' && p.startsWith('42["notification"') && p.includes('still here'), 3000, 'the notification');
    const got = waitFor(upgraded, 'notification', 3000);
    await srv.notify(upgradedUser, 'upgraded and here');
    assert.equal((await got).message, 'upgraded and here');
  });
});
