// A tenant's Backup & Recovery page: overview (strategy, last full and incremental,
// restorable window), backup sets, tasks, the strategy form; Back up Now and Restore
// in the upper-right corner.
import { get, post, put, del, seg } from '../api.js';
import { h, badge, fmtBytes, timeEl, can, errorBox, loading, scheduleText, fill } from '../util.js';
import { confirmDialog } from '../dialog.js';
import { tasksTable } from './tasks.js';
import { timeline } from './timeline.js';
import { openBackupNow } from './backup-now.js';
import { openRestore } from './restore.js';

const TABS = [
  ['overview', 'Overview'],
  ['sets', 'Backup Sets'],
  ['tasks', 'Tasks'],
  ['strategy', 'Backup Strategy'],
];
const REFRESH_MS = 4000;

function setCard(title, s, id) {
  return h('section.card', { 'aria-labelledby': id }, h('h2', { id }, title),
    s ? h('dl.kv',
      h('dt', 'Set'), h('dd.mono', s.id),
      h('dt', 'Ended'), h('dd', timeEl(s.stop_time)),
      h('dt', 'Size'), h('dd', fmtBytes(s.size_bytes), s.stored_bytes ? h('span.muted', ` (${fmtBytes(s.stored_bytes)} stored)`) : null),
      h('dt', 'Status'), h('dd', badge(s.status)))
      : h('p.muted', 'None yet.'));
}

function overview(t, sets, windowRanges) {
  const s = t.strategy;
  const live = t.cluster_live || {};
  return h('div',
    h('div.cards',
      h('section.card', { 'aria-labelledby': 'ov-t' }, h('h2#ov-t', 'Tenant'),
        h('dl.kv',
          h('dt', 'Cluster'), h('dd', h('a', { href: `#/clusters/${seg(t.cluster)}` }, t.cluster), ' ', t.cluster_status && t.cluster_status !== 'NORMAL' ? badge('warn', t.cluster_status) : null),
          h('dt', 'PostgreSQL version'), h('dd', t.version || '—'),
          h('dt', 'Backup method'), h('dd', t.backup_method || '—', t.backup_method_reason ? h('div.small.muted', t.backup_method_reason) : null),
          h('dt', 'Size'), h('dd', fmtBytes(t.size_bytes)),
          h('dt', 'WAL archiving'), h('dd', live.reachable === false ? badge('failed', 'Cluster unreachable') : live.archiving_ok ? badge('ok', 'Healthy') : badge('failed', 'Not working')))),
      h('section.card', { 'aria-labelledby': 'ov-s' }, h('h2#ov-s', 'Backup strategy'),
        s ? h('dl.kv',
          h('dt', 'State'), h('dd', s.enabled ? badge('ok', 'Enabled') : badge('warn', 'Paused')),
          h('dt', 'Schedule'), h('dd', scheduleText(s.schedule)),
          h('dt', 'Retention'), h('dd', `${s.retention_days} days`),
          h('dt', 'Storage'), h('dd', s.storage || h('span.muted', 'the cluster\'s')),
          h('dt', 'Compression'), h('dd', s.compress || 'default'),
          h('dt', 'Next backup'), h('dd', s.next_backup ? [s.next_backup.mode, ' · ', timeEl(s.next_backup.time)] : '—'))
          : h('p.muted', 'No backup strategy: backups run only when started by hand. ', h('a', { href: `#/tenants/${seg(t.id)}?tab=strategy` }, 'Create one'), '.')),
      setCard('Last full backup', t.last_full, 'ov-f'),
      setCard('Last incremental backup', t.last_incremental, 'ov-i')),
    h('section.card.wide', { 'aria-labelledby': 'ov-w' }, h('h2#ov-w', 'Restorable window'), timeline(windowRanges, sets)));
}

