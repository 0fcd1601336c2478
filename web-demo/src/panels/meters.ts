// Meters: watch list, a live chart of meter_reading (one line per meter, one y axis per unit),
// the latest value per meter, and a form posting a reading through
// POST /demo/api/v1/meters/{meterId}/readings.

import {
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
} from 'chart.js';
import { api } from '../api';
import { addOptions, byTestId, clock, field, h } from '../dom';
import { FormCtl } from '../forms';
import type { Hub } from '../hub';
import {
  METER_UNITS,
  checkRoomId,
  meterRoom,
  validateMeterReading,
  type Draft,
  type MeterReading,
  type MeterReadingInput,
} from '../wasm';
import { setupWatchList } from './watchlist';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

type Point = { x: number; y: number };

const MAX_POINTS = 180;
const PALETTE = ['#0f766e', '#2563eb', '#d97706', '#db2777', '#7c3aed', '#059669', '#dc2626', '#0891b2'];

function css(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** What the reading text becomes: absent, a number (incl. NaN/±Infinity), or the raw text. */
function readingValue(text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  if (!Number.isNaN(n) || /^[+-]?nan$/i.test(t)) return n;
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  return t;
}

export function setupMeters(hub: Hub, feed: string[]): void {
  const form = byTestId<HTMLFormElement>('meter-form');
  addOptions(field<HTMLSelectElement>(form, 'unit'), METER_UNITS, 'kWh');
  const idInput = field<HTMLInputElement>(form, 'meterId');
  const tsInput = field<HTMLInputElement>(form, 'timestamp');
  if (feed[0]) idInput.value = feed[0];
  const setNow = () => {
    tsInput.value = new Date().toISOString();
  };
  setNow();
  byTestId('meter-form-now').addEventListener('click', setNow);

  setupWatchList({
    hub,
    kind: 'meter',
    prefix: 'meter',
    build: meterRoom,
    feed,
    onPick: (id) => {
      idInput.value = id;
    },
  });

  // ----- chart -----
  const wrap = byTestId('meter-chart');
  const emptyNote = byTestId('meter-chart-empty');
  const canvas = wrap.querySelector('canvas')!;
  const series = new Map<string, ChartDataset<'line', Point[]>>();
  const units: string[] = [];
  let total = 0;

  const text = css('--text-muted', '#64748b');
  const grid = css('--grid', 'rgba(100,116,139,0.18)');

  const chart = new Chart<'line', Point[]>(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', intersect: false },
      plugins: {
        legend: { position: 'bottom', labels: { color: text, boxWidth: 12, usePointStyle: true } },
        tooltip: {
          callbacks: {
            title: (items) => (items[0] ? clock(items[0].parsed.x ?? 0) : ''),
            label: (item) => {
              const ds = item.dataset as ChartDataset<'line', Point[]> & { unit?: string };
              return ` ${ds.label}: ${item.parsed.y}`;
            },
          },
        },
      },
      scales: {
        x: {
          type: 'linear',
          ticks: { color: text, maxTicksLimit: 6, callback: (v) => clock(Number(v)) },
          grid: { color: grid },
        },
      },
    },
  });

  const axisFor = (unit: string): string => {
    const id = `y_${unit}`;
    if (!units.includes(unit)) {
      units.push(unit);
      const scale = {
        type: 'linear',
        position: units.length % 2 === 1 ? 'left' : 'right',
        title: { display: true, text: unit, color: text },
        ticks: { color: text, maxTicksLimit: 6 },
        grid: { color: grid, display: units.length === 1 },
      };
      (chart.options.scales as Record<string, unknown>)[id] = scale;
    }
    return id;
  };

  let scheduled = false;
  const redraw = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      chart.update('none');
    });
  };

  // ----- latest table -----
  const tbody = byTestId('meter-latest').querySelector('tbody')!;
  const rows = new Map<string, HTMLTableRowElement>();
  const counts = new Map<string, number>();

  hub.on(hub.ev.METER_READING, (p) => {
    const r = (p ?? {}) as Partial<MeterReading>;
    if (!r.meterId || typeof r.reading !== 'number') return;
    const unit = r.unit ?? '';
    const key = `${r.meterId}\u0000${unit}`;
    let ds = series.get(key);
    if (!ds) {
      const color = PALETTE[series.size % PALETTE.length]!;
      ds = {
        label: `${r.meterId} (${unit})`,
        data: [],
        yAxisID: axisFor(unit),
        borderColor: color,
        backgroundColor: color,
        borderWidth: 2,
        pointRadius: 2,
        tension: 0.25,
      };
      series.set(key, ds);
      chart.data.datasets.push(ds);
    }
    const x = Date.parse(r.timestamp ?? '') || Date.now();
    ds.data.push({ x, y: r.reading });
    ds.data.sort((a, b) => a.x - b.x);
    if (ds.data.length > MAX_POINTS) ds.data.splice(0, ds.data.length - MAX_POINTS);
    total += 1;
    wrap.dataset.points = String(total);
    byTestId('meter-points').textContent = String(total);
    emptyNote.hidden = true;
    redraw();

    const n = (counts.get(r.meterId) ?? 0) + 1;
    counts.set(r.meterId, n);
    let row = rows.get(r.meterId);
    if (!row) {
      row = h('tr', { 'data-testid': 'meter-row', 'data-meter': r.meterId });
      rows.set(r.meterId, row);
      tbody.append(row);
    }
    row.replaceChildren(
      h('td', {}, h('code', {}, r.meterId)),
      h('td', { class: 'num', 'data-testid': 'meter-value' }, r.reading.toLocaleString(undefined, { maximumFractionDigits: 3 })),
      h('td', { 'data-testid': 'meter-unit' }, unit),
      h('td', { title: r.timestamp ?? '' }, clock(r.timestamp)),
      h('td', { class: 'num' }, n),
    );
  });

  // A meter's missed readings could not be replayed: its lines and row start over.
  hub.onRoomReload('meter', (id) => {
    for (const [key, ds] of series) {
      if (!key.startsWith(`${id}\u0000`)) continue;
      series.delete(key);
      const at = chart.data.datasets.indexOf(ds);
      if (at >= 0) chart.data.datasets.splice(at, 1);
    }
    rows.get(id)?.remove();
    rows.delete(id);
    counts.delete(id);
    redraw();
  });

  // ----- post a reading -----
  new FormCtl(form).onSubmit(() => {
    const meterId = idInput.value.trim();
    const room = checkRoomId(meterRoom, meterId, 'meterId');
    const input: Draft<MeterReadingInput> = {};
    const reading = readingValue(field<HTMLInputElement>(form, 'reading').value);
    if (reading !== undefined) input.reading = reading;
    const unit = field<HTMLSelectElement>(form, 'unit').value;
    if (unit) input.unit = unit;
    const ts = tsInput.value.trim();
    if (ts) input.timestamp = ts;
    const v = validateMeterReading(input as MeterReadingInput, new Date());
    return {
      errors: [...room.errors, ...(v.ok ? [] : v.errors)],
      send: async () => {
        const res = await api.meterReading(meterId, input);
        return h('span', {}, 'Posted to ', h('code', {}, meterId), ' (delivery ', h('code', {}, res.id), ').');
      },
    };
  });
}
