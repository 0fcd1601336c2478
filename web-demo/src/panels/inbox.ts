// Notifications to the signed-in user (room user_<id>): inbox + toasts, and a form that sends
// a notification to any user through POST /demo/api/v1/users/{userId}/notifications.

import { api } from '../api';
import { addOptions, byTestId, clock, field, h, pretty } from '../dom';
import { FormCtl, jsonField } from '../forms';
import type { Hub } from '../hub';
import {
  NOTIFICATION_TYPES,
  checkRoomId,
  userRoom,
  validateNotification,
  type Draft,
  type Notification,
  type NotificationInput,
} from '../wasm';

export function toast(kind: string, title: string, body: string): void {
  const box = byTestId('toasts');
  const el = h(
    'div',
    { class: `toast toast-${kind}`, 'data-testid': 'toast', role: 'status' },
    h('strong', {}, title),
    h('div', { class: 'toast-body' }, body),
  );
  el.addEventListener('click', () => el.remove());
  box.append(el);
  while (box.children.length > 4) box.firstElementChild?.remove();
  setTimeout(() => el.remove(), 7000);
}

export function setupInbox(hub: Hub): void {
  const inbox = byTestId('inbox');
  const empty = byTestId('inbox-empty');
  const unreadEl = byTestId('inbox-unread');
  let unread = 0;
  const setUnread = (n: number) => {
    unread = n;
    unreadEl.textContent = String(n);
    unreadEl.dataset.zero = n === 0 ? 'true' : 'false';
  };
  setUnread(0);

  byTestId('inbox-mark-read').addEventListener('click', () => {
    for (const li of inbox.querySelectorAll('.unread')) li.classList.remove('unread');
    setUnread(0);
  });

  hub.on(hub.ev.NOTIFICATION, (p) => {
    const n = (p ?? {}) as Partial<Notification>;
    const type = n.type ?? 'info';
    inbox.prepend(
      h(
        'li',
        { class: `note note-${type} unread`, 'data-testid': 'inbox-item', 'data-id': n.id ?? '', 'data-type': type },
        h(
          'div',
          { class: 'note-head' },
          h('span', { class: `pill pill-${type}` }, type),
          h('time', { datetime: n.createdAt ?? '', title: n.createdAt ?? '' }, clock(n.createdAt)),
        ),
        h('div', { class: 'note-msg', 'data-testid': 'inbox-message' }, n.message ?? ''),
        n.data !== undefined && n.data !== null ? h('code', { class: 'note-data' }, pretty(n.data)) : null,
      ),
    );
    while (inbox.children.length > 100) inbox.lastElementChild?.remove();
    empty.hidden = true;
    setUnread(unread + 1);
    toast(type, `Notification · ${type}`, n.message ?? '');
  });

  const reset = () => {
    inbox.replaceChildren();
    empty.hidden = false;
    setUnread(0);
  };
  hub.onState((s) => {
    if (s === 'signed_out') reset();
  });
  // The offline inbox could not be replayed (e.g. the server restarted): the list may have
  // holes, so it starts over empty (the demo has no backend to reload notifications from).
  hub.onReload((stream) => {
    if (hub.userId !== null && stream === userRoom(hub.userId)) reset();
  });

  const form = byTestId<HTMLFormElement>('notify-form');
  addOptions(field<HTMLSelectElement>(form, 'type'), NOTIFICATION_TYPES);
  new FormCtl(form).onSubmit(() => {
    const to = field<HTMLInputElement>(form, 'userId').value.trim();
    const room = checkRoomId(userRoom, to, 'userId');
    const data = jsonField(field<HTMLTextAreaElement>(form, 'data').value, 'data');
    const input: Draft<NotificationInput> = {
      type: field<HTMLSelectElement>(form, 'type').value,
      message: field<HTMLTextAreaElement>(form, 'message').value,
    };
    if (data.value !== undefined) input.data = data.value;
    const v = validateNotification(input as NotificationInput);
    const errors = [...room.errors, ...data.errors, ...(v.ok ? [] : v.errors)];
    return {
      errors,
      send: async () => {
        const res = await api.notify(to, input);
        field<HTMLTextAreaElement>(form, 'message').value = '';
        field<HTMLTextAreaElement>(form, 'data').value = '';
        return h(
          'span',
          {},
          'Sent ',
          h('code', {}, res.id),
          ` — ${to} is ${res.online ? 'online' : 'offline (kept for delivery only while online)'}.`,
        );
      },
    };
  });
}
