// Form parts shared by several screens: key/value rows, condition rows,
// searchable selects and the template placeholder picker.
import { h, id, select } from './dom.js';

/** kvEditor edits {name: value} as rows; value() reads it back. */
export function kvEditor(label, initial, { keyLabel = 'Name', valueLabel = 'Value' } = {}) {
  const rows = h('div', { class: 'rows' });
  function addRow(k = '', v = '') {
    const n = rows.children.length + 1;
    const ki = h('input', { type: 'text', 'aria-label': `${label} ${n} ${keyLabel.toLowerCase()}`, placeholder: keyLabel, value: k });
    const vi = h('input', { type: 'text', 'aria-label': `${label} ${n} ${valueLabel.toLowerCase()}`, placeholder: valueLabel, value: v, class: 'grow' });
    const row = h('div', { class: 'row' }, ki, vi,
      h('button', { type: 'button', class: 'icon', 'aria-label': `Remove ${label.toLowerCase()} ${n}`, onclick: () => row.remove() }, '×'));
    rows.append(row);
    return ki;
  }
  for (const [k, v] of Object.entries(initial || {})) addRow(k, v);
  const add = h('button', { type: 'button', class: 'btn small', onclick: () => addRow().focus() }, `Add ${label.toLowerCase().replace(/s$/, '')}`);
  const el = h('div', { class: 'kv' }, rows, add);
  el.value = () => {
    const out = {};
    for (const row of rows.children) {
      const [k, v] = row.querySelectorAll('input');
      if (k.value.trim()) out[k.value.trim()] = v.value;
    }
    return out;
  };
  return el;
}

/** listEditor edits a list of short texts (an event type's aliases) as one
 * input per row, "<label> 1", "<label> 2"…; each row carries the JSON path
 * of its item (aliases[1]) so an API error lands on the row it names. */
export function listEditor(itemLabel, initial, { path, placeholder } = {}) {
  const rows = h('div', { class: 'rows' });
  function renumber() {
    [...rows.children].forEach((row, i) => {
      row.dataset.path = `${path}[${i}]`;
      row.control.setAttribute('aria-label', `${itemLabel} ${i + 1}`);
      row.querySelector('button').setAttribute('aria-label', `Remove ${itemLabel.toLowerCase()} ${i + 1}`);
    });
  }
  function addRow(v = '') {
    const input = h('input', { type: 'text', value: v, placeholder: placeholder || '', spellcheck: 'false', autocomplete: 'off', class: 'grow mono' });
    const row = h('div', { class: 'field list-item' },
      h('div', { class: 'row' }, input, h('button', { type: 'button', class: 'icon', onclick: () => { row.remove(); renumber(); } }, '×')),
      h('p', { class: 'field-error', hidden: true }));
    row.control = input;
    rows.append(row);
    renumber();
    return input;
  }
  for (const v of initial || []) addRow(v);
  const add = h('button', { type: 'button', class: 'btn small', onclick: () => addRow().focus() }, `Add ${itemLabel.toLowerCase()}`);
  const el = h('div', { class: 'list-editor' }, rows, add);
  // Blank rows are dropped as the list is read, so the rows left keep the
  // indexes the API's errors will name.
  el.value = () => {
    for (const row of [...rows.children]) if (!row.control.value.trim()) row.remove();
    renumber();
    return [...rows.children].map((row) => row.control.value.trim());
  };
  return el;
}

/** conditionsEditor edits [{reference, operator, value}] rows, named
 * "<label> 1 reference"…; relabel(label, addName) renames them when the
 * editor is one of several (a webhook's filters). */
export function conditionsEditor(initial, operators, label = 'Condition') {
  const ops = operators && operators.length ? operators : ['=', '!=', '>', '<', '>=', '<=', 'in', 'not_in', 'exists', 'contains'];
  const rows = h('div', { class: 'rows' });
  let name = label;
  const add = h('button', { type: 'button', class: 'btn small', onclick: () => addRow().focus() }, `Add ${label.toLowerCase()}`);
  // Rows are numbered by place, so removing one renumbers the rest.
  function renumber() {
    [...rows.children].forEach((row, i) => {
      const [ref, val] = row.querySelectorAll('input');
      ref.setAttribute('aria-label', `${name} ${i + 1} reference`);
      row.querySelector('select').setAttribute('aria-label', `${name} ${i + 1} operator`);
      val.setAttribute('aria-label', `${name} ${i + 1} value`);
      row.querySelector('button').setAttribute('aria-label', `Remove ${name.toLowerCase()} ${i + 1}`);
    });
  }
  function addRow(c = { reference: '', operator: '=', value: '' }) {
    const ref = h('input', { type: 'text', placeholder: 'Reference, e.g. lead.totalAttempts', value: c.reference || '', class: 'grow' });
    const op = select(ops, c.operator || '=');
    const val = h('input', { type: 'text', placeholder: 'Value', value: c.value === undefined ? '' : String(c.value) });
    const row = h('div', { class: 'row' }, ref, op, val,
      h('button', { type: 'button', class: 'icon', onclick: () => { row.remove(); renumber(); } }, '×'));
    rows.append(row);
    renumber();
    return ref;
  }
  for (const c of initial || []) addRow(c);
  const el = h('div', { class: 'conditions' }, rows, add);
  el.relabel = (label2, addName) => {
    name = label2;
    if (addName) add.setAttribute('aria-label', addName);
    renumber();
  };
  el.value = () => [...rows.children].map((row) => {
    const [ref, val] = row.querySelectorAll('input');
    return { reference: ref.value.trim(), operator: row.querySelector('select').value, value: val.value };
  }).filter((c) => c.reference);
  return el;
}

