// The socket side of the page: one socket.io-client connection per signed-in user, the
// connection state, acknowledged subscribe/unsubscribe, re-subscribing after a reconnect (the
// server forgets a socket's rooms when it goes away), and recovering what was missed while
// away (contract section 8): one StreamTracker for the session drops the duplicates a replay
// can overlap with, counts gaps, and gives the positions to reconnect from.
//
// Against a server without streams (no meta, plain acks, no welcome.streams) the tracker never
// learns a position, so no `since` is ever sent and the page behaves as before.
//
// Token lifetime (contract section 10): the server disconnects a socket when its token's `exp`
// passes, after `session_expired`. The hub asks for a new token when 80% of the current one's
// life has gone, sends it with `refresh`, and keeps it for the handshakes of later reconnects.

import { io, type Socket } from 'socket.io-client';
import {
  StreamTracker,
  parseRoom,
  errorMessage,
  type Accepted,
  type AckRefusal,
  type Events,
  type RefreshAck,
  type Room,
  type RoomKind,
  type Since,
  type StreamName,
  type StreamPosition,
  type Welcome,
} from './wasm';

export type ConnState = 'signed_out' | 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'disconnected' | 'expired';

/** A token and its expiry (RFC 3339), as `POST /demo/token` answers. */
export interface IssuedToken {
  token: string;
  exp: string;
}

/** Where the session's token stands, for the session panel. */
export interface TokenStatus {
  /** The current token's expiry (RFC 3339). */
  exp: string;
  /** Accepted refreshes so far. */
  refreshes: number;
  /** The last refresh's refusal or failure, cleared by the next success. */
  error?: string;
  /** Rooms the last refresh left (the new token no longer grants them). */
  left: string[];
}

/** Of a token's remaining life, how much may pass before it is refreshed. */
const REFRESH_AT = 0.8;

/**
 * A refused subscribe/unsubscribe: the server's error, or one the hub reports itself
 * (`not_connected`, `timeout`, `bad_ack`).
 */
export type AckError = AckRefusal['error'];

/**
 * A subscribe/unsubscribe acknowledgement as received: the position fields and the presence
 * snapshot are optional because a server without streams (and `unsubscribe`) sends neither.
 */
export type HubAck =
  | {
      ok: true;
      room: Room;
      epoch?: string;
      offset?: number;
      recovered?: boolean;
      online?: string[];
      count?: number;
      truncated?: true;
    }
  | AckRefusal;

export type WatchStatus = 'pending' | 'ok' | 'error';

export interface Watch {
  room: string;
  status: WatchStatus;
  error?: AckError;
}

/** What the page tells the user about a stream: the outcome of a recovery, or a gap. */
export type StreamNotice =
  | { kind: 'recovered'; stream: string; count: number }
  | { kind: 'not_recovered'; stream: string }
  | { kind: 'gap'; stream: string; offset: number };

/** Running totals of what the tracker made of stream events, for the session panel. */
export interface StreamStats {
  /** Missed events the server replayed after reconnects. */
  recovered: number;
  /** Events dropped because they were seen already. */
  duplicates: number;
  /** Events that came after missed ones that could not be replayed. */
  gaps: number;
}

type Listener = (payload: unknown) => void;

const ACK_TIMEOUT_MS = 8000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function normaliseAck(raw: unknown): HubAck {
  // Some servers wrap the ack data in one more array level; accept both.
  const v = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (isRecord(v) && v.ok === true) {
    const ack: HubAck = { ok: true, room: v.room as Room };
    // Only well-typed fields are kept: the tracker reads the position, the presence panel
    // the snapshot, and neither should meet a wrong type.
    if (typeof v.epoch === 'string') ack.epoch = v.epoch;
    if (typeof v.offset === 'number') ack.offset = v.offset;
    if (typeof v.recovered === 'boolean') ack.recovered = v.recovered;
    if (Array.isArray(v.online)) ack.online = v.online.filter((u): u is string => typeof u === 'string');
    if (typeof v.count === 'number') ack.count = v.count;
    if (v.truncated === true) ack.truncated = true;
    return ack;
  }
  const err = isRecord(v) && isRecord(v.error) ? v.error : undefined;
  return {
    ok: false,
    error: {
      code: typeof err?.code === 'string' ? err.code : 'bad_ack',
      message: typeof err?.message === 'string' ? err.message : `unexpected acknowledgement: ${JSON.stringify(v)}`,
    },
  };
}

