// The Restore dialog: a backup set or a point in time within the restorable window,
// a target data directory and a port; starts a "restore" task and opens it.
// POST /api/v1/tenants/{id}/restores {set?, target_time?|target?, to, port, start, socket_dir?}
import { post, seg } from '../api.js';
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

export function openRestore(ctx, t, sets, windowRanges, opts = {}) {
  const completed = (sets || []).filter((s) => s.status === 'completed');
  const segs = segments(windowRanges);
  const errBox = h('div.dialog-error', { 'aria-live': 'assertive' });

  const kindSet = h('input#rs-kind-set', { type: 'radio', name: 'rs-kind', value: 'set', checked: true });
  const kindTime = h('input#rs-kind-time', { type: 'radio', name: 'rs-kind', value: 'time', disabled: !segs.length });
  const kindLatest = h('input#rs-kind-latest', { type: 'radio', name: 'rs-kind', value: 'latest', disabled: !segs.length });
  const setSel = h('select#rs-set', completed.map((s) => h('option', { value: s.id, selected: s.id === opts.set },
    `${s.id} · ${s.type} · ended ${fmtTime(s.stop_time)} · ${fmtBytes(s.size_bytes)}`)));
  const last = segs.length ? segs[segs.length - 1].b : null;
  const timeIn = h('input#rs-time', { type: 'datetime-local', step: '1', value: last ? utcValue(last) : '', 'aria-describedby': 'rs-time-help' });
  const setBox = h('div.field', h('label', { for: 'rs-set' }, 'Backup set'), setSel,
    h('p.small.muted', 'Restores the set as it was when its backup ended (with the WAL it holds).'));
  const timeBox = h('div.field', { hidden: true }, h('label', { for: 'rs-time' }, 'Point in time (UTC)'), timeIn,
    h('p#rs-time-help.small.muted', segs.length ? ['Within the restorable window: ', segs.map((s, i) => [i ? '; ' : '', fmtTime(s.a), ' – ', fmtTime(s.b)])] : 'No restorable window yet.'));
  const sync = () => {
    setBox.hidden = !kindSet.checked;
    timeBox.hidden = !kindTime.checked;
  };
  for (const r of [kindSet, kindTime, kindLatest]) r.addEventListener('change', sync);

  const toIn = h('input#rs-to', { value: opts.to || '', placeholder: '/var/lib/postgresql/restore/' + t.name, spellcheck: 'false', required: true, 'aria-describedby': 'rs-to-help' });
  const portIn = h('input#rs-port', { type: 'number', min: 1, max: 65535, value: opts.port || '', placeholder: 'e.g. 5440' });
  const startCb = h('input#rs-start', { type: 'checkbox', checked: true });
  const sockIn = h('input#rs-sock', { value: opts.socketDir || '', placeholder: 'default: the server\'s', spellcheck: 'false' });

  const body = h('div.restore-form', errBox,
    h('p', 'Restore tenant ', h('strong', t.name), ' of cluster ', t.cluster, ' into a new PostgreSQL instance. The source is not touched.'),
    h('fieldset.form-section', h('legend', 'Restore to'),
      h('div.radio-row',
        h('label.radio', kindSet, ' A backup set'),
        h('label.radio', kindTime, ' A point in time'),
        h('label.radio', kindLatest, ' The latest point')),
      setBox, timeBox,
      segs.length ? h('details.small', h('summary', 'Restorable window'), timeline(windowRanges, sets)) : null),
    h('fieldset.form-section', h('legend', 'Target'),
      h('div.field', h('label', { for: 'rs-to' }, 'Target data directory'), toIn,
        h('p#rs-to-help.small.muted', 'An absolute path on the backup server, new or empty, writable by the tenback daemon.')),
      h('div.field-row',
        h('div.field', h('label', { for: 'rs-port' }, 'Port'), portIn),
        h('div.field', h('label', { for: 'rs-sock' }, 'Socket directory (optional)'), sockIn)),
      h('label.check', startCb, ' Start the restored instance when done')));

  const goBtn = h('button.btn.btn-primary#rs-go', { type: 'button' }, 'Restore');
  const d = openDialog({ title: 'Restore', wide: true, body, footer: [h('button.btn', { type: 'button', onclick: () => d.close() }, 'Cancel'), goBtn] });
  d.dialog.id = 'restore-dialog';
  if (!completed.length) {
    errBox.append(h('div.alert.alert-warn', { role: 'alert' }, 'This tenant has no completed backup set: there is nothing to restore yet.'));
    goBtn.disabled = true;
  }

  goBtn.addEventListener('click', async () => {
    fill(errBox);
    const fail = (text, el) => {
      errBox.append(h('div.alert.alert-error', { role: 'alert' }, text));
      if (el) el.focus();
    };
    const req = {};
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