// The last verification of a set, and a button to verify it again (operator).
function verifyCell(t, s, mayVerify) {
  const cell = h('td.verify');
  const show = (status, at, error) => fill(cell,
    status ? badge(status === 'ok' ? 'ok' : 'failed', status === 'ok' ? 'Verified' : 'Damaged') : h('span.muted', 'Not verified'),
    at ? h('div.small.muted', timeEl(at)) : null,
    error ? h('div.small.err-text', error) : null,
    s.status === 'completed' && mayVerify ? h('button.btn.btn-small', {
      type: 'button',
      onclick: async (e) => {
        e.target.disabled = true;
        e.target.textContent = 'Verifying…';
        try {
          const r = await post(`/tenants/${seg(t.id)}/sets/${seg(s.id)}/verify`);
          show(r.verify_status, r.verified_at, r.verify_error);
        } catch (err) {
          if (err.status !== 401) cell.append(errorBox(err, 'Not verified'));
          e.target.disabled = false;
          e.target.textContent = 'Verify';
        }
      },
    }, 'Verify') : null);
  show(s.verify_status, s.verified_at, s.verify_error);
  return cell;
}

function setsTable(ctx, t, sets, onRestore, onDeleted) {
  if (!sets.length) return h('p.empty', 'No backup set yet. Click Back up Now to take the first one.');
  const mayRestore = can(ctx.role, 'operator');
  const mayDelete = can(ctx.role, 'admin');
  const rows = sets.map((s) => h('tr', { 'data-set': s.id, 'data-type': s.type, 'data-method': s.method || 'physical' },
    h('th.mono', { scope: 'row' }, s.id),
    h('td', s.type),
    h('td.method', s.method === 'logical' ? ['logical', h('div.small.muted', 'pg_dump')] : 'physical'),
    h('td', timeEl(s.start_time)),
    h('td', timeEl(s.stop_time)),
    h('td.num', fmtBytes(s.size_bytes), s.stored_bytes ? h('div.small.muted', fmtBytes(s.stored_bytes), ' stored') : null),
    h('td.mono', s.parent || '—'),
    h('td', badge(s.status), s.error ? h('div.small.err-text', s.error) : null),
    verifyCell(t, s, mayRestore),
    h('td', h('div.actions',
      // physical: to a new data directory; logical: as a new database (the dialog asks for what the set needs)
      s.status === 'completed' && mayRestore ? h('button.btn.btn-small', { type: 'button', onclick: () => onRestore(s.id) }, 'Restore') : null,
      mayDelete ? h('button.btn.btn-small.btn-danger', {
        type: 'button',
        onclick: async (e) => {
          if (!(await confirmDialog('Delete backup set?', `Delete set ${s.id} of tenant ${t.name}? Incremental sets built on it must be deleted first.`, 'Delete'))) return;
          try {
            await del(`/tenants/${seg(t.id)}/sets/${seg(s.id)}`);
            ctx.toast(`Set ${s.id} deleted`, 'ok');
            onDeleted();
          } catch (err) {
            if (err.status !== 401) e.target.closest('td').append(errorBox(err, 'Not deleted'));
          }
        },
      }, 'Delete') : null))));
  return h('div.table-wrap', h('table.data',
    h('caption.sr-only', 'Backup sets, newest first'),
    h('thead', h('tr', ['Set', 'Type', 'Method', 'Start', 'End', 'Size', 'Parent', 'Status', 'Verify', ''].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows)));
}

const WEEK = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];

