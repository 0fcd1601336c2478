// Helpers for driving the dashboard in the recovery tests: selectors, sign-in, the demo API,
// and dropping a page's connection.

/** `[data-testid="id"]` plus an optional attribute selector. */
export const sel = (id, extra = '') => `[data-testid="${id}"]${extra}`;

/**
 * Opens the dashboard at `url` (plus `query`, e.g. `?tokenTtl=3`) and signs in as `userId` with
 * the default grants.
 */
export async function signIn(page, url, userId, { query = '' } = {}) {
  await page.goto(`${url}/${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill(sel('signin-user'), userId);
  await page.click(sel('signin-submit'));
  await page.waitForSelector(sel('conn-badge', '[data-state="connected"]'));
  await page.waitForSelector(sel('session-socket'), { state: 'visible' });
}

/** POSTs `body` to the demo's API proxy (`/demo/api/v1/…`, no key); throws unless 202. */
export async function publish(url, path, body) {
  const res = await fetch(`${url}/demo/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Watches a ticket from the page's watch form and waits for the acknowledged chip. */
export async function watchTicket(page, ticket) {
  await page.fill(sel('ticket-watch-id'), ticket);
  await page.click(sel('ticket-watch-submit'));
  await page.waitForSelector(sel('ticket-chip', `[data-id="${ticket}"][data-status="ok"]`));
}

/**
 * Takes the page off the network the way a lost mobile link does. `setOffline` fails every new
 * request but leaves an open WebSocket alone (microsoft/playwright#4910), so the page's current
 * transport is closed too; socket.io-client then keeps trying to reconnect, and fails, until
 * `backOnline`.
 */
export async function dropConnection(page) {
  await page.context().setOffline(true);
  await page.evaluate(() => window.switchyard.hub.socket.io.engine.close());
  await page.waitForSelector(sel('conn-badge', '[data-state="reconnecting"]'));
}

export async function backOnline(page) {
  await page.context().setOffline(false);
  // socket.io-client's next attempt comes within its backoff (the page caps it at 4 s).
  await page.waitForSelector(sel('conn-badge', '[data-state="connected"]'), { timeout: 20_000 });
}

/** The page's stream notices (recovered / not_recovered / gap), oldest first. */
export async function streamNotices(page) {
  const items = await page.$$eval(sel('stream-notice'), (els) =>
    els.map((e) => ({ kind: e.dataset.kind, stream: e.dataset.stream, text: e.textContent.replace(/^\S+ /, '') })),
  );
  return items.reverse();
}

/** How many elements match `testid` and contain `text`. */
export function countWithText(page, testid, text) {
  return page.locator(sel(testid), { hasText: text }).count();
}
