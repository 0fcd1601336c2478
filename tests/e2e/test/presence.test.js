// Contract §3 presence (user_online / user_offline to system_presence) and the decisions file's
// --max-sockets-per-user limit (connect_error "too_many_sockets").

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, startServer, disconnect, waitFor, emitAck, received, mark, uid, until } from '../lib/server.js';
import { assertPresenceSubscribed, assertServerTime } from '../lib/assertions.js';

const MAX_SOCKETS = 2;
const srv = sharedServer({ args: ['--max-sockets-per-user', String(MAX_SOCKETS)] });

async function observer(pattern = 'system_presence') {
  const sock = await srv.open(uid('observer'), [pattern]);
  // the ack is the presence snapshot, which already lists the observer itself
  assertPresenceSubscribed(await emitAck(sock, 'subscribe', { room: 'system_presence' }), {
    includes: [sock.welcome.userId],
  });
  return sock;
}

const isFor = (userId) => (p) => p?.userId === userId;

describe('presence events', () => {
  test('user_online on the first socket only; user_offline only after the last socket leaves', async () => {
    const obs = await observer();
    const carol = uid('carol');
    const dave = uid('dave');
    try {
      // first device of carol -> user_online { userId, at }
      const online = waitFor(obs, 'user_online', 3000, isFor(carol));
      const d1 = await srv.open(carol);
      const ev = await online;
      assert.deepEqual(Object.keys(ev).sort(), ['at', 'userId']);
      assert.equal(ev.userId, carol);
      assertServerTime(ev.at, 'user_online.at');

      // second device: no second user_online. Marker: dave's user_online, which comes after.
      const from = mark(obs);
      const d2 = await srv.open(carol);
      const daveOnline = waitFor(obs, 'user_online', 3000, isFor(dave));
      const dv = await srv.open(dave);
      await daveOnline;
      assert.deepEqual(
        received(obs, 'user_online', from).filter(isFor(carol)),
        [],
        'no user_online for the second device of the same user',
      );

      // first device leaves: carol is still online, no user_offline. Marker: dave's user_offline.
      disconnect(d1);
      await until(async () => (await srv.presence(carol)).sockets.length === 1, {
        message: 'the server to drop the first device',
      });
      const daveOffline = waitFor(obs, 'user_offline', 3000, isFor(dave));
      disconnect(dv);
      await daveOffline;
      assert.deepEqual(
        received(obs, 'user_offline', from).filter(isFor(carol)),
        [],
        'no user_offline while another device is connected',
      );

      // last device leaves -> user_offline { userId, at }
      const offline = waitFor(obs, 'user_offline', 3000, isFor(carol));
      disconnect(d2);
      const off = await offline;
      assert.deepEqual(Object.keys(off).sort(), ['at', 'userId']);
      assert.equal(off.userId, carol);
      assertServerTime(off.at, 'user_offline.at');
      assert.equal(received(obs, 'user_offline', from).filter(isFor(carol)).length, 1);
      assert.equal(received(obs, 'user_online', 0).filter(isFor(carol)).length, 1);
    } finally {
      disconnect(obs);
    }
  });

  test('a "system_*" pattern in the token allows subscribing to system_presence', async () => {
    const obs = await observer('system_*');
    try {
      const who = uid('erin');
      const online = waitFor(obs, 'user_online', 3000, isFor(who));
      const s = await srv.open(who);
      await online;
      const offline = waitFor(obs, 'user_offline', 3000, isFor(who));
      disconnect(s);
      await offline;
    } finally {
      disconnect(obs);
    }
  });

  test('sockets not subscribed to system_presence get no presence events', async () => {
    const obs = await observer();
    const bystanderId = uid('bystander');
    const bystander = await srv.open(bystanderId, ['system_*']); // allowed, but not subscribed
    try {
      const from = mark(bystander);
      const who = uid('frank');
      const online = waitFor(obs, 'user_online', 3000, isFor(who));
      const s = await srv.open(who);
      await online;
      const offline = waitFor(obs, 'user_offline', 3000, isFor(who));
      disconnect(s);
      await offline;
      // marker on the bystander's own connection, sent after both presence events
      const marker = waitFor(bystander, 'notification');
      await srv.notify(bystanderId, 'marker');
      await marker;
      assert.deepEqual(received(bystander, 'user_online', from), []);
      assert.deepEqual(received(bystander, 'user_offline', from), []);
    } finally {
      disconnect(obs);
      disconnect(bystander);
    }
  });

  test('DELETE /users/{id}/sockets makes the user go offline', async () => {
    const obs = await observer();
    try {
      const who = uid('gina');
      const online = waitFor(obs, 'user_online', 3000, isFor(who));
      await srv.open(who);
      await srv.open(who);
      await online;
      const offline = waitFor(obs, 'user_offline', 3000, isFor(who));
      const res = await srv.api('DELETE', `/api/v1/users/${who}/sockets`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { disconnected: 2 });
      assert.equal((await offline).userId, who);
    } finally {
      disconnect(obs);
    }
  });
});

