// Contract section 9, presence and the API across nodes: user_online / user_offline once
// cluster-wide, the socket list with `node` and its count, GET /api/v1/nodes,
// --max-sockets-per-user over every node, and joinRoom / leaveRoom / handleUserLogout reaching a
// socket held by another node. Also: a single in-memory node lists itself in /api/v1/nodes.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, disconnect, emitAck, uid, until, waitFor, isRecentServerTime } from '../lib/server.js';
import { assertHttpError } from '../lib/assertions.js';
import { redisMissing, sharedCluster } from '../lib/cluster.js';

const skip = redisMissing();
const MAX = 2;

/** A socket on `node` that watches system_presence; its log holds what it heard. */
async function watcher(node) {
  const s = await node.open(uid('w'), ['system_presence']);
  const ack = await emitAck(s, 'subscribe', { room: 'system_presence' });
  assert.equal(ack.ok, true);
  return s;
}

function heard(sock, event, userId) {
  return sock.__events.filter((e) => e.event === event && e.args[0].userId === userId).length;
}

describe('presence and the API across three nodes', { skip }, () => {
  const c = sharedCluster(3, { args: ['--max-sockets-per-user', String(MAX)] });

  test('user_online once when the first socket anywhere connects, user_offline once when the last leaves', async () => {
    const watchers = await Promise.all(c.nodes.map(watcher));
    const user = uid('p');
    const a = await c.nodes[0].open(user);
    await Promise.all(watchers.map((w) => until(() => heard(w, 'user_online', user) === 1, { message: 'user_online' })));
    const b = await c.nodes[1].open(user);
    for (const n of c.nodes) {
      const p = await n.presence(user);
      assert.equal(p.online, true);
      assert.deepEqual(p.sockets, [a.id, b.id].sort(), 'presence lists the sockets of both nodes');
    }
    disconnect(a);
    await until(async () => (await c.nodes[2].presence(user)).sockets.length === 1, { message: 'one socket left' });
    disconnect(b);
    await Promise.all(watchers.map((w) => until(() => heard(w, 'user_offline', user) === 1, { message: 'user_offline' })));
    await new Promise((r) => setTimeout(r, 300));
    for (const w of watchers) {
      assert.equal(heard(w, 'user_online', user), 1, 'user_online exactly once on every node');
      assert.equal(heard(w, 'user_offline', user), 1, 'user_offline exactly once on every node');
    }
    assert.equal((await c.nodes[0].presence(user)).online, false);
    // The presence snapshot covers every node.
    const other = uid('p');
    const o = await c.nodes[2].open(other);
    const snap = await emitAck(watchers[0], 'subscribe', { room: 'system_presence' });
    assert.ok(snap.online.includes(other), 'a user connected to node C is in the snapshot on node A');
    disconnect(o);
    watchers.forEach(disconnect);
  });

  test('GET /api/v1/sockets and /api/v1/nodes cover every node', async () => {
    const users = [uid('s'), uid('s'), uid('s')];
    const socks = await Promise.all(c.nodes.map((n, i) => n.open(users[i])));
    for (const n of c.nodes) {
      const res = await n.api('GET', '/api/v1/sockets');
      assert.equal(res.status, 200);
      for (const [i, s] of socks.entries()) {
        const entry = res.body.sockets.find((e) => e.id === s.id);
        assert.deepEqual(entry, { id: s.id, userId: users[i], rooms: [`user_${users[i]}`], node: c.nodes[i].nodeId });
      }
      assert.equal(res.body.count, res.body.sockets.length);
      const nodes = await n.api('GET', '/api/v1/nodes');
      assert.equal(nodes.status, 200);
      assert.deepEqual(nodes.body.nodes.map((x) => x.id), c.nodes.map((x) => x.nodeId).sort());
      for (const x of nodes.body.nodes) {
        assert.ok(isRecentServerTime(x.seenAt), `seenAt ${x.seenAt}`);
        assert.ok(x.sockets >= 1, 'each node holds the socket opened on it');
      }
    }
    socks.forEach(disconnect);
  });

  test('each node\'s /metrics counts its own sockets and users (read when scraped)', async () => {
    const [a, b] = c.nodes;
    /** This node's sockets and users, as the cluster-wide socket list names them. */
    async function own(node) {
      const mine = (await node.api('GET', '/api/v1/sockets')).body.sockets.filter((s) => s.node === node.nodeId);
      return { sockets: mine.length, users: new Set(mine.map((s) => s.userId)).size, ids: mine.map((s) => s.userId) };
    }
    /** The node's two gauges agree with its own entries (sockets of earlier tests may still be going). */
    async function agree(node, twice) {
      const o = await own(node);
      const [sockets, users] = [await node.metric('switchyard_connected_sockets'), await node.metric('switchyard_online_users')];
      return o.ids.filter((id) => id === twice).length === (node === a ? 2 : 0) && sockets === o.sockets && users === o.users && o;
    }
    const twice = uid('m2');
    const once = uid('m1');
    const elsewhere = uid('m3');
    const opened = [await a.open(twice), await a.open(twice), await a.open(once), await b.open(elsewhere)];
    try {
      const onA = await until(() => agree(a, twice), { message: "A's gauges to count its own sockets" });
      assert.ok(onA.ids.includes(once) && !onA.ids.includes(elsewhere), "A's own, not B's");
      assert.ok(onA.sockets - onA.users >= 1, 'a user with two sockets is one user');
      const onB = await until(() => agree(b, twice), { message: "B's gauges to count its own sockets" });
      assert.ok(onB.ids.includes(elsewhere) && !onB.ids.includes(once), "B's own, not A's");
    } finally {
      opened.forEach(disconnect);
    }
    await until(async () => {
      const o = await own(a);
      return !o.ids.includes(twice) && (await a.metric('switchyard_connected_sockets')) === o.sockets;
    }, { message: 'A to count its sockets gone' });
  });

  test(`--max-sockets-per-user ${MAX} counts the sockets on every node`, async () => {
    const user = uid('m');
    const first = await c.nodes[0].open(user);
    const second = await c.nodes[1].open(user);
    await assert.rejects(c.nodes[2].open(user), (err) => err.message === 'too_many_sockets');
    disconnect(first);
    await until(async () => (await c.nodes[2].presence(user)).sockets.length === 1, { message: 'a freed slot' });
    const third = await c.nodes[2].open(user);
    disconnect(second);
    disconnect(third);
  });

  test('joinRoom and leaveRoom through node B act on a socket of node A before answering', async () => {
    const user = uid('j');
    const sock = await c.nodes[0].open(user);
    const room = `meter_${uid('M')}`;
    const res = await c.nodes[1].api('PUT', `/api/v1/sockets/${sock.id}/rooms/${room}`);
    assert.equal(res.status, 204, res.text);
    const list = await c.nodes[2].api('GET', '/api/v1/sockets');
    assert.deepEqual(list.body.sockets.find((e) => e.id === sock.id).rooms, [room, `user_${user}`].sort());
    const got = waitFor(sock, 'meter_reading');
    await c.nodes[2].publish(`/api/v1/meters/${room.slice(6)}/readings`, { reading: 1, timestamp: new Date().toISOString(), unit: 'kWh' });
    await got;
    assert.equal((await c.nodes[2].api('DELETE', `/api/v1/sockets/${sock.id}/rooms/${room}`)).status, 204);
    assertHttpError(await c.nodes[1].api('DELETE', `/api/v1/sockets/${sock.id}/rooms/user_${user}`), 403, 'forbidden');
    await c.nodes[1].publish(`/api/v1/meters/${room.slice(6)}/readings`, { reading: 2, timestamp: new Date().toISOString(), unit: 'kWh' });
    const marker = waitFor(sock, 'notification');
    await c.nodes[0].notify(user, 'marker');
    await marker;
    assert.equal(sock.__events.filter((e) => e.event === 'meter_reading').length, 1, 'no reading after leaveRoom');
    assertHttpError(await c.nodes[1].api('PUT', `/api/v1/sockets/nosuchsocket123/rooms/${room}`), 404, 'not_found');
    disconnect(sock);
  });

  test('handleUserLogout through node C disconnects the sockets on A and B', async () => {
    const user = uid('l');
    const a = await c.nodes[0].open(user);
    const b = await c.nodes[1].open(user);
    const gone = [waitFor(a, 'disconnect'), waitFor(b, 'disconnect')];
    const res = await c.nodes[2].api('DELETE', `/api/v1/users/${user}/sockets`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { disconnected: 2 });
    await Promise.all(gone);
    await until(async () => !(await c.nodes[2].presence(user)).online, { message: 'offline after logout' });
  });
});

describe('a single in-memory node', () => {
  const srv = sharedServer();
  test('GET /api/v1/nodes lists itself with its sockets', async () => {
    const s = await srv.open(uid('n'));
    const res = await srv.api('GET', '/api/v1/nodes');
    assert.equal(res.status, 200);
    assert.equal(res.body.nodes.length, 1);
    assert.equal(res.body.nodes[0].sockets, 1);
    assert.ok(isRecentServerTime(res.body.nodes[0].seenAt));
    assert.match(res.body.nodes[0].id, /^[A-Za-z0-9._-]+-[0-9a-f]{6}$/);
    const list = await srv.api('GET', '/api/v1/sockets');
    assert.equal(list.body.sockets[0].node, undefined, 'no node field on a single node');
    disconnect(s);
  });
});
