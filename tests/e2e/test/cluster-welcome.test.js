// A handshake the store accepted but a welcome it could not complete (here: a Redis user that
// may touch the presence keys but not the stream keys, so the socket is registered and then
// its streams cannot be read). The client must not be left connected without a welcome,
// waiting for ever: its transport is cut, so a stock socket.io-client reconnects by itself, and
// once the store works again it is greeted like any other.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, uid, until } from '../lib/server.js';
import { redisMissing, startRedis } from '../lib/cluster.js';

const skip = redisMissing();
const PRESENCE_ONLY = 'on >pw resetkeys ~switchyard:sock:* ~switchyard:node:* ~switchyard:nodes ~switchyard:online ~switchyard:user:* &* +@all';

describe('a welcome the store cannot complete', { skip }, () => {
  test('the transport is cut, the client reconnects by itself, and is greeted once the store works', { timeout: 40_000 }, async () => {
    const redis = await startRedis();
    let node;
    let socket;
    try {
      assert.match(await redis.command(`ACL SETUSER sy ${PRESENCE_ONLY}`), /^\+OK/);
      node = await startServer({ args: ['--redis-url', `redis://sy:pw@127.0.0.1:${redis.port}/`, '--node-id', uid('n')] });
      const user = uid('w');
      const token = await node.token({ sub: user });
      const connects = [];
      const reasons = [];
      const welcomes = [];
      socket = io(node.url, {
        forceNew: true,
        transports: ['websocket'],
        auth: { token },
        reconnectionDelay: 100,
        reconnectionDelayMax: 300,
      });
      socket.on('connect', () => connects.push(Date.now()));
      socket.on('disconnect', (reason) => reasons.push(reason));
      socket.on('welcome', (w) => welcomes.push(w));

      await until(() => connects.length >= 2 && reasons.length >= 2, {
        timeoutMs: 15_000,
        message: () => `two connects, each cut (connects ${connects.length}, disconnects ${JSON.stringify(reasons)})`,
      });
      assert.deepEqual(welcomes, [], 'no welcome while the streams cannot be read');
      assert.ok(
        reasons.every((r) => r === 'transport close' || r === 'transport error'),
        `only lost transports, never a server disconnect (which would stop the client): ${JSON.stringify(reasons)}`,
      );
      assert.ok(node.stderr().includes('welcome not completed'), 'the server says why');

      // The store works again: the next reconnect is greeted.
      assert.match(await redis.command('ACL SETUSER sy ~*'), /^\+OK/);
      await until(() => welcomes.length === 1, { timeoutMs: 10_000, message: 'a welcome once the streams can be read' });
      assert.equal(welcomes[0].userId, user);
      assert.ok(socket.connected, 'and it stays connected');
      const before = reasons.length;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(reasons.length, before, 'no further cut');
    } finally {
      socket?.disconnect();
      await node?.stop();
      await redis.stop();
    }
  });
});
