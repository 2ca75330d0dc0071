// Triggers: At Time (cron in a zone, its words and next runs shown while
// typing) and On Event (Object → Event, conditions), running a service flow
// or ipSCAPE-style actions; enable switch, Start/Stop, Run now, runs.
import { h, replace, field, group, openDialog, showFieldErrors, clearFieldErrors, switchButton, confirmAction, announce,
  time, zonedTime, select, debounce, setFieldError, statusBadge, showSecretOnce, readJSONField } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry, searchBox } from '../list.js';
import { conditionsEditor, searchableSelect, durationOrUndefined, objectChoices, objectEvents, typeExamples } from '../editors.js';
import { paramsForm } from '../params.js';
import { deliveryLog, openRun } from './deliveries.js';

const typeLabels = { at_time: 'At Time', on_event: 'On Event' };
const overlapLabels = {
  skip: 'Skip the new run (default)', buffer_one: 'Start it when the running one ends (keep one)', buffer_all: 'Queue every one',
  cancel_other: 'Cancel the running one', terminate_other: 'Terminate the running one', allow_all: 'Run them side by side',
};

export function render(ctx) {
  if (ctx.params[0]) return triggerPage(ctx, ctx.params[0]);
  return triggerList(ctx);
}

function triggerList(ctx) {
  const write = ctx.can(Scope.triggers);
  const filter = { q: '', type: '' };
  const type = select([['', 'All types'], ['at_time', 'At Time'], ['on_event', 'On Event']], '', { 'aria-label': 'Type filter' });
  type.addEventListener('change', () => { filter.type = type.value; list.state.page = 1; list.reload(); });
  const list = registry({
    caption: 'Triggers', noun: 'triggers', one: 'trigger', selectable: write,
    empty: write ? 'No triggers yet. Create one with “New trigger”.' : 'No triggers yet.',
    key: (t) => t.id, name: (t) => t.name,
    fetch: (q) => api('GET', '/triggers', null, { ...q, q: filter.q, type: filter.type }),
    filters: [searchBox('Search triggers', (v) => { filter.q = v; list.state.page = 1; list.reload(); }), type],
    actions: write ? [h('button', { type: 'button', class: 'btn primary', onclick: () => triggerForm(ctx, null, () => list.reload()) }, 'New trigger')] : [],
    bulk: write ? [
      { label: 'Enable', path: '/triggers/bulk-enable' },
      { label: 'Disable', path: '/triggers/bulk-disable' },
      { label: 'Delete', path: '/triggers/bulk-delete', destructive: true },
    ] : [],
    columns: [
      { label: 'Name', sort: 'name', cell: (t) => h('a', { href: 'triggers/' + encodeURIComponent(t.id) }, t.name) },
      { label: 'Type', cell: (t) => typeLabels[t.type] || t.type },
      { label: 'When', cell: (t) => t.type === 'at_time' ? h('span', { title: t.expression }, t.expression_text || t.expression) : h('code', {}, t.event_type) },
      { label: 'Runs', cell: (t) => t.flow_name || t.flow || (t.actions ? `${t.actions.length} action${t.actions.length === 1 ? '' : 's'}` : '—') },
      { label: 'Next run', cell: (t) => t.type === 'at_time' && t.enabled && t.next_runs && t.next_runs[0] ? zonedTime(t.next_runs[0]) : h('span', { class: 'muted' }, '—') },
      { label: 'Enabled', cell: (t) => enabledCell(t, write) },
      { label: 'Updated', sort: 'updated_at', cell: (t) => time(t.updated_at) },
    ],
  });
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Triggers'),
    h('p', { class: 'lede' }, 'Run a flow at points in time (At Time) or when an object’s event happens (On Event).')), list.el);
  list.reload();
}

/** enabledCell is Webitel's switch: on starts (unpauses), off stops. */
function enabledCell(t, write, after) {
  if (!write) return h('span', { class: t.enabled ? 'on' : 'off' }, t.enabled ? 'Enabled' : 'Disabled');
  return switchButton({
    checked: t.enabled, label: `Enabled: ${t.name}`,
    onchange: async (on) => {
      try {
        await api('POST', `/triggers/${encodeURIComponent(t.id)}/${on ? 'start' : 'stop'}`);
        announce(`${t.name} ${on ? 'started' : 'stopped'}`);
        if (after) after();
        return true;
      } catch (e) { announce(e.message, 'error'); return false; }
    },
  });
}

