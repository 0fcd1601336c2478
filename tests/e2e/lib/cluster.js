// Cluster mode helpers: a real redis-server on a free port (started and stopped by the test,
// killed and restarted where the test is about failure) and N `switchyard serve` nodes pointed at
// it, sharing one JWT secret and one API key so any node accepts any client and any backend call.

import { after, before } from 'node:test';
import { startServer, randomSecret, randomApiKey, closeAllSockets, uid } from './server.js';
import { startRedis } from './redis.js';

// The Redis helpers live in redis.js (no npm imports, so tests/browser can use them too).
export { redisMissing, freePort, startRedis } from './redis.js';

/**
 * Start `n` nodes on one Redis. Options: args (extra flags for every node), redis (an existing
 * startRedis() handle; default: a new one, stopped by stop()). Returns { redis, nodes, secret,
 * apiKey, startNode(i), stop() }; nodes[i].nodeId is its --node-id.
 */
export async function startCluster(n, { args = [], redis } = {}) {
  const ownRedis = !redis;
  redis = redis ?? (await startRedis());
  const secret = randomSecret();
  const apiKeys = [randomApiKey()];
  const prefix = uid('node');
  const cluster = {
    redis,
    secret,
    apiKey: apiKeys[0],
    nodes: [],
    /** (Re)start node `i` with the same id, secret and key; replaces nodes[i]. */
    async startNode(i, extra = []) {
      const nodeId = `${prefix}-${i}`;
      const node = await startServer({
        secret,
        apiKeys,
        args: ['--redis-url', redis.url, '--node-id', nodeId, ...args, ...extra],
      });
      node.nodeId = nodeId;
      cluster.nodes[i] = node;
      return node;
    },
    async stop() {
      closeAllSockets();
      await Promise.all(cluster.nodes.map((node) => node.terminate('SIGTERM', 5000)));
      if (ownRedis) await redis.stop();
    },
  };
  try {
    await Promise.all(Array.from({ length: n }, (_, i) => cluster.startNode(i)));
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/**
 * A cluster shared by the tests of one file or describe block: started in a `before` hook,
 * stopped in an `after` hook. The handle fills in once the hook has run: use it in tests only.
 */
export function sharedCluster(n, opts) {
  const handle = {};
  before(async () => Object.assign(handle, await startCluster(n, opts)));
  after(async () => {
    if (handle.stop) await handle.stop();
  });
  return handle;
}
