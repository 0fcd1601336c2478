// Cluster fan-out benchmark (prints figures; not a test). Starts a redis-server on a free port
// and either two `switchyard serve` nodes on it (publisher's API on node A, every client on node
// B) or, with --single, one node without Redis (the baseline). Connects N websocket clients
// (official socket.io-client) to one meter room, sends R readings through the API one after the
// other, and reports per reading the time until every client has it, the CPU (user and system
// apart, from /proc) per delivered message of each node and of Redis, and then presence
// operations per second (connect + disconnect of fresh users, C at a time).
//
//   node bench/fanout/cluster.mjs [--clients 5000] [--readings 50] [--presence 2000]
//        [--concurrency 50] [--single] [--bin target/release/switchyard]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { SignJWT } from 'jose';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]?.startsWith('--') ? 'true' : all[i + 1] ?? 'true']] : acc), []),
);
const CLIENTS = Number(args.clients ?? 5000);
const READINGS = Number(args.readings ?? 50);
const PRESENCE = Number(args.presence ?? 2000);
const CONCURRENCY = Number(args.concurrency ?? 50);
const SINGLE = args.single === 'true';
const BIN = args.bin ?? new URL('../../target/release/switchyard', import.meta.url).pathname;
const secret = randomBytes(24).toString('hex');
const apiKey = randomBytes(16).toString('hex');

const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const children = [];
let redis;
let redisUrl;
if (!SINGLE) {
  const port = await freePort();
  redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(redis);
  redisUrl = `redis://127.0.0.1:${port}/`;
  for (;;) {
    const up = await new Promise((res) => { const c = net.connect(port, '127.0.0.1'); c.once('connect', () => { c.destroy(); res(true); }); c.once('error', () => res(false)); });
    if (up) break;
    await sleep(50);
  }
}
async function node(id) {
  const extra = SINGLE ? [] : ['--redis-url', redisUrl, '--node-id', id];
  const p = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--jwt-secret', secret, '--api-keys', apiKey,
    '--max-sockets-per-user', String(CLIENTS + 1), '--history-size', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  const url = await new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => { const m = /switchyard listening on (http:\/\/\S+)/.exec(String(d)); if (m) resolve(m[1]); });
    p.on('exit', (code) => reject(new Error(`node ${id} exited with ${code}`)));
  });
  return { pid: p.pid, url };
}
const a = await node('bench-a');
const b = SINGLE ? a : await node('bench-b');

const TICK = 100;
const cpu = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return { user: Number(f[11]), system: Number(f[12]) }; };
const procs = SINGLE ? { node: a.pid } : { 'node A (API)': a.pid, 'node B (clients)': b.pid, redis: redis.pid };
const snap = () => Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpu(pid)]));
const tokenFor = (sub) => new SignJWT({ rooms: ['meter_*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub)
  .setExpirationTime('1h').sign(new TextEncoder().encode(secret));
const token = await tokenFor('bench');

const sockets = [];
for (let i = 0; i < CLIENTS; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, async () => {
    const s = io(b.url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise((res, rej) => { s.once('welcome', res); s.once('connect_error', rej); });
    const ack = await s.emitWithAck('subscribe', { room: 'meter_bench' });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    sockets.push(s);
  }));
}
await sleep(500);

const latencies = [];
const c0 = snap();
const t0 = performance.now();
for (let r = 0; r < READINGS; r++) {
  let pending = sockets.length;
  const start = performance.now();
  const done = new Promise((res) => { for (const s of sockets) s.once('meter_reading', () => { if (--pending === 0) res(); }); });
  const resp = await fetch(`${a.url}/api/v1/meters/bench/readings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reading: r, timestamp: new Date().toISOString(), unit: 'kWh' }),
  });
  if (resp.status !== 202) throw new Error(`API answered ${resp.status}`);
  await done;
  latencies.push(performance.now() - start);
}
const phaseMs = performance.now() - t0;
const c1 = snap();
for (const s of sockets) s.close();
await sleep(1000);

// Presence: fresh users connecting and leaving at once, alternately on the two nodes.
const p0 = performance.now();
let next = 0;
const worker = async () => {
  while (next < PRESENCE) {
    const i = next++;
    const s = io(i % 2 ? b.url : a.url, { auth: { token: await tokenFor(`p-${i}`) }, transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise((res, rej) => { s.once('welcome', res); s.once('connect_error', rej); });
    s.close();
  }
};
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const presenceS = (performance.now() - p0) / 1000;

// The nodes first (they leave the registry on the way out), then Redis.
const exited = (c) => new Promise((res) => (c.exitCode !== null ? res() : c.once('exit', res)));
const nodes = children.filter((c) => c !== redis);
for (const c of nodes) c.kill('SIGTERM');
await Promise.all(nodes.map(exited));
if (redis) redis.kill('SIGTERM');

latencies.sort((x, y) => x - y);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
const deliveries = READINGS * CLIENTS;
const us = (ticks) => ((ticks / TICK) * 1e6 / deliveries).toFixed(2);
console.log(`mode:                       ${SINGLE ? 'one node, in memory' : 'two nodes on one Redis (API on A, clients on B)'}; ${CLIENTS} websocket clients in one room`);
console.log(`API call -> all clients:    p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms (${READINGS} readings)`);
console.log(`deliveries:                 ${deliveries} in ${(phaseMs / 1000).toFixed(1)} s`);
for (const k of Object.keys(procs)) {
  const u = c1[k].user - c0[k].user;
  const s = c1[k].system - c0[k].system;
  console.log(`CPU per delivery, ${k.padEnd(16)} ${us(u + s)} us (user ${us(u)} us, system ${us(s)} us)`);
}
console.log(`presence:                   ${PRESENCE} connect+disconnect of fresh users (${CONCURRENCY} at a time) in ${presenceS.toFixed(1)} s = ${(2 * PRESENCE / presenceS).toFixed(0)} presence operations/s`);
process.exit(0);
