// Who is online: seeded from the snapshot in the system_presence subscribe ack (`online`,
// `count`, `truncated`; from GET /demo/api/v1/sockets when the server sends none), then kept
// live by user_online / user_offline on that room.

import { api } from '../api';
import { byTestId, clear, clock, h } from '../dom';
import type { Hub } from '../hub';
import { systemRoom, type PresenceEvent } from '../wasm';

interface Entry {
  since?: string;
}

export function setupPresence(hub: Hub): void {
  const list = byTestId('presence-list');
  const count = byTestId('presence-count');
  const note = byTestId('presence-note');
  const log = byTestId('presence-log');
  const online = new Map<string, Entry>();
  const room = systemRoom('presence');
  let seeding: { kind: 'on' | 'off'; userId: string; at?: string }[] | null = null;
  /** The connection whose presence ack carried a snapshot (see `Hub.connection`). */
  let snapshotOf = -1;
  /** How many are online when the snapshot lists only some (`truncated`). */
  let truncatedCount: number | null = null;

  const render = () => {
    clear(list);
    const ids = [...online.keys()].sort((a, b) => a.localeCompare(b));
    for (const id of ids) {
      const e = online.get(id)!;
      list.append(
        h(
          'li',
          { 'data-testid': 'presence-user', 'data-user': id, class: id === hub.userId ? 'me' : '' },
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('span', { class: 'name' }, id),
          id === hub.userId ? h('span', { class: 'muted small' }, ' (you)') : null,
          e.since ? h('span', { class: 'muted small right' }, `since ${clock(e.since)}`) : null,
        ),
      );
    }
    count.textContent = truncatedCount === null ? String(ids.length) : `${ids.length}+`;
    // Offer the online users in the "to user" / "assign to" inputs.
    document.getElementById('online-users')?.replaceChildren(...ids.map((id) => h('option', { value: id })));
  };

  const logLine = (text: string) => {
    log.prepend(h('li', {}, text));
    while (log.children.length > 8) log.lastElementChild?.remove();
  };

  const apply = (kind: 'on' | 'off', userId: string, at?: string) => {
    if (kind === 'on') online.set(userId, { since: at });
    else online.delete(userId);
  };

  hub.on(hub.ev.USER_ONLINE, (p) => {
    const { userId, at } = (p ?? {}) as Partial<PresenceEvent>;
    if (!userId) return;
    seeding?.push({ kind: 'on', userId, at });
    apply('on', userId, at);
    logLine(`${clock(at)} ${userId} came online`);
    render();
  });
  hub.on(hub.ev.USER_OFFLINE, (p) => {
    const { userId, at } = (p ?? {}) as Partial<PresenceEvent>;
    if (!userId) return;
    seeding?.push({ kind: 'off', userId, at });
    apply('off', userId, at);
    logLine(`${clock(at)} ${userId} went offline`);
    render();
  });

  // The ack of every subscribe to system_presence (a first watch or a re-subscribe after a
  // reconnect) replaces the list; users still online keep their "since".
  hub.onSubscribed((subscribed, ack) => {
    if (subscribed !== room || !ack.online) return;
    const before = new Map(online);
    online.clear();
    for (const id of ack.online) online.set(id, before.get(id) ?? {});
    truncatedCount = ack.truncated ? (ack.count ?? null) : null;
    snapshotOf = hub.connection;
    render();
  });

  hub.onConnect(async () => {
    if (!hub.watches.has(room)) {
      const ack = await hub.watch(room);
      if (!ack.ok) {
        note.hidden = false;
        clear(note);
        note.append(
          'Cannot follow presence: ',
          h('code', { 'data-testid': 'presence-error' }, ack.error.code),
          ` — ${ack.error.message}`,
        );
        return;
      }
    } else if (hub.watches.get(room)?.status !== 'ok') {
      const w = hub.watches.get(room);
      note.hidden = false;
      note.textContent = `Cannot follow presence: ${w?.error?.code ?? 'error'} — ${w?.error?.message ?? ''}`;
      return;
    }
    note.hidden = truncatedCount === null;
    if (truncatedCount !== null) note.textContent = `Showing the first ${online.size} of ${truncatedCount} users online.`;
    if (snapshotOf === hub.connection) {
      render();
      return;
    }
    // No snapshot (a server without one): seed from the socket list; events that arrive
    // meanwhile are re-applied on top of it.
    seeding = [];
    try {
      const { sockets } = await api.sockets();
      online.clear();
      for (const s of sockets) if (!online.has(s.userId)) online.set(s.userId, {});
      for (const e of seeding) apply(e.kind, e.userId, e.at);
    } catch (e) {
      note.hidden = false;
      note.textContent = `Could not load the socket list: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      seeding = null;
    }
    render();
  });

  hub.onState((s) => {
    if (s === 'signed_out') {
      online.clear();
      truncatedCount = null;
      clear(log);
      note.hidden = false;
      note.textContent = 'Sign in to follow system_presence.';
      render();
    }
  });
}
