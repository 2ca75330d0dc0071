// Flows: steps in order, each an action from GET /v1/actions with a form
// built from the action's parameters; if-conditions, timeout, retry;
// versions; a test run with a sample event that shows what each step did.
import { h, replace, field, group, openDialog, showFieldErrors, clearFieldErrors, confirmAction, announce, time, select, statusBadge, id, readJSONField } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry, searchBox } from '../list.js';
import { conditionsEditor, typeExamples, eventTypePicker } from '../editors.js';
import { paramsForm } from '../params.js';
import { openRun } from './deliveries.js';

export function render(ctx) {
  if (ctx.params[0]) return flowPage(ctx, ctx.params[0]);
  return flowList(ctx);
}

function flowList(ctx) {
  const write = ctx.can(Scope.triggers);
  const filter = { q: '', type: '' };
  const type = select([['', 'All types'], ['service', 'Service'], ['default', 'Default']], '', { 'aria-label': 'Type filter' });
  type.addEventListener('change', () => { filter.type = type.value; list.state.page = 1; list.reload(); });
  const list = registry({
    caption: 'Flows', noun: 'flows', one: 'flow', selectable: false,
    empty: write ? 'No flows yet. Create one with “New flow”.' : 'No flows yet.',
    key: (f) => f.id, name: (f) => f.name,
    fetch: (q) => api('GET', '/flows', null, { ...q, q: filter.q, type: filter.type }),
    filters: [searchBox('Search flows', (v) => { filter.q = v; list.state.page = 1; list.reload(); }), type],
    actions: write ? [h('button', { type: 'button', class: 'btn primary', onclick: () => flowForm(ctx, null, (f) => ctx.navigate('flows/' + encodeURIComponent(f.id))) }, 'New flow')] : [],
    columns: [
      { label: 'Name', sort: 'name', cell: (f) => h('a', { href: 'flows/' + encodeURIComponent(f.id) }, f.name) },
      { label: 'Type', sort: 'type', cell: (f) => f.type },
      { label: 'Steps', cell: (f) => f.steps.map((s) => `${s.name} (${s.action})`).join(' → ') },
      { label: 'Version', sort: 'version', cell: (f) => 'v' + f.version },
      { label: 'Updated', sort: 'updated_at', cell: (f) => time(f.updated_at) },
      write ? { label: 'Delete', cell: (f) => h('button', { type: 'button', class: 'btn small danger-outline', 'aria-label': `Delete ${f.name}`, onclick: async () => {
        if (!await confirmAction(`Delete ${f.name}?`, `Delete the flow ${f.name}? Triggers and hooks that use it must be changed first.`, 'Delete')) return;
        try { await api('DELETE', '/flows/' + encodeURIComponent(f.id)); announce(`Deleted ${f.name}`); list.reload(); } catch (e) { announce(e.message, 'error'); }
      } }, 'Delete') } : null,
    ].filter(Boolean),
  });
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Flows'),
    h('p', { class: 'lede' }, 'Named, versioned lists of steps. Triggers and queue hooks run service flows.')), list.el);
  list.reload();
}

