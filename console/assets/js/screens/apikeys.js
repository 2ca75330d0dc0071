// API keys (admins): create with scopes (the key shown once, with copy),
// list, revoke.
import { h, replace, field, group, openDialog, showFieldErrors, clearFieldErrors, confirmAction, announce, time, copyButton } from '../dom.js';
import { api } from '../api.js';
import { registry } from '../list.js';

const scopes = [
  ['read', 'read — see everything'],
  ['publish', 'publish — send events'],
  ['webhooks:write', 'webhooks:write — manage webhooks and deliveries'],
  ['triggers:write', 'triggers:write — manage flows, triggers and queue hooks'],
  ['admin', 'admin — everything, including API keys'],
];

export function render(ctx) {
  const list = registry({
    caption: 'API keys', noun: 'keys', one: 'key', selectable: false, empty: 'No API keys yet. The bootstrap admin token is not listed.',
    key: (k) => k.id, name: (k) => k.name,
    fetch: (q) => api('GET', '/api-keys', null, q),
    actions: [h('button', { type: 'button', class: 'btn primary', onclick: () => keyForm(() => list.reload()) }, 'New key')],
    columns: [
      { label: 'Name', cell: (k) => k.name },
      { label: 'Key', cell: (k) => h('code', {}, k.prefix + '…') },
      { label: 'Scopes', cell: (k) => k.scopes.join(', ') },
      { label: 'Created', cell: (k) => time(k.created_at) },
      { label: 'Last used', cell: (k) => time(k.last_used_at) },
      { label: 'State', cell: (k) => k.revoked_at ? h('span', { class: 'alert' }, 'revoked ', time(k.revoked_at))
        : k.expires_at ? h('span', {}, 'expires ', time(k.expires_at)) : h('span', { class: 'on' }, 'active') },
      { label: 'Revoke', cell: (k) => k.revoked_at ? '' : h('button', { type: 'button', class: 'btn small danger-outline', 'aria-label': `Revoke ${k.name}`, onclick: async () => {
        if (!await confirmAction(`Revoke ${k.name}?`, `Clients using ${k.prefix}… stop working at once. This cannot be undone.`, 'Revoke')) return;
        try { await api('DELETE', '/api-keys/' + encodeURIComponent(k.id)); announce(`Revoked ${k.name}`); list.reload(); } catch (e) { announce(e.message, 'error'); }
      } }, 'Revoke') },
    ],
  });
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'API keys'),
    h('p', { class: 'lede' }, 'Keys for scripts, business systems and people using this console. Only a hash of each key is stored.')), list.el);
  list.reload();
}

function keyForm(saved) {
  const name = h('input', { type: 'text', autocomplete: 'off' });
  const boxes = scopes.map(([v, l]) => h('label', { class: 'check-line' }, h('input', { type: 'checkbox', value: v, checked: v === 'read' }), ' ', l));
  const expires = h('input', { type: 'datetime-local' });
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    field('Name', name, { path: 'name', hint: 'What the key is for, e.g. “CRM publisher”.' }),
    group('Scopes', h('div', { class: 'rows' }, boxes), { path: 'scopes' }),
    field('Expires', expires, { path: 'expires_at', hint: 'Optional.' }));
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), save));
  const dlg = openDialog({ title: 'New key', body: form });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const payload = { name: name.value, scopes: boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value) };
    if (expires.value) payload.expires_at = new Date(expires.value).toISOString().replace(/\.\d+Z$/, 'Z');
    save.disabled = true;
    try {
      const k = await api('POST', '/api-keys', payload);
      dlg.close_();
      const input = h('input', { type: 'text', readonly: true, value: k.key, class: 'mono grow', 'aria-label': 'New API key' });
      const shown = openDialog({
        title: 'Key created',
        body: [h('p', {}, `The key “${k.name}” is shown only now: copy it to where it will be used.`), h('div', { class: 'row' }, input, copyButton('Copy API key', () => k.key))],
        footer: [h('button', { type: 'button', class: 'btn primary', onclick: () => shown.close_() }, 'Done')],
      });
      if (saved) saved();
    } catch (err) { showFieldErrors(form, err); } finally { save.disabled = false; }
  });
}
