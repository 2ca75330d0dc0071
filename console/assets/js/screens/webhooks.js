// Webhooks: the registry, the create/edit form (code suggested from the
// name, locked once saved), and a webhook's page with its delivery log.
import { h, replace, field, group, openDialog, showFieldErrors, clearFieldErrors, switchButton, confirmAction,
  announce, time, select, debounce, statusBadge, showSecretOnce, readJSONField } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry, searchBox } from '../list.js';
import { kvEditor, conditionsEditor, placeholderPicker, examplePaths, typeExamples, envelopePaths, durationOrUndefined,
  eventTypePicker, objectChoices } from '../editors.js';
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

/** filtersEditor edits a webhook's per-type filters ({"task.created":
 * [conditions]}): rows of an event type (one the webhook subscribes to) and
 * its conditions. Each row carries the path filters["<type>"], so the API's
 * errors land on it. types() says what the webhook subscribes to now. */
function filtersEditor(initial, operators, types) {
  const rows = h('div', { class: 'rows filter-rows' });
  function renumber() {
    [...rows.children].forEach((row, i) => {
      const n = i + 1;
      row.typeSelect.setAttribute('aria-label', `Filter ${n} event type`);
      row.querySelector('.remove-filter').setAttribute('aria-label', `Remove filter ${n}`);
      row.conditions.relabel(`Filter ${n} condition`, `Add condition to filter ${n}`);
      row.dataset.path = row.typeSelect.value ? `filters[${JSON.stringify(row.typeSelect.value)}]` : '';
    });
  }
  function fillTypes(sel) {
    const keep = sel.value;
    const list = [...new Set([...types(), ...(keep ? [keep] : [])])];
    sel.replaceChildren(h('option', { value: '' }, '— choose an event type —'), ...list.map((t) => h('option', { value: t }, t)));
    sel.value = keep;
  }
  function addRow(type = '', conds = []) {
    const sel = h('select', {});
    sel.append(h('option', { value: type }, type));
    sel.value = type;
    fillTypes(sel);
    // The choices follow the event types picked above, at the moment the
    // list is opened.
    sel.addEventListener('focus', () => fillTypes(sel));
    sel.addEventListener('mousedown', () => fillTypes(sel));
    sel.addEventListener('change', renumber);
    const conditions = conditionsEditor(conds, operators, 'Condition');
    const row = h('div', { class: 'filter-row' },
      h('div', { class: 'row' }, h('span', { class: 'label' }, 'When the event is'), sel,
        h('button', { type: 'button', class: 'icon remove-filter', onclick: () => { row.remove(); renumber(); } }, '×')),
      conditions, h('p', { class: 'field-error', hidden: true }));
    row.typeSelect = sel;
    row.conditions = conditions;
    rows.append(row);
    renumber();
    return sel;
  }
  for (const [type, conds] of Object.entries(initial || {})) addRow(type, conds);
  const add = h('button', { type: 'button', class: 'btn small', onclick: () => addRow().focus() }, 'Add filter');
  const el = h('div', { class: 'filters-editor' }, rows, add);
  el.value = () => {
    const out = {};
    for (const row of rows.children) {
      const type = row.typeSelect.value;
      if (type) out[type] = [...(out[type] || []), ...row.conditions.value()];
    }
    return out;
  };
  return el;
}

