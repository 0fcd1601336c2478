// The one place the page touches `switchyard-wasm`. Room names and payload validation come
// from the Rust core compiled to WebAssembly; the package's ES module entry loads the wasm
// (top-level await) before anything here runs. This module re-exports the package's typed API
// and adds only what the UI needs on top: reading a thrown `SwitchyardError`'s `.code`, and
// turning a room builder into a field check. Nothing here re-implements a rule.

import type { Room, SwitchyardError } from 'switchyard-wasm';
import type { FormError } from './forms';

export * from 'switchyard-wasm';

/**
 * A validator's input as a form builds it from DOM strings: the input type's keys, values not
 * yet checked. Hand it to the validator as the input type (`draft as NotificationInput`); the
 * validator checks every value at run time and reports what is wrong.
 */
export type Draft<T> = { [K in keyof T]?: unknown };

/** Whether `e` is what the package throws (room builders, `parseRoom`, unsendable values). */
export function isSwitchyardError(e: unknown): e is SwitchyardError {
  return e instanceof Error && e.name === 'SwitchyardError' && typeof (e as { code?: unknown }).code === 'string';
}

/** The `.code` of a thrown `SwitchyardError`; `fallback` for anything else. */
export function errorCode(e: unknown, fallback: SwitchyardError['code']): SwitchyardError['code'] {
  return isSwitchyardError(e) ? e.code : fallback;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A room builder as a field check: the room when the id is valid, else no room and one error
 * at `path` with the code the builder threw (e.g. `invalid_id`).
 */
export function checkRoomId<R extends Room>(
  build: (id: string) => R,
  id: string,
  path: string,
): { room: R | null; errors: FormError[] } {
  try {
    return { room: build(id), errors: [] };
  } catch (e) {
    return {
      room: null,
      errors: [{ path, code: errorCode(e, 'invalid_id'), message: errorMessage(e) }],
    };
  }
}
