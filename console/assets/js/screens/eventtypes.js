// Event types: the registry of GET /v1/event-types — the catalog's built-in
// types and an admin's own — each with its description, JSON Schema, example
// payload, aliases (what source systems call it) and how a publish is checked
// against the schema. Admins add, change and remove their own types; of a
// built-in type only the aliases and the validation can change.
import { h, replace, field, group, openDialog, showFieldErrors, clearFieldErrors, setFieldError, confirmAction, announce,
  select, pre, debounce } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry, searchBox } from '../list.js';
import { listEditor } from '../editors.js';

const validations = [
  ['off', 'Off — accept any data'],
  ['warn', 'Warn — accept, and note the schema error on the event'],
  ['reject', 'Reject — refuse the publish (400), naming the schema error'],
];
const validationWords = { off: 'off', warn: 'warn', reject: 'reject' };

export function render(ctx) {
  if (ctx.params[0]) return eventTypePage(ctx, ctx.params[0]);
  return eventTypeList(ctx);
}

function eventTypeList(ctx) {
  const write = ctx.can(Scope.admin);
  const filter = { q: '', custom: '' };
  const kind = select([['', 'Built-in and custom'], ['false', 'Built-in'], ['true', 'Custom']], '', { 'aria-label': 'Kind filter' });
  kind.addEventListener('change', () => { filter.custom = kind.value; list.state.page = 1; list.reload(); });
  const list = registry({
    caption: 'Event types', noun: 'event types', one: 'event type', selectable: false,
    empty: 'No event type matches.',
    key: (t) => t.name, name: (t) => t.name,
    fetch: (q) => api('GET', '/event-types', null, { ...q, q: filter.q, custom: filter.custom }),
    filters: [searchBox('Search event types', (v) => { filter.q = v.toLowerCase(); list.state.page = 1; list.reload(); }), kind],
    actions: write ? [h('button', { type: 'button', class: 'btn primary', onclick: () => eventTypeForm(ctx, null, (t) => ctx.navigate('event-types/' + encodeURIComponent(t.name))) }, 'New event type')] : [],
    columns: [
      { label: 'Name', cell: (t) => h('a', { href: 'event-types/' + encodeURIComponent(t.name) }, t.name) },
      { label: 'Kind', cell: (t) => t.custom ? h('span', { class: 'badge custom' }, 'Custom') : h('span', { class: 'badge builtin' }, 'Built-in') },
      { label: 'Description', cell: (t) => t.description || h('span', { class: 'muted' }, '—') },
      { label: 'Aliases', cell: (t) => t.aliases.length ? h('span', { class: 'mono' }, t.aliases.join(', ')) : h('span', { class: 'muted' }, '—') },
      { label: 'Schema', cell: (t) => t.schema ? 'yes' : h('span', { class: 'muted' }, 'none') },
      { label: 'Validation', cell: (t) => validationWords[t.validation] || t.validation },
      write ? { label: 'Edit', cell: (t) => h('button', { type: 'button', class: 'btn small', 'aria-label': `Edit ${t.name}`,
        onclick: () => eventTypeForm(ctx, t, () => list.reload()) }, 'Edit') } : null,
    ].filter(Boolean),
  });
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Event types'),
    h('p', { class: 'lede' }, 'What can be published: the built-in catalog and your own types, with their schemas, example payloads and the names source systems use for them.')), list.el);
  list.reload();
}

/** parseJSONText reads a JSON field: '' is null (no value), anything else
 * must parse; the error says where it does not. */
function parseJSONText(text) {
  if (text.trim() === '') return { value: null };
  try { return { value: JSON.parse(text) }; } catch (e) { return { error: 'is not valid JSON: ' + e.message }; }
}

function jsonText(v) { return v == null ? '' : JSON.stringify(v, null, 2); }

