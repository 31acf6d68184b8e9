// console.test.mjs - the web console end to end in headless Chromium (issue 5).
//
// Run by test/browser/run.sh, which sets up PostgreSQL, the daemon and these
// variables: TB_URL, TB_ARTIFACTS, TB_CHROMIUM, TB_CLUSTER, TB_TENANT, TB_SOCK,
// TB_PGPORT, TB_PGBIN, TB_RESTORE_DIR, TB_RESTORE_PORT, TB_TMP and TB_*_PW.
//
// The checks run in order (each builds on the one before); a failed check is
// reported with its error and a screenshot, and the next ones still run where they
// can.  The last line printed is "N passed, N failed"; the exit status is 1 when
// anything failed.
import { launch } from './browser.mjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set: run test/browser/run.sh`);
  return v;
};
const URL = env('TB_URL');
const ART = env('TB_ARTIFACTS');
const CLUSTER = env('TB_CLUSTER', 'src');
const TENANT = env('TB_TENANT', 'shop');
const PW = { admin: env('TB_ADMIN_PW'), operator: env('TB_OPERATOR_PW'), viewer: env('TB_VIEWER_PW') };
const MSG_FULL = 'Full data backup needed before incremental data backup';
const MSG_COMPACT = 'Cluster compaction needed before full data backup';
const STEP_CHECK = 'Check if ready to data backup';
const STEP_COMPACT = 'Start cluster compact if necessary';
const STEP_DATA = 'Back up data';
const TASK_TIMEOUT = 300_000;

fs.mkdirSync(ART, { recursive: true });

let passed = 0;
let failed = 0;
let shotN = 0;
const pageErrors = [];

function log(...a) {
  console.log('#', ...a);
}

async function shot(page, name, opts = {}) {
  const file = path.join(ART, `${String(++shotN).padStart(2, '0')}-${name}.png`);
  try {
    await page.screenshot({ path: file, fullPage: opts.fullPage ?? true });
  } catch (e) {
    log(`screenshot ${name} failed: ${e.message}`);
  }
  return file;
}

// check(name, fn): one assertion group; never throws
async function check(name, fn, page) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
    return true;
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}`);
    for (const l of String(e && e.stack ? e.stack : e).split('\n').slice(0, 12)) console.log(`#   ${l}`);
    if (page) {
      await shot(page, 'FAILED-' + name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60));
      // Leave the page usable for the next checks.
      await page.evaluate(() => document.querySelectorAll('dialog[open]').forEach((d) => d.close())).catch(() => {});
    }
    return false;
  }
}

