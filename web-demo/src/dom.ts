// Tiny DOM helpers: no framework, just typed element creation and lookup.

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      el.className = String(v);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** The element with `data-testid=id` (the page's stable hooks double as lookup keys). */
export function byTestId<T extends HTMLElement = HTMLElement>(id: string, root: ParentNode = document): T {
  const el = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`missing element [data-testid="${id}"]`);
  return el;
}

export function field<T extends HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(
  form: HTMLFormElement,
  name: string,
): T {
  const el = form.elements.namedItem(name);
  if (!el) throw new Error(`form ${form.dataset.testid ?? ''} has no field ${name}`);
  return el as T;
}

/** A value as a menu or a pill shows it: `in_progress` → `in progress`. */
export function valueLabel(value: string): string {
  return value.replaceAll('_', ' ');
}

/**
 * Adds one option per value to `select`, after the options the page already has (such as an
 * empty "unchanged" one), each labelled with `valueLabel`. The values come from the package's
 * lists, so a menu offers exactly what the validators accept. `initial` is selected, and stays
 * the default a form reset returns to; without it the select keeps its first option.
 */
export function addOptions<T extends string>(
  select: HTMLSelectElement,
  values: readonly T[],
  initial?: NoInfer<T>,
): void {
  for (const value of values) {
    select.add(new Option(valueLabel(value), value, value === initial, value === initial));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** `HH:MM:SS` local time for an RFC 3339 string or ms number. */
export function clock(t: string | number | Date | undefined): string {
  if (t === undefined) return '';
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function pretty(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
