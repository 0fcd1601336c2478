// Raw Engine.IO v4 / Socket.IO v5 clients for the hostile-client tests: they speak the wire
// protocol by hand, so a test can send what the official client never would (oversized,
// malformed, binary packets) and stop reading whenever it likes. lib/polling.js is the
// long-polling counterpart for well-formed sessions; this file adds the websocket transport and
// byte-exact polling POSTs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

/** The `ws://…/socket.io/?EIO=4&transport=websocket` address of a server handle. */
export function wsUrl(srv) {
  return `${srv.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
}

/**
 * Open a websocket Engine.IO session and, when `auth` is given, send the Socket.IO CONNECT with
 * it and wait for the `welcome`. Resolves with a session:
 * - `ws`, `sid` (the Engine.IO id, which is also the Socket.IO socket id here), `packets` (every
 *   text packet received, in order, pings excluded; binary frames as Buffers);
 * - `send(text)`, `sendBinary(buf)`; `waitFor(pred, ms)`: the first packet (already received or
 *   to come) for which `pred` holds;
 * - `closed`: a promise that resolves with the close code when the connection ends;
 * - `pause()` / `resume()`: stop and restart reading the TCP socket (the kernel's buffers fill,
 *   then the server's queue for this socket).
 * - `pings`: when each Engine.IO ping arrived (`Date.now()`).
 * Pings are answered while reading, so only the test decides when the session looks dead;
 * `answerPings: false` records them without answering, as a vanished client would.
 */
export async function openWs(srv, auth, { waitWelcome = true, timeoutMs = 5000, answerPings = true } = {}) {
  const ws = new WebSocket(wsUrl(srv), { perMessageDeflate: false });
  const session = {
    ws,
    sid: undefined,
    packets: [],
    pings: [],
    closeCode: undefined,
    waiters: [],
    send(text) {
      ws.send(text);
    },
    sendBinary(buf) {
      ws.send(buf, { binary: true });
    },
    waitFor(pred, ms = timeoutMs, what = 'a packet') {
      const found = session.packets.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve,
          reject,
          timer: setTimeout(() => {
            session.waiters = session.waiters.filter((x) => x !== w);
            reject(new Error(`raw ws: timed out after ${ms} ms waiting for ${what}; last packets: ${tail(session.packets)}`));
          }, ms),
        };
        session.waiters.push(w);
      });
    },
    pause() {
      ws._socket.pause();
    },
    resume() {
      ws._socket.resume();
    },
  };
  session.closed = new Promise((resolve) => {
    ws.on('close', (code) => {
      session.closeCode = code;
      for (const w of session.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`raw ws: connection closed (${code}); last packets: ${tail(session.packets)}`));
      }
      resolve(code);
    });
  });
  ws.on('error', () => {}); // a refused or reset connection shows as 'close'
  ws.on('message', (data, isBinary) => {
    const packet = isBinary ? Buffer.from(data) : data.toString('utf8');
    if (packet === '2') {
      session.pings.push(Date.now());
      if (answerPings) ws.send('3'); // Engine.IO ping → pong
      return;
    }
    session.packets.push(packet);
    for (const w of [...session.waiters]) {
      if (w.pred(packet)) {
        clearTimeout(w.timer);
        session.waiters = session.waiters.filter((x) => x !== w);
        w.resolve(packet);
      }
    }
  });

  const open = await session.waitFor((p) => typeof p === 'string' && p.startsWith('0{'), timeoutMs, 'the Engine.IO open packet');
  session.sid = JSON.parse(open.slice(1)).sid;
  if (auth === undefined) return session;
  session.send(`40${JSON.stringify(auth)}`);
  if (waitWelcome) await session.waitFor((p) => eventName(p) === 'welcome', timeoutMs, 'the welcome');
  return session;
}

/**
 * `promise`'s value, or `timedOut` if it has not settled within `ms` (the timer is cleared
 * either way, so it does not hold the test process open). For `session.closed` and the like.
 */
export async function within(promise, ms, timedOut = 'timeout') {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, ms, timedOut);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The event name of a text EVENT packet `42[...]` / `42<ack>[...]`, else undefined. */
export function eventName(packet) {
  return parseEvent(packet)?.[0];
}

/** The `[name, ...args]` of a text EVENT packet, else undefined. */
export function parseEvent(packet) {
  if (typeof packet !== 'string' || !packet.startsWith('42')) return undefined;
  const start = packet.indexOf('[');
  if (start < 0) return undefined;
  try {
    return JSON.parse(packet.slice(start));
  } catch {
    return undefined;
  }
}

/** The first argument of the ack `43<id>[...]` among `packets` (undefined if not there). */
export function ackArg(packets, id) {
  const p = packets.find((x) => typeof x === 'string' && x.startsWith(`43${id}[`));
  return p === undefined ? undefined : JSON.parse(p.slice(2 + String(id).length))[0];
}

/**
 * POST `body` (a string or Buffer, sent byte for byte) to a polling session. Resolves with
 * `{ status, headers, text }`; never throws on an HTTP error status.
 */
export async function postPolling(srv, sid, body) {
  const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The resident set size of process `pid`, in bytes (Linux /proc). */
export function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS in /proc/<pid>/status');
  return Number(m[1]) * 1024;
}

export const MiB = 1024 * 1024;

function tail(packets) {
  return JSON.stringify(packets.slice(-5).map((p) => (typeof p === 'string' ? p.slice(0, 120) : `<binary ${p.length}>`)));
}
