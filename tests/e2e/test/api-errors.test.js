// Contract §4 error cases: 401, 415, 413, 400 invalid_json / validation_failed / invalid_id /
// invalid_room, 404 not_found, and the decisions file's reserved custom event names.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServers, disconnect, token, api, randomApiKey, uid, until } from '../lib/server.js';
import { assertHttpError, assertValidation, assertValidationHasCode } from '../lib/assertions.js';

const SMALL_LIMIT = 4096;
const LARGE_LIMIT = 200_000;
const DEFAULT_LIMIT = 65_536;

const [
  srv, // defaults (64 KiB body limit)
  small, // --max-body-bytes via SWITCHYARD_MAX_BODY_BYTES=4096
  large, // --max-body-bytes 200000
] = sharedServers(
  {},
  { env: { SWITCHYARD_MAX_BODY_BYTES: String(SMALL_LIMIT) } },
  { args: ['--max-body-bytes', String(LARGE_LIMIT)] },
);

/** A notification body of exactly `size` bytes (ASCII), padded inside `data` (or `message`). */
function notificationOfSize(size, where = 'data') {
  const base = where === 'data' ? { type: 'info', message: 'padded', data: { pad: '' } } : { type: 'info', message: '' };
  const baseLen = JSON.stringify(base).length;
  assert.ok(size >= baseLen, 'size too small');
  const pad = 'x'.repeat(size - baseLen);
  if (where === 'data') base.data.pad = pad;
  else base.message = pad;
  const body = JSON.stringify(base);
  assert.equal(Buffer.byteLength(body), size);
  return body;
}

const NOTIFY = () => `/api/v1/users/${uid('u')}/notifications`;

describe('401 without or with a wrong API key', () => {
  const routes = () => {
    const sid = 'AAAAAAAAAAAAAAAA';
    return [
      ['POST', NOTIFY(), { type: 'info', message: 'x' }],
      ['POST', '/api/v1/tickets/1/updates', { status: 'open' }],
      ['POST', '/api/v1/meters/1/readings', { reading: 1, timestamp: '2024-01-01T00:00:00Z', unit: 'Wh' }],
      ['POST', '/api/v1/announcements', { type: 'info', message: 'x' }],
      ['POST', '/api/v1/rooms/ticket_1/events', { event: 'ticket_x', data: 1 }],
      ['POST', '/api/v1/broadcast', { event: 'custom_x', data: 1 }],
      ['GET', '/api/v1/users/alice/presence'],
      ['GET', '/api/v1/sockets'],
      ['PUT', `/api/v1/sockets/${sid}/rooms/ticket_1`],
      ['DELETE', `/api/v1/sockets/${sid}/rooms/ticket_1`],
      ['DELETE', '/api/v1/users/alice/sockets'],
    ];
  };

  test('every route answers 401 { error: { code, message } } without a key', async () => {
    for (const [method, path, body] of routes()) {
      const res = await api(srv.url, null, method, path, body);
      assertHttpError(res, 401);
    }
  });

  test('every route answers 401 with an unknown key', async () => {
    for (const [method, path, body] of routes()) {
      assertHttpError(await api(srv.url, randomApiKey(), method, path, body), 401);
    }
  });

  test('near misses of a valid key are refused', async () => {
    const key = srv.apiKeys[0];
    const variants = [key.slice(0, -1), `${key}x`, key.toUpperCase(), `${key},${srv.apiKeys[1]}`, ''];
    for (const k of variants) {
      assertHttpError(await api(srv.url, k, 'GET', '/api/v1/sockets'), 401);
    }
  });

  test('a valid key in the wrong scheme is refused', async () => {
    for (const authorization of [`Basic ${srv.apiKeys[0]}`, srv.apiKeys[0], `Token ${srv.apiKeys[0]}`]) {
      const res = await api(srv.url, null, 'GET', '/api/v1/sockets', undefined, { headers: { authorization } });
      assertHttpError(res, 401);
    }
  });

  test('a JWT for a socket is not an API key', async () => {
    const jwt = await token(srv.secret, { sub: 'alice' });
    assertHttpError(await api(srv.url, jwt, 'GET', '/api/v1/sockets'), 401);
  });

  test('a refused call has no effect', async () => {
    const who = uid('victim');
    const sock = await srv.open(who);
    try {
      assertHttpError(await api(srv.url, null, 'DELETE', `/api/v1/users/${who}/sockets`), 401);
      assert.equal((await srv.presence(who)).online, true);
      assert.equal(sock.connected, true);
    } finally {
      disconnect(sock);
    }
  });
});

