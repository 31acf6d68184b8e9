// Clusters: the list (status, version, WAL archive health) and one cluster's page
// with the checkpoint action ("Perform a major compaction" in OCP's words).
import { get, post, seg } from '../api.js';
import { h, clear, badge, fmtBytes, timeEl, can, errorBox, loading, fill, prependTo } from '../util.js';

const CHECKPOINT_LABEL = 'Perform a major compaction';

function archiveHealth(live) {
  if (!live || !live.reachable) return h('span.muted', 'unknown (cluster unreachable)');
  const a = live.archiving;
  if (!a) return h('span.muted', '—');
  const failedLater = a.last_failed_time && (!a.last_archived_time || a.last_failed_time > a.last_archived_time);
  return h('div.archive-health',
    a.ok && !failedLater ? badge('ok', 'Healthy') : badge('failed', a.ok ? 'Failing lately' : 'Not archiving'),
    h('div.small', `${a.archived_count ?? 0} archived, ${a.failed_count ?? 0} failed`),
    a.last_archived_wal ? h('div.small.mono', 'last ', a.last_archived_wal) : null,
    a.last_archived_time ? h('div.small', timeEl(a.last_archived_time)) : null);
}

function clusterStatus(c) {
  const live = c.live || {};
  if (c.live && !live.reachable) return h('div', badge('failed', 'Unreachable'), live.error ? h('div.small.err-text', live.error) : null);
  const st = live.status || c.status;
  return h('div', badge(st === 'NORMAL' ? 'ok' : 'warn', st === 'NORMAL' ? 'Normal' : st),
    live.version_changed ? h('div.small.err-text', 'version changed since registration') : null);
}

// The checkpoint button with its result line; ctx gives role and toast.
function checkpointControl(ctx, name, { compact } = {}) {
  const out = h('div.cp-result', { role: 'status', 'aria-live': 'polite' });
  const allowed = can(ctx.role, 'operator');
  const btn = h('button.btn', {
    type: 'button',
    class: compact ? 'btn-small' : '',
    'data-action': 'checkpoint',
    disabled: !allowed,
    title: allowed ? 'Runs CHECKPOINT on the cluster, so that a full backup starts from a fresh one' : 'Needs the operator or admin role',
  }, CHECKPOINT_LABEL);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    fill(out, h('span.muted', 'Checkpoint running…'));
    try {
      const r = await post(`/clusters/${seg(name)}/checkpoint`);
      fill(out, h('span.ok-text', `Compaction (checkpoint) done${r && r.finished_at ? ' at ' : ''}`, r && r.finished_at ? timeEl(r.finished_at) : '', '.'));
      ctx.toast(`Checkpoint of cluster ${name} done`, 'ok');
    } catch (err) {
      if (err.status === 401) return;
      fill(out, errorBox(err, 'Compaction failed'));
    } finally {
      btn.disabled = !allowed;
    }
  });
  return h('div.cp-control', btn, out);
}

