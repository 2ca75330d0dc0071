// An action's parameter form, generated from its schema (GET /v1/actions):
// the one form builder behind a flow step's parameters and a trigger's
// ipSCAPE-style actions.
import { h, field, select } from './dom.js';
import { kvEditor } from './editors.js';

/** paramControl builds the input for one action parameter from its spec;
 * control.read() gives the value to send (undefined: leave it out). */
function paramControl(spec, value) {
  const v = value === undefined ? (spec.default === undefined ? undefined : spec.default) : value;
  switch (spec.type) {
    case 'boolean': { const c = h('input', { type: 'checkbox', checked: v === true || v === 'true' }); c.read = () => c.checked; return c; }
    case 'number': { const c = h('input', { type: 'text', inputmode: 'decimal', value: v === undefined ? '' : String(v) });
      c.read = () => (c.value.trim() === '' ? undefined : (Number.isFinite(+c.value) ? +c.value : c.value)); return c; }
    case 'string-map': { const c = kvEditor(spec.name, v || {}); c.read = () => { const m = c.value(); return Object.keys(m).length ? m : undefined; }; return c; }
    case 'object': case 'array': {
      const c = h('textarea', { rows: 3, class: 'mono' }, v === undefined ? '' : JSON.stringify(v, null, 2));
      c.read = () => { if (c.value.trim() === '') return undefined; try { return JSON.parse(c.value); } catch { return c.value; } };
      return c;
    }
    case 'any': {
      // A template ("{{ event }}") shows as written; JSON objects and lists
      // as JSON.
      const c = h('textarea', { rows: 3, class: 'mono' }, v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v, null, 2));
      c.read = () => {
        const text = c.value.trim();
        if (text === '') return undefined;
        if (text.startsWith('{') || text.startsWith('[')) { try { return JSON.parse(text); } catch { return c.value; } }
        return c.value;
      };
      return c;
    }
    default:
      if (spec.enum && spec.enum.length) {
        const c = select([['', '—'], ...spec.enum.map((e) => [e, e])], v === undefined ? '' : String(v));
        c.read = () => c.value || undefined; return c;
      }
      { const c = h('input', { type: 'text', value: v === undefined ? '' : String(v) }); c.read = () => (c.value === '' ? undefined : c.value); return c; }
  }
}

/**
 * paramsForm builds the inputs of one action's parameters (an entry of GET
 * /v1/actions), filled from values. A value saved under one of a
 * parameter's aliases (ipSCAPE's "lead.listId") fills that parameter; keys
 * the action does not know are kept as saved, so an edit never drops them.
 * form.value() reads the parameters back; form.at(prefix) sets the JSON
 * path each field answers to (steps[0].params, actions[1].parameters), so
 * the API's errors land on the parameter they name.
 */
export function paramsForm(action, values) {
  const box = h('div', { class: 'grid-fields params' });
  const controls = {};
  const specs = {};
  const given = new Set();
  const rest = { ...(values || {}) };
  if (action.description) box.append(h('p', { class: 'hint wide' }, action.description));
  for (const p of action.params) {
    let v;
    for (const k of [p.name, ...(p.aliases || [])]) {
      if (!(k in rest)) continue;
      given.add(p.name);
      if (v === undefined) v = rest[k];
      delete rest[k];
    }
    const c = paramControl(p, v);
    controls[p.name] = c;
    specs[p.name] = p;
    const label = p.name + (p.required ? ' (required)' : '');
    if (c.tagName === 'INPUT' || c.tagName === 'SELECT' || c.tagName === 'TEXTAREA') {
      const f = field(label, c, { hint: p.description, path: '' });
      f.dataset.param = p.name;
      box.append(f);
    } else {
      box.append(h('div', { class: 'field wide', dataset: { param: p.name } }, h('span', { class: 'label' }, label), c,
        h('p', { class: 'hint' }, p.description), h('p', { class: 'field-error', hidden: true })));
    }
  }
  const kept = Object.keys(rest);
  if (kept.length) box.append(h('p', { class: 'hint wide' }, `Kept as saved (not parameters of ${action.name}): ${kept.join(', ')}`));
  box.value = () => {
    const out = { ...rest };
    for (const [k, c] of Object.entries(controls)) {
      const v = c.read();
      // A default the form showed and the admin left alone stays unsaid:
      // the server applies the same one.
      if (v === undefined || (!given.has(k) && specs[k].default !== undefined && JSON.stringify(v) === JSON.stringify(specs[k].default))) continue;
      out[k] = v;
    }
    return out;
  };
  box.at = (prefix) => { for (const f of box.querySelectorAll('[data-param]')) f.dataset.path = prefix + '.' + f.dataset.param; };
  return box;
}