/** stepEditor is one step: name, action, generated parameters, if, timeout, retry. */
function stepEditor(actions, operators, step, index, onmove) {
  const el = h('section', { class: 'step' });
  const name = h('input', { type: 'text', value: step.name || '' });
  const action = select([['', '— choose an action —'], ...actions.map((a) => [a.name, a.name])], step.action || '');
  const paramsBox = h('div', {});
  const timeout = h('input', { type: 'text', value: step.timeout || '', placeholder: '30s' });
  const retry = h('input', { type: 'text', class: 'mono', value: step.retry ? JSON.stringify(step.retry) : '', placeholder: '{"max_attempts": 3}' });
  const cond = conditionsEditor(step.if || [], operators, 'If condition');
  const title = h('span', { class: 'grow' });
  const up = h('button', { type: 'button', class: 'btn small', onclick: () => onmove(el, -1) }, '↑');
  const down = h('button', { type: 'button', class: 'btn small', onclick: () => onmove(el, 1) }, '↓');
  const remove = h('button', { type: 'button', class: 'btn small danger-outline', onclick: () => onmove(el, 0) }, 'Remove');
  let params = null;
  const path = () => `steps[${[...el.parentNode.children].indexOf(el)}]`;
  function fillParams(values) {
    const a = actions.find((x) => x.name === action.value);
    params = a ? paramsForm(a, values) : null;
    paramsBox.replaceChildren(...(params ? [params] : []));
  }
  function retitle() {
    const n = [...(el.parentNode ? el.parentNode.children : [el])].indexOf(el) + 1;
    title.textContent = `Step ${n}: ${name.value || 'unnamed'}`;
    up.setAttribute('aria-label', `Move step ${n} up`);
    down.setAttribute('aria-label', `Move step ${n} down`);
    remove.setAttribute('aria-label', `Remove step ${n}`);
  }
  action.addEventListener('change', () => { fillParams(null); el.refresh(); });
  name.addEventListener('input', retitle);
  el.append(
    h('div', { class: 'step-head' }, title, up, down, remove),
    h('div', { class: 'grid-fields' }, field('Step name', name, {}), field('Action', action, {})),
    paramsBox,
    h('details', {}, h('summary', {}, 'Condition, timeout and retry'),
      group('If', cond, { hint: 'The step runs only when all hold.' }),
      h('div', { class: 'grid-fields' }, field('Step timeout', timeout, { hint: '1s–1h, default 30s' }), field('Step retry', retry, { hint: 'JSON, e.g. {"max_attempts": 5, "initial_interval": "2s"} or {"preset": "none"}' }))));
  el.refresh = () => {
    // Field paths follow the step's place, so server errors land on it.
    const p = path();
    el.dataset.path = p;
    name.closest('.field').dataset.path = p + '.name';
    action.closest('.field').dataset.path = p + '.action';
    timeout.closest('.field').dataset.path = p + '.timeout';
    retry.closest('.field').dataset.path = p + '.retry';
    cond.closest('fieldset').dataset.path = p + '.if';
    if (params) params.at(p + '.params');
    retitle();
  };
  el.value = () => {
    const s = { name: name.value.trim(), action: action.value, params: params ? params.value() : {} };
    const ifs = cond.value();
    if (ifs.length) s.if = ifs;
    if (timeout.value.trim()) s.timeout = timeout.value.trim();
    if (retry.value.trim()) { try { s.retry = JSON.parse(retry.value); } catch { s.retry = retry.value; } }
    return s;
  };
  fillParams(step.params || {});
  return el;
}

async function flowForm(ctx, f, saved) {
  const [actions, catalog] = await Promise.all([ctx.actions(), ctx.catalog()]);
  const editing = !!f;
  const name = h('input', { type: 'text', value: f ? f.name : '' });
  const type = select([['service', 'Service'], ['default', 'Default']], f ? f.type : 'service');
  const description = h('textarea', { rows: 2 }, f ? f.description : '');
  const expects = new Set(f && f.event_types ? f.event_types : []);
  const typesBox = eventTypePicker(catalog, expects);
  const steps = h('div', { class: 'steps' });
  function move(el, dir) {
    if (dir === 0) el.remove();
    else if (dir < 0 && el.previousElementSibling) steps.insertBefore(el, el.previousElementSibling);
    else if (dir > 0 && el.nextElementSibling) steps.insertBefore(el.nextElementSibling, el);
    for (const s of steps.children) s.refresh();
  }
  function addStep(s) { const el = stepEditor(actions, catalog.condition_operators, s, steps.children.length, move); steps.append(el); el.refresh(); return el; }
  for (const s of (f ? f.steps : [{ name: 'step_1', action: '' }])) addStep(s);
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    h('div', { class: 'grid-fields' }, field('Name', name, { path: 'name' }), field('Type', type, { path: 'type', hint: 'Only service flows can be run by triggers and queue hooks.' }),
      field('Description', description, { path: 'description', wide: true })),
    group('Event types', typesBox, { path: 'event_types', wide: true,
      hint: 'The events this flow expects (exact types or object.*); none: any. A trigger or queue hook on another event, or an At Time trigger, is refused. A test run starts from the first type’s example.' }),
    h('div', { class: 'field', dataset: { path: 'steps' } }, h('span', { class: 'label' }, 'Steps'), steps,
      h('div', {}, h('button', { type: 'button', class: 'btn small', onclick: () => addStep({ name: `step_${steps.children.length + 1}`, action: '' }) }, 'Add step')),
      h('p', { class: 'field-error', hidden: true })));
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), save));
  const dlg = openDialog({ title: editing ? `Edit flow ${f.name}` : 'New flow', body: form, wide: true });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const payload = { name: name.value, type: type.value, description: description.value, event_types: [...expects],
      steps: [...steps.children].map((s) => s.value()) };
    save.disabled = true;
    try {
      const r = editing ? await api('PATCH', '/flows/' + encodeURIComponent(f.id), payload) : await api('POST', '/flows', payload);
      dlg.close_();
      announce(editing ? `Saved ${r.name} (version ${r.version})` : `Created ${r.name}`);
      if (saved) saved(r);
    } catch (err) { showFieldErrors(form, err); } finally { save.disabled = false; }
  });
}

