// Tasks: the list, and one task's page with its steps (status, durations, live
// progress), the failed step's message and hint, the seed's notices, Retry and Cancel.
import { get, post, seg } from '../api.js';
import { h, badge, fmtBytes, fmtDuration, fmtSeconds, timeEl, parseTime, can, errorBox, loading, fill, prependTo } from '../util.js';
import { confirmDialog } from '../dialog.js';

export const MSG_NEED_FULL = 'Full data backup needed before incremental data backup';
export const MSG_NEED_COMPACTION = 'Cluster compaction needed before full data backup';
const POLL_MS = 500;  // a running task: its steps and progress (published every 500 ms) followed live

export function taskTitle(t) {
  const p = t.params && typeof t.params === 'object' ? t.params : {};
  if (t.type === 'backup') return `Back up now${p.mode ? ` (${p.mode})` : ''}`;
  if (t.type === 'restore') return p.as ? 'Restore (logical)' : 'Restore';
  return t.type || 'Task';
}

function currentStep(t) {
  const steps = t.steps || [];
  return steps.find((s) => s.status === 'FAILED') || steps.find((s) => s.status === 'RUNNING') ||
    (t.status === 'SUCCEEDED' ? null : steps.find((s) => s.status === 'PENDING')) || null;
}

function elapsedMs(from, to) {
  const a = parseTime(from);
  if (!a) return null;
  const b = to ? parseTime(to) : new Date();
  return b ? Math.max(0, b - a) : null;
}

// tenant id for (cluster, name), from GET /tenants; cached per page
async function tenantIdOf(cluster, name, cache) {
  if (!cluster || !name) return null;
  if (name === '*') return `${cluster}:*`;
  if (!cache.list) cache.list = await get('/tenants').catch(() => []);
  const t = cache.list.find((x) => x.cluster === cluster && x.name === name);
  return t ? t.id : null;
}