function psql(sql) {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', path.join(env('TB_PGBIN'), 'psql'), '-X', '-q',
    '-h', env('TB_SOCK'), '-p', env('TB_PGPORT'), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql],
  { cwd: env('TB_TMP'), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

function psqlAt(port, db, sql) {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', path.join(env('TB_PGBIN'), 'psql'), '-X', '-q',
    '-h', env('TB_SOCK'), '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql],
  { cwd: env('TB_TMP'), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`psql on port ${port} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

async function logOn(page, user) {
  await page.goto(URL + '/#/tenants');
  await page.waitForSelector('#login-user');
  await page.fill('#login-user', user);
  await page.fill('#login-pass', PW[user]);
  await page.click('.login-form button[type=submit]');
  await page.waitForSelector('#user-box:not([hidden])');
  await page.waitForFunction((u) => document.getElementById('user-name').textContent === u, user);
}

async function logOff(page) {
  await page.click('#logoff');
  await page.waitForSelector('#login-user');
}

const stepSel = (name) => `li.step[data-step="${name}"]`;

async function stepStatus(page, name) {
  return page.getAttribute(stepSel(name), 'data-status');
}

async function taskStatus(page) {
  return page.getAttribute('#task-status', 'data-status');
}

// Wait until the task shown is no longer RUNNING; returns its status.
async function waitTaskEnd(page, timeout = TASK_TIMEOUT) {
  await page.waitForFunction(() => {
    const s = document.querySelector('#task-status');
    return s && s.dataset.status !== 'RUNNING';
  }, null, { timeout, polling: 250 });
  return taskStatus(page);
}

async function openTenant(page) {
  await page.click('nav.sidenav a[data-nav="tenants"]');
  await page.waitForSelector(`tr[data-tenant="${TENANT}"] a`);
  await page.click(`tr[data-tenant="${TENANT}"] th a`);
  await page.waitForSelector('#backup-now');
  await page.waitForSelector('#panel-overview .card');
}

// Back up Now with mode; returns the task id (the task page is open)
async function backUpNow(page, mode, { screenshot } = {}) {
  await page.click('#backup-now');
  await page.waitForSelector('#backup-now-dialog[open]');
  await page.check(mode === 'incremental' ? '#bn-mode-incr' : '#bn-mode-full');
  if (screenshot) await shot(page, screenshot, { fullPage: false });
  await page.click('#bn-go');
  await page.waitForURL(/#\/tasks\/\d+$/);
  await page.waitForSelector('#task-status');
  return Number(/#\/tasks\/(\d+)$/.exec(page.url())[1]);
}

async function main() {
  const b = await launch({ executablePath: env('TB_CHROMIUM', '/usr/bin/chromium') });
  const page = b.context.pages()[0] || (await b.context.newPage());
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    // API refusals the test provokes on purpose show as "Failed to load resource".
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) pageErrors.push('console: ' + m.text());
  });
  let tenantId = null;
  let fullTask = null;
  let fullSet = null;
  try {
    // ---------------------------------------------------------------- log on
    await check('the log-on page is served at / with every asset local', async () => {
      const requests = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(URL + '/');
      await page.waitForSelector('#login-user');
      assert.equal(await page.getAttribute('label[for="login-user"]', 'for'), 'login-user');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'login-user', 'the user name field has the focus');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'login-pass', 'Tab goes to the password');
      assert.ok(await page.isVisible('label[for="login-pass"]'));
      const foreign = requests.filter((u) => !u.startsWith(URL) && !u.startsWith('data:'));
      assert.deepEqual(foreign, [], 'requests outside the daemon');
      await shot(page, 'login');
    }, page);

    await check('a wrong password is refused with a message', async () => {
      await page.fill('#login-user', 'operator');
      await page.fill('#login-pass', 'not-the-password');
      await page.click('.login-form button[type=submit]');
      await page.waitForSelector('#login-msg .alert-error');
      assert.match(await page.textContent('#login-msg'), /not right/);
    }, page);

    await check('operator logs on: name and role in the header, Clusters/Tenants/Tasks/Alerts on the left', async () => {
      await logOn(page, 'operator');
      assert.equal(await page.textContent('#user-role'), 'operator');
      // each link's own words (Alerts carries a count of the firing ones)
      const nav = await page.$$eval('nav.sidenav a', (as) => as.map((a) => a.firstChild.textContent.trim()));
      assert.deepEqual(nav, ['Clusters', 'Tenants', 'Tasks', 'Alerts']);
    }, page);

    // ---------------------------------------------------------------- lists
    await check('Tenants lists the tenant with cluster, size, backup method, last backup', async () => {
      await page.click('nav.sidenav a[data-nav="tenants"]');
      const row = page.locator(`tr[data-tenant="${TENANT}"]`);
      await row.waitFor();
      const text = await row.textContent();
      assert.match(text, new RegExp(CLUSTER));
      assert.match(text, /MiB|GiB/);
      assert.match(text, /physical/);
      assert.match(text, /never/);
      tenantId = await row.getAttribute('data-id');
      assert.match(tenantId, /^[A-Za-z0-9_-]+:\d+$/);
      await shot(page, 'tenants');
    }, page);

    await check('Clusters shows status, version, WAL archive health and the compaction action', async () => {
      await page.click('nav.sidenav a[data-nav="clusters"]');
      const row = page.locator(`tr[data-cluster="${CLUSTER}"]`);
      await row.waitFor();
      const text = await row.textContent();
      assert.match(text, /Normal/);
      assert.match(text, /15\.\d+/);
      assert.match(text, /Healthy/);
      assert.ok(await row.locator('button[data-action="checkpoint"]', { hasText: 'Perform a major compaction' }).isEnabled());
      await shot(page, 'clusters');
    }, page);

    // ---------------------------------------------------------------- tenant page
    await check('the tenant\'s Backup & Recovery page: tabs, and Back up Now in the upper-right corner', async () => {
      await openTenant(page);
      assert.equal((await page.textContent('main h1')).trim(), 'Backup & Recovery');
      const box = await page.locator('#backup-now').boundingBox();
      const vw = page.viewportSize().width;
      assert.ok(box.x > vw * 0.6 && box.y < 200, `Back up Now at ${JSON.stringify(box)}`);
      assert.ok(await page.isEnabled('#backup-now'));
      const tabs = await page.$$eval('[role=tab]', (t) => t.map((x) => x.textContent));
      assert.deepEqual(tabs, ['Overview', 'Backup Sets', 'Tasks', 'Backup Strategy']);
      await shot(page, 'tenant-overview-empty');
    }, page);

    await check('Back up Now dialog: version and method identified, storage Test lists each check', async () => {
      await page.click('#backup-now');
      await page.waitForSelector('#backup-now-dialog[open]');
      assert.equal(await page.getAttribute('#backup-now-dialog', 'aria-labelledby') !== null, true);
      assert.match(await page.textContent('#bn-version'), /^15\.\d+/);
      assert.equal((await page.textContent('#bn-method')).trim(), 'physical');
      await page.click('#bn-test');
      await page.waitForSelector('#bn-test-results .test-result');
      assert.equal(await page.getAttribute('#bn-test-results .test-result', 'data-ok'), 'true');
      const checks = await page.$$eval('#bn-test-results li', (l) => l.map((x) => x.className + ' ' + x.dataset.check));
      assert.ok(checks.length >= 4, `checks: ${checks}`);
      assert.ok(checks.every((c) => c.startsWith('check-ok')), `checks: ${checks}`);
      assert.match(await page.textContent('#bn-incr-reason'), new RegExp(MSG_FULL));
      assert.ok(await page.isChecked('#bn-mode-full'), 'Full is the default');
      await shot(page, 'backup-now-dialog', { fullPage: false });
      assert.ok(await page.evaluate(() => document.getElementById('backup-now-dialog').contains(document.activeElement)), 'focus is in the dialog');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#backup-now-dialog', { state: 'detached' });
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'backup-now', 'focus back on Back up Now');
    }, page);

    // ---------------------------------------------------------------- incremental without a full
    await check(`Incremental without a full: "${STEP_CHECK}" fails with "${MSG_FULL}" and the notice`, async () => {
      await backUpNow(page, 'incremental', { screenshot: 'backup-now-incremental' });
      assert.equal(await waitTaskEnd(page, 120_000), 'FAILED');
      assert.equal(await stepStatus(page, STEP_CHECK), 'FAILED');
      assert.match(await page.textContent(`${stepSel(STEP_CHECK)} .step-error .err-message`), new RegExp(MSG_FULL));
      assert.ok(await page.isVisible('[data-notice="need-full"]'));
      assert.ok(await page.isVisible('#task-retry'));
      await shot(page, 'task-incremental-needs-full');
    }, page);

    // ---------------------------------------------------------------- full: compaction needed
    await check(`Full: "${STEP_COMPACT}" fails with "${MSG_COMPACT}", notice links to the compaction`, async () => {
      await page.click('main .subtitle a[href^="#/tenants/"]');
      await page.waitForSelector('#backup-now');
      fullTask = await backUpNow(page, 'full');
      assert.equal(await waitTaskEnd(page, 120_000), 'FAILED');
      assert.equal(await stepStatus(page, STEP_CHECK), 'SUCCEEDED');
      assert.equal(await stepStatus(page, STEP_COMPACT), 'FAILED');
      assert.match(await page.textContent(`${stepSel(STEP_COMPACT)} .step-error`), new RegExp(MSG_COMPACT));
      assert.match(await page.textContent(`${stepSel(STEP_COMPACT)} .step-error .err-hint`), /pg_checkpoint/);
      assert.ok(await page.isVisible('[data-notice="need-compaction"] a[data-action="open-compaction"]'));
      await shot(page, 'task-full-needs-compaction');
    }, page);

    await check('the failed backups fire an alert: a count on Alerts, the Alerts page lists it, operators acknowledge and test a channel', async () => {
      // the daemon evaluates every 2 s (run.sh), the console's count every 15 s or on the Alerts page;
      // one alert for the tenant whichever of its two failed tasks it saw first (it fires once)
      try {
        await page.click('nav.sidenav a[data-nav="alerts"]');
        const row = page.locator(`#alerts-table tr[data-kind="backup_failed"]`);
        await row.waitFor({ timeout: 30_000 });
        const text = await row.textContent();
        assert.match(text, new RegExp(`tenants/${CLUSTER}/${TENANT}`));
        assert.match(text, new RegExp(`Backup task \\d+ of tenant "${TENANT}" of cluster "${CLUSTER}" failed`));
        assert.match(text, /firing/);
        assert.equal(await page.locator('#alerts-table tr[data-kind="backup_failed"]').count(), 1);
        await page.waitForFunction(() => !document.querySelector('#alerts-badge').hidden);
        assert.match(await page.textContent('#alerts-badge'), /^[1-9]/);
        await shot(page, 'alerts-firing');
        await row.locator('button[data-ack]').click();
        await page.waitForFunction((k) => {
          const r = document.querySelector(`#alerts-table tr[data-kind="${k}"]`);
          return r && !r.querySelector('button[data-ack]') && /operator/.test(r.textContent);
        }, 'backup_failed');
        // the channel's Test: nothing listens there, the failure and its attempt are shown
        const ch = page.locator('#channels-table tr[data-channel="hook"]');
        await ch.waitFor();
        assert.match(await ch.textContent(), /webhook.*127\.0\.0\.1:1\/hook.*all/);
        await ch.locator('button[data-test="hook"]').click();
        await page.waitForFunction(() => /Not delivered: could not send to webhook/.test(
          document.querySelector('#channels-table tr[data-channel="hook"] .test-result')?.textContent || ''));
        await page.waitForFunction(() => /hook\s*test/.test(document.querySelector('#attempts-table')?.textContent || ''));
        assert.ok(await page.isVisible('#attempts-table tr[data-outcome="failed"]'));
        await shot(page, 'alerts-channel-test');
      } finally {
        await page.evaluate((id) => { location.hash = `#/tasks/${id}`; }, fullTask);
        await page.waitForSelector('[data-notice="need-compaction"] a[data-action="open-compaction"]');
      }
    }, page);

    await check('the compaction link opens the cluster; without pg_checkpoint the compaction fails there', async () => {
      await page.click('[data-notice="need-compaction"] a[data-action="open-compaction"]');
      await page.waitForSelector('#compaction button[data-action="checkpoint"]');
      assert.ok(await page.isVisible(`main a[href="#/tasks/${fullTask}"]`), 'a way back to the task');
      await page.click('#compaction button[data-action="checkpoint"]');
      await page.waitForSelector('#compaction .cp-result .alert-error');
      log('compaction refused:', (await page.textContent('#compaction .cp-result')).trim());
      await shot(page, 'cluster-compaction-refused');
    }, page);

    await check('GRANT pg_checkpoint; the compaction succeeds from the cluster page', async () => {
      psql('GRANT pg_checkpoint TO tb');
      await page.click('#compaction button[data-action="checkpoint"]');
      await page.waitForSelector('#compaction .cp-result .ok-text');
      await shot(page, 'cluster-compaction-done');
    }, page);

    await check('Retry: the task resumes, "Back up data" shows live progress (bytes, rate), then SUCCEEDED', async () => {
      await page.click(`main a[href="#/tasks/${fullTask}"]`);
      await page.waitForSelector('#task-retry');
      await page.click('#task-retry');
      // Sample the page while the data step runs: bytes must show and grow.
      const samples = [];
      const states = new Set();  // the steps' statuses as the page showed them, over time
      let shotTaken = false;
      const t0 = Date.now();
      const deadline = t0 + TASK_TIMEOUT;
      for (;;) {
        const s = await page.evaluate((sel) => {
          const st = document.querySelector('#task-status');
          const step = document.querySelector(sel);
          const bytes = step && step.querySelector('[data-bytes-done]');
          return {
            task: st && st.dataset.status,
            step: step && step.dataset.status,
            bytes: bytes ? Number(bytes.dataset.bytesDone) : null,
            text: step ? (step.querySelector('.progress-text') || {}).textContent || '' : '',
            cancel: !!document.querySelector('#task-cancel'),
            steps: [...document.querySelectorAll('li.step')].map((x) => x.dataset.status[0]).join(''),
          };
        }, stepSel(STEP_DATA));
        states.add(s.steps);
        if (s.step === 'RUNNING' && s.bytes > 0) {
          samples.push(s);
          if (!shotTaken) {
            shotTaken = true;
            await shot(page, 'task-full-progress');
          }
        }
        if (s.task && s.task !== 'RUNNING' && Date.now() - t0 > 3000) break;
        if (Date.now() > deadline) throw new Error('timed out waiting for the task');
        await page.waitForTimeout(150);
      }
      const distinct = new Set(samples.map((x) => x.bytes));
      log(`progress samples while "${STEP_DATA}" ran: ${samples.length}, distinct byte counts: ${distinct.size}; last: ${samples.length ? samples[samples.length - 1].text : '-'}`);
      log(`step states seen without reloading: ${[...states].join(' → ')}`);
      assert.ok(states.size >= 3, `the page followed the task live: ${[...states].join(' → ')}`);
      assert.ok(samples.length > 0, `no bytes shown while "${STEP_DATA}" was RUNNING`);
      assert.ok(samples.some((x) => /\/s/.test(x.text)), 'a rate is shown');
      assert.ok(samples.some((x) => x.cancel), 'Cancel is offered while running');
      assert.equal(await waitTaskEnd(page), 'SUCCEEDED');
      const st = await page.$$eval('li.step', (l) => l.map((x) => x.dataset.status));
      assert.deepEqual(st, ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      assert.ok(!(await page.isVisible('[data-notice]')), 'no notice after success');
      await shot(page, 'task-full-succeeded');
    }, page);

    // ---------------------------------------------------------------- incremental
    await check('then an Incremental succeeds; the sets table shows it with its parent', async () => {
      await page.click('main .subtitle a[href^="#/tenants/"]');
      await page.waitForSelector('#backup-now');
      await page.click('#backup-now');
      await page.waitForSelector('#backup-now-dialog[open]');
      assert.equal((await page.textContent('#bn-incr-reason')).trim(), '', 'no reason against Incremental now');
      await page.keyboard.press('Escape');
      await backUpNow(page, 'incremental');
      assert.equal(await waitTaskEnd(page), 'SUCCEEDED');
      await shot(page, 'task-incremental-succeeded');
      await page.click('main .subtitle a[href^="#/tenants/"]');
      await page.waitForSelector('#tab-sets');
      await page.click('#tab-sets');
      await page.waitForSelector('#panel-sets tr[data-type="incremental"]');
      fullSet = await page.getAttribute('#panel-sets tr[data-type="full"]', 'data-set');
      const incr = await page.textContent('#panel-sets tr[data-type="incremental"]');
      assert.ok(incr.includes(fullSet), `the incremental's parent is ${fullSet}: ${incr}`);
      assert.match(incr, /completed/);
      assert.match(incr, /Not verified/);
      await shot(page, 'tenant-sets');
    }, page);

    await check('Verify re-reads a set (its whole chain) and the table keeps the result', async () => {
      await page.click('#panel-sets tr[data-type="incremental"] td.verify button:has-text("Verify")');
      await page.waitForSelector('#panel-sets tr[data-type="incremental"] td.verify .badge-ok', { timeout: 120000 });
      const cell = await page.textContent('#panel-sets tr[data-type="incremental"] td.verify');
      assert.match(cell, /Verified/);
      await shot(page, 'tenant-sets-verified');
    }, page);

    await check('overview: last full and incremental, restorable window drawn', async () => {
      await page.click('#tab-overview');
      await page.waitForSelector('#panel-overview .tl-seg');
      const text = await page.textContent('#panel-overview');
      assert.ok(text.includes(fullSet));
      assert.match(text, /Restorable from/);
      await shot(page, 'tenant-overview');
      await page.click('#tab-tasks');
      await page.waitForSelector('#panel-tasks tr[data-task]');
      assert.ok((await page.$$('#panel-tasks tr[data-task]')).length >= 3);
      await shot(page, 'tenant-tasks');
    }, page);

    // ---------------------------------------------------------------- restore
    const openapi = await page.evaluate(async () => (await fetch('/api/v1/openapi.json')).json());
    if (openapi.paths && openapi.paths['/api/v1/tenants/{id}/restores']) {
      await check('Restore from the console: the incremental set to a new directory and port, followed to success', async () => {
        await page.click('#tab-sets');
        await page.click('#panel-sets tr[data-type="incremental"] button:has-text("Restore")');
        await page.waitForSelector('#restore-dialog[open]');
        await page.fill('#rs-to', env('TB_RESTORE_DIR'));
        await page.fill('#rs-port', env('TB_RESTORE_PORT'));
        await page.fill('#rs-sock', env('TB_SOCK'));
        await shot(page, 'restore-dialog', { fullPage: false });
        await page.click('#rs-go');
        await page.waitForURL(/#\/tasks\/\d+$/, { timeout: 15_000 }).catch(async (e) => {
          throw new Error(`restore did not start: ${await page.textContent('#restore-dialog .dialog-error').catch(() => e.message)}`);
        });
        const st = await waitTaskEnd(page);
        await shot(page, 'task-restore');
        assert.equal(st, 'SUCCEEDED', await page.textContent('main'));
        const n = psqlAt(env('TB_RESTORE_PORT'), TENANT, 'SELECT count(*) FROM pgbench_accounts');
        assert.equal(n, psqlAt(env('TB_PGPORT'), TENANT, 'SELECT count(*) FROM pgbench_accounts'), 'the restored tenant has the rows of the source');
      }, page);
    } else {
      log('SKIP restore: the daemon has no POST /api/v1/tenants/{id}/restores yet (the dialog is wired)');
    }

    await check('Tasks page lists the tasks', async () => {
      await page.click('nav.sidenav a[data-nav="tasks"]');
      await page.waitForSelector('main tr[data-task]');
      assert.ok((await page.$$('main tr[data-task]')).length >= 3);
      await shot(page, 'tasks');
    }, page);

    await check('an operator cannot change the strategy (form disabled)', async () => {
      await openTenant(page);
      await page.click('#tab-strategy');
      assert.ok(await page.isDisabled('#sg-save'));
    }, page);

    // ---------------------------------------------------------------- admin: strategy
    await check('admin saves a weekly strategy; the overview shows it', async () => {
      await logOff(page);
      await logOn(page, 'admin');
      await openTenant(page);
      await page.click('#tab-strategy');
      await page.check('#sg-kind-week');
      await page.selectOption('#sg-week-sun', 'FULL');
      await page.selectOption('#sg-week-wed', 'INCREMENTAL');
      await page.fill('#sg-time', '02:30');
      await page.fill('#sg-retention', '14');
      await shot(page, 'tenant-strategy-form');
      await page.click('#sg-save');
      await page.waitForFunction(() => /Save strategy/.test(document.querySelector('#sg-save')?.textContent || ''));
      await page.click('#tab-overview');
      await page.waitForFunction(() => /Weekly: .*Wed incremental.*Sun full.*02:30 UTC/.test(document.querySelector('#panel-overview').textContent));
      assert.match(await page.textContent('#panel-overview'), /14 days/);
      await shot(page, 'tenant-overview-strategy');
      await page.click('#backup-now');
      await page.waitForSelector('#backup-now-dialog[open]');
      assert.match(await page.textContent('#backup-now-dialog'), /Filled in from the tenant's backup strategy/);
      assert.ok(await page.isVisible('#bn-storage-name'));
      await page.click('#bn-test');
      await page.waitForSelector('#bn-test-results .test-result[data-ok="true"]');
      await shot(page, 'backup-now-from-strategy', { fullPage: false });
      await page.keyboard.press('Escape');
    }, page);

    await check('the console works on a laptop screen (1024×700): no horizontal scrolling', async () => {
      await page.setViewportSize({ width: 1024, height: 700 });
      for (const hash of [`#/tenants/${encodeURIComponent(tenantId)}`, '#/clusters', '#/tasks', `#/tasks/${fullTask}`]) {
        await page.goto(URL + '/' + hash);
        await page.waitForSelector('main h1');
        await page.waitForTimeout(300);
        const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(over <= 0, `${hash} overflows by ${over}px`);
      }
      await page.goto(URL + `/#/tenants/${encodeURIComponent(tenantId)}`);
      await page.waitForSelector('#panel-overview .card');
      await shot(page, 'laptop-tenant');
      await page.setViewportSize({ width: 1280, height: 800 });
    }, page);

    // ---------------------------------------------------------------- viewer
    await check('a viewer cannot start a backup: the button is disabled and the API answers 403', async () => {
      await logOff(page);
      await logOn(page, 'viewer');
      assert.equal(await page.textContent('#user-role'), 'viewer');
      await openTenant(page);
      const btn = page.locator('#backup-now');
      assert.ok((await btn.count()) === 0 || (await btn.isDisabled()), 'Back up Now is hidden or disabled');
      assert.ok(await page.isDisabled('#restore-btn'));
      await shot(page, 'viewer-tenant');
      const r = await page.evaluate(async (id) => {
        const me = await (await fetch('/api/v1/me')).json();
        const res = await fetch(`/api/v1/tenants/${encodeURIComponent(id)}/backups`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
          body: JSON.stringify({ mode: 'full' }),
        });
        return { status: res.status, body: await res.text() };
      }, tenantId);
      assert.equal(r.status, 403, r.body);
      await page.goto(URL + `/#/tasks/${fullTask}`);
      await page.waitForSelector('#task-status');
    }, page);

    await check('an expired session returns to the log-on page', async () => {
      await b.context.clearCookies();
      await page.click('nav.sidenav a[data-nav="clusters"]');
      await page.waitForSelector('#login-user');
      assert.match(await page.textContent('#login-msg'), /expired/);
      await shot(page, 'session-expired');
      await page.fill('#login-user', 'viewer');
      await page.fill('#login-pass', PW.viewer);
      await page.click('.login-form button[type=submit]');
      await page.waitForSelector('main h1:has-text("Clusters")');
    }, page);

    // ---------------------------------------------------------------- logical backup, restored as a new database
    // Back up Now runs the method identified for the tenant (physical here): the
    // logical backup is asked of the API, as an operator, from the page's session.
    let logicalSet = null;
    const LOGICAL_AS = `${TENANT}_logical_copy`;
    await check('a logical backup (API, method logical) succeeds; the sets table marks each set physical or logical', async () => {
      await logOff(page);
      await logOn(page, 'operator');
      // pg_dump reads every table of the tenant, and the restore creates a database and
      // gives its objects their owners: the cluster's role (tb) must be allowed both.
      psql('ALTER ROLE tb SUPERUSER');
      const r = await page.evaluate(async (id) => {
        const me = await (await fetch('/api/v1/me')).json();
        const res = await fetch(`/api/v1/tenants/${encodeURIComponent(id)}/backups`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
          body: JSON.stringify({ mode: 'full', method: 'logical' }),
        });
        return { status: res.status, body: await res.text() };
      }, tenantId);
      assert.equal(r.status, 202, r.body);
      const task = JSON.parse(r.body).id;
      await page.goto(URL + `/#/tasks/${task}`);
      await page.waitForSelector('#task-status');
      const st = await waitTaskEnd(page);
      assert.equal(st, 'SUCCEEDED', await page.textContent('main'));
      await page.click('main .subtitle a[href^="#/tenants/"]');
      await page.waitForSelector('#tab-sets');
      await page.click('#tab-sets');
      await page.waitForSelector('#panel-sets tr[data-method="logical"]');
      logicalSet = await page.getAttribute('#panel-sets tr[data-method="logical"]', 'data-set');
      const head = await page.$$eval('#panel-sets thead th', (l) => l.map((x) => x.textContent.trim()));
      assert.ok(head.includes('Method'), `columns: ${head}`);
      const rows = await page.$$eval('#panel-sets tbody tr', (l) => l.map((x) => ({ set: x.dataset.set, method: x.dataset.method, shown: x.querySelector('td.method').textContent.trim() })));
      assert.ok(rows.length >= 3, JSON.stringify(rows));
      for (const x of rows) assert.ok(x.shown.startsWith(x.method), `set ${x.set} is ${x.method}, the table says "${x.shown}"`);
      assert.deepEqual(rows.filter((x) => x.method === 'logical').map((x) => x.set), [logicalSet]);
      assert.ok(rows.filter((x) => x.method === 'physical').length >= 2, JSON.stringify(rows));
      assert.ok(await page.isVisible(`#panel-sets tr[data-set="${logicalSet}"] button:has-text("Restore")`), 'a logical set offers Restore');
      await shot(page, 'tenant-sets-logical');
    }, page);

    await check('Restore of a logical set: name, cluster and jobs asked, no directory/port/point in time; bad names refused', async () => {
      assert.ok(logicalSet, 'no logical set to restore');
      await page.click(`#panel-sets tr[data-set="${logicalSet}"] button:has-text("Restore")`);
      await page.waitForSelector('#restore-dialog[open]');
      assert.equal(await page.inputValue('#rs-set'), logicalSet);
      for (const sel of ['#rs-to', '#rs-port', '#rs-sock', '#rs-start', '#rs-time', '#rs-kind-time', '#rs-kind-latest']) {
        assert.ok(!(await page.isVisible(sel)), `${sel} (physical only) is not shown for a logical set`);
      }
      for (const sel of ['#rs-as', '#rs-cluster', '#rs-jobs']) assert.ok(await page.isVisible(sel), `${sel} is shown`);
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'rs-as', 'the name has the focus');
      const note = await page.textContent('#rs-logical-note');
      assert.match(note, /restored as a new database/);
      assert.match(note, /already exists is refused/);
      // the registered clusters, the tenant's own chosen
      await page.waitForSelector('#rs-cluster option:has-text("PostgreSQL 15")', { state: 'attached' });
      assert.equal(await page.inputValue('#rs-cluster'), CLUSTER);
      assert.ok((await page.$$eval('#rs-cluster option', (l) => l.map((o) => o.value))).includes(CLUSTER));
      const refused = async (name, re, jobs = '') => {
        await page.fill('#rs-as', name);
        await page.fill('#rs-jobs', jobs);
        await page.click('#rs-go');
        await page.waitForSelector('#restore-dialog .dialog-error .alert-error');
        assert.match(await page.textContent('#restore-dialog .dialog-error'), re, `"${name}" jobs "${jobs}"`);
        assert.ok(await page.isVisible('#restore-dialog'), 'the dialog stays open');
      };
      await refused('', /Enter the name of the new database/);
      await refused('template1', /template/);
      await refused('x'.repeat(64), /64 bytes long: PostgreSQL names are at most 63 bytes/);
      await refused('crm', /already exists in cluster/);
      await refused(LOGICAL_AS, /from 1 to 128/, '0');
      // switching to a physical set brings its fields back
      const phys = await page.$eval('#rs-set', (s) => [...s.options].find((o) => o.dataset.method === 'physical').value);
      await page.selectOption('#rs-set', phys);
      assert.ok(await page.isVisible('#rs-to') && await page.isVisible('#rs-port') && await page.isVisible('#rs-kind-time'));
      assert.ok(!(await page.isVisible('#rs-as')));
      await page.selectOption('#rs-set', logicalSet);
      assert.ok(!(await page.isVisible('#rs-to')) && await page.isVisible('#rs-as'));
      await page.fill('#rs-as', LOGICAL_AS);
      await page.fill('#rs-jobs', '2');
      await shot(page, 'restore-dialog-logical', { fullPage: false });
    }, page);

    await check(`the logical set restored as "${LOGICAL_AS}" into the same cluster: task followed to success, same rows`, async () => {
      assert.ok(await page.isVisible('#restore-dialog'), 'the dialog is open');
      assert.equal(psql(`SELECT count(*) FROM pg_database WHERE datname = '${LOGICAL_AS}'`), '0');
      await page.click('#rs-go');
      await page.waitForURL(/#\/tasks\/\d+$/, { timeout: 15_000 }).catch(async (e) => {
        throw new Error(`restore did not start: ${await page.textContent('#restore-dialog .dialog-error').catch(() => e.message)}`);
      });
      const st = await waitTaskEnd(page);
      await shot(page, 'task-restore-logical');
      assert.equal(st, 'SUCCEEDED', await page.textContent('main'));
      assert.match(await page.textContent('main h1'), /Restore \(logical\)/);
      assert.equal(await stepStatus(page, 'Restore'), 'SUCCEEDED');
      const summary = await page.textContent('#task-restored-as');
      assert.ok(summary.includes(LOGICAL_AS) && summary.includes(CLUSTER) && /2 parallel jobs/.test(summary), summary);
      assert.equal(psql(`SELECT count(*) FROM pg_database WHERE datname = '${LOGICAL_AS}'`), '1', 'the new database exists');
      for (const table of ['pgbench_accounts', 'pgbench_branches']) {
        const n = psqlAt(env('TB_PGPORT'), LOGICAL_AS, `SELECT count(*) FROM ${table}`);
        assert.equal(n, psqlAt(env('TB_PGPORT'), TENANT, `SELECT count(*) FROM ${table}`), `${table}: the copy has the rows of the source`);
        assert.ok(Number(n) > 0, `${table} has rows`);
      }
    }, page);

    await check('no script error in the pages', async () => {
      assert.deepEqual(pageErrors, []);
    });
  } finally {
    await b.close();
  }
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`not ok - the test could not run: ${e && e.stack ? e.stack : e}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