describe('the system_presence ack (contract section 8, "Presence snapshot")', () => {
  test('lists every online user, sorted, with count; no stream position; a since there is ignored', async () => {
    const ids = [uid('zed'), uid('amy'), uid('max')];
    const socks = [];
    for (const id of ids) socks.push(await srv.open(id));
    const gone = uid('gone');
    disconnect(await srv.open(gone));
    await until(async () => (await srv.presence(gone)).online === false, { message: `${gone} to be offline` });
    const obs = await srv.open(uid('obs'), ['system_presence']);
    try {
      const plain = assertPresenceSubscribed(await emitAck(obs, 'subscribe', { room: 'system_presence' }), {
        includes: [...ids, obs.welcome.userId],
        excludes: [gone],
      });
      // presence has no stream: a since (even a well-formed one) changes nothing
      const since = { epoch: 'e1', offset: 3 };
      const withSince = assertPresenceSubscribed(await emitAck(obs, 'subscribe', { room: 'system_presence', since }));
      assert.deepEqual(withSince, plain);
      // and a malformed one is ignored there too ("a since there is ignored"), not refused
      for (const bad of [{ offset: 1 }, 'e:4', [], { epoch: '', offset: -1 }]) {
        const ack = assertPresenceSubscribed(await emitAck(obs, 'subscribe', { room: 'system_presence', since: bad }));
        assert.deepEqual(ack, plain, `since ${JSON.stringify(bad)}`);
      }
    } finally {
      socks.forEach(disconnect);
      disconnect(obs);
    }
  });
});

describe('the system_presence snapshot beyond 1000 users', () => {
  test('1001 online users: the first 1000 (sorted), count 1001, truncated: true; at 1000 no truncated', { timeout: 60_000 }, async (t) => {
    const big = await startServer(); // its own server: nobody else is online there
    t.after(() => big.stop());
    const ids = Array.from({ length: 1001 }, (_, i) => `p${String(i).padStart(4, '0')}`);
    const socks = [];
    t.after(() => socks.forEach(disconnect));
    for (let i = 0; i < ids.length; i += 50) {
      socks.push(...(await Promise.all(ids.slice(i, i + 50).map((id) => big.open(id, ['system_presence'])))));
    }
    const full = assertPresenceSubscribed(await emitAck(socks[0], 'subscribe', { room: 'system_presence' }));
    assert.equal(full.count, 1001);
    assert.equal(full.truncated, true);
    assert.deepEqual(full.online, ids.slice(0, 1000), 'the first 1000 user ids in sort order');

    disconnect(socks.pop());
    await until(async () => (await big.presence(ids.at(-1))).online === false, { message: 'the last user to be offline' });
    const exact = assertPresenceSubscribed(await emitAck(socks[0], 'subscribe', { room: 'system_presence' }));
    assert.equal(exact.count, 1000);
    assert.equal('truncated' in exact, false, 'truncated only when there are more than 1000');
    assert.deepEqual(exact.online, ids.slice(0, 1000));
  });
});

describe('presence API', () => {
  test('GET /users/{id}/presence lists the socket ids of an online user', async () => {
    const who = uid('hank');
    const a = await srv.open(who);
    const b = await srv.open(who);
    try {
      const p = await srv.presence(who);
      assert.deepEqual(Object.keys(p).sort(), ['online', 'sockets', 'userId']);
      assert.equal(p.userId, who);
      assert.equal(p.online, true);
      assert.deepEqual([...p.sockets].sort(), [a.id, b.id].sort());
    } finally {
      disconnect(a);
      disconnect(b);
    }
    await until(async () => (await srv.presence(who)).online === false, { message: `${who} to be offline` });
    assert.deepEqual(await srv.presence(who), { userId: who, online: false, sockets: [] });
  });

  test('GET presence of a user that never connected', async () => {
    const who = uid('nobody');
    assert.deepEqual(await srv.presence(who), { userId: who, online: false, sockets: [] });
  });
});

describe(`--max-sockets-per-user ${MAX_SOCKETS}`, () => {
  test(`socket number ${MAX_SOCKETS + 1} of one user is refused with "too_many_sockets"`, async () => {
    const who = uid('ivy');
    const socks = [];
    try {
      for (let i = 0; i < MAX_SOCKETS; i++) socks.push(await srv.open(who));
      await assert.rejects(srv.open(who), (err) => {
        assert.equal(err.message, 'too_many_sockets');
        return true;
      });
      // the refused socket is not counted
      const p = await srv.presence(who);
      assert.deepEqual([...p.sockets].sort(), socks.map((s) => s.id).sort());
      // other users are not affected
      const other = await srv.open(uid('jack'));
      disconnect(other);
      // a freed slot can be used again
      disconnect(socks.shift());
      await until(async () => (await srv.presence(who)).sockets.length === MAX_SOCKETS - 1, {
        message: 'the server to drop the disconnected socket',
      });
      socks.push(await srv.open(who));
      assert.equal((await srv.presence(who)).sockets.length, MAX_SOCKETS);
    } finally {
      socks.forEach(disconnect);
    }
  });
});