async function flowPage(ctx, ref) {
  const write = ctx.can(Scope.triggers);
  let f;
  try { f = await api('GET', '/flows/' + encodeURIComponent(ref)); } catch (e) {
    replace(ctx.main, h('h1', {}, 'Flow'), h('p', { class: 'alert', role: 'alert' }, e.status === 404 ? `No flow “${ref}”.` : e.message), h('p', {}, h('a', { href: 'flows' }, 'Back to flows')));
    return;
  }
  document.title = f.name + ' · Flows · TriggerFlow';
  const reloadPage = () => flowPage(ctx, f.id);
  const runs = registry({
    caption: 'Runs', noun: 'runs', one: 'run', selectable: false, empty: 'No runs yet. Try “Test run”.',
    key: (r) => r.id, name: (r) => r.id, perPage: 10,
    fetch: (q) => api('GET', `/flows/${encodeURIComponent(f.id)}/runs`, null, q),
    columns: [
      { label: 'Status', cell: (r) => statusBadge(r.status) },
      { label: 'Started', cell: (r) => time(r.started_at) },
      { label: 'Version', cell: (r) => r.flow_version ? 'v' + r.flow_version : '—' },
      { label: 'Steps', cell: (r) => stepOutcomes(r.steps) },
      { label: 'Error', cell: (r) => r.error || h('span', { class: 'muted' }, '—') },
      { label: 'Temporal', cell: (r) => r.temporal_ui_url ? h('a', { href: r.temporal_ui_url, target: '_blank', rel: 'noopener noreferrer', class: 'external' }, 'Open in Temporal UI') : h('code', {}, r.workflow_id) },
      { label: 'Log', cell: (r) => h('button', { type: 'button', class: 'btn small', 'aria-label': `Details of run ${r.id}`, onclick: () => openRun(r.id, { write: ctx.can(Scope.webhooks) }) }, 'Details') },
    ],
  });
  const versions = registry({
    caption: 'Versions', noun: 'versions', one: 'version', selectable: false, key: (v) => String(v.version), name: (v) => 'v' + v.version, perPage: 10,
    fetch: (q) => api('GET', `/flows/${encodeURIComponent(f.id)}/versions`, null, q),
    columns: [
      { label: 'Version', cell: (v) => 'v' + v.version },
      { label: 'Steps', cell: (v) => v.steps.map((s) => `${s.name} (${s.action})`).join(' → ') },
      { label: 'Saved', cell: (v) => time(v.created_at) },
    ],
  });
  const actions = write ? [
    h('button', { type: 'button', class: 'btn', onclick: () => flowForm(ctx, f, reloadPage) }, 'Edit'),
    h('button', { type: 'button', class: 'btn primary', onclick: () => testRun(ctx, f, runs) }, 'Test run'),
  ] : [];
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'flows' }, 'Flows'), ' / ', f.name),
    h('div', { class: 'page-head with-actions' }, h('div', {}, h('h1', {}, f.name), h('p', { class: 'lede' }, `${f.type} flow · version ${f.version}`, f.description ? ' · ' + f.description : '')),
      h('div', { class: 'head-actions' }, actions)),
    h('dl', { class: 'facts' }, h('dt', {}, 'Expects'), h('dd', {}, f.event_types && f.event_types.length
      ? h('span', { class: 'mono' }, f.event_types.join(', ')) : 'any event (no event types given)')),
    h('h2', {}, 'Steps'),
    h('ol', { class: 'steps' }, f.steps.map((s) => h('li', { class: 'step' },
      h('div', { class: 'step-head' }, h('strong', { class: 'grow' }, s.name), h('code', {}, s.action)),
      s.if && s.if.length ? h('p', { class: 'muted' }, 'if ' + s.if.map((c) => `${c.reference} ${c.operator} ${c.value}`).join(' and ')) : null,
      h('pre', { class: 'code' }, JSON.stringify(s.params, null, 2))))),
    h('h2', {}, 'Runs'), runs.el,
    h('h2', {}, 'Versions'), versions.el);
  runs.reload();
  versions.reload();
}

