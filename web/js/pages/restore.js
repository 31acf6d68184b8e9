// The Restore dialog.  A physical set (or a point in time within the restorable
// window) goes to a new data directory and port; a logical set (pg_dump) is restored
// as a new database of a registered cluster.  Either way a "restore" task is started
// and opened.
// POST /api/v1/tenants/{id}/restores
//   physical: {set?, target_time?|target?, to, port, start, socket_dir?}
//   logical:  {set, as, into_cluster?, jobs?}
import { get, post, seg } from '../api.js';
import { h, errorBox, fmtTime, fmtBytes, fill } from '../util.js';
import { openDialog } from '../dialog.js';
import { segments, inWindow, timeline } from './timeline.js';

const pad = (n) => String(n).padStart(2, '0');
// value of <input type="datetime-local" step="1">, read as UTC
function utcValue(d) {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
function parseUtcInput(v) {
  if (!v) return null;
  const s = v.length === 16 ? v + ':00' : v;
  const d = new Date(s + 'Z');
  return Number.isNaN(d.getTime()) ? null : d;
}
function apiTime(d) {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+00`;
}

// The name of the new database of a logical restore: what PostgreSQL takes as a
// (quoted) identifier and the API accepts (1 to 63 bytes), not a template.  Returns
// the problem, or null.
export function dbNameProblem(name) {
  if (!name) return 'Enter the name of the new database.';
  if (name !== name.trim()) return 'The database name begins or ends with a space: remove it.';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'The database name contains a control character.';
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > 63) return `The database name is ${bytes} bytes long: PostgreSQL names are at most 63 bytes.`;
  if (name === 'template0' || name === 'template1') return `${name} is one of PostgreSQL's template databases: choose another name.`;
  return null;
}

// server_version_num as its major version: 150014 -> 15, 90624 -> 9.6
const major = (v) => (!v ? null : v >= 100000 ? String(Math.floor(v / 10000)) : `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}`);

export function openRestore(ctx, t, sets, windowRanges, opts = {}) {
  const completed = (sets || []).filter((s) => s.status === 'completed');
  const byId = new Map(completed.map((s) => [s.id, s]));
  const segs = segments(windowRanges);
  const errBox = h('div.dialog-error', { 'aria-live': 'assertive' });

  const kindSet = h('input#rs-kind-set', { type: 'radio', name: 'rs-kind', value: 'set', checked: true });
  const kindTime = h('input#rs-kind-time', { type: 'radio', name: 'rs-kind', value: 'time', disabled: !segs.length });
  const kindLatest = h('input#rs-kind-latest', { type: 'radio', name: 'rs-kind', value: 'latest', disabled: !segs.length });
  const setSel = h('select#rs-set', { 'aria-describedby': 'rs-set-help' }, completed.map((s) => h('option', { value: s.id, selected: s.id === opts.set, 'data-method': s.method || 'physical' },
    `${s.id} · ${s.method === 'logical' ? 'logical' : 'physical'} ${s.type} · ended ${fmtTime(s.stop_time)} · ${fmtBytes(s.size_bytes)}`)));
  const last = segs.length ? segs[segs.length - 1].b : null;
  const timeIn = h('input#rs-time', { type: 'datetime-local', step: '1', value: last ? utcValue(last) : '', 'aria-describedby': 'rs-time-help' });
  const setHelp = h('p#rs-set-help.small.muted');
  const setBox = h('div.field', h('label', { for: 'rs-set' }, 'Backup set'), setSel, setHelp);
  const timeBox = h('div.field', { hidden: true }, h('label', { for: 'rs-time' }, 'Point in time (UTC)'), timeIn,
    h('p#rs-time-help.small.muted', segs.length ? ['Within the restorable window: ', segs.map((s, i) => [i ? '; ' : '', fmtTime(s.a), ' – ', fmtTime(s.b)])] : 'No restorable window yet.'));
  const kindRow = h('div.radio-row',
    h('label.radio', kindSet, ' A backup set'),
    h('label.radio', kindTime, ' A point in time'),
    h('label.radio', kindLatest, ' The latest point'));
  const windowBox = segs.length ? h('details.small', h('summary', 'Restorable window'), timeline(windowRanges, sets)) : null;

  // ---- physical: a new instance
  const toIn = h('input#rs-to', { value: opts.to || '', placeholder: '/var/lib/postgresql/restore/' + t.name, spellcheck: 'false', required: true, 'aria-describedby': 'rs-to-help' });
  const portIn = h('input#rs-port', { type: 'number', min: 1, max: 65535, value: opts.port || '', placeholder: 'e.g. 5440' });
  const startCb = h('input#rs-start', { type: 'checkbox', checked: true });
  const sockIn = h('input#rs-sock', { value: opts.socketDir || '', placeholder: 'default: the server\'s', spellcheck: 'false' });
  const physTarget = h('fieldset.form-section#rs-physical', h('legend', 'Target'),
    h('div.field', h('label', { for: 'rs-to' }, 'Target data directory'), toIn,
      h('p#rs-to-help.small.muted', 'An absolute path on the backup server, new or empty, writable by the tenback daemon.')),
    h('div.field-row',
      h('div.field', h('label', { for: 'rs-port' }, 'Port'), portIn),
      h('div.field', h('label', { for: 'rs-sock' }, 'Socket directory (optional)'), sockIn)),
    h('label.check', startCb, ' Start the restored instance when done'));

  // ---- logical: a new database of a registered cluster
  const asIn = h('input#rs-as', { value: opts.as || '', placeholder: `e.g. ${t.name}_copy`, spellcheck: 'false', autocomplete: 'off', required: true, 'aria-required': 'true', 'aria-describedby': 'rs-as-help rs-logical-note' });
  const clusterSel = h('select#rs-cluster', { 'aria-describedby': 'rs-cluster-help' },
    h('option', { value: t.cluster, selected: true }, `${t.cluster} (the tenant's own)`));
  const jobsIn = h('input#rs-jobs', { type: 'number', min: 1, max: 128, step: 1, value: opts.jobs || '', placeholder: '1', 'aria-describedby': 'rs-jobs-help' });
  const srcMajor = major(t.version_num);
  const logTarget = h('fieldset.form-section#rs-logical', { hidden: true }, h('legend', 'Target database'),
    h('p#rs-logical-note.alert.alert-info', { role: 'note' },
      h('strong', 'A logical set is restored as a new database. '),
      'tenback creates it with the source\'s encoding and locale, adds the roles it uses that the cluster lacks (existing roles are never changed), runs pg_restore, then sets the database\'s owner, grants and settings. ',
      'A database of that name that already exists is refused, and a failed restore drops the database it created. The source is not touched.'),
    h('div.field', h('label', { for: 'rs-as' }, 'New database name'), asIn,
      h('p#rs-as-help.small.muted', 'Up to 63 bytes, used exactly as typed (case-sensitive); not template0 or template1.')),
    h('div.field-row',
      h('div.field', h('label', { for: 'rs-cluster' }, 'Target cluster'), clusterSel,
        h('p#rs-cluster-help.small.muted', 'Any registered cluster whose PostgreSQL major version is at least the dump\'s',
          srcMajor ? ` (PostgreSQL ${srcMajor})` : '', '.')),
      h('div.field', h('label', { for: 'rs-jobs' }, 'Parallel jobs (optional)'), jobsIn,
        h('p#rs-jobs-help.small.muted', 'pg_restore --jobs: tables and indexes loaded in parallel, 1 to 128 (default 1).'))),
    h('p.small.muted', 'A dump holds no statistics: run ANALYZE on the new database once it is restored.'));
  // The registered clusters, filled in when they arrive (the tenant's own is there at once).
  get('/clusters').then((list) => {
    const want = clusterSel.value;
    fill(clusterSel, (list || []).map((c) => h('option', { value: c.name, selected: c.name === want },
      c.name, c.pg_version ? ` · PostgreSQL ${major(c.pg_version)}` : '', c.name === t.cluster ? ' (the tenant\'s own)' : '')));
    if (![...clusterSel.options].some((o) => o.value === want)) clusterSel.prepend(h('option', { value: want, selected: true }, `${want} (the tenant's own)`));
    clusterSel.value = want;
  }).catch(() => {});

  const intro = h('p#rs-intro');
  const fromLegend = h('legend');
  const isLogical = () => kindSet.checked && (byId.get(setSel.value) || {}).method === 'logical';
  const sync = () => {
    const logical = isLogical();
    kindRow.hidden = logical;
    if (windowBox) windowBox.hidden = logical;
    setBox.hidden = !kindSet.checked;
    timeBox.hidden = !kindTime.checked;
    physTarget.hidden = logical;
    logTarget.hidden = !logical;
    fill(intro, 'Restore tenant ', h('strong', t.name), ' of cluster ', t.cluster,
      logical ? ' from a logical backup (pg_dump) as a new database of a registered cluster. The source is not touched.'
        : ' into a new PostgreSQL instance. The source is not touched.');
    fromLegend.textContent = logical ? 'Restore from' : 'Restore to';
    fill(setHelp, logical ? 'A logical set restores the tenant as it was when its dump started (a point in time is for physical sets).'
      : 'Restores the set as it was when its backup ended (with the WAL it holds).');
  };
  for (const r of [kindSet, kindTime, kindLatest]) r.addEventListener('change', sync);
  setSel.addEventListener('change', () => { fill(errBox); sync(); });
  sync();

  const body = h('div.restore-form', errBox, intro,
    h('fieldset.form-section', fromLegend, kindRow, setBox, timeBox, windowBox),
    physTarget, logTarget);

  const goBtn = h('button.btn.btn-primary#rs-go', { type: 'button' }, 'Restore');
  const d = openDialog({ title: 'Restore', wide: true, body, footer: [h('button.btn', { type: 'button', onclick: () => d.close() }, 'Cancel'), goBtn] });
  d.dialog.id = 'restore-dialog';
  if (!completed.length) {
    errBox.append(h('div.alert.alert-warn', { role: 'alert' }, 'This tenant has no completed backup set: there is nothing to restore yet.'));
    goBtn.disabled = true;
  } else if (isLogical()) {
    asIn.focus();
  }

  // The logical request, or a problem with the field it is about.
  async function logicalRequest() {
    const name = asIn.value;
    const bad = dbNameProblem(name);
    if (bad) return { bad, el: asIn };
    const into = clusterSel.value || t.cluster;
    if (into === t.cluster && name === t.name) return { bad: `"${name}" is the tenant itself: a logical set is restored as a new database, under another name.`, el: asIn };
    const req = { set: setSel.value, as: name, into_cluster: into };
    if (jobsIn.value !== '') {
      const jobs = Number(jobsIn.value);
      if (!(Number.isInteger(jobs) && jobs >= 1 && jobs <= 128)) return { bad: 'Parallel jobs: a whole number from 1 to 128 (or leave it empty).', el: jobsIn };
      req.jobs = jobs;
    }
    // The restore refuses an existing database; say it before starting a task.
    const dbs = await get('/tenants').catch(() => null);
    if (dbs && dbs.some((x) => x.cluster === into && x.name === name)) {
      return { bad: `Database "${name}" already exists in cluster "${into}": a logical set is restored as a new database, choose another name.`, el: asIn };
    }
    return { req };
  }

  goBtn.addEventListener('click', async () => {
    fill(errBox);
    const fail = (text, el) => {
      errBox.append(h('div.alert.alert-error', { role: 'alert' }, text));
      if (el) el.focus();
    };
    let req = {};
    if (isLogical()) {
      goBtn.disabled = true;
      goBtn.textContent = 'Checking…';
      const r = await logicalRequest();
      goBtn.disabled = false;
      goBtn.textContent = 'Restore';
      if (r.bad) return fail(r.bad, r.el);
      req = r.req;
    } else {
      if (kindSet.checked) {
        if (!setSel.value) return fail('Choose a backup set.', setSel);
        req.set = setSel.value;
      } else if (kindTime.checked) {
        const tm = parseUtcInput(timeIn.value);
        if (!tm) return fail('Enter the point in time (UTC).', timeIn);
        if (!inWindow(windowRanges, tm)) return fail(`${fmtTime(tm)} is not within the restorable window: choose a time inside one of its ranges.`, timeIn);
        req.target_time = apiTime(tm);
      } else {
        req.target = 'latest';
      }
      const to = toIn.value.trim();
      if (!to.startsWith('/')) return fail('The target data directory must be an absolute path.', toIn);
      req.to = to;
      const port = Number(portIn.value);
      if (startCb.checked && !(Number.isInteger(port) && port >= 1 && port <= 65535)) return fail('Give the port the restored instance listens on (1-65535).', portIn);
      if (portIn.value) req.port = port;
      req.start = startCb.checked;
      if (sockIn.value.trim()) req.socket_dir = sockIn.value.trim();
    }
    goBtn.disabled = true;
    goBtn.textContent = 'Starting…';
    try {
      const task = await post(`/tenants/${seg(t.id)}/restores`, req);
      d.close();
      ctx.toast(`Restore task ${task.id} started`, 'ok');
      ctx.navigate(`#/tasks/${task.id}`);
    } catch (err) {
      if (err.status === 401) return;
      errBox.append(errorBox(err, err.status === 404 && /no route|not found/i.test(err.message) ? 'This daemon has no restore route yet' : 'The restore did not start'));
      goBtn.disabled = false;
      goBtn.textContent = 'Restore';
      goBtn.focus();
    }
  });
  return d;
}
