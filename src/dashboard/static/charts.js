// Small SVG charts drawn in the browser: no chart library, nothing fetched from outside.
import { s, h } from './dom.js';

/**
 * A line chart of one series against time, with a dashed limit line.
 * points: [{ t: ms, v: number }]; limit: the allotted amount (y axis goes at least that high).
 */
export function lineChart({ points, limit, unit, label, width = 560, height = 180, colour = '#1f6feb' }) {
  const pad = { l: 52, r: 12, t: 10, b: 24 };
  const w = width - pad.l - pad.r;
  const ht = height - pad.t - pad.b;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': label, 'data-chart': label });
  const yMax = Math.max(limit ?? 0, ...points.map((p) => p.v), 1e-9) * 1.1;
  const t0 = points[0]?.t ?? 0;
  const t1 = Math.max(points.at(-1)?.t ?? 1, t0 + 1);
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * w;
  const y = (v) => pad.t + ht - (v / yMax) * ht;
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 4) * i;
    svg.append(s('line', { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), stroke: '#e1e4ea' }), s('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v, unit)));
  }
  if (limit) svg.append(s('line', { x1: pad.l, x2: pad.l + w, y1: y(limit), y2: y(limit), stroke: '#cf222e', 'stroke-dasharray': '4 3' }), s('text', { x: pad.l + w, y: y(limit) - 4, 'text-anchor': 'end' }, `limit ${fmt(limit, unit)}`));
  if (points.length === 0) {
    svg.append(s('text', { x: pad.l + w / 2, y: pad.t + ht / 2, 'text-anchor': 'middle' }, 'no samples yet'));
    return svg;
  }
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const area = `${d} L${x(points.at(-1).t).toFixed(1)},${y(0)} L${x(t0).toFixed(1)},${y(0)} Z`;
  svg.append(s('path', { d: area, fill: colour, 'fill-opacity': 0.12 }), s('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2, 'data-series': label }));
  for (const p of points) svg.append(s('circle', { cx: x(p.t), cy: y(p.v), r: 2.5, fill: colour }));
  svg.append(s('text', { x: pad.l, y: height - 6 }, new Date(t0).toLocaleTimeString()), s('text', { x: pad.l + w, y: height - 6, 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
  return svg;
}

/** An axis label: two significant digits for small amounts, cents otherwise. */
const tick = (v) => (v === 0 ? '0' : v < 0.01 ? v.toPrecision(2) : v.toFixed(2));

function fmt(v, unit) {
  if (unit === 'vCPU') return `${v.toFixed(v < 0.1 ? 3 : 2)}`;
  if (unit === 'MiB') return `${v.toFixed(v < 10 ? 1 : 0)}`;
  return String(Math.round(v * 100) / 100);
}

/**
 * The cold-start waterfall: one bar per phase from its offset for its duration;
 * sub-steps (partOf) indented and lighter. rows: [{ phase, partOf?, offsetMs, durationMs, criticalMs }].
 */
export function waterfallChart(rows, totalMs, width = 760) {
  width = Math.max(width, 480);
  const rowH = 22;
  const labelW = 190;
  const pad = { r: 70, t: 6, b: 22 };
  const height = pad.t + rows.length * rowH + pad.b;
  const end = Math.max(totalMs ?? 0, ...rows.map((r) => r.offsetMs + r.durationMs), 1);
  const w = width - labelW - pad.r;
  const x = (ms) => labelW + (ms / end) * w;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'cold-start waterfall', 'data-chart': 'waterfall' });
  rows.forEach((r, i) => {
    const yTop = pad.t + i * rowH;
    const sub = !!r.partOf;
    svg.append(
      s('text', { x: sub ? 18 : 4, y: yTop + 15 }, sub ? `↳ ${r.phase.replace(/^.*:/, '')}` : r.phase),
      s('rect', { x: x(r.offsetMs), y: yTop + 4, width: Math.max(1.5, x(r.offsetMs + r.durationMs) - x(r.offsetMs)), height: rowH - 8, rx: 3, fill: sub ? '#8cb4f5' : '#1f6feb', 'data-phase': r.phase }),
      s('text', { x: Math.min(x(r.offsetMs + r.durationMs) + 6, width - pad.r + 4), y: yTop + 15 }, `${r.durationMs.toFixed(1)} ms`),
    );
  });
  const axisY = pad.t + rows.length * rowH + 14;
  svg.append(s('text', { x: labelW, y: axisY }, '0 ms'), s('text', { x: labelW + w, y: axisY, 'text-anchor': 'end' }, `${end.toFixed(0)} ms`));
  return svg;
}

/** Vertical bars, one per label: items [{ label, value, title? }]. */
export function barChart(items, { unit = '$', width = 560, height = 180, colour = '#1f6feb', label = 'bars' } = {}) {
  const pad = { l: 60, r: 8, t: 10, b: 24 };
  const w = width - pad.l - pad.r;
  const ht = height - pad.t - pad.b;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': label, 'data-chart': label });
  const max = Math.max(...items.map((i) => i.value), 1e-9) * 1.1;
  const bw = w / Math.max(items.length, 1);
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    const yy = pad.t + ht - (v / max) * ht;
    svg.append(s('line', { x1: pad.l, x2: pad.l + w, y1: yy, y2: yy, stroke: '#e1e4ea' }), s('text', { x: pad.l - 6, y: yy + 4, 'text-anchor': 'end' }, `${unit}${tick(v)}`));
  }
  items.forEach((it, i) => {
    const bh = (it.value / max) * ht;
    const bar = s('rect', { x: pad.l + i * bw + bw * 0.15, y: pad.t + ht - bh, width: bw * 0.7, height: Math.max(bh, 0), rx: 2, fill: colour, 'data-bar': it.label });
    bar.append(s('title', {}, it.title ?? `${it.label}: ${unit}${it.value}`));
    svg.append(bar, s('text', { x: pad.l + i * bw + bw / 2, y: height - 6, 'text-anchor': 'middle' }, it.label));
  });
  return svg;
}

export const legend = (text) => h('span', { class: 'muted' }, text);
