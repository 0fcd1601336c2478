// Start and stop `switchyard demo` for the browser tests.
//
// The binary is target/debug/switchyard (env SWITCHYARD_BIN overrides it). It is started with
// `demo --addr 127.0.0.1:0 --demo-dir <repo>/web-demo/dist` and prints exactly one line on
// stdout once it accepts connections: `switchyard listening on http://127.0.0.1:PORT`.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Root of the repository (tests/browser/lib -> ../../..). */
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const DEMO_DIR = path.join(REPO_ROOT, 'web-demo', 'dist');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'tests', 'artifacts');

const LISTENING_RE = /^switchyard listening on (http:\/\/[^\s/]+)\/?\s*$/m;
const KEEP = 32 * 1024;

export function binaryPath() {
  if (process.env.SWITCHYARD_BIN) return path.resolve(process.env.SWITCHYARD_BIN);
  return path.join(REPO_ROOT, 'target', 'debug', 'switchyard');
}

/**
 * Spawn the demo server (with `args` after the usual ones, e.g. `['--history-size', '3']`);
 * resolves to { url, child, stderr(), stop(signal) } once the listening line is printed.
 * Rejects (with the server's stderr) if it exits or takes too long.
 */
export async function startDemo({ timeoutMs = 30_000, args = [] } = {}) {
  const bin = binaryPath();
  if (!existsSync(bin)) throw new Error(`switchyard binary not found at ${bin} (build it or set SWITCHYARD_BIN)`);
  if (!existsSync(path.join(DEMO_DIR, 'index.html'))) {
    throw new Error(`${DEMO_DIR}/index.html is missing: run \`npm install && npm run build\` in web-demo`);
  }
  const env = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('SWITCHYARD_')) delete env[k];
  const child = spawn(bin, ['demo', '--addr', '127.0.0.1:0', '--demo-dir', DEMO_DIR, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-KEEP);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  process.once('exit', () => child.exitCode === null && child.kill('SIGKILL'));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard demo did not print its listening line within ${timeoutMs} ms\nstderr:\n${stderr}`));
    }, timeoutMs);
    timer.unref();
    child.stdout.on('data', (d) => {
      stdout = (stdout + d).slice(-KEEP);
      const m = LISTENING_RE.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`switchyard demo exited early (code ${code}, signal ${signal})\nstderr:\n${stderr}`));
    });
  });

  return {
    url,
    child,
    exited,
    stderr: () => stderr,
    /** Send `signal` and wait for the exit (SIGKILL after `graceMs`). */
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      timer.unref();
      const res = await exited;
      clearTimeout(timer);
      return res;
    },
  };
}