/**
 * searchableSelect is a <select> with a search box that narrows its
 * options: load(q) returns [[value, label]]; the select keeps value.
 */
export function searchableSelect({ label, searchLabel, load, value, emptyLabel }) {
  const sel = h('select', { id: id('sel') });
  const search = h('input', { type: 'search', 'aria-label': searchLabel, placeholder: searchLabel, class: 'search-in-select' });
  let current = value || '';
  async function fill(q) {
    const opts = await load(q);
    const list = opts.slice();
    if (current && !list.some(([v]) => v === current)) list.unshift([current, current]);
    sel.replaceChildren(h('option', { value: '' }, emptyLabel || '— choose —'),
      ...list.map(([v, l]) => h('option', { value: v, selected: v === current }, l)));
    sel.value = current;
  }
  let t;
  search.addEventListener('input', () => { clearTimeout(t); t = setTimeout(() => fill(search.value.trim()), 200); });
  sel.addEventListener('change', () => { current = sel.value; });
  const ready = fill('');
  const el = h('div', { class: 'searchable' }, search, sel);
  return { el, select: sel, search, ready, label, get value() { return sel.value; }, set value(v) { current = v; sel.value = v; } };
}

/** envelopePaths are the placeholders every event offers. */
export const envelopePaths = ['event.id', 'event.type', 'event.occurred_at', 'event.subject'];

/** examplePaths lists the dot paths of an example payload's leaves. */
export function examplePaths(example, prefix = '', out = [], depth = 0) {
  if (depth > 6 || out.length > 200) return out;
  if (example && typeof example === 'object' && !Array.isArray(example)) {
    for (const [k, v] of Object.entries(example)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) examplePaths(v, p, out, depth + 1);
      else out.push(p);
    }
  }
  return out;
}

/** typeExamples maps event type names to the catalog's example payloads
 * (GET /v1/catalog "types", when the server has them). */
export function typeExamples(catalog) {
  const out = {};
  for (const t of (catalog && catalog.types) || []) if (t && t.name && t.example) out[t.name] = t.example;
  return out;
}

/** placeholderPicker inserts {{ path }} into target at the cursor; paths()
 * says what to offer now (it changes with the chosen event types). */
export function placeholderPicker(target, paths) {
  const sel = h('select', { 'aria-label': 'Insert placeholder', class: 'picker' });
  function fill() {
    const groups = paths();
    sel.replaceChildren(h('option', { value: '' }, 'Insert placeholder…'),
      ...groups.map(([label, list]) => h('optgroup', { label }, list.map((p) => h('option', { value: p }, `{{ ${p} }}`)))));
  }
  sel.addEventListener('focus', fill);
  sel.addEventListener('mousedown', fill);
  sel.addEventListener('change', () => {
    if (!sel.value) return;
    const text = `{{ ${sel.value} }}`;
    const start = target.selectionStart ?? target.value.length;
    const end = target.selectionEnd ?? start;
    target.value = target.value.slice(0, start) + text + target.value.slice(end);
    target.focus();
    target.selectionStart = target.selectionEnd = start + text.length;
    target.dispatchEvent(new Event('input', { bubbles: true }));
    sel.value = '';
  });
  fill();
  return sel;
}

/** durationOrUndefined is "" → undefined, so an empty field keeps the default. */
export function durationOrUndefined(v) { return v.trim() === '' ? undefined : v.trim(); }

/** objectChoices lists the objects a form may offer as [name, label]: the
 * catalog's, then the objects of an admin's own event types ("invoice" of
 * invoice.paid), which triggers and webhooks accept like built-in ones. */
