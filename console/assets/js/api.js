// The console's only way to the server: the public /v1 API with the key the
// admin signed in with, exactly as any script would call it.

const TOKEN_KEY = 'triggerflow.token';

/** ApiError is a refused or failed call, in the API's error shape. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.fields = e.fields || {};
  }
}

/** token is the key of this tab's session ('' when signed out). */
export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

/** setToken keeps a key for this tab only (sessionStorage). */
export function setToken(key) {
  if (key) sessionStorage.setItem(TOKEN_KEY, key);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** takeTokenFromFragment reads #token=… (never sent to the server), keeps
 * it and removes it from the address bar and history. */
export function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return false;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(history.state, '', location.pathname + location.search);
  return true;
}

let onUnauthorized = () => {};
/** whenUnauthorized sets what happens when the key stops working. */
export function whenUnauthorized(f) { onUnauthorized = f; }

/** api calls /v1: api('GET', '/webhooks', null, {page: 1}). */
export async function api(method, path, body, query) {
  let url = '/v1' + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const headers = { Authorization: 'Bearer ' + token() };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined && body !== null) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: 'The server cannot be reached: ' + e.message } });
  }
  const text = await resp.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (resp.status === 401 && path !== '/me') onUnauthorized(err);
    throw err;
  }
  return data;
}

/** Scopes a key may hold; admin implies every other. */
export const Scope = { admin: 'admin', read: 'read', publish: 'publish', webhooks: 'webhooks:write', triggers: 'triggers:write' };

/** can tells whether the signed-in key (me) holds scope. */
export function can(me, scope) {
  return !!me && (me.admin || (me.scopes || []).includes(scope));
}
