// Small DOM helpers: the console builds its pages with plain elements, so
// what a screen reader (and a test) finds is exactly what is written here.

/** h builds an element: h('button', {class: 'x', onclick: f}, 'Save'). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'indeterminate') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** replace empties el and fills it with children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** id returns a fresh element id with a readable prefix. */
export function id(prefix) { return `${prefix}-${++uid}`; }

const localFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** time shows an RFC 3339 instant in the viewer's zone, UTC on hover. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, iso);
  return h('time', { datetime: d.toISOString(), title: d.toISOString().replace('.000Z', 'Z') + ' (UTC)' }, localFmt.format(d));
}

/** zonedTime shows an RFC 3339 time with its own offset as written
 * (a trigger's next runs are in the trigger's zone), UTC on hover. */
export function zonedTime(iso) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(iso || '');
  if (!m) return time(iso);
  const d = new Date(iso);
  const wall = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)));
  const day = wall.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  const offset = m[7] === 'Z' ? 'UTC' : m[7];
  return h('time', { datetime: iso, title: d.toISOString().replace('.000Z', 'Z') + ' (UTC)' },
    `${day} ${m[4]}:${m[5]}${m[6] && m[6] !== '00' ? ':' + m[6] : ''} (${offset})`);
}

/** copyButton copies text() to the clipboard and says so. */
export function copyButton(label, text) {
  const b = h('button', { type: 'button', class: 'btn small', 'aria-label': label }, 'Copy');
  b.addEventListener('click', async () => {
    const value = typeof text === 'function' ? text() : text;
    let ok = false;
    try { await navigator.clipboard.writeText(value); ok = true; } catch { ok = fallbackCopy(value); }
    b.textContent = ok ? 'Copied' : 'Copy failed';
    b.dataset.copied = ok ? 'true' : 'false';
    setTimeout(() => { b.textContent = 'Copy'; }, 1500);
  });
  return b;
}

function fallbackCopy(value) {
  const ta = h('textarea', { class: 'offscreen', 'aria-hidden': 'true' });
  ta.value = value;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

/** switchButton is an on/off control with role="switch". */
export function switchButton({ checked, label, disabled, onchange }) {
  const b = h('button', { type: 'button', role: 'switch', class: 'switch', 'aria-checked': String(!!checked), 'aria-label': label, disabled });
  b.append(h('span', { class: 'knob', 'aria-hidden': 'true' }));
  b.addEventListener('click', async () => {
    const next = b.getAttribute('aria-checked') !== 'true';
    if (!onchange) { b.setAttribute('aria-checked', String(next)); return; }
    b.disabled = true;
    try {
      const ok = await onchange(next);
      if (ok !== false) b.setAttribute('aria-checked', String(next));
    } finally { b.disabled = !!disabled; }
  });
  return b;
}

/** openDialog shows a modal <dialog> (focus stays inside, Esc closes) and
 * returns it; close() removes it and gives focus back. */
export function openDialog({ title, body, footer, wide, onclose }) {
  const titleId = id('dlg-title');
  const opener = document.activeElement;
  const dlg = h('dialog', { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, class: wide ? 'wide' : '' },
    h('header', { class: 'dlg-head' }, h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => close() }, '×')),
    h('div', { class: 'dlg-body' }, body),
    footer ? h('footer', { class: 'dlg-foot' }, footer) : null);
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    dlg.close();
    dlg.remove();
    if (onclose) onclose();
    if (opener && opener.isConnected) opener.focus();
  }
  dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('[autofocus], .dlg-body input:not([type=hidden]):not([readonly]), .dlg-body select, .dlg-body textarea, .dlg-body button');
  if (first) first.focus();
  dlg.close_ = close;
  return dlg;
}

/** showSecretOnce shows a signing secret (a webhook's, a trigger's
 * webhook actions') the one time the API gives it whole, with Copy. */
export function showSecretOnce(title, owner, secret) {
  const input = h('input', { type: 'text', readonly: true, value: secret, class: 'mono grow', 'aria-label': 'Signing secret' });
  const dlg = openDialog({
    title,
    body: [h('p', {}, `The signing secret of ${owner}. It is shown only now: copy it to the receiver, which verifies the webhook-signature header with it.`),
      h('div', { class: 'row' }, input, copyButton('Copy signing secret', () => secret))],
    footer: [h('button', { type: 'button', class: 'btn primary', onclick: () => dlg.close_() }, 'Done')],
  });
  return dlg;
}

/** confirmAction asks before something destructive; resolves true on yes. */
export function confirmAction(title, message, yesLabel) {
  return new Promise((resolve) => {
    let answered = false;
    const yes = h('button', { type: 'button', class: 'btn danger' }, yesLabel);
    const no = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const dlg = openDialog({ title, body: h('p', {}, message), footer: [no, yes], onclose: () => { if (!answered) resolve(false); } });
    yes.addEventListener('click', () => { answered = true; dlg.close_(); resolve(true); });
    no.addEventListener('click', () => { answered = true; dlg.close_(); resolve(false); });
    no.focus();
  });
}

let toastRegion;
/** announce shows a short status message (polite live region). */
export function announce(message, kind) {
  if (!toastRegion || !toastRegion.isConnected) {
    toastRegion = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastRegion);
  }
  const t = h('div', { class: 'toast ' + (kind || '') }, message);
  toastRegion.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** field wraps a labelled control with a hint and an error slot that the
 * API's field errors fill (aria-invalid + the message next to it). */
