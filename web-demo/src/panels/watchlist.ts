// Watch/unwatch rooms of one kind (tickets or meters): a form, quick buttons for the ids the
// demo feed uses, and chips for the watched rooms. Subscribe/unsubscribe are acknowledged;
// a refusal is shown with its code.

import { byTestId, clear, field, h } from '../dom';
import { AckRefusal, FormCtl } from '../forms';
import type { Hub } from '../hub';
import { checkRoomId, parseRoom, type MeterRoom, type RoomKind, type TicketRoom } from '../wasm';

export interface WatchListOpts {
  hub: Hub;
  kind: Extract<RoomKind, 'ticket' | 'meter'>;
  /** data-testid prefix: `ticket` / `meter`. */
  prefix: string;
  build: (id: string) => TicketRoom | MeterRoom;
  feed: string[];
  onPick?: (id: string) => void;
}

export function setupWatchList(o: WatchListOpts): { watch: (id: string) => Promise<void> } {
  const { hub, kind, prefix, build } = o;
  const form = byTestId<HTMLFormElement>(`${prefix}-watch-form`);
  const ctl = new FormCtl(form);
  const idField = field<HTMLInputElement>(form, `${kind}Id`);
  const chips = byTestId(`${prefix}-watchlist`);
  const feedBox = byTestId(`${prefix}-feed`);
  idField.placeholder = o.feed[0] ? `${kind} id to watch, e.g. ${o.feed[0]}` : `${kind} id to watch`;

  const subscribe = async (id: string) => {
    const { room, errors } = checkRoomId(build, id, `${kind}Id`);
    if (!room) return { errors };
    return {
      errors: [],
      send: async () => {
        const ack = await hub.watch(room);
        if (!ack.ok) throw new AckRefusal('subscribe', ack.error.code, ack.error.message);
        return h('span', {}, 'Watching ', h('code', {}, ack.room ?? room), '.');
      },
    };
  };

  ctl.onSubmit(() => subscribe(idField.value.trim()));

  if (o.feed.length) {
    feedBox.append(h('span', { class: 'muted small' }, 'Demo feed: '));
    for (const id of o.feed) {
      feedBox.append(
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-small btn-chip',
            'data-testid': `${prefix}-feed-btn`,
            'data-id': id,
            onclick: () => {
              idField.value = id;
              void ctl.run(() => subscribe(id));
            },
          },
          `+ ${id}`,
        ),
      );
    }
  }

  hub.onWatches((watches) => {
    clear(chips);
    for (const w of watches.values()) {
      let id: string;
      try {
        const r = parseRoom(w.room);
        if (r.kind !== kind) continue;
        id = r.id;
      } catch {
        continue;
      }
      const chip = h(
        'span',
        {
          class: `chip chip-${w.status}`,
          'data-testid': `${prefix}-chip`,
          'data-room': w.room,
          'data-id': id,
          'data-status': w.status,
          title: w.error ? `${w.error.code}: ${w.error.message}` : w.status,
        },
        h(
          'button',
          { type: 'button', class: 'chip-label', onclick: () => o.onPick?.(id) },
          id,
        ),
        w.error ? h('code', { class: 'chip-err' }, w.error.code) : null,
        h(
          'button',
          {
            type: 'button',
            class: 'chip-x',
            'aria-label': `Stop watching ${id}`,
            'data-testid': `${prefix}-unwatch`,
            onclick: async () => {
              ctl.clearErrors();
              const ack = await hub.unwatch(w.room);
              if (!ack.ok) ctl.showRefusal(new AckRefusal('unsubscribe', ack.error.code, ack.error.message));
              else ctl.setStatus('ok', `Stopped watching ${id}.`);
            },
          },
          '✕',
        ),
      );
      chips.append(chip);
    }
  });

  return {
    watch: async (id: string) => {
      await ctl.run(() => subscribe(id));
    },
  };
}
