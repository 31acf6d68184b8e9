// app.js - the console: session, header, left navigation and the hash router.
//
// Routes (hash, so that the daemon only ever serves index.html at "/"):
//   #/login  #/clusters  #/clusters/NAME  #/tenants  #/tenants/ID
//   #/tasks  #/tasks/ID  #/alerts
// A page is a function (ctx, main) that renders into main and may return a cleanup
// function (stop polling); the router calls it before the next page.
import { api, get, setCsrf, onUnauthorized } from './api.js';
import { h, clear } from './util.js';
import { loginPage } from './pages/login.js';
import { clustersPage, clusterPage } from './pages/clusters.js';
import { tenantsPage } from './pages/tenants.js';
import { tenantPage } from './pages/tenant.js';
import { tasksPage, taskPage } from './pages/tasks.js';
import { alertsPage, refreshAlertBadge } from './pages/alerts.js';

const session = { user: null, role: null };
let cleanup = null;
let renderSeq = 0;
let badgeTimer = null;
const BADGE_MS = 15000;

const routes = [
  [/^\/clusters$/, clustersPage, 'clusters'],
  [/^\/clusters\/([^/]+)$/, clusterPage, 'clusters'],
  [/^\/tenants$/, tenantsPage, 'tenants'],
  [/^\/tenants\/([^/]+)$/, tenantPage, 'tenants'],
  [/^\/tasks$/, tasksPage, 'tasks'],
  [/^\/tasks\/(\d+)$/, taskPage, 'tasks'],
  [/^\/alerts$/, alertsPage, 'alerts'],
];

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div.toast', { class: 'toast-' + kind }, text);
  box.append(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), 4000);
}

function setSession(me) {
  if (!me || me.user !== session.user) document.getElementById('toasts').replaceChildren();
  session.user = me ? me.user : null;
  session.role = me ? me.role : null;
  setCsrf(me ? me.csrf_token : null);
  const box = document.getElementById('user-box');
  const nav = document.getElementById('sidenav');
  box.hidden = !me;
  nav.hidden = !me;
  document.body.dataset.role = me ? me.role : '';
  clearInterval(badgeTimer);
  badgeTimer = null;
  if (me) {
    refreshAlertBadge();
    badgeTimer = setInterval(refreshAlertBadge, BADGE_MS);
    document.getElementById('user-name').textContent = me.user;
    const role = document.getElementById('user-role');
    role.textContent = me.role;
    role.className = 'role-badge role-' + me.role;
    role.setAttribute('title', roleHelp(me.role));
  }
}

function roleHelp(role) {
  return {
    viewer: 'Viewer: can look at everything, cannot start or change anything',
    operator: 'Operator: can back up, restore, retry and cancel tasks, and run checkpoints',
    admin: 'Administrator: everything, including strategies, storages and clusters',
  }[role] || role;
}

let returnTo = null;

function toLogin(expired) {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const cur = location.hash;
  if (cur && !cur.startsWith('#/login')) returnTo = cur;
  setSession(null);
  showLogin(expired);
}

function showLogin(expired) {
  const main = document.getElementById('main');
  clear(main);
  document.title = 'Log on · tenback';
  if (!location.hash.startsWith('#/login')) history.replaceState(null, '', '#/login');
  loginPage(main, {
    expired,
    onLoggedOn(me) {
      setSession(me);
      const to = returnTo && !returnTo.startsWith('#/login') ? returnTo : '#/tenants';
      returnTo = null;
      navigate(to);
    },
  });
}

async function route() {
  const seq = ++renderSeq;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const full = (location.hash || '#/tenants').slice(1) || '/tenants';
  const qpos = full.indexOf('?');
  const path = qpos < 0 ? full : full.slice(0, qpos);
  const query = new URLSearchParams(qpos < 0 ? '' : full.slice(qpos + 1));
  if (!session.user) {
    if (!path.startsWith('/login')) returnTo = '#' + full;
    showLogin(false);
    return;
  }
  if (path.startsWith('/login') || path === '/' || path === '') {
    navigate('#/tenants');
    return;
  }
  const main = document.getElementById('main');
  let found = null;
  for (const [re, page, nav] of routes) {
    const m = re.exec(path);
    if (m) {
      found = { page, nav, params: m.slice(1).map(decodeURIComponent) };
      break;
    }
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (found && a.dataset.nav === found.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  if (!found) {
    main.append(h('h1', 'Page not found'), h('p', 'There is no page ', h('code', path), '. ', h('a', { href: '#/tenants' }, 'Go to Tenants'), '.'));
    return;
  }
  const ctx = {
    params: found.params,
    query,
    user: session.user,
    role: session.role,
    navigate,
    toast,
    alive: () => seq === renderSeq,
  };
  try {
    const c = await found.page(ctx, main);
    if (seq === renderSeq) cleanup = typeof c === 'function' ? c : null;
    else if (typeof c === 'function') c();
  } catch (err) {
    if (err && err.status === 401) return;
    console.error(err);
  }
  // Move focus to the page for screen readers / keyboard users after navigation,
  // unless a page has put it somewhere on purpose.
  if (seq === renderSeq && (document.activeElement === document.body || !document.activeElement)) {
    main.focus({ preventScroll: true });
  }
}

async function logoff() {
  try {
    await api('DELETE', '/sessions');
  } catch {
    /* already gone */
  }
  returnTo = null;
  toLogin(false);
}

async function boot() {
  onUnauthorized(() => toLogin(true));
  document.getElementById('logoff').addEventListener('click', logoff);
  window.addEventListener('hashchange', () => {
    if (location.hash.startsWith('#/login') && session.user) return navigate('#/tenants');
    route();
  });
  try {
    const me = await get('/me');
    setSession(me);
  } catch (err) {
    setSession(null);
  }
  route();
}

export { session };
boot();
