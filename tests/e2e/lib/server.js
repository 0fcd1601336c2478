// Helpers for the end-to-end suite: start the real `switchyard` binary, sign tokens, talk to the
// HTTP API and connect the official socket.io-client. Nothing here knows the server's internals;
// everything follows /work/shared/CONTRACT.md and the team decisions.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { SignJWT } from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Root of the repository (tests/e2e/lib -> ../../..). */
export const REPO_ROOT = path.resolve(here, '..', '..', '..');

/** RFC 3339, UTC, exactly three fractional digits, `Z` (decisions file). */
export const SERVER_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Line the binary prints on stdout once it accepts connections. */
const LISTENING_RE = /^switchyard listening on (http:\/\/[^\s/]+)\/?\s*$/;

const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const STDERR_KEEP_BYTES = 64 * 1024;

/** Path of the binary under test. */
export function binaryPath() {
  if (process.env.SWITCHYARD_BIN) return path.resolve(process.env.SWITCHYARD_BIN);
  return path.join(REPO_ROOT, 'target', 'debug', 'switchyard');
}

export function randomSecret() {
  return randomBytes(32).toString('hex');
}

export function randomApiKey() {
  return `sk_${randomBytes(18).toString('hex')}`;
}

/** A fresh valid id (contract §1: 1–64 chars of `A-Z a-z 0-9 . _ : @ -`). */
export function uid(prefix = 'u') {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Child processes

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** The environment for a child: ours, minus any SWITCHYARD_* that could change its config. */
function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SWITCHYARD_')) continue;
    env[k] = v;
  }
  env.NO_COLOR = '1';
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

/**
 * Spawn the binary with exactly `args`. Returns a handle that collects output, tells when the
 * listening line appears and when the process exits.
 */