/** flowPicker lists service flows only (the only ones triggers may run). */
export function flowPicker(value) {
  return searchableSelect({
    label: 'Flow', searchLabel: 'Search flows', value, emptyLabel: '— choose a service flow —',
    load: async (q) => (await api('GET', '/flows', null, { type: 'service', q, per_page: 100, sort: 'name' })).items.map((f) => [f.id, f.name]),
  });
}

/** zonePicker is the searchable list of IANA zones. */
function zonePicker(zones, value) {
  const all = zones && zones.length ? zones : ['UTC'];
  return searchableSelect({
    label: 'Time zone', searchLabel: 'Search time zones', value: value || 'UTC', emptyLabel: '— choose a zone —',
    load: async (q) => all.filter((z) => z.toLowerCase().includes(q.toLowerCase().replace(/ /g, '_'))).map((z) => [z, z.replace(/_/g, ' ')]),
  });
}

/**
 * actionsEditor edits an ipSCAPE-style trigger's actions as rows: an
 * action (from GET /v1/actions, only those the catalog's trigger_actions
 * allow) and its parameter form, generated from the action's schema as a
 * flow step's is. Rows can be added, removed and moved; each carries the
 * path actions[i], so the API's errors land on the row and parameter they
 * name. value() reads [{action, parameters}] back.
 */
function actionsEditor(actions, allowed, initial) {
  const usable = actions.filter((a) => !allowed || !allowed.length || allowed.includes(a.name));
  const rows = h('div', { class: 'steps action-rows' });
  function renumber() {
    [...rows.children].forEach((row, i) => {
      const n = i + 1;
      row.dataset.path = `actions[${i}]`;
      row.setAttribute('aria-label', `Action ${n}`);
      row.title_.textContent = `Action ${n}`;
      row.select.closest('.field').dataset.path = `actions[${i}].action`;
      row.select.setAttribute('aria-label', `Action ${n}`);
      row.up.setAttribute('aria-label', `Move action ${n} up`);
      row.down.setAttribute('aria-label', `Move action ${n} down`);
      row.remove_.setAttribute('aria-label', `Remove action ${n}`);
      if (row.params) row.params.at(`actions[${i}].parameters`);
    });
  }
  function addRow(a = { action: '', parameters: {} }) {
    const sel = select([['', '— choose an action —'], ...usable.map((x) => [x.name, x.name])], a.action || '');
    // An action saved before that is no longer offered still shows.
    if (a.action && !usable.some((x) => x.name === a.action)) { sel.append(h('option', { value: a.action }, a.action)); sel.value = a.action; }
    const paramsBox = h('div', {});
    const row = h('section', { class: 'step action-row', role: 'group' });
    row.select = sel;
    row.title_ = h('strong', { class: 'grow' });
    row.up = h('button', { type: 'button', class: 'btn small', onclick: () => { if (row.previousElementSibling) rows.insertBefore(row, row.previousElementSibling); renumber(); } }, '↑');
    row.down = h('button', { type: 'button', class: 'btn small', onclick: () => { if (row.nextElementSibling) rows.insertBefore(row.nextElementSibling, row); renumber(); } }, '↓');
    row.remove_ = h('button', { type: 'button', class: 'btn small danger-outline', onclick: () => { row.remove(); renumber(); } }, 'Remove');
    function fill(values) {
      const spec = actions.find((x) => x.name === sel.value);
      row.params = spec ? paramsForm(spec, values) : null;
      paramsBox.replaceChildren(...(row.params ? [row.params] : []));
    }
    sel.addEventListener('change', () => { fill(null); renumber(); });
    const actionField = field('Action', sel, {});
    row.append(h('div', { class: 'step-head' }, row.title_, row.up, row.down, row.remove_),
      h('div', { class: 'grid-fields' }, actionField), paramsBox, h('p', { class: 'field-error', hidden: true }));
    fill(a.parameters || {});
    rows.append(row);
    renumber();
    return sel;
  }
  for (const a of initial || []) addRow(a);
  const add = h('button', { type: 'button', class: 'btn small', onclick: () => addRow().focus() }, 'Add action');
  const el = h('div', { class: 'actions-editor' }, rows, add);
  el.value = () => [...rows.children].map((row) => ({ action: row.select.value, parameters: row.params ? row.params.value() : {} }));
  return el;
}

