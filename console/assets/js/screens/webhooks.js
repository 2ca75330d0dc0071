// Webhooks: the registry, the create/edit form (code suggested from the
// name, locked once saved), and a webhook's page with its delivery log.
import { h, replace, field, group, openDialog, showFieldErrors, clearFieldErrors, switchButton, confirmAction,
  announce, time, copyButton, select, debounce, statusBadge } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry, searchBox } from '../list.js';
import { kvEditor, conditionsEditor, placeholderPicker, examplePaths, typeExamples, envelopePaths, durationOrUndefined } from '../editors.js';
import { deliveryLog } from './deliveries.js';

const methods = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'];
const retryPresets = [
  ['every_10m_48h', 'Every 10 minutes for 48 hours (ipSCAPE)'],
  ['30s_x3', 'After 30 seconds, up to two more tries (Cotalker)'],
  ['none', 'No retries'],
  ['custom', 'Custom…'],
];

export function render(ctx) {
  if (ctx.params[0]) return webhookPage(ctx, ctx.params[0]);
  return webhookList(ctx);
}

function webhookList(ctx) {
  const write = ctx.can(Scope.webhooks);
  const filter = { q: '', showDisabled: true };
  const showDisabled = h('input', { type: 'checkbox', id: 'show-disabled', checked: true });
  showDisabled.addEventListener('change', () => { filter.showDisabled = showDisabled.checked; list.state.page = 1; list.reload(); });
  const list = registry({
    caption: 'Webhooks', noun: 'webhooks', one: 'webhook', selectable: write,
    empty: write ? 'No webhooks yet. Create one with “New webhook”.' : 'No webhooks yet.',
    key: (w) => w.id, name: (w) => w.name,
    fetch: (q) => api('GET', '/webhooks', null, { ...q, q: filter.q, enabled: filter.showDisabled ? undefined : 'true' }),
    filters: [searchBox('Search webhooks', (v) => { filter.q = v; list.state.page = 1; list.reload(); }),
      h('label', { class: 'inline', for: 'show-disabled' }, showDisabled, ' Show disabled')],
    actions: write ? [h('button', { type: 'button', class: 'btn primary', onclick: () => webhookForm(ctx, null, () => list.reload()) }, 'New webhook')] : [],
    bulk: write ? [
      { label: 'Enable', path: '/webhooks/bulk-enable' },
      { label: 'Disable', path: '/webhooks/bulk-disable' },
      { label: 'Delete', path: '/webhooks/bulk-delete', destructive: true },
    ] : [],
    columns: [
      { label: 'Name', sort: 'name', cell: (w) => h('a', { href: 'webhooks/' + encodeURIComponent(w.code) }, w.name) },
      { label: 'Code', sort: 'code', cell: (w) => h('code', {}, w.code) },
      { label: 'URL', cell: (w) => h('span', { class: 'url' }, h('span', { class: 'method' }, w.method), ' ', w.url) },
      { label: 'Event types', cell: (w) => w.event_types.join(', ') },
      { label: 'Enabled', cell: (w) => enabledCell(ctx, w, write) },
      { label: 'Updated', sort: 'updated_at', cell: (w) => time(w.updated_at) },
    ],
  });
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Webhooks'),
    h('p', { class: 'lede' }, 'Subscriptions that send events to other systems, signed, retried and logged.')), list.el);
  list.reload();
}

function enabledCell(ctx, w, write) {
  if (!write) return h('span', { class: w.enabled ? 'on' : 'off' }, w.enabled ? 'Enabled' : 'Disabled');
  return switchButton({
    checked: w.enabled, label: `Enabled: ${w.name}`,
    onchange: async (on) => {
      try {
        await api('PATCH', '/webhooks/' + encodeURIComponent(w.id), { enabled: on });
        announce(`${w.name} ${on ? 'enabled' : 'disabled'}`);
        return true;
      } catch (e) { announce(e.message, 'error'); return false; }
    },
  });
}