export function tasksTable(tasks, { showTenant = true } = {}) {
  if (!tasks.length) return h('p.empty', 'No task yet.');
  const rows = tasks.map((t) => {
    const cur = currentStep(t);
    return h('tr', { 'data-task': t.id },
      h('th', { scope: 'row' }, h('a', { href: `#/tasks/${t.id}` }, `#${t.id}`)),
      h('td', taskTitle(t)),
      showTenant ? h('td', t.tenant || '—', h('span.muted', ` on ${t.cluster || '—'}`)) : null,
      h('td', badge(t.status)),
      h('td', cur ? h('span', cur.name, cur.status === 'FAILED' && cur.error ? h('div.small.err-text', cur.error.message) : null) : '—'),
      h('td', t.created_by || '—'),
      h('td', timeEl(t.created_at)),
      h('td.num', fmtDuration(t.duration_ms)));
  });
  return h('div.table-wrap', h('table.data',
    h('caption.sr-only', 'Tasks'),
    h('thead', h('tr', ['Task', 'Type', showTenant ? 'Tenant' : null, 'Status', 'Step', 'Started by', 'Created', 'Duration'].filter(Boolean).map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows)));
}

export async function tasksPage(ctx, main) {
  document.title = 'Tasks · tenback';
  const status = h('select#task-status', { 'aria-label': 'Status' },
    ['', 'RUNNING', 'FAILED', 'SUCCEEDED', 'CANCELLED'].map((s) => h('option', { value: s }, s || 'All statuses')));
  const body = h('div', loading());
  main.append(h('div.page-head', h('h1', 'Tasks'), h('div.head-actions', h('label.inline', { for: 'task-status' }, 'Status '), status)), body);
  let timer = null;
  let stopped = false;
  async function load() {
    clearTimeout(timer);
    try {
      const q = status.value ? `?status=${encodeURIComponent(status.value)}` : '';
      const tasks = await get('/tasks' + q);
      if (stopped) return;
      fill(body, tasksTable(tasks));
      if (tasks.some((t) => t.status === 'RUNNING')) timer = setTimeout(load, 2000);
    } catch (err) {
      if (!stopped && err.status !== 401) fill(body, errorBox(err, 'Cannot list tasks'));
    }
  }
  status.addEventListener('change', load);
  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function stepProgress(s) {
  const total = s.bytes_total || 0;
  const done = s.bytes_done || 0;
  if (!total && !done && !s.files_done) return null;
  const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : null;
  let rate = s.rate_bytes_per_s;
  let eta = s.eta_s;
  if ((rate === null || rate === undefined) && s.status === 'RUNNING') {
    const ms = elapsedMs(s.started_at);
    if (ms && ms > 500) rate = Math.round(done / (ms / 1000));
  }
  if ((eta === null || eta === undefined) && rate && total && s.status === 'RUNNING') eta = Math.max(0, Math.round((total - done) / rate));
  const label = `${s.name} progress`;
  return h('div.progress-box', { 'data-role': 'progress' },
    pct !== null ? h('div.progress', { role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct },
      h('div.progress-bar', { style: { width: pct + '%' } })) : null,
    h('div.progress-text.small',
      h('span.bytes', { 'data-bytes-done': done }, `${fmtBytes(done)}${total ? ' of ' + fmtBytes(total) : ''}${pct !== null ? ` (${pct} %)` : ''}`),
      s.files_done ? h('span', ` · ${s.files_done} files`) : null,
      rate ? h('span.rate', ` · ${fmtBytes(rate)}/s`) : null,
      // Too early for an estimate until a little of the work is done.
      s.status === 'RUNNING' && eta !== null && eta !== undefined && total && done / total >= 0.02 ? h('span.eta', ` · ${fmtSeconds(eta)} left`) : null));
}

function stepItem(s, i) {
  const dur = s.duration_ms ?? (s.status === 'RUNNING' ? elapsedMs(s.started_at) : null);
  return h('li.step', { class: 'step-' + s.status.toLowerCase(), 'data-step': s.name, 'data-status': s.status },
    h('div.step-marker', { 'aria-hidden': 'true' }, s.status === 'SUCCEEDED' ? '✓' : s.status === 'FAILED' ? '!' : String(i + 1)),
    h('div.step-main',
      h('div.step-head',
        h('span.step-name', s.name),
        badge(s.status),
        h('span.step-time.small.muted',
          s.started_at ? ['started ', timeEl(s.started_at)] : 'not started',
          dur !== null && dur !== undefined ? ` · ${fmtDuration(dur)}` : '',
          s.attempts > 1 ? ` · attempt ${s.attempts}` : '')),
      s.status === 'RUNNING' || s.bytes_done ? stepProgress(s) : null,
      s.error ? h('div.step-error', { role: s.status === 'FAILED' ? 'alert' : null },
        h('div.err-message', s.error.message),
        s.error.detail ? h('div.err-detail', s.error.detail) : null,
        s.error.hint ? h('div.err-hint', h('strong', 'What to do: '), s.error.hint) : null,
        s.error.code ? h('div.small.muted', 'code ', s.error.code) : null) : null,
      s.log ? h('details.step-log', { 'data-key': 'log:' + s.name }, h('summary', 'Log'), h('pre', s.log)) : null));
}

// The seed's notices, where they apply.
function notices(t, tenantId) {
  const out = [];
  const failed = (t.steps || []).find((s) => s.status === 'FAILED' && s.error);
  if (!failed || t.status !== 'FAILED') return out;
  const msg = failed.error.message || '';
  if (msg.includes(MSG_NEED_FULL)) {
    out.push(h('div.notice', { role: 'note', 'data-notice': 'need-full' },
      h('h2.notice-title', 'Notice'),
      h('p', 'For physical backup, you must perform a full backup before you can perform an incremental backup. This tenant has no completed full backup in this storage yet.'),
      h('p', 'Take a full backup first: ',
        tenantId ? h('a', { href: `#/tenants/${seg(tenantId)}?backup=full` }, 'Back up Now with Full') : h('strong', 'Back up Now with Full'),
        ', then run the incremental backup again.')));
  }
  if (msg.includes(MSG_NEED_COMPACTION)) {
    out.push(h('div.notice', { role: 'note', 'data-notice': 'need-compaction' },
      h('h2.notice-title', 'Notice'),
      h('p', 'The checkpoint that starts a full backup could not be taken (the backup role needs pg_checkpoint or superuser, or the checkpoint timed out).'),
      h('p', h('a', { href: `#/clusters/${seg(t.cluster)}?task=${t.id}`, 'data-action': 'open-compaction' }, 'Perform a major compaction'),
        ' on cluster ', h('strong', t.cluster), ' (or grant pg_checkpoint to the backup role), and click ', h('strong', 'Retry'), '.')));
  }
  return out;
}

export async function taskPage(ctx, main) {
  const id = ctx.params[0];
  document.title = `Task ${id} · tenback`;
  const head = h('div.page-head');
  const body = h('div', loading());
  const crumbs = h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/tasks' }, 'Tasks'), ' / ', h('span', { 'aria-current': 'page' }, `Task ${id}`));
  const live = h('div.sr-only', { 'aria-live': 'polite' });
  main.append(crumbs, head, live, body);
  const cache = {};
  let timer = null;
  let stopped = false;
  let lastStatus = null;
  let busy = false;
  let tenantId = null;

  async function act(kind) {
    if (busy) return;
    if (kind === 'cancel' && !(await confirmDialog('Cancel the task?', `Task ${id} stops at its next check point and its partial backup set is removed.`, 'Cancel the task'))) return;
    busy = true;
    try {
      await post(`/tasks/${id}/${kind}`);
      ctx.toast(kind === 'retry' ? `Task ${id}: retrying from the failed step` : `Task ${id}: cancel requested`, 'ok');
    } catch (err) {
      if (err.status !== 401) prependTo(body, errorBox(err, kind === 'retry' ? 'Retry failed' : 'Cancel failed'));
    } finally {
      busy = false;
    }
    refresh();
  }

  function render(t) {
    const allowed = can(ctx.role, 'operator');
    const why = allowed ? null : 'Needs the operator or admin role';
    const actions = h('div.head-actions');
    if (t.status === 'FAILED') {
      actions.append(h('button.btn.btn-primary#task-retry', { type: 'button', disabled: !allowed, title: why || 'Run the failed step again and go on', onclick: () => act('retry') }, 'Retry'));
    }
    if (t.status === 'RUNNING' || t.status === 'FAILED') {
      actions.append(h('button.btn#task-cancel', { type: 'button', disabled: !allowed || t.cancel_requested, title: why || '', onclick: () => act('cancel') }, t.cancel_requested ? 'Cancelling…' : 'Cancel'));
    }
    const focused = document.activeElement && document.activeElement.id;
    fill(head, 
      h('div',
        h('h1', `${taskTitle(t)} · task ${t.id}`),
        h('p.subtitle', 'Tenant ', tenantId ? h('a', { href: `#/tenants/${seg(tenantId)}` }, t.tenant) : h('strong', t.tenant || '—'),
          ' on cluster ', h('a', { href: `#/clusters/${seg(t.cluster)}` }, t.cluster))),
      actions);
    if (focused && (focused === 'task-retry' || focused === 'task-cancel')) {
      const again = document.getElementById(focused);
      if (again) again.focus();
    }
    const p = t.params && typeof t.params === 'object' ? t.params : null;
    // Keep open what the user opened (logs, parameters) across the 1 s refresh.
    const openLogs = new Set([...body.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    fill(body, 
      h('div.task-summary',
        h('div', h('span.label', 'Status'), h('span#task-status', { 'data-status': t.status }, badge(t.status))),
        h('div', h('span.label', 'Started by'), t.created_by || '—'),
        h('div', h('span.label', 'Created'), timeEl(t.created_at)),
        h('div', h('span.label', 'Finished'), timeEl(t.finished_at)),
        h('div', h('span.label', 'Duration'), fmtDuration(t.duration_ms ?? (t.status === 'RUNNING' ? elapsedMs(t.started_at || t.created_at) : null))),
        p && (p.storage || p.storage_uri) ? h('div', h('span.label', 'Storage'), p.storage || p.storage_uri) : null,
        p && p.set ? h('div', h('span.label', 'Backup set'), p.set) : null,
        p && (p.target_time || p.target_lsn || p.target_xid || p.target_name || p.target)
          ? h('div', h('span.label', 'Target'), p.target_time || p.target_lsn || p.target_xid || p.target_name || p.target) : null,
        p && p.to ? h('div', h('span.label', 'Restored to'), h('span.mono', p.to), p.port ? ` · port ${p.port}` : '') : null,
        p && p.as ? h('div#task-restored-as', h('span.label', 'Restored as'), 'database ', h('strong.mono', p.as), ' in cluster ',
          h('a', { href: `#/clusters/${seg(p.into_cluster || t.cluster)}` }, p.into_cluster || t.cluster), p.jobs ? ` · ${p.jobs} parallel jobs` : '') : null),
      t.error && t.status !== 'SUCCEEDED' && !(t.steps || []).some((x) => x.error) ? h('div.alert.alert-error', { role: 'alert' }, t.error) : null,
      notices(t, tenantId),
      h('section', { 'aria-labelledby': 'steps-title' },
        h('h2#steps-title', 'Steps'),
        h('ol.steps', (t.steps || []).map(stepItem))),
      p ? h('details.params', { 'data-key': 'params' }, h('summary', 'Parameters'), h('pre', JSON.stringify(p, null, 2))) : null);
    for (const d of body.querySelectorAll('details')) if (openLogs.has(d.dataset.key)) d.open = true;
    if (lastStatus !== t.status) {
      live.textContent = `Task ${t.id} is ${t.status.toLowerCase()}`;
      lastStatus = t.status;
    }
  }

  async function refresh() {
    clearTimeout(timer);
    if (stopped) return;
    try {
      const t = await get(`/tasks/${seg(id)}`);
      if (stopped) return;
      if (!tenantId) tenantId = await tenantIdOf(t.cluster, t.tenant, cache);
      if (stopped) return;
      render(t);
      if (t.status === 'RUNNING') timer = setTimeout(refresh, POLL_MS);
      else timer = setTimeout(refresh, 5000);  // a retry from elsewhere (CLI) shows up
    } catch (err) {
      if (stopped || err.status === 401) return;
      fill(body, errorBox(err, `Cannot show task ${id}`));
      if (err.status !== 404) timer = setTimeout(refresh, 3000);
    }
  }
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
