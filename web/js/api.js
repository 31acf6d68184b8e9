// api.js - the REST API of the daemon (/api/v1), as the console uses it.
//
// Every call sends the session cookie (same origin) and, on unsafe methods, the
// CSRF token returned by POST /sessions or GET /me.  An answer of 401 on anything
// but the log-on itself means the session expired: onUnauthorized() is called (the
// app returns to the log-on page) and the call still throws.

let csrfToken = null;
let unauthorizedHandler = () => {};

export function setCsrf(token) {
  csrfToken = token || null;
}

export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || null;
    this.detail = e.detail || null;
    this.hint = e.hint || null;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let r;
  try {
    r = await fetch('/api/v1' + path, init);
  } catch (err) {
    const e = new ApiError(0, { error: { message: 'The tenback daemon does not answer.', hint: 'Check that "tenback serve" is running, then reload the page.' } });
    e.cause = err;
    throw e;
  }
  let data = null;
  const text = await r.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!r.ok) {
    const e = new ApiError(r.status, data);
    if (r.status === 401 && !(method === 'POST' && path === '/sessions')) unauthorizedHandler(e);
    throw e;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// Path segment of a tenant id ("src:16384", "src:*") or a name.
export const seg = (s) => encodeURIComponent(String(s));
