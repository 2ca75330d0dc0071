// Events: recent events, look up an event id and see what it led to
// (deliveries and runs with status), publish a test event from a catalog
// type's example payload.
import { h, replace, field, openDialog, showFieldErrors, clearFieldErrors, announce, time, select, statusBadge, pretty, copyButton, readJSONField } from '../dom.js';
import { api, Scope } from '../api.js';
import { registry, searchBox } from '../list.js';
import { typeExamples } from '../editors.js';
import { openDelivery, openRun } from './deliveries.js';

export function render(ctx) {
  if (ctx.params[0]) return eventPage(ctx, ctx.params[0]);
  return eventIndex(ctx);
}

function eventIndex(ctx) {
  const filter = { q: '', type: '' };
  const lookup = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'evt_… or your own id' });
  const lookupForm = h('form', { class: 'row open-queue' }, field('Event id', lookup), h('button', { type: 'submit', class: 'btn primary' }, 'Look up'));
  lookupForm.addEventListener('submit', (e) => { e.preventDefault(); if (lookup.value.trim()) ctx.navigate('events/' + encodeURIComponent(lookup.value.trim())); });
  const typeFilter = h('input', { type: 'search', 'aria-label': 'Event type filter', placeholder: 'Type, e.g. case.created' });
  typeFilter.addEventListener('change', () => { filter.type = typeFilter.value.trim(); list.state.page = 1; list.reload(); });
  const list = registry({
    caption: 'Recent events', noun: 'events', one: 'event', selectable: false, empty: 'No events yet.',
    key: (e) => e.id, name: (e) => e.id,
    fetch: (q) => api('GET', '/events', null, { ...q, q: filter.q, type: filter.type }),
    filters: [searchBox('Search event ids', (v) => { filter.q = v; list.state.page = 1; list.reload(); }), typeFilter],
    actions: ctx.can(Scope.publish) ? [h('button', { type: 'button', class: 'btn primary', onclick: () => publishForm(ctx) }, 'Publish test event')] : [],
    columns: [
      { label: 'Event', cell: (e) => h('a', { href: 'events/' + encodeURIComponent(e.id) }, e.id) },
      { label: 'Type', cell: (e) => h('code', {}, e.type) },
      { label: 'Received', sort: 'received_at', cell: (e) => time(e.received_at) },
      { label: 'Deliveries', cell: (e) => counts(e.deliveries) },
      { label: 'Runs', cell: (e) => String(e.runs) },
    ],
  });
  replace(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'Events'),
    h('p', { class: 'lede' }, 'What was published, and what each event led to.')), lookupForm, list.el);
  list.reload();
}

function counts(c) {
  const parts = [];
  if (c.succeeded) parts.push(h('span', { class: 'on' }, `${c.succeeded} succeeded`));
  if (c.failed) parts.push(h('span', { class: 'alert' }, `${c.failed} failed`));
  if (c.pending) parts.push(h('span', { class: 'muted' }, `${c.pending} pending`));
  if (!parts.length) return h('span', { class: 'muted' }, 'none');
  return parts.flatMap((p, i) => (i ? [', ', p] : [p]));
}

