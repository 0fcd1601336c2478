// Contract §4 unauthenticated endpoints: /healthz, /readyz, /metrics (Prometheus text format).
// A fresh server, so the connected-sockets gauge is exactly what this file connects.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer, disconnect, waitFor, uid, until } from '../lib/server.js';

const srv = sharedServer();

// a label set; label values may contain braces (e.g. route="/api/v1/users/{userId}/presence")
const LABELS = String.raw`\{(?:\s*[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"\s*,?)*\}`;

const gaugeLine = (n) => new RegExp(`^switchyard_connected_sockets(\\{[^}]*\\})? ${n}(\\.0+)?$`, 'm');

describe('health', () => {
  test('GET /healthz is 200 without an API key', async () => {
    const res = await fetch(`${srv.url}/healthz`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  test('GET /readyz is 200 without an API key (no Redis configured)', async () => {
    const res = await fetch(`${srv.url}/readyz`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });
});

describe('GET /metrics', () => {
  test('is Prometheus text with switchyard_ metrics, no API key needed', async () => {
    const { headers, text } = await srv.metrics();
    // Prometheus text format (text/plain; version=0.0.4) or its standard successor OpenMetrics
    // text, which Prometheus scrapes natively.
    assert.match(headers.get('content-type') ?? '', /^(text\/plain|application\/openmetrics-text)\b/i);
    const lines = text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    assert.ok(lines.some((l) => l.startsWith('switchyard_')), `some switchyard_ metric:\n${text}`);
    // every sample line: name{labels} value [timestamp]
    const sample = new RegExp(String.raw`^[a-zA-Z_:][a-zA-Z0-9_:]*(${LABELS})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$`);
    for (const l of lines) assert.match(l, sample, `valid sample line: ${l}`);
  });

  test('switchyard_connected_sockets follows the connected sockets', async () => {
    await until(async () => gaugeLine(0).test((await srv.metrics()).text), { message: 'gauge 0 before any connect' });
    const a = await srv.open(uid('m'));
    const b = await srv.open(uid('m'), undefined, { transports: ['polling'] });
    try {
      await until(async () => gaugeLine(2).test((await srv.metrics()).text), {
        message: 'a line "switchyard_connected_sockets 2"',
      });
      disconnect(a);
      await until(async () => gaugeLine(1).test((await srv.metrics()).text), {
        message: 'a line "switchyard_connected_sockets 1" after one disconnect',
      });
    } finally {
      disconnect(a);
      disconnect(b);
    }
  });

  test('events sent and API requests are counted', async () => {
    const who = uid('m');
    const sock = await srv.open(who);
    try {
      const got = waitFor(sock, 'notification');
      await srv.notify(who, 'count me');
      await got;
      const { text } = await srv.metrics();
      const labelled = (name, l) => new RegExp(String.raw`^${name}${LABELS} `).test(l);
      const sent = text
        .split('\n')
        .find((l) => labelled('switchyard_events_sent_total', l) && /[{,]\s*event="notification"/.test(l));
      assert.ok(sent, `switchyard_events_sent_total{event="notification"} present:\n${text}`);
      assert.ok(Number(sent.split(' ').at(-1)) >= 1, sent);
      const api = text
        .split('\n')
        .filter((l) => labelled('switchyard_api_requests_total', l) && /[{,]\s*status="202"/.test(l) && /[{,]\s*route="[^"]+"/.test(l));
      assert.ok(api.length >= 1, `switchyard_api_requests_total{route=...,status="202"} present:\n${text}`);
    } finally {
      disconnect(sock);
    }
  });
});
