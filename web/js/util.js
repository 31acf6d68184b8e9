// util.js - DOM building and formatting shared by the pages.

// h('tag.class#id', {attr: value, onclick: fn}, children...): an element.
// Attribute values false/null/undefined are left out; true sets an empty attribute.
// Children: strings, nodes, arrays of them, null/false (skipped).
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'text') el.textContent = v;
    else if (k === 'html') throw new Error('h(): no raw html');
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') el[k] = !!v;
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// API times are "YYYY-MM-DD HH:MM:SS[.us]+00" (UTC).
export function parseTime(s) {
  if (!s) return null;
  const iso = String(s).trim().replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');

// "2025-11-26 16:14:41 UTC"
export function fmtTime(s) {
  const d = s instanceof Date ? s : parseTime(s);
  if (!d) return s ? String(s) : '—';
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

// For a <time datetime>
export function isoTime(s) {
  const d = s instanceof Date ? s : parseTime(s);
  return d ? d.toISOString() : '';
}

export function timeEl(s) {
  const d = parseTime(s);
  if (!d) return '—';
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() + ' (local time)' }, fmtTime(d));
}

export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  n = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  // The API's times have a resolution of a second.
  if (ms < 1000) return 'less than 1 s';
  let s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const hrs = Math.floor(s / 3600);
  s -= hrs * 3600;
  const min = Math.floor(s / 60);
  s -= min * 60;
  return hrs ? `${hrs} h ${min} min` : `${min} min ${s} s`;
}

export function fmtSeconds(s) {
  if (s === null || s === undefined) return '—';
  return s < 1 ? 'less than 1 s' : fmtDuration(s * 1000);
}

// A status as a coloured badge: RUNNING, FAILED, SUCCEEDED, CANCELLED, PENDING,
// completed, failed, running, NORMAL, UPGRADING, ...
export function badge(status, label) {
  const s = String(status || 'unknown');
  return h('span.badge', { class: 'badge-' + s.toLowerCase(), 'data-status': s }, label || s);
}

export const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
export function can(role, least) {
  return (ROLE_RANK[role] || 0) >= (ROLE_RANK[least] || 99);
}

// The message of an ApiError (or any error), with detail and hint, as elements.
export function errorBox(err, title) {
  return h('div.alert.alert-error', { role: 'alert' },
    title ? h('strong', title + ': ') : null,
    h('span.err-message', err.message || String(err)),
    err.detail ? h('div.err-detail', err.detail) : null,
    err.hint ? h('div.err-hint', h('strong', 'What to do: '), err.hint) : null);
}

export function loading(text = 'Loading…') {
  return h('p.loading', { role: 'status' }, text);
}

// The "days" map of a schedule as words: "Mon FULL, Wed INCREMENTAL at 02:30 UTC".
export function scheduleText(sch) {
  if (!sch || !sch.days) return '—';
  const order = sch.kind === 'week' ? ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] : null;
  const keys = Object.keys(sch.days).sort((a, b) =>
    order ? order.indexOf(a) - order.indexOf(b) : Number(a) - Number(b));
  const names = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };
  const parts = keys.map((k) => `${order ? names[k] || k : 'day ' + k} ${String(sch.days[k]).toLowerCase()}`);
  return `${sch.kind === 'week' ? 'Weekly' : 'Monthly'}: ${parts.join(', ')}, at ${sch.time} UTC`;
}

// fill(el, children...): replace el's children (arrays flattened, null/false skipped;
// the DOM's own replaceChildren would turn them into text).
export function fill(el, ...children) {
  clear(el);
  return append(el, children);
}

export function prependTo(el, ...children) {
  const frag = document.createDocumentFragment();
  append(frag, children);
  el.prepend(frag);
  return el;
}