export async function clustersPage(ctx, main) {
  document.title = 'Clusters · tenback';
  const body = h('div', loading());
  main.append(h('div.page-head', h('h1', 'Clusters')), body);
  let list;
  try {
    list = await get('/clusters');
  } catch (err) {
    fill(body, errorBox(err, 'Cannot list clusters'));
    return;
  }
  if (!ctx.alive()) return;
  if (!list.length) {
    fill(body, h('p.empty', 'No cluster is registered yet. Register one with ', h('code', 'tenback cluster add'), ' or POST /api/v1/clusters.'));
    return;
  }
  const details = await Promise.all(list.map((c) => get(`/clusters/${seg(c.name)}`).catch(() => c)));
  if (!ctx.alive()) return;
  const rows = details.map((c) => h('tr', { 'data-cluster': c.name },
    h('th', { scope: 'row' }, h('a', { href: `#/clusters/${seg(c.name)}` }, c.name)),
    h('td', clusterStatus(c)),
    h('td', c.live && c.live.version ? c.live.version : String(c.pg_version || '—')),
    h('td', c.live && c.live.backup_method ? h('span', { title: c.live.backup_method_reason || '' }, c.live.backup_method) : '—'),
    h('td', archiveHealth(c.live)),
    h('td.mono.small.wrap', c.storage),
    h('td', checkpointControl(ctx, c.name, { compact: true }))));
  fill(body, h('div.table-wrap', h('table.data',
    h('caption.sr-only', 'Registered clusters'),
    h('thead', h('tr', ['Name', 'Status', 'PostgreSQL version', 'Backup method', 'WAL archive', 'Storage', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', rows))));
}

export async function clusterPage(ctx, main) {
  const name = ctx.params[0];
  document.title = `Cluster ${name} · tenback`;
  const fromTask = ctx.query.get('task');
  const body = h('div', loading());
  main.append(
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/clusters' }, 'Clusters'), ' / ', h('span', { 'aria-current': 'page' }, name)),
    h('div.page-head', h('h1', `Cluster ${name}`)),
    body);
  let c, tenants;
  try {
    [c, tenants] = await Promise.all([get(`/clusters/${seg(name)}`), get('/tenants').catch(() => [])]);
  } catch (err) {
    fill(body, errorBox(err, `Cannot show cluster ${name}`));
    return;
  }
  if (!ctx.alive()) return;
  const live = c.live || {};
  const a = live.archiving || {};
  const cp = checkpointControl(ctx, name);
  const statusCtl = can(ctx.role, 'admin') ? statusControl(ctx, c, body) : null;
  fill(body, 
    fromTask ? h('div.alert.alert-info', { role: 'note' },
      'After the compaction succeeds, go back to ', h('a', { href: `#/tasks/${seg(fromTask)}` }, `task ${fromTask}`), ' and click ', h('strong', 'Retry'), '.') : null,
    h('div.cards',
      h('section.card', { 'aria-labelledby': 'c-state' }, h('h2#c-state', 'State'),
        h('dl.kv',
          h('dt', 'Status'), h('dd', clusterStatus(c)),
          h('dt', 'PostgreSQL version'), h('dd', live.version || String(c.pg_version || '—')),
          h('dt', 'Backup method'), h('dd', live.backup_method || '—', live.backup_method_reason ? h('div.small.muted', live.backup_method_reason) : null),
          h('dt', 'System identifier'), h('dd.mono', c.system_id || '—'),
          h('dt', 'Data directory'), h('dd.mono', c.pgdata || '—'),
          h('dt', 'Connection'), h('dd.mono.wrap', c.conninfo || '—'),
          h('dt', 'Storage'), h('dd.mono.wrap', c.storage || '—'),
          h('dt', 'Compression'), h('dd', c.compress || 'default'),
          h('dt', 'Registered'), h('dd', timeEl(c.created_at))),
        statusCtl),
      h('section.card', { 'aria-labelledby': 'c-wal' }, h('h2#c-wal', 'WAL archive'),
        h('div', archiveHealth(live)),
        h('dl.kv',
          h('dt', 'archive_command'), h('dd.mono.wrap.small', a.archive_command || '—'),
          h('dt', 'Last archived'), h('dd', h('span.mono', a.last_archived_wal || '—'), ' ', a.last_archived_time ? timeEl(a.last_archived_time) : ''),
          h('dt', 'Last failed'), h('dd', h('span.mono', a.last_failed_wal || '—'), ' ', a.last_failed_time ? timeEl(a.last_failed_time) : ''))),
      h('section.card#compaction', { 'aria-labelledby': 'c-cp' }, h('h2#c-cp', 'Major compaction (checkpoint)'),
        h('p.small.muted', 'A full physical backup starts from a fresh checkpoint. When its step "Start cluster compact if necessary" fails with "Cluster compaction needed before full data backup", run it here (or grant pg_checkpoint to the backup role), then Retry the task.'),
        cp)),
    h('section', { 'aria-labelledby': 'c-ten' }, h('h2#c-ten', 'Tenants'),
      tenantTable(tenants.filter((t) => t.cluster === name))));
  if (fromTask) {
    const btn = cp.querySelector('button');
    if (btn && !btn.disabled) btn.focus();
  }
}

function statusControl(ctx, c, body) {
  const next = c.status === 'UPGRADING' ? 'NORMAL' : 'UPGRADING';
  const btn = h('button.btn.btn-small', { type: 'button' }, next === 'UPGRADING' ? 'Mark upgrading' : 'Mark normal (upgrade finished)');
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await post(`/clusters/${seg(c.name)}/status`, { status: next });
      ctx.toast(`Cluster ${c.name} is now ${next}`, 'ok');
      ctx.navigate(`#/clusters/${seg(c.name)}`);
    } catch (err) {
      if (err.status !== 401) prependTo(body, errorBox(err, 'Cannot change the status'));
      btn.disabled = false;
    }
  });
  return h('div.card-actions', btn);
}

export function tenantTable(tenants) {
  if (!tenants.length) return h('p.empty', 'No tenant.');
  const rows = tenants.map((t) => {
    const lb = t.last_backup;
    return h('tr', { 'data-tenant': t.name, 'data-id': t.id },
      h('th', { scope: 'row' }, h('a', { href: `#/tenants/${seg(t.id)}` }, t.name)),
      h('td', t.cluster),
      h('td.num', fmtBytes(t.size_bytes)),
      h('td', t.backup_method ? h('span', { title: t.backup_method_reason || '' }, t.backup_method) : '—'),
      h('td', lb ? h('span', lb.type, ' · ', lb.stop_time ? timeEl(lb.stop_time) : h('span.muted', 'not finished')) : h('span.muted', 'never')),
      h('td', lb ? badge(lb.status) : '—'),
      h('td', t.next_backup ? h('span', t.next_backup.mode, ' · ', timeEl(t.next_backup.time)) : h('span.muted', 'no strategy')),
      h('td', h('a.btn.btn-small', { href: `#/tenants/${seg(t.id)}` }, 'Backup & Recovery')));
  });
  return h('div.table-wrap', h('table.data',
    h('caption.sr-only', 'Tenants'),
    h('thead', h('tr', ['Tenant', 'Cluster', 'Size', 'Backup method', 'Last backup', 'Result', 'Next backup', ''].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows)));
}

export { CHECKPOINT_LABEL, clear };
