// A registry list as the seeds' screens have it: server-side paging,
// sorting and filters, a refresh button, row checkboxes with bulk actions
// (confirmed when destructive), and loading, empty and error states.
import { h, replace, confirmAction, announce } from './dom.js';
import { api } from './api.js';

/**
 * registry builds a list. Options:
 *  columns: [{label, cell(item), sort?}]; fetch(query) → {items, total};
 *  key(item), name(item); bulk: [{label, path, destructive?}] (POST {ids});
 *  filters: elements placed in the toolbar (call reload() when they change);
 *  actions: extra toolbar elements (e.g. the create button); empty: text;
 *  selectable: whether rows have checkboxes; caption: the table's name.
 */
export function registry(opts) {
  const state = { page: 1, perPage: opts.perPage || 25, sort: opts.sort || '', selected: new Map(), total: 0, items: [] };
  const status = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select all on this page' });
  const bulkButtons = (opts.bulk || []).map((b) => {
    const btn = h('button', { type: 'button', class: 'btn' + (b.destructive ? ' danger-outline' : ''), disabled: true }, b.label);
    btn.addEventListener('click', () => runBulk(b));
    return btn;
  });
  const selectable = opts.selectable && bulkButtons.length > 0;
  const headRow = h('tr', {}, selectable ? h('th', { scope: 'col', class: 'check' }, selectAll) : null,
    opts.columns.map((c) => {
      const th = h('th', { scope: 'col' });
      if (!c.sort) { th.textContent = c.label; return th; }
      const btn = h('button', { type: 'button', class: 'sort' }, c.label);
      btn.addEventListener('click', () => {
        state.sort = state.sort === c.sort ? '-' + c.sort : (state.sort === '-' + c.sort ? '' : c.sort);
        state.page = 1;
        reload();
      });
      th.append(btn);
      th.sortKey = c.sort;
      return th;
    }));
  const table = h('table', { class: 'grid' }, opts.caption ? h('caption', { class: 'sr-only' }, opts.caption) : null,
    h('thead', {}, headRow), tbody);
  const prev = h('button', { type: 'button', class: 'btn small' }, 'Previous');
  const next = h('button', { type: 'button', class: 'btn small' }, 'Next');
  const pageInfo = h('span', { class: 'page-info' });
  const perPage = h('select', { 'aria-label': 'Rows per page' }, [10, 25, 50, 100, 500].map((n) =>
    h('option', { value: n, selected: n === state.perPage }, `${n} per page`)));
  prev.addEventListener('click', () => { state.page--; reload(); });
  next.addEventListener('click', () => { state.page++; reload(); });
  perPage.addEventListener('change', () => { state.perPage = +perPage.value; state.page = 1; reload(); });
  const refresh = h('button', { type: 'button', class: 'btn', onclick: () => reload() }, 'Refresh');
  selectAll.addEventListener('change', () => {
    for (const cb of tbody.querySelectorAll('input[type=checkbox][data-key]')) {
      cb.checked = selectAll.checked;
      toggle(cb.dataset.key, cb.checked);
    }
  });

  const toolbar = h('div', { class: 'toolbar' },
    h('div', { class: 'filters' }, opts.filters || []),
    h('div', { class: 'tools' }, selectable ? h('span', { class: 'bulk', role: 'group', 'aria-label': 'With selected' }, bulkButtons) : null,
      refresh, opts.actions || []));
  const wrap = h('div', { class: 'table-wrap' }, table);
  const pager = h('div', { class: 'pager' }, prev, pageInfo, next, perPage);
  const el = h('section', { class: 'registry', 'aria-label': opts.caption || 'List' }, toolbar, status, wrap, pager);

  function toggle(key, on) {
    const item = state.items.find((it) => opts.key(it) === key);
    if (on && item) state.selected.set(key, item); else state.selected.delete(key);
    for (const b of bulkButtons) b.disabled = state.selected.size === 0;
    const n = state.selected.size;
    selectAll.checked = n > 0 && n === state.items.length;
    selectAll.indeterminate = n > 0 && n < state.items.length;
  }

  async function runBulk(b) {
    const items = [...state.selected.values()];
    const names = items.map(opts.name);
    const what = items.length === 1 ? `“${names[0]}”` : `${items.length} ${opts.noun || 'items'}`;
    if (b.destructive || b.confirm) {
      const ok = await confirmAction(`${b.label} ${what}?`,
        b.destructive ? `${b.label} ${names.join(', ')}? This cannot be undone.` : `${b.label} ${names.join(', ')}?`, b.label);
      if (!ok) return;
    }
    try {
      const r = await api('POST', b.path, { ids: [...state.selected.keys()] });
      const failed = r && r.failed ? Object.keys(r.failed).length : 0;
      announce(`${b.label}: ${r ? r.count : items.length} done` + (failed ? `, ${failed} failed` : ''), failed ? 'error' : '');
    } catch (e) {
      announce(`${b.label} failed: ${e.message}`, 'error');
    }
    state.selected.clear();
    reload();
  }

  let latest = 0;
  async function reload() {
    // Only the latest request's answer is shown: a slow earlier one
    // (filter changed meanwhile) is dropped.
    const seq = ++latest;
    table.setAttribute('aria-busy', 'true');
    status.textContent = 'Loading…';
    status.className = 'list-status';
    for (const th of headRow.children) {
      if (!th.sortKey) continue;
      th.setAttribute('aria-sort', state.sort === th.sortKey ? 'ascending' : state.sort === '-' + th.sortKey ? 'descending' : 'none');
    }
    let r;
    try {
      r = await opts.fetch({ page: state.page, per_page: state.perPage, sort: state.sort || undefined });
    } catch (e) {
      if (seq !== latest) return;
      table.removeAttribute('aria-busy');
      status.textContent = 'Could not load: ' + e.message;
      status.className = 'list-status alert';
      return;
    }
    if (seq !== latest) return;
    const maxPage = Math.max(1, Math.ceil(r.total / state.perPage));
    if (state.page > maxPage && r.total > 0) { state.page = maxPage; return reload(); }
    state.items = r.items;
    state.total = r.total;
    const keep = new Map();
    for (const it of r.items) if (state.selected.has(opts.key(it))) keep.set(opts.key(it), it);
    state.selected = keep;
    replace(tbody, r.items.map((it) => {
      const key = opts.key(it);
      const cb = selectable ? h('input', { type: 'checkbox', 'aria-label': 'Select ' + opts.name(it), dataset: { key }, checked: keep.has(key) }) : null;
      if (cb) cb.addEventListener('change', () => toggle(key, cb.checked));
      return h('tr', { dataset: { key } }, cb ? h('td', { class: 'check' }, cb) : null, opts.columns.map((c) => h('td', {}, c.cell(it))));
    }));
    toggle('', false);
    table.removeAttribute('aria-busy');
    status.textContent = r.total === 0 ? (opts.empty || 'Nothing here yet.') : `${r.total} ${r.total === 1 ? (opts.one || 'item') : (opts.noun || 'items')}`;
    status.className = 'list-status' + (r.total === 0 ? ' empty' : '');
    // The empty state says it all: no bare table header, no pager.
    wrap.hidden = pager.hidden = r.total === 0;
    pageInfo.textContent = `Page ${state.page} of ${maxPage}`;
    prev.disabled = state.page <= 1;
    next.disabled = state.page >= maxPage;
  }

  return { el, reload, state };
}

/** searchBox is a filter input that reloads after typing stops. */
export function searchBox(label, onchange, value) {
  const input = h('input', { type: 'search', 'aria-label': label, placeholder: label, value: value || '' });
  let t;
  input.addEventListener('input', () => { clearTimeout(t); t = setTimeout(() => onchange(input.value.trim()), 250); });
  return input;
}