async function triggerForm(ctx, t, saved) {
  const [catalog, actionList] = await Promise.all([ctx.catalog(), ctx.actions()]);
  const editing = !!t;
  const name = h('input', { type: 'text', value: t ? t.name : '', autocomplete: 'off' });
  const type = select([['at_time', 'At Time'], ['on_event', 'On Event']], t ? t.type : 'at_time');
  const description = h('textarea', { rows: 2 }, t ? t.description : '');
  const timeout = h('input', { type: 'text', value: t ? t.timeout : '5m', placeholder: '5m' });
  const expression = h('input', { type: 'text', value: t && t.expression ? t.expression : '', placeholder: '0 */1 12 * * *', spellcheck: 'false', autocomplete: 'off', class: 'mono' });
  const zone = zonePicker(catalog.timezones, t ? t.timezone : 'UTC');
  const preview = h('div', { class: 'preview', role: 'status', 'aria-live': 'polite', 'aria-label': 'Schedule preview', hidden: true });
  // The catalog's objects, then those of the admin's own event types.
  const object = select([['', '— choose an object —'], ...objectChoices(catalog)], t && t.object ? t.object : '');
  const event = h('select', {});
  function fillEvents(keep) {
    const events = object.value ? objectEvents(catalog, object.value) : [];
    event.replaceChildren(h('option', { value: '' }, object.value ? '— choose an event —' : '— choose an object first —'),
      ...events.map((ev) => h('option', { value: ev.name }, ev.label)));
    event.disabled = !object.value;
    event.value = keep && events.some((ev) => ev.name === keep) ? keep : '';
  }
  fillEvents(t && t.event);
  // Webitel: the Event list depends on the Object, and clears with it.
  object.addEventListener('change', () => fillEvents(''));
  const conditions = conditionsEditor(t && t.conditions ? t.conditions : [], catalog.condition_operators);
  const runs = select([['flow', 'A service flow'], ['actions', 'Actions (ipSCAPE style)']], t && t.actions && t.actions.length && !t.flow ? 'actions' : 'flow');
  const flow = flowPicker(t && t.flow ? t.flow : '');
  const actions = actionsEditor(actionList, catalog.trigger_actions, t && t.actions ? t.actions : [{ action: '', parameters: {} }]);
  const conditionExpression = h('textarea', { rows: 2, class: 'mono', spellcheck: 'false', placeholder: 'data.attempts == data.max_attempts' },
    t ? t.condition_expression || '' : '');
  const overlap = select((catalog.overlap_policies || ['skip']).map((p) => [p, overlapLabels[p] || p]), t && t.overlap_policy ? t.overlap_policy : 'skip');
  const enabled = switchButton({ checked: t ? t.enabled : true, label: 'Enabled' });

  const expressionField = field('Expression', expression, { path: 'expression', hint: '5 fields (minute hour day month weekday), or 6 with leading seconds: 0 */1 12 * * * is every minute from 12:00 to 12:59.' });
  const zoneField = field('Time zone', zone.select, { path: 'timezone' });
  zoneField.insertBefore(zone.search, zone.select);
  const flowField = field('Flow', flow.select, { path: 'flow', hint: 'Only service flows can be run by triggers.' });
  flowField.insertBefore(flow.search, flow.select);
  const atTime = h('div', { class: 'grid-fields' }, expressionField, zoneField, h('div', { class: 'wide' }, preview),
    field('Overlap policy', overlap, { path: 'overlap_policy', wide: true, hint: 'What happens when a run is due while the previous one still runs.' }));
  const onEvent = h('div', {},
    h('div', { class: 'grid-fields' }, field('Object', object, { path: 'object' }), field('Event', event, { path: 'event' })),
    group('Conditions', conditions, { path: 'conditions', hint: 'All must hold; none means always.' }),
    field('Condition expression (CEL)', conditionExpression, { path: 'condition_expression', wide: true,
      hint: 'Optional: a CEL expression over data and event that must also be true, e.g. data.attempts == data.max_attempts (MPIQ).' }));
  const actionsField = group('Actions', actions, { path: 'actions', wide: true, hint: 'Run in order when the trigger fires; each action’s parameters come from its schema.' });
  const runsBox = h('div', {}, flowField, actionsField);
  function showType() {
    atTime.hidden = type.value !== 'at_time';
    onEvent.hidden = type.value !== 'on_event';
    flowField.hidden = runs.value !== 'flow';
    actionsField.hidden = runs.value !== 'actions';
    if (type.value === 'at_time') refreshPreview();
  }
  type.addEventListener('change', showType);
  runs.addEventListener('change', showType);

  // The words and next runs follow the expression and zone as they change.
  let asked = 0;
  async function refreshPreview() {
    const expr = expression.value.trim();
    if (!expr) { preview.hidden = true; setFieldError(expressionField, ''); return; }
    const n = ++asked;
    try {
      const r = await api('POST', '/cron/preview', { expression: expr, timezone: zone.value || 'UTC' });
      if (n !== asked) return;
      setFieldError(expressionField, '');
      setFieldError(zoneField, '');
      preview.classList.remove('invalid');
      replace(preview, h('strong', { class: 'expression-text' }, r.expression_text),
        h('div', { class: 'muted' }, `Next runs in ${r.timezone}:`),
        h('ol', { class: 'next-runs' }, r.next_runs.map((x) => h('li', {}, zonedTime(x)))));
      preview.hidden = false;
    } catch (e) {
      if (n !== asked) return;
      setFieldError(expressionField, e.fields && e.fields.expression ? e.fields.expression : '');
      setFieldError(zoneField, e.fields && e.fields.timezone ? e.fields.timezone : '');
      preview.hidden = true;
    }
  }
  const later = debounce(refreshPreview, 250);
  expression.addEventListener('input', later);
  zone.select.addEventListener('change', refreshPreview);

  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    h('div', { class: 'grid-fields' },
      field('Name', name, { path: 'name' }),
      field('Type', type, { path: 'type' }),
      field('Timeout', timeout, { path: 'timeout', hint: 'Bounds one run, e.g. 5m (1s–24h).' }),
      field('Runs', runs, {}),
      field('Description', description, { path: 'description', wide: true })),
    atTime, onEvent, runsBox,
    h('div', { class: 'field switch-field' }, h('span', { class: 'label', id: 'tr-enabled' }, 'Enabled'), enabled));
  enabled.setAttribute('aria-labelledby', 'tr-enabled');
  enabled.removeAttribute('aria-label');
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), save));
  const dlg = openDialog({ title: editing ? `Edit trigger ${t.name}` : 'New trigger', body: form, wide: true });
  showType();
  await flow.ready;

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const payload = { name: name.value, type: type.value, description: description.value, timeout: durationOrUndefined(timeout.value) ?? null,
      enabled: enabled.getAttribute('aria-checked') === 'true' };
    if (type.value === 'at_time') Object.assign(payload, { expression: expression.value.trim(), timezone: zone.value || 'UTC', overlap_policy: overlap.value });
    else {
      Object.assign(payload, { object: object.value, event: event.value, conditions: conditions.value(),
        condition_expression: conditionExpression.value.trim(), timezone: t ? t.timezone : 'UTC' });
    }
    if (runs.value === 'flow') { payload.flow = flow.value; if (editing) payload.actions = null; } else {
      payload.actions = actions.value();
      if (editing) payload.flow = null;
    }
    save.disabled = true;
    try {
      const r = editing ? await api('PATCH', '/triggers/' + encodeURIComponent(t.id), payload) : await api('POST', '/triggers', payload);
      dlg.close_();
      announce(editing ? `Saved ${r.name}` : `Created ${r.name}`);
      // The answer that gave the trigger its first webhook action carries
      // the signing secret whole, this once.
      if (r.signing_secret && !r.signing_secret.includes('…')) showSecretOnce('Signing secret of the webhook actions', r.name, r.signing_secret);
      if (saved) saved(r);
    } catch (err) { showFieldErrors(form, err); } finally { save.disabled = false; }
  });
}