/** webhookForm opens the create (w = null) or edit dialog. Every field of
 * the API is here; an edit sends only what the form holds, so what the
 * server keeps beyond it is left as it is. */
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
  // Webhook scripts: the use case is chosen once, at creation.
  const useCase = select([['', '— any object —'], ...objectChoices(catalog)], w ? w.use_case || '' : '', { disabled: editing });
  const successStatus = h('input', { type: 'text', value: w && w.success_status ? w.success_status : '', placeholder: '200-299', spellcheck: 'false', class: 'mono' });
  const expression = h('textarea', { rows: 2, class: 'mono', spellcheck: 'false', placeholder: 'data.attempts == data.max_attempts' }, w ? w.expression || '' : '');
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
  const filters = filtersEditor(w ? w.filters : {}, catalog.condition_operators, () => [...selectedTypes]);
  const retry = w ? w.retry || {} : {};
  const preset = select(retryPresets, retry.preset || (w && !retry.preset ? 'custom' : 'every_10m_48h'));
  // A saved custom policy shows as it is (an empty field is a field not
  // set, e.g. no attempt limit); a new one starts from a sensible policy.
  const customStart = w && !retry.preset ? retry : { initial_interval: '30s', backoff: 1, max_interval: '10m', max_attempts: 3, expire_after: '48h' };
  const custom = {
    initial_interval: h('input', { type: 'text', value: customStart.initial_interval || '' }),
    backoff: h('input', { type: 'number', step: '0.1', min: '1', value: customStart.backoff || '' }),
    max_interval: h('input', { type: 'text', value: customStart.max_interval || '' }),
    max_attempts: h('input', { type: 'number', min: '1', value: customStart.max_attempts || '' }),
    expire_after: h('input', { type: 'text', value: customStart.expire_after || '' }),
  };
  const retryAll = h('input', { type: 'checkbox', checked: !!retry.retry_all });
  const customBox = h('div', { class: 'grid-fields', hidden: preset.value !== 'custom' },
    field('Initial interval', custom.initial_interval, { path: 'retry.initial_interval' }),
    field('Backoff', custom.backoff, { path: 'retry.backoff' }),
    field('Max interval', custom.max_interval, { path: 'retry.max_interval' }),
    field('Max attempts', custom.max_attempts, { path: 'retry.max_attempts', hint: 'Counts the first try; empty: until Expire after.' }),
    field('Expire after', custom.expire_after, { path: 'retry.expire_after' }));
  preset.addEventListener('change', () => { customBox.hidden = preset.value !== 'custom'; });
  const timeout = h('input', { type: 'text', value: w ? w.timeout : '10s', placeholder: '10s' });
  const ordered = h('input', { type: 'checkbox', checked: w ? w.ordered : false });
  const enabled = switchButton({ checked: w ? w.enabled : true, label: 'Enabled' });
  typesBox.restrict(useCase.value);
  useCase.addEventListener('change', () => typesBox.restrict(useCase.value));

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
      field('Use case', useCase, { path: 'use_case', hint: editing ? 'Fixed when the webhook was created.'
        : 'Optional: the object this webhook is for. Fixed once saved; its event types must then be that object’s.' }),
      field('Success status', successStatus, { path: 'success_status', hint: 'Answers that count as SUCCESS: codes and ranges within 200–299, e.g. 200-209 (Cotalker). Empty: 200-299.' }),
      field('Description', description, { path: 'description', wide: true })),
    group('Event types', typesBox, { path: 'event_types', wide: true }),
    group('Headers', headers, { path: 'headers', wide: true }),
    group('Params', params, { path: 'params', wide: true, hint: 'Query parameters added to the URL.' }),
    h('div', { class: 'field wide', dataset: { path: 'body' } }, h('div', { class: 'label-row' }, h('label', { for: 'wh-body' }, 'Body template'), picker),
      Object.assign(body, { id: 'wh-body' }), h('p', { class: 'field-error', hidden: true })),
    group('Conditions', conditions, { path: 'conditions', wide: true, hint: 'All must hold; none means always.' }),
    group('Filters by event type', filters, { path: 'filters', wide: true, hint: 'Conditions that apply only to events of one type (or pattern) the webhook subscribes to, on top of the ones above.' }),
    field('Filter expression (CEL)', expression, { path: 'expression', wide: true, hint: 'Optional: a CEL expression over data and event that must also be true, e.g. data.attempts == data.max_attempts.' }),
    h('div', { class: 'grid-fields' }, field('Retry', preset, { path: 'retry' }),
      h('div', { class: 'field checkbox' }, h('label', {}, ordered, ' Ordered (send one at a time, in publish order)'))),
    customBox,
    h('div', { class: 'field checkbox', dataset: { path: 'retry.retry_all' } }, h('label', {}, retryAll, ' Also retry 400, 401, 403, 404, 410 and 422 (normally final)')),
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
      event_types: [...selectedTypes], conditions: conditions.value(), filters: filters.value(),
      expression: expression.value.trim(), timeout: durationOrUndefined(timeout.value) ?? null,
      success_status: successStatus.value.trim() || null,
      ordered: ordered.checked, enabled: enabled.getAttribute('aria-checked') === 'true',
    };
    if (preset.value === 'custom') {
      const r = {};
      for (const k of ['initial_interval', 'max_interval', 'expire_after']) if (custom[k].value.trim()) r[k] = custom[k].value.trim();
      for (const k of ['backoff', 'max_attempts']) if (custom[k].value.trim()) r[k] = +custom[k].value;
      payload.retry = r;
    } else payload.retry = { preset: preset.value };
    if (retryAll.checked) payload.retry.retry_all = true;
    if (!editing) {
      payload.code = code.value.trim() || undefined;
      payload.use_case = useCase.value || undefined;
      if (!payload.success_status) delete payload.success_status;
    }
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