export function field(label, control, { hint, path, wide } = {}) {
  const cid = control.id || id('f');
  control.id = cid;
  const errId = cid + '-err';
  const hintEl = hint ? h('p', { class: 'hint', id: cid + '-hint' }, hint) : null;
  const errEl = h('p', { class: 'field-error', id: errId, hidden: true });
  control.setAttribute('aria-describedby', [hintEl ? cid + '-hint' : '', errId].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' + (wide ? ' wide' : ''), dataset: { path: path || '' } },
    h('label', { for: cid }, label), control, hintEl, errEl);
  wrap.control = control;
  return wrap;
}

/** group is a labelled set of controls (fieldset + legend) with an error slot. */
export function group(legend, content, { path, hint, wide } = {}) {
  const errEl = h('p', { class: 'field-error', hidden: true });
  return h('fieldset', { class: 'field group' + (wide ? ' wide' : ''), dataset: { path: path || '' } },
    h('legend', {}, legend), hint ? h('p', { class: 'hint' }, hint) : null, content, errEl);
}

/** showFieldErrors marks the fields an API error names; messages whose
 * path no field claims are listed in the form's summary. */
export function showFieldErrors(form, err) {
  clearFieldErrors(form);
  const fields = (err && err.fields) || {};
  const rest = [];
  const holders = [...form.querySelectorAll('[data-path]')].filter((el) => el.dataset.path);
  for (const [path, msg] of Object.entries(fields)) {
    // The most specific holder whose path is this one or a parent of it.
    let best = null;
    for (const el of holders) {
      const p = el.dataset.path;
      if (path === p || path.startsWith(p + '.') || path.startsWith(p + '[')) {
        if (!best || p.length > best.dataset.path.length) best = el;
      }
    }
    if (!best) { rest.push(`${path}: ${msg}`); continue; }
    const errEl = [...best.children].find((c) => c.classList.contains('field-error'));
    const text = best.dataset.path === path ? msg : `${path.slice(best.dataset.path.length).replace(/^\./, '')}: ${msg}`;
    errEl.textContent = errEl.hidden ? text : errEl.textContent + '; ' + text;
    errEl.hidden = false;
    // A group (event types, conditions) is marked as a whole.
    const control = best.control || (best.tagName === 'FIELDSET' ? best : best.querySelector('input, select, textarea'));
    if (control) control.setAttribute('aria-invalid', 'true');
    best.classList.add('invalid');
  }
  const summary = form.querySelector('.form-error');
  if (summary) {
    const msg = rest.length ? rest.join('; ') : (Object.keys(fields).length ? 'Some fields need attention.' : (err && err.message) || '');
    summary.textContent = msg;
    summary.hidden = !msg;
  }
  const firstBad = form.querySelector('[aria-invalid="true"]');
  if (firstBad) firstBad.focus();
}

/** readJSONField parses a JSON field before anything is sent ('' is {});
 * on a syntax error it marks the field of path with where the JSON breaks
 * and returns undefined, so the caller sends nothing. */
export function readJSONField(form, control, path) {
  try { return JSON.parse(control.value || '{}'); } catch (err) {
    showFieldErrors(form, { fields: { [path]: 'is not valid JSON: ' + err.message } });
    return undefined;
  }
}

/** clearFieldErrors removes every error mark from a form. */
export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
  const summary = form.querySelector('.form-error');
  if (summary) { summary.hidden = true; summary.textContent = ''; }
}

/** setFieldError marks one field (live checks such as the cron preview). */
export function setFieldError(wrap, message) {
  const errEl = [...wrap.children].find((c) => c.classList.contains('field-error'));
  const control = wrap.control || wrap.querySelector('input, select, textarea');
  if (message) {
    errEl.textContent = message; errEl.hidden = false;
    control.setAttribute('aria-invalid', 'true'); wrap.classList.add('invalid');
  } else {
    errEl.textContent = ''; errEl.hidden = true;
    control.removeAttribute('aria-invalid'); wrap.classList.remove('invalid');
  }
}

/** debounce delays f until calls stop for ms. */
export function debounce(f, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => f(...args), ms); };
}

/** select builds a <select> from [value, label] pairs (or strings). */
export function select(options, value, props = {}) {
  const s = h('select', props);
  for (const o of options) {
    const [v, l] = Array.isArray(o) ? o : [o, o];
    s.append(h('option', { value: v, selected: v === value }, l));
  }
  if (value !== undefined) s.value = value;
  return s;
}

/** pre shows text (a body, headers) in a scrollable block. */
export function pre(text, label) {
  return h('pre', { class: 'code', tabindex: '0', 'aria-label': label }, text === '' ? '(empty)' : text);
}

/** statusBadge shows a delivery or run status in words. */
export function statusBadge(status) {
  const words = { succeeded: 'SUCCESS', failed: 'FAILED', pending: 'PENDING', canceled: 'CANCELED', running: 'RUNNING', timed_out: 'TIMED OUT' };
  return h('span', { class: 'badge ' + status }, words[status] || String(status || '').toUpperCase());
}

/** pretty formats JSON text, leaving anything else as it is. */
export function pretty(text) {
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}
