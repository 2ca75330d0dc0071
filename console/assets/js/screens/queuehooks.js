// Queue hooks (Webitel): on a queue, an event (joined, missed, …) runs a
// service flow; per queue: add, edit, remove, switch, bulk actions.
import { h, replace, field, openDialog, showFieldErrors, clearFieldErrors, switchButton, announce, time, select } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry } from '../list.js';
import { flowPicker } from './triggers.js';

export function render(ctx) {
  if (ctx.params[0]) return queuePage(ctx, ctx.params[0]);
  return queueIndex(ctx);
}

/** queueIndex lists the queues that have hooks (GET /v1/queues, where the
 * server offers it) and opens any queue by id. */
async function queueIndex(ctx) {
  const qid = h('input', { type: 'text', placeholder: 'e.g. sales', autocomplete: 'off', spellcheck: 'false' });
  const open = h('form', { class: 'row open-queue' }, field('Queue id', qid, { hint: 'The queue_id your queue events carry in data.queue_id.' }),
    h('button', { type: 'submit', class: 'btn primary' }, 'Open queue'));
  open.addEventListener('submit', (e) => { e.preventDefault(); if (qid.value.trim()) ctx.navigate('queues/' + encodeURIComponent(qid.value.trim())); });
  const known = h('div', {});
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Queue hooks'),
    h('p', { class: 'lede' }, 'Run a service flow when something happens in a queue: a caller joins, the call is missed, …')), open, known);
  try {
    const list = registry({
      caption: 'Queues', noun: 'queues', one: 'queue', selectable: false, empty: 'No queue has hooks yet. Open a queue by its id to add one.',
      key: (q) => q.queue_id, name: (q) => q.queue_id,
      fetch: (q) => api('GET', '/queues', null, q),
      columns: [
        { label: 'Queue', cell: (q) => h('a', { href: 'queues/' + encodeURIComponent(q.queue_id) }, q.queue_id) },
        { label: 'Hooks', cell: (q) => String(q.hooks) },
      ],
    });
    await api('GET', '/queues', null, { per_page: 1 });
    known.append(h('h2', {}, 'Queues with hooks'), list.el);
    list.reload();
  } catch (e) {
    if (e.status !== 404) known.append(h('p', { class: 'alert' }, 'Could not list queues: ' + e.message));
  }
  qid.focus();
}

async function queuePage(ctx, queueId) {
  const write = ctx.can(Scope.triggers);
  const catalog = await ctx.catalog();
  const base = '/queues/' + encodeURIComponent(queueId) + '/hooks';
  const list = registry({
    caption: `Hooks of queue ${queueId}`, noun: 'hooks', one: 'hook', selectable: write,
    empty: write ? 'This queue has no hooks. Add one with “New hook”.' : 'This queue has no hooks.',
    key: (x) => x.id, name: (x) => `${x.event} → ${x.flow_name || x.flow}`,
    fetch: (q) => api('GET', base, null, q),
    actions: write ? [h('button', { type: 'button', class: 'btn primary', onclick: () => hookForm(ctx, catalog, queueId, null, () => list.reload()) }, 'New hook')] : [],
    bulk: write ? [
      { label: 'Enable', path: base + '/bulk-enable' },
      { label: 'Disable', path: base + '/bulk-disable' },
      { label: 'Delete', path: base + '/bulk-delete', destructive: true },
    ] : [],
    columns: [
      { label: 'Event', sort: 'event', cell: (x) => x.event },
      { label: 'Flow', cell: (x) => h('a', { href: 'flows/' + encodeURIComponent(x.flow) }, x.flow_name || x.flow) },
      { label: 'Enabled', cell: (x) => !write ? h('span', { class: x.enabled ? 'on' : 'off' }, x.enabled ? 'Enabled' : 'Disabled') : switchButton({
        checked: x.enabled, label: `Enabled: ${x.event} hook`,
        onchange: async (on) => { try { await api('PATCH', `${base}/${encodeURIComponent(x.id)}`, { enabled: on }); return true; } catch (e) { announce(e.message, 'error'); return false; } },
      }) },
      { label: 'Updated', sort: 'updated_at', cell: (x) => time(x.updated_at) },
      write ? { label: 'Edit', cell: (x) => h('button', { type: 'button', class: 'btn small', 'aria-label': `Edit ${x.event} hook`, onclick: () => hookForm(ctx, catalog, queueId, x, () => list.reload()) }, 'Edit') } : null,
    ].filter(Boolean),
  });
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'queues' }, 'Queue hooks'), ' / ', queueId),
    h('div', { class: 'page-head' }, h('h1', {}, `Queue ${queueId}`), h('p', { class: 'lede' }, `A published queue.<event> whose data.queue_id is “${queueId}” runs the hook’s flow.`)),
    list.el);
  list.reload();
}

async function hookForm(ctx, catalog, queueId, x, saved) {
  const editing = !!x;
  const event = select([['', '— choose an event —'], ...(catalog.queue_events || []).map((e) => [e, e])], x ? x.event : '');
  const flow = flowPicker(x ? x.flow : '');
  const enabled = switchButton({ checked: x ? x.enabled : true, label: 'Enabled' });
  const flowField = field('Flow', flow.select, { path: 'flow', hint: 'Only service flows can be run by hooks.' });
  flowField.insertBefore(flow.search, flow.select);
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    field('Event', event, { path: 'event' }), flowField,
    h('div', { class: 'field switch-field' }, h('span', { class: 'label', id: 'qh-enabled' }, 'Enabled'), enabled));
  enabled.setAttribute('aria-labelledby', 'qh-enabled');
  enabled.removeAttribute('aria-label');
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), save));
  const dlg = openDialog({ title: editing ? `Edit ${x.event} hook of ${queueId}` : `New hook on queue ${queueId}`, body: form });
  await flow.ready;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const payload = { event: event.value, flow: flow.value, enabled: enabled.getAttribute('aria-checked') === 'true' };
    save.disabled = true;
    try {
      const base = '/queues/' + encodeURIComponent(queueId) + '/hooks';
      if (editing) await api('PATCH', `${base}/${encodeURIComponent(x.id)}`, payload); else await api('POST', base, payload);
      dlg.close_();
      announce(editing ? 'Hook saved' : 'Hook added');
      if (saved) saved();
    } catch (err) { showFieldErrors(form, err); } finally { save.disabled = false; }
  });
}
