// Same-origin calls to the demo routes of `switchyard demo`.

import type { FieldError } from './wasm';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network_error', e instanceof Error ? e.message : String(e));
  }
  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    const code = typeof err?.code === 'string' ? err.code : `http_${res.status}`;
    const message = typeof err?.message === 'string' ? err.message : res.statusText || text.slice(0, 200);
    const details = Array.isArray(err?.details) ? (err.details as FieldError[]) : [];
    throw new ApiError(res.status, code, message, details);
  }
  return json as T;
}

export interface DemoConfig {
  feed: { meters: string[]; tickets: string[] };
  /** The `--node-id` of the node serving this page. */
  node?: string;
  /** Where the hub's state lives: `memory` (one node) or `redis` (a cluster). */
  store?: 'memory' | 'redis';
}

export interface NodeList {
  nodes: { id: string; sockets: number; seenAt: string }[];
}

export interface SocketsList {
  count: number;
  sockets: { id: string; userId: string; rooms: string[] }[];
}

const enc = encodeURIComponent;

export const api = {
  config: () => request<DemoConfig>('GET', '/demo/config'),
  /** A demo token; `ttlSeconds` (1 to 43200) shortens its life from the default 12 hours. */
  token: (userId: string, rooms?: string[], ttlSeconds?: number) =>
    request<{ token: string; exp: string }>('POST', '/demo/token', {
      userId,
      ...(rooms === undefined ? {} : { rooms }),
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    }),
  sockets: () => request<SocketsList>('GET', '/demo/api/v1/sockets'),
  nodes: () => request<NodeList>('GET', '/demo/api/v1/nodes'),
  /** `/readyz`: 200 `ok`, or 503 `unavailable` while a cluster node cannot use Redis. */
  ready: async (): Promise<string> => {
    try {
      const res = await fetch('/readyz', { headers: { accept: 'application/json' } });
      const body = (await res.json().catch(() => ({}))) as { status?: unknown };
      return typeof body.status === 'string' ? body.status : `http_${res.status}`;
    } catch {
      return 'unreachable';
    }
  },
  notify: (userId: string, body: unknown) =>
    request<{ id: string; online: boolean }>('POST', `/demo/api/v1/users/${enc(userId)}/notifications`, body),
  ticketUpdate: (ticketId: string, body: unknown) =>
    request<{ id: string }>('POST', `/demo/api/v1/tickets/${enc(ticketId)}/updates`, body),
  meterReading: (meterId: string, body: unknown) =>
    request<{ id: string }>('POST', `/demo/api/v1/meters/${enc(meterId)}/readings`, body),
  announce: (body: unknown) => request<{ id: string }>('POST', '/demo/api/v1/announcements', body),
};
