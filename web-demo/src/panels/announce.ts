// Announcements (to everyone) as a banner, a form to send one, and the shutdown banner.

import { api } from '../api';
import { addOptions, byTestId, clock, field, h } from '../dom';
import { FormCtl, jsonField, optText } from '../forms';
import type { Hub } from '../hub';
import {
  ANNOUNCEMENT_TYPES,
  validateAnnouncement,
  type Announcement,
  type AnnouncementInput,
  type BroadcastStream,
  type Draft,
  type SystemShutdown,
} from '../wasm';

/** The stream of everything sent to everyone, announcements included. */
const BROADCAST: BroadcastStream = 'broadcast';

export function setupAnnouncements(hub: Hub): void {
  const banner = byTestId('announcement-banner');

  hub.on(hub.ev.ANNOUNCEMENT, (p) => {
    const a = (p ?? {}) as Partial<Announcement>;
    const type = a.type ?? 'info';
    const item = h(
      'div',
      { class: `banner banner-${type}`, 'data-testid': 'announcement-item', 'data-id': a.id ?? '', 'data-type': type, role: 'status' },
      h('span', { class: `pill pill-${type}` }, type),
      h('span', { class: 'banner-msg', 'data-testid': 'announcement-message' }, a.message ?? ''),
      h(
        'span',
        { class: 'banner-meta' },
        a.scheduledTime ? `scheduled ${a.scheduledTime} · ` : '',
        `sent ${clock(a.createdAt)}`,
      ),
      h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': 'Dismiss', 'data-testid': 'announcement-dismiss' }, '✕'),
    );
    item.querySelector('button')!.addEventListener('click', () => {
      item.remove();
      banner.hidden = banner.children.length === 0;
    });
    banner.prepend(item);
    while (banner.children.length > 3) banner.lastElementChild?.remove();
    banner.hidden = false;
  });

  // Announcements sent while away could not be replayed: the banners start over.
  hub.onReload((stream) => {
    if (stream !== BROADCAST) return;
    banner.replaceChildren();
    banner.hidden = true;
  });

  const shutdown = byTestId('shutdown-banner');
  hub.on(hub.ev.SYSTEM_SHUTDOWN, (p) => {
    const at = (p as Partial<SystemShutdown> | null)?.at;
    shutdown.textContent = `The server is shutting down${at ? ` (${at})` : ''}. The dashboard reconnects when it is back.`;
    shutdown.hidden = false;
  });
  hub.onConnect(() => {
    shutdown.hidden = true;
  });

  const form = byTestId<HTMLFormElement>('announce-form');
  addOptions(field<HTMLSelectElement>(form, 'type'), ANNOUNCEMENT_TYPES);
  new FormCtl(form).onSubmit(() => {
    const data = jsonField(field<HTMLTextAreaElement>(form, 'data').value, 'data');
    const input: Draft<AnnouncementInput> = {
      type: field<HTMLSelectElement>(form, 'type').value,
      message: field<HTMLTextAreaElement>(form, 'message').value,
    };
    const scheduled = optText(field<HTMLInputElement>(form, 'scheduledTime').value.trim());
    if (scheduled !== undefined) input.scheduledTime = scheduled;
    if (data.value !== undefined) input.data = data.value;
    const v = validateAnnouncement(input as AnnouncementInput, new Date());
    return {
      errors: [...data.errors, ...(v.ok ? [] : v.errors)],
      send: async () => {
        const res = await api.announce(input);
        for (const name of ['message', 'data', 'scheduledTime']) field<HTMLInputElement>(form, name).value = '';
        return h('span', {}, 'Announced ', h('code', {}, res.id), '.');
      },
    };
  });
}