async function publishForm(ctx) {
  const catalog = await ctx.catalog();
  const examples = typeExamples(catalog);
  const types = (catalog.types && catalog.types.length ? catalog.types.map((t) => t.name) : catalog.event_types) || [];
  const type = select([['', '— choose a type —'], ...types.map((t) => [t, t])], '');
  const eventId = h('input', { type: 'text', autocomplete: 'off', placeholder: 'optional: made by the server when empty' });
  const subject = h('input', { type: 'text', autocomplete: 'off', placeholder: 'optional, e.g. case/42' });
  const occurredAt = h('input', { type: 'datetime-local', step: '1' });
  const data = h('textarea', { rows: 10, class: 'mono' }, '{}');
  const note = h('p', { class: 'hint' });
  type.addEventListener('change', () => {
    const ex = examples[type.value];
    data.value = JSON.stringify(ex || {}, null, 2);
    note.textContent = ex ? 'Prefilled with the type’s example payload.' : 'This type has no example payload in the catalog; write the data yourself.';
  });
  const form = h('form', { class: 'form', novalidate: true },
    h('p', { class: 'form-error alert', role: 'alert', hidden: true }),
    h('p', { class: 'muted' }, 'Publishes a real event: every webhook and trigger that matches it runs.'),
    field('Type', type, { path: 'type' }), field('Event id', eventId, { path: 'id', hint: 'The idempotency key: the same id published twice is one event.' }),
    h('div', { class: 'grid-fields' },
      field('Subject', subject, { path: 'subject', hint: 'What the event is about; templates read {{ event.subject }}.' }),
      field('Occurred at', occurredAt, { path: 'occurred_at', hint: 'In your time zone; empty: now.' })),
    field('Data', data, { path: 'data' }), note);
  const publish = h('button', { type: 'submit', class: 'btn primary' }, 'Publish');
  form.append(h('div', { class: 'dlg-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close_() }, 'Cancel'), publish));
  const dlg = openDialog({ title: 'Publish a test event', body: form, wide: true });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    const parsed = readJSONField(form, data, 'data');
    if (parsed === undefined) return;
    publish.disabled = true;
    try {
      const r = await api('POST', '/events', { id: eventId.value.trim() || undefined, type: type.value, data: parsed,
        subject: subject.value.trim() || undefined,
        occurred_at: occurredAt.value ? new Date(occurredAt.value).toISOString().replace(/\.\d+Z$/, 'Z') : undefined });
      dlg.close_();
      announce(`Published ${r.id}`);
      ctx.navigate('events/' + encodeURIComponent(r.id));
    } catch (err) { showFieldErrors(form, err); } finally { publish.disabled = false; }
  });
}

async function eventPage(ctx, eid) {
  let ev;
  try { ev = await api('GET', '/events/' + encodeURIComponent(eid)); } catch (e) {
    replace(ctx.main, h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'events' }, 'Events'), ' / ', eid),
      h('h1', {}, 'Event'), h('p', { class: 'alert', role: 'alert' }, e.status === 404 ? `No event with id “${eid}”.` : e.message));
    return;
  }
  document.title = ev.id + ' · Events · TriggerFlow';
  // Runs name their trigger by id; show its name.
  const names = {};
  await Promise.all([...new Set(ev.runs.map((r) => r.trigger_id).filter(Boolean))].map((tid) =>
    api('GET', '/triggers/' + encodeURIComponent(tid)).then((t) => { names[tid] = t.name; }).catch(() => {})));
  const refresh = h('button', { type: 'button', class: 'btn', onclick: () => eventPage(ctx, ev.id) }, 'Refresh');
  const write = ctx.can(Scope.webhooks);
  replace(ctx.main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: 'events' }, 'Events'), ' / ', ev.id),
    h('div', { class: 'page-head with-actions' }, h('div', {}, h('h1', {}, ev.id), h('p', { class: 'lede' }, h('code', {}, ev.type), ev.subject ? ' · ' + ev.subject : '')),
      h('div', { class: 'head-actions' }, refresh)),
    h('dl', { class: 'facts' }, h('dt', {}, 'Occurred'), h('dd', {}, time(ev.occurred_at)), h('dt', {}, 'Received'), h('dd', {}, time(ev.received_at)),
      ev.source_type ? [h('dt', {}, 'Published as'), h('dd', {}, h('code', {}, ev.source_type), ' (an alias of ', h('a', { href: 'event-types/' + encodeURIComponent(ev.type) }, ev.type), ')')] : null,
      ev.warnings && ev.warnings.length ? [h('dt', {}, 'Schema warnings'), h('dd', {}, h('ul', { class: 'plain alert' }, ev.warnings.map((w) => h('li', {}, w))))] : null),
    h('div', { class: 'label-row' }, h('h2', {}, 'Data'), copyButton('Copy event data', () => pretty(JSON.stringify(ev.data)))),
    h('pre', { class: 'code' }, JSON.stringify(ev.data, null, 2)),
    h('h2', {}, `Deliveries (${ev.deliveries.length})`),
    ev.deliveries.length === 0 ? h('p', { class: 'empty' }, 'No webhook matched this event.') :
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid' }, h('caption', { class: 'sr-only' }, 'Deliveries'),
        h('thead', {}, h('tr', {}, ['Result', 'Webhook', 'Status code', 'Attempts', 'Updated', 'Details'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ev.deliveries.map((d) => h('tr', {},
          h('td', {}, statusBadge(d.status)), h('td', {}, h('a', { href: 'webhooks/' + encodeURIComponent(d.webhook_code) }, d.webhook_code)),
          h('td', {}, d.last_status_code == null ? '—' : String(d.last_status_code)), h('td', {}, String(d.attempt_count)), h('td', {}, time(d.updated_at)),
          h('td', {}, h('button', { type: 'button', class: 'btn small', 'aria-label': `Details of delivery ${d.id}`, onclick: () => openDelivery(d.id, { write, changed: () => eventPage(ctx, ev.id) }) }, 'Details'))))))),
    h('h2', {}, `Runs (${ev.runs.length})`),
    ev.runs.length === 0 ? h('p', { class: 'empty' }, 'No trigger or queue hook ran for this event.') :
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid' }, h('caption', { class: 'sr-only' }, 'Runs'),
        h('thead', {}, h('tr', {}, ['Status', 'Trigger or hook', 'Started', 'Ended', 'Failed step', 'Error', 'Temporal', 'Steps'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ev.runs.map((r) => h('tr', {},
          h('td', {}, statusBadge(r.status)),
          h('td', {}, r.trigger_id ? h('a', { href: 'triggers/' + encodeURIComponent(r.trigger_id) }, names[r.trigger_id] || r.trigger_id) : r.queue_hook_id ? 'queue hook ' + r.queue_hook_id : '—'),
          h('td', {}, time(r.started_at)), h('td', {}, time(r.finished_at)), h('td', {}, r.failed_step || '—'), h('td', {}, r.error || '—'),
          h('td', {}, r.temporal_ui_url ? h('a', { href: r.temporal_ui_url, target: '_blank', rel: 'noopener noreferrer', class: 'external' }, 'Open in Temporal UI') : h('code', {}, r.workflow_id)),
          h('td', {}, h('button', { type: 'button', class: 'btn small', 'aria-label': `Details of run ${r.id}`, onclick: () => openRun(r.id, { write }) }, 'Details'))))))));
}