/** eventTypeForm opens the "New event type" (t = null) or edit dialog. */
async function eventTypeForm(ctx, t, saved) {
  const editing = !!t;
  const builtin = editing && !t.custom;
  const name = h('input', { type: 'text', value: t ? t.name : '', readonly: editing, spellcheck: 'false', autocomplete: 'off', class: 'mono', placeholder: 'invoice.paid' });
  const description = h('textarea', { rows: 2, readonly: builtin }, t ? t.description : '');
  const schema = h('textarea', { rows: 6, class: 'mono', readonly: builtin, spellcheck: 'false',
    placeholder: '{"type": "object", "required": ["invoice"]}' }, t ? jsonText(t.schema) : '');
  const example = h('textarea', { rows: 4, class: 'mono', readonly: builtin, spellcheck: 'false',
    placeholder: '{"invoice": {"number": "INV-7", "amount": 120.5}}' }, t ? jsonText(t.example) : '');
  const aliases = listEditor('Alias', t ? t.aliases : [], { path: 'aliases', placeholder: 'billing.invoice.paid' });
  const validation = select(validations, t ? t.validation : 'off');
  const fixed = builtin ? 'Fixed for built-in types.' : '';
  const schemaField = field('Schema (JSON)', schema, { path: 'schema', wide: true,
    hint: fixed || 'A JSON Schema (draft 2020-12) of the event’s data. Empty: no schema.' });
  const exampleField = field('Example (JSON)', example, { path: 'example', wide: true,
    hint: fixed || 'Example data: it fills test sends, flow test runs and the placeholder picker; it must match the schema.' });
  // Editing a field drops its old message (it was about other text); its
  // JSON is checked once typing pauses, and again before anything is sent.
  // The pause's check only ever adds a syntax error: one that fires after
  // the API answered must not wipe the API's message. (Not on blur: a
  // message appearing or going as the admin clicks elsewhere moves the
  // button under the pointer.)
  for (const [wrap, control] of [[schemaField, schema], [exampleField, example]]) {
    const check = debounce(() => { const bad = parseJSONText(control.value).error; if (bad) setFieldError(wrap, bad); }, 600);
    control.addEventListener('input', () => {
      if (control.getAttribute('aria-invalid') === 'true') setFieldError(wrap, '');
      check();
    });
  }
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    builtin ? h('p', { class: 'muted' }, 'A built-in type: its description, schema and example come with TriggerFlow. You can add the names source systems send it under and choose how publishes are checked; the aliases TriggerFlow documents for it always apply, even when removed here.') : null,
    h('div', { class: 'grid-fields' },
      field('Name', name, { path: 'name', hint: editing ? 'Names cannot be changed; make a new type and give it the old name as an alias.' : '<object>.<event> in lowercase, e.g. invoice.paid. The object is what On Event triggers offer.' }),
      field('Validation', validation, { path: 'validation', hint: 'Warn and Reject need a schema.' }),
      field('Description', description, { path: 'description', wide: true, hint: fixed || undefined })),
    schemaField, exampleField,
    group('Aliases', aliases, { path: 'aliases', wide: true, hint: 'Names a source system publishes this type under (ipSCAPE’s outbound.lead.outcome.preview); a publish under an alias is stored as this type.' }));
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), save));
  const dlg = openDialog({ title: editing ? `Edit event type ${t.name}` : 'New event type', body: form, wide: true });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const payload = { aliases: aliases.value(), validation: validation.value };
    if (!builtin) {
      const s = parseJSONText(schema.value);
      const x = parseJSONText(example.value);
      const bad = {};
      if (s.error) bad.schema = s.error;
      if (x.error) bad.example = x.error;
      if (Object.keys(bad).length) { showFieldErrors(form, { fields: bad }); return; }
      Object.assign(payload, { description: description.value, schema: s.value, example: x.value });
      if (!editing) payload.name = name.value.trim();
    }
    save.disabled = true;
    try {
      const r = editing ? await api('PATCH', '/event-types/' + encodeURIComponent(t.name), payload) : await api('POST', '/event-types', payload);
      ctx.catalogChanged();
      dlg.close_();
      announce(editing ? `Saved ${r.name}` : `Created ${r.name}`);
      if (saved) saved(r);
    } catch (err) {
      // A name already in use answers 409 without a field: it is the name's.
      showFieldErrors(form, err.status === 409 && !editing && !Object.keys(err.fields).length ? { fields: { name: err.message } } : err);
    } finally { save.disabled = false; }
  });
}

async function eventTypePage(ctx, ref) {
  const write = ctx.can(Scope.admin);
  let t;
  try { t = await api('GET', '/event-types/' + encodeURIComponent(ref)); } catch (e) {
    replace(ctx.main, h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'event-types' }, 'Event types'), ' / ', ref),
      h('h1', {}, 'Event type'), h('p', { class: 'alert', role: 'alert' }, e.status === 404 ? `No event type “${ref}”.` : e.message));
    return;
  }
  document.title = t.name + ' · Event types · TriggerFlow';
  const reloadPage = () => eventTypePage(ctx, t.name);
  const actions = write ? [
    h('button', { type: 'button', class: 'btn', onclick: () => eventTypeForm(ctx, t, reloadPage) }, 'Edit'),
    t.custom ? h('button', { type: 'button', class: 'btn danger-outline', onclick: async () => {
      if (!await confirmAction(`Delete ${t.name}?`, `Delete the event type ${t.name}? Publishes under it (or its aliases) are refused afterwards. Webhooks and triggers that subscribe to it must be changed first.`, 'Delete')) return;
      try {
        await api('DELETE', '/event-types/' + encodeURIComponent(t.name));
        ctx.catalogChanged();
        announce(`Deleted ${t.name}`);
        ctx.navigate('event-types');
      } catch (e) { announce(e.message, 'error'); }
    } }, 'Delete') : null,
  ] : [];
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'event-types' }, 'Event types'), ' / ', t.name),
    h('div', { class: 'page-head with-actions' },
      h('div', {}, h('h1', {}, t.name), h('p', { class: 'lede' }, t.custom ? 'Custom type' : 'Built-in type', t.label && t.label !== t.name ? ' · ' + t.label : '',
        t.description ? ' · ' + t.description : '')),
      h('div', { class: 'head-actions' }, actions)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Object'), h('dd', {}, h('code', {}, t.object), ' — On Event triggers choose it as the Object, ', h('code', {}, t.event), ' as the Event'),
      h('dt', {}, 'Aliases'), h('dd', {}, t.aliases.length ? h('span', { class: 'mono' }, t.aliases.join(', ')) : 'none'),
      h('dt', {}, 'Validation'), h('dd', {}, validations.find(([v]) => v === t.validation)?.[1] || t.validation),
      h('dt', {}, 'Placeholders'), h('dd', {}, t.placeholders.length ? h('span', { class: 'chips' }, t.placeholders.map((p) => h('code', { class: 'chip' }, `{{ ${p} }}`))) : 'none (no example)')),
    h('h2', {}, 'Schema'), t.schema ? pre(JSON.stringify(t.schema, null, 2), 'Schema') : h('p', { class: 'empty' }, 'No schema: any data is accepted.'),
    h('h2', {}, 'Example'), t.example ? pre(JSON.stringify(t.example, null, 2), 'Example') : h('p', { class: 'empty' }, 'No example payload.'),
    h('p', {}, h('a', { href: 'events' }, 'Publish a test event'), ' of this type from the Events screen (its example fills the data).'));
}
