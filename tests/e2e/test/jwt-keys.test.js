// Contract §3: RS256 / ES256 tokens verified with --jwt-public-key <PEM file>. One server per key type.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer,
  sharedServer,
  connect,
  disconnect,
  token,
  publicPem,
  randomSecret,
  uid,
  closeAllSockets,
} from '../lib/server.js';
import { assertUnauthorized } from '../lib/assertions.js';

const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-e2e-keys-'));
after(() => {
  closeAllSockets();
  rmSync(dir, { recursive: true, force: true });
});

function writePem(name, pem) {
  const file = path.join(dir, name);
  writeFileSync(file, pem);
  return file;
}

async function assertWelcome(url, tok, sub) {
  const sock = await connect(url, tok);
  try {
    assert.equal(sock.welcome.userId, sub);
    assert.deepEqual(sock.welcome.rooms, [`user_${sub}`]);
  } finally {
    disconnect(sock);
  }
}

describe('RS256 with --jwt-public-key', () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicPem(pair);
  const srv = sharedServer({ secret: null, args: ['--jwt-public-key', writePem('rsa.pem', pem)] });

  test('a valid RS256 token connects', async () => {
    const sub = uid('rsa');
    await assertWelcome(srv.url, await token(pair.privateKey, { sub, alg: 'RS256' }), sub);
  });

  test('RS256 signed by another key is refused', async () => {
    await assertUnauthorized(srv.url, await token(other.privateKey, { sub: 'alice', alg: 'RS256' }));
  });

  test('expired RS256 token is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await assertUnauthorized(
      srv.url,
      await token(pair.privateKey, { sub: 'alice', alg: 'RS256', exp: now - 3600, iat: now - 7200 }),
    );
  });

  test('HS256 signed with the public key PEM as the secret (algorithm confusion) is refused', async () => {
    await assertUnauthorized(srv.url, await token(new TextEncoder().encode(pem), { sub: 'alice', alg: 'HS256' }));
  });

  test('PS256 with the right key (wrong algorithm) is refused', async () => {
    await assertUnauthorized(srv.url, await token(pair.privateKey, { sub: 'alice', alg: 'PS256' }));
  });

  test('an HS256 token with some secret is refused', async () => {
    await assertUnauthorized(srv.url, await token(randomSecret(), { sub: 'alice' }));
  });

  test('RS256 with an invalid sub is refused', async () => {
    await assertUnauthorized(srv.url, await token(pair.privateKey, { sub: 'no spaces allowed', alg: 'RS256' }));
  });
});

describe('ES256 with --jwt-public-key', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicPem(pair);
  const srv = sharedServer({ secret: null, args: ['--jwt-public-key', writePem('ec.pem', pem)] });

  test('a valid ES256 token connects', async () => {
    const sub = uid('ec');
    await assertWelcome(srv.url, await token(pair.privateKey, { sub, alg: 'ES256' }), sub);
  });

  test('ES256 signed by another key is refused', async () => {
    await assertUnauthorized(srv.url, await token(other.privateKey, { sub: 'alice', alg: 'ES256' }));
  });

  test('an RS256 token is refused', async () => {
    await assertUnauthorized(srv.url, await token(rsa.privateKey, { sub: 'alice', alg: 'RS256' }));
  });

  test('HS256 signed with the public key PEM as the secret is refused', async () => {
    await assertUnauthorized(srv.url, await token(new TextEncoder().encode(pem), { sub: 'alice', alg: 'HS256' }));
  });

  test('expired ES256 token is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await assertUnauthorized(
      srv.url,
      await token(pair.privateKey, { sub: 'alice', alg: 'ES256', exp: now - 3600, iat: now - 7200 }),
    );
  });
});

describe('SWITCHYARD_JWT_PUBLIC_KEY', () => {
  test('the public key can be given through the environment', async (t) => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = writePem('env-ec.pem', publicPem(pair));
    const srv = await startServer({ secret: null, env: { SWITCHYARD_JWT_PUBLIC_KEY: file } });
    t.after(() => srv.stop());
    const sub = uid('envkey');
    await assertWelcome(srv.url, await token(pair.privateKey, { sub }), sub);
  });
});

// Key rotation without downtime (SECURITY.md): several keys at once, each flag given again.
describe('several keys at once (--jwt-secret and --jwt-public-key given twice)', () => {
  const current = randomSecret();
  const previous = randomSecret();
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const oldPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const srv = sharedServer({
    secret: current,
    args: [
      '--jwt-secret', previous,
      '--jwt-public-key', writePem('rot-ec.pem', publicPem(pair)),
      '--jwt-public-key', writePem('rot-rsa.pem', publicPem(oldPair)),
    ],
  });

  test('a token signed with any configured key connects', async () => {
    for (const [key, alg] of [[current, 'HS256'], [previous, 'HS256'], [pair.privateKey, 'ES256'], [oldPair.privateKey, 'RS256']]) {
      const sub = uid(`rot${alg}`);
      await assertWelcome(srv.url, await token(key, { sub, alg }), sub);
    }
  });

  test('a key that is not configured (any more) is refused, and so is an expired token of a configured one', async () => {
    await assertUnauthorized(srv.url, await token(randomSecret(), { sub: 'alice', alg: 'HS256' }));
    const now = Math.floor(Date.now() / 1000);
    await assertUnauthorized(srv.url, await token(previous, { sub: 'alice', alg: 'HS256', iat: now - 120, exp: now - 60 }));
  });
});