// stepResults lists each step's outcome with its output (when the run
// could say what its steps returned).
function stepResults(run) {
  const outputs = run.outputs || {};
  if (!run.steps || !run.steps.length) return h('span', { class: 'muted' }, '—');
  return h('ol', { class: 'plain outcomes', 'aria-label': 'Step outputs' }, run.steps.map((s) => h('li', {},
    h('div', {}, statusBadge(s.status), ' ', h('strong', {}, s.name), ' ', h('code', {}, s.action), s.error ? h('span', { class: 'alert' }, ': ' + s.error) : null),
    s.name in outputs ? h('pre', { class: 'code', 'aria-label': `Output of ${s.name}` }, JSON.stringify(outputs[s.name], null, 2)) : null)));
}

function stepOutcomes(steps) {
  if (!steps || !steps.length) return h('span', { class: 'muted' }, '—');
  return h('ul', { class: 'plain outcomes' }, steps.map((s) => h('li', {}, statusBadge(s.status), ' ', s.name, s.error ? h('span', { class: 'alert' }, ': ' + s.error) : null)));
}

async function testRun(ctx, f, runs) {
  const catalog = await ctx.catalog().catch(() => ({ event_types: [] }));
  const examples = typeExamples(catalog);
  // A flow that says which events it expects starts from the first exact
  // one, as the API's test run does.
  const first = (f.event_types || []).find((t) => !t.endsWith('*')) || '';
  const type = select([['', '— no event —'], ...(catalog.event_types || []).map((t) => [t, t])], first);
  const data = h('textarea', { rows: 8, class: 'mono' }, JSON.stringify(examples[first] || {}, null, 2));
  type.addEventListener('change', () => { data.value = JSON.stringify(examples[type.value] || {}, null, 2); });
  const timeout = h('input', { type: 'text', placeholder: 'the flow’s default', spellcheck: 'false' });
  const result = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    h('p', { class: 'muted' }, 'Runs the flow now with a sample event, as a trigger would. The event is not published: no webhook or trigger sees it.'),
    field('Event type', type, { path: 'event.type' }),
    field('Event data', data, { path: 'event.data', hint: 'JSON; templates read it at the top level ({{ case.id }}).' }),
    field('Timeout', timeout, { path: 'timeout', hint: 'Optional: bounds this run, e.g. 2m.' }),
    result);
  const run = h('button', { type: 'submit', class: 'btn primary' }, 'Run');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Close'), run));
  const dlg = openDialog({ title: `Test run of ${f.name}`, body: form, wide: true });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const parsed = readJSONField(form, data, 'event.data');
    if (parsed === undefined) return;
    run.disabled = true;
    try {
      const body = type.value ? { event: { type: type.value, data: parsed } } : {};
      if (timeout.value.trim()) body.timeout = timeout.value.trim();
      const started = await api('POST', `/flows/${encodeURIComponent(f.id)}/run`, body);
      replace(result, h('p', {}, 'Running…'));
      for (let i = 0; i < 60 && dlg.isConnected; i++) {
        const page = await api('GET', `/flows/${encodeURIComponent(f.id)}/runs`, null, { per_page: 20 });
        const r = page.items.find((x) => x.id === started.id);
        if (r) {
          const done = !['pending', 'running'].includes(r.status);
          // Once it ended, ask the run for what each step returned.
          const full = done ? await api('GET', `/flows/${encodeURIComponent(f.id)}/runs/${encodeURIComponent(r.id)}`).catch(() => r) : r;
          replace(result, h('h3', {}, 'Result ', statusBadge(full.status)), stepResults(full),
            full.error ? h('p', { class: 'alert' }, full.error) : null,
            full.temporal_ui_url ? h('p', {}, 'The whole history: ', h('a', { href: full.temporal_ui_url, target: '_blank', rel: 'noopener noreferrer', class: 'external' }, 'Open in Temporal UI')) : null);
          if (done) break;
        }
        await new Promise((res) => setTimeout(res, 500));
      }
      runs.reload();
    } catch (err) { showFieldErrors(form, err); } finally { run.disabled = false; }
  });
}
