// Stream benchmark (prints figures; not a test). Starts `switchyard serve`, appends E ticket
// updates to one stream through the API (C requests in flight), and reports:
// - memory per retained event: the server's RSS growth, and `switchyard_retained_bytes`, per
//   event (RSS includes allocator slack, the metric what --history-max-bytes counts);
// - replay speed: one websocket client subscribes with `since: { epoch, offset: 0 }` and takes
//   all E events before its ack (events per second, send of subscribe to ack).
//
//   node bench/fanout/streams.mjs [--events 20000] [--concurrency 32] [--bin target/release/switchyard]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { io } from 'socket.io-client';
import { SignJWT } from 'jose';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const EVENTS = Number(args.events ?? 20000);
const CONCURRENCY = Number(args.concurrency ?? 32);
const BIN = args.bin ?? new URL('../../target/release/switchyard', import.meta.url).pathname;
const secret = randomBytes(24).toString('hex');
const apiKey = randomBytes(16).toString('hex');

const server = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--jwt-secret', secret, '--api-keys', apiKey,
  '--history-size', String(EVENTS), '--recovery-max-events', String(EVENTS),
  '--socket-buffer-events', String(EVENTS + 100),
  // publishing as fast as it can through one API key: the per-key limit is off here
  '--api-requests-per-sec', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => {
    const m = /switchyard listening on (http:\/\/\S+)/.exec(String(d));
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]);
const metric = async (name) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
};
const token = await new SignJWT({ rooms: ['ticket_*'] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h')
  .sign(new TextEncoder().encode(secret));

// Warm the allocator and the stream itself with one event, so the growth is the events'.
const post = (i) => fetch(`${url}/api/v1/tickets/B-1/updates`, {
  method: 'POST',
  headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
  body: JSON.stringify({ status: 'in_progress', message: `update ${i} from the field`, assignedTo: 'tech-42' }),
}).then((r) => { if (r.status !== 202) throw new Error(`API answered ${r.status}`); });
await post(0);
const rss0 = rssKiB();
let next = 1;
const t0 = performance.now();
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (next < EVENTS) await post(next++);
}));
const appendMs = performance.now() - t0;
const rss1 = rssKiB();
const retained = await metric('switchyard_retained_events');
const bytes = await metric('switchyard_retained_bytes');

const s = io(url, { auth: { token }, transports: ['websocket'], reconnection: false });
await new Promise((res, rej) => { s.once('welcome', res); s.once('connect_error', rej); });
const epoch = (await s.emitWithAck('subscribe', { room: 'ticket_B-1' })).epoch;
s.emit('unsubscribe', { room: 'ticket_B-1' });
let got = 0;
s.on('ticket_updated', () => { got++; });
const r0 = performance.now();
const ack = await s.emitWithAck('subscribe', { room: 'ticket_B-1', since: { epoch, offset: 0 } });
const replayMs = performance.now() - r0;
s.close();
server.kill('SIGTERM');
await new Promise((res) => server.on('exit', res));
if (!ack.recovered || got !== EVENTS) throw new Error(`replay incomplete: ${got} of ${EVENTS}, ack ${JSON.stringify(ack)}`);

console.log(`events appended:            ${EVENTS} to one stream, ${CONCURRENCY} API calls in flight: ${(EVENTS / (appendMs / 1000)).toFixed(0)}/s`);
console.log(`retained:                   ${retained} events, ${bytes} bytes counted = ${(bytes / retained).toFixed(0)} B/event (a ticket update with a message and an assignee)`);
console.log(`server RSS growth:          ${((rss1 - rss0) * 1024 / EVENTS).toFixed(0)} B/event (${((rss1 - rss0) / 1024).toFixed(1)} MiB)`);
console.log(`replay to one client:       ${EVENTS} events before the ack in ${replayMs.toFixed(0)} ms = ${(EVENTS / (replayMs / 1000)).toFixed(0)} events/s (websocket, the client's own parsing included)`);
