// Form plumbing shared by every panel: browser-side validation results (from switchyard-wasm)
// and server refusals are shown the same way, next to the field they concern, with their code.

import { ApiError } from './api';
import { clear, h } from './dom';
import type { FieldError, SwitchyardError } from './wasm';

/**
 * A problem shown next to a form field: a validator's or the server's `FieldError`, or one the
 * page adds itself with another code (a room builder's thrown `SwitchyardError` code, or
 * `invalid_json` for a data textarea that does not parse).
 */
export type FormError = FieldError | { path: string; code: SwitchyardError['code']; message: string };

export type Outcome = string | Node;

/** A refusal that came back through a Socket.IO acknowledgement (`{ ok: false, error }`). */
export class AckRefusal extends Error {
  constructor(
    readonly event: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AckRefusal';
  }
}

export interface Plan {
  /** Problems found in the browser; when non-empty nothing is sent. */
  errors: FormError[];
  /** Sends the request; resolves to a success line. */
  send?: () => Promise<Outcome>;
}

/** Top-level field of an error path: `data.x` → `data`, `items[0]` → `items`, `/a/b` → `a`. */
function fieldKey(path: string): string {
  const p = path.replace(/^[/$.]+/, '');
  return p.split(/[.[/]/)[0] ?? '';
}

export class FormCtl {
  readonly testid: string;
  private readonly statusEl: HTMLElement;
  private readonly generalEl: HTMLElement;

  constructor(readonly form: HTMLFormElement) {
    this.testid = form.dataset.testid ?? 'form';
    this.statusEl =
      form.querySelector<HTMLElement>('.form-status') ??
      form.appendChild(h('div', { class: 'form-status', 'data-testid': `${this.testid}-status`, role: 'status' }));
    this.generalEl =
      form.querySelector<HTMLElement>('.form-errors') ??
      form.insertBefore(h('div', { class: 'form-errors', 'data-testid': `${this.testid}-errors` }), this.statusEl);
  }

  /** Wire submit: build a plan, show browser errors or send and show the outcome. */
  onSubmit(plan: () => Plan | Promise<Plan>): this {
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.run(plan);
    });
    return this;
  }

  async run(plan: () => Plan | Promise<Plan>): Promise<void> {
    this.clearErrors();
    let p: Plan;
    try {
      p = await plan();
    } catch (e) {
      this.setStatus('error', h('span', {}, `Could not check the form: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    if (p.errors.length > 0) {
      this.showErrors(p.errors, 'browser');
      const n = p.errors.length;
      this.setStatus('invalid', `Not sent: ${n} problem${n === 1 ? '' : 's'} found in the browser.`);
      return;
    }
    if (!p.send) {
      this.setStatus('ok', 'Done.');
      return;
    }
    const submit = this.form.querySelector<HTMLButtonElement>('button[type=submit]');
    if (submit) submit.disabled = true;
    this.setStatus('pending', 'Sending…');
    try {
      const out = await p.send();
      this.setStatus('ok', out);
    } catch (e) {
      this.showRefusal(e);
    } finally {
      if (submit) submit.disabled = false;
    }
  }

  /** A server (or ack) refusal: code, message, and the details next to their fields. */
  showRefusal(e: unknown): void {
    if (e instanceof ApiError) {
      if (e.details.length) this.showErrors(e.details, 'server');
      const head = e.status ? `Server refused (HTTP ${e.status}): ` : 'Request failed: ';
      this.setStatus(
        'error',
        h(
          'span',
          {},
          head,
          h('code', { 'data-testid': `${this.testid}-server-code` }, e.code),
          ` — ${e.message}`,
          e.details.length
            ? h(
                'ul',
                { class: 'details' },
                ...e.details.map((d) => h('li', {}, h('code', {}, `${d.path}: ${d.code}`), ` ${d.message ?? ''}`)),
              )
            : null,
        ),
      );
    } else if (e instanceof AckRefusal) {
      this.setStatus(
        'error',
        h(
          'span',
          {},
          `Server refused ${e.event}: `,
          h('code', { 'data-testid': `${this.testid}-server-code` }, e.code),
          ` — ${e.message}`,
        ),
      );
    } else {
      this.setStatus('error', e instanceof Error ? e.message : String(e));
    }
  }

  clearErrors(): void {
    for (const el of this.form.querySelectorAll<HTMLElement>('[data-error-for]')) clear(el);
    for (const el of this.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    clear(this.generalEl);
    this.setStatus('idle', '');
  }

  showErrors(errors: FormError[], source: 'browser' | 'server'): void {
    for (const err of errors) {
      const key = fieldKey(String(err.path ?? ''));
      const slot = key ? this.form.querySelector<HTMLElement>(`[data-error-for="${CSS.escape(key)}"]`) : null;
      const label = err.path ? `${err.path}: ${err.code}` : err.code;
      const line = h(
        'div',
        { class: `ferr ferr-${source}`, 'data-code': err.code, 'data-path': err.path ?? '', 'data-source': source },
        h('code', {}, label),
        err.message ? h('span', { class: 'ferr-msg' }, ` ${err.message}`) : null,
      );
      (slot ?? this.generalEl).appendChild(line);
      if (slot) {
        const input = this.form.elements.namedItem(key);
        if (input instanceof Element) input.setAttribute('aria-invalid', 'true');
      }
    }
  }

  setStatus(kind: 'idle' | 'pending' | 'ok' | 'error' | 'invalid', content: Outcome): void {
    clear(this.statusEl);
    this.statusEl.dataset.kind = kind;
    if (typeof content === 'string') this.statusEl.textContent = content;
    else this.statusEl.appendChild(content);
  }
}

/** Optional JSON textarea: absent when blank; a parse failure is a field error (not sent). */
export function jsonField(text: string, path: string): { value?: unknown; errors: FormError[] } {
  const t = text.trim();
  if (!t) return { errors: [] };
  try {
    return { value: JSON.parse(t), errors: [] };
  } catch (e) {
    return {
      errors: [{ path, code: 'invalid_json', message: `not JSON: ${e instanceof Error ? e.message : String(e)}` }],
    };
  }
}

/** Optional text: absent when blank (so the validator reports `required` where it applies). */
export function optText(v: string): string | undefined {
  return v === '' ? undefined : v;
}