/** showSecret shows a webhook's signing secret once, with Copy. */
function showSecret(w, title) { showSecretOnce(title, w.name, w.secret); }

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
    h('button', { type: 'button', class: 'btn', onclick: () => sendTest(ctx, w, log) }, 'Send test'),
    h('button', { type: 'button', class: 'btn', onclick: () => rotate(w) }, 'Rotate secret'),
    h('button', { type: 'button', class: 'btn danger-outline', onclick: async () => {
      if (!await confirmAction(`Delete ${w.name}?`, `Delete the webhook ${w.name} (${w.code}) with its delivery log? This cannot be undone.`, 'Delete')) return;
      try { await api('DELETE', '/webhooks/' + encodeURIComponent(w.id)); announce(`Deleted ${w.name}`); ctx.navigate('webhooks'); } catch (e) { announce(e.message, 'error'); }
    } }, 'Delete'),
  ] : [];
  const retry = (w.retry.preset ? (retryPresets.find(([k]) => k === w.retry.preset) || [0, w.retry.preset])[1]
    : `every ${w.retry.initial_interval} ×${w.retry.backoff || 1}, up to ${w.retry.max_attempts || '∞'} tries` + (w.retry.expire_after ? `, for ${w.retry.expire_after}` : ''))
    + (w.retry.retry_all ? '; 400, 401, 403, 404, 410 and 422 retried too' : '');
  const conditionText = (cs) => cs.map((c) => `${c.reference} ${c.operator} ${c.value}`).join('; ');
  const filters = Object.entries(w.filters || {});
  const log = deliveryLog(ctx, { path: '/webhooks/' + encodeURIComponent(w.id) + '/deliveries', write });
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'webhooks' }, 'Webhooks'), ' / ', w.name),
    h('div', { class: 'page-head with-actions' },
      h('div', {}, h('h1', {}, w.name), h('p', { class: 'lede' }, h('code', {}, w.code), ' · ', h('span', { class: 'method' }, w.method), ' ', h('span', { class: 'url' }, w.url))),
      h('div', { class: 'head-actions' }, enabledCell(ctx, w, write), actions)),
    h('dl', { class: 'facts' },
      w.use_case ? fact('Use case', h('code', {}, w.use_case)) : null,
      fact('Event types', w.event_types.join(', ')),
      fact('Conditions', w.conditions && w.conditions.length ? conditionText(w.conditions) : 'none (always)'),
      filters.length ? fact('Filters', h('ul', { class: 'plain' }, filters.map(([t, cs]) => h('li', {}, h('code', {}, t), ': ', cs.length ? conditionText(cs) : 'always')))) : null,
      w.expression ? fact('Filter expression', h('code', {}, w.expression)) : null,
      fact('Success status', w.success_status || '200-299'),
      fact('Retry', retry), fact('Timeout', w.timeout), fact('Ordered', w.ordered ? 'yes, in publish order' : 'no, in parallel'),
      fact('Secret', h('code', {}, w.secret)), fact('Created', time(w.created_at)), fact('Updated', time(w.updated_at))),
    h('h2', {}, 'Deliveries'),
    log.el);
  log.reload();
}

function fact(label, value) { return [h('dt', {}, label), h('dd', {}, value)]; }

/** testTypes lists the event types a test send may use: the webhook's
 * exact types, then the catalog's types its patterns cover. */
function testTypes(w, catalog) {
  const all = (catalog.types || []).map((t) => t.name);
  const out = [];
  for (const p of w.event_types) {
    if (p === '*') out.push(...all);
    else if (p.endsWith('.*')) out.push(...all.filter((t) => t.startsWith(p.slice(0, -1))));
    else out.push(p);
  }
  return [...new Set(out)];
}

/** sendTest asks which event to send (a type the webhook takes, with its
 * example payload as the data), sends it now and shows the attempt. */
async function sendTest(ctx, w, log) {
  const catalog = await ctx.catalog().catch(() => ({ types: [] }));
  const examples = typeExamples(catalog);
  const types = testTypes(w, catalog);
  const type = select(types, types[0] || '');
  const data = h('textarea', { rows: 8, class: 'mono', spellcheck: 'false' });
  const fillData = () => { data.value = JSON.stringify(examples[type.value] || {}, null, 2); };
  type.addEventListener('change', fillData);
  fillData();
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    h('p', { class: 'muted' }, `Sends one event to ${w.url} now, signed like any delivery, and shows the answer. It is not published: no other webhook or trigger sees it.`),
    field('Event type', type, { path: 'event_type' }),
    field('Event data', data, { path: 'data', hint: 'JSON; prefilled with the type’s example payload.' }));
  const send = h('button', { type: 'submit', class: 'btn primary' }, 'Send');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), send));
  const dlg = openDialog({ title: 'Send a test event', body: form, wide: true });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const parsed = readJSONField(form, data, 'data');
    if (parsed === undefined) return;
    send.disabled = true;
    try {
      const r = await api('POST', '/webhooks/' + encodeURIComponent(w.id) + '/test', { event_type: type.value || undefined, data: parsed });
      dlg.close_();
      const a = r.attempt;
      openDialog({
        title: 'Test sent',
        body: a ? [h('p', {}, statusBadge(a.result === 'SUCCESS' ? 'succeeded' : 'failed'), ' ', a.response_status ? `HTTP ${a.response_status}` : (a.error || 'no answer'), ` in ${a.duration_ms} ms`),
          a.response_body ? h('pre', { class: 'code' }, a.response_body) : null]
          : [h('p', {}, 'The test is still running; see the delivery log.')],
      });
      log.reload();
    } catch (err) { showFieldErrors(form, err); } finally { send.disabled = false; }
  });
}

async function rotate(w) {
  if (!await confirmAction(`Rotate the secret of ${w.name}?`, 'A new signing secret is made now; the current one keeps signing for 24 hours so receivers can switch.', 'Rotate secret')) return;
  try { showSecret(await api('POST', '/webhooks/' + encodeURIComponent(w.id) + '/rotate-secret'), 'Secret rotated'); } catch (e) { announce(e.message, 'error'); }
}