function strategyForm(ctx, t, storages, onSaved) {
  const s = t.strategy;
  const admin = can(ctx.role, 'admin');
  const sch = (s && s.schedule) || { kind: 'week', days: { sun: 'FULL', wed: 'INCREMENTAL' }, time: '02:00' };
  const msg = h('div', { 'aria-live': 'polite' });
  const kindWeek = h('input#sg-kind-week', { type: 'radio', name: 'sg-kind', value: 'week', checked: sch.kind !== 'month' });
  const kindMonth = h('input#sg-kind-month', { type: 'radio', name: 'sg-kind', value: 'month', checked: sch.kind === 'month' });
  const daySel = (key, label, kind) => h('div.day', h('label', { for: `sg-${kind}-${key}` }, label),
    h('select', { id: `sg-${kind}-${key}`, 'data-day': key },
      h('option', { value: '' }, '—'),
      h('option', { value: 'FULL', selected: sch.kind === kind && String(sch.days[key] || '').toUpperCase() === 'FULL' }, 'Full'),
      h('option', { value: 'INCREMENTAL', selected: sch.kind === kind && String(sch.days[key] || '').toUpperCase() === 'INCREMENTAL' }, 'Incremental')));
  const weekGrid = h('div.days.days-week', WEEK.map(([k, l]) => daySel(k, l, 'week')));
  const monthGrid = h('div.days.days-month', Array.from({ length: 31 }, (_, i) => daySel(String(i + 1), String(i + 1), 'month')));
  const timeIn = h('input#sg-time', { type: 'time', value: sch.time, required: true, 'aria-describedby': 'sg-time-local' });
  const localOut = h('span#sg-time-local.small.muted');
  const showLocal = () => {
    const m = /^(\d\d):(\d\d)$/.exec(timeIn.value);
    if (!m) return fill(localOut);
    const d = new Date(Date.UTC(2024, 0, 1, Number(m[1]), Number(m[2])));
    localOut.textContent = ` UTC (${d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} your local time)`;
  };
  timeIn.addEventListener('input', showLocal);
  showLocal();
  const syncKind = () => {
    weekGrid.hidden = !kindWeek.checked;
    monthGrid.hidden = !kindMonth.checked;
  };
  kindWeek.addEventListener('change', syncKind);
  kindMonth.addEventListener('change', syncKind);
  syncKind();
  const methodSel = h('select#sg-method',
    h('option', { value: '' }, `Identified automatically (${t.backup_method || 'unknown'})`),
    h('option', { value: 'physical', selected: !!s && s.method === 'physical' }, 'Physical'),
    h('option', { value: 'logical', selected: !!s && s.method === 'logical' }, 'Logical'));
  const storageSel = h('select#sg-storage',
    h('option', { value: '' }, `The cluster's storage${t.cluster_live && t.cluster_live.storage ? ': ' + t.cluster_live.storage : ''}`),
    storages.map((x) => h('option', { value: x.name, selected: s && s.storage === x.name }, `${x.name}: ${x.uri}`)));
  const retIn = h('input#sg-retention', { type: 'number', min: 1, max: 36500, value: s ? s.retention_days : 7, required: true });
  const compSel = h('select#sg-compress',
    ['', 'zstd', 'lz4', 'none'].map((c) => h('option', { value: c, selected: (s && s.compress || '') === c }, c || 'The cluster\'s default')));
  const enabledCb = h('input#sg-enabled', { type: 'checkbox', checked: s ? s.enabled : true });
  const saveBtn = h('button.btn.btn-primary#sg-save', { type: 'submit' }, s ? 'Save strategy' : 'Create strategy');
  const delBtn = s ? h('button.btn.btn-danger', { type: 'button' }, 'Delete strategy') : null;

  const fs = h('fieldset.strategy-fields', { disabled: !admin },
    h('legend.sr-only', 'Backup strategy'),
    h('div.field-row',
      h('div.field', h('label', { for: 'sg-method' }, 'Backup method'), methodSel),
      h('div.field', h('label', { for: 'sg-storage' }, 'Storage'), storageSel)),
    h('fieldset.form-section', h('legend', 'Schedule'),
      h('div.radio-row', h('label.radio', kindWeek, ' By week'), h('label.radio', kindMonth, ' By month')),
      weekGrid, monthGrid,
      h('div.field', h('label', { for: 'sg-time' }, 'Time of day'), h('div', timeIn, localOut))),
    h('div.field-row',
      h('div.field', h('label', { for: 'sg-retention' }, 'Retention (days)'), retIn),
      h('div.field', h('label', { for: 'sg-compress' }, 'Compression'), compSel)),
    h('label.check', enabledCb, ' Enabled (unchecked: paused)'),
    h('div.form-actions', saveBtn, delBtn));
  const form = h('form.strategy-form', { 'aria-label': 'Backup strategy', novalidate: true },
    admin ? null : h('p.alert.alert-info', { role: 'note' }, 'Only an administrator can change the backup strategy.'),
    msg, fs);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(msg);
    const kind = kindWeek.checked ? 'week' : 'month';
    const days = {};
    for (const sel of (kind === 'week' ? weekGrid : monthGrid).querySelectorAll('select')) if (sel.value) days[sel.dataset.day] = sel.value;
    if (!Object.keys(days).length) {
      msg.append(h('div.alert.alert-error', { role: 'alert' }, 'Choose at least one day (with a Full one: an incremental needs a full backup before it).'));
      return;
    }
    const body = {
      schedule: { kind, days, time: timeIn.value },
      retention_days: Number(retIn.value),
      enabled: enabledCb.checked,
    };
    if (methodSel.value) body.method = methodSel.value;
    if (storageSel.value) body.storage = storageSel.value;
    if (compSel.value) body.compress = compSel.value;
    saveBtn.disabled = true;
    try {
      await put(`/tenants/${seg(t.id)}/strategy`, body);
      ctx.toast('Backup strategy saved', 'ok');
      onSaved();
    } catch (err) {
      if (err.status !== 401) msg.append(errorBox(err, 'Not saved'));
      saveBtn.disabled = false;
    }
  });
  if (delBtn) {
    delBtn.addEventListener('click', async () => {
      if (!(await confirmDialog('Delete the backup strategy?', 'Scheduled backups of this tenant stop. Backup sets are kept.', 'Delete'))) return;
      try {
        await del(`/tenants/${seg(t.id)}/strategy`);
        ctx.toast('Backup strategy deleted', 'ok');
        onSaved();
      } catch (err) {
        if (err.status !== 401) msg.append(errorBox(err, 'Not deleted'));
      }
    });
  }
  return form;
}

