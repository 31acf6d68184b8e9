// Alerts: what the daemon's checks fired (doc/alerts.md), newest first, firing ones
// or all; operators acknowledge. The left navigation's badge counts the firing ones.
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

export async function alertsPage(ctx, main) {
  document.title = 'Alerts · tenback';
  const which = h('select#alert-state', { 'aria-label': 'Which alerts' },
    h('option', { value: 'firing' }, 'Firing'), h('option', { value: 'all' }, 'All'));
  if (ctx.query.get('state') === 'all') which.value = 'all';
  const body = h('div', loading());
  main.append(h('div.page-head', h('h1', 'Alerts'), h('div.head-actions', h('label.inline', { for: 'alert-state' }, 'Show '), which)),
    h('p.muted', 'WAL archive lag and failures, failed, long or missing backups, storage use: checked by the daemon; each alert fires once and resolves when its cause is gone.'),
    body);
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
