// Tickets: watch list, live timeline of ticket_updated, and a form posting an update through
// POST /demo/api/v1/tickets/{ticketId}/updates.

import { api } from '../api';
import { addOptions, byTestId, clock, field, h, pretty, valueLabel } from '../dom';
import { FormCtl, jsonField } from '../forms';
import type { Hub } from '../hub';
import {
  TICKET_PRIORITIES,
  TICKET_STATUSES,
  checkRoomId,
  ticketRoom,
  validateTicketUpdate,
  type Draft,
  type TicketUpdate,
  type TicketUpdateInput,
} from '../wasm';
import { setupWatchList } from './watchlist';

const MAX_ITEMS = 200;

export function setupTickets(hub: Hub, feed: string[]): void {
  const form = byTestId<HTMLFormElement>('ticket-form');
  const idInput = field<HTMLInputElement>(form, 'ticketId');
  addOptions(field<HTMLSelectElement>(form, 'status'), TICKET_STATUSES);
  addOptions(field<HTMLSelectElement>(form, 'priority'), TICKET_PRIORITIES);
  if (feed[0]) idInput.value = feed[0];

  setupWatchList({
    hub,
    kind: 'ticket',
    prefix: 'ticket',
    build: ticketRoom,
    feed,
    onPick: (id) => {
      idInput.value = id;
      idInput.focus();
    },
  });

  const timeline = byTestId('ticket-timeline');
  const empty = byTestId('ticket-timeline-empty');
  const count = byTestId('timeline-count');
  let n = 0;

  hub.on(hub.ev.TICKET_UPDATED, (p) => {
    const u = (p ?? {}) as Partial<TicketUpdate>;
    const changes: (Node | string)[] = [];
    if (u.status !== undefined) changes.push(h('span', { class: `pill pill-status-${u.status}` }, valueLabel(String(u.status))));
    if (u.priority !== undefined) changes.push(h('span', { class: `pill pill-prio-${u.priority}` }, `${u.priority} priority`));
    if (u.assignedTo !== undefined)
      changes.push(h('span', { class: 'pill' }, u.assignedTo === null ? 'unassigned' : `→ ${u.assignedTo}`));
    timeline.prepend(
      h(
        'li',
        { 'data-testid': 'timeline-item', 'data-ticket': u.ticketId ?? '' },
        h(
          'div',
          { class: 'tl-head' },
          h(
            'button',
            {
              type: 'button',
              class: 'tag tag-btn',
              title: 'Post an update to this ticket',
              onclick: () => {
                idInput.value = u.ticketId ?? '';
                (form.closest('details') as HTMLDetailsElement | null)?.setAttribute('open', '');
              },
            },
            u.ticketId ?? '?',
          ),
          ...changes,
          h('time', { class: 'right muted small', datetime: u.updatedAt ?? '', title: u.updatedAt ?? '' }, clock(u.updatedAt)),
        ),
        u.message ? h('div', { class: 'tl-msg', 'data-testid': 'timeline-message' }, u.message) : null,
        u.data !== undefined && u.data !== null ? h('code', { class: 'note-data' }, pretty(u.data)) : null,
      ),
    );
    while (timeline.children.length > MAX_ITEMS) timeline.lastElementChild?.remove();
    empty.hidden = true;
    count.textContent = String(++n);
  });

  // A ticket's missed updates could not be replayed: what the timeline shows for it may have
  // holes, so it starts over from the server's position (with a marker saying so).
  hub.onRoomReload('ticket', (id, stream) => {
    for (const li of timeline.querySelectorAll<HTMLElement>('li[data-ticket]')) if (li.dataset.ticket === id) li.remove();
    timeline.prepend(
      h(
        'li',
        { class: 'tl-reload muted small', 'data-testid': 'timeline-reload', 'data-ticket': id },
        `${clock(Date.now())} ${stream}: missed updates could not be recovered; reloaded from here`,
      ),
    );
    empty.hidden = true;
  });

  new FormCtl(form).onSubmit(() => {
    const ticketId = idInput.value.trim();
    const room = checkRoomId(ticketRoom, ticketId, 'ticketId');
    const input: Draft<TicketUpdateInput> = {};
    const status = field<HTMLSelectElement>(form, 'status').value;
    const priority = field<HTMLSelectElement>(form, 'priority').value;
    const assignee = field<HTMLInputElement>(form, 'assignedTo').value.trim();
    const unassign = field<HTMLInputElement>(form, 'unassign').checked;
    const message = field<HTMLTextAreaElement>(form, 'message').value;
    const data = jsonField(field<HTMLTextAreaElement>(form, 'data').value, 'data');
    if (status) input.status = status;
    if (priority) input.priority = priority;
    if (unassign) input.assignedTo = null;
    else if (assignee) input.assignedTo = assignee;
    if (message !== '') input.message = message;
    if (data.value !== undefined) input.data = data.value;
    const v = validateTicketUpdate(input as TicketUpdateInput);
    return {
      errors: [...room.errors, ...data.errors, ...(v.ok ? [] : v.errors)],
      send: async () => {
        const res = await api.ticketUpdate(ticketId, input);
        for (const name of ['message', 'data']) field<HTMLTextAreaElement>(form, name).value = '';
        return h('span', {}, 'Posted to ', h('code', {}, ticketId), ' (delivery ', h('code', {}, res.id), ').');
      },
    };
  });
}
