// The dashboard's Cluster panel. A single in-memory demo shows itself and "in memory"; two demo
// nodes on one real redis-server, sharing a secret and an API key, each show both nodes; a user
// signed in on node B is online on the page served by node A, and when B is killed (kill -9, no
// goodbye) A's page sees the node leave and the user go offline once the survivors reap B after
// --presence-ttl.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { launch, until } from '../lib/browser.js';
import { startDemo } from '../lib/server.js';
import { sel, signIn } from '../lib/dashboard.js';
import { redisMissing, startRedis } from '../../e2e/lib/redis.js';

const tag = randomBytes(3).toString('hex');
const USER_A = `ana-${tag}`;
const USER_B = `ben-${tag}`;
const NODE_A = `demo-a-${tag}`;
const NODE_B = `demo-b-${tag}`;
// The survivors reap a silent node within the TTL (plus their one-second reaping tick); the
// waits below are generous on a loaded machine and assert nothing about time.
const PRESENCE_TTL = '2s';
const REAPED_WITHIN_MS = 30_000;

let browser;
const pageErrors = [];

async function newPage(url, name, { trackErrors = true } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  if (trackErrors) {
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`${name} console: ${m.text()}`);
    });
  }
  if (url) {
    await page.goto(`${url}/`);
    await page.waitForSelector('body[data-ready="true"]');
  }
  return { ctx, page };
}

const nodeIds = (page) => page.$$eval(sel('cluster-node'), (els) => els.map((e) => e.dataset.node).sort());

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close().catch(() => {});
  assert.deepEqual(pageErrors, [], 'no page errors');
});

test('a single node in memory: the panel lists it as this page’s node, store "in memory"', async () => {
  const server = await startDemo({ args: ['--node-id', `solo-${tag}`, '--feed-interval-ms', '0'] });
  try {
    const { ctx, page } = await newPage(server.url, 'solo');
    await page.waitForSelector(sel('cluster-store', '[data-state="memory"]'));
    assert.equal(await page.textContent(sel('cluster-store')), 'in memory');
    await page.waitForSelector(sel('cluster-node', `[data-node="solo-${tag}"].me`));
    assert.deepEqual(await nodeIds(page), [`solo-${tag}`]);
    assert.equal(await page.textContent(sel('cluster-count')), '1');
    await ctx.close();
  } finally {
    await server.stop('SIGKILL', 2000);
  }
});

describe('two demo nodes on one Redis', { skip: redisMissing() }, () => {
  let redis;
  let nodeA;
  let nodeB;
  const secret = randomBytes(32).toString('hex');
  const apiKey = `demo_${randomBytes(16).toString('hex')}`;
  const clusterArgs = (id) => [
    '--redis-url', redis.url, '--node-id', id, '--presence-ttl', PRESENCE_TTL,
    '--jwt-secret', secret, '--api-key', apiKey,
  ];

  before(async () => {
    redis = await startRedis();
    // One simulated feed is enough for a cluster: the second node runs without one.
    [nodeA, nodeB] = await Promise.all([
      startDemo({ args: clusterArgs(NODE_A) }),
      startDemo({ args: [...clusterArgs(NODE_B), '--feed-interval-ms', '0'] }),
    ]);
  });

  after(async () => {
    await nodeA?.stop('SIGKILL', 2000);
    await nodeB?.stop('SIGKILL', 2000);
    await redis?.stop();
  });

  test('node A’s page follows both nodes; a user on B goes offline there when B is killed', async () => {
    const { page: pageA } = await signedIn(nodeA.url, USER_A, 'A');
    await pageA.waitForSelector(sel('cluster-store', '[data-state="redis_ok"]'));
    await until(async () => (await nodeIds(pageA)).length === 2, 'both nodes on A’s page');
    assert.deepEqual(await nodeIds(pageA), [NODE_A, NODE_B].sort());
    await pageA.waitForSelector(sel('cluster-node', `[data-node="${NODE_A}"].me`));

    // Page B is served by node B but signs in with a token from node A: the shared secret
    // makes it good on every node.
    const { ctx: ctxB, page: pageB } = await newPage(null, 'B', { trackErrors: false });
    await ctxB.route('**/demo/token', async (route) => {
      const response = await route.fetch({ url: `${nodeA.url}/demo/token` });
      await route.fulfill({ response });
    });
    await signIn(pageB, nodeB.url, USER_B);
    await pageB.waitForSelector(sel('cluster-node', `[data-node="${NODE_B}"].me`));

    // A on A's page sees B's user, and B's socket counted on B's row.
    await pageA.waitForSelector(sel('presence-user', `[data-user="${USER_B}"]`));
    await pageA.waitForSelector(sel('cluster-node', `[data-node="${NODE_B}"][data-sockets="1"]`));

    // The shared API key: an announcement posted to node B with it reaches the page on A.
    const res = await fetch(`${nodeB.url}/api/v1/announcements`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'info', message: `from node B (${tag})` }),
    });
    assert.equal(res.status, 202, await res.text());
    await pageA.locator(sel('announcement-banner'), { hasText: `from node B (${tag})` }).waitFor();

    // kill -9: B says nothing; the survivors notice its silence.
    await nodeB.stop('SIGKILL');
    await until(
      async () => JSON.stringify(await nodeIds(pageA)) === JSON.stringify([NODE_A]),
      'node B to leave the Cluster panel',
      REAPED_WITHIN_MS,
      200,
    );
    await pageA.waitForSelector(sel('presence-user', `[data-user="${USER_B}"]`), {
      state: 'detached',
      timeout: REAPED_WITHIN_MS,
    });
    await pageA.locator(sel('cluster-log'), { hasText: `node ${NODE_B} left` }).waitFor();
    await pageA.locator(sel('presence-log'), { hasText: `${USER_B} went offline` }).waitFor();
    // A's own user and connection are untouched.
    await pageA.waitForSelector(sel('presence-user', `[data-user="${USER_A}"]`));
    assert.equal(await pageA.getAttribute(sel('conn-badge'), 'data-state'), 'connected');
    assert.equal(await pageA.textContent(sel('cluster-count')), '1');
    await pageA.waitForSelector(sel('cluster-store', '[data-state="redis_ok"]'));
  });

  async function signedIn(url, user, name) {
    const { ctx, page } = await newPage(null, name);
    await signIn(page, url, user);
    return { ctx, page };
  }
});