/** runWithEvent runs an On Event trigger now for an event the admin gives
 * (its type's example to start from), as POST /v1/triggers/{id}/run takes
 * it: not published, conditions not tested. */
async function runWithEvent(ctx, t, runList) {
  const catalog = await ctx.catalog().catch(() => ({ types: [] }));
  const example = typeExamples(catalog)[t.event_type];
  const data = h('textarea', { rows: 8, class: 'mono', spellcheck: 'false' }, JSON.stringify(example || {}, null, 2));
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    h('p', { class: 'muted' }, `Runs ${t.name} now for one ${t.event_type} event, as if it had arrived — without publishing it (no webhook or other trigger sees it) and without testing the conditions.`),
    field('Event data', data, { path: 'event.data', hint: example ? 'JSON; prefilled with the type’s example payload.' : 'JSON.' }));
  const run = h('button', { type: 'submit', class: 'btn primary' }, 'Run');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), run));
  const dlg = openDialog({ title: `Run ${t.name} now`, body: form, wide: true });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const parsed = readJSONField(form, data, 'event.data');
    if (parsed === undefined) return;
    run.disabled = true;
    try {
      await api('POST', `/triggers/${encodeURIComponent(t.id)}/run`, { event: { data: parsed } });
      dlg.close_();
      announce('Run started');
      setTimeout(() => runList.reload(), 600);
    } catch (err) { showFieldErrors(form, err); } finally { run.disabled = false; }
  });
}

