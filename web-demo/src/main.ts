// Switchyard operations dashboard: wires every panel to one Hub.

import './styles.css';
import { api, type DemoConfig } from './api';
import { byTestId } from './dom';
import { Hub } from './hub';
import { setupAnnouncements } from './panels/announce';
import { setupCluster } from './panels/cluster';
import { setupInbox } from './panels/inbox';
import { setupMeters } from './panels/meters';
import { setupPresence } from './panels/presence';
import { setupSession } from './panels/session';
import { setupTickets } from './panels/tickets';
import { EVENTS } from './wasm';

async function boot(): Promise<void> {
  const hub = new Hub(EVENTS);
  const config: DemoConfig = await api.config().catch(() => ({ feed: { meters: [], tickets: [] } }));
  setupSession(hub);
  setupPresence(hub);
  setupInbox(hub);
  setupTickets(hub, config.feed?.tickets ?? []);
  setupMeters(hub, config.feed?.meters ?? []);
  setupAnnouncements(hub);
  setupCluster(config);
  document.body.dataset.ready = 'true';
  // Handy for poking around from the console.
  (window as unknown as { switchyard: unknown }).switchyard = { hub, config };
}

boot().catch((e: unknown) => {
  const el = byTestId('boot-error');
  el.textContent = `The dashboard could not start: ${e instanceof Error ? e.message : String(e)}`;
  el.hidden = false;
  document.body.dataset.ready = 'error';
  console.error(e);
});