/** webhookForm opens the create (w = null) or edit dialog. */
export async function webhookForm(ctx, w, saved) {
  const catalog = await ctx.catalog().catch(() => ({ objects: [], event_types: [], condition_operators: [] }));
  const editing = !!w;
  const name = h('input', { type: 'text', required: true, value: w ? w.name : '', autocomplete: 'off' });
  const code = h('input', { type: 'text', value: w ? w.code : '', readonly: editing, pattern: '[a-z0-9_]+', spellcheck: 'false', autocomplete: 'off' });
  const description = h('textarea', { rows: 2 }, w ? w.description : '');
  const url = h('input', { type: 'url', value: w ? w.url : '', placeholder: 'https://example.com/hooks/{{ case.id }}', spellcheck: 'false' });
  const method = select(methods, w ? w.method : 'POST');
  const headers = kvEditor('Headers', w ? w.headers : {}, { keyLabel: 'Header', valueLabel: 'Value' });
  const params = kvEditor('Params', w ? w.params : {}, { keyLabel: 'Param', valueLabel: 'Value' });
  const body = h('textarea', { rows: 5, class: 'mono', placeholder: 'Empty: the event as JSON' }, w && w.body != null ? w.body : '');
  const selectedTypes = new Set(w ? w.event_types : []);
  const typesBox = eventTypePicker(catalog, selectedTypes);
  const examples = typeExamples(catalog);
  const picker = placeholderPicker(body, () => {
    const groups = [];
    for (const t of selectedTypes) {
      const ex = examples[t] || examples[t.replace(/\.\*$/, '')];
      if (ex) groups.push([t + ' example', examplePaths(ex)]);
    }
    groups.push(['The event', [...envelopePaths, 'event.data']]);
    return groups;
  });
  const conditions = conditionsEditor(w ? w.conditions : [], catalog.condition_operators);
  const retry = w ? w.retry || {} : {};
  const preset = select(retryPresets, retry.preset || (w && !retry.preset ? 'custom' : 'every_10m_48h'));
  const custom = {
    initial_interval: h('input', { type: 'text', value: retry.initial_interval || '30s' }),
    backoff: h('input', { type: 'number', step: '0.1', min: '1', value: retry.backoff || 1 }),
    max_interval: h('input', { type: 'text', value: retry.max_interval || '10m' }),
    max_attempts: h('input', { type: 'number', min: '1', value: retry.max_attempts || 3 }),
    expire_after: h('input', { type: 'text', value: retry.expire_after || '48h' }),
  };
  const customBox = h('div', { class: 'grid-fields', hidden: preset.value !== 'custom' },
    field('Initial interval', custom.initial_interval, { path: 'retry.initial_interval' }),
    field('Backoff', custom.backoff, { path: 'retry.backoff' }),
    field('Max interval', custom.max_interval, { path: 'retry.max_interval' }),
    field('Max attempts', custom.max_attempts, { path: 'retry.max_attempts' }),
    field('Expire after', custom.expire_after, { path: 'retry.expire_after' }));
  preset.addEventListener('change', () => { customBox.hidden = preset.value !== 'custom'; });
  const timeout = h('input', { type: 'text', value: w ? w.timeout : '10s', placeholder: '10s' });
  const ordered = h('input', { type: 'checkbox', checked: w ? w.ordered : false });
  const enabled = switchButton({ checked: w ? w.enabled : true, label: 'Enabled' });

  // The code follows the name until it is typed by hand (Cotalker).
  let codeTouched = editing;
  code.addEventListener('input', () => { codeTouched = code.value !== ''; });
  let asked = 0;
  const suggest = debounce(async () => {
    if (codeTouched) return;
    const n = ++asked;
    try {
      const r = await api('GET', '/webhooks/suggest-code', null, { name: name.value });
      if (n === asked && !codeTouched) code.value = r.code;
    } catch { /* the server checks the code on save */ }
  }, 200);
  if (!editing) name.addEventListener('input', suggest);

  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    h('div', { class: 'grid-fields' },
      field('Name', name, { path: 'name' }),
      field('Code', code, { path: 'code', hint: editing ? 'Codes cannot be changed once saved.' : 'Suggested from the name; lowercase letters, digits and _. Locked once saved.' }),
      field('URL', url, { path: 'url', wide: true, hint: 'Placeholders such as {{ case.id }} are filled from the event.' }),
      field('Method', method, { path: 'method' }),
      field('Timeout', timeout, { path: 'timeout', hint: '1s–30s' }),
      field('Description', description, { path: 'description', wide: true })),
    group('Event types', typesBox, { path: 'event_types', wide: true }),
    group('Headers', headers, { path: 'headers', wide: true }),
    group('Params', params, { path: 'params', wide: true, hint: 'Query parameters added to the URL.' }),
    h('div', { class: 'field wide', dataset: { path: 'body' } }, h('div', { class: 'label-row' }, h('label', { for: 'wh-body' }, 'Body template'), picker),
      Object.assign(body, { id: 'wh-body' }), h('p', { class: 'field-error', hidden: true })),
    group('Conditions', conditions, { path: 'conditions', wide: true, hint: 'All must hold; none means always.' }),
    h('div', { class: 'grid-fields' }, field('Retry', preset, { path: 'retry' }),
      h('div', { class: 'field checkbox' }, h('label', {}, ordered, ' Ordered (send one at a time, in publish order)'))),
    customBox,
    h('div', { class: 'field switch-field' }, h('span', { class: 'label', id: 'wh-enabled' }, 'Enabled'), enabled));
  enabled.setAttribute('aria-labelledby', 'wh-enabled');
  enabled.removeAttribute('aria-label');
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), save));
  const dlg = openDialog({ title: editing ? `Edit webhook ${w.name}` : 'New webhook', body: form, wide: true });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const payload = {
      name: name.value, description: description.value, url: url.value.trim(), method: method.value,
      headers: headers.value(), params: params.value(), body: body.value === '' ? null : body.value,
      event_types: [...selectedTypes], conditions: conditions.value(), timeout: durationOrUndefined(timeout.value) ?? null,
      ordered: ordered.checked, enabled: enabled.getAttribute('aria-checked') === 'true',
    };
    if (preset.value === 'custom') {
      payload.retry = { initial_interval: custom.initial_interval.value, backoff: +custom.backoff.value, max_interval: custom.max_interval.value,
        max_attempts: +custom.max_attempts.value, expire_after: custom.expire_after.value };
    } else payload.retry = { preset: preset.value };
    if (!editing) payload.code = code.value.trim() || undefined;
    save.disabled = true;
    try {
      const r = editing ? await api('PATCH', '/webhooks/' + encodeURIComponent(w.id), payload) : await api('POST', '/webhooks', payload);
      dlg.close_();
      announce(editing ? `Saved ${r.name}` : `Created ${r.name}`);
      if (!editing) showSecret(r, 'Webhook created');
      if (saved) saved(r);
    } catch (err) {
      showFieldErrors(form, err);
    } finally { save.disabled = false; }
  });
}

