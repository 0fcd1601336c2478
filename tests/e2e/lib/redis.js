// A real redis-server on a free port for tests (started and stopped by the test, killed and
// restarted where the test is about failure). Only Node's own modules: tests/browser imports
// this file too, without tests/e2e's node_modules.

import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

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
