// Token lifetime (contract section 10) in the dashboard: opened with `?tokenTtl=3`, the page gets
// 3-second tokens and must refresh each one before it expires, on the same socket (no
// reconnect); when it cannot get a new token, the server's `session_expired` ends the session
// and the page says so.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { launch } from '../lib/browser.js';
import { startDemo } from '../lib/server.js';
import { publish, sel, signIn } from '../lib/dashboard.js';

const tag = randomBytes(3).toString('hex');
const TTL = 3;

let server;
let browser;
const pageErrors = [];

before(async () => {
  server = await startDemo({ args: ['--feed-interval-ms', '0'] });
  browser = await launch();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop('SIGKILL', 2000);
});

async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return page;
}

const expOf = async (page) => Date.parse(await page.getAttribute(sel('session-exp'), 'data-exp'));

test('the dashboard refreshes its token before it expires and stays connected on the same socket', async () => {
  const page = await newPage();
  const user = `tok-${tag}`;
  await signIn(page, server.url, user, { query: `?tokenTtl=${TTL}` });
  const socket = await page.textContent(sel('session-socket'));
  const firstExp = await expOf(page);
  assert.ok(firstExp - Date.now() <= TTL * 1000, 'a short-lived token was issued');

  // Past the first token's exp (and the second's, with 3-second tokens).
  await sleep(Math.max(0, firstExp + 2 * TTL * 1000 - Date.now()));
  assert.equal(await page.getAttribute(sel('conn-badge'), 'data-state'), 'connected');
  assert.equal(await page.textContent(sel('session-socket')), socket, 'no reconnect: the same socket');
  const refreshes = Number(await page.getAttribute(sel('session-refreshes'), 'data-count'));
  assert.ok(refreshes >= 2, `refreshed ${refreshes} times`);
  assert.ok((await expOf(page)) > firstExp, 'the new exp is shown');
  // And it is still served.
  await publish(server.url, `/users/${user}/notifications`, { type: 'info', message: `after the exp (${tag})` });
  await page.locator(sel('inbox-item'), { hasText: `after the exp (${tag})` }).waitFor();
  assert.deepEqual(pageErrors, []);
  await page.close();
});

test('without a new token the session expires, and the page says so', async () => {
  const page = await newPage();
  await signIn(page, server.url, `exp-${tag}`, { query: `?tokenTtl=${TTL}` });
  const exp = await expOf(page);
  // No token endpoint any more: every refresh fails, so the server ends the session at exp.
  await page.route('**/demo/token', (route) => route.abort());
  await page.waitForSelector(sel('conn-badge', '[data-state="expired"]'), { timeout: TTL * 1000 + 10_000 });
  assert.ok(Date.now() >= exp, 'not before the exp');
  const badge = await page.textContent(sel('conn-badge'));
  assert.equal(badge, `session expired: the token expired at ${new Date(exp).toISOString()}`);
  assert.match(await page.textContent(sel('session-refresh-error')), /no new token/);
  // A new token brings it back.
  await page.unroute('**/demo/token');
  await page.click(sel('reconnect'));
  await page.waitForSelector(sel('conn-badge', '[data-state="connected"]'));
  assert.deepEqual(pageErrors, []);
  await page.close();
});
