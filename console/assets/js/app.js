// The console's shell: sign-in, navigation, and the router that shows one
// screen per path under /ui/.
import { h, replace, field, announce } from './dom.js';
import { api, token, setToken, takeTokenFromFragment, whenUnauthorized, can, Scope } from './api.js';
import * as overview from './screens/overview.js';
import * as webhooks from './screens/webhooks.js';
import * as triggers from './screens/triggers.js';
import * as flows from './screens/flows.js';
import * as queuehooks from './screens/queuehooks.js';
import * as events from './screens/events.js';
import * as apikeys from './screens/apikeys.js';

const BASE = '/ui/';

// Each screen: its path's first segment, the link's name, and the module.
const screens = [
  { seg: '', name: 'Overview', mod: overview },
  { seg: 'webhooks', name: 'Webhooks', mod: webhooks },
  { seg: 'triggers', name: 'Triggers', mod: triggers },
  { seg: 'flows', name: 'Flows', mod: flows },
  { seg: 'queues', name: 'Queue hooks', mod: queuehooks },
  { seg: 'events', name: 'Events', mod: events },
  { seg: 'api-keys', name: 'API keys', mod: apikeys, scope: Scope.admin },
];

const root = document.getElementById('app');
let me = null;
let main = null;
let nav = null;
const cache = {};

/** shared is what every screen gets: the key, cached lookups, navigation. */
const shared = {
  get me() { return me; },
  can: (scope) => can(me, scope),
  navigate,
  /** catalog is GET /v1/catalog, asked once. */
  catalog: () => (cache.catalog ||= api('GET', '/catalog').catch((e) => { delete cache.catalog; throw e; })),
  /** actions is every registered flow action with its parameters. */
  actions: () => (cache.actions ||= api('GET', '/actions', null, { per_page: 500 }).then((r) => r.items)
    .catch((e) => { delete cache.actions; throw e; })),
};

function currentPath() {
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return p.replace(/\/+$/, '');
}

/** navigate shows the screen of path (relative to /ui/). */
export function navigate(path, { replace: replaceState } = {}) {
  const url = BASE + path.replace(/^\/+/, '');
  if (replaceState) history.replaceState(null, '', url); else history.pushState(null, '', url);
  route();
}

function route() {
  if (!me) return;
  const parts = currentPath().split('/').filter(Boolean).map(decodeURIComponent);
  const screen = screens.find((s) => s.seg === (parts[0] || '')) || null;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.seg === (screen ? screen.seg : '-')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  if (!screen) {
    document.title = 'Not found · TriggerFlow';
    main.append(h('h1', {}, 'Not found'), h('p', {}, 'No screen lives at this address. ', h('a', { href: BASE }, 'Go to the overview')));
    return;
  }
  if (screen.scope && !can(me, screen.scope)) {
    document.title = screen.name + ' · TriggerFlow';
    main.append(h('h1', {}, screen.name), h('p', { class: 'empty' }, 'This key cannot manage API keys: that needs the admin scope.'));
    return;
  }
  document.title = screen.name + ' · TriggerFlow';
  // Each visit renders into its own element: a slow screen still loading
  // when the admin moves on writes into a detached node, never over the
  // next screen.
  const view = h('div', { class: 'view' });
  main.append(view);
  const r = screen.mod.render({ ...shared, main: view, params: parts.slice(1) });
  if (r && r.catch) r.catch((e) => showScreenError(view, e));
  main.focus({ preventScroll: true });
}

function showScreenError(view, e) {
  view.append(h('p', { class: 'alert', role: 'alert' }, 'Could not load this screen: ' + e.message));
}

function shell() {
  nav = h('nav', { 'aria-label': 'Main' }, h('ul', {},
    screens.filter((s) => !s.scope || can(me, s.scope)).map((s) =>
      h('li', {}, h('a', { href: BASE + s.seg, dataset: { seg: s.seg } }, s.name)))));
  main = h('main', { id: 'main', tabindex: '-1' });
  const scopes = me.admin ? 'admin' : me.scopes.join(', ');
  const who = h('div', { class: 'who' },
    h('span', { class: 'key-name', title: 'Scopes: ' + scopes }, me.name),
    h('span', { class: 'scopes' }, scopes),
    h('button', { type: 'button', class: 'btn small', onclick: signOut }, 'Sign out'));
  replace(root,
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('header', { class: 'top' }, h('a', { href: BASE, class: 'brand' }, h('img', { src: 'favicon.svg', alt: '', width: 22, height: 22 }), 'TriggerFlow'), who),
    h('div', { class: 'layout' }, nav, main));
}

function signInScreen(message) {
  me = null;
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const err = h('p', { class: 'field-error', role: 'alert', hidden: !message }, message || '');
  const form = h('form', { class: 'signin card' },
    h('h1', {}, 'Sign in to TriggerFlow'),
    h('p', { class: 'muted' }, 'Paste an API key. It is kept in this browser tab only, and every call the console makes sends it to the API like any other client.'),
    field('API key', input, { hint: 'A key made under API keys (tfk_…), or the bootstrap admin token. `make run` prints a link that signs in with the dev admin token.' }),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Sign in')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    const problem = await loadMe();
    if (problem) { err.textContent = problem; err.hidden = false; input.setAttribute('aria-invalid', 'true'); input.focus(); return; }
    start();
  });
  replace(root, h('main', { class: 'center' }, form));
  document.title = 'Sign in · TriggerFlow';
  input.focus();
}

async function loadMe() {
  try {
    me = await api('GET', '/me');
    return '';
  } catch (e) {
    me = null;
    setToken('');
    return e.status === 401 ? 'This key is not valid (unknown, revoked or expired).' : 'Could not sign in: ' + e.message;
  }
}

function signOut() {
  setToken('');
  for (const k of Object.keys(cache)) delete cache[k];
  signInScreen();
}

function start() {
  shell();
  route();
}

// Links inside the console change the screen without reloading the page.
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE) || a.getAttribute('href').startsWith('#')) return;
  e.preventDefault();
  navigate(url.pathname.slice(BASE.length) + url.search);
});
window.addEventListener('popstate', route);
whenUnauthorized(() => { if (me) { announce('The key stopped working; sign in again.', 'error'); signInScreen('The key stopped working (revoked or expired). Sign in again.'); } });

(async function boot() {
  takeTokenFromFragment();
  if (!token()) { signInScreen(); return; }
  const problem = await loadMe();
  if (problem) { signInScreen(problem); return; }
  start();
})();