describe('415 wrong content type', () => {
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', null]) {
    test(`${contentType ?? 'no content-type'} with a JSON body`, async () => {
      const body = JSON.stringify({ type: 'info', message: 'x' });
      const res = await api(srv.url, srv.apiKey, 'POST', NOTIFY(), contentType === null ? new TextEncoder().encode(body) : body, {
        contentType,
      });
      assertHttpError(res, 415);
    });
  }
});

describe('413 body over the limit', () => {
  test(`default limit ${DEFAULT_LIMIT}: exactly at the limit is not 413, one byte more is`, async () => {
    // at the limit: message of ~65 K characters -> a validation failure (too_long), not 413
    const at = await srv.api('POST', NOTIFY(), notificationOfSize(DEFAULT_LIMIT, 'message'));
    assert.notEqual(at.status, 413, `a body of exactly ${DEFAULT_LIMIT} bytes is not too large`);
    assertValidation(at, [['message', 'too_long']]);
    const over = await srv.api('POST', NOTIFY(), notificationOfSize(DEFAULT_LIMIT + 1, 'message'));
    assertHttpError(over, 413);
  });

  test(`SWITCHYARD_MAX_BODY_BYTES=${SMALL_LIMIT}: exactly at the limit succeeds, one byte more is 413`, async () => {
    const at = await small.api('POST', NOTIFY(), notificationOfSize(SMALL_LIMIT));
    assert.equal(at.status, 202, `a body of exactly ${SMALL_LIMIT} bytes is accepted: ${at.text}`);
    assertHttpError(await small.api('POST', NOTIFY(), notificationOfSize(SMALL_LIMIT + 1)), 413);
  });

  test('413 applies to every POST route', async () => {
    const big = { pad: 'x'.repeat(SMALL_LIMIT) };
    for (const [path, body] of [
      ['/api/v1/tickets/1/updates', { data: big }],
      ['/api/v1/meters/1/readings', { reading: 1, timestamp: '2024-01-01T00:00:00Z', unit: 'Wh', data: big }],
      ['/api/v1/announcements', { type: 'info', message: 'x', data: big }],
      ['/api/v1/rooms/ticket_1/events', { event: 'ticket_x', data: big }],
      ['/api/v1/broadcast', { event: 'custom_x', data: big }],
    ]) {
      assertHttpError(await small.api('POST', path, body), 413);
    }
  });

  test(`--max-body-bytes ${LARGE_LIMIT}: bodies above 64 KiB pass the size check`, async () => {
    const at = await large.api('POST', NOTIFY(), notificationOfSize(LARGE_LIMIT));
    assert.notEqual(at.status, 413, `a body of exactly ${LARGE_LIMIT} bytes is not too large`);
    assertValidation(at, [['data', 'too_large']]); // data is limited to 16 KiB
    assertHttpError(await large.api('POST', NOTIFY(), notificationOfSize(LARGE_LIMIT + 1)), 413);
  });
});

describe('400 invalid_json', () => {
  for (const [name, raw] of [
    ['truncated JSON', '{"type":"info","message":'],
    ['trailing garbage', '{"type":"info","message":"x"} x'],
    ['not JSON at all', 'hello'],
    ['empty body', ''],
  ]) {
    test(name, async () => {
      assertHttpError(await srv.api('POST', NOTIFY(), raw), 400, 'invalid_json');
    });
  }
});

