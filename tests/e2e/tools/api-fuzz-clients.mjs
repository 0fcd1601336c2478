// Connected sockets for scripts/test-api-fuzz, so that schemathesis's publishes reach real
// clients and its join/leave calls can name real socket ids.
//
//   node tools/api-fuzz-clients.mjs URL JWT_SECRET COUNT
//
// Prints one JSON line `{ "sockets": [id…] }` once every socket has its welcome, then keeps
// them connected until stdin closes or SIGTERM arrives, and prints
// `{ "connected", "total", "events", "reasons" }`. Exits 1 if a socket lost its connection
// other than by the server's choice: the fuzzer may well call `DELETE /users/{userId}/sockets`
// with a user id it read from `GET /sockets`, and a client that falls behind is dropped after
// `system_slow_consumer`; both end in "io server disconnect". A transport that closed or timed
// out while the API was fuzzed is a failure.

import { connect, token } from '../lib/server.js';

const [url, secret, countArg = '4'] = process.argv.slice(2);
if (!url || !secret) {
  console.error('usage: api-fuzz-clients.mjs URL JWT_SECRET [COUNT]');
  process.exit(2);
}

const sockets = [];
for (let i = 0; i < Number(countArg); i += 1) {
  // Users the fuzzer is unlikely to name, so a generated logout does not take them.
  const sub = `fuzz-client-${i}-${process.pid}`;
  const tok = await token(secret, { sub, rooms: ['ticket_*', 'meter_*', 'system_*'] });
  // Both transports, as real clients use them.
  sockets.push(await connect(url, tok, { transports: i % 2 ? ['polling'] : ['websocket'] }));
}
console.log(JSON.stringify({ sockets: sockets.map((s) => s.id) }));

let stopped = false;
function stop() {
  if (stopped) return;
  stopped = true;
  const connected = sockets.filter((s) => s.connected).length;
  const events = sockets.reduce((n, s) => n + s.__events.length, 0);
  const gone = sockets.filter((s) => !s.connected);
  const slow = (s) => s.__events.some((e) => e.event === 'system_slow_consumer');
  const reasons = gone.map((s) => `${s.__disconnectReason ?? 'unknown'}${slow(s) ? ' (slow consumer)' : ''}`);
  console.log(JSON.stringify({ connected, total: sockets.length, events, reasons }));
  for (const s of sockets) s.disconnect();
  process.exit(gone.every((s) => s.__disconnectReason === 'io server disconnect') ? 0 : 1);
}
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