export async function tenantPage(ctx, main) {
  const id = ctx.params[0];
  const head = h('div.page-head');
  const crumbs = h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/tenants' }, 'Tenants'), ' / ', h('span#crumb-tenant', id), ' / ', h('span', { 'aria-current': 'page' }, 'Backup & Recovery'));
  const body = h('div', loading());
  main.append(crumbs, head, body);
  let stopped = false;
  let timer = null;
  const state = { t: null, sets: [], win: [], tasks: [], storages: [] };
  let tab = TABS.some(([k]) => k === ctx.query.get('tab')) ? ctx.query.get('tab') : 'overview';

  const tablist = h('div.tabs', { role: 'tablist', 'aria-label': 'Backup & Recovery' });
  const panels = {};
  const tabBtns = {};
  for (const [k, label] of TABS) {
    tabBtns[k] = h('button.tab', { type: 'button', role: 'tab', id: `tab-${k}`, 'aria-controls': `panel-${k}`, 'data-tab': k }, label);
    panels[k] = h('div.tab-panel', { role: 'tabpanel', id: `panel-${k}`, 'aria-labelledby': `tab-${k}`, tabindex: '0' });
    tabBtns[k].addEventListener('click', () => select(k, true));
    tablist.append(tabBtns[k]);
  }
  tablist.addEventListener('keydown', (e) => {
    const keys = TABS.map(([k]) => k);
    let i = keys.indexOf(tab);
    if (e.key === 'ArrowRight') i = (i + 1) % keys.length;
    else if (e.key === 'ArrowLeft') i = (i - 1 + keys.length) % keys.length;
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = keys.length - 1;
    else return;
    e.preventDefault();
    select(keys[i], true);
    tabBtns[keys[i]].focus();
  });
  function select(k) {
    tab = k;
    for (const [key] of TABS) {
      const on = key === k;
      tabBtns[key].setAttribute('aria-selected', String(on));
      tabBtns[key].tabIndex = on ? 0 : -1;
      panels[key].hidden = !on;
    }
  }

  async function load() {
    const [t, sets, win, tasks] = await Promise.all([
      get(`/tenants/${seg(id)}`),
      get(`/tenants/${seg(id)}/sets`).catch(() => []),
      get(`/tenants/${seg(id)}/window`).catch(() => null),
      get(`/tenants/${seg(id)}/tasks`).catch(() => []),
    ]);
    state.t = t;
    state.sets = sets;
    state.win = win || t.window || [];
    state.tasks = tasks;
  }

  const restore = (setId) => openRestore(ctx, state.t, state.sets, state.win, { set: setId });

  function renderHead() {
    const t = state.t;
    document.title = `${t.name} · Backup & Recovery · tenback`;
    document.getElementById('crumb-tenant').textContent = `${t.name} (${t.cluster})`;
    const operator = can(ctx.role, 'operator');
    const why = 'Needs the operator or admin role';
    const running = state.tasks.find((x) => x.status === 'RUNNING' && x.type === 'backup');
    fill(head, 
      h('div', h('h1', 'Backup & Recovery'),
        h('p.subtitle', 'Tenant ', h('strong', t.name), ' on cluster ', h('a', { href: `#/clusters/${seg(t.cluster)}` }, t.cluster),
          running ? [' · ', h('a', { href: `#/tasks/${running.id}` }, `backup task ${running.id} running`)] : null)),
      h('div.head-actions',
        h('button.btn#restore-btn', { type: 'button', disabled: !operator, title: operator ? 'Restore a backup set or a point in time to a new instance, or a logical set as a new database' : why, onclick: () => restore() }, 'Restore'),
        operator
          ? h('button.btn.btn-primary#backup-now', { type: 'button', onclick: () => openBackupNow(ctx, state.t) }, 'Back up Now')
          : h('button.btn.btn-primary#backup-now', { type: 'button', disabled: true, 'aria-disabled': 'true', title: why }, 'Back up Now'),
        operator ? null : h('span.small.muted.role-note', 'Viewer: read only')));
  }

  function renderPanels(all) {
    const t = state.t;
    fill(panels.overview, overview(t, state.sets, state.win));
    fill(panels.sets, setsTable(ctx, t, state.sets, restore, refresh));
    fill(panels.tasks, tasksTable(state.tasks, { showTenant: false }));
    if (all) fill(panels.strategy, strategyForm(ctx, t, state.storages, async () => { await refresh(true); }));
  }

  async function refresh(all = false) {
    clearTimeout(timer);
    try {
      await load();
      if (stopped) return;
      renderHead();
      renderPanels(all);
    } catch (err) {
      if (stopped || err.status === 401) return;
      if (!state.t) {
        fill(body, errorBox(err, `Cannot show tenant ${id}`));
        return;
      }
    }
    if (!stopped) timer = setTimeout(() => refresh(false), REFRESH_MS);
  }

  try {
    await load();
    state.storages = await get('/storages').catch(() => []);
  } catch (err) {
    if (err.status !== 401) fill(body, errorBox(err, `Cannot show tenant ${id}`));
    return;
  }
  if (stopped || !ctx.alive()) return;
  renderHead();
  fill(body, tablist, ...TABS.map(([k]) => panels[k]));
  renderPanels(true);
  select(tab);
  timer = setTimeout(() => refresh(false), REFRESH_MS);
  const want = ctx.query.get('backup');
  if (want && can(ctx.role, 'operator')) openBackupNow(ctx, state.t, { mode: want });
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
