// Contract §3 "Connect": HS256 tokens, the welcome event, and every refusal.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, disconnect, token, unsignedToken, tamperPayload, randomSecret, uid } from '../lib/server.js';
import { assertNoMeta, assertUnauthorized, assertWelcome } from '../lib/assertions.js';

const srv = sharedServer();

describe('welcome', () => {
  test('welcome is { socketId, userId, serverTime, rooms: ["user_<sub>"], streams }', async () => {
    const sub = uid('alice');
    const sock = await srv.open(sub);
    try {
      // exactly these keys; streams: the own user room and broadcast, without `recovered`
      // (no auth.since was given)
      const { own } = assertWelcome(sock.welcome, sub, { socketId: sock.id });
      assert.equal(own.offset, 0, 'a user who never got anything: their stream is empty');
      // the welcome is not a stream event: no meta
      assert.equal(sock.__events[0].event, 'welcome', 'welcome is the first event');
      assertNoMeta(sock.__events[0].args, 'welcome');
    } finally {
      disconnect(sock);
    }
  });

  test('welcome is received exactly once per connection', async () => {
    const sock = await srv.open(uid('once'));
    try {
      // a round trip through the server after the welcome: any duplicate would have arrived
      await sock.timeout(3000).emitWithAck('subscribe', { room: `user_${sock.welcome.userId}` });
      assert.equal(sock.__events.filter((e) => e.event === 'welcome').length, 1);
    } finally {
      disconnect(sock);
    }
  });

  test('each connection gets its own socketId', async () => {
    const sub = uid('twice');
    const a = await srv.open(sub);
    const b = await srv.open(sub);
    try {
      assert.notEqual(a.welcome.socketId, b.welcome.socketId);
      assert.equal(a.welcome.userId, b.welcome.userId);
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });

  test('ids using every allowed character and 64 characters long are accepted', async () => {
    for (const sub of ['Az09._:@-', 'x'.repeat(64), 'user@example.com', 'a']) {
      const sock = await srv.open(sub);
      assert.equal(sock.welcome.userId, sub);
      assert.deepEqual(sock.welcome.rooms, [`user_${sub}`]);
      disconnect(sock);
    }
  });

  test('a token with valid room patterns is accepted', async () => {
    const sock = await srv.open(uid('pat'), ['ticket_*', 'meter_42', 'system_ops', 'system_*', '*']);
    assert.equal(typeof sock.welcome.socketId, 'string');
    disconnect(sock);
  });
});

describe('refused with connect_error "unauthorized"', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases = [
    ['no auth at all', async () => ({ tok: undefined })],
    ['auth without a token', async () => ({ tok: undefined, opts: { auth: {} } })],
    ['token that is not a string', async () => ({ tok: undefined, opts: { auth: { token: 12345 } } })],
    ['empty token', async () => ({ tok: '' })],
    ['malformed token (not a JWT)', async () => ({ tok: 'not-a-jwt' })],
    ['malformed token (three garbage segments)', async () => ({ tok: 'abc.def.ghi' })],
    ['expired token', async () => ({ tok: await token(srv.secret, { sub: 'alice', exp: now() - 3600, iat: now() - 7200 }) })],
    ['token without exp', async () => ({ tok: await token(srv.secret, { sub: 'alice', exp: null }) })],
    // RFC 7519: not before its nbf, with zero leeway like exp.
    ['token whose nbf is ten minutes ahead', async () => ({ tok: await token(srv.secret, { sub: 'alice', claims: { nbf: now() + 600 } }) })],
    ['token signed with another secret', async () => ({ tok: await token(randomSecret(), { sub: 'alice' }) })],
    [
      'payload changed after signing',
      async () => ({ tok: tamperPayload(await token(srv.secret, { sub: 'mallory' }), { sub: 'alice' }) }),
    ],
    ['alg "none" (unsigned) token', async () => ({ tok: unsignedToken({ sub: 'alice' }) })],
    ['wrong algorithm: HS512 with the right secret', async () => ({ tok: await token(srv.secret, { sub: 'alice', alg: 'HS512' }) })],
    ['wrong algorithm: HS384 with the right secret', async () => ({ tok: await token(srv.secret, { sub: 'alice', alg: 'HS384' }) })],
    ['token without sub', async () => ({ tok: await token(srv.secret, {}) })],
    ['sub is empty', async () => ({ tok: await token(srv.secret, { sub: '' }) })],
    ['sub has a space', async () => ({ tok: await token(srv.secret, { sub: 'bad id' }) })],
    ['sub has a disallowed character', async () => ({ tok: await token(srv.secret, { sub: 'bad!id' }) })],
    ['sub is 65 characters', async () => ({ tok: await token(srv.secret, { sub: 'x'.repeat(65) }) })],
    ['sub is a number', async () => ({ tok: await token(srv.secret, { sub: 42 }) })],
    ['rooms claim holds an invalid pattern', async () => ({ tok: await token(srv.secret, { sub: 'alice', rooms: ['not a room'] }) })],
  ];
  for (const [name, make] of cases) {
    test(name, async () => {
      const { tok, opts } = await make();
      await assertUnauthorized(srv.url, tok, opts);
    });
  }

  test('a refused client is not connected and the server keeps serving', async () => {
    await assertUnauthorized(srv.url, await token(randomSecret(), { sub: 'alice' }));
    const sock = await srv.open(uid('after'));
    assert.ok(sock.connected);
    disconnect(sock);
  });
});
