// Recovery that cannot be had: a server keeping only 3 events per stream (`--history-size 3`),
// a page that misses more than that in a ticket and in its inbox while offline. The page must
// say it could not recover them and reload those panels, recover the ticket whose missed events
// were still kept, and then follow every stream live from the server's position.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { launch } from '../lib/browser.js';
import { startDemo } from '../lib/server.js';
import { backOnline, countWithText, dropConnection, publish, sel, signIn, streamNotices, watchTicket } from '../lib/dashboard.js';

const tag = randomBytes(3).toString('hex');
const USER = `dana-${tag}`;
const KEPT = `T-kept-${tag}`;
const LOST = `T-lost-${tag}`;

let server;
let browser;
/** @type {import('playwright-core').Page} */ let page;
const pageErrors = [];

before(async () => {
  server = await startDemo({ args: ['--history-size', '3'] });
  browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  await signIn(page, server.url, USER);
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop('SIGKILL', 2000);
});

const timeline = (ticket) => page.locator(sel('timeline-item', `[data-ticket="${ticket}"]`));

test('missed more than the server keeps: "could not recover … reloaded", the rest recovered, then live', async () => {
  for (const t of [KEPT, LOST]) {
    await watchTicket(page, t);
    await publish(server.url, `/tickets/${t}/updates`, { message: `${t} seen (${tag})` });
    await timeline(t).filter({ hasText: `${t} seen` }).waitFor();
  }
  await publish(server.url, `/users/${USER}/notifications`, { type: 'info', message: `note seen (${tag})` });
  await page.locator(sel('inbox-item'), { hasText: `note seen (${tag})` }).waitFor();

  await dropConnection(page);
  // Two missed updates are still kept; five push the first missed ones out of the history.
  for (const i of [1, 2]) await publish(server.url, `/tickets/${KEPT}/updates`, { message: `kept ${i} (${tag})` });
  for (const i of [1, 2, 3, 4, 5]) await publish(server.url, `/tickets/${LOST}/updates`, { message: `lost ${i} (${tag})` });
  for (const i of [1, 2, 3, 4]) {
    await publish(server.url, `/users/${USER}/notifications`, { type: 'info', message: `lost note ${i} (${tag})` });
  }
  await backOnline(page);

  const notice = (kind, stream) => sel('stream-notice', `[data-kind="${kind}"][data-stream="${stream}"]`);
  await page.waitForSelector(notice('recovered', `ticket_${KEPT}`));
  await page.waitForSelector(notice('not_recovered', `ticket_${LOST}`));
  await page.waitForSelector(notice('not_recovered', `user_${USER}`));
  const texts = Object.fromEntries((await streamNotices(page)).map((n) => [n.stream, n.text]));
  assert.equal(texts[`ticket_${KEPT}`], `recovered 2 missed events in ticket_${KEPT}`);
  assert.equal(texts[`ticket_${LOST}`], `could not recover ticket_${LOST}: reloaded`);
  assert.equal(texts[`user_${USER}`], `could not recover user_${USER}: reloaded`);
  // Nothing was published to everyone, unless the demo feed's occasional announcement was.
  assert.ok(texts.broadcast === undefined || /^recovered \d+ missed events? in broadcast$/.test(texts.broadcast), texts.broadcast);

  // The kept ticket: its history plus both missed updates, once each.
  for (const m of [`${KEPT} seen`, `kept 1 (${tag})`, `kept 2 (${tag})`]) {
    assert.equal(await timeline(KEPT).filter({ hasText: m }).count(), 1, m);
  }
  // The lost ticket: its panel state was dropped (a marker says so), and none of the missed
  // updates is shown, since all or nothing is replayed.
  assert.equal(await timeline(LOST).count(), 0);
  assert.match(await page.textContent(sel('timeline-reload', `[data-ticket="${LOST}"]`)), /could not be recovered/);
  // The inbox starts over too.
  assert.equal(await page.locator(sel('inbox-item')).count(), 0);
  assert.equal(await page.textContent(sel('inbox-unread')), '0');

  // From the server's position on, everything is live again and nothing counts as a gap.
  await publish(server.url, `/tickets/${LOST}/updates`, { message: `after reload (${tag})` });
  await publish(server.url, `/users/${USER}/notifications`, { type: 'success', message: `note after reload (${tag})` });
  await timeline(LOST).filter({ hasText: `after reload (${tag})` }).waitFor();
  await page.locator(sel('inbox-item'), { hasText: `note after reload (${tag})` }).waitFor();
  assert.equal(await countWithText(page, 'inbox-item', 'lost note'), 0);
  assert.equal(await page.textContent(sel('stream-gaps')), '0');

  // And the next drop recovers from there.
  await dropConnection(page);
  await publish(server.url, `/tickets/${LOST}/updates`, { message: `second drop (${tag})` });
  await backOnline(page);
  await timeline(LOST).filter({ hasText: `second drop (${tag})` }).waitFor();
  await page.waitForSelector(notice('recovered', `ticket_${LOST}`));
  assert.equal(await timeline(LOST).count(), 2);
});

test('no script errors in the page', () => {
  const real = pageErrors.filter((e) => !/ERR_INTERNET_DISCONNECTED|socket\.io|WebSocket connection/i.test(e));
  assert.deepEqual(real, []);
});
