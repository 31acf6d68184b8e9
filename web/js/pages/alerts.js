// Alerts: what the daemon's checks fired (doc/alerts.md), newest first, firing ones
// or all; operators acknowledge. The left navigation's badge counts the firing ones.
// For operators, the notification channels with their Test, and the recent delivery
// attempts (channels are added with the API or "tenback notify channel add").
import { get, post, seg } from '../api.js';
import { h, badge, timeEl, can, errorBox, loading, fill } from '../util.js';

const POLL_MS = 5000;

const KIND_TEXT = {
  wal_archive_lag: 'WAL archive lag',
  wal_archive_failing: 'WAL archiving failing',
  backup_failed: 'Backup failed',
  backup_slow: 'Backup running long',
  backup_overdue: 'No recent backup',
  storage_use: 'Storage use',
};

// The firing count in the navigation's badge (hidden at 0).
export async function refreshAlertBadge() {
  const el = document.getElementById('alerts-badge');
  if (!el) return;
  try {
    const firing = await get('/alerts?state=firing');
    el.textContent = firing.length ? String(firing.length) : '';
    el.hidden = firing.length === 0;
    el.setAttribute('aria-label', `${firing.length} alert${firing.length === 1 ? '' : 's'} firing`);
  } catch {
    /* logged off or the daemon is away: leave it */
  }
}

function alertsTable(ctx, alerts, reload) {
  if (!alerts.length) return h('p.empty', 'No alert firing.');
  const rows = alerts.map((a) => h('tr', { 'data-alert': a.id, 'data-kind': a.kind },
    h('td', badge(a.state === 'firing' ? 'FAILED' : 'SUCCEEDED', a.state)),
    h('td', KIND_TEXT[a.kind] || a.kind, h('div.small.muted', a.kind)),
    h('td', h('code', a.object)),
    h('td.alert-message', a.message),
    h('td', timeEl(a.fired_at)),
    h('td', a.resolved_at ? timeEl(a.resolved_at) : '—'),
    h('td', a.acknowledged_at ? h('span', a.acknowledged_by || '') :
      can(ctx.role, 'operator') ? h('button.btn.btn-small', {
        type: 'button',
        'data-ack': a.id,
        onclick: async (ev) => {
          ev.target.disabled = true;
          try {
            await post(`/alerts/${seg(a.id)}/ack`);
            ctx.toast(`Alert ${a.id} acknowledged`, 'ok');
          } catch (err) {
            ctx.toast(err.message, 'error');
          }
          reload();
        },
      }, 'Acknowledge') : '—')));
  return h('div.table-wrap', h('table.data#alerts-table',
    h('caption.sr-only', 'Alerts'),
    h('thead', h('tr', ['State', 'Kind', 'Object', 'Message', 'Fired', 'Resolved', 'Acknowledged'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows)));
}

function attemptsTable(attempts) {
  if (!attempts.length) return h('p.empty', 'No delivery attempt yet.');
  return h('div.table-wrap', h('table.data#attempts-table',
    h('caption.sr-only', 'Delivery attempts'),
    h('thead', h('tr', ['Channel', 'Event', 'Try', 'At', 'Outcome', 'Error'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', attempts.map((t) => h('tr', { 'data-attempt': t.id, 'data-outcome': t.outcome },
      h('td', t.channel),
      h('td', t.event, t.alert_id ? h('span.muted', ` (alert ${t.alert_id})`) : null),
      h('td.num', String(t.attempt)),
      h('td', timeEl(t.at)),
      h('td', badge(t.outcome === 'delivered' ? 'SUCCEEDED' : 'FAILED', t.outcome)),
      h('td.small', t.error || (t.http_status ? `HTTP ${t.http_status}` : '—')))))));
}

function channelsTable(ctx, channels, onTested) {
  if (!channels.length) return h('p.empty', 'No notification channel. Add one with POST /api/v1/notification-channels or "tenback notify channel add".');
  return h('div.table-wrap', h('table.data#channels-table',
    h('caption.sr-only', 'Notification channels'),
    h('thead', h('tr', ['Name', 'Type', 'Where', 'Kinds', 'Test'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', channels.map((c) => {
      const result = h('div.small.test-result', { 'aria-live': 'polite' });
      return h('tr', { 'data-channel': c.name },
        h('th', { scope: 'row' }, c.name),
        h('td', c.type),
        h('td', h('code', c.url), c.type === 'email' ? h('div.small.muted', `to ${c.to}`) : null),
        h('td', c.kinds && c.kinds.length ? c.kinds.join(', ') : 'all'),
        h('td', h('button.btn.btn-small', {
          type: 'button',
          'data-test': c.name,
          onclick: async (ev) => {
            ev.target.disabled = true;
            fill(result, 'Sending…');
            try {
              const r = await post(`/notification-channels/${seg(c.id)}/test`);
              fill(result, r.delivered ? h('span.ok-text', 'Delivered') : h('span.err-text', 'Not delivered: ' + (r.error || 'unknown error')));
            } catch (err) {
              fill(result, h('span.err-text', err.message));
            }
            ev.target.disabled = false;
            onTested();
          },
        }, 'Test'), result));
    }))));
}

export async function alertsPage(ctx, main) {
  document.title = 'Alerts · tenback';
  const which = h('select#alert-state', { 'aria-label': 'Which alerts' },
    h('option', { value: 'firing' }, 'Firing'), h('option', { value: 'all' }, 'All'));
  if (ctx.query.get('state') === 'all') which.value = 'all';
  const body = h('div', loading());
  main.append(h('div.page-head', h('h1', 'Alerts'), h('div.head-actions', h('label.inline', { for: 'alert-state' }, 'Show '), which)),
    h('p.muted', 'WAL archive lag and failures, failed, long or missing backups, storage use: checked by the daemon; each alert fires once and resolves when its cause is gone.'),
    body);
  const operator = can(ctx.role, 'operator');
  const channelsBox = h('div', loading());
  const attemptsBox = h('div', loading());
  if (operator) {
    main.append(h('h2', 'Notification channels'), channelsBox, h('h2', 'Delivery attempts'), attemptsBox);
  }
  async function loadAttempts() {
    try {
      fill(attemptsBox, attemptsTable(await get('/notification-attempts?limit=20')));
    } catch (err) {
      if (err.status !== 401) fill(attemptsBox, errorBox(err, 'Cannot list delivery attempts'));
    }
  }
  if (operator) {
    get('/notification-channels').then((cs) => fill(channelsBox, channelsTable(ctx, cs, loadAttempts)),
      (err) => { if (err.status !== 401) fill(channelsBox, errorBox(err, 'Cannot list channels')); });
    loadAttempts();
  }
  let timer = null;
  let stopped = false;
  async function load() {
    clearTimeout(timer);
    try {
      const alerts = await get(`/alerts?state=${which.value}`);
      if (stopped) return;
      fill(body, alertsTable(ctx, alerts, load));
      refreshAlertBadge();
      timer = setTimeout(load, POLL_MS);
    } catch (err) {
      if (!stopped && err.status !== 401) fill(body, errorBox(err, 'Cannot list alerts'));
    }
  }
  which.addEventListener('change', load);
  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