describe('400 validation_failed lists every error', () => {
  test('notification: four errors at once', async () => {
    const res = await srv.api('POST', NOTIFY(), { type: 'nope', data: 'not an object', extra: 1 });
    assertValidation(res, [
      ['type', 'unknown_value'],
      ['message', 'required'],
      ['data', 'type'],
      ['extra', 'unknown_field'],
    ]);
  });

  test('notification: empty, blank, too long and wrong type', async () => {
    assertValidation(await srv.api('POST', NOTIFY(), { type: 'info', message: '' }), [['message', 'empty']]);
    assertValidation(await srv.api('POST', NOTIFY(), { type: 'info', message: ' \t\n ' }), [['message', 'empty']]);
    assertValidation(await srv.api('POST', NOTIFY(), { type: 'info', message: 'x'.repeat(1001) }), [['message', 'too_long']]);
    assertValidation(await srv.api('POST', NOTIFY(), { type: 7, message: 8 }), [
      ['type', 'type'],
      ['message', 'type'],
    ]);
    // lengths count Unicode scalar values: 1000 emoji are fine
    const ok = await srv.api('POST', NOTIFY(), { type: 'info', message: '\u{1F600}'.repeat(1000) });
    assert.equal(ok.status, 202, ok.text);
  });

  test('notification: data over 16 KiB is too_large', async () => {
    const res = await srv.api('POST', NOTIFY(), { type: 'info', message: 'x', data: { pad: 'x'.repeat(17 * 1024) } });
    assertValidation(res, [['data', 'too_large']]);
  });

  test('a JSON array or string body is not a valid payload', async () => {
    for (const body of [[], 'just a string', 42]) {
      const res = await srv.api('POST', NOTIFY(), JSON.stringify(body));
      assertHttpError(res, 400);
      assert.ok(['validation_failed', 'invalid_json'].includes(res.body.error.code), res.text);
    }
  });

  test('ticket update: empty update', async () => {
    assertValidationHasCode(await srv.api('POST', '/api/v1/tickets/1/updates', {}), 'empty_update');
  });

  test('ticket update: four errors at once', async () => {
    const res = await srv.api('POST', '/api/v1/tickets/1/updates', {
      status: 'bogus',
      priority: 'meh',
      assignedTo: 'bad id',
      extra: true,
    });
    assertValidation(res, [
      ['status', 'unknown_value'],
      ['priority', 'unknown_value'],
      ['assignedTo', 'invalid_id'],
      ['extra', 'unknown_field'],
    ]);
  });

  test('meter reading: four errors at once', async () => {
    const res = await srv.api('POST', '/api/v1/meters/1/readings', {
      reading: 'a lot',
      timestamp: 'yesterday',
      unit: 'kwh',
      extra: 'x',
    });
    assertValidation(res, [
      ['reading', 'type'],
      ['timestamp', 'invalid_format'],
      ['unit', 'unknown_value'],
      ['extra', 'unknown_field'],
    ]);
  });

  test('meter reading: all three required fields missing', async () => {
    assertValidation(await srv.api('POST', '/api/v1/meters/1/readings', {}), [
      ['reading', 'required'],
      ['timestamp', 'required'],
      ['unit', 'required'],
    ]);
  });

  test('meter reading: timestamp more than 5 minutes ahead is in_future', async () => {
    const ts = new Date(Date.now() + 60 * 60 * 1000).toISOString();
    assertValidation(await srv.api('POST', '/api/v1/meters/1/readings', { reading: 1, timestamp: ts, unit: 'Wh' }), [
      ['timestamp', 'in_future'],
    ]);
    const soon = new Date(Date.now() + 60 * 1000).toISOString(); // 1 minute ahead is fine
    const ok = await srv.api('POST', '/api/v1/meters/1/readings', { reading: 1, timestamp: soon, unit: 'Wh' });
    assert.equal(ok.status, 202, ok.text);
  });

  test('announcement: unknown type, empty message, bad scheduledTime', async () => {
    assertValidation(await srv.api('POST', '/api/v1/announcements', { type: 'party', message: '', scheduledTime: 'soon' }), [
      ['type', 'unknown_value'],
      ['message', 'empty'],
      ['scheduledTime', 'invalid_format'],
    ]);
    assertValidation(await srv.api('POST', '/api/v1/announcements', { type: 'outage', message: 'x'.repeat(2001) }), [
      ['message', 'too_long'],
    ]);
    const ok = await srv.api('POST', '/api/v1/announcements', { type: 'outage', message: 'x'.repeat(2000) });
    assert.equal(ok.status, 202, ok.text);
  });

  test('custom event: data over 64 KiB is too_large', async () => {
    const res = await large.api('POST', '/api/v1/rooms/ticket_1/events', { event: 'ticket_x', data: 'x'.repeat(70 * 1024) });
    assertValidation(res, [['data', 'too_large']]);
  });
});