/** `{ epoch, offset, recovered? }` from an ack or a welcome.streams entry, if it has one. */
function statusOf(v: unknown): { position: StreamPosition; recovered?: boolean } | null {
  if (!isRecord(v) || typeof v.epoch !== 'string' || typeof v.offset !== 'number') return null;
  const position = { epoch: v.epoch, offset: v.offset };
  return typeof v.recovered === 'boolean' ? { position, recovered: v.recovered } : { position };
}

export class Hub {
  socket: Socket | null = null;
  userId: string | null = null;
  grants: string[] = [];
  state: ConnState = 'signed_out';
  detail = '';
  /** The last `welcome` payload, as received (not checked, hence `Partial`). */
  welcome: Partial<Welcome> | null = null;
  /** Counts every successful connect, so a panel can tell this connection's acks from older ones. */
  connection = 0;
  readonly stats: StreamStats = { recovered: 0, duplicates: 0, gaps: 0 };

  /** The session's stream positions: created at sign-in, kept across every reconnect. */
  private tracker: StreamTracker | null = null;
  /** What the current handshake sent as `auth.since`, to count what `welcome` recovered. */
  private handshakeSince: Since = {};

  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly stateHooks = new Set<(s: ConnState, detail: string) => void>();
  private readonly watchHooks = new Set<(w: Map<string, Watch>) => void>();
  private readonly connectHooks = new Set<() => void>();
  private readonly subscribedHooks = new Set<(room: string, ack: Extract<HubAck, { ok: true }>) => void>();
  private readonly noticeHooks = new Set<(n: StreamNotice | null, stats: StreamStats) => void>();
  private readonly reloadHooks = new Set<(stream: string) => void>();
  readonly watches = new Map<string, Watch>();

  /** The token every handshake sends: the latest one a refresh was accepted with. */
  private token = '';
  private renew: (() => Promise<IssuedToken>) | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  tokenStatus: TokenStatus | null = null;
  private readonly tokenHooks = new Set<(t: TokenStatus | null) => void>();

  constructor(readonly ev: Events) {}

  /** The token's expiry changed, a refresh was accepted or refused. */
  onToken(fn: (t: TokenStatus | null) => void): void {
    this.tokenHooks.add(fn);
  }

  private changedToken(): void {
    for (const fn of this.tokenHooks) fn(this.tokenStatus);
  }

