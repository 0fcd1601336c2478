// Reference server for the benchmark: the path the load generator drives, written the way the
// Node module Switchyard replaces was written (plain socket.io 4.8 on node:http, no framework),
// so the two servers are compared on the same contract (/work/shared/CONTRACT.md §3–4):
//   - Socket.IO connect with `auth: { token }` (HS256 JWT: `sub`, `exp`, optional `rooms`),
//     refused with `connect_error` `unauthorized`; the socket joins `user_<sub>` and gets
//     `welcome { socketId, userId, serverTime, rooms }`; `user_online` / `user_offline` go to
//     `system_presence`.
//   - `subscribe { room }` / `unsubscribe { room }` with the contract's ack shape.
//   - `POST /api/v1/tickets/{ticketId}/updates` (handleTicketUpdate), `POST
//     /api/v1/rooms/{room}/events` (emitToRoom), `GET /healthz`, with `Authorization: Bearer
//     <api key>`, the 64 KiB body limit, 415 / 401 / 400 / 413 and the contract's error body.
// It has no streams (no epoch/offset in acks, no meta): compare it with `--history-size 0`
// for like against like, and with streams on for what they cost.
//
//   node server.mjs --jwt-secret S --api-keys K [--addr 127.0.0.1:0]
// prints `node-ref listening on http://127.0.0.1:<port>` once it accepts connections.
import http from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Server } from 'socket.io';
import jwt from 'jsonwebtoken';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const SECRET = args['jwt-secret'] ?? process.env.SWITCHYARD_JWT_SECRET;
const KEYS = (args['api-keys'] ?? process.env.SWITCHYARD_API_KEYS ?? '').split(',').filter(Boolean);
const [HOST, PORT] = (args.addr ?? '127.0.0.1:0').split(':');
const BODY_LIMIT = 64 * 1024;
if (!SECRET || KEYS.length === 0) {
  console.error('node-ref: --jwt-secret and --api-keys are required');
  process.exit(2);
}

// ---- names and validation (contract §1–2, the subset this path needs) ----
const ID = /^[A-Za-z0-9._:@-]{1,64}$/;
const SYSTEM = /^[a-z0-9_-]{1,64}$/;
const validRoom = (room) => {
  if (typeof room !== 'string') return false;
  const m = /^(user|ticket|meter|system)_(.*)$/s.exec(room);
  return !!m && (m[1] === 'system' ? SYSTEM : ID).test(m[2]);
};
const allowed = (patterns, room) =>
  patterns.some((p) => (p.endsWith('*') ? room.startsWith(p.slice(0, -1)) : room === p));
const now = () => new Date().toISOString();

const STATUS = ['open', 'in_progress', 'on_hold', 'resolved', 'closed'];
const PRIORITY = ['low', 'normal', 'high', 'urgent'];
function validateTicketUpdate(body) {
  const errors = [];
  const err = (path, code, message) => errors.push({ path, code, message });
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    err('', 'type', 'expected an object');
    return { errors };
  }
  const out = {};
  for (const [k, v] of Object.entries(body)) {
    switch (k) {
      case 'status': STATUS.includes(v) ? (out.status = v) : err(k, 'unknown_value', `unknown status ${JSON.stringify(v)}`); break;
      case 'priority': PRIORITY.includes(v) ? (out.priority = v) : err(k, 'unknown_value', `unknown priority ${JSON.stringify(v)}`); break;
      case 'assignedTo':
        if (v === null || (typeof v === 'string' && ID.test(v))) out.assignedTo = v;
        else err(k, 'invalid_id', 'assignedTo must be an id or null');
        break;
      case 'message':
        if (typeof v !== 'string') err(k, 'type', 'message must be a string');
        else if ([...v].length > 1000) err(k, 'too_long', 'message is longer than 1000 characters');
        else out.message = v;
        break;
      case 'data':
        if (v === null || typeof v !== 'object' || Array.isArray(v)) err(k, 'type', 'data must be an object');
        else if (Buffer.byteLength(JSON.stringify(v)) > 16 * 1024) err(k, 'too_large', 'data is larger than 16 KiB');
        else out.data = v;
        break;
      default: err(k, 'unknown_field', `unknown field ${k}`);
    }
  }
  if (errors.length === 0 && Object.keys(out).length === 0) err('', 'empty_update', 'nothing to update');
  return errors.length ? { errors } : { value: out };
}

// ---- HTTP API ----
const keyDigests = KEYS.map((k) => createHash('sha256').update(k).digest());
const keyOk = (header) => {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const d = createHash('sha256').update(m[1]).digest();
  let ok = false;
  for (const k of keyDigests) ok = timingSafeEqual(k, d) || ok;
  return ok;
};
const send = (res, status, body) => {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};
const fail = (res, status, code, message, details) =>
  send(res, status, { error: { code, message, ...(details ? { details } : {}) } });