async function triggerPage(ctx, ref) {
  const write = ctx.can(Scope.triggers);
  let t;
  try { t = await api('GET', '/triggers/' + encodeURIComponent(ref)); } catch (e) {
    replace(ctx.main, h('h1', {}, 'Trigger'), h('p', { class: 'alert', role: 'alert' }, e.status === 404 ? `No trigger “${ref}”.` : e.message),
      h('p', {}, h('a', { href: 'triggers' }, 'Back to triggers')));
    return;
  }
  document.title = t.name + ' · Triggers · TriggerFlow';
  const reloadPage = () => triggerPage(ctx, t.id);
  const runList = registry({
    caption: 'Runs', noun: 'runs', one: 'run', selectable: false, empty: 'No runs yet.',
    key: (r) => r.id, name: (r) => r.id,
    fetch: (q) => api('GET', `/triggers/${encodeURIComponent(t.id)}/runs`, null, q),
    columns: [
      { label: 'Status', cell: (r) => statusBadge(r.status) },
      { label: 'Started', cell: (r) => time(r.started_at) },
      { label: 'Ended', cell: (r) => time(r.finished_at) },
      { label: 'Event', cell: (r) => r.event_id ? h('a', { href: 'events/' + encodeURIComponent(r.event_id) }, r.event_id) : h('span', { class: 'muted' }, 'schedule / manual') },
      { label: 'Failed step', cell: (r) => r.failed_step || h('span', { class: 'muted' }, '—') },
      { label: 'Error', cell: (r) => r.error || h('span', { class: 'muted' }, '—') },
      { label: 'Temporal', cell: (r) => r.temporal_ui_url ? h('a', { href: r.temporal_ui_url, target: '_blank', rel: 'noopener noreferrer', class: 'external', 'aria-label': `Open run ${r.id} in Temporal UI` }, 'Open in Temporal UI') : h('code', {}, r.workflow_id || '—') },
      { label: 'Steps', cell: (r) => h('button', { type: 'button', class: 'btn small', 'aria-label': `Details of run ${r.id}`, onclick: () => openRun(r.id, { write: ctx.can(Scope.webhooks) }) }, 'Details') },
    ],
  });
  const actions = write ? [
    h('button', { type: 'button', class: 'btn', onclick: () => triggerForm(ctx, t, reloadPage) }, 'Edit'),
    h('button', { type: 'button', class: 'btn', onclick: async () => {
      try { await api('POST', `/triggers/${encodeURIComponent(t.id)}/${t.enabled ? 'stop' : 'start'}`); announce(t.enabled ? 'Stopped' : 'Started'); reloadPage(); } catch (e) { announce(e.message, 'error'); }
    } }, t.enabled ? 'Stop' : 'Start'),
    h('button', { type: 'button', class: 'btn', onclick: async () => {
      if (t.type === 'on_event') { runWithEvent(ctx, t, runList); return; }
      try { await api('POST', `/triggers/${encodeURIComponent(t.id)}/run`); announce('Run started'); setTimeout(() => runList.reload(), 600); } catch (e) { announce(e.message, 'error'); }
    } }, 'Run now'),
    t.signing_secret ? h('button', { type: 'button', class: 'btn', onclick: async () => {
      if (!await confirmAction(`Rotate the secret of ${t.name}?`, 'A new signing secret for the webhook actions is made now; the current one keeps signing for 24 hours so receivers can switch.', 'Rotate secret')) return;
      try {
        const r = await api('POST', `/triggers/${encodeURIComponent(t.id)}/rotate-secret`);
        showSecretOnce('Secret rotated', r.name, r.signing_secret);
      } catch (e) { announce(e.message, 'error'); }
    } }, 'Rotate secret') : null,
    h('button', { type: 'button', class: 'btn danger-outline', onclick: async () => {
      if (!await confirmAction(`Delete ${t.name}?`, `Delete the trigger ${t.name}? Its schedule stops; its runs' history stays in Temporal.`, 'Delete')) return;
      try { await api('DELETE', '/triggers/' + encodeURIComponent(t.id)); announce(`Deleted ${t.name}`); ctx.navigate('triggers'); } catch (e) { announce(e.message, 'error'); }
    } }, 'Delete'),
  ] : [];
  const facts = [
    ['Type', typeLabels[t.type]],
    t.type === 'at_time' ? ['Schedule', [h('code', {}, t.expression), ' — ', t.expression_text, ` (${t.timezone})`]] : ['Event', [h('code', {}, t.event_type), t.conditions && t.conditions.length ? ' when ' + t.conditions.map((c) => `${c.reference} ${c.operator} ${c.value}`).join(' and ') : '']],
    t.type === 'at_time' ? ['Next runs', h('ol', { class: 'plain' }, (t.next_runs || []).map((x) => h('li', {}, zonedTime(x))))] : null,
    t.type === 'at_time' ? ['Overlap policy', overlapLabels[t.overlap_policy] || t.overlap_policy || overlapLabels.skip] : null,
    t.condition_expression ? ['Condition expression', h('code', {}, t.condition_expression)] : null,
    ['Runs', t.flow ? h('a', { href: 'flows/' + encodeURIComponent(t.flow) }, t.flow_name || t.flow)
      : h('ol', { class: 'plain actions-list' }, (t.actions || []).map((a) => h('li', {}, h('code', {}, a.action), ' ',
        h('span', { class: 'mono muted' }, Object.entries(a.parameters || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')))))],
    t.signing_secret ? ['Signing secret', [h('code', {}, t.signing_secret), t.previous_signing_secret_expires_at
      ? [' (the previous one signs until ', time(t.previous_signing_secret_expires_at), ')'] : '']] : null,
    ['Timeout', t.timeout], ['Description', t.description || '—'], ['Updated', time(t.updated_at)],
  ].filter(Boolean);
  // The trigger's event log (ipSCAPE): the requests its webhook actions made.
  const deliveries = deliveryLog(ctx, { path: `/triggers/${encodeURIComponent(t.id)}/deliveries`, write: ctx.can(Scope.webhooks),
    empty: 'No webhook deliveries: this trigger’s webhook actions have sent nothing yet.' });
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'triggers' }, 'Triggers'), ' / ', t.name),
    h('div', { class: 'page-head with-actions' }, h('div', {}, h('h1', {}, t.name), h('p', { class: 'lede' }, typeLabels[t.type], t.enabled ? '' : ' · stopped')),
      h('div', { class: 'head-actions' }, enabledCell(t, write, reloadPage), actions)),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Runs'), runList.el,
    h('h2', {}, 'Webhook deliveries'), deliveries.el);
  runList.reload();
  deliveries.reload();
}