  /** Refresh when `REFRESH_AT` of the time left until `exp` has passed. */
  private scheduleRefresh(exp: string): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const left = Date.parse(exp) - Date.now();
    if (!this.renew || !Number.isFinite(left)) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(0, left * REFRESH_AT));
  }

  /**
   * Gets a new token and sends it with `refresh`. Accepted: it is the one later handshakes
   * send, and the next refresh is scheduled from its `exp`. Not connected: it is kept all the
   * same, so the reconnect uses it. Refused: the panel says why, and the session ends at the
   * old `exp` (the server tells `session_expired`).
   */
  async refresh(): Promise<RefreshAck | null> {
    const renew = this.renew;
    const status = this.tokenStatus;
    if (!renew || !status) return null;
    const fail = (error: string): null => {
      status.error = error;
      this.changedToken();
      return null;
    };
    let issued: IssuedToken;
    try {
      issued = await renew();
    } catch (e) {
      // Try again shortly: the token still has some life left.
      this.refreshTimer = setTimeout(() => void this.refresh(), 2000);
      return fail(`no new token: ${errorMessage(e)}`);
    }
    if (this.renew !== renew) return null; // signed out meanwhile
    const s = this.socket;
    if (!s || !s.connected) {
      this.token = issued.token;
      Object.assign(status, { exp: issued.exp, error: undefined, left: [] });
      this.changedToken();
      this.scheduleRefresh(issued.exp);
      return null;
    }
    let ack: RefreshAck;
    try {
      ack = (await s.timeout(ACK_TIMEOUT_MS).emitWithAck(this.ev.REFRESH, { token: issued.token })) as RefreshAck;
    } catch {
      this.refreshTimer = setTimeout(() => void this.refresh(), 2000);
      return fail(`no acknowledgement within ${ACK_TIMEOUT_MS / 1000} s`);
    }
    if (this.socket !== s) return null;
    if (!isRecord(ack) || ack.ok !== true) {
      const err: Record<string, unknown> = isRecord(ack) && isRecord(ack.error) ? ack.error : {};
      return fail(`refused: ${String(err.code ?? 'bad_ack')} ${String(err.message ?? '')}`.trim());
    }
    this.token = issued.token;
    status.refreshes += 1;
    Object.assign(status, { exp: ack.exp, error: undefined, left: Array.isArray(ack.left) ? ack.left : [] });
    // The server has left these rooms; watching them again would only be refused.
    for (const room of status.left) this.watches.delete(room);
    if (status.left.length) this.changedWatches();
    this.changedToken();
    this.scheduleRefresh(ack.exp);
    return ack;
  }

  private stopRefreshing(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

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

  /** Every accepted subscribe (a watch or a re-subscribe), with its ack (e.g. the presence snapshot). */
  onSubscribed(fn: (room: string, ack: Extract<HubAck, { ok: true }>) => void): void {
    this.subscribedHooks.add(fn);
  }

  /** A recovery's outcome or a gap, with the running totals (also called with no notice when a duplicate is dropped). */
  onStreamNotice(fn: (n: StreamNotice | null, stats: StreamStats) => void): void {
    this.noticeHooks.add(fn);
  }

  /**
   * A stream's missed events could not be recovered: the panel showing it drops what it has for
   * it and starts again from the server's position (the demo has no backend to refetch from).
   */
  onReload(fn: (stream: string) => void): void {
    this.reloadHooks.add(fn);
  }

  /** `onReload` for the rooms of one kind: `fn` gets the room's id and the room itself. */
  onRoomReload(kind: RoomKind, fn: (id: string, room: string) => void): void {
    this.onReload((stream) => {
      let room;
      try {
        room = parseRoom(stream);
      } catch {
        return; // `broadcast`, not a room
      }
      if (room.kind === kind) fn(room.id, stream);
    });
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

  private notify(n: StreamNotice | null): void {
    for (const fn of this.noticeHooks) fn(n, this.stats);
  }

  /**
   * Connects with `issued`, and keeps the session's token fresh with `renew` (which asks for a
   * new one) until sign-out.
   */
  connect(userId: string, issued: IssuedToken, grants: string[], renew?: () => Promise<IssuedToken>): void {
    this.disconnect();
    this.userId = userId;
    this.grants = grants;
    this.token = issued.token;
    this.renew = renew ?? null;
    this.tokenStatus = { exp: issued.exp, refreshes: 0, left: [] };
    this.changedToken();
    this.scheduleRefresh(issued.exp);
    this.welcome = null;
    this.tracker?.free();
    const tracker = new StreamTracker();
    this.tracker = tracker;
    Object.assign(this.stats, { recovered: 0, duplicates: 0, gaps: 0 });
    this.notify(null);
    this.setState('connecting');
    const socket = io({
      // A function, so that every reconnect sends the positions as they are then.
      auth: (cb) => {
        this.handshakeSince = tracker.since();
        // The current token, not the first one: a refresh since then replaced it.
        cb({ token: this.token, since: this.handshakeSince });
      },
      reconnectionDelayMax: 4000,
    });
    this.socket = socket;
    /** Set by `session_expired`, which the server sends just before it disconnects. */
    let expiredAt: string | null = null;

    socket.on('connect', () => {
      if (this.socket !== socket) return;
      expiredAt = null;
      this.connection += 1;
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
    socket.on(this.ev.SESSION_EXPIRED, (p: unknown) => {
      if (this.socket !== socket) return;
      expiredAt = isRecord(p) && typeof p.at === 'string' ? p.at : 'its exp';
    });
    socket.on('disconnect', (reason: string) => {
      if (this.socket !== socket) return;
      for (const w of this.watches.values()) w.status = 'pending';
      this.changedWatches();
      if (expiredAt !== null) {
        this.stopRefreshing();
        this.setState('expired', `the token expired at ${expiredAt}`);
      } else if (socket.active) this.setState('reconnecting', reason);
      else this.setState('disconnected', reason);
    });
    socket.io.on('reconnect_attempt', (n: number) => {
      if (this.socket !== socket) return;
      this.setState('reconnecting', `attempt ${n}`);
    });
    socket.onAny((event: string, payload: unknown, meta?: unknown) => {
      if (this.socket !== socket) return;
      if (event === this.ev.WELCOME) {
        this.welcome = (payload ?? {}) as Partial<Welcome>;
        // Before the event reaches the panels, and before the replay that follows it.
        this.settleWelcome(this.welcome.streams);
      }
      // Stream events carry their meta second; everything else has none.
      if (meta !== undefined && !this.admit(meta)) return;
      this.dispatch(event, payload);
    });
  }

  /** Whether to hand a stream event to the panels: not when it was seen already. */
  private admit(meta: unknown): boolean {
    if (!this.tracker) return true;
    let seen: Accepted;
    try {
      // The tracker reads and checks it (a wrong shape throws), so it goes in unchecked.
      seen = this.tracker.accept(meta as Parameters<StreamTracker['accept']>[0]);
    } catch (e) {
      // A meta the tracker cannot read: show the event rather than lose it.
      console.warn(`ignoring a malformed meta: ${errorMessage(e)}`);
      return true;
    }
    if (seen === 'duplicate') {
      this.stats.duplicates += 1;
      this.notify(null);
      return false;
    }
    if (seen === 'gap') {
      this.stats.gaps += 1;
      const m = meta as { stream: string; offset: number };
      this.notify({ kind: 'gap', stream: m.stream, offset: m.offset });
    }
    return true;
  }

  /**
   * Where a stream stands after a (re)subscribe or a handshake. `recovered: false`: the missed
   * events are gone, so start from the server's position and reload. `recovered: true`: they
   * were delivered (the welcome's follow it), as many as the offsets moved. No `recovered`
   * (nothing was asked for): start from the server's position, so the next reconnect asks
   * from here.
   */
  private settle(stream: string, status: unknown, since: StreamPosition | undefined): void {
    const s = statusOf(status);
    if (!s || !this.tracker) return;
    try {
      if (s.recovered === true) {
        const count = since && since.epoch === s.position.epoch ? Math.max(0, s.position.offset - since.offset) : 0;
        if (count > 0) {
          this.stats.recovered += count;
          this.notify({ kind: 'recovered', stream, count });
        }
        return;
      }
      this.tracker.reset(stream as StreamName, s.position); // checked by the tracker
    } catch (e) {
      console.warn(`cannot track ${stream}: ${errorMessage(e)}`);
      return;
    }
    if (s.recovered === false) {
      for (const fn of this.reloadHooks) {
        try {
          fn(stream);
        } catch (e) {
          console.error(`reloading ${stream} failed`, e);
        }
      }
      this.notify({ kind: 'not_recovered', stream });
    }
  }

  private settleWelcome(streams: unknown): void {
    if (!isRecord(streams)) return;
    const since = this.handshakeSince as Record<string, StreamPosition | undefined>;
    for (const [stream, status] of Object.entries(streams)) this.settle(stream, status, since[stream]);
  }

  /**
   * Try again after a refusal or a server-side disconnect: with the same token, or after the
   * session expired, with a new one.
   */
  async retry(): Promise<void> {
    if (!this.socket) return;
    const socket = this.socket;
    this.setState('connecting');
    if (this.renew && this.tokenStatus) {
      try {
        const issued = await this.renew();
        this.token = issued.token;
        Object.assign(this.tokenStatus, { exp: issued.exp, error: undefined, left: [] });
        this.changedToken();
        this.scheduleRefresh(issued.exp);
      } catch (e) {
        console.warn(`no new token: ${errorMessage(e)}`);
      }
    }
    if (this.socket === socket) socket.connect();
  }

  disconnect(): void {
    this.stopRefreshing();
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.removeAllListeners();
      s.offAny();
      s.io.removeAllListeners();
      s.disconnect();
    }
  }

  /** Log out: ask the server (ack), then drop the socket, every watch and the positions. */
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
    this.renew = null;
    this.tokenStatus = null;
    this.changedToken();
    this.tracker?.free();
    this.tracker = null;
    this.userId = null;
    this.welcome = null;
    this.watches.clear();
    this.changedWatches();
    this.setState('signed_out');
  }

  private async ack(event: string, payload: { room: string; since?: StreamPosition }): Promise<HubAck> {
    const s = this.socket;
    if (!s || !s.connected) {
      return { ok: false, error: { code: 'not_connected', message: 'not connected to the server' } };
    }
    try {
      const raw: unknown = await s.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
      return normaliseAck(raw);
    } catch {
      return { ok: false, error: { code: 'timeout', message: `no acknowledgement within ${ACK_TIMEOUT_MS / 1000} s` } };
    }
  }

  /**
   * Subscribe (from here: no `since`, the page starts at the server's position) and remember
   * the room so that it is subscribed again, from where it was, after a reconnect.
   */
  async watch(room: string): Promise<HubAck> {
    const existing = this.watches.get(room);
    this.watches.set(room, { room, status: 'pending' });
    this.changedWatches();
    const ack = await this.ack(this.ev.SUBSCRIBE, { room });
    if (ack.ok) {
      this.watches.set(room, { room, status: 'ok' });
      this.subscribed(room, ack, undefined);
    } else if (existing?.status === 'ok' && ack.error.code === 'not_connected') {
      this.watches.set(room, existing);
    } else {
      this.watches.delete(room);
    }
    this.changedWatches();
    return ack;
  }

  async unwatch(room: string): Promise<HubAck> {
    const ack = await this.ack(this.ev.UNSUBSCRIBE, { room });
    if (ack.ok || ack.error.code === 'not_connected') this.watches.delete(room);
    this.changedWatches();
    return ack;
  }

  private positionOf(room: string): StreamPosition | undefined {
    try {
      return this.tracker?.position(room as Room);
    } catch (e) {
      console.warn(`no position for ${room}: ${errorMessage(e)}`);
      return undefined;
    }
  }

  private subscribed(room: string, ack: Extract<HubAck, { ok: true }>, since: StreamPosition | undefined): void {
    this.settle(room, ack, since);
    for (const fn of this.subscribedHooks) fn(room, ack);
  }

  private async resubscribe(): Promise<void> {
    await Promise.all(
      [...this.watches.keys()].map(async (room) => {
        // Only a position the tracker has is sent: a server without streams never gave one
        // (and would refuse the field).
        const since = this.positionOf(room);
        const ack = await this.ack(this.ev.SUBSCRIBE, since ? { room, since } : { room });
        this.watches.set(room, ack.ok ? { room, status: 'ok' } : { room, status: 'error', error: ack.error });
        if (ack.ok) this.subscribed(room, ack, since);
      }),
    );
    this.changedWatches();
  }
}