/** eventTypePicker is a filterable checkbox list of catalog types, with
 * "object.*" for every event of an object. */
function eventTypePicker(catalog, selected) {
  const filter = h('input', { type: 'search', 'aria-label': 'Filter event types', placeholder: 'Filter event types' });
  const listEl = h('div', { class: 'type-list' });
  const known = new Set();
  const objects = catalog.objects || [];
  for (const o of objects) {
    const box = h('div', { class: 'type-group', dataset: { object: o.name } }, h('div', { class: 'type-group-name' }, o.label));
    const entries = [[o.name + '.*', `${o.name}.* (every event)`], ...o.events.map((ev) => [ev.type, ev.type])];
    for (const [t, label] of entries) {
      known.add(t);
      const cb = h('input', { type: 'checkbox', value: t, checked: selected.has(t) });
      cb.addEventListener('change', () => { if (cb.checked) selected.add(t); else selected.delete(t); });
      box.append(h('label', { class: 'type', dataset: { type: t } }, cb, ' ', label));
    }
    listEl.append(box);
  }
  // Custom types and patterns saved before that the catalog does not list.
  const extra = [...selected].filter((t) => !known.has(t));
  const custom = h('input', { type: 'text', 'aria-label': 'Other event type', placeholder: 'Other type, e.g. invoice.paid or *' });
  const addCustom = h('button', { type: 'button', class: 'btn small' }, 'Add type');
  const chips = h('div', { class: 'chips' });
  function addChip(t) {
    const chip = h('span', { class: 'chip' }, t, h('button', { type: 'button', class: 'icon', 'aria-label': 'Remove ' + t, onclick: () => { selected.delete(t); chip.remove(); } }, '×'));
    chips.append(chip);
  }
  extra.forEach(addChip);
  addCustom.addEventListener('click', () => {
    const t = custom.value.trim();
    if (!t || selected.has(t)) return;
    selected.add(t);
    const label = listEl.querySelector(`label[data-type="${CSS.escape(t)}"] input`);
    if (label) label.checked = true; else addChip(t);
    custom.value = '';
  });
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const l of listEl.querySelectorAll('label.type')) l.hidden = q !== '' && !l.textContent.toLowerCase().includes(q);
    for (const g of listEl.querySelectorAll('.type-group')) g.hidden = ![...g.querySelectorAll('label.type')].some((l) => !l.hidden);
  });
  return h('div', { class: 'type-picker' }, filter, listEl, h('div', { class: 'row' }, custom, addCustom), chips);
}

/** showSecret shows a signing secret once, with a copy button. */
function showSecret(w, title) {
  const input = h('input', { type: 'text', readonly: true, value: w.secret, class: 'mono grow', 'aria-label': 'Signing secret' });
  const dlg = openDialog({
    title,
    body: [h('p', {}, `The signing secret of ${w.name}. It is shown only now: copy it to the receiver, which verifies the webhook-signature header with it.`),
      h('div', { class: 'row' }, input, copyButton('Copy signing secret', () => w.secret))],
    footer: [h('button', { type: 'button', class: 'btn primary', onclick: () => dlg.close_() }, 'Done')],
  });
}

