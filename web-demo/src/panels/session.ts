// Sign in (token from POST /demo/token), the connection badge and the session details.

import { api } from '../api';
import { byTestId, clock, field, h, clear } from '../dom';
import { FormCtl, type FormError } from '../forms';
import type { ConnState, Hub, StreamNotice } from '../hub';
import { toast } from './inbox';
import { checkRoomId, errorCode, errorMessage, parseRoom, userRoom, type Welcome } from '../wasm';

const BADGE_TEXT: Record<ConnState, string> = {
  signed_out: 'signed out',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  refused: 'refused',
  disconnected: 'disconnected',
  expired: 'session expired',
};

/**
 * `?tokenTtl=<seconds>` in the page's address asks for short-lived tokens (1 to 43200 s; the
 * server's default is 12 h), to watch the page refresh its token before it expires.
 */
function tokenTtl(): number | undefined {
  const raw = new URLSearchParams(location.search).get('tokenTtl');
  if (raw === null) return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 43200 ? n : undefined;
}

/** Split the free-text pattern list; exact rooms are checked by the wasm `parseRoom`. */
function patternsFrom(text: string): { patterns: string[]; errors: FormError[] } {
  const patterns = text.split(/[\s,]+/).filter(Boolean);
  const errors: FormError[] = [];
  for (const p of patterns) {
    // A prefix pattern (`…*`) is a grant, not a room: the server checks it when issuing the token.
    if (p.endsWith('*')) continue;
    try {
      parseRoom(p);
    } catch (e) {
      errors.push({ path: 'rooms', code: errorCode(e, 'invalid_room'), message: `${p}: ${errorMessage(e)}` });
    }
  }
  return { patterns, errors };
}

export function setupSession(hub: Hub): void {
  const form = byTestId<HTMLFormElement>('signin-form');
  const info = byTestId('session-info');
  const badge = byTestId('conn-badge');
  const who = byTestId('current-user');
  const signout = byTestId<HTMLButtonElement>('signout');
  const retry = byTestId<HTMLButtonElement>('reconnect');
  const userInput = field<HTMLInputElement>(form, 'userId');
  userInput.value = `tech-${Math.floor(1000 + Math.random() * 9000)}`;

  new FormCtl(form).onSubmit(() => {
    const userId = userInput.value.trim();
    const { errors } = checkRoomId(userRoom, userId, 'userId');
    const grants = [...form.querySelectorAll<HTMLInputElement>('input[name=grant]:checked')].map((c) => c.value);
    const extra = patternsFrom(field<HTMLInputElement>(form, 'rooms').value);
    errors.push(...extra.errors);
    const rooms = [...new Set([...grants, ...extra.patterns])];
    return {
      errors,
      send: async () => {
        const ttl = tokenTtl();
        const renew = () => api.token(userId, rooms, ttl);
        hub.connect(userId, await renew(), rooms, renew);
        return `Token issued for ${userId}; connecting…`;
      },
    };
  });

  signout.addEventListener('click', () => void hub.logout());
  retry.addEventListener('click', () => void hub.retry());

  hub.onState((state, detail) => {
    badge.dataset.state = state;
    const base = BADGE_TEXT[state];
    badge.textContent =
      state === 'refused' || state === 'disconnected' || state === 'expired'
        ? `${base}: ${detail}`
        : state === 'reconnecting' && detail
          ? `${base} (${detail})`
          : base;
    badge.title = detail;
    const signedIn = state !== 'signed_out';
    form.hidden = signedIn;
    info.hidden = !signedIn;
    signout.hidden = !signedIn;
    who.hidden = !signedIn;
    who.textContent = hub.userId ?? '';
    retry.hidden = !(state === 'refused' || state === 'disconnected' || state === 'expired');
    if (state === 'expired') toast('warning', 'Session expired', detail);
    if (signedIn) {
      byTestId('session-user').textContent = hub.userId ?? '';
      const grants = byTestId('session-grants');
      clear(grants);
      if (hub.grants.length === 0) grants.textContent = 'none';
      for (const g of hub.grants) grants.append(h('code', { class: 'tag' }, g), ' ');
    }
    if (state !== 'connected') byTestId('session-socket').textContent = '—';
  });

  // The token: when it expires, how often it was refreshed, and a refused refresh.
  hub.onToken((t) => {
    const exp = byTestId('session-exp');
    exp.textContent = t ? `${t.exp} (${clock(t.exp)} local)` : '—';
    exp.dataset.exp = t?.exp ?? '';
    const refreshes = byTestId('session-refreshes');
    refreshes.textContent = t ? String(t.refreshes) + (t.left.length ? ` · left ${t.left.join(', ')}` : '') : '0';
    refreshes.dataset.count = String(t?.refreshes ?? 0);
    const error = byTestId('session-refresh-error');
    error.textContent = t?.error ?? '';
    error.hidden = !t?.error;
  });

  hub.on(hub.ev.WELCOME, (p) => {
    const w = (p ?? {}) as Partial<Welcome>;
    byTestId('session-socket').textContent = w.socketId ?? '—';
    const rooms = byTestId('session-rooms');
    clear(rooms);
    for (const r of w.rooms ?? []) rooms.append(h('code', { class: 'tag' }, r), ' ');
    byTestId('session-time').textContent = w.serverTime ? `${w.serverTime} (${clock(w.serverTime)} local)` : '—';
    const streams = byTestId('session-streams');
    clear(streams);
    const entries = Object.entries(w.streams ?? {});
    if (entries.length === 0) streams.textContent = '—';
    for (const [name, st] of entries) {
      if (typeof st !== 'object' || st === null) continue;
      const recovered = st.recovered === undefined ? '' : st.recovered ? ' recovered' : ' not recovered';
      streams.append(h('code', { class: 'tag', title: `epoch ${st.epoch}` }, `${name} @ ${st.offset}${recovered}`), ' ');
    }
  });

  // What the tracker made of the streams: totals, and a line (and a toast) per recovery or gap.
  const log = byTestId('stream-log');
  const say = (n: StreamNotice) => {
    const text = noticeText(n);
    log.prepend(h('li', { 'data-testid': 'stream-notice', 'data-kind': n.kind, 'data-stream': n.stream }, `${clock(Date.now())} ${text}`));
    while (log.children.length > 8) log.lastElementChild?.remove();
    if (n.kind !== 'gap') toast(n.kind === 'recovered' ? 'success' : 'warning', 'Reconnected', text);
  };
  hub.onStreamNotice((n, stats) => {
    byTestId('stream-recovered').textContent = String(stats.recovered);
    byTestId('stream-duplicates').textContent = String(stats.duplicates);
    byTestId('stream-gaps').textContent = String(stats.gaps);
    if (n) say(n);
    else if (stats.recovered + stats.duplicates + stats.gaps === 0) clear(log);
  });
}

function noticeText(n: StreamNotice): string {
  switch (n.kind) {
    case 'recovered':
      return `recovered ${n.count} missed event${n.count === 1 ? '' : 's'} in ${n.stream}`;
    case 'not_recovered':
      return `could not recover ${n.stream}: reloaded`;
    case 'gap':
      return `gap in ${n.stream}: events before offset ${n.offset} were missed`;
  }
}
