// Cluster mode helpers: a real redis-server on a free port (started and stopped by the test,
// killed and restarted where the test is about failure) and N `switchyard serve` nodes pointed at
// it, sharing one JWT secret and one API key so any node accepts any client and any backend call.

import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, before } from 'node:test';
import { startServer, randomSecret, randomApiKey, closeAllSockets, uid } from './server.js';

/** Why cluster tests cannot run here (undefined when they can): redis-server is missing. */
export function redisMissing() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return 'redis-server is not installed (scripts/test installs it as root: apt-get install -y redis-server)';
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, up, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const open = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open === up) return;
    if (Date.now() > deadline) throw new Error(`redis port ${port} did not become ${up ? 'open' : 'closed'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Start redis-server on a free port, in memory only. Returns { port, url, stop(), kill(),
 * start() }: kill() is SIGKILL (its data is gone, as after a crash without persistence), start()
 * brings a fresh one back on the same port.
 */
export async function startRedis() {
  const port = await freePort();
  let proc;
  let stderr = '';
  const redis = {
    port,
    url: `redis://127.0.0.1:${port}/`,
    async start() {
      proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      proc.stderr.on('data', (c) => {
        stderr += c;
      });
      await waitForPort(port, true).catch((e) => {
        throw new Error(`${e.message}\n${stderr}`);
      });
    },
    async kill(signal = 'SIGKILL') {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exited;
      await waitForPort(port, false);
    },
    stop: () => redis.kill('SIGTERM'),
    /** Send one command (inline form) and resolve with the raw reply text. */
    command(line) {
      return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let out = '';
        s.setEncoding('utf8');
        s.once('error', reject);
        s.on('data', (d) => {
          out += d;
          if (out.endsWith('\r\n')) {
            s.end();
            resolve(out);
          }
        });
        s.write(`${line}\r\n`);
      });
    },
  };
  await redis.start();
  return redis;
}

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