async function webhookPage(ctx, ref) {
  const write = ctx.can(Scope.webhooks);
  replace(ctx.main, h('p', { class: 'list-status' }, 'Loading…'));
  let w;
  try { w = await api('GET', '/webhooks/' + encodeURIComponent(ref)); } catch (e) {
    replace(ctx.main, h('h1', {}, 'Webhook'), h('p', { class: 'alert', role: 'alert' }, e.status === 404 ? `No webhook “${ref}”.` : e.message),
      h('p', {}, h('a', { href: 'webhooks' }, 'Back to webhooks')));
    return;
  }
  document.title = w.name + ' · Webhooks · TriggerFlow';
  const reloadPage = () => webhookPage(ctx, w.code);
  const actions = write ? [
    h('button', { type: 'button', class: 'btn', onclick: () => webhookForm(ctx, w, reloadPage) }, 'Edit'),
    h('button', { type: 'button', class: 'btn', onclick: () => sendTest(w, log) }, 'Send test'),
    h('button', { type: 'button', class: 'btn', onclick: () => rotate(w) }, 'Rotate secret'),
    h('button', { type: 'button', class: 'btn danger-outline', onclick: async () => {
      if (!await confirmAction(`Delete ${w.name}?`, `Delete the webhook ${w.name} (${w.code}) with its delivery log? This cannot be undone.`, 'Delete')) return;
      try { await api('DELETE', '/webhooks/' + encodeURIComponent(w.id)); announce(`Deleted ${w.name}`); ctx.navigate('webhooks'); } catch (e) { announce(e.message, 'error'); }
    } }, 'Delete'),
  ] : [];
  const retry = w.retry.preset ? (retryPresets.find(([k]) => k === w.retry.preset) || [0, w.retry.preset])[1]
    : `every ${w.retry.initial_interval} ×${w.retry.backoff || 1}, up to ${w.retry.max_attempts || '∞'} tries, ${w.retry.expire_after || ''}`;
  const log = deliveryLog(ctx, { path: '/webhooks/' + encodeURIComponent(w.id) + '/deliveries', write });
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'webhooks' }, 'Webhooks'), ' / ', w.name),
    h('div', { class: 'page-head with-actions' },
      h('div', {}, h('h1', {}, w.name), h('p', { class: 'lede' }, h('code', {}, w.code), ' · ', h('span', { class: 'method' }, w.method), ' ', h('span', { class: 'url' }, w.url))),
      h('div', { class: 'head-actions' }, enabledCell(ctx, w, write), actions)),
    h('dl', { class: 'facts' },
      fact('Event types', w.event_types.join(', ')),
      fact('Conditions', w.conditions && w.conditions.length ? w.conditions.map((c) => `${c.reference} ${c.operator} ${c.value}`).join('; ') : 'none (always)'),
      fact('Retry', retry), fact('Timeout', w.timeout), fact('Ordered', w.ordered ? 'yes, in publish order' : 'no, in parallel'),
      fact('Secret', h('code', {}, w.secret)), fact('Created', time(w.created_at)), fact('Updated', time(w.updated_at))),
    h('h2', {}, 'Deliveries'),
    log.el);
  log.reload();
}

function fact(label, value) { return [h('dt', {}, label), h('dd', {}, value)]; }

async function sendTest(w, log) {
  announce(`Sending a test event to ${w.url}…`);
  try {
    const r = await api('POST', '/webhooks/' + encodeURIComponent(w.id) + '/test', {});
    const a = r.attempt;
    openDialog({
      title: 'Test sent',
      body: a ? [h('p', {}, statusBadge(a.result === 'SUCCESS' ? 'succeeded' : 'failed'), ' ', a.response_status ? `HTTP ${a.response_status}` : (a.error || 'no answer'), ` in ${a.duration_ms} ms`),
        a.response_body ? h('pre', { class: 'code' }, a.response_body) : null]
        : [h('p', {}, 'The test is still running; see the delivery log.')],
    });
    log.reload();
  } catch (e) { announce('Test failed: ' + e.message, 'error'); }
}

async function rotate(w) {
  if (!await confirmAction(`Rotate the secret of ${w.name}?`, 'A new signing secret is made now; the current one keeps signing for 24 hours so receivers can switch.', 'Rotate secret')) return;
  try { showSecret(await api('POST', '/webhooks/' + encodeURIComponent(w.id) + '/rotate-secret'), 'Secret rotated'); } catch (e) { announce(e.message, 'error'); }
}
