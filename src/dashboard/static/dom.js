// Building DOM without innerHTML: every text from the API goes in as a text node.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** h('td', { class: 'num' }, '3', child, ...) → element. Attributes with null/undefined/false are left out. */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A table: columns [{ label, num? }], rows of cells. */
export function table(columns, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) => h('td', { class: columns[i]?.num ? 'num' : null }, cell))))),
  );
}

const STATUS_CLASS = {
  RUNNING: 'ok', HEALTHY: 'ok', ACTIVE: 'ok', COMPLETED: 'ok', PRIMARY: 'ok',
  PROVISIONING: 'warn', PENDING: 'warn', ACTIVATING: 'warn', IN_PROGRESS: 'warn', DRAINING: 'warn', DEACTIVATING: 'warn', STOPPING: 'warn', DEPROVISIONING: 'warn',
  UNHEALTHY: 'bad', FAILED: 'bad', INACTIVE: 'bad',
  FARGATE_SPOT: 'spot',
};

export function badge(text) {
  return h('span', { class: `badge ${STATUS_CLASS[text] ?? ''}`, 'data-status': text }, text);
}

export const fmtTime = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '—');
export const fmtDateTime = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
export const usd = (v) => `$${Number(v ?? 0).toFixed(Number(v) !== 0 && Math.abs(Number(v)) < 0.01 ? 6 : 2)}`;
export const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** A card that says a part of the page could not be shown (e.g. the key's policy does not allow it). */
export function sectionError(title, err) {
  return h('div', { class: 'card', 'data-region': 'refused' }, h('h2', {}, title), h('div', { class: 'banner error' }, `${err.type}: ${err.message}`));
}
