// The one place the page touches `switchyard-wasm`. Room names and payload validation come
// from the Rust core compiled to WebAssembly: nothing here re-implements a rule, it only
// adapts the calling convention (init, thrown errors with `.code`) for the UI.

import * as sw from 'switchyard-wasm';

export interface FieldError {
  path: string;
  code: string;
  message: string;
}

export type Validation<T = Record<string, unknown>> =
  | { ok: true; value: T }
  | { ok: false; errors: FieldError[] };

export type RoomKind = 'user' | 'ticket' | 'meter' | 'system';

type Mod = Record<string, unknown>;
const mod = sw as unknown as Mod;

let ready: Promise<void> | null = null;

/**
 * Initialise the wasm module once. A `--target web` build exports a default `init()` that
 * fetches the `.wasm` next to the glue; a bundler/self-initialising build has nothing to do.
 */
export function initWasm(): Promise<void> {
  if (!ready) {
    ready = (async () => {
      const init = mod.default;
      if (typeof init === 'function') {
        await (init as () => Promise<unknown>)();
      }
      for (const name of REQUIRED) {
        if (typeof mod[name] !== 'function') {
          throw new Error(`switchyard-wasm does not export ${name}()`);
        }
      }
    })();
  }
  return ready;
}

const REQUIRED = [
  'userRoom',
  'ticketRoom',
  'meterRoom',
  'systemRoom',
  'parseRoom',
  'validateNotification',
  'validateTicketUpdate',
  'validateMeterReading',
  'validateAnnouncement',
] as const;

function fn<A extends unknown[], R>(name: string): (...args: A) => R {
  return (...args: A) => (mod[name] as (...a: A) => R)(...args);
}

/** The `.code` of an error thrown by a wasm function (falls back to the message). */
export function errorCode(e: unknown, fallback = 'invalid'): string {
  if (e && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === 'string' && /^[a-z_]+$/.test(msg)) return msg;
  }
  if (typeof e === 'string' && /^[a-z_]+$/.test(e)) return e;
  return fallback;
}

export function errorMessage(e: unknown): string {
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}

export const userRoom = fn<[string], string>('userRoom');
export const ticketRoom = fn<[string], string>('ticketRoom');
export const meterRoom = fn<[string], string>('meterRoom');
export const systemRoom = fn<[string], string>('systemRoom');
export const parseRoom = fn<[string], { kind: RoomKind; id: string }>('parseRoom');

function validator(name: string): (input: unknown, now?: Date) => Validation {
  const call = fn<[unknown, Date?], unknown>(name);
  return (input, now) => asValidation(now === undefined ? call(input) : call(input, now));
}

export const validateNotification = validator('validateNotification');
export const validateTicketUpdate = validator('validateTicketUpdate');
export const validateMeterReading = validator('validateMeterReading');
export const validateAnnouncement = validator('validateAnnouncement');

/**
 * A room-name builder as a field check: `[]` when the id is valid, else one error at `path`
 * with the code the wasm function threw (e.g. `invalid_id`).
 */
export function checkRoomId(
  build: (id: string) => string,
  id: string,
  path: string,
): { room: string | null; errors: FieldError[] } {
  try {
    return { room: build(id), errors: [] };
  } catch (e) {
    return {
      room: null,
      errors: [{ path, code: errorCode(e, 'invalid_id'), message: errorMessage(e) }],
    };
  }
}

export interface EventNames {
  WELCOME: string;
  NOTIFICATION: string;
  TICKET_UPDATED: string;
  METER_READING: string;
  ANNOUNCEMENT: string;
  USER_ONLINE: string;
  USER_OFFLINE: string;
  SYSTEM_SHUTDOWN: string;
  SUBSCRIBE: string;
  UNSUBSCRIBE: string;
  LOGOUT: string;
}

/** The fixed event names, read from the wasm package (a constant or a getter function). */
export function events(): EventNames {
  const raw = mod.EVENTS;
  const value = typeof raw === 'function' ? (raw as () => unknown)() : raw;
  if (!value || typeof value !== 'object') {
    throw new Error('switchyard-wasm does not export EVENTS');
  }
  const get = (k: string): string => {
    const v = value instanceof Map ? value.get(k) : (value as Record<string, unknown>)[k];
    if (typeof v !== 'string') throw new Error(`switchyard-wasm EVENTS lacks ${k}`);
    return v;
  };
  return {
    WELCOME: get('WELCOME'),
    NOTIFICATION: get('NOTIFICATION'),
    TICKET_UPDATED: get('TICKET_UPDATED'),
    METER_READING: get('METER_READING'),
    ANNOUNCEMENT: get('ANNOUNCEMENT'),
    USER_ONLINE: get('USER_ONLINE'),
    USER_OFFLINE: get('USER_OFFLINE'),
    SYSTEM_SHUTDOWN: get('SYSTEM_SHUTDOWN'),
    SUBSCRIBE: get('SUBSCRIBE'),
    UNSUBSCRIBE: get('UNSUBSCRIBE'),
    LOGOUT: get('LOGOUT'),
  };
}

/** Normalise a validation result (the wasm may hand back a Map for objects). */
export function asValidation(r: unknown): Validation {
  const obj = toPlain(r) as { ok?: unknown; value?: unknown; errors?: unknown };
  if (obj && obj.ok === true) return { ok: true, value: (obj.value ?? {}) as Record<string, unknown> };
  const errors = Array.isArray(obj?.errors) ? (obj.errors as FieldError[]) : [];
  return { ok: false, errors };
}

function toPlain(v: unknown): unknown {
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = toPlain(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}
