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

/** conditionsEditor edits [{reference, operator, value}] rows. */
export function conditionsEditor(initial, operators, label = 'Condition') {
  const ops = operators && operators.length ? operators : ['=', '!=', '>', '<', '>=', '<=', 'in', 'not_in', 'exists', 'contains'];
  const rows = h('div', { class: 'rows' });
  function addRow(c = { reference: '', operator: '=', value: '' }) {
    const n = rows.children.length + 1;
    const ref = h('input', { type: 'text', 'aria-label': `${label} ${n} reference`, placeholder: 'Reference, e.g. lead.totalAttempts', value: c.reference || '', class: 'grow' });
    const op = select(ops, c.operator || '=', { 'aria-label': `${label} ${n} operator` });
    const val = h('input', { type: 'text', 'aria-label': `${label} ${n} value`, placeholder: 'Value', value: c.value === undefined ? '' : String(c.value) });
    const row = h('div', { class: 'row' }, ref, op, val,
      h('button', { type: 'button', class: 'icon', 'aria-label': `Remove ${label.toLowerCase()} ${n}`, onclick: () => row.remove() }, '×'));
    rows.append(row);
    return ref;
  }
  for (const c of initial || []) addRow(c);
  const add = h('button', { type: 'button', class: 'btn small', onclick: () => addRow().focus() }, `Add ${label.toLowerCase()}`);
  const el = h('div', { class: 'conditions' }, rows, add);
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
