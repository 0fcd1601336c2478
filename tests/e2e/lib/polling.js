// A raw Engine.IO v4 long-polling client, for the one thing the official client cannot do:
// stop reading. Between two GET polls every packet for the session waits in the server's
// per-socket queue, so a test decides exactly when the queue is drained.

import assert from 'node:assert/strict';

const SEP = '\x1e'; // Engine.IO v4 packet separator in polling payloads

/**
 * Open a polling session on `srv` and send the Socket.IO CONNECT with `auth`. Resolves with
 * `{ sid, poll(), send(packet), packets }` once the welcome has been collected (so the queue
 * is empty), or right after the CONNECT with `waitWelcome: false`. `packets` keeps every
 * packet received, in order.
 */
export async function openPolling(srv, auth, { waitWelcome = true } = {}) {
  const base = `${srv.url}/socket.io/?EIO=4&transport=polling`;
  const open = await fetch(base);
  assert.equal(open.status, 200, 'polling handshake');
  const handshake = JSON.parse((await open.text()).slice(1)); // "0{...}"
  const sid = handshake.sid;
  const session = {
    sid,
    packets: [],
    /** One GET: the packets the server had queued (it holds the request open until one is there). */
    async poll() {
      const res = await fetch(`${base}&sid=${sid}`);
      const text = await res.text();
      const got = res.status === 200 ? text.split(SEP).filter(Boolean) : [];
      session.packets.push(...got);
      return { status: res.status, packets: got };
    },
    /** One POST of a single packet (e.g. `40{...}` or `421["subscribe",{...}]`). */
    async send(packet) {
      const res = await fetch(`${base}&sid=${sid}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body: packet,
      });
      assert.equal(res.status, 200, `POST ${packet.slice(0, 40)}`);
      await res.arrayBuffer();
    },
  };
  await session.send(`40${JSON.stringify(auth)}`);
  if (!waitWelcome) return session;
  for (let i = 0; i < 5 && eventsOf(session.packets, 'welcome').length === 0; i++) await session.poll();
  assert.equal(eventsOf(session.packets, 'welcome').length, 1, 'the welcome arrives over polling');
  return session;
}

/** Socket.IO EVENT packets (`42[...]`) among polling packets: `[name, ...args]` arrays. */
export function eventsOf(packets, name) {
  return packets
    .filter((p) => p.startsWith('42'))
    .map((p) => JSON.parse(p.slice(2)))
    .filter(([event]) => name === undefined || event === name);
}

/** The argument list of the ack `43<id>[...]` among polling packets, or undefined. */
export function ackOf(packets, id) {
  const p = packets.find((x) => x.startsWith(`43${id}[`));
  return p === undefined ? undefined : JSON.parse(p.slice(2 + String(id).length));
}

/**
 * Whether these packets end the Socket.IO session: a DISCONNECT (`41`) or an Engine.IO
 * CLOSE (`1`).
 */
export function isClosed(packets) {
  return packets.some((p) => p === '41' || p === '1');
}