export function objectChoices(catalog) {
  const out = (catalog.objects || []).map((o) => [o.name, o.label]);
  const seen = new Set(out.map(([n]) => n));
  for (const t of (catalog.types || [])) {
    if (t.custom && t.object && !seen.has(t.object)) { seen.add(t.object); out.push([t.object, t.object]); }
  }
  return out;
}

/** objectEvents lists an object's events as {name, label, type}: the
 * catalog's, then those of custom types of that object. */
export function objectEvents(catalog, object) {
  const o = (catalog.objects || []).find((x) => x.name === object);
  const out = o ? o.events.slice() : [];
  for (const t of (catalog.types || [])) {
    if (t.custom && t.object === object && !out.some((e) => e.type === t.name)) out.push({ name: t.event, label: t.event, type: t.name });
  }
  return out;
}

/** objectOf is the object of an event type or pattern ("task" of task.*). */
function objectOf(type) { return type.split('.')[0]; }

/**
 * eventTypePicker is a filterable checkbox list of the event types, built-in
 * and custom, grouped by object with "object.*" for every event of one;
 * types it does not list (saved before, or typed) show as chips. selected
 * is a Set it keeps current; onchange() is told after every change.
 * restrict(object) offers only that object's types and drops the others
 * from the selection (a webhook's use case); restrict('') offers all again.
 */
export function eventTypePicker(catalog, selected, { onchange } = {}) {
  const changed = () => { if (onchange) onchange(); };
  const filter = h('input', { type: 'search', 'aria-label': 'Filter event types', placeholder: 'Filter event types' });
  const listEl = h('div', { class: 'type-list' });
  const known = new Set();
  let only = '';
  for (const [name, label] of objectChoices(catalog)) {
    const box = h('div', { class: 'type-group', dataset: { object: name } }, h('div', { class: 'type-group-name' }, label));
    const entries = [[name + '.*', `${name}.* (every event)`], ...objectEvents(catalog, name).map((ev) => [ev.type, ev.type])];
    for (const [t, text] of entries) {
      known.add(t);
      const cb = h('input', { type: 'checkbox', value: t, checked: selected.has(t) });
      cb.addEventListener('change', () => { if (cb.checked) selected.add(t); else selected.delete(t); changed(); });
      box.append(h('label', { class: 'type', dataset: { type: t } }, cb, ' ', text));
    }
    listEl.append(box);
  }
  // Patterns saved before that the list does not hold ("*").
  const extra = [...selected].filter((t) => !known.has(t));
  const custom = h('input', { type: 'text', 'aria-label': 'Other event type', placeholder: 'Other type or pattern, e.g. *', class: 'grow' });
  const addCustom = h('button', { type: 'button', class: 'btn small' }, 'Add type');
  const chips = h('div', { class: 'chips' });
  function addChip(t) {
    const chip = h('span', { class: 'chip', dataset: { type: t } }, t, h('button', { type: 'button', class: 'icon', 'aria-label': 'Remove ' + t,
      onclick: () => { selected.delete(t); chip.remove(); changed(); } }, '×'));
    chips.append(chip);
  }
  extra.forEach(addChip);
  addCustom.addEventListener('click', () => {
    const t = custom.value.trim();
    if (!t || selected.has(t)) return;
    selected.add(t);
    const box = listEl.querySelector(`label[data-type="${CSS.escape(t)}"] input`);
    if (box) box.checked = true; else addChip(t);
    custom.value = '';
    changed();
  });
  function show() {
    const q = filter.value.trim().toLowerCase();
    for (const l of listEl.querySelectorAll('label.type')) l.hidden = q !== '' && !l.textContent.toLowerCase().includes(q);
    for (const g of listEl.querySelectorAll('.type-group')) {
      g.hidden = (only !== '' && g.dataset.object !== only) || ![...g.querySelectorAll('label.type')].some((l) => !l.hidden);
    }
  }
  filter.addEventListener('input', show);
  const el = h('div', { class: 'type-picker' }, filter, listEl, h('div', { class: 'row' }, custom, addCustom), chips);
  el.restrict = (object) => {
    only = object || '';
    if (only) {
      for (const t of [...selected]) {
        if (objectOf(t) === only && t !== '*') continue;
        selected.delete(t);
        const box = listEl.querySelector(`label[data-type="${CSS.escape(t)}"] input`);
        if (box) box.checked = false;
        const chip = chips.querySelector(`.chip[data-type="${CSS.escape(t)}"]`);
        if (chip) chip.remove();
      }
    }
    custom.placeholder = only ? `Other type of ${only}, e.g. ${only}.*` : 'Other type or pattern, e.g. *';
    show();
    changed();
  };
  return el;
}
