// Cluster: the live nodes (GET /demo/api/v1/nodes: id, sockets, last heartbeat), which one serves
// this page, and whether it can use Redis (/readyz). Polled, not pushed: the point is to watch a
// node die, and a dead node sends nothing; it leaves the list once the survivors reap it after
// --presence-ttl. Works without signing in.

import { api, ApiError, type DemoConfig, type NodeList } from '../api';
import { byTestId, clear, clock, h } from '../dom';

/** How often the panel asks (the brief: every 1–2 s, cheap for the server). */
const POLL_MS = 1500;

export function setupCluster(config: DemoConfig): void {
  const count = byTestId('cluster-count');
  const unit = byTestId('cluster-unit');
  const store = byTestId('cluster-store');
  const note = byTestId('cluster-note');
  const list = byTestId('cluster-nodes');
  const log = byTestId('cluster-log');
  const cluster = config.store === 'redis';
  /** Node ids of the last answer; null before the first, so start-up logs no "joined". */
  let known: Set<string> | null = null;

  const logLine = (text: string) => {
    log.prepend(h('li', {}, `${clock(new Date())} ${text}`));
    while (log.children.length > 8) log.lastElementChild?.remove();
  };

  const render = ({ nodes }: NodeList) => {
    clear(list);
    const sorted = [...nodes].sort((a, b) => a.id.localeCompare(b.id));
    for (const n of sorted) {
      const mine = n.id === config.node;
      list.append(
        h(
          'li',
          { 'data-testid': 'cluster-node', 'data-node': n.id, 'data-sockets': n.sockets, class: mine ? 'me' : '' },
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('span', { class: 'name mono' }, n.id),
          mine ? h('span', { class: 'muted small' }, ' (this page)') : null,
          h(
            'span',
            { class: 'muted small right sockets', title: `last heartbeat ${clock(n.seenAt)}` },
            `${n.sockets} socket${n.sockets === 1 ? '' : 's'} · ${clock(n.seenAt)}`,
          ),
        ),
      );
    }
    count.textContent = String(nodes.length);
    unit.textContent = nodes.length === 1 ? ' node' : ' nodes';
    const ids = new Set(nodes.map((n) => n.id));
    if (known) {
      for (const id of ids) if (!known.has(id)) logLine(`node ${id} joined`);
      for (const id of known) if (!ids.has(id)) logLine(`node ${id} left`);
    }
    known = ids;
  };

  const setStore = (state: string, text: string) => {
    store.dataset.state = state;
    store.textContent = text;
  };

  const poll = async () => {
    const ready = cluster ? await api.ready() : 'ok';
    if (!cluster) setStore('memory', 'in memory');
    else if (ready === 'ok') setStore('redis_ok', 'Redis ok');
    else setStore('redis_down', `Redis ${ready}`);
    try {
      render(await api.nodes());
      note.textContent = cluster ? '' : 'one node, no Redis';
    } catch (e) {
      // During a Redis outage the list cannot be read; keep the last one and say so.
      note.textContent = `node list: ${e instanceof ApiError ? e.code : String(e)}`;
    }
  };

  const loop = async () => {
    await poll();
    setTimeout(() => void loop(), POLL_MS);
  };
  void loop();
}
