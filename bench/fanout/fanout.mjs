// Fan-out benchmark (prints figures; not a test). Starts `switchyard serve` on a free port,
// connects N websocket clients (official socket.io-client) subscribed to one meter room, then
// sends R meter readings through the HTTP API and measures, per reading, the time until every
// client has it. Also reports the server's resident memory before and after connecting.
//
//   node bench/fanout/fanout.mjs [--clients 1000] [--readings 50] [--bin target/release/switchyard]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { SignJWT } from 'jose';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const CLIENTS = Number(args.clients ?? 1000);
const READINGS = Number(args.readings ?? 50);
const BIN = args.bin ?? new URL('../../target/release/switchyard', import.meta.url).pathname;
const secret = randomBytes(24).toString('hex');
const apiKey = randomBytes(16).toString('hex');

const server = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--jwt-secret', secret, '--api-keys', apiKey,
  '--max-sockets-per-user', String(CLIENTS + 1)], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => {
    const m = /switchyard listening on (http:\/\/\S+)/.exec(String(d));
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]);

const token = await new SignJWT({ rooms: ['meter_*'] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h')
  .sign(new TextEncoder().encode(secret));

const rssBefore = rssKiB();
const sockets = [];
const t0 = performance.now();
for (let i = 0; i < CLIENTS; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, async () => {
    const s = io(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise((res, rej) => { s.once('welcome', res); s.once('connect_error', rej); });
    const ack = await s.emitWithAck('subscribe', { room: 'meter_bench' });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    sockets.push(s);
  }));
}
const connectMs = performance.now() - t0;
await sleep(500);
const rssAfter = rssKiB();

const latencies = [];
for (let r = 0; r < READINGS; r++) {
  let pending = CLIENTS;
  const done = new Promise((res) => {
    for (const s of sockets) s.once('meter_reading', () => { if (--pending === 0) res(); });
  });
  const start = performance.now();
  const resp = await fetch(`${url}/api/v1/meters/bench/readings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reading: r, timestamp: new Date().toISOString(), unit: 'kWh' }),
  });
  if (resp.status !== 202) throw new Error(`API answered ${resp.status}`);
  await done;
  latencies.push(performance.now() - start);
}
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);

for (const s of sockets) s.close();
server.kill('SIGTERM');
await new Promise((res) => server.on('exit', res));

console.log(`clients:                    ${CLIENTS} (websocket, one process, same machine)`);
console.log(`connect+subscribe all:      ${connectMs.toFixed(0)} ms`);
console.log(`server RSS:                 ${(rssBefore / 1024).toFixed(1)} MiB idle -> ${(rssAfter / 1024).toFixed(1)} MiB with clients`);
console.log(`memory per connection:      ${(((rssAfter - rssBefore) * 1024) / CLIENTS / 1024).toFixed(1)} KiB`);
console.log(`API call -> all ${CLIENTS} got it: p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${pct(1)} ms (${READINGS} readings)`);
console.log(`deliveries per second:      ${(CLIENTS / (latencies[Math.floor(latencies.length / 2)] / 1000)).toFixed(0)} (at p50; the client process is the likely bottleneck)`);