describe('400 custom event names', () => {
  const reserved = [
    'welcome',
    'notification',
    'ticket_updated',
    'meter_reading',
    'announcement',
    'user_online',
    'user_offline',
    'system_shutdown',
    'connect',
    'connect_error',
    'disconnect',
    'disconnecting',
    'newListener',
    'removeListener',
  ];
  const invalid = ['Bad', '1abc', 'has-dash', 'has space', '_x', `a${'b'.repeat(64)}`];

  test('reserved and invalid names on /rooms/{room}/events', async () => {
    for (const event of [...reserved, ...invalid]) {
      const res = await srv.api('POST', '/api/v1/rooms/ticket_1/events', { event, data: {} });
      assertValidation(res, [['event', 'invalid_format']]);
    }
  });

  test('reserved and invalid names on /broadcast', async () => {
    for (const event of [...reserved, ...invalid]) {
      const res = await srv.api('POST', '/api/v1/broadcast', { event, data: {} });
      assertValidation(res, [['event', 'invalid_format']]);
    }
  });

  test('a 64-character name is fine', async () => {
    const res = await srv.api('POST', '/api/v1/broadcast', { event: `a${'b'.repeat(63)}`, data: null });
    assert.equal(res.status, 202, res.text);
  });
});

describe('400 invalid path parameters', () => {
  const badIds = ['bad!id', 'bad%20id', 'x'.repeat(65), 'caf%C3%A9', 'a%2Bb'];

  test('invalid_id for every route with an id', async () => {
    for (const id of badIds) {
      for (const [method, path, body] of [
        ['POST', `/api/v1/users/${id}/notifications`, { type: 'info', message: 'x' }],
        ['POST', `/api/v1/tickets/${id}/updates`, { status: 'open' }],
        ['POST', `/api/v1/meters/${id}/readings`, { reading: 1, timestamp: '2024-01-01T00:00:00Z', unit: 'Wh' }],
        ['GET', `/api/v1/users/${id}/presence`],
        ['DELETE', `/api/v1/users/${id}/sockets`],
      ]) {
        assertHttpError(await srv.api(method, path, body), 400, 'invalid_id');
      }
    }
  });

  test('invalid_room for /rooms/{room}/events', async () => {
    for (const room of ['lobby', 'ticket_', 'ticket_bad!id', 'system_UPPER', 'Ticket_1']) {
      assertHttpError(await srv.api('POST', `/api/v1/rooms/${room}/events`, { event: 'custom_x', data: 1 }), 400, 'invalid_room');
    }
  });

  test('invalid_room for PUT/DELETE /sockets/{id}/rooms/{room} of a real socket', async () => {
    const sock = await srv.open(uid('r'));
    try {
      for (const method of ['PUT', 'DELETE']) {
        for (const room of ['lobby', 'meter_', 'system_a%20b']) {
          const res = await srv.api(method, `/api/v1/sockets/${encodeURIComponent(sock.id)}/rooms/${room}`);
          assertHttpError(res, 400, 'invalid_room');
        }
      }
    } finally {
      disconnect(sock);
    }
  });

  test('an invalid path with an invalid body is still a 400', async () => {
    const res = await srv.api('POST', '/api/v1/users/bad!id/notifications', { type: 'nope' });
    assertHttpError(res, 400);
    assert.ok(['invalid_id', 'validation_failed'].includes(res.body.error.code), res.text);
  });
});

describe('404 not_found', () => {
  test('PUT / DELETE rooms of an unknown (well-formed) socket id', async () => {
    // 16 URL-safe base64 characters: the shape of a Socket.IO socket id, but never issued
    for (const method of ['PUT', 'DELETE']) {
      assertHttpError(await srv.api(method, '/api/v1/sockets/AAAAAAAAAAAAAAAA/rooms/ticket_1'), 404, 'not_found');
    }
  });

  test('a socket that has disconnected is unknown', async () => {
    const sock = await srv.open(uid('gone'));
    const id = sock.id;
    disconnect(sock);
    const path = `/api/v1/sockets/${encodeURIComponent(id)}/rooms/ticket_1`;
    // the server learns about the disconnect asynchronously: poll until it stops answering 204
    let res;
    await until(
      async () => {
        res = await srv.api('PUT', path);
        return res.status !== 204;
      },
      { message: 'the server to forget the disconnected socket' },
    );
    assertHttpError(res, 404, 'not_found');
  });
});