function readJson(req, res, then) {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
    return fail(res, 415, 'unsupported_media_type', 'expected application/json');
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > BODY_LIMIT) {
      fail(res, 413, 'payload_too_large', `body larger than ${BODY_LIMIT} bytes`);
      req.destroy();
    } else chunks.push(c);
  });
  req.on('end', () => {
    if (size > BODY_LIMIT) return;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return fail(res, 400, 'invalid_json', 'malformed JSON body');
    }
    then(body);
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
  if (!url.pathname.startsWith('/api/v1/')) return fail(res, 404, 'not_found', 'no such route');
  if (!keyOk(req.headers.authorization)) return fail(res, 401, 'unauthorized', 'missing or unknown API key');
  let m;
  if (req.method === 'POST' && (m = /^\/api\/v1\/tickets\/([^/]+)\/updates$/.exec(url.pathname))) {
    const ticketId = decodeURIComponent(m[1]);
    if (!ID.test(ticketId)) return fail(res, 400, 'invalid_id', 'invalid ticket id');
    return readJson(req, res, (body) => {
      const { value, errors } = validateTicketUpdate(body);
      if (errors) return fail(res, 400, 'validation_failed', 'the ticket update is invalid', errors);
      io.to(`ticket_${ticketId}`).emit('ticket_updated', { ...value, ticketId, updatedAt: now() });
      send(res, 202, { id: randomUUID() });
    });
  }
  if (req.method === 'POST' && (m = /^\/api\/v1\/rooms\/([^/]+)\/events$/.exec(url.pathname))) {
    const room = decodeURIComponent(m[1]);
    if (!validRoom(room)) return fail(res, 400, 'invalid_room', 'invalid room');
    return readJson(req, res, (body) => {
      if (typeof body?.event !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(body.event)) {
        return fail(res, 400, 'validation_failed', 'invalid event', [{ path: 'event', code: 'invalid_format', message: 'invalid event name' }]);
      }
      io.to(room).emit(body.event, body.data ?? null);
      send(res, 202, { id: randomUUID() });
    });
  }
  fail(res, 404, 'not_found', 'no such route');
});

// ---- Socket.IO ----
const io = new Server(server, { serveClient: false });
const socketsPerUser = new Map();

io.use((socket, next) => {
  try {
    const claims = jwt.verify(socket.handshake.auth?.token, SECRET, { algorithms: ['HS256'] });
    if (typeof claims.sub !== 'string' || !ID.test(claims.sub) || typeof claims.exp !== 'number') throw new Error();
    socket.data.userId = claims.sub;
    socket.data.grants = Array.isArray(claims.rooms) ? claims.rooms.filter((r) => typeof r === 'string') : [];
    next();
  } catch {
    next(new Error('unauthorized'));
  }
});

io.on('connection', (socket) => {
  const { userId, grants } = socket.data;
  const own = `user_${userId}`;
  socket.join(own);
  const n = (socketsPerUser.get(userId) ?? 0) + 1;
  socketsPerUser.set(userId, n);
  if (n === 1) io.to('system_presence').emit('user_online', { userId, at: now() });
  socket.emit('welcome', { socketId: socket.id, userId, serverTime: now(), rooms: [own] });

  const roomOf = (payload, ack) => {
    if (typeof ack !== 'function') return null;
    if (payload === null || typeof payload !== 'object' || typeof payload.room !== 'string') {
      ack({ ok: false, error: { code: 'invalid_payload', message: 'expected { room }' } });
      return null;
    }
    if (!validRoom(payload.room)) {
      ack({ ok: false, error: { code: 'invalid_room', message: `invalid room ${payload.room}` } });
      return null;
    }
    return payload.room;
  };
  socket.on('subscribe', (payload, ack) => {
    const room = roomOf(payload, ack);
    if (room === null) return;
    if (room !== own && !allowed(grants, room)) {
      return ack({ ok: false, error: { code: 'forbidden', message: `not allowed to subscribe to ${room}` } });
    }
    socket.join(room);
    ack({ ok: true, room });
  });
  socket.on('unsubscribe', (payload, ack) => {
    const room = roomOf(payload, ack);
    if (room === null) return;
    if (room === own) return ack({ ok: false, error: { code: 'forbidden', message: 'the own user room cannot be left' } });
    socket.leave(room);
    ack({ ok: true, room });
  });
  socket.on('disconnect', () => {
    const left = (socketsPerUser.get(userId) ?? 1) - 1;
    if (left > 0) socketsPerUser.set(userId, left);
    else {
      socketsPerUser.delete(userId);
      io.to('system_presence').emit('user_offline', { userId, at: now() });
    }
  });
});

server.listen(Number(PORT), HOST, () => {
  const { address, port } = server.address();
  console.log(`node-ref listening on http://${address}:${port}`);
});
const stop = () => io.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