function launch(args, env) {
  const bin = binaryPath();
  if (!existsSync(bin)) {
    throw new Error(
      `switchyard binary not found at ${bin}: build it with \`cargo build -p switchyard-host\` ` +
        'or point SWITCHYARD_BIN at it',
    );
  }
  const proc = spawn(bin, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(proc);

  const h = {
    proc,
    args,
    stdout: '',
    stderr: '',
    exit: null, // { code, signal } once exited
    url: null,
  };
  let lineBuf = '';
  const urlWaiters = [];
  const exitWaiters = [];

  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    h.stdout += chunk;
    if (h.stdout.length > STDERR_KEEP_BYTES) h.stdout = h.stdout.slice(-STDERR_KEEP_BYTES);
    lineBuf += chunk;
    let nl;
    while ((nl = lineBuf.indexOf('\n')) >= 0) {
      const line = lineBuf.slice(0, nl).replace(/\r$/, '');
      lineBuf = lineBuf.slice(nl + 1);
      const m = LISTENING_RE.exec(line);
      if (m && !h.url) {
        h.url = m[1];
        for (const w of urlWaiters.splice(0)) w.resolve(h.url);
      }
    }
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    if (process.env.E2E_VERBOSE) process.stderr.write(chunk);
    h.stderr += chunk;
    if (h.stderr.length > STDERR_KEEP_BYTES) h.stderr = h.stderr.slice(-STDERR_KEEP_BYTES);
  });
  proc.on('error', (err) => {
    // spawn failure (EACCES, ENOENT...): behave like an exit
    if (h.exit) return;
    h.exit = { code: null, signal: null, error: err };
    liveChildren.delete(proc);
    for (const w of urlWaiters.splice(0)) w.reject(err);
    for (const w of exitWaiters.splice(0)) w(h.exit);
  });
  proc.on('exit', (code, signal) => {
    if (h.exit) return;
    h.exit = { code, signal };
    liveChildren.delete(proc);
    const err = new Error(
      `switchyard (${args.join(' ')}) exited with code ${code} signal ${signal} before printing ` +
        `the listening line.\n--- stdout ---\n${h.stdout}\n--- stderr ---\n${h.stderr}`,
    );
    for (const w of urlWaiters.splice(0)) w.reject(err);
    for (const w of exitWaiters.splice(0)) w(h.exit);
  });

  h.listening = (timeoutMs = DEFAULT_START_TIMEOUT_MS) =>
    new Promise((resolve, reject) => {
      if (h.url) return resolve(h.url);
      if (h.exit) return reject(new Error(`switchyard exited early: ${JSON.stringify(h.exit)}\n${h.stderr}`));
      const timer = setTimeout(() => {
        reject(
          new Error(
            `switchyard did not print "switchyard listening on http://HOST:PORT" within ${timeoutMs} ms` +
              `\n--- stdout ---\n${h.stdout}\n--- stderr ---\n${h.stderr}`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      urlWaiters.push({
        resolve: (u) => {
          clearTimeout(timer);
          resolve(u);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });

  h.exited = () =>
    new Promise((resolve) => {
      if (h.exit) resolve(h.exit);
      else exitWaiters.push(resolve);
    });

  /** Send `signal`; SIGKILL after `timeoutMs`. Resolves with { code, signal, killed }. */
  h.terminate = async (signal = 'SIGTERM', timeoutMs = DEFAULT_STOP_TIMEOUT_MS) => {
    if (h.exit) return { ...h.exit, killed: false };
    proc.kill(signal);
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    timer.unref();
    const res = await h.exited();
    clearTimeout(timer);
    return { ...res, killed };
  };
  return h;
}

/**
 * Start `switchyard serve` (or `demo`) on 127.0.0.1:0 and wait for its listening line.
 *
 * Options:
 * - env:     extra environment variables for the child (null/undefined removes one)
 * - args:    extra command-line arguments appended after the defaults
 * - mode:    'serve' (default) or 'demo'
 * - secret:  the HS256 secret (default: random); null = pass no --jwt-secret
 * - apiKeys: the API keys (default: two random keys); null or [] = pass no --api-keys
 * - via:     'flags' (default) or 'env': how secret, keys and address are passed
 * - addr:    default '127.0.0.1:0'; null = pass none
 *
 * Returns { url, secret, apiKeys, apiKey, proc, stop(), stderr(), token(), api(), connect(),
 * open(), notify(), presence(), metrics() }.
 */
export async function startServer(opts = {}) {
  const {
    env = {},
    args = [],
    mode = 'serve',
    addr = '127.0.0.1:0',
    via = 'flags',
    timeoutMs = DEFAULT_START_TIMEOUT_MS,
  } = opts;
  const secret = opts.secret === undefined ? randomSecret() : opts.secret;
  const apiKeys = opts.apiKeys === undefined ? [randomApiKey(), randomApiKey()] : opts.apiKeys ?? [];

  const fullArgs = [mode];
  const fullEnv = { ...env };
  if (mode === 'serve') {
    if (via === 'env') {
      if (addr) fullEnv.SWITCHYARD_ADDR = addr;
      if (secret) fullEnv.SWITCHYARD_JWT_SECRET = secret;
      if (apiKeys.length) fullEnv.SWITCHYARD_API_KEYS = apiKeys.join(',');
    } else {
      if (addr) fullArgs.push('--addr', addr);
      if (secret) fullArgs.push('--jwt-secret', secret);
      if (apiKeys.length) fullArgs.push('--api-keys', apiKeys.join(','));
    }
  } else if (addr) {
    fullArgs.push('--addr', addr);
  }
  fullArgs.push(...args);

  const h = launch(fullArgs, fullEnv);
  let url;
  try {
    url = await h.listening(timeoutMs);
  } catch (err) {
    await h.terminate('SIGKILL', 1000);
    throw err;
  }

  const server = {
    url,
    secret,
    apiKeys,
    apiKey: apiKeys[0],
    proc: h.proc,
    /** Everything the server wrote to stderr so far (last 64 KiB). */
    stderr: () => h.stderr,
    /** Resolves with { code, signal } when the process exits. */
    exited: () => h.exited(),
    /** SIGTERM (or `signal`), resolves with the exit code (null if killed by a signal). */
    async stop({ signal = 'SIGTERM', timeoutMs: t = DEFAULT_STOP_TIMEOUT_MS } = {}) {
      const res = await h.terminate(signal, t);
      return res.code;
    },
    /** Like stop() but resolves with the whole { code, signal, killed }. */
    terminate: (signal, t) => h.terminate(signal, t),
    token: (claims) => token(secret, claims),
    api: (method, p, body, extra) => api(url, apiKeys[0], method, p, body, extra),
    connect: (tok, o) => connect(url, tok, o),
    /**
     * Connect as user `sub` with an HS256 token (`rooms` undefined = no rooms claim); resolves
     * once the welcome has arrived. `o`: connect() options.
     */
    open: async (sub, rooms, o) => connect(url, await token(secret, { sub, rooms }), o),
    /** POST a notification to `userId`, assert 202 and resolve with its id. */
    async notify(userId, message) {
      const res = await server.api('POST', `/api/v1/users/${userId}/notifications`, { type: 'info', message });
      assert.equal(res.status, 202, `notification to ${userId}: ${res.text}`);
      return res.body.id;
    },
    /** POST `body` to the API path `p`, assert 202 and resolve with the body (`{ id, ... }`). */
    async publish(p, body) {
      const res = await server.api('POST', p, body);
      assert.equal(res.status, 202, `POST ${p}: ${res.text}`);
      return res.body;
    },
    /** GET the presence of `userId`, assert 200 and resolve with the body. */
    async presence(userId) {
      const res = await server.api('GET', `/api/v1/users/${userId}/presence`);
      assert.equal(res.status, 200, `presence of ${userId}: ${res.text}`);
      return res.body;
    },
    /**
     * GET /metrics, assert 200 and resolve with { headers, text }. Plain fetch, not api(): the
     * exposition format may be negotiated on Accept, and api() asks for JSON.
     */
    async metrics() {
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      return { headers: res.headers, text: await res.text() };
    },
    /** The value of one sample of /metrics (see metricValue). */
    async metric(name, labels) {
      return metricValue((await server.metrics()).text, name, labels);
    },
  };
  return server;
}

/**
 * Servers shared by the tests of one file, or of one describe block when called inside it: each
 * `startServer(opts)` runs in a `before` hook (all at once), and an `after` hook closes every
 * client socket and stops them. The handles are returned at once, while the file loads, so they
 * stay empty until the hook has run: use them in tests and hooks only.
 */
export function sharedServers(...optsList) {
  const handles = optsList.map(() => ({}));
  before(async () => {
    // allSettled: when one fails to start, the others must still be stopped by the after hook
    const results = await Promise.allSettled(optsList.map((o) => startServer(o)));
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') Object.assign(handles[i], r.value);
    }
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  after(async () => {
    closeAllSockets();
    await Promise.all(handles.filter((h) => h.stop).map((h) => h.stop()));
  });
  return handles;
}

/** One shared server (see sharedServers). */
export function sharedServer(opts) {
  return sharedServers(opts)[0];
}

/**
 * Run the binary with exactly `args` until it exits (for start-up refusals). If it prints the
 * listening line instead, it is killed and `listening: true` is reported.
 */
export async function runToExit(args, { env = {}, timeoutMs = DEFAULT_START_TIMEOUT_MS } = {}) {
  const h = launch(args, env);
  const started = h.listening(timeoutMs).then(
    () => true,
    () => false,
  );
  const exited = h.exited();
  const first = await Promise.race([started.then((l) => (l ? 'listening' : 'no')), exited.then(() => 'exited')]);
  let listening = false;
  if (first === 'listening') {
    listening = true;
    await h.terminate('SIGKILL', 1000);
  } else if (!h.exit) {
    // timed out without exiting
    await h.terminate('SIGKILL', 1000);
  }
  const res = await h.exited();
  return { code: res.code, signal: res.signal, listening, stdout: h.stdout, stderr: h.stderr };
}

// ---------------------------------------------------------------------------------------------
// Tokens

function b64url(obj) {
  return Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)).toString('base64url');
}

/** The standard claims (sub, rooms, exp, iat) plus `claims`; exp: undefined = now+10 min, null = none. */
function buildClaims({ sub, rooms, exp, iat, claims = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { ...claims };
  if (sub !== undefined) payload.sub = sub;
  if (rooms !== undefined) payload.rooms = rooms;
  if (exp !== null) payload.exp = exp ?? now + 600;
  if (iat !== null) payload.iat = iat ?? now;
  return payload;
}

/**
 * Sign a JWT. `secret` is a string / Uint8Array (HMAC) or a private KeyObject (RS256 / ES256,
 * inferred from the key type unless `alg` is given).
 */
export async function token(secret, { sub, rooms, exp, iat, alg, header = {}, claims = {} } = {}) {
  let key = secret;
  let algorithm = alg;
  if (typeof secret === 'string') key = new TextEncoder().encode(secret);
  if (!algorithm) {
    if (key instanceof Uint8Array) algorithm = 'HS256';
    else if (key?.asymmetricKeyType === 'rsa') algorithm = 'RS256';
    else if (key?.asymmetricKeyType === 'ec') algorithm = 'ES256';
    else throw new Error('token(): cannot infer the algorithm of this key');
  }
  return new SignJWT(buildClaims({ sub, rooms, exp, iat, claims }))
    .setProtectedHeader({ alg: algorithm, typ: 'JWT', ...header })
    .sign(key);
}

/** An unsigned `alg: none` token. */
export function unsignedToken(claims) {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(buildClaims(claims))}.`;
}

/** Keep the header and signature of `tok` but replace its payload (signature no longer matches). */
export function tamperPayload(tok, claims) {
  const [h, , s] = tok.split('.');
  return `${h}.${b64url(buildClaims(claims))}.${s}`;
}

/** SPKI PEM of a key pair's public key. */
export function publicPem(keyPair) {
  return createPublicKey(keyPair.privateKey).export({ type: 'spki', format: 'pem' });
}

// ---------------------------------------------------------------------------------------------
// HTTP API

/**
 * Call the HTTP API. `key` null = no Authorization header. `body`: an object (sent as JSON), a
 * string or Uint8Array (sent verbatim), or undefined (no body). Extra: { headers, contentType }
 * (contentType null = none). Resolves with { status, headers, text, body } (body = parsed JSON or
 * undefined).
 */
export async function api(url, key, method, p, body, { headers = {}, contentType } = {}) {
  const h = { accept: 'application/json', ...headers };
  if (key !== null && key !== undefined) h.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (contentType !== null) h['content-type'] = contentType ?? 'application/json';
  }
  let res;
  try {
    res = await fetch(url + p, { method, headers: h, body: payload });
  } catch (e) {
    // fetch says only "fetch failed"; what failed (refused, reset, closed) is in its cause.
    const why = e.cause ? `: ${e.cause.code ?? e.cause.name} ${e.cause.message}` : '';
    throw new Error(`${method} ${p} failed${why}`, { cause: e });
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: json };
}

// ---------------------------------------------------------------------------------------------
// Socket.IO client

const openSockets = new Set();

function describeLog(socket) {
  const log = socket.__events ?? [];
  if (!log.length) return '(nothing)';
  return log
    .slice(-10)
    .map((e) => `${e.event} ${JSON.stringify(e.args).slice(0, 200)}`)
    .join('; ');
}

/**
 * Connect the official client. Resolves with the connected socket once its `welcome` event has
 * arrived (socket.welcome holds the payload) or rejects with the `connect_error` Error (its
 * .message is the server's reason).
 *
 * Options: transports (default ['websocket']; null = the client's default polling + upgrade),
 * auth (replaces { token }; may be a function, which the client calls on every (re)connect),
 * waitWelcome (default true), timeoutMs (default 5000), setup (called with the socket before it
 * connects, to register listeners that must not miss the welcome or what follows it in the
 * same packet); any other option goes to io() as is (e.g. reconnection: true).
 * `token` undefined = no auth at all.
 *
 * Every socket records the events it receives in socket.__events ({ event, args }).
 */
export function connect(url, tok, { transports = ['websocket'], auth, waitWelcome = true, timeoutMs = 5000, setup, ...rest } = {}) {
  const opts = {
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    ...rest,
  };
  if (transports) opts.transports = transports;
  if (auth !== undefined) opts.auth = auth;
  else if (tok !== undefined) opts.auth = { token: tok };

  const socket = io(url, opts);
  socket.__events = [];
  socket.onAny((event, ...args) => socket.__events.push({ event, args }));
  socket.on('disconnect', (reason) => {
    socket.__disconnectReason = reason;
  });
  openSockets.add(socket);
  if (setup) setup(socket);

  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () => fail(new Error(`connect did not complete within ${timeoutMs + 1000} ms (events: ${describeLog(socket)})`)),
      timeoutMs + 1000,
    ); // ref'd on purpose (see waitFor); cleared when the connect settles
    function fail(err) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('welcome', onWelcome);
      socket.disconnect();
      openSockets.delete(socket);
      reject(err);
    }
    function done() {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(socket);
    }
    function onWelcome(payload) {
      socket.welcome = payload;
      if (socket.connected) done();
    }
    socket.once('welcome', onWelcome);
    socket.once('connect_error', (err) => fail(err));
    socket.once('connect', () => {
      if (!waitWelcome || socket.welcome !== undefined) done();
    });
    socket.once('disconnect', (reason) => {
      if (!settled) fail(new Error(`disconnected (${reason}) before the welcome event`));
    });
  });
}

/** Disconnect one client socket (no-op if already closed). */
export function disconnect(socket) {
  if (!socket) return;
  socket.disconnect();
  openSockets.delete(socket);
}

/** Disconnect every socket opened through connect(). */
export function closeAllSockets() {
  for (const s of openSockets) s.disconnect();
  openSockets.clear();
}

/**
 * Resolve with the first argument of the next `event` on `socket` (for which `predicate(...args)`
 * holds), or reject after `ms`, or as soon as the socket disconnects (unless `event` is
 * 'disconnect'). Register it BEFORE triggering the event.
 *
 * The timeout timer is deliberately NOT unref'd: while a test awaits an event it must keep the
 * process alive, or node:test would end the file with "Promise resolution is still pending but
 * the event loop has already resolved" instead of this helper's message. It is always cleared
 * when the wait settles, so nothing lingers.
 */
export function waitFor(socket, event, ms = 3000, predicate = () => true) {
  let handler;
  let onDisconnect;
  let timer;
  const cleanup = () => {
    clearTimeout(timer);
    socket.off(event, handler);
    if (onDisconnect) socket.off('disconnect', onDisconnect);
  };
  const p = new Promise((resolve, reject) => {
    handler = (...args) => {
      if (!predicate(...args)) return;
      cleanup();
      resolve(args[0]);
    };
    timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(
          `timed out after ${ms} ms waiting for "${event}" on socket ${socket.id ?? '(not connected)'}; ` +
            `last events received: ${describeLog(socket)}`,
        ),
      );
    }, ms);
    if (event !== 'disconnect') {
      onDisconnect = (reason) => {
        cleanup();
        reject(
          new Error(
            `socket disconnected (${reason}) while waiting for "${event}"; last events received: ${describeLog(socket)}`,
          ),
        );
      };
      socket.on('disconnect', onDisconnect);
    }
    socket.on(event, handler);
  });
  p.catch(() => {}); // a never-awaited wait must not become an unhandled rejection
  return p;
}

/** Emit with an acknowledgement and resolve with the ack's first argument. */
export async function emitAck(socket, event, payload, ms = 3000) {
  const args = payload === undefined ? [] : [payload];
  try {
    return await socket.timeout(ms).emitWithAck(event, ...args);
  } catch (err) {
    throw new Error(`no acknowledgement for "${event}" within ${ms} ms (${err.message})`);
  }
}

/**
 * Emit with an acknowledgement; resolves with `{ ack, at }`, `at` being the length of the
 * socket's event log when the ack arrived: every event logged below `at` came before the ack,
 * every one from `at` on after it. (The ack callback runs as the ack packet is decoded, before
 * any later packet; a promise continuation would run only after the whole polling payload.)
 */
export function emitAckAt(socket, event, payload, ms = 3000) {
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(event, payload, (err, ack) => {
      if (err) reject(new Error(`no acknowledgement for "${event}" within ${ms} ms (${err.message})`));
      else resolve({ ack, at: socket.__events.length });
    });
  });
}

/** Events named `event` recorded on `socket` (payloads), optionally only from index `from` on. */
export function received(socket, event, from = 0) {
  return socket.__events
    .slice(from)
    .filter((e) => e.event === event)
    .map((e) => e.args[0]);
}

/** Current length of the socket's event log (a mark for received(socket, event, mark)). */
export function mark(socket) {
  return socket.__events.length;
}

/**
 * The stream events recorded on `socket` (from log index `from` on) whose second argument is a
 * meta of `stream`: `{ index, event, payload, meta }`, in arrival order.
 */
export function streamEvents(socket, stream, from = 0) {
  const out = [];
  socket.__events.forEach((e, index) => {
    if (index < from) return;
    if (e.args[1]?.stream === stream) out.push({ index, event: e.event, payload: e.args[0], meta: e.args[1] });
  });
  return out;
}

/** Index in the socket's log of the last `event` (-1 if none). */
export function lastIndexOf(socket, event) {
  return socket.__events.findLastIndex((e) => e.event === event);
}

/**
 * The value of the Prometheus sample `name` whose labels include `labels` (all of them; the
 * sample may have more), or 0 when there is no such line: a labelled counter that has never
 * been incremented is not exposed at all.
 */
export function metricValue(text, name, labels = {}) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === String(v))) return Number(m[3]);
  }
  return 0;
}

/**
 * Poll `fn` until it returns a truthy value (which is returned); fail after timeoutMs. `message`
 * may be a function, called for the failure's text (to report the state at that moment).
 */
export async function until(fn, { timeoutMs = 3000, intervalMs = 25, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof message === 'function' ? message() : message}`);
    }
    await sleep(intervalMs);
  }
}

/** Assert-friendly check of a server-written time: format and closeness to now. */
export function isRecentServerTime(value, toleranceMs = 60_000) {
  if (typeof value !== 'string' || !SERVER_TIME_RE.test(value)) return false;
  return Math.abs(Date.parse(value) - Date.now()) <= toleranceMs;
}
