// Triggers: At Time (cron in a zone, its words and next runs shown while
// typing) and On Event (Object → Event, conditions), running a service flow
// or ipSCAPE-style actions; enable switch, Start/Stop, Run now, runs.
import { h, replace, field, group, openDialog, showFieldErrors, clearFieldErrors, switchButton, confirmAction, announce,
  time, zonedTime, select, debounce, setFieldError, statusBadge } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry, searchBox } from '../list.js';
import { conditionsEditor, searchableSelect, durationOrUndefined } from '../editors.js';

const typeLabels = { at_time: 'At Time', on_event: 'On Event' };

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

async function triggerForm(ctx, t, saved) {
  const catalog = await ctx.catalog();
  const editing = !!t;
  const name = h('input', { type: 'text', value: t ? t.name : '', autocomplete: 'off' });
  const type = select([['at_time', 'At Time'], ['on_event', 'On Event']], t ? t.type : 'at_time');
  const description = h('textarea', { rows: 2 }, t ? t.description : '');
  const timeout = h('input', { type: 'text', value: t ? t.timeout : '5m', placeholder: '5m' });
  const expression = h('input', { type: 'text', value: t && t.expression ? t.expression : '', placeholder: '0 */1 12 * * *', spellcheck: 'false', autocomplete: 'off', class: 'mono' });
  const zone = zonePicker(catalog.timezones, t ? t.timezone : 'UTC');
  const preview = h('div', { class: 'preview', role: 'status', 'aria-live': 'polite', 'aria-label': 'Schedule preview', hidden: true });
  const objects = catalog.objects || [];
  const object = select([['', '— choose an object —'], ...objects.map((o) => [o.name, o.label])], t && t.object ? t.object : '');
  const event = h('select', {});
  function fillEvents(keep) {
    const o = objects.find((x) => x.name === object.value);
    event.replaceChildren(h('option', { value: '' }, o ? '— choose an event —' : '— choose an object first —'),
      ...(o ? o.events.map((ev) => h('option', { value: ev.name }, ev.label)) : []));
    event.disabled = !o;
    event.value = keep && o && o.events.some((ev) => ev.name === keep) ? keep : '';
  }
  fillEvents(t && t.event);
  // Webitel: the Event list depends on the Object, and clears with it.
  object.addEventListener('change', () => fillEvents(''));
  const conditions = conditionsEditor(t && t.conditions ? t.conditions : [], catalog.condition_operators);
  const runs = select([['flow', 'A service flow'], ['actions', 'Actions (ipSCAPE style)']], t && t.actions && t.actions.length && !t.flow ? 'actions' : 'flow');
  const flow = flowPicker(t && t.flow ? t.flow : '');
  const actions = h('textarea', { rows: 4, class: 'mono', placeholder: '[{"action": "webhook", "parameters": {"url": "https://…"}}]' },
    t && t.actions ? JSON.stringify(t.actions, null, 2) : '');
  const enabled = switchButton({ checked: t ? t.enabled : true, label: 'Enabled' });

  const expressionField = field('Expression', expression, { path: 'expression', hint: '5 fields (minute hour day month weekday), or 6 with leading seconds: 0 */1 12 * * * is every minute from 12:00 to 12:59.' });
  const zoneField = field('Time zone', zone.select, { path: 'timezone' });
  zoneField.insertBefore(zone.search, zone.select);
  const flowField = field('Flow', flow.select, { path: 'flow', hint: 'Only service flows can be run by triggers.' });
  flowField.insertBefore(flow.search, flow.select);
  const atTime = h('div', { class: 'grid-fields' }, expressionField, zoneField, h('div', { class: 'wide' }, preview));
  const onEvent = h('div', {},
    h('div', { class: 'grid-fields' }, field('Object', object, { path: 'object' }), field('Event', event, { path: 'event' })),
    group('Conditions', conditions, { path: 'conditions', hint: 'All must hold; none means always.' }));
  const actionsField = field('Actions', actions, { path: 'actions', wide: true, hint: 'A JSON list of {"action", "parameters"}; actions: ' + (catalog.trigger_actions || []).join(', ') });
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
    if (type.value === 'at_time') Object.assign(payload, { expression: expression.value.trim(), timezone: zone.value || 'UTC' });
    else Object.assign(payload, { object: object.value, event: event.value, conditions: conditions.value(), timezone: t ? t.timezone : 'UTC' });
    if (runs.value === 'flow') { payload.flow = flow.value; if (editing) payload.actions = null; } else {
      try { payload.actions = actions.value.trim() ? JSON.parse(actions.value) : []; } catch (err) {
        showFieldErrors(form, { fields: { actions: 'is not valid JSON: ' + err.message } });
        return;
      }
      if (editing) payload.flow = null;
    }
    save.disabled = true;
    try {
      const r = editing ? await api('PATCH', '/triggers/' + encodeURIComponent(t.id), payload) : await api('POST', '/triggers', payload);
      dlg.close_();
      announce(editing ? `Saved ${r.name}` : `Created ${r.name}`);
      if (saved) saved(r);
    } catch (err) { showFieldErrors(form, err); } finally { save.disabled = false; }
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
    ],
  });
  const actions = write ? [
    h('button', { type: 'button', class: 'btn', onclick: () => triggerForm(ctx, t, reloadPage) }, 'Edit'),
    h('button', { type: 'button', class: 'btn', onclick: async () => {
      try { await api('POST', `/triggers/${encodeURIComponent(t.id)}/${t.enabled ? 'stop' : 'start'}`); announce(t.enabled ? 'Stopped' : 'Started'); reloadPage(); } catch (e) { announce(e.message, 'error'); }
    } }, t.enabled ? 'Stop' : 'Start'),
    h('button', { type: 'button', class: 'btn', onclick: async () => {
      try { await api('POST', `/triggers/${encodeURIComponent(t.id)}/run`); announce('Run started'); setTimeout(() => runList.reload(), 600); } catch (e) { announce(e.message, 'error'); }
    } }, 'Run now'),
    h('button', { type: 'button', class: 'btn danger-outline', onclick: async () => {
      if (!await confirmAction(`Delete ${t.name}?`, `Delete the trigger ${t.name}? Its schedule stops; its runs' history stays in Temporal.`, 'Delete')) return;
      try { await api('DELETE', '/triggers/' + encodeURIComponent(t.id)); announce(`Deleted ${t.name}`); ctx.navigate('triggers'); } catch (e) { announce(e.message, 'error'); }
    } }, 'Delete'),
  ] : [];
  const facts = [
    ['Type', typeLabels[t.type]],
    t.type === 'at_time' ? ['Schedule', [h('code', {}, t.expression), ' — ', t.expression_text, ` (${t.timezone})`]] : ['Event', [h('code', {}, t.event_type), t.conditions && t.conditions.length ? ' when ' + t.conditions.map((c) => `${c.reference} ${c.operator} ${c.value}`).join(' and ') : '']],
    t.type === 'at_time' ? ['Next runs', h('ol', { class: 'plain' }, (t.next_runs || []).map((x) => h('li', {}, zonedTime(x))))] : null,
    ['Runs', t.flow ? h('a', { href: 'flows/' + encodeURIComponent(t.flow) }, t.flow_name || t.flow) : h('code', {}, JSON.stringify(t.actions))],
    ['Timeout', t.timeout], ['Description', t.description || '—'], ['Updated', time(t.updated_at)],
  ].filter(Boolean);
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'triggers' }, 'Triggers'), ' / ', t.name),
    h('div', { class: 'page-head with-actions' }, h('div', {}, h('h1', {}, t.name), h('p', { class: 'lede' }, typeLabels[t.type], t.enabled ? '' : ' · stopped')),
      h('div', { class: 'head-actions' }, enabledCell(t, write, reloadPage), actions)),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Runs'), runList.el);
  runList.reload();
}
