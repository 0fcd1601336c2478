// How many Engine.IO handshakes per second one core of the server refuses with the connect limit
// (--connects-per-sec 1): hammers the handshake from one address for a while and divides the
// 429s by the server's own CPU time (user + system, from /proc/PID/stat), so the load generator
// sharing the machine does not count. Prints figures, asserts nothing.
//
//   cargo build --release -p switchyard-host
//   node bench/limits/handshakes.mjs [--seconds 10] [--concurrency 64] [--bin target/release/switchyard]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const SECONDS = Number(args.seconds ?? 10);
const CONCURRENCY = Number(args.concurrency ?? 64);
const BIN = args.bin ?? new URL('../../target/release/switchyard', import.meta.url).pathname;
const TICKS = 100; // USER_HZ on Linux

const server = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--jwt-secret', randomBytes(24).toString('hex'),
  '--api-keys', randomBytes(16).toString('hex'), '--connects-per-sec', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => {
    const m = /switchyard listening on (http:\/\/\S+)/.exec(String(d));
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
});

function cpu() {
  // Fields after the command name (which may hold spaces) start at field 3.
  const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / TICKS, system: Number(f[12]) / TICKS };
}

const target = `${url}/socket.io/?EIO=4&transport=polling`;
const counts = { 200: 0, 429: 0, other: 0 };
// Warm up the connections and the server.
await Promise.all(Array.from({ length: CONCURRENCY }, () => fetch(target).then((r) => r.text())));
const before = cpu();
const started = Date.now();
const deadline = started + SECONDS * 1000;
async function worker() {
  while (Date.now() < deadline) {
    const r = await fetch(target);
    await r.text();
    if (r.status === 200 || r.status === 429) counts[r.status]++;
    else counts.other++;
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const wall = (Date.now() - started) / 1000;
const after = cpu();
server.kill('SIGTERM');

const user = after.user - before.user;
const system = after.system - before.system;
console.log(`handshakes from one address for ${wall.toFixed(1)} s, ${CONCURRENCY} at a time, --connects-per-sec 1:`);
console.log(`  allowed ${counts[200]}, refused (429) ${counts[429]}, other ${counts.other}`);
console.log(`  refused per wall-clock second:  ${(counts[429] / wall).toFixed(0)}`);
console.log(`  server CPU: user ${user.toFixed(2)} s, system ${system.toFixed(2)} s`);
console.log(`  refused per server CPU second:  ${(counts[429] / (user + system)).toFixed(0)} (user + system), ${(counts[429] / user).toFixed(0)} (user only)`);
