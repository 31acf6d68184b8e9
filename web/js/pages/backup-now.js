// The Back up Now dialog, as in the seed (OCP "Back up now"): version and backup
// method identified automatically; Storage Configuration from the strategy when there
// is one, otherwise chosen or entered here, with Test; data backup mode; Backup Now.
import { get, post, seg } from '../api.js';
import { h, can, errorBox, fmtBytes, fill } from '../util.js';
import { openDialog } from '../dialog.js';

const STORAGE_NAME_RE = /^[A-Za-z0-9_-]{1,63}$/;

function testResult(r) {
  return h('div.test-result', { 'data-ok': String(!!r.ok) },
    h('p', r.ok ? h('strong.ok-text', '✓ Storage test passed') : h('strong.err-text', '✗ Storage test failed'),
      r.free_bytes !== null && r.free_bytes !== undefined ? h('span.muted', ` · ${fmtBytes(r.free_bytes)} free`) : null),
    h('ul.checks', (r.checks || []).map((c) => h('li', { class: c.ok ? 'check-ok' : 'check-fail', 'data-check': c.name },
      h('span.check-mark', { 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'),
      h('span.check-name', c.name), ' ',
      h('span.sr-only', c.ok ? 'passed' : 'failed'),
      c.message ? h('span.check-msg', ` — ${c.message}`) : null,
      c.elapsed_ms !== undefined && c.elapsed_ms !== null ? h('span.muted.small', ` (${c.elapsed_ms} ms)`) : null))));
}

// openBackupNow(ctx, tenantDetail, {mode}) : the dialog; on success navigates to the task
export async function openBackupNow(ctx, t, opts = {}) {
  let storages = [];
  try {
    storages = await get('/storages');
  } catch {
    storages = [];
  }
  const isAdmin = can(ctx.role, 'admin');
  const strat = t.strategy;
  const clusterStorage = t.cluster_live && t.cluster_live.storage;
  const physical = t.backup_method !== 'logical';
  const modes = t.modes || { full: true, incremental: physical };
  const errBox = h('div.dialog-error', { 'aria-live': 'assertive' });

  // ---- Storage Configuration
  const storageSec = h('fieldset.form-section', h('legend', 'Storage Configuration'));
  let storageChoice;   // () => {storage?: name, create?: {name, uri, ...}, test: {path, body}}
  if (strat && strat.storage) {
    const st = storages.find((s) => s.name === strat.storage);
    storageSec.append(
      h('p.small.muted', 'Filled in from the tenant\'s backup strategy.'),
      h('dl.kv', h('dt', 'Storage'), h('dd', h('strong#bn-storage-name', strat.storage)),
        h('dt', 'URI'), h('dd.mono.wrap', st ? st.uri : '—')));
    storageChoice = () => ({ test: { path: `/storages/${seg(strat.storage)}/test`, body: {} } });
  } else if (strat && clusterStorage) {
    const isUri = /^[a-z0-9]+:\/\//i.test(clusterStorage);
    storageSec.append(
      h('p.small.muted', 'Filled in from the tenant\'s backup strategy, which uses the cluster\'s storage.'),
      h('dl.kv', h('dt', 'Storage'), h('dd.mono.wrap', { id: 'bn-storage-name' }, clusterStorage)));
    storageChoice = () => ({ test: isUri ? { path: '/storages/test', body: { uri: clusterStorage } } : { path: `/storages/${seg(clusterStorage)}/test`, body: {} } });
  } else {
    const sel = h('select#bn-storage', { 'aria-describedby': 'bn-storage-help' });
    if (clusterStorage) sel.append(h('option', { value: '@cluster' }, `The cluster's storage: ${clusterStorage}`));
    for (const s of storages) sel.append(h('option', { value: 'name:' + s.name }, `${s.name}: ${s.uri}`));
    sel.append(h('option', { value: '@new', disabled: !isAdmin }, isAdmin ? 'A new storage (enter a URI)…' : 'A new storage (an administrator adds it)'));
    const nameIn = h('input#bn-new-name', { placeholder: 'e.g. nfs-backups', autocomplete: 'off', 'aria-describedby': 'bn-new-help' });
    const uriIn = h('input#bn-new-uri', { placeholder: 'file:///mnt/backup or s3://bucket/prefix', autocomplete: 'off', spellcheck: 'false' });
    const akIn = h('input#bn-new-ak', { autocomplete: 'off' });
    const skIn = h('input#bn-new-sk', { type: 'password', autocomplete: 'new-password' });
    const s3Fields = h('div.s3-fields', { hidden: true },
      h('div.field', h('label', { for: 'bn-new-ak' }, 'Access key'), akIn),
      h('div.field', h('label', { for: 'bn-new-sk' }, 'Secret key'), skIn));
    const newBox = h('div.new-storage', { hidden: true },
      h('div.field', h('label', { for: 'bn-new-uri' }, 'URI'), uriIn),
      h('div.field', h('label', { for: 'bn-new-name' }, 'Save as'), nameIn,
        h('div#bn-new-help.small.muted', 'A name for this storage configuration (letters, digits, - and _); it is saved when the backup starts.')),
      s3Fields);
    uriIn.addEventListener('input', () => { s3Fields.hidden = !uriIn.value.startsWith('s3://'); });
    const sync = () => { newBox.hidden = sel.value !== '@new'; };
    sel.addEventListener('change', () => { sync(); fill(results); });
    storageSec.append(
      h('p.small.muted#bn-storage-help', 'The tenant has no backup strategy: choose where this backup goes. ',
        h('a', { href: `#/tenants/${seg(t.id)}?tab=strategy`, onclick: () => d.close() }, 'Create a backup strategy'), ' to fill this in next time.'),
      h('div.field', h('label', { for: 'bn-storage' }, 'Storage'), sel),
      newBox);
    storageChoice = () => {
      const v = sel.value;
      if (v === '@cluster') {
        const isUri = /^[a-z0-9]+:\/\//i.test(clusterStorage);
        return { test: isUri ? { path: '/storages/test', body: { uri: clusterStorage } } : { path: `/storages/${seg(clusterStorage)}/test`, body: {} } };
      }
      if (v.startsWith('name:')) {
        const n = v.slice(5);
        return { storage: n, test: { path: `/storages/${seg(n)}/test`, body: {} } };
      }
      const uri = uriIn.value.trim();
      const name = nameIn.value.trim();
      const create = { name, uri };
      if (uri.startsWith('s3://')) {
        if (akIn.value) create.access_key = akIn.value;
        if (skIn.value) create.secret_key = skIn.value;
      }
      return { storage: name, create, test: { path: '/storages/test', body: { uri } }, uriIn, nameIn };
    };
    sync();
  }
  const results = h('div#bn-test-results', { 'aria-live': 'polite' });
  const testBtn = h('button.btn#bn-test', { type: 'button', disabled: !can(ctx.role, 'operator') }, 'Test');
  testBtn.addEventListener('click', async () => {
    const c = storageChoice();
    if (c.uriIn && !c.test.body.uri) {
      fill(results, h('p.err-text', 'Enter the storage URI first.'));
      c.uriIn.focus();
      return;
    }
    testBtn.disabled = true;
    testBtn.textContent = 'Testing…';
    fill(results, h('p.muted', 'Testing the storage (write, read, list, delete)…'));
    try {
      fill(results, testResult(await post(c.test.path, c.test.body)));
    } catch (err) {
      if (err.status !== 401) fill(results, errorBox(err, 'Test failed'));
    } finally {
      const lost = !d.dialog.contains(document.activeElement);
      testBtn.disabled = false;
      testBtn.textContent = 'Test';
      // A disabled button loses the focus: give it back, so that the keyboard stays in the dialog.
      if (lost && d.dialog.isConnected) testBtn.focus();
    }
  });
  storageSec.append(h('div.test-row', testBtn, h('span.small.muted', 'Checks that the storage can be written, read, listed and cleaned.')), results);

  // ---- Data backup mode
  const wantIncr = opts.mode === 'incremental';
  const fullR = h('input#bn-mode-full', { type: 'radio', name: 'bn-mode', value: 'full', checked: !wantIncr || !physical });
  // Logical: full only (disabled).  Physical without a full: still selectable, so
  // that the check step can say it (as in the seed); the reason is shown.
  const incrR = h('input#bn-mode-incr', { type: 'radio', name: 'bn-mode', value: 'incremental', checked: wantIncr && physical, disabled: !physical, 'aria-describedby': 'bn-incr-reason' });
  const reason = !modes.incremental && modes.incremental_reason ? modes.incremental_reason : null;
  const modeSec = h('fieldset.form-section', h('legend', 'Data Backup Mode'),
    h('div.radio-row',
      h('label.radio', fullR, ' Full'),
      h('label.radio', { class: physical ? '' : 'is-disabled' }, incrR, ' Incremental')),
    reason ? h('p#bn-incr-reason.small', { class: physical ? 'warn-text' : 'muted' },
      physical ? [h('strong', 'Incremental: '), reason, '. The step "Check if ready to data backup" refuses it until a full backup exists.']
        : [h('strong', 'Incremental is not available: '), reason]) : h('span#bn-incr-reason'),
    h('p.small.muted', physical ? 'Physical backup: a full backup copies all of the tenant\'s files; an incremental one copies the pages changed since its parent.' : 'Logical backup supports only full backup: pg_dump of the tenant database, with the roles it uses.'));

  // ---- Identified automatically
  const ident = h('section.form-section.ident', { 'aria-labelledby': 'bn-ident' },
    h('h3#bn-ident', 'Tenant'),
    h('dl.kv',
      h('dt', 'Tenant'), h('dd', h('strong', t.name), ' on cluster ', t.cluster),
      h('dt', 'PostgreSQL Version'), h('dd#bn-version', t.version || (t.version_num ? String(t.version_num) : 'unknown')),
      h('dt', 'Backup Method'), h('dd', h('span#bn-method', t.backup_method || 'unknown'), t.backup_method_reason ? h('div.small.muted', t.backup_method_reason) : null)),
    h('p.small.muted', 'Identified automatically from the running cluster.'));

  const goBtn = h('button.btn.btn-primary#bn-go', { type: 'button' }, 'Backup Now');
  const cancelBtn = h('button.btn', { type: 'button', onclick: () => d.close() }, 'Cancel');
  const d = openDialog({
    title: 'Back up Now',
    wide: true,
    body: h('div.backup-now', errBox, ident, storageSec, modeSec),
    footer: [cancelBtn, goBtn],
  });
  d.dialog.id = 'backup-now-dialog';

  goBtn.addEventListener('click', async () => {
    fill(errBox);
    const c = storageChoice();
    const mode = incrR.checked ? 'incremental' : 'full';
    if (c.create) {
      if (!c.create.uri) {
        errBox.append(h('div.alert.alert-error', { role: 'alert' }, 'Enter the storage URI.'));
        c.uriIn.focus();
        return;
      }
      if (!STORAGE_NAME_RE.test(c.create.name)) {
        errBox.append(h('div.alert.alert-error', { role: 'alert' }, 'Give the new storage a name: letters, digits, - and _ (at most 63).'));
        c.nameIn.focus();
        return;
      }
    }
    goBtn.disabled = true;
    goBtn.textContent = 'Starting…';
    try {
      if (c.create) await post('/storages', c.create);
      const body = { mode };
      // the method shown is the method run (it would otherwise be the strategy's)
      if (t.backup_method === 'physical' || t.backup_method === 'logical') body.method = t.backup_method;
      if (c.storage) body.storage = c.storage;
      const task = await post(`/tenants/${seg(t.id)}/backups`, body);
      d.close();
      ctx.toast(`Backup task ${task.id} started`, 'ok');
      ctx.navigate(`#/tasks/${task.id}`);
    } catch (err) {
      if (err.status === 401) return;
      const m = /task (\d+)/.exec(err.message || '');
      errBox.append(errorBox(err, 'The backup did not start'));
      if (err.status === 409 && m) errBox.append(h('p', h('a', { href: `#/tasks/${m[1]}`, onclick: () => d.close() }, `Open task ${m[1]}`)));
      goBtn.disabled = false;
      goBtn.textContent = 'Backup Now';
      goBtn.focus();
    }
  });
  return d;
}
