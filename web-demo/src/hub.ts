// The socket side of the page: one socket.io-client connection per signed-in user, the
// connection state, acknowledged subscribe/unsubscribe, and re-subscribing after a reconnect
// (the server forgets a socket's rooms when it goes away).

import { io, type Socket } from 'socket.io-client';
import type { Events, Room, SubscribeAck, Welcome } from './wasm';

export type ConnState = 'signed_out' | 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'disconnected';

/**
 * A refused subscribe/unsubscribe: the server's error, or one the hub reports itself
 * (`not_connected`, `timeout`, `bad_ack`).
 */
export type AckError = Extract<SubscribeAck, { ok: false }>['error'];

export type WatchStatus = 'pending' | 'ok' | 'error';

export interface Watch {
  room: string;
  status: WatchStatus;
  error?: AckError;
}

type Listener = (payload: unknown) => void;

const ACK_TIMEOUT_MS = 8000;

function normaliseAck(raw: unknown): SubscribeAck {
  // Some servers wrap the ack data in one more array level; accept both.
  const v = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (v && typeof v === 'object' && (v as { ok?: unknown }).ok === true) {
    return { ok: true, room: (v as { room: Room }).room };
  }
  const err = (v as { error?: Partial<AckError> } | null)?.error;
  return {
    ok: false,
    error: {
      code: typeof err?.code === 'string' ? err.code : 'bad_ack',
      message: typeof err?.message === 'string' ? err.message : `unexpected acknowledgement: ${JSON.stringify(v)}`,
    },
  };
}

export class Hub {
  socket: Socket | null = null;
  userId: string | null = null;
  grants: string[] = [];
  state: ConnState = 'signed_out';
  detail = '';
  /** The last `welcome` payload, as received (not checked, hence `Partial`). */
  welcome: Partial<Welcome> | null = null;

  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly stateHooks = new Set<(s: ConnState, detail: string) => void>();
  private readonly watchHooks = new Set<(w: Map<string, Watch>) => void>();
  private readonly connectHooks = new Set<() => void>();
  readonly watches = new Map<string, Watch>();

  constructor(readonly ev: Events) {}

  on(event: string, fn: Listener): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
  }

  onState(fn: (s: ConnState, detail: string) => void): void {
    this.stateHooks.add(fn);
  }

  onWatches(fn: (w: Map<string, Watch>) => void): void {
    this.watchHooks.add(fn);
  }

  /** Called after every successful (re)connection, after watched rooms were re-subscribed. */
  onConnect(fn: () => void): void {
    this.connectHooks.add(fn);
  }

  private setState(s: ConnState, detail = ''): void {
    this.state = s;
    this.detail = detail;
    for (const fn of this.stateHooks) fn(s, detail);
  }

  private dispatch(event: string, payload: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(payload);
      } catch (e) {
        console.error(`handler for ${event} failed`, e);
      }
    }
  }

  private changedWatches(): void {
    for (const fn of this.watchHooks) fn(this.watches);
  }

  connect(userId: string, token: string, grants: string[]): void {
    this.disconnect();
    this.userId = userId;
    this.grants = grants;
    this.welcome = null;
    this.setState('connecting');
    const socket = io({ auth: { token }, reconnectionDelayMax: 4000 });
    this.socket = socket;

    socket.on('connect', () => {
      if (this.socket !== socket) return;
      this.setState('connected');
      void this.resubscribe().then(() => {
        for (const fn of this.connectHooks) fn();
      });
    });
    socket.on('connect_error', (err: Error) => {
      if (this.socket !== socket) return;
      // The server refused the handshake (middleware error): socket.io-client does not retry.
      if (!socket.active) this.setState('refused', err.message || 'refused');
      else this.setState('reconnecting', err.message);
    });
    socket.on('disconnect', (reason: string) => {
      if (this.socket !== socket) return;
      for (const w of this.watches.values()) w.status = 'pending';
      this.changedWatches();
      if (socket.active) this.setState('reconnecting', reason);
      else this.setState('disconnected', reason);
    });
    socket.io.on('reconnect_attempt', (n: number) => {
      if (this.socket !== socket) return;
      this.setState('reconnecting', `attempt ${n}`);
    });
    socket.onAny((event: string, payload: unknown) => {
      if (this.socket !== socket) return;
      if (event === this.ev.WELCOME) this.welcome = (payload ?? {}) as Partial<Welcome>;
      this.dispatch(event, payload);
    });
  }

  /** Try again after a refusal or a server-side disconnect, with the same token. */
  retry(): void {
    if (!this.socket) return;
    this.setState('connecting');
    this.socket.connect();
  }

  disconnect(): void {
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.removeAllListeners();
      s.offAny();
      s.io.removeAllListeners();
      s.disconnect();
    }
  }

  /** Log out: ask the server (ack), then drop the socket and every watch. */
  async logout(): Promise<void> {
    const s = this.socket;
    if (s?.connected) {
      try {
        await s.timeout(3000).emitWithAck(this.ev.LOGOUT);
      } catch {
        // the server disconnects us anyway; nothing to show
      }
    }
    this.disconnect();
    this.userId = null;
    this.welcome = null;
    this.watches.clear();
    this.changedWatches();
    this.setState('signed_out');
  }

  private async ack(event: string, room: string): Promise<SubscribeAck> {
    const s = this.socket;
    if (!s || !s.connected) {
      return { ok: false, error: { code: 'not_connected', message: 'not connected to the server' } };
    }
    try {
      const raw: unknown = await s.timeout(ACK_TIMEOUT_MS).emitWithAck(event, { room });
      return normaliseAck(raw);
    } catch {
      return { ok: false, error: { code: 'timeout', message: `no acknowledgement within ${ACK_TIMEOUT_MS / 1000} s` } };
    }
  }

  /** Subscribe and remember the room so that it is subscribed again after a reconnect. */
  async watch(room: string): Promise<SubscribeAck> {
    const existing = this.watches.get(room);
    this.watches.set(room, { room, status: 'pending' });
    this.changedWatches();
    const ack = await this.ack(this.ev.SUBSCRIBE, room);
    if (ack.ok) {
      this.watches.set(room, { room, status: 'ok' });
    } else if (existing?.status === 'ok' && ack.error.code === 'not_connected') {
      this.watches.set(room, existing);
    } else {
      this.watches.delete(room);
    }
    this.changedWatches();
    return ack;
  }

  async unwatch(room: string): Promise<SubscribeAck> {
    const ack = await this.ack(this.ev.UNSUBSCRIBE, room);
    if (ack.ok || ack.error.code === 'not_connected') this.watches.delete(room);
    this.changedWatches();
    return ack;
  }

  private async resubscribe(): Promise<void> {
    await Promise.all(
      [...this.watches.keys()].map(async (room) => {
        const ack = await this.ack(this.ev.SUBSCRIBE, room);
        this.watches.set(room, ack.ok ? { room, status: 'ok' } : { room, status: 'error', error: ack.error });
      }),
    );
    this.changedWatches();
  }
}
