// Fan-out benchmark (prints figures; not a test). Starts `switchyard serve` on a free port,
// connects N websocket clients (official socket.io-client) spread over K meter rooms, then
// sends R meter readings through the HTTP API, round-robin over the rooms, and measures per
// reading the time until every client of its room has it. Reports the server's resident memory
// before and after connecting, and its CPU (user and system apart, from /proc) per delivered
// message over the publishing phase.
//
//   node bench/fanout/fanout.mjs [--clients 1000] [--rooms 1] [--readings 50]
//        [--rate 0 (deliveries/s to pace at; 0 = one reading after the other)]
//        [--server-args "--history-size 0"] [--bin target/release/switchyard]
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
const ROOMS = Number(args.rooms ?? 1);
const READINGS = Number(args.readings ?? 50);
const RATE = Number(args.rate ?? 0);
const SERVER_ARGS = (args['server-args'] ?? '').split(' ').filter(Boolean);
const BIN = args.bin ?? new URL('../../target/release/switchyard', import.meta.url).pathname;
const secret = randomBytes(24).toString('hex');
const apiKey = randomBytes(16).toString('hex');

const server = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--jwt-secret', secret, '--api-keys', apiKey,
  '--max-sockets-per-user', String(CLIENTS + 1),
  // thousands of handshakes from 127.0.0.1 at once: the per-address connect limit is off here
  '--connects-per-sec', '0', ...SERVER_ARGS], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => {
    const m = /switchyard listening on (http:\/\/\S+)/.exec(String(d));
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const TICK = 100; // clock ticks per second (USER_HZ) on Linux
const cpuTicks = () => {
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]), system: Number(f[12]) }; // fields 14 and 15 of stat
};
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]);

const token = await new SignJWT({ rooms: ['meter_*'] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h')
  .sign(new TextEncoder().encode(secret));

const rssBefore = rssKiB();
const sockets = [];
const t0 = performance.now();
for (let i = 0; i < CLIENTS; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, async (_, j) => {
    const room = (i + j) % ROOMS;
    const s = io(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise((res, rej) => { s.once('welcome', res); s.once('connect_error', rej); });
    const ack = await s.emitWithAck('subscribe', { room: `meter_bench-${room}` });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    (sockets[room] ??= []).push(s);
  }));
}
const connectMs = performance.now() - t0;
await sleep(500);
const rssAfter = rssKiB();

const latencies = [];
const perRoom = CLIENTS / ROOMS;
const interval = RATE > 0 ? (1000 * perRoom) / RATE : 0;
const cpu0 = cpuTicks();
const phase0 = performance.now();
const inFlight = [];
for (let r = 0; r < READINGS; r++) {
  const room = r % ROOMS;
  const members = sockets[room];
  let pending = members.length;
  const start = performance.now();
  const done = new Promise((res) => {
    for (const s of members) s.once('meter_reading', () => { if (--pending === 0) res(); });
  }).then(() => latencies.push(performance.now() - start));
  const sent = fetch(`${url}/api/v1/meters/bench-${room}/readings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reading: r, timestamp: new Date().toISOString(), unit: 'kWh' }),
  }).then((resp) => { if (resp.status !== 202) throw new Error(`API answered ${resp.status}`); });
  if (interval > 0) {
    inFlight.push(sent, done);
    const next = phase0 + (r + 1) * interval;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  } else {
    await sent;
    await done;
  }
}
await Promise.all(inFlight);
const phaseMs = performance.now() - phase0;
const cpu1 = cpuTicks();
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
const deliveries = READINGS * perRoom;
const usPer = (ticks) => ((ticks / TICK) * 1e6 / deliveries).toFixed(2);

for (const s of sockets.flat()) s.close();
server.kill('SIGTERM');
await new Promise((res) => server.on('exit', res));

console.log(`clients:                    ${CLIENTS} (websocket, one process, same machine) in ${ROOMS} room(s); server args: ${SERVER_ARGS.join(' ') || '(none)'}`);
console.log(`connect+subscribe all:      ${connectMs.toFixed(0)} ms`);
console.log(`server RSS:                 ${(rssBefore / 1024).toFixed(1)} MiB idle -> ${(rssAfter / 1024).toFixed(1)} MiB with clients`);
console.log(`memory per connection:      ${(((rssAfter - rssBefore) * 1024) / CLIENTS / 1024).toFixed(1)} KiB`);
console.log(`API call -> all ${perRoom} of the room got it: p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms (${READINGS} readings)`);
console.log(`deliveries:                 ${deliveries} in ${(phaseMs / 1000).toFixed(1)} s = ${(deliveries / (phaseMs / 1000)).toFixed(0)}/s${RATE ? ` (paced at ${RATE}/s)` : ' (unpaced)'}`);
console.log(`server CPU per delivery:    ${usPer(cpu1.user - cpu0.user + cpu1.system - cpu0.system)} us (user ${usPer(cpu1.user - cpu0.user)} us, system ${usPer(cpu1.system - cpu0.system)} us)`);
