// The log-on page.
import { post, get } from '../api.js';
import { h, fill } from '../util.js';

export function loginPage(main, { expired, onLoggedOn }) {
  const user = h('input#login-user', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'off', spellcheck: 'false' });
  const pass = h('input#login-pass', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div#login-msg', { 'aria-live': 'assertive' });
  const submit = h('button.btn.btn-primary.btn-block', { type: 'submit' }, 'Log on');
  if (expired) {
    msg.append(h('div.alert.alert-warn', { role: 'alert' }, 'Your session has expired. Log on again to go on.'));
  }
  const form = h('form.login-form', { 'aria-labelledby': 'login-title', novalidate: true },
    h('h1#login-title', 'Log on to tenback'),
    h('p.muted', 'Backup and recovery for PostgreSQL tenants'),
    msg,
    h('div.field', h('label', { for: 'login-user' }, 'User name'), user),
    h('div.field', h('label', { for: 'login-pass' }, 'Password'), pass),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(msg);
    if (!user.value || !pass.value) {
      msg.append(h('div.alert.alert-error', { role: 'alert' }, 'Enter your user name and password.'));
      (user.value ? pass : user).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging on…';
    try {
      const s = await post('/sessions', { username: user.value, password: pass.value });
      let me = { user: s.user, role: s.role, csrf_token: s.csrf_token };
      try {
        me = { ...(await get('/me')), csrf_token: s.csrf_token };
      } catch {
        /* the session answer is enough */
      }
      onLoggedOn(me);
    } catch (err) {
      const text = err.status === 401 || err.status === 403
        ? 'The user name or password is not right.'
        : err.status === 429 ? (err.message + (err.hint ? ' ' + err.hint : '')) : err.message;
      msg.append(h('div.alert.alert-error', { role: 'alert' }, text));
      pass.value = '';
      pass.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log on';
    }
  });
  main.append(h('div.login-wrap', form));
  user.focus();
}
